"""AFL fragmentation (EN 13757-7 6.3): fragments of one message reassembled and decoded.

The message is the verified OMS profile-B mode-7 telegram (tests/vectors/wireless-frames.json),
split here into two fragments: fragment 1 carries MCL, MCR and the MAC (no ML, so the MAC input
MCL || MCR || TPDU is the same as unfragmented), fragment 2 only FCL."""

import pytest

import meterlink
from conftest import load_vectors

V = {v["name"]: v for v in load_vectors("wireless-frames.json")}["mode7-oms-profileB-short-tpl"]
KEYS = {"12345678": V["keys"]["master_key"]}
FRAME = bytes.fromhex(V["input_hex"])
LINK = FRAME[1:10]            # C M(2) A(6); L is recomputed per fragment
ELL = FRAME[10:13]            # 8C 20 75
AFL = FRAME[13:30]            # 90 0F 002C 25 B30A0000 <MAC 8>
TPDU = FRAME[30:]


def _frame(afl: bytes, payload: bytes) -> bytes:
    body = LINK + ELL + afl + payload
    return bytes([len(body)]) + body


def _fragments(split=20):
    mcl, mcr, mac = AFL[4:5], AFL[5:9], AFL[9:17]
    # FCL: MF | MCLP | MCRP | MACP, FID 1  /  FID 2 (last)
    f1 = _frame(bytes([0x90, 0x0F, 0x01, 0x6C]) + mcl + mcr + mac, TPDU[:split])
    f2 = _frame(bytes([0x90, 0x02, 0x02, 0x00]), TPDU[split:])
    return f1, f2


def test_two_fragments_give_the_unfragmented_telegram():
    whole = meterlink.decode(FRAME, keys=KEYS)
    r = meterlink.AflReassembler()
    f1, f2 = _fragments()
    assert r.push(f1, keys=KEYS) is None and r.pending == 1
    tg = r.push(f2, keys=KEYS)
    assert r.pending == 0
    assert tg.decrypted and [x.to_dict() for x in tg.records] == [x.to_dict() for x in whole.records]


def test_unfragmented_frame_completes_at_once():
    tg = meterlink.AflReassembler().push(FRAME, keys=KEYS)
    assert tg.decrypted and tg.records


def test_missing_first_fragment_and_wrong_key():
    f1, f2 = _fragments()
    r = meterlink.AflReassembler()
    with pytest.raises(meterlink.DecodeError) as e:
        r.push(f2, keys=KEYS)
    assert "fragment" in str(e.value).lower()
    r.push(f1, keys=KEYS)
    bad = {"12345678": "FF" * 16}
    with pytest.raises(meterlink.SecurityError):
        r.push(f2, keys=bad)


def test_bounded_pending_state():
    r = meterlink.AflReassembler(max_length=10)
    f1, _ = _fragments()
    with pytest.raises(meterlink.DecodeError):
        r.push(f1)  # 20 bytes of TPDU > max_length
    assert r.pending == 0
