"""meterlink.decode_batch: one row per frame, statuses, Arrow interop, threads, keys."""

import json
import math
import os

import pytest

import meterlink

pa = pytest.importorskip("pyarrow")

HERE = os.path.dirname(__file__)
with open(os.path.join(HERE, "vectors", "wireless-frames.json")) as f:
    _W = {v["name"]: v for v in json.load(f)["vectors"]}
with open(os.path.join(HERE, "vectors", "wired-frames.json")) as f:
    WIRED = [bytes.fromhex(v["hex"]) for v in json.load(f)["vectors"]]

GAS = bytes.fromhex("6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916")
MODE5 = bytes.fromhex(_W["mode5-oms-annexN-N21"]["input_hex"])
MODE5_KEYS = {"12345678": _W["mode5-oms-annexN-N21"]["keys"]["key"]}
BAD_LONG = b"\x68\x04\x04\x68\x08\x01\x72\x00\x7b\x16"  # long header truncated: decode error


def table(t):
    return pa.RecordBatchReader.from_stream(t).read_all()


def test_one_row_per_frame_statuses_and_errors():
    frames = [GAS, b"\x01\x02\x03", "zz", None, BAD_LONG, MODE5, 42, bytearray(GAS), memoryview(GAS), GAS.hex()]
    b = meterlink.decode_batch(frames)
    t = table(b.telegrams).to_pydict()
    assert t["index"] == list(range(len(frames)))
    assert t["status"] == [
        "ok", "frame_error", "frame_error", "frame_error", "decode_error", "no_key",
        "frame_error", "ok", "ok", "ok",
    ]
    assert "hex" in t["error"][2] and t["error_offset"][2] == 0
    assert t["error"][3] == "null frame"
    assert "int" in t["error"][6]
    assert "truncated" in t["error"][4] and t["error_offset"][4] == 7
    assert t["error"][0] is None and t["error_offset"][0] is None
    assert t["manufacturer"][0] == "ELS" and t["id"][0] == "12345678" and t["device_type_name"][0] == "Gas"
    assert t["encrypted"][5] is True and t["decrypted"][5] is False and t["record_count"][5] == 0
    assert t["link"][5] == "wireless" and t["link_id"][5] == "12345678" and t["security_mode"][5] == 5
    assert b.counts == {
        "frames": 10, "ok": 4, "no_key": 1, "frame_error": 4, "decode_error": 1, "security_error": 0,
        "records": 12,
    }
    assert len(b) == 10


def test_list_items_of_every_kind_keep_their_rows():
    # bytes are borrowed in place, everything else is converted; rows never shift.
    class Frame(bytes):
        pass

    frames = (b"", GAS, Frame(GAS), "", GAS.hex(), bytearray(), MODE5)
    t = table(meterlink.decode_batch(frames, threads=2).telegrams).to_pydict()
    assert t["status"] == ["frame_error", "ok", "ok", "frame_error", "ok", "frame_error", "no_key"]
    assert t["id"][1] == t["id"][2] == t["id"][4] == "12345678"
    assert t["link_id"][6] == "12345678"


def test_records_match_the_per_telegram_api():
    frames = WIRED + [MODE5]
    b = meterlink.decode_batch(frames, keys=MODE5_KEYS)
    recs = table(b.records).to_pylist()
    expected = []
    for i, f in enumerate(frames):
        try:
            tg = meterlink.decode(f, keys=MODE5_KEYS)
        except meterlink.MeterlinkError:
            continue
        for k, r in enumerate(tg.records):
            expected.append((i, k, r))
    assert len(recs) == len(expected) > 10
    for row, (i, k, r) in zip(recs, expected):
        assert (row["frame_index"], row["record_index"]) == (i, k)
        assert row["quantity"] == r.quantity and row["unit"] == r.unit
        assert (row["storage"], row["tariff"], row["subunit"], row["function"]) == (r.storage, r.tariff, r.subunit, r.function)
        assert row["dif"] == r.dif and row["vif"] == r.vif
        assert row["value_type"] in (r.value_type, "number")
        if r.exact is not None:
            assert (row["mantissa"], row["exponent"]) == r.exact
        if isinstance(r.value, (int, float)) and not isinstance(r.value, bool):
            assert math.isclose(row["value"], float(r.value), rel_tol=1e-12)
        elif isinstance(r.value, str) and r.value_type in ("datetime", "text"):
            assert row["text"] == r.value
        elif r.value_type == "bytes" and row["value_type"] == "bytes":
            assert row["bytes"].hex() == r.value


def test_keys_decrypt_and_wrong_key_is_security_error():
    b = meterlink.decode_batch([MODE5], keys=MODE5_KEYS)
    t = table(b.telegrams).to_pydict()
    assert t["status"] == ["ok"] and t["decrypted_by"] == ["meterlink"] and t["record_count"][0] > 0
    b = meterlink.decode_batch([MODE5], keys={"12345678": "00" * 16})
    assert table(b.telegrams).column("status").to_pylist() == ["security_error"]
    store = meterlink.KeyStore(MODE5_KEYS)
    assert meterlink.decode_batch([MODE5], keys=store).counts["ok"] == 1


def test_output_is_identical_for_every_thread_count():
    frames = ([GAS, MODE5, BAD_LONG, b"", b"\xe5"] + WIRED) * 300
    ref = None
    for threads in (1, 2, 3, None):
        b = meterlink.decode_batch(frames, keys=MODE5_KEYS, threads=threads)
        got = (table(b.telegrams).to_pydict(), table(b.records).to_pydict())
        if ref is None:
            ref = got
        assert got == ref
    assert ref[0]["index"] == list(range(len(frames)))


def test_arrow_inputs_without_copy_and_metadata_columns():
    frames = [GAS, None, MODE5, b"\x00"]
    for arr in (
        pa.array(frames, pa.binary()),
        pa.array(frames, pa.large_binary()),
        pa.array([None if f is None else f.hex() for f in frames], pa.string()),
        pa.array([None if f is None else f.hex() for f in frames], pa.large_string()),
        pa.chunked_array([pa.array(frames[:2], pa.binary()), pa.array(frames[2:], pa.binary())]),
    ):
        b = meterlink.decode_batch(arr)
        assert table(b.telegrams).column("status").to_pylist() == ["ok", "frame_error", "no_key", "frame_error"], arr.type
        assert table(b.telegrams).column("index").to_pylist() == [0, 1, 2, 3]
    tbl = pa.table({"received": ["t0", "t1", "t2", "t3"], "frame": frames, "status": [1, 2, 3, 4]})
    b = meterlink.decode_batch(tbl)
    t = table(b.telegrams)
    assert t.column("received").to_pylist() == ["t0", "t1", "t2", "t3"]
    assert t.column("input_status").to_pylist() == [1, 2, 3, 4]
    b = meterlink.decode_batch(pa.RecordBatchReader.from_batches(tbl.schema, tbl.to_batches(max_chunksize=1)))
    assert table(b.telegrams).column("index").to_pylist() == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        meterlink.decode_batch(pa.table({"a": frames, "b": frames}))
    assert len(meterlink.decode_batch(pa.table({"a": frames, "b": frames}), column="b")) == 4
    with pytest.raises(TypeError):
        meterlink.decode_batch(pa.array([1, 2]))


def test_list_metadata_and_iterables():
    b = meterlink.decode_batch([GAS, b"x"], metadata={"ts": ["a", None], "n": [1, 2], "f": [0.5, None]})
    t = table(b.telegrams).to_pydict()
    assert t["ts"] == ["a", None] and t["n"] == [1, 2] and t["f"] == [0.5, None]
    with pytest.raises(ValueError):
        meterlink.decode_batch([GAS], metadata={"ts": ["a", "b"]})
    gen = (GAS if i % 2 else b"\x01" for i in range(25))
    b = meterlink.decode_batch(gen, chunk_size=4)
    t = table(b.telegrams)
    assert t.column("index").to_pylist() == list(range(25))
    assert b.counts["ok"] == 12 and b.counts["frame_error"] == 13
    empty = meterlink.decode_batch(iter([]))
    assert len(empty) == 0 and table(empty.telegrams).num_rows == 0
    with pytest.raises(TypeError):
        meterlink.decode_batch(GAS)
    with pytest.raises(ValueError):
        meterlink.decode_batch([GAS], link="nope")
    with pytest.raises(ValueError):
        meterlink.decode_batch([GAS], threads=0)


def test_consumers_read_the_stream():
    b = meterlink.decode_batch([GAS, MODE5, b"x"] * 3)
    pl = pytest.importorskip("polars")
    assert pl.DataFrame(b.records).shape[0] == b.counts["records"]
    df = b.telegrams.to_pandas()
    assert list(df["status"].astype(str)) == ["ok", "no_key", "frame_error"] * 3
    nested = b.nested().to_pyarrow()
    assert nested.num_rows == 9
    assert [len(x) for x in nested.column("records").to_pylist()] == [3, 0, 0] * 3
    assert b.telegrams.num_rows == 9 and "status" in b.telegrams.column_names
    both = meterlink.DecodedBatch.concat([b, b])
    assert len(both) == 18 and both.counts["records"] == 2 * b.counts["records"]
    assert "DecodedBatch 9 frames" in repr(b)
    duckdb = pytest.importorskip("duckdb")
    tel = b.telegrams  # noqa: F841  (read through __arrow_c_stream__, no pyarrow in between)
    assert duckdb.sql("select count(*) from tel where status = 'ok'").fetchall() == [(3,)]


def test_jsonl_rows_are_the_arrow_rows():
    # ArrowTable.to_jsonl (arrow-json, in Rust) against pyarrow's reading of the same table:
    # every key present (nulls as null), binary as lowercase hex, dictionaries as strings.
    with open(os.path.join(HERE, "vectors", "manufacturer-frames.json")) as f:
        # A BFW 240 radio telegram: its manufacturer-specific block is a binary value.
        bfw = [bytes.fromhex(v["hex"]) for v in json.load(f)["vectors"] if v["name"] == "bfw240radio-1"]
    b = meterlink.decode_batch(WIRED + [MODE5, b"\x01\x02"] + bfw, keys=MODE5_KEYS)

    def plain(v):
        if isinstance(v, bytes):
            return v.hex()
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    for t in (b.telegrams, b.records, b.nested()):
        lines = t.to_jsonl().decode().splitlines()
        rows = [plain(r) for r in table(t).to_pylist()]
        assert len(lines) == len(rows) == t.num_rows > 0
        assert [json.loads(x) for x in lines] == rows
    assert any(r["bytes"] for r in table(b.records).to_pylist()), "a binary value is covered"
