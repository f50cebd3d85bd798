"""DLMS/COSEM in bulk: ``meterlink.decode_batch(frames, protocol="dlms")``, the archive readers
and the CLI (``decode --dlms``, ``bulk --protocol dlms|p1``), over real frames
(``tests/vectors/dlms_bulk.json``: the project's verified vectors and DLMS corpus rows, with
their sources)."""

import gzip
import json
import math
from pathlib import Path

import pytest

import meterlink
import meterlink.dlms
from meterlink.cli import main

pa = pytest.importorskip("pyarrow")

VECTORS = {v["name"]: v for v in json.loads((Path(__file__).parent / "vectors" / "dlms_bulk.json").read_text())["frames"]}
GG = VECTORS["general-glo-ciphering-dlms-cosem"]
LUX = VECTORS["luxembourg-smarty-p1"]
AIDON = VECTORS["dlms-0154-aidon"]
HDLC = VECTORS["dlms-0178-hdlc"]
WRAPPER = VECTORS["dlms-0051"]

STATUSES = {"ok", "no_key", "frame_error", "decode_error", "security_error"}


def frame(v):
    return bytes.fromhex(v["frame"])


def keys_of(v):
    return {"ek": v["keys"]["ek"], "ak": v["keys"]["ak"]}


def messages(b):
    return pa.table(b.messages).to_pylist()


def obis(b):
    return pa.table(b.obis).to_pylist()


def mixed():
    """Good, ciphered-without-key, tampered, truncated and non-frame inputs."""
    tampered = bytearray(frame(GG))
    tampered[-1] ^= 1
    bad_fcs = bytearray(frame(HDLC))
    bad_fcs[-2] ^= 0x40
    kinds = [
        frame(GG), frame(LUX), bytes(tampered), frame(AIDON), bytes(bad_fcs), b"\x01\x02\x03\x04\x05",
        HDLC["frame"], frame(WRAPPER), "zz", None,
    ]
    return [kinds[i % len(kinds)] for i in range(500)]


#: Keys for the dlms-cosem system title only: the Luxembourg push has none.
TITLED = {"2f19229199164103": keys_of(GG)}
EXPECTED = ["ok", "no_key", "security_error", "ok", "frame_error", "decode_error", "ok", "ok", "frame_error", "frame_error"]


def test_every_row_gets_a_status_in_input_order():
    b = meterlink.decode_batch(mixed(), protocol="dlms", keys=TITLED)
    rows = messages(b)
    assert [r["index"] for r in rows] == list(range(500))
    assert all(r["status"] in STATUSES for r in rows)
    assert [r["status"] for r in rows[:10]] == EXPECTED, [r["error_code"] for r in rows[:10]]
    for r in rows:
        failed = r["status"] not in ("ok", "no_key")
        assert (r["error"] is not None) == failed and (r["error_code"] is not None) == failed
    assert rows[9]["error"] == "null frame" and rows[9]["error_code"] == "input"
    assert rows[2]["error_code"].startswith("cipher_")
    assert b.counts["frames"] == 500 and b.counts["ok"] == 200 and b.counts["obis"] == len(obis(b))
    assert len(b) == 500


def test_one_and_four_threads_agree():
    frames = mixed() * 20
    one = meterlink.decode_batch(frames, protocol="dlms", keys=TITLED, threads=1)
    four = meterlink.decode_batch(frames, protocol="dlms", keys=TITLED, threads=4)
    assert pa.table(one.messages).equals(pa.table(four.messages))
    assert pa.table(one.obis).equals(pa.table(four.obis))
    assert one.counts == four.counts


def _same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, (int, float)) and math.isclose(a, b))


@pytest.mark.parametrize("name", ["dlms-0154-aidon", "dlms-0160-kaifa", "dlms-0168-kamstrup", "dlms-0178-hdlc", "dlms-0197-tinetz"])
def test_obis_rows_equal_single_decode(name):
    v = VECTORS[name]
    keys = keys_of(v) if "keys" in v else None
    single = meterlink.dlms.decode(frame(v), keys, framing=v["framing"]).obis_values
    b = meterlink.decode_batch([frame(v)], protocol="dlms", keys=keys, framing=v["framing"])
    rows = obis(b)
    assert single, "no OBIS rows"
    assert len(rows) == len(single) == messages(b)[0]["rows"]
    for r, s in zip(rows, single):
        assert r["frame_index"] == 0
        assert r["obis"] == s["obis"] and r["unit"] == s["unit"] and r["name"] == s["name"] and r["scaler"] == s["scaler"]
        value = r["value"] if r["value"] is not None else r["text"]
        assert _same(value, s["value"]), (r, s)


def test_aidon_values_as_amshan_reads_them():
    b = meterlink.decode_batch([AIDON["frame"]], protocol="dlms")
    by_obis = {r["obis"]: r for r in obis(b)}
    for want in AIDON["expect"]["obis_values"]:
        r = by_obis[want["obis"]]
        got = r["text"] if isinstance(want["value"], str) else r["value"]
        assert _same(got, want["value"]), (r, want)


def test_ciphered_header_and_no_key():
    with_key = messages(meterlink.decode_batch([frame(WRAPPER)], protocol="dlms", keys=keys_of(WRAPPER)))[0]
    assert with_key["status"] == "ok" and with_key["framing"] == "wrapper"
    assert with_key["apdu_type"] == "general-glo-ciphering"
    assert with_key["plaintext_apdu_type"] == "data-notification"
    assert with_key["system_title"] == "2f19229199164103"
    assert (with_key["security_control"], with_key["invocation_counter"], with_key["decrypted"]) == (0x30, 485, True)
    assert with_key["invoke_id"] == 0x1DB and with_key["priority"] == "normal"
    no_key = messages(meterlink.decode_batch([frame(WRAPPER)], protocol="dlms"))[0]
    assert no_key["status"] == "no_key" and no_key["decrypted"] is False
    assert no_key["system_title"] == "2f19229199164103" and no_key["plaintext_apdu_type"] is None
    strict = messages(meterlink.decode_batch([frame(WRAPPER)], protocol="dlms", strict=True))[0]
    assert strict["status"] == "security_error"


def test_p1_protocol_and_datetime_columns():
    b = meterlink.decode_batch([LUX["frame"]], protocol="p1", keys=keys_of(LUX))
    row = messages(b)[0]
    assert row["status"] == "ok" and row["framing"] == "p1"
    assert row["p1_telegram"].startswith(LUX["expect"]["p1_starts"])
    assert row["rows"] == len(obis(b)) > 0
    # A clear P1 telegram may be given as its text.
    clear = meterlink.decode_batch([row["p1_telegram"]], protocol="p1")
    assert messages(clear)[0]["status"] == "ok" and messages(clear)[0]["rows"] == row["rows"]
    tinetz = VECTORS["dlms-0197-tinetz"]
    t = messages(meterlink.decode_batch([tinetz["frame"]], protocol="dlms", keys=keys_of(tinetz)))[0]
    # 2021-07-19 15:46:35, deviation -120 (UTC+02:00).
    assert t["datetime"].startswith("2021-07-19T15:46:35")
    assert t["timestamp"].isoformat() == "2021-07-19T13:46:35+00:00"


def test_arrow_input_and_framing_option():
    arr = pa.array([WRAPPER["frame"], HDLC["frame"], None])
    b = meterlink.decode_batch(arr, protocol="dlms", keys=keys_of(WRAPPER))
    assert [r["status"] for r in messages(b)] == ["ok", "ok", "frame_error"]
    t = pa.table({"when": ["a", "b"], "frame": pa.array([frame(WRAPPER), frame(HDLC)], pa.binary())})
    b = meterlink.decode_batch(t, protocol="dlms", keys=keys_of(WRAPPER), framing="hdlc")
    rows = messages(b)
    assert [r["status"] for r in rows] == ["frame_error", "ok"] and [r["when"] for r in rows] == ["a", "b"]
    nested = pa.table(b.nested())
    assert nested.column("obis").to_pylist()[1][0]["obis"] == "1.0.1.7.0.255"


def test_argument_errors():
    with pytest.raises(ValueError):
        meterlink.decode_batch([], protocol="dlms", framing="ft12")
    with pytest.raises(ValueError):
        meterlink.decode_batch([], protocol="p1", framing="hdlc")
    with pytest.raises(ValueError):
        meterlink.decode_batch([], protocol="zigbee")
    with pytest.raises(ValueError):
        meterlink.decode_batch([], framing="hdlc")
    with pytest.raises(meterlink.MeterlinkError):
        meterlink.decode_batch([], protocol="dlms", keys={"ek": "zz"})
    with pytest.raises(TypeError):
        meterlink.decode_batch(b"\x01", protocol="dlms")
    # Any iterable, decoded piecewise, keeps counting.
    b = meterlink.decode_batch(iter([frame(HDLC)] * 5), protocol="dlms", chunk_size=2)
    assert [r["index"] for r in messages(b)] == list(range(5)) and len(obis(b)) == 5
    assert len(meterlink.decode_batch([], protocol="dlms")) == 0


def test_read_archive_hex_lines(tmp_path):
    p = tmp_path / "pushes.txt.gz"
    text = f"# pushes\n2024-01-01T00:00;{HDLC['frame']}\n\nnot hex\n{WRAPPER['frame']}\n"
    p.write_bytes(gzip.compress(text.encode()))
    b = meterlink.read_archive(p, protocol="dlms", keys=keys_of(WRAPPER), batch_size=2)
    rows = messages(b)
    assert [(r["line"], r["status"]) for r in rows] == [(2, "ok"), (4, "frame_error"), (5, "ok")]
    assert [r["index"] for r in rows] == [0, 1, 2]
    pieces = list(meterlink.iter_batches(p, protocol="dlms", batch_size=2))
    assert [len(x) for x in pieces] == [2, 1]
    with pytest.raises(ValueError):
        meterlink.iter_batches(p, format="rtl-wmbus", protocol="dlms")


def test_read_archive_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    p = tmp_path / "pushes.parquet"
    pq.write_table(pa.table({"frame": pa.array([frame(HDLC), frame(AIDON)], pa.binary()), "site": ["x", "y"]}), p)
    b = meterlink.read_archive(p, protocol="dlms")
    rows = messages(b)
    assert [(r["status"], r["site"]) for r in rows] == [("ok", "x"), ("ok", "y")]
    assert b.counts["obis"] == 13


# -- CLI ---------------------------------------------------------------------------------------


def test_cli_decode_dlms(capsys, tmp_path):
    assert main(["decode", "--dlms", "--ek", GG["keys"]["ek"], "--ak", GG["keys"]["ak"], GG["frame"]]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["apdu_type"] == "general-glo-ciphering" and d["decrypted"] is True
    assert d["plaintext_apdu"] == GG["expect"]["plaintext"]
    keyfile = tmp_path / "keys.json"
    keyfile.write_text(json.dumps({"534147677001bd54": keys_of(LUX)}))
    assert main(["decode", "--dlms", "--framing", "p1", "--keys", str(keyfile), LUX["frame"]]) == 0
    assert json.loads(capsys.readouterr().out)["p1_telegram"].startswith("/Lux5")
    # A bad message: status 1, the reason with its code on stderr, no traceback.
    assert main(["decode", "--dlms", "0102030405"]) == 1
    err = capsys.readouterr().err
    assert "DecodeError: [" in err and "Traceback" not in err
    assert main(["decode", "--dlms", "--strict", WRAPPER["frame"]]) == 1
    assert "SecurityError" in capsys.readouterr().err


def test_cli_decode_dlms_usage_and_key_errors(capsys, tmp_path):
    assert main(["decode", "--dlms", "--ak", "00" * 16, "00"]) == 2
    assert main(["decode", "--ek", "00" * 16, "00"]) == 2
    assert main(["decode", "--dlms", "--table", "00"]) == 2
    bad = tmp_path / "keys.json"
    bad.write_text("{not json")
    assert main(["decode", "--dlms", "--keys", str(bad), "00"]) == 1
    assert main(["decode", "--dlms", "--ek", "zz", "00"]) == 1
    err = capsys.readouterr().err
    assert "cannot load keys" in err and "zz" not in err.split("cannot load keys")[-1].split(":")[0]


@pytest.mark.parametrize("layout", ["nested", "split"])
def test_cli_bulk_dlms_parquet(capsys, tmp_path, layout):
    pq = pytest.importorskip("pyarrow.parquet")
    src = tmp_path / "pushes.txt"
    src.write_text("\n".join([HDLC["frame"], AIDON["frame"], "0102030405", WRAPPER["frame"]]) + "\n")
    out = tmp_path / "out.parquet"
    rc = main(["bulk", "--protocol", "dlms", str(src), "-o", str(out), "--layout", layout,
               "--ek", WRAPPER["keys"]["ek"], "--ak", WRAPPER["keys"]["ak"]])
    assert rc == 0
    err = capsys.readouterr().err
    # the wrapper push (dlms-cosem) carries a bare value without an OBIS code: no row
    assert "4 messages" in err and "13 OBIS rows" in err and "errors by code: apdu_" in err
    t = pq.read_table(out)
    assert t.column("status").to_pylist() == ["ok", "ok", "decode_error", "ok"]
    if layout == "nested":
        assert [len(x) for x in t.column("obis").to_pylist()] == [1, 12, 0, 0]
    else:
        o = pq.read_table(tmp_path / "out.records.parquet")
        assert o.num_rows == 13 and o.column("frame_index").to_pylist()[:2] == [0, 1]


def test_cli_bulk_p1_jsonl_and_usage(capsys, tmp_path):
    src = tmp_path / "p1.txt"
    src.write_text(LUX["frame"] + "\n")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(keys_of(LUX)))
    out = tmp_path / "out.jsonl"
    assert main(["bulk", "-q", "--protocol", "p1", "--keys", str(keys), str(src), "-o", str(out)]) == 0
    (row,) = [json.loads(x) for x in out.read_text().splitlines()]
    assert row["status"] == "ok" and row["p1_telegram"].startswith("/Lux5") and len(row["obis"]) == row["rows"] > 0
    # Empty input: the file is still written.
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["bulk", "-q", "--protocol", "dlms", str(empty), "-o", str(tmp_path / "e.jsonl")]) == 0
    assert (tmp_path / "e.jsonl").read_text() == ""
    assert main(["bulk", "-q", "--protocol", "dlms", "--format", "raw", str(src), "-o", str(out)]) == 2
    assert main(["bulk", "-q", "--protocol", "p1", "--framing", "hdlc", str(src), "-o", str(out)]) == 2
    assert main(["bulk", "-q", "--framing", "hdlc", str(src), "-o", str(out)]) == 2
    assert main(["bulk", "-q", "--protocol", "dlms", str(tmp_path / "missing.txt"), "-o", str(out)]) == 1


def test_replayed_counters_are_rejected_in_input_order(tmp_path):
    later = VECTORS["dlms-0134"]  # the same sender and key as GG, invocation counter 487 (GG: 485)
    frames = [frame(GG), frame(later), frame(GG)]
    for threads in (1, 4):
        store = meterlink.CounterStore()
        b = meterlink.decode_batch(frames, protocol="dlms", keys=keys_of(GG), counters=store, threads=threads)
        rows = messages(b)
        assert [r["status"] for r in rows] == ["ok", "ok", "security_error"]
        assert rows[2]["error_code"] == "cipher_replayed_counter" and rows[2]["rows"] == 0
        assert all(r["frame_index"] < 2 for r in obis(b))
    # The CLI's --replay-store keeps the counters from one run to the next.
    src = tmp_path / "pushes.txt"
    src.write_text(GG["frame"] + "\n")
    db = tmp_path / "counters.sqlite"
    args = ["bulk", "-q", "--protocol", "dlms", "--ek", GG["keys"]["ek"], "--ak", GG["keys"]["ak"],
            "--replay-store", str(db), str(src), "-o"]
    assert main([*args, str(tmp_path / "a.jsonl")]) == 0
    assert main([*args, str(tmp_path / "b.jsonl")]) == 0
    first = json.loads((tmp_path / "a.jsonl").read_text())
    second = json.loads((tmp_path / "b.jsonl").read_text())
    assert (first["status"], second["status"], second["error_code"]) == ("ok", "security_error", "cipher_replayed_counter")
