"""meterlink.dask on a LocalCluster with two worker processes gives the single-process result."""

import json
import os

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import meterlink.dask as mdask  # noqa: E402

HERE = os.path.dirname(__file__)
with open(os.path.join(HERE, "vectors", "wireless-frames.json")) as f:
    _W = {v["name"]: v for v in json.load(f)["vectors"]}
with open(os.path.join(HERE, "vectors", "wired-frames.json")) as f:
    WIRED = [bytes.fromhex(v["hex"]) for v in json.load(f)["vectors"]]
MODE5 = bytes.fromhex(_W["mode5-oms-annexN-N21"]["input_hex"])


def frame_table():
    # Hex text: Dask turns object columns into pyarrow strings by default (dataframe.convert-string),
    # which binary frames do not survive; hex (or convert-string off) works everywhere.
    frames = (WIRED + [MODE5, b"\x00garbage"]) * 25
    return pd.DataFrame({"row": range(len(frames)), "frame": [f.hex() for f in frames]})


def canonical(df, keys):
    return df.sort_values(keys).reset_index(drop=True)


def test_decode_partition_single_process(tmp_path):
    df = frame_table()
    keys = tmp_path / "keys.csv"
    keys.write_text(f"12345678,{_W['mode5-oms-annexN-N21']['keys']['key']}\n")
    tel = mdask.decode_partition(df, keys=str(keys), table="telegrams")
    assert len(tel) == len(df) and list(tel["row"]) == list(df["row"])
    rec = mdask.decode_partition(df, keys=str(keys))
    assert {"frame_index", "quantity", "value", "row", "manufacturer", "status"} <= set(rec.columns)
    assert (rec["status"] == "ok").all()
    empty = mdask.decode_partition(df.iloc[:0])
    assert len(empty) == 0 and "value" in empty.columns


def test_local_cluster_matches_single_process(tmp_path):
    df = frame_table()
    keys = tmp_path / "keys.csv"
    keys.write_text(f"12345678,{_W['mode5-oms-annexN-N21']['keys']['key']}\n")
    single_rec = mdask.decode_partition(df, keys=str(keys))
    single_tel = mdask.decode_partition(df, keys=str(keys), table="telegrams")
    ddf = dd.from_pandas(df, npartitions=4)
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
    ) as cluster, distributed.Client(cluster):
        rec = mdask.decode_dataframe(ddf, keys=str(keys)).compute()
        tel = mdask.decode_dataframe(ddf, keys=str(keys), table="telegrams").compute()
    # frame_index / index count within a partition: compare through the carried `row` column.
    drop_rec = ["frame_index"]
    a = canonical(rec.drop(columns=drop_rec), ["row", "record_index"])
    b = canonical(single_rec.drop(columns=drop_rec), ["row", "record_index"])
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    a = canonical(tel.drop(columns=["index"]), ["row"])
    b = canonical(single_tel.drop(columns=["index"]), ["row"])
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    assert len(tel) == len(df)
