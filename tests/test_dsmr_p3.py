"""DSMR P2 -> P3 (issue 14 section 4) from Python: the Appendix B1.3 gas telegram gives the
P1 line the issue names; ``meterlink bulk --p1`` on an archive built with meterlink's encoder."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import meterlink
from meterlink import cli
from meterlink.dsmr import p3_view, parse_data

# source: DSMR P2 4.2.2 Appendix B1.3 ("encrypted" column; L printed 3Fh is an erratum: the 70
# bytes from C to the frame counter give 46h, and the printed CS 93h is their sum).
B13 = (
    "68 46 46 68 08 01 72 89674523 B438 42 03 F6 00 30 0F"
    " F180C53E0768C76AE6E24A98BDD5947F 622732BF6372AA2AA9AF6D0F0C71FB59"
    " 7FFC6205A25F50842787A6F0C29D507B 04FD08 01000000 93 16"
)
USER_KEY = bytes(range(16))
# source: B1.3 "clear" column, after the configuration word.
B13_PLAIN = (
    "2F2F01FD17000D78113938373635343332313031315858585858466D00000B3216004C139103000001FD67052F2F2F2F"
)


def test_b13_p1_line() -> None:
    # IV version 40h: the Appendix B preamble's IV (the header's 42h is the erratum).
    v = p3_view(B13, channel=1, key=USER_KEY, iv_version=0x40)
    assert v.p1_lines() == [
        "0-1:24.1.0(003)",
        "0-1:96.1.0(5858585858313130313233343536373839)",
        "0-1:24.2.1(090618110000S)(00000.391*m3)",
    ]
    assert (v.identification_number, v.manufacturer, v.version, v.device_type) == (23456789, "NET", 0x42, 3)
    assert (v.access_number, v.status, v.primary_address, v.config_mask) == (0xF6, 0, 1, 5)
    assert v.equipment_id == "XXXXX110123456789"
    assert v.capture_time == 1245322800
    rows = {(r["obis"], r["name"]): r for r in v.obis_values}
    val = rows[("0.1.24.2.1.255", "value")]
    assert (val["value"], val["scaler"], val["unit"], val["class_id"], val["attribute"]) == (0.391, -3, "m3", 4, 2)
    assert rows[("0.1.24.2.1.255", "capture_time")]["value"] == "2009-06-18T11:00:00Z"
    assert rows[("0.1.24.1.0.255", "identification_number")]["value"] == 23456789
    assert rows[("0.1.96.1.0.255", "equipment_identifier")]["value"] == "XXXXX110123456789"
    # The same keys the DLMS rows use.
    assert set(val) >= {"obis", "value", "scaler", "unit"}


def test_b13_errors_and_keystore() -> None:
    with pytest.raises(meterlink.SecurityError) as e:
        p3_view(B13, key=bytes(16))
    assert e.value.code == "dsmr_decrypt"
    with pytest.raises(meterlink.SecurityError) as e:
        p3_view(B13)
    assert e.value.code == "dsmr_no_key"
    with pytest.raises(meterlink.FrameError):
        p3_view(B13.replace("93 16", "94 16"), key=USER_KEY)
    ks = meterlink.KeyStore({"NET23456789": USER_KEY.hex()})
    assert p3_view(B13, 2, ks, iv_version=0x40).p1_lines()[2] == "0-2:24.2.1(090618110000S)(00000.391*m3)"


def test_parse_data_b13() -> None:
    d = parse_data(3, B13_PLAIN)
    assert d["equipment_id"] == "XXXXX110123456789"
    assert d["readings"] == [{"kind": "gas_converted", "raw": 391, "scaler": -3, "unit": "m3", "storage": 1, "vib": "13"}]
    assert (d["status"], d["config_mask"], d["timestamp"], d["other"]) == (0, 5, 1245322800, [])


def _frame(litres: int, hour: int, fc: int) -> bytes:
    """A B1.3-style RSP_UD from meterlink's own encoder (mode 15, IV from the header)."""
    # 2009-06-18 <hour>:00 UTC as type I (day of week 0, as B1.3).
    ts = bytes([0, 0, hour, 0x32, 0x16, 0])
    bcd = bytes.fromhex(f"{litres:08d}")[::-1]
    recs = (
        bytes.fromhex("01FD1700 0D7811 3938373635343332313031315858585858")
        + b"\x46\x6d" + ts + b"\x4c\x13" + bcd + bytes.fromhex("01FD6705")
    )
    return meterlink.encode(
        recs, link="wired", c=0x08, a=1, manufacturer="NET", id="23456789", version=0x42, device_type=3,
        header="long", ci=0x72, access_number=fc, mode=15, key=USER_KEY, message_counter=fc,
    )


def test_cli_bulk_p1(tmp_path: Path) -> None:
    arch = tmp_path / "p2.txt"
    keys = tmp_path / "keys.csv"
    keys.write_text(f"NET,23456789,{USER_KEY.hex()}\n")
    lines = ["timestamp;frame"]
    for i in range(3):
        lines.append(f"2009-06-18T{11 + i:02d}:00:05Z;{_frame(391 + 10 * i, 11 + i, i + 1).hex()}")
    lines.append("2009-06-18T14:00:05Z;" + _frame(999, 14, 9).hex()[:-4] + "0016")  # bad checksum
    arch.write_text("\n".join(lines) + "\n")
    out = tmp_path / "p1.txt"
    err = io.StringIO()
    rc = cli._cmd_bulk(cli._parser().parse_args(["bulk", "--p1", str(arch), "-o", str(out), "--keys", str(keys)]),
                       io.StringIO(), io.StringIO(), err)
    assert rc == 0, err.getvalue()
    blocks = out.read_text().split("\n\n")
    assert blocks[0].splitlines() == [
        "# line 2 2009-06-18T11:00:05Z",
        "0-1:24.1.0(003)",
        "0-1:96.1.0(5858585858313130313233343536373839)",
        "0-1:24.2.1(090618110000S)(00000.391*m3)",
    ]
    assert blocks[2].splitlines()[-1] == "0-1:24.2.1(090618130000S)(00000.411*m3)"
    assert blocks[3].startswith("# line 5 2009-06-18T14:00:05Z\n# error dsmr_frame: ")
    assert "4 telegrams, 1 errors" in err.getvalue()
    # Without keys every telegram is an error block, and the run still succeeds.
    rc = cli.main(["bulk", "--p1", "-q", str(arch), "-o", str(out)])
    assert rc == 0 and out.read_text().count("# error dsmr_no_key") == 3
