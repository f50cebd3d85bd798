"""Property tests: arbitrary input never crashes the decoder; only MeterlinkError comes out."""

from hypothesis import given, settings
from hypothesis import strategies as st

import meterlink
from meterlink import MeterlinkError


def _decode(frame):
    try:
        tg = meterlink.decode(frame)
    except MeterlinkError:
        return None
    tg.to_dict()
    tg.to_json()
    for r in tg.records:
        r.description
        r.decimal
    return tg


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(data):
    _decode(data)


def _long(c, a, ci, body):
    d = bytes([c, a, ci]) + body
    return bytes([0x68, len(d), len(d), 0x68]) + d + bytes([sum(d) % 256, 0x16])


@settings(max_examples=5000, deadline=None)
@given(st.sampled_from([0x72, 0x76, 0x78, 0x7A, 0x73, 0x70, 0x51, 0x53, 0x5A, 0x8A]), st.binary(max_size=249))
def test_well_framed_random_payload(ci, body):
    # Checksum and framing are right, so everything after the CI reaches the TPL and records.
    _decode(_long(0x08, 0x01, ci, body))


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from([0x0F, 0x1F, 0x2F, 0x7F, 0x8D, 0xFD, 0xFB, 0x7C, 0xFC, 0x6D, 0x0D, 0x84, 0x04, 0x0C, 0x05, 0xFF, 0x80, 0xE0, 0xF5, 0xC3]) | st.integers(0, 255), max_size=200))
def test_record_like_payload(values):
    # Payloads made of DIF/VIF-looking bytes stress the record decoder's length logic.
    _decode(_long(0x08, 0x01, 0x78, bytes(values)))
