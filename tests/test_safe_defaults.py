"""Issue 12, through the Python API: link CRCs, the protection policy, integrity and counters.

Frames: issue 12's forged clear payload under a mode-5 header (meter KAM 12345678), and frames
built with ``meterlink.encode`` (the encoder's output is checked against published vectors in
tests/test_encode.py); OMS N.2.2 (wired, clear) from tests/vectors/wired-frames.json.
"""

from __future__ import annotations

import pytest

import meterlink
import meterlink.bulk
from meterlink.cli import main

KEY = "000102030405060708090A0B0C0D0E0F"
FORGED = "1e442d2c7856341201077a000010052f2f03133f420f015b2d2f2f2f2f2f2f"
N22 = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916"
REC = meterlink.encode_record(0x13, 6408)


def frame(mode=0, fmt="B", volume=6408, **kw):
    key = KEY if mode else None
    if mode in (7, 8, 9, 10, 15):
        kw.setdefault("message_counter", 7)
    return meterlink.encode(meterlink.encode_record(0x13, volume), link="wireless", manufacturer="KAM",
                            id="12345678", mode=mode, key=key, frame_format=fmt, **kw)


def test_forged_clear_payload_for_a_keyed_meter():
    with pytest.raises(meterlink.SecurityError) as e:
        meterlink.decode(FORGED, keys={"12345678": KEY})
    assert (e.value.code, e.value.offset) == ("unprotected", 15)
    tg = meterlink.decode(FORGED, keys={"12345678": KEY}, accept_unprotected=True)
    assert (tg.decrypted_by, tg.integrity) == ("receiver", "none")
    assert meterlink.decode(FORGED).decrypted_by == "receiver"      # no key: nothing to hold it to
    t = meterlink.decode_batch([FORGED], keys={"12345678": KEY}).telegrams.to_pyarrow()
    assert t.column("error_code").to_pylist() == ["unprotected"]


def test_unprotected_payloads_accepted_per_key():
    store = meterlink.KeyStore({"12345678": KEY})
    with pytest.raises(meterlink.SecurityError):
        meterlink.decode(FORGED, keys=store)
    behind_receiver = store.with_unprotected(["KAM12345678"])
    assert meterlink.decode(FORGED, keys=behind_receiver).decrypted_by == "receiver"
    assert meterlink.decode(frame(0, "A"), keys=behind_receiver).records[0].value == pytest.approx(6.408)
    # another manufacturer's meter with that ID is still held to its key; the original store too
    for other in (store.with_unprotected(["ABB12345678"]), store):
        with pytest.raises(meterlink.SecurityError):
            meterlink.decode(FORGED, keys=other)
    t = meterlink.decode_batch([FORGED], keys=behind_receiver).telegrams.to_pyarrow()
    assert t.column("status").to_pylist() == ["ok"]
    with pytest.raises(meterlink.MeterlinkError):
        store.with_unprotected(["not a meter"])


def test_integrity_and_counters():
    cases = {5: "filler_2f2f", 7: "mac", 8: "mac", 9: "aead", 10: "aead"}
    for mode, want in cases.items():
        tg = meterlink.decode(frame(mode, "A"), keys={"12345678": KEY})
        assert (tg.integrity, tg.link_crc) == (want, "verified"), mode
        assert tg.to_dict()["integrity"] == want
    c = meterlink.decode(frame(7, "A", access_number=0x2A), keys={"12345678": KEY}).counters
    assert (c["access_number"], c["afl_message_counter"], c["tpl_message_counter"]) == (0x2A, 7, None)
    t = meterlink.decode_batch([frame(7, "A")], keys={"12345678": KEY}).telegrams.to_pyarrow()
    row = t.to_pylist()[0]
    assert (row["integrity"], row["link_crc"], row["afl_message_counter"]) == ("mac", "verified", 7)


def test_single_decode_says_when_nothing_was_checked():
    plain = frame(0, "none")
    tg = meterlink.decode(plain)
    assert tg.link_crc == "absent" and tg.records[0].value == pytest.approx(6.408)
    with pytest.raises(meterlink.FrameError) as e:
        meterlink.decode(plain, strict=True)
    assert e.value.code == "wmbus_crc"
    assert meterlink.decode(plain, strict=True, link="wireless-nocrc").link_crc == "absent"


def damaged_b():
    """A format-B frame with one bit of its record flipped (issue 12's example shape)."""
    f = bytearray(frame(0, "B"))
    f[-5] ^= 1
    return bytes(f)


def test_a_source_with_crcs_rejects_damaged_frames():
    frames = [frame(0, "B", volume=6400 + i) for i in range(8)] + [damaged_b()]
    b = meterlink.decode_batch(frames)
    rows = b.telegrams.to_pyarrow().to_pylist()
    assert b.link_crc_required
    assert [r["status"] for r in rows] == ["ok"] * 8 + ["frame_error"]
    assert rows[-1]["error_code"] == "wmbus_crc"
    # Judged frame by frame (frames of many receivers), the damaged one reads as CRC-less.
    rows = meterlink.decode_batch(frames, link_crc="frame").telegrams.to_pyarrow().to_pylist()
    assert (rows[-1]["status"], rows[-1]["link_crc"]) == ("ok", "absent")
    # A stream keeps the requirement: the damaged frame alone in a later piece is rejected.
    parts = list(meterlink.bulk.iter_decode(iter(frames), chunk_size=8))
    assert [p.link_crc_required for p in parts] == [True, True]
    assert parts[1].telegrams.to_pyarrow().column("status").to_pylist() == ["frame_error"]
    with pytest.raises(ValueError):
        meterlink.decode_batch(frames, link_crc="sometimes")


def test_crc_less_archives_are_read_as_such(tmp_path):
    # rtl-wmbus lines carry frames whose CRCs the receiver removed.
    plain = frame(0, "none").hex()
    p = tmp_path / "rtl.txt"
    p.write_text(f"T1;1;1;2019-03-28 08:49:36.000;117;102;12345678;0x{plain}\n")
    t = meterlink.read_archive(p, format="rtl-wmbus").telegrams.to_pyarrow()
    assert t.column("status").to_pylist() == ["ok"] and t.column("link_crc").to_pylist() == ["absent"]


def test_cli_options(capsys, tmp_path):
    keys = tmp_path / "keys.csv"
    keys.write_text(f"12345678,{KEY}\n")
    assert main(["decode", "--keys", str(keys), FORGED]) == 1
    assert "[unprotected]" in capsys.readouterr().err
    assert main(["decode", "--keys", str(keys), "--accept-unprotected", FORGED]) == 0
    capsys.readouterr()
    src = tmp_path / "frames.txt"
    src.write_text("\n".join(f.hex() for f in [frame(0, "B"), damaged_b()]) + "\n")
    out = tmp_path / "out.jsonl"
    for choice, last in (("source", "frame_error"), ("frame", "ok")):
        assert main(["bulk", str(src), "-o", str(out), "-q", "--link-crc", choice]) == 0
        rows = [__import__("json").loads(x) for x in out.read_text().splitlines()]
        assert rows[-1]["status"] == last, choice
    assert main(["bulk", str(src), "-o", str(out), "-q", "--keys", str(keys), "--no-default-keys"]) == 0


def test_bulk_replay_store(tmp_path, capsys):
    import json

    keys = tmp_path / "keys.csv"
    keys.write_text(f"12345678,{KEY}\n")
    # Mode 7 (AFL CMAC over the AFL MCR): counters 5, 5 again, 4, 6.
    frames = [frame(7, "A", message_counter=c) for c in (5, 5, 4, 6)]
    src = tmp_path / "frames.txt"
    src.write_text("\n".join(f.hex() for f in frames) + "\n")
    out, store = tmp_path / "out.jsonl", tmp_path / "counters.db"
    assert main(["bulk", str(src), "-o", str(out), "--keys", str(keys), "--replay-store", str(store)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["error_code"] for r in rows] == [None, "replayed_counter", "replayed_counter", None]
    assert "replayed_counter 2" in capsys.readouterr().err
    # The store persists: the same archive again is all replays.
    assert main(["bulk", str(src), "-o", str(out), "-q", "--keys", str(keys), "--replay-store", str(store)]) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["error_code"] for r in rows] == ["replayed_counter"] * 4
