"""Every failure carries a stable code (docs/errors.md) and its offset, in Python and in batches.

Frames: OMS Vol. 2 Annex N N.2.2 (wired, clear) and N.2.1 (wireless, mode 5, key
0102030405060708090A0B0C0D0E0F11), as in tests/vectors/wired-frames.json and
wireless-frames.json; the failures are made from them by the changes named in each case.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

import meterlink

N22 = bytes.fromhex("6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916")
N21 = bytes.fromhex("2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3")
KEY = "0102030405060708090A0B0C0D0E0F11"
DOC_CODES = set(re.findall(r"^\| `([a-z0-9_]+)` \|", (Path(__file__).parent.parent / "docs/errors.md").read_text(), re.M))


def wired(ci_and_body: bytes) -> bytes:
    body = bytes([0x08, 0xFD]) + ci_and_body
    return bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) & 0xFF, 0x16])


def raised(frame, **kw):
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.decode(frame, **kw)
    return e.value


def test_checksum_and_stop_byte():
    e = raised(N22[:-2] + bytes([N22[-2] ^ 1, 0x16]))
    assert (type(e), e.code, e.offset) == (meterlink.FrameError, "frame_checksum", len(N22) - 2)
    e = raised(N22[:-1] + b"\x17")
    assert (type(e), e.code, e.offset) == (meterlink.FrameError, "frame_stop", len(N22) - 1)


def test_wireless_block_crc():
    # A format-B frame (EN 13757-4; tests/test_cli.py FRAME_B) with one data bit flipped: the
    # CRC of block 2, at its end (offset 18), no longer matches.
    frame = bytearray(bytes.fromhex("13442D2C785634120132A000010203040506C3C0"))
    frame[12] ^= 1
    e = raised(bytes(frame), link="wireless-b")
    assert (type(e), e.code, e.offset) == (meterlink.FrameError, "wmbus_crc", 18)


def test_wrong_key_and_missing_key():
    wrong = KEY[:-1] + "0"
    e = raised(N21, keys={"12345678": wrong})
    # L C M(2) A(6), then CI 7A at 10, short header ACC STS CFG(2): the encrypted data start at 15.
    assert (type(e), e.code, e.offset) == (meterlink.SecurityError, "tpl_verification", 15)
    e = raised(N21, strict=True, link="wireless-nocrc")
    assert (type(e), e.code) == (meterlink.SecurityError, "no_key")
    assert "no key is known for" in str(e)


def test_transport_and_record_errors():
    e = raised(wired(bytes([0x40])))
    assert (type(e), e.code, e.offset) == (meterlink.DecodeError, "unsupported_ci", 6)
    # Record 04 13 announces 4 data bytes; 2 follow. It starts at offset 19.
    e = raised(wired(bytes.fromhex("72 78563412 9315 3303 2A 00 0000 0413 1234")))
    assert (type(e), e.code, e.offset) == (meterlink.DecodeError, "record_truncated", 19)
    e = raised(wired(bytes.fromhex("72 785634")))
    assert (type(e), e.code, e.offset) == (meterlink.DecodeError, "tpl_truncated", 7)


def test_input_and_argument_errors():
    e = raised("68 0g")
    assert (type(e), e.code, e.offset) == (meterlink.FrameError, "hex_character", 4)
    e = raised(N21, keys={"12345678x": KEY})
    assert (type(e), e.code, e.offset) == (meterlink.MeterlinkError, "key_meter_id", None)
    with pytest.raises(meterlink.MeterlinkError) as enc:
        meterlink.encode(meterlink.encode_record(0x13, 1), link="wireless", manufacturer="KAM", id="12345678", mode=5)
    assert enc.value.code == "encode_missing_key"


def test_every_raised_code_is_documented_and_pickles():
    cases = [
        (N22[:-2] + bytes([N22[-2] ^ 1, 0x16]), {}),
        (bytes.fromhex("13442D2C785634120132A000010203040506C3C1"), {"link": "wireless-b"}),
        (N21, {"keys": {"12345678": KEY[:-1] + "0"}}),
        (N21, {"strict": True, "link": "wireless-nocrc"}),
        (wired(bytes([0x40])), {}),
        ("zz", {}),
    ]
    for frame, kw in cases:
        e = raised(frame, **kw)
        assert e.code in DOC_CODES, e.code
        back = pickle.loads(pickle.dumps(e))
        assert (type(back), str(back), back.offset, back.code) == (type(e), str(e), e.offset, e.code)


def test_batch_rows_carry_the_code():
    pa = pytest.importorskip("pyarrow")
    frames = [N22, N22[:-2] + bytes([N22[-2] ^ 1, 0x16]), N21, "zz", wired(bytes([0x40]))]
    t = pa.table(meterlink.decode_batch(frames, keys={"12345678": KEY[:-1] + "0"}).telegrams)
    rows = t.select(["status", "error_code", "error_offset"]).to_pylist()
    assert [(r["status"], r["error_code"], r["error_offset"]) for r in rows] == [
        # N.2.2 is the same meter (ELS 12345678) in clear: a keyed meter's unprotected payload.
        ("security_error", "unprotected", 19),
        ("frame_error", "frame_checksum", len(N22) - 2),
        ("security_error", "tpl_verification", 15),
        ("frame_error", "hex_character", 0),
        ("decode_error", "unsupported_ci", 6),
    ]
    assert {r["error_code"] for r in rows} - {None} <= DOC_CODES
