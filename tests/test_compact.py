"""Compact frames expanded through the format cache (EN 13757-3 compact frames, CI 7Bh).

The signature/CRC rule is a hypothesis (docs/decisions.md); these tests check the mechanism:
a compact frame is expanded only after a full frame with the same format was seen, and only
when the expanded records reproduce the full-frame CRC."""

import meterlink

# Records of the Kamstrup Multical 21 telegram from the verified ELL vector (security-notes b.2).
FULL_RECORDS = bytes.fromhex("02FF207100" "041308190000" "441308190000" "615B7F" "616713")
FORMAT = bytes.fromhex("02FF20" "0413" "4413" "615B" "6167")
DATA = bytes.fromhex("7100" "08190000" "08190000" "7F" "13")


def crc16_en13757(data: bytes) -> int:
    # Independent bitwise implementation: poly 0x3D65, init 0, xorout 0xFFFF (check 123456789 -> C2B7).
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x3D65) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc ^ 0xFFFF


def _frame(ci, payload):
    return meterlink.encode(payload, link="wireless", manufacturer="KAM", id="76348799", version=0x1B,
                            device_type=0x16, ci=ci, header="short", frame_format="none")


def test_crc_helper():
    assert crc16_en13757(b"123456789") == 0xC2B7


def test_compact_frame_after_full_frame():
    full = _frame(0x7A, FULL_RECORDS)
    compact_payload = (crc16_en13757(FORMAT).to_bytes(2, "little") + crc16_en13757(FULL_RECORDS).to_bytes(2, "little")
                       + DATA)
    compact = _frame(0x7B, compact_payload)
    cache = meterlink.FormatCache()

    before = meterlink.decode(compact, formats=cache)
    assert before.records == [] and "unknown" in before.undecoded["reason"]
    assert meterlink.decode(compact).undecoded is not None  # no cache given

    ref = meterlink.decode(full, formats=cache)
    assert len(cache) == 1
    after = meterlink.decode(compact, formats=cache)
    assert after.compact_signature == crc16_en13757(FORMAT)
    assert [r.to_dict() for r in after.records] == [r.to_dict() for r in ref.records]
    assert after.records[1].value == 6.408

    # A changed value no longer matches the full-frame CRC: no records, never wrong ones.
    bad = bytearray(compact)
    bad[-3] ^= 0x01
    tg = meterlink.decode(bytes(bad), formats=cache)
    assert tg.records == [] and "CRC" in tg.undecoded["reason"]
