"""Archives: hex lines (with metadata columns), rtl-wmbus, wmbusmeters logs, raw wired streams,
Parquet / Arrow IPC, gzip and zstd; and the `meterlink bulk` command."""

import gzip
import io
import json
import os
import subprocess
import sys

import pytest

import meterlink
from meterlink import archive
from meterlink.cli import main

pa = pytest.importorskip("pyarrow")

GAS = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916"
HEAT = "687B7B6808017278563412931533042A0000000C78123456780406A08601000C14270485020B2D1500000B3B5604000A5B65000A5F42000A622301046D32371F154406A08501004414C4D20100426C1F15840106A0840100840114B0D1010082016CFF140422E80300000426E803000002FD17000001FD0E050C13910300004116"
# Frame format B with CRCs, from tests/vectors/wireless-frames.json (frame-b-single-block).
WMBUS = "13442D2C785634120132A000010203040506C3C0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tel(batch):
    return batch.telegrams.to_pyarrow().to_pydict()


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(p)


def test_hex_lines_plain_with_comments_and_bad_lines(tmp_path):
    p = write(tmp_path, "a.txt", f"# comment\n{GAS}\n\n{HEAT}  # trailing comment\nnot hex\n{GAS[:20]}\n")
    b = meterlink.read_archive(p)
    t = tel(b)
    assert t["status"] == ["ok", "ok", "frame_error", "frame_error"]
    assert t["line"] == [2, 4, 5, 6]
    assert b.counts["records"] == 23


def test_line_endings_and_invalid_utf8(tmp_path):
    # \r\n, a lone \r (universal newlines) and a byte that is not UTF-8 in a metadata field.
    data = f"received;frame\r\n2024-01-01;{GAS}\r2024-01-0\xff;{HEAT}\r\n\r\n;zz".encode("latin-1")
    p = write(tmp_path, "crlf.csv", data)
    t = tel(meterlink.read_archive(p, format="hex"))  # "auto" takes non-UTF-8 bytes for a raw capture
    assert t["line"] == [2, 3, 5]
    assert t["received"] == ["2024-01-01", "2024-01-0\ufffd", ""]
    assert t["status"] == ["ok", "ok", "frame_error"] and "hex" in t["error"][2]


def test_timestamp_and_csv_columns(tmp_path):
    p = write(tmp_path, "a.log", f"2024-01-01T00:00:00;{GAS}\n2024-01-01T00:00:15;{HEAT}\n2024-01-01T00:00:30;zz\n2024;x;{GAS}\n")
    t = tel(meterlink.read_archive(p))
    assert t["timestamp"] == ["2024-01-01T00:00:00", "2024-01-01T00:00:15", "2024-01-01T00:00:30", "2024"]
    assert t["status"] == ["ok", "ok", "frame_error", "frame_error"]
    assert "3 fields" in t["error"][3]
    p = write(tmp_path, "b.csv", f"received,rssi,frame\n2024-01-01,-71,{GAS}\n2024-01-02,-80,{HEAT}\n")
    b = meterlink.read_archive(p)
    t = tel(b)
    assert t["received"] == ["2024-01-01", "2024-01-02"] and t["rssi"] == ["-71", "-80"]
    assert t["status"] == ["ok", "ok"]


def test_rtl_wmbus_and_wmbusmeters(tmp_path):
    p = write(
        tmp_path, "rtl.txt",
        f"T1;1;1;2019-03-28 08:49:36.000;117;102;12345678;0x{WMBUS}\nC1;1;1;2019-03-28 08:49:37.000;97;148;12345678;{WMBUS}\n",
    )
    b = meterlink.read_archive(p)
    assert archive.detect_format("rtl.txt", open(p, "rb").read()) == "rtl-wmbus"
    t = tel(b)
    assert t["mode"] == ["T1", "C1"] and t["timestamp"][0] == "2019-03-28 08:49:36.000" and t["rssi"][0] == "117"
    assert t["status"][0] == "ok" and t["status"][1] == "frame_error" and "0x" in t["error"][1]
    p = write(
        tmp_path, "wmbusmeters.log",
        f"(wmbus) received telegram\ntelegram=|{WMBUS[:10]}_{WMBUS[10:]}|+12\nsome log line\ntelegram=|{WMBUS}\ntelegram=|{WMBUS}|\n",
    )
    t = tel(meterlink.read_archive(p))
    assert t["status"] == ["ok", "frame_error", "ok"]
    assert t["time_offset"] == ["12", None, None]
    assert t["line"] == [2, 4, 5]


def test_raw_wired_stream_through_the_splitter(tmp_path):
    data = b"\x00\x01" + bytes.fromhex(GAS) + b"\xff" * 3 + bytes.fromhex(HEAT) + b"\xe5"
    p = write(tmp_path, "capture.bin", data)
    b = meterlink.read_archive(p, batch_size=2)
    t = tel(b)
    assert t["status"] == ["frame_error", "ok", "frame_error", "ok", "ok"]
    assert t["offset"] == [0, 2, 2 + len(GAS) // 2, 5 + len(GAS) // 2, 5 + (len(GAS) + len(HEAT)) // 2]
    assert t["length"][0] == 2 and "2 bytes skipped" in t["error"][0]
    assert t["index"] == [0, 1, 2, 3, 4]


def test_compressed_inputs(tmp_path):
    text = "".join(f"{GAS}\n" for _ in range(1000))
    p = write(tmp_path, "a.txt.gz", gzip.compress(text.encode()))
    b = meterlink.read_archive(p, batch_size=128)
    assert b.counts["ok"] == 1000 and len(b.telegrams.to_pyarrow().to_batches()) >= 8
    zdata = pa.compress(text.encode(), codec="zstd", asbytes=True)
    # pyarrow's raw zstd frame is a complete zstd stream.
    p = write(tmp_path, "a.txt.zst", zdata)
    assert meterlink.read_archive(p).counts["ok"] == 1000


def test_parquet_and_ipc(tmp_path):
    import pyarrow.parquet as pq

    frames = [bytes.fromhex(GAS), None, bytes.fromhex(HEAT), b"\x01"] * 10
    tbl = pa.table({"frame": frames, "received": list(range(40))})
    pq.write_table(tbl, tmp_path / "f.parquet", row_group_size=7)
    b = meterlink.read_archive(str(tmp_path / "f.parquet"), batch_size=5)
    t = tel(b)
    assert t["index"] == list(range(40)) and t["received"] == list(range(40))
    assert t["status"][:4] == ["ok", "frame_error", "ok", "frame_error"]
    with pa.OSFile(str(tmp_path / "f.arrow"), "wb") as f, pa.ipc.new_file(f, tbl.schema) as w:
        w.write_table(tbl)
    with pa.OSFile(str(tmp_path / "f.arrows"), "wb") as f, pa.ipc.new_stream(f, tbl.schema) as w:
        w.write_table(tbl)
    for name in ("f.arrow", "f.arrows"):
        assert tel(meterlink.read_archive(str(tmp_path / name))) == t
    hexed = pa.table({"telegram": [None if x is None else x.hex() for x in frames]})
    pq.write_table(hexed, tmp_path / "h.parquet")
    assert tel(meterlink.read_archive(str(tmp_path / "h.parquet")))["status"] == t["status"]


def test_iter_batches_is_bounded_and_reports_progress(tmp_path):
    p = write(tmp_path, "a.txt", "".join(f"{GAS}\n" for _ in range(1000)))
    reader = meterlink.iter_batches(p, batch_size=100)
    sizes = [len(b) for b in reader]
    assert sizes == [100] * 10
    assert reader.rows_read == 1000 and reader.bytes_read == reader.total_bytes == os.path.getsize(p)
    with pytest.raises(ValueError):
        meterlink.iter_batches(p, format="nope")


def test_cli_bulk_outputs(tmp_path, capsys):
    src = write(tmp_path, "in.txt", f"2024-01-01;{GAS}\n2024-01-02;zz\n2024-01-03;{HEAT}\n")
    out = str(tmp_path / "o.parquet")
    assert main(["bulk", src, "-o", out, "--threads", "1"]) == 0
    err = capsys.readouterr().err
    assert "3 telegrams" in err and "decoded 2" in err and "frame errors 1" in err
    t = pa.parquet.read_table(out) if hasattr(pa, "parquet") else None
    import pyarrow.parquet as pq

    t = pq.read_table(out)
    assert t.column("status").to_pylist() == ["ok", "frame_error", "ok"]
    assert [len(r) for r in t.column("records").to_pylist()] == [3, 0, 20]
    assert main(["bulk", src, src, "-o", str(tmp_path / "o.arrow"), "-q"]) == 0
    with pa.ipc.open_file(str(tmp_path / "o.arrow")) as r:
        assert r.read_all().num_rows == 6
    assert main(["bulk", src, "-o", str(tmp_path / "o.jsonl"), "-q"]) == 0
    rows = [json.loads(x) for x in open(tmp_path / "o.jsonl")]
    assert rows[0]["records"][0]["quantity"] == "Volume" and rows[1]["status"] == "frame_error"
    assert main(["bulk", src, "-o", str(tmp_path / "o.csv"), "-q"]) == 0
    import pyarrow.csv as pacsv

    assert pacsv.read_csv(str(tmp_path / "o.csv")).num_rows == 3
    assert pacsv.read_csv(str(tmp_path / "o.records.csv")).num_rows == 23
    assert main(["bulk", src, "-o", str(tmp_path / "o.parquet"), "--layout", "split", "-q"]) == 0
    assert pq.read_table(tmp_path / "o.records.parquet").num_rows == 23
    # An input without a telegram still gives an output file: empty, with the schema.
    empty = write(tmp_path, "empty.txt", "# nothing here\n\n")
    assert main(["bulk", empty, "-o", str(tmp_path / "e.parquet"), "-q"]) == 0
    e = pq.read_table(tmp_path / "e.parquet")
    assert e.num_rows == 0 and "status" in e.column_names and "records" in e.column_names
    # Usage and I/O errors are the only failures.
    assert main(["bulk", src, "-o", str(tmp_path / "o.xyz")]) == 2
    assert main(["bulk", str(tmp_path / "missing.txt"), "-o", out]) == 1
    assert main(["bulk", src, "-o", out, "--keys", str(tmp_path / "nokeys.csv")]) == 1
    assert main(["bulk", src, "-o", str(tmp_path / "p.parquet"), "--progress"]) == 0
    assert "telegrams" in capsys.readouterr().err


def test_cli_bulk_batches_with_different_dictionaries(tmp_path, capsys):
    # One telegram per batch, heat first: each batch's quantity dictionary is ordered
    # differently, which Arrow IPC files cannot replace; the writer stores plain strings.
    src = write(tmp_path, "in.txt", f"{HEAT}\n{GAS}\nzz\n{HEAT}\n")
    arrow = str(tmp_path / "o.arrow")
    assert main(["bulk", src, "-o", arrow, "--batch-size", "1", "-q"]) == 0
    with pa.ipc.open_file(arrow) as r:
        t = r.read_all()
    assert t.column("status").to_pylist() == ["ok", "ok", "frame_error", "ok"]
    assert [r[2]["quantity"] for r in t.column("records").to_pylist() if r] == ["Volume", "Error flags", "Volume"]
    assert main(["bulk", src, "-o", str(tmp_path / "o.csv"), "--batch-size", "1", "-q"]) == 0
    assert main(["bulk", src, "-o", str(tmp_path / "o.parquet"), "--batch-size", "1", "-q"]) == 0
    assert main(["bulk", src, "-o", str(tmp_path / "s.jsonl"), "--layout", "split", "--batch-size", "3", "-q"]) == 0
    tels = [json.loads(x) for x in open(tmp_path / "s.jsonl")]
    recs = [json.loads(x) for x in open(tmp_path / "s.records.jsonl")]
    assert [t["record_count"] for t in tels] == [20, 3, 0, 20] and len(recs) == 43
    assert recs[20]["frame_index"] == 1 and recs[20]["quantity"] == "Volume" and recs[20]["unit"] == "m^3"
    # The writer works on a thread of its own: its I/O errors still end the run with status 1.
    assert main(["bulk", src, "-o", str(tmp_path / "no" / "such" / "dir.parquet")]) == 1
    assert "meterlink bulk:" in capsys.readouterr().err


def test_bundled_sample_archive(tmp_path):
    sample = os.path.join(ROOT, "examples", "sample-archive.txt")
    keys = os.path.join(ROOT, "examples", "sample-keys.csv")
    b = meterlink.read_archive(sample, keys=keys)
    c = b.counts
    assert c["frames"] > 25 and c["frame_error"] >= 2 and c["ok"] > 20
    # Two wrong-key rows, and the two clear wired readouts (OMS N.2.2) of meter 12345678, whose
    # key the file holds for its encrypted wireless telegrams: unprotected (issue 12's policy).
    t = b.telegrams.to_pyarrow()
    codes = sorted(c for c in t.column("error_code").to_pylist() if c and c.startswith(("afl", "unprot")))
    assert codes == ["afl_mac", "afl_mac", "unprotected", "unprotected"]
    assert c["no_key"] <= 1
    lines = [ln for ln in open(sample) if ln.strip() and not ln.startswith("#")]
    assert c["frames"] == len(lines)


def test_parquet_writer_round_trip_and_conformed_schemas(tmp_path):
    import pyarrow.parquet as pq

    from meterlink.writers import BatchWriter, plain_table

    # Two pieces with different metadata columns: the second is conformed to the first's
    # schema (its extra column dropped, the missing one null).
    first = meterlink.decode_batch([bytes.fromhex(GAS), b"\x01", bytes.fromhex(HEAT)], metadata={"ts": ["a", "b", "c"]})
    second = meterlink.decode_batch([bytes.fromhex(HEAT)], metadata={"rssi": [-71]})
    out = str(tmp_path / "w.parquet")
    with BatchWriter(out, threads=2) as w:
        w.write(first)
        w.write(second)
    t = pq.read_table(out)
    assert pq.ParquetFile(out).metadata.num_row_groups == 2
    assert t.column_names == first.nested().column_names and "rssi" not in t.column_names
    assert t.column("ts").to_pylist() == ["a", "b", "c", None]
    assert pa.types.is_dictionary(t.schema.field("status").type)  # the Arrow schema is stored
    names = t.column_names
    want = plain_table(first.nested().to_pyarrow()).to_pylist()
    want += [{k: r.get(k) for k in names} for r in plain_table(second.nested().to_pyarrow()).to_pylist()]
    assert plain_table(t).to_pylist() == want
    # Split layout: telegrams and records, each its own file.
    with BatchWriter(str(tmp_path / "s.parquet"), layout="split") as w:
        w.write(first)
    assert pq.read_table(tmp_path / "s.records.parquet").num_rows == 23
    assert pq.read_table(tmp_path / "s.parquet").column("status").to_pylist() == ["ok", "frame_error", "ok"]


def test_bulk_parquet_reads_in_polars_and_duckdb(tmp_path):
    pl = pytest.importorskip("polars")
    duckdb = pytest.importorskip("duckdb")
    src = write(tmp_path, "in.txt", f"2024-01-01;{GAS}\n2024-01-02;zz\n2024-01-03;{HEAT}\n")
    out = str(tmp_path / "o.parquet")
    assert main(["bulk", src, "-o", out, "-q", "--batch-size", "2"]) == 0
    df = pl.read_parquet(out)
    assert df["status"].to_list() == ["ok", "frame_error", "ok"] and df["records"].list.len().to_list() == [3, 0, 20]
    rows = duckdb.sql(
        f"select r.quantity, r.unit, r.value from (select unnest(records) as r from '{out}') where r.record_index = 0"
    ).fetchall()
    assert rows == [("Volume", "m^3", 28504.27), ("Fabrication number", None, 78563412.0)]
