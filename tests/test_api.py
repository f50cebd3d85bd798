"""The Python API: input forms, errors and offsets, objects, pickling of exceptions."""

import decimal
import json
import pickle

import pytest

import meterlink
from meterlink import DecodeError, FrameError, MeterlinkError, SecurityError

# OMS Vol.2 Annex N N.2.2 (see tests/vectors/wired-frames.json)
N22 = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916"


def test_exception_hierarchy():
    for cls in (FrameError, DecodeError, SecurityError):
        assert issubclass(cls, MeterlinkError)
    assert issubclass(MeterlinkError, ValueError)
    e = FrameError("bad", 7)
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is FrameError and e2.offset == 7 and str(e2) == "bad"
    assert e.code is None and e2.code is None


def test_exception_code_and_offset_survive_pickling():
    e = SecurityError("MAC mismatch", 12, "afl_mac")
    assert (e.offset, e.code, str(e)) == (12, "afl_mac", "MAC mismatch")
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is SecurityError and (e2.offset, e2.code, str(e2)) == (12, "afl_mac", "MAC mismatch")
    assert MeterlinkError("no offset").offset is None and MeterlinkError("no code", 3).code is None


@pytest.mark.parametrize(
    "frame",
    [bytes.fromhex(N22), bytearray.fromhex(N22), memoryview(bytes.fromhex(N22)), N22, N22.lower(),
     " ".join(N22[i:i + 2] for i in range(0, len(N22), 2)), "0x" + N22],
)
def test_input_forms_are_equivalent(frame):
    assert meterlink.decode(frame).to_dict() == meterlink.decode(bytes.fromhex(N22)).to_dict()


def test_bad_hex_and_types():
    with pytest.raises(FrameError) as e:
        meterlink.decode("68zz")
    assert e.value.offset == 2
    with pytest.raises(FrameError):
        meterlink.decode("681")
    with pytest.raises(TypeError):
        meterlink.decode(12345)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        meterlink.decode(N22, link="radio")  # type: ignore[arg-type]


def test_frame_errors_name_the_check_and_offset():
    good = bytearray.fromhex(N22)
    cases = []
    b = bytearray(good); b[1] = 0x21; cases.append((b, 2, "length bytes differ"))
    b = bytearray(good); b[3] = 0x69; cases.append((b, 3, "second start"))
    b = bytearray(good); b[-2] ^= 0xFF; cases.append((b, len(good) - 2, "checksum"))
    b = bytearray(good); b[-1] = 0x17; cases.append((b, len(good) - 1, "stop byte"))
    cases.append((good[:-3], len(good) - 3, "truncated"))
    cases.append((good + b"\x00", len(good), "after the stop byte"))
    for frame, offset, words in cases:
        with pytest.raises(FrameError) as e:
            meterlink.decode(bytes(frame))
        assert e.value.offset == offset, (words, str(e.value))
        assert words in str(e.value)
        assert str(offset) in str(e.value)


def test_truncated_records_are_decode_errors_with_offset():
    # A long frame whose last record claims 4 data bytes but has 2: the record starts at
    # frame offset 19 (after 68 L L 68 C A CI + 12-byte header).
    body = bytes.fromhex("08017278563412931533032A000000") + bytes.fromhex("04131234")
    frame = bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) % 256, 0x16])
    with pytest.raises(DecodeError) as e:
        meterlink.decode(frame)
    assert e.value.offset == 19
    assert "19" in str(e.value)


def test_telegram_and_record_objects():
    tg = meterlink.decode(N22)
    assert "ELS" in repr(tg) and "12345678" in repr(tg)
    assert tg.ci_name == "response from device"
    assert tg.header == "long"
    assert len(tg) == 3
    vol = tg.records[0]
    assert vol.decimal == decimal.Decimal("28504.27")
    assert vol.exact == (2850427, -2)
    assert vol.value_type == "number"
    assert vol.raw == "27048502"
    assert "28504.27" in vol.description
    assert vol.to_dict() == tg.to_dict()["records"][0]
    assert json.loads(tg.to_json()) == json.loads(json.dumps(tg.to_dict()))
    assert tg.records[1].value_type == "datetime"
    assert tg.payload.startswith(bytes.fromhex("0c14"))


def test_table_lookups():
    assert meterlink.manufacturer_code("ELS") == 0x1593
    assert meterlink.manufacturer_name(0x2C2D) == "KAM"
    assert meterlink.device_type_name(7) == "Water"
    with pytest.raises(MeterlinkError):
        meterlink.manufacturer_code("el5")


def test_non_bcd_id_is_printed_faithfully():
    body = bytes.fromhex("0801723E0200059315330300000000")
    frame = bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) % 256, 0x16])
    assert meterlink.decode(frame).id == "0500023E"


def test_status_flags_and_configuration_bits():
    # Status 0x27 = abnormal condition + power low + manufacturer bit 5; CFG 0x2520 = S bit,
    # mode 5, 2 encrypted blocks (OMS N.2.1 header, EN 13757-7 7.5.6 / 7.5.8).
    body = bytes.fromhex("0801723E020005931533032A272025")
    frame = bytes([0x68, len(body), len(body), 0x68]) + body + bytes([sum(body) % 256, 0x16])
    tg = meterlink.decode(frame)
    assert tg.status_flags == ["abnormal condition / alarm", "power low", "manufacturer bits 0x1"]
    cfg = tg.security_config
    assert (cfg["mode"], cfg["encrypted_length_kind"], cfg["encrypted_length"]) == (5, "aes_blocks", 2)
    assert cfg["synchronous"] and not cfg["bidirectional"] and not cfg["accessibility"]
    assert meterlink.decode(N22).status_flags == []
    assert meterlink.decode(N22).security_config["mode"] == 0
    assert meterlink.decode("105B015C16").security_config is None
