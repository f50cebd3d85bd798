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


def _first_of(meter_id: int) -> bytes:
    """Fragment 1 of the message, sent by another meter (link ID replaced, wire order)."""
    f1, _ = _fragments()
    return f1[:4] + meter_id.to_bytes(4, "little") + f1[8:]


def test_a_flood_of_other_meters_evicts_the_oldest_only():
    f1, f2 = _fragments()
    # The legitimate message starts after 9,000 other meters' first fragments; 1,000 more
    # follow. With room for 1,001 it is among the newest, so the flood evicts only older ones.
    r = meterlink.AflReassembler(max_meters=1001)
    for i in range(9000):
        assert r.push(_first_of(0x50000000 + i)) is None
    assert r.push(f1, keys=KEYS) is None
    for i in range(9000, 10000):
        r.push(_first_of(0x50000000 + i))
    assert (r.pending, r.evicted) == (1001, 9000)
    tg = r.push(f2, keys=KEYS)
    assert tg is not None and tg.decrypted and r.pending == 1000
    # Started first with room for 10,000: the 10,000th other meter evicts it (and only it).
    r = meterlink.AflReassembler(max_meters=10000)
    r.push(f1, keys=KEYS)
    for i in range(10000):
        r.push(_first_of(0x50000000 + i))
    assert (r.pending, r.evicted) == (10000, 1)
    with pytest.raises(meterlink.DecodeError):
        r.push(f2, keys=KEYS)
    # A stray non-first fragment of an unknown meter evicts nothing.
    r = meterlink.AflReassembler(max_meters=1)
    r.push(f1, keys=KEYS)
    stray = f2[:4] + (0x50000000).to_bytes(4, "little") + f2[8:]
    with pytest.raises(meterlink.DecodeError):
        r.push(stray)
    assert r.push(f2, keys=KEYS) is not None and r.evicted == 0


def test_time_outs_by_the_callers_clock():
    f1, f2 = _fragments()
    r = meterlink.AflReassembler(timeout=30)
    assert r.push(f1, keys=KEYS, now=1000.0) is None
    assert r.push(_first_of(0x50000001), now=1020.0) is None
    assert r.expire(1030.0) == 0 and r.pending == 2      # exactly the time-out: kept
    assert r.expire(1030.5) == 1 and r.pending == 1      # the legitimate message, started first
    with pytest.raises(meterlink.DecodeError):
        r.push(f2, keys=KEYS, now=1031.0)
    assert r.expired == 1
    # In time, push(now=) completes it; an expired partner is dropped on the way.
    r.push(f1, keys=KEYS, now=2000.0)
    assert r.push(f2, keys=KEYS, now=2029.0).decrypted
    assert r.pending == 0 and r.expired == 2
    with pytest.raises(meterlink.MeterlinkError):
        meterlink.AflReassembler(timeout=-1)
