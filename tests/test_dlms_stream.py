"""meterlink.dlms: HDLC capture splitting (iter_frames), HLS functions, and the single-message
contract pieces the bulk tests do not cover (HDLC frames without an APDU, replay counters).

Sources of the frames and vectors are noted where they are used; none is read from ../shared.
"""

from __future__ import annotations

import pytest

import meterlink
import meterlink.dlms as dlms

# toreamun/amshan tests/test_hdlc.py (test_frame_with_escape_character): an Aidon push in a UI
# frame, one OBIS value (1.0.1.7.0.255 = 1661 W).
PUSH = bytes.fromhex("7ea02a410883130413e6e7000f40000000000101020309060100010700ff060000067d02020f00161b1c057e")
# u9n/dlms-cosem tests/test_hdlc/test_hdlc.py (TestUAFrame): a UA frame whose information field
# holds the negotiated HDLC parameters (no APDU).
UA = bytes.fromhex("7ea01f21022373e6c781801205019a06019a070400000001080400000001cca27e")


def test_iter_frames_cuts_a_capture_and_resynchronises():
    capture = b"\x00\x11garbage" + PUSH + UA + b"\x7e\x7e" + PUSH[:20] + UA
    pieces = list(dlms.iter_frames(capture, skipped=True))
    frames = [p for p in pieces if p.kind == "frame"]
    assert [p.data for p in frames] == [PUSH, UA, UA]
    # The garbage and the cut frame are reported; flags between frames (idle, or opening the cut
    # frame) are dropped silently.
    assert [(p.offset, p.length) for p in pieces if p.kind == "skipped"] == [(0, 9), (89, 19)]
    assert [p.offset for p in frames] == [9, 53, 108]
    # Same result fed in small chunks from a file-like object.
    import io

    again = [p.data for p in dlms.iter_frames(io.BytesIO(capture), chunk_size=3)]
    assert again == [PUSH, UA, UA]
    # Each frame decodes: the push to its OBIS row, the UA to its HDLC fields without an APDU.
    msg = dlms.decode(frames[0].data)
    assert msg.obis_values[0]["obis"] == "1.0.1.7.0.255" and msg.obis_values[0]["value"] == 1661
    ua = dlms.decode(frames[1].data, framing="hdlc").to_dict()
    assert ua["apdu_type"] is None and ua["hdlc"]["control"] & 0xEF == 0x63  # UA


def test_hdlc_fcs_flip_is_a_frame_error():
    bad = bytearray(PUSH)
    bad[-3] ^= 0x01
    with pytest.raises(meterlink.FrameError) as e:
        dlms.decode(bytes(bad), framing="hdlc")
    assert e.value.code.startswith("hdlc_")
    assert not [p for p in dlms.iter_frames(bytes(bad)) if p.kind == "frame"]


def test_hls_gmac_green_book_vectors():
    # DLMS UA Green Book HLS-GMAC example (u9n/dlms-cosem tests/test_security.py test_gmac;
    # openmuc jDLMS GcmCipherModTest): f(StoC) and f(CtoS).
    ek, ak = "000102030405060708090A0B0C0D0E0F", "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
    stoc = dlms.hls(5, "503677524A323146", invocation_counter=1, system_title="4D4D4D0000000001", ek=ek, ak=ak)
    assert stoc.hex().upper() == "10000000011A52FE7DD3E72748973C1E28"
    ctos = dlms.hls(5, "4B35366956616759", invocation_counter=0x01234567, system_title="4D4D4D0000BC614E", ek=ek, ak=ak)
    assert ctos.hex().upper() == "1001234567FE1466AFB3DBCD4F9389E2B7"
    # ric-geek/dlms-encrypt-decrypt-cli README "Generate authenticated data": the tag.
    tag = dlms.hls(5, "0de63f2331a09aa85e8830f5f3", invocation_counter=1, system_title="5249435249435249",
                   ek="454e4352595054494f4e4b45594b4559", ak="41555448454e5449434154494f4e4b45")
    assert tag[5:].hex() == "62d423292e0fe5320370881d"
    # Mechanism 3/4: HASH(challenge || secret); RFC 1321 / FIPS 180 known answers for "abc".
    assert dlms.hls(3, b"ab", b"c").hex() == "900150983cd24fb0d6963f7d28e17f72"
    assert dlms.hls(4, b"a", b"bc").hex() == "a9993e364706816aba3e25717850c26c9cd0d89d"
    with pytest.raises(meterlink.MeterlinkError):
        dlms.hls(5, b"x")


# u9n/dlms-cosem tests/test_general_global_cipher.py (security-vectors.json
# dlms-general-glo-ciphering-dlms-cosem): EK = AK = "MYDUMMYGLOBALKEY", invocation counter 485.
GGC = bytes.fromhex(
    "db082f192291991641033b30000001e5025ce9d2271fd78be8c204211a916a9d7f587e0a7a814cadea89e9593f01f92ea8c0"
    "87b5bdfdefeab6becf282dfe49c08f5be6dc8400"
)
KEY = b"MYDUMMYGLOBALKEY"


def test_replayed_invocation_counter_is_rejected_and_persisted(tmp_path):
    keys = {"ek": KEY, "ak": KEY}
    store = meterlink.CounterStore(tmp_path / "c.db")
    assert dlms.decode(GGC, keys=keys, counters=store).decrypted
    assert store.last_dlms("2f19229199164103") == 485
    with pytest.raises(meterlink.SecurityError) as e:
        dlms.decode(GGC, keys=keys, counters=store)
    assert e.value.code == "cipher_replayed_counter"
    store.close()
    with meterlink.CounterStore(tmp_path / "c.db") as again:
        assert again.last_dlms("2f19229199164103") == 485
        with pytest.raises(meterlink.SecurityError):
            dlms.decode(GGC, keys=keys, counters=again)
    # Without a key nothing verified the counter: nothing is checked or recorded.
    fresh = meterlink.CounterStore()
    assert not dlms.decode(GGC, counters=fresh).decrypted and fresh.dlms_entries() == []


def test_strict_and_wrong_keys():
    with pytest.raises(meterlink.SecurityError) as e:
        dlms.decode(GGC, strict=True)
    assert e.value.code == "no_key"
    wrong = bytearray(KEY)
    wrong[0] ^= 1
    with pytest.raises(meterlink.SecurityError) as e:
        dlms.decode(GGC, keys={"ek": bytes(wrong), "ak": KEY})
    assert e.value.code.startswith("cipher_") and "MYDUMMY" not in str(e.value)
    # keys by system title: the right title decrypts, another leaves it ciphered
    assert dlms.decode(GGC, keys={"2f19229199164103": {"ek": KEY, "ak": KEY}}).decrypted
    assert not dlms.decode(GGC, keys={"0000000000000000": {"ek": KEY, "ak": KEY}}).decrypted
    with pytest.raises(meterlink.MeterlinkError):
        dlms.decode(GGC, keys={"ek": "zz"})


def test_key_forms_parsed_natively_and_in_python_agree():
    from types import MappingProxyType

    forms = [
        {"ek": KEY, "ak": KEY},
        {"ek": KEY.hex(), "ak": KEY.hex().upper()},
        {"2f19229199164103": {"ek": KEY, "ak": KEY}},
        {"2F19229199164103": {"ek": bytearray(KEY), "ak": KEY, "dedicated_key": None}},
    ]
    for keys in forms:
        native = dlms.decode(GGC, keys=keys).to_dict()        # dict: parsed by the extension
        python = dlms.decode(GGC, keys=MappingProxyType(keys)).to_dict()  # other mappings: in Python
        assert native == python and native["decrypted"]
    for bad in ({"ek": "zz"}, {"ek": 5}, {"ak": KEY}, {"2f1922": {"ek": KEY}}, {"2f19229199164103": {"ek": KEY, "x": 1}},
                {"2f19229199164103": "notadict"}):
        for keys in (bad, MappingProxyType(bad)):
            with pytest.raises(meterlink.MeterlinkError) as e:
                dlms.decode(GGC, keys=keys)
            assert e.value.code == "argument" and "MYDUMMY" not in str(e.value)


def test_keystore_entries_by_system_title():
    store = meterlink.KeyStore({"12345678": "000102030405060708090A0B0C0D0E0F"})
    dl = store.with_dlms({"2f19229199164103": {"ek": KEY, "ak": KEY.hex()}})
    assert len(dl) == 2 and len(store) == 1
    assert dlms.decode(GGC, keys=dl).decrypted
    assert not dlms.decode(GGC, keys=store).decrypted      # the M-Bus keys are no DLMS keys
    t = meterlink.decode_batch([GGC, GGC], protocol="dlms", keys=dl).messages.to_pyarrow()
    assert t.column("decrypted").to_pylist() == [True, True]
    with pytest.raises(meterlink.MeterlinkError):
        store.with_dlms({"ek": KEY, "ak": KEY})             # a KeyStore entry needs its title
    assert "MYDUMMY" not in repr(dl)
