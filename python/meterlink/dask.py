"""Decoding on Dask (and anything else that maps a function over Arrow / pandas partitions).

>>> import dask.dataframe as dd, meterlink.dask                          # doctest: +SKIP
>>> frames = dd.read_parquet("s3://bucket/telegrams/")   # columns: frame (binary), received, ...
>>> records = meterlink.dask.decode_dataframe(frames, keys="/shared/keys.csv")
>>> records.groupby("id").value.max().compute()

:func:`decode_partition` is the per-partition function (usable with ``map_partitions`` directly);
:func:`decode_dataframe` wraps it with the right ``meta``. Keys are given as a key-file path (read
once per worker process and cached) or a dict: a :class:`meterlink.KeyStore` never leaves its
process (it cannot be pickled), so workers load their own.

``frame_index`` / ``index`` count within each partition; carry an identifying column (a receive
timestamp, a row id) through the input to join results across partitions — every other input
column is kept.
"""

from __future__ import annotations

from typing import Any, Optional

from meterlink.bulk import decode_batch
from meterlink.keys import KeysArg, KeyStore, keystore
from meterlink.writers import plain_table

__all__ = ["decode_dataframe", "decode_partition"]


def decode_partition(
    df: Any,
    column: str = "frame",
    keys: KeysArg = None,
    link: str = "auto",
    table: str = "records",
    threads: Optional[int] = 1,
) -> Any:
    """Decode one partition: a pandas DataFrame (or anything pyarrow turns into a table: a
    pyarrow Table / RecordBatch, a polars DataFrame) whose ``column`` holds frames (bytes or hex).

    ``table="telegrams"``: one row per input row, the input's other columns kept.
    ``table="records"`` (default): one row per record, with the telegram's header columns and the
    input's other columns repeated on each record row. Returns a pandas DataFrame (the partition
    type of ``dask.dataframe``; dictionary columns become plain strings). ``threads=1`` by default: Dask already runs one task per core.
    """
    import pyarrow as pa

    if table not in ("records", "telegrams"):
        raise ValueError("table must be 'records' or 'telegrams'")
    if hasattr(df, "__arrow_c_stream__") and not _is_pandas(df):
        tbl = pa.table(df)
    else:
        tbl = pa.Table.from_pandas(df, preserve_index=False)
    batch = decode_batch(tbl, keys=keystore(keys, cached=True), link=link, threads=threads, column=column)
    telegrams = batch.telegrams.to_pyarrow()
    if table == "telegrams":
        return plain_table(telegrams).to_pandas()
    records = batch.records.to_pyarrow()
    head = telegrams.drop_columns(["record_count"]).take(records.column("frame_index"))
    for name in head.column_names:
        if name in ("index", "error", "error_offset"):
            continue
        out_name = name if name not in records.column_names else f"telegram_{name}"
        records = records.append_column(out_name, head.column(name))
    # Plain strings rather than per-partition categoricals, so partitions concatenate cleanly.
    return plain_table(records).to_pandas()


def _is_pandas(df: Any) -> bool:
    return type(df).__module__.startswith("pandas")


def decode_dataframe(
    ddf: Any,
    column: str = "frame",
    keys: KeysArg = None,
    link: str = "auto",
    table: str = "records",
) -> Any:
    """``ddf.map_partitions(decode_partition, ...)`` with the output ``meta`` worked out from an
    empty partition. ``keys`` must be a path or a dict (see the module doc)."""
    if isinstance(keys, KeyStore):
        raise TypeError("a KeyStore cannot be shipped to Dask workers: pass the key file path or a dict")
    meta = decode_partition(ddf._meta, column=column, keys=None, link=link, table=table)
    return ddf.map_partitions(decode_partition, column=column, keys=keys, link=link, table=table, meta=meta)
