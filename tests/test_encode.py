"""meterlink.encode(): known answers from published vectors, and decode(encode(t, key), key) == t.

The known answers (tests/vectors/encode-kat.json) are published frames whose every input is
fixed by the vector; the round trips cover every security mode on every link with random
records, keys, identities and counters built with meterlink.encode_record().
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import meterlink
from meterlink import MeterlinkError, SecurityError

from conftest import load_vectors

KAT = load_vectors("encode-kat.json")


# ------------------------------------------------------------------------------------------------
# Known answers
# ------------------------------------------------------------------------------------------------


def _kw(params):
    kw = dict(params)
    if "ell_receiver" in kw:
        kw["ell_receiver"] = tuple(kw["ell_receiver"])
    return kw


@pytest.mark.parametrize("v", KAT, ids=[v["name"] for v in KAT])
def test_known_answer(v):
    assert v["source"]
    frame = meterlink.encode(v["records"], key=v["key"], clear=v["clear"], **_kw(v["params"]))
    if "expected" in v:
        assert frame.hex().upper() == v["expected"].upper()
    else:
        # wired long frame: 68 L L 68 C A | TPDU | CS 16
        assert frame[6:-2].hex().upper() == v["expected_tpdu"].upper()
    # and the decoder reads it back with the key, as the same application data
    p = v["params"]
    ids = {p["id"], p.get("link_id", p["id"])}
    tg = meterlink.decode(frame, keys={i: v["key"] for i in ids})
    if p.get("mode", 0) or p.get("ell_encrypt"):
        assert tg.decrypted
    plain = bytes.fromhex(v["records"])
    assert plain in tg.payload
    assert bytes.fromhex(v["clear"]) in tg.payload


def test_known_answer_key_as_bytes_and_records_as_bytes():
    v = KAT[0]
    a = meterlink.encode(bytes.fromhex(v["records"]), key=bytes.fromhex(v["key"]), **_kw(v["params"]))
    b = meterlink.encode(bytearray.fromhex(v["records"]), key=v["key"].lower(), **_kw(v["params"]))
    assert a == b == bytes.fromhex(v["expected"])


# ------------------------------------------------------------------------------------------------
# Record encoder
# ------------------------------------------------------------------------------------------------


def test_encode_record_examples():
    # EN 13757-3 / OMS N.2.2: 0C 14 27048502 = 28504.27 m^3 (BCD 8 digits, VIF 10^-2 m^3)
    assert meterlink.encode_record(0x14, 2850427, coding="bcd", size=8).hex() == "0c1427048502"
    assert meterlink.encode_record("fd17", 0, size=2).hex() == "02fd170000"
    assert meterlink.encode_record(0x13, 1, storage=1).hex() == "411301"
    assert meterlink.encode_record(0x13, 1, storage=2).hex() == "81011301"
    assert meterlink.encode_record(0x13, 1, tariff=1).hex() == "81101301"
    assert meterlink.encode_record(0x13, -1, subunit=1, function="minimum").hex() == "a14013ff"
    assert meterlink.encode_record(0x13, -5, coding="bcd").hex() == "0913f5"
    assert meterlink.encode_record(0x2B, 1.5).hex() == "052b0000c03f"
    assert meterlink.encode_record(b"\xfd\x0c", "AB").hex() == "0dfd0c024241"
    assert meterlink.encode_record(0x06).hex() == "0006"
    assert meterlink.encode_record(0x13, 128).hex() == "02138000"


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ((0x13, 300), {"size": 1}),
        ((0x13, 100), {"coding": "bcd", "size": 2}),
        ((0x13, 10**13), {"coding": "bcd"}),
        ((0x93, 1), {}),
        ((0x1FD, 1), {}),
        ((0x13, 1), {"size": 5}),
        ((0x13, 1), {"coding": "none"}),
        ((0x13,), {"coding": "int"}),
        ((0x13, 1), {"function": "average"}),
        ((0x13, 1), {"storage": 2**41}),
        ((0x13, "\u20ac"), {}),
    ],
)
def test_encode_record_errors(args, kwargs):
    with pytest.raises(MeterlinkError):
        meterlink.encode_record(*args, **kwargs)


# ------------------------------------------------------------------------------------------------
# Argument checks
# ------------------------------------------------------------------------------------------------

KEY = "000102030405060708090A0B0C0D0E0F"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"link": "radio"},
        {"header": "medium"},
        {"frame_format": "C", "link": "wireless"},
        {"mode": 5},  # no key
        {"mode": 5, "key": "0011"},
        {"mode": 5, "key": KEY, "header": "none"},
        {"mode": 7, "key": KEY},  # no counter
        {"mode": 7, "key": KEY, "message_counter": 1, "afl": False, "link": "wireless"},
        {"mode": 10, "key": KEY, "message_counter": 1, "tag_length": 6},
        {"mode": 9, "key": KEY, "message_counter": 1, "tag_length": 8},
        {"mode": 4, "key": KEY},
        {"mode": 15, "key": KEY},  # no frame counter
        {"ell": 0x8C},  # ELL on a wired link
        {"ell": 0x8A, "link": "wireless"},
        {"ell": 0x8E, "link": "wireless"},  # no receiver
        {"ell": 0x8C, "ell_encrypt": True, "link": "wireless", "key": KEY},
        {"ell": 0x8D, "ell_encrypt": True, "link": "wireless"},  # no key
        {"ci": 0x72, "header": "short"},
        {"ci": 0x40},
        {"manufacturer": "K4M"},
        {"id": "123456789"},
        {"mac": "hmac", "mode": 7, "key": KEY, "message_counter": 1, "link": "wireless"},
        {"mac": "gmac", "mac_length": 8, "mode": 7, "key": KEY, "message_counter": 1, "link": "wireless"},
        {"link_id": "12345678"},  # a wired link has no link identity
    ],
)
def test_encode_argument_errors(kwargs):
    with pytest.raises(MeterlinkError):
        meterlink.encode("0C1427048502", **kwargs)


def test_too_long():
    with pytest.raises(MeterlinkError, match="at most 15"):
        meterlink.encode(b"\x2f" * 240, mode=5, key=KEY)
    with pytest.raises(MeterlinkError):
        meterlink.encode(b"\x2f" * 250)
    with pytest.raises(MeterlinkError):
        meterlink.encode(b"\x2f" * 250, link="wireless", frame_format="B")


def test_defaults_and_head_end_command():
    # wired RSP_UD with a long header by default
    tg = meterlink.decode(meterlink.encode("0C1427048502"))
    assert (tg.link_layer, tg.c_field, tg.address, tg.ci, tg.header) == ("wired", 0x08, 1, 0x72, "long")
    assert (tg.manufacturer, tg.id, tg.version, tg.device_type) == ("KAM", "12345678", 1, 7)
    # wireless SND_NR with a short header by default
    tg = meterlink.decode(meterlink.encode("0C1427048502", link="wireless"))
    assert (tg.link_layer, tg.c_field, tg.ci, tg.header, tg.frame_type) == ("wireless", 0x44, 0x7A, "short", "format A")
    # a head-end command: SND_UD, CI 5B (long header implied by the CI), to secondary address FD
    f = meterlink.encode("01FD1F01", c=0x53, a=0xFD, ci=0x5B)
    tg = meterlink.decode(f)
    assert (tg.c_field_name, tg.ci, tg.header, len(tg.records)) == ("SND_UD", 0x5B, "long", 1)
    # CI 51 (no header)
    tg = meterlink.decode(meterlink.encode("01FD1F01", c=0x53, ci=0x51))
    assert (tg.ci, tg.header) == (0x51, "none")


# ------------------------------------------------------------------------------------------------
# Round trips
# ------------------------------------------------------------------------------------------------

# VIF -> decimal exponent (EN 13757-3 table 10), numeric quantities only.
VIFS = {0x13: -3, 0x16: 0, 0x06: 3, 0x03: 0, 0x2B: 0, 0x5B: 0, 0x3B: -3, 0x66: -1}

INT_SIZES = [1, 2, 3, 4, 6, 8]
BCD_DIGITS = [2, 4, 6, 8, 12]


@st.composite
def records(draw, max_records=5):
    out = []
    for _ in range(draw(st.integers(0, max_records))):
        vif = draw(st.sampled_from(sorted(VIFS)))
        coding = draw(st.sampled_from(["int", "bcd", "real", "none", "text"]))
        storage = draw(st.one_of(st.integers(0, 15), st.integers(0, 2**41 - 1)))
        tariff = draw(st.one_of(st.integers(0, 3), st.integers(0, 2**20 - 1)))
        subunit = draw(st.one_of(st.integers(0, 1), st.integers(0, 2**10 - 1)))
        function = draw(st.sampled_from(["instantaneous", "maximum", "minimum", "error"]))
        size = None
        if coding == "int":
            size = draw(st.sampled_from(INT_SIZES))
            bits = 8 * size
            value = draw(st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
        elif coding == "bcd":
            size = draw(st.sampled_from(BCD_DIGITS))
            value = draw(st.integers(-(10 ** (size - 1)) + 1, 10**size - 1))
        elif coding == "real":
            value = draw(st.floats(width=32, allow_nan=False, allow_infinity=False))
        elif coding == "text":
            value = draw(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12))
        else:
            value = None
        raw = meterlink.encode_record(
            vif, value, coding=coding, size=size, storage=storage, tariff=tariff, subunit=subunit, function=function
        )
        out.append((raw, (vif, coding, value, storage, tariff, subunit, function)))
    # keep the frame inside every size limit (N <= 15 blocks, L <= 255)
    while sum(len(r) for r, _ in out) > 110:
        out.pop()
    return out


def _check_record(r, expected):
    vif, coding, value, storage, tariff, subunit, function = expected
    assert (r.storage, r.tariff, r.subunit, r.function) == (storage, tariff, subunit, function)
    assert r.exponent == VIFS[vif]
    if coding in ("int", "bcd"):
        assert r.exact == (value, VIFS[vif])
    elif coding == "real":
        want = struct.unpack("<f", struct.pack("<f", value))[0] * 10.0 ** VIFS[vif]
        assert math.isclose(r.value, want, rel_tol=1e-12, abs_tol=1e-300) or r.value == want
    elif coding == "text":
        assert r.value == value
    else:
        assert r.value is None


BCD_ID = st.integers(0, 99_999_999).map(lambda n: f"{n:08d}")
MANUFACTURER = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3)
LINKS = [("wired", None), ("wireless", "A"), ("wireless", "B"), ("wireless", "none")]
MODES = [0, 2, 3, 5, 7, 8, 9, 10, 15, "ell-ctr"]


def _flip(key: bytes, bit: int, des: bool) -> bytes:
    b = bytearray(key)
    if des:
        # DES uses the first 8 bytes and ignores bit 0 of each (parity): flip one of bits 1..7
        b[bit % 8] ^= 2 << (bit % 7)
    else:
        b[bit // 8 % len(b)] ^= 1 << (bit % 8)
    return bytes(b)


@st.composite
def telegrams(draw, mode, link, fmt):
    kw = {
        "link": link,
        "manufacturer": draw(MANUFACTURER),
        "id": draw(BCD_ID),
        "version": draw(st.integers(0, 255)),
        "device_type": draw(st.integers(0, 255)),
        "access_number": draw(st.integers(0, 255)),
        "status": draw(st.integers(0, 255)),
    }
    if link == "wired":
        kw["c"] = draw(st.sampled_from([0x08, 0x18, 0x28, 0x38]))
        kw["a"] = draw(st.integers(0, 255))
        # an encrypted wired telegram needs the long header's identity for its key
        kw["header"] = "long" if mode != 0 else draw(st.sampled_from(["long", "short", "none"]))
    else:
        kw["frame_format"] = fmt
        kw["c"] = draw(st.sampled_from([0x44, 0x46, 0x08, 0x73]))
        if mode in (0, "ell-ctr"):
            kw["header"] = draw(st.sampled_from(["long", "short", "none"]))
        else:
            kw["header"] = draw(st.sampled_from(["long", "short"]))
        if kw["header"] == "long" and draw(st.booleans()):
            # a repeater / gateway: the link address is another device's
            kw["link_id"] = draw(BCD_ID)
            kw["link_manufacturer"] = draw(MANUFACTURER)
        ell = "8D-ctr" if mode == "ell-ctr" else draw(st.sampled_from([None, None, "8C", "8D", "8D-ctr", "8E"]))
        if ell:
            kw["ell"] = {"8C": 0x8C, "8D": 0x8D, "8D-ctr": 0x8D, "8E": 0x8E}[ell]
            kw["ell_cc"] = draw(st.integers(0, 255))
            kw["ell_access_number"] = draw(st.integers(0, 255))
            if kw["ell"] == 0x8D:
                kw["ell_session"] = draw(st.integers(0, 2**29 - 1))
            if ell == "8E":
                kw["ell_receiver"] = ("XYZ", draw(BCD_ID), 0x0A, 0x31)
            kw["ell_encrypt"] = ell == "8D-ctr"
    des = mode in (2, 3)
    des_key = des and not kw.get("ell_encrypt") and draw(st.booleans())  # the ELL needs an AES key
    key = draw(st.binary(min_size=8, max_size=8) if des_key else st.binary(min_size=16, max_size=16))
    kw["mode"] = 0 if mode == "ell-ctr" else mode
    if mode in (7, 8, 9, 10, 15):
        kw["message_counter"] = draw(st.integers(0, 2**32 - 1))
    if mode in (7, 8, 9, 10):
        kw["kdf"] = draw(st.booleans())
        kw["key_id"] = draw(st.integers(0, 15))
        kw["content"] = draw(st.integers(0, 3))
        kw["key_version"] = draw(st.one_of(st.none(), st.integers(0, 255)))
        if link == "wireless":
            kw["counter_in"] = draw(st.sampled_from([None, "tpl", "afl"]))
            if mode in (9, 10) and kw["counter_in"] == "afl":
                kw["afl"] = True
            if mode in (7, 8) or kw.get("afl"):
                mac, n = draw(st.sampled_from([("cmac", 2), ("cmac", 4), ("cmac", 8), ("cmac", 12), ("cmac", 16), ("gmac", 12), ("gmac", 16)]))
                if mac == "gmac":
                    kw["counter_in"] = "afl"
                kw["mac"], kw["mac_length"] = mac, n
        if mode == 9:
            kw["tag_length"] = draw(st.sampled_from([None, 12, 16]))
        if mode == 10:
            kw["tag_length"] = draw(st.sampled_from([None, 4, 8, 12, 16]))
    if mode in (0, 2, 3, 5, 15):
        kw["bidirectional"] = draw(st.booleans())
        kw["accessibility"] = draw(st.booleans())
        kw["synchronous"] = draw(st.booleans())
        kw["content"] = draw(st.integers(0, 3))
    recs = draw(records())
    clear = draw(records(max_records=2)) if kw["header"] != "none" and draw(st.booleans()) else []
    while sum(len(r) for r, _ in recs + clear) > 110:
        (clear or recs).pop()
    return kw, key, recs, clear, draw(st.integers(0, 127))


COMBOS = [
    (mode, link, fmt)
    for mode in MODES
    for link, fmt in LINKS
    # no ELL on wired links; the decoder reads no AFL on wired frames (test_wired_afl_is_not_decoded)
    if not (link == "wired" and mode in ("ell-ctr", 7, 8))
]


# derandomize: a wrong key passes a 16-bit check (2F 2F, ELL payload CRC) once in 65536 tries;
# a fixed example set keeps the suite deterministic.
@pytest.mark.parametrize("mode, link, fmt", COMBOS, ids=[f"mode{m}-{lk}{f or ''}" for m, lk, f in COMBOS])
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(mode, link, fmt, data):
    kw, key, recs, clear, bit = data.draw(telegrams(mode, link, fmt))
    payload = b"".join(r for r, _ in recs)
    tail = b"".join(r for r, _ in clear)
    encrypted = kw["mode"] != 0 or kw.get("ell_encrypt", False)
    event(f"ELL {kw.get('ell', 0):02X}{' CTR' if kw.get('ell_encrypt') else ''}, {kw['header']} header")
    frame = meterlink.encode(payload, key=key if encrypted else None, clear=tail, **kw)
    ids = {kw["id"], kw.get("link_id", kw["id"])}
    # strict: a CRC-less frame is decoded as what it is; a keyed meter's mode-0 payload is
    # unprotected, accepted here on purpose (issue 12).
    link = "wireless-nocrc" if kw["link"] == "wireless" and kw.get("frame_format") == "none" else "auto"
    tg = meterlink.decode(frame, keys={i: key for i in ids}, strict=True, link=link, accept_unprotected=not encrypted)

    # header fields
    header = kw["header"]
    assert tg.header == header
    assert tg.link_layer == kw["link"]
    assert tg.c_field == kw["c"]
    if kw["link"] == "wired":
        assert tg.address == kw["a"]
        assert tg.frame_type == ("control frame" if len(frame) == 9 else "long frame")
    else:
        assert tg.frame_type == {"A": "format A", "B": "format B", "none": "no CRC"}[kw["frame_format"]]
        assert tg.link_id == kw.get("link_id", kw["id"])
    if header == "long" or kw["link"] == "wireless":
        assert (tg.manufacturer, tg.id, tg.version, tg.device_type) == (
            kw["manufacturer"],
            kw["id"],
            kw["version"],
            kw["device_type"],
        )
    if header != "none":
        assert (tg.access_number, tg.status) == (kw["access_number"], kw["status"])
        assert tg.security_mode == kw["mode"]
        assert (tg.configuration >> 8) & 0x1F == kw["mode"]
    elif "ell" in kw:
        assert tg.access_number == kw["ell_access_number"]
    assert tg.ci == {"long": 0x72, "short": 0x7A, "none": 0x78}[header]
    assert tg.decrypted == encrypted

    # records: the protected ones, the mode-15 frame counter, the clear ones
    got = tg.records
    expected = [e for _, e in recs]
    if kw["mode"] == 15:
        fc = got[len(expected)]
        signed = (kw["message_counter"] + 2**31) % 2**32 - 2**31  # type B: a 32-bit signed integer
        assert (fc.vif, fc.exact) == ("fd08", (signed, 0))
        got = got[: len(expected)] + got[len(expected) + 1 :]
    expected += [e for _, e in clear]
    assert len(got) == len(expected)
    for r, e in zip(got, expected):
        _check_record(r, e)

    # one key bit flipped: the decoder refuses
    if encrypted:
        bad = _flip(key, bit, kw["mode"] in (2, 3))
        with pytest.raises(SecurityError):
            meterlink.decode(frame, keys={i: bad for i in ids})


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0, 2, 3, 5, 7, 8, 9, 10, 15]), st.binary(min_size=16, max_size=16), st.integers(0, 2**32 - 1))
def test_round_trip_without_key_reports_encrypted(mode, key, counter):
    # Without the key an encrypted telegram keeps its header and yields no records.
    frame = meterlink.encode(
        meterlink.encode_record(0x13, 5),
        link="wireless",
        mode=mode,
        key=key if mode else None,
        message_counter=counter if mode in (7, 8, 9, 10, 15) else None,
    )
    # (default_keys=False: hypothesis may draw the all-zero key, a public default key.)
    tg = meterlink.decode(frame, default_keys=False)
    assert tg.security_mode == mode
    assert tg.encrypted == (mode != 0)
    assert len(tg.records) == (0 if mode else 1)
    if mode:
        with pytest.raises(SecurityError):
            meterlink.decode(frame, strict=True, default_keys=False)


@pytest.mark.parametrize("mode", [7, 8])
def test_wired_afl_is_decoded(mode):
    # Modes 7/8 on wired M-Bus: the AFL (CI 90h) between the link layer and the TPL carries the MAC.
    frame = meterlink.encode("0C1427048502", mode=mode, key=KEY, message_counter=1)
    tg = meterlink.decode(frame, keys={"12345678": KEY})
    assert tg.decrypted and len(tg.records) == 1


@pytest.mark.parametrize("manufacturer", ["ZEN", "ABD"])
def test_wireless_frame_starting_like_a_wired_header(manufacturer):
    # L = 68h and the next bytes look like "68 L L 68": auto detection must still find wireless.
    f = meterlink.encode(meterlink.encode_record(0x13, 1, size=1) * 30, link="wireless", manufacturer=manufacturer,
                         frame_format="none")
    assert f[0] == 0x68
    tg = meterlink.decode(f)
    assert tg.link_layer == "wireless" and len(tg.records) == 30
