"""Bulk decoding: many frames in, two Arrow tables out.

>>> batch = meterlink.decode_batch(frames, keys="keys.csv")     # doctest: +SKIP
>>> pyarrow.table(batch.telegrams)    # one row per input frame, in input order   # doctest: +SKIP
>>> polars.from_arrow(batch.records)  # one row per data record                  # doctest: +SKIP

The work is done in Rust with the GIL released, spread over threads; the tables are built with
arrow-rs and handed over through the Arrow PyCapsule interface (``__arrow_c_stream__``), so
pyarrow, polars, pandas (via pyarrow) and DuckDB read them without copying.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

from meterlink._native import ArrowTable, DecodedBatch, KeyStore, ParquetWriter, _decode_batch
from meterlink.keys import load_keys

__all__ = ["ArrowTable", "BatchWriter", "DecodedBatch", "STATUSES", "decode_batch", "iter_decode", "output_format"]

#: The values of the ``status`` column of ``DecodedBatch.telegrams``.
STATUSES = ("ok", "no_key", "frame_error", "decode_error", "security_error")

_KeysArg = Union[None, KeyStore, Mapping[str, Union[str, bytes]], str, "os.PathLike[str]"]

#: Frames per piece when an iterable (not a list or Arrow data) is decoded.
DEFAULT_CHUNK = 1 << 16


def _keys(keys: _KeysArg) -> Optional[KeyStore]:
    """A KeyStore from whatever was passed (built once, shared by every chunk)."""
    if keys is None or isinstance(keys, KeyStore):
        return keys
    if isinstance(keys, Mapping):
        return KeyStore(dict(keys))
    if isinstance(keys, (str, os.PathLike)):
        return load_keys(keys)
    raise TypeError("keys must be a KeyStore, a dict, or the path of a key file")


def _is_arrow(obj: Any) -> bool:
    return hasattr(obj, "__arrow_c_stream__") or hasattr(obj, "__arrow_c_array__")


def _slice(meta: Optional[Mapping[str, Any]], start: int, stop: int) -> Optional[dict]:
    if meta is None:
        return None
    return {k: v[start:stop] for k, v in meta.items()}


def decode_batch(
    frames: Any,
    keys: _KeysArg = None,
    link: str = "auto",
    threads: Optional[int] = None,
    *,
    strict: bool = False,
    tail: str = "auto",
    column: Optional[str] = None,
    metadata: Optional[Mapping[str, Any]] = None,
    chunk_size: int = DEFAULT_CHUNK,
) -> DecodedBatch:
    """Decode many frames at once.

    ``frames`` is a list (or tuple) of ``bytes`` / hex ``str``; an Arrow binary, large_binary,
    binary_view or (hex) string array, chunked array, record batch, table or stream (anything with
    ``__arrow_c_array__`` / ``__arrow_c_stream__``: pyarrow, polars, nanoarrow, arro3 ...), taken
    without copying; or any other iterable, decoded ``chunk_size`` frames at a time.

    For table-like input the frames are the column ``column`` (default: the one named ``frame``,
    ``telegram``, ``hex`` or ``data``, else the only binary/string column); every other column is
    carried into ``telegrams`` as metadata (renamed ``input_<name>`` if it clashes). With list
    input, ``metadata`` maps column names to sequences (``str``/``int``/``float``/``bool``/None or
    Arrow arrays) as long as ``frames``.

    ``threads``: ``None`` uses every core, ``1`` the calling thread. The output is the same
    whatever the thread count. A frame that fails to decode never stops the batch: it becomes a
    row with status ``frame_error``, ``decode_error`` or ``security_error`` and the message and
    byte offset; an encrypted telegram without a key has status ``no_key`` (header only).
    """
    store = _keys(keys)
    kw: Dict[str, Any] = dict(link=link, strict=strict, tail=tail, threads=threads)
    if isinstance(frames, (list, tuple)) or _is_arrow(frames):
        return _decode_batch(frames, store, column=column, metadata=metadata, **kw)
    if isinstance(frames, (bytes, bytearray, memoryview, str)):
        raise TypeError("frames must be a sequence of frames; use meterlink.decode() for one frame")
    parts = list(iter_decode(frames, store, chunk_size=chunk_size, metadata=metadata, **kw))
    if not parts:
        return _decode_batch([], store, metadata=metadata, **kw)
    return DecodedBatch.concat(parts)


def iter_decode(
    frames: Iterable[Any],
    keys: _KeysArg = None,
    link: str = "auto",
    threads: Optional[int] = None,
    *,
    strict: bool = False,
    tail: str = "auto",
    chunk_size: int = DEFAULT_CHUNK,
    metadata: Optional[Mapping[str, Sequence[Any]]] = None,
) -> Iterator[DecodedBatch]:
    """Decode an iterable of frames piece by piece (``chunk_size`` frames per
    :class:`DecodedBatch`), with bounded memory. ``index`` counts across pieces."""
    store = _keys(keys)
    it = iter(frames)
    base = 0
    while True:
        chunk = list(itertools.islice(it, chunk_size))
        if not chunk:
            return
        yield _decode_batch(
            chunk,
            store,
            link=link,
            strict=strict,
            tail=tail,
            threads=threads,
            index_base=base,
            metadata=_slice(metadata, base, base + len(chunk)),
        )
        base += len(chunk)


# -- writing decoded batches (the `meterlink bulk` command) ---------------------------------------

OUTPUT_FORMATS = ("parquet", "arrow", "jsonl", "csv")


def output_format(path: str) -> str:
    """The output format from a file name: .parquet, .arrow/.feather/.ipc, .jsonl/.ndjson, .csv."""
    p = path.lower()
    for ext, fmt in (
        (".parquet", "parquet"),
        (".pq", "parquet"),
        (".arrow", "arrow"),
        (".feather", "arrow"),
        (".ipc", "arrow"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".json", "jsonl"),
        (".csv", "csv"),
    ):
        if p.endswith(ext):
            return fmt
    raise ValueError(f"cannot tell the output format of {path!r}: use .parquet, .arrow, .jsonl or .csv")


def _records_path(path: str) -> str:
    root, ext = os.path.splitext(path)
    return f"{root}.records{ext}"


def _plain_type(t: Any) -> Any:
    """`t` with every dictionary (also inside lists and structs) replaced by its value type."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return t.value_type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        f = t.value_field
        inner = f.with_type(_plain_type(f.type))
        return pa.list_(inner) if pa.types.is_list(t) else pa.large_list(inner)
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_plain_type(t.field(i).type)) for i in range(t.num_fields)])
    return t


def _plain(table: Any) -> Any:
    """Dictionary columns (also the nested ``records``) as plain strings, for formats that cannot
    replace a dictionary from one batch to the next (Arrow IPC files, CSV)."""
    import pyarrow as pa

    cols = []
    for f, c in zip(table.schema, table.columns):
        t = _plain_type(f.type)
        cols.append(c if t.equals(f.type) else c.cast(t))
    return pa.table(cols, names=table.column_names)


class BatchWriter:
    """Writes :class:`DecodedBatch` pieces to one output file.

    ``layout="nested"`` (Parquet, Arrow, JSON lines): one row per telegram with its records in a
    ``records`` list column. ``layout="split"`` (always for CSV): telegrams to ``path`` and records
    to ``<stem>.records<ext>``. Binary values become lowercase hex in JSON and CSV. Arrow IPC and
    CSV store dictionary columns as plain strings (an IPC file cannot change a dictionary between
    batches). ``background=True`` (default) encodes on a writer thread, overlapped with decoding.
    Parquet (zstd, one row group a batch, column chunks encoded on ``threads`` threads) and JSON
    lines are written by meterlink itself; Arrow IPC and CSV through pyarrow."""

    def __init__(
        self,
        path: str,
        fmt: Optional[str] = None,
        layout: str = "nested",
        background: bool = True,
        threads: Optional[int] = None,
    ) -> None:
        self.path = path
        self.threads = threads
        # Encoding (Parquet and JSON lines in Rust, Arrow IPC and CSV in pyarrow; the GIL
        # released either way) on a thread of its own overlaps it with reading and decoding the
        # next batch; at most one batch waits for it (memory).
        self.background = background
        self._queue: "Optional[queue.Queue[Optional[DecodedBatch]]]" = None
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self.fmt = fmt or output_format(path)
        self.layout = "split" if self.fmt == "csv" else layout
        if self.layout not in ("nested", "split"):
            raise ValueError("layout must be 'nested' or 'split'")
        self._writers: Dict[str, Any] = {}
        self._schemas: Dict[str, Any] = {}
        self._files: List[Any] = []

    def _open(self, name: str, path: str, schema: Any) -> Any:
        if self.fmt == "arrow":
            import pyarrow as pa

            return pa.ipc.new_file(path, schema)
        if self.fmt == "csv":
            import pyarrow.csv as pacsv

            return pacsv.CSVWriter(path, schema)
        raise ValueError(f"no table writer for {self.fmt}")

    def _write_parquet(self, name: str, path: str, table: ArrowTable) -> None:
        # Encoded in Rust (ParquetWriter: arrow-rs, column chunks in parallel); one row group a
        # batch; later tables are conformed to the first one's schema there.
        if name not in self._writers:
            self._writers[name] = ParquetWriter(path, table, threads=self.threads)
        self._writers[name].write(table)

    def _write_jsonl(self, name: str, path: str, table: ArrowTable) -> None:
        # Encoded in Rust (ArrowTable.to_jsonl); rows of any schema, so nothing to conform.
        if name not in self._writers:
            f = open(path, "wb")
            self._files.append(f)
            self._writers[name] = f
        self._writers[name].write(table.to_jsonl())

    def _write(self, name: str, path: str, table: ArrowTable) -> None:
        import pyarrow as pa

        # The file has the first table's schema; later ones are conformed to it (in Rust, as
        # ParquetWriter does).
        if name in self._schemas:
            table = table.conform(self._schemas[name])
        else:
            self._schemas[name] = pa.schema(table)
        t = _plain(pa.RecordBatchReader.from_stream(table).read_all())
        if self.fmt == "csv":
            t = _hex_binary(t)
        if name not in self._writers:
            self._writers[name] = self._open(name, path, t.schema)
        self._writers[name].write_table(t)

    def write(self, batch: DecodedBatch) -> None:
        """Write one batch (on the writer thread when ``background``: a failure is raised by a
        later ``write`` or by ``close``)."""
        if self._error is not None:
            raise self._error
        if not self.background:
            self._write_batch(batch)
            return
        if self._thread is None:
            if self.fmt not in ("jsonl", "parquet"):
                import pyarrow  # noqa: F401  (a missing pyarrow fails here, not on the thread)

            self._queue = queue.Queue(maxsize=1)
            self._thread = threading.Thread(target=self._drain, name="meterlink-writer", daemon=True)
            self._thread.start()
        assert self._queue is not None
        self._queue.put(batch)

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is None:
                try:
                    self._write_batch(batch)
                except BaseException as e:  # raised in the caller's thread by write / close
                    self._error = e

    def _write_batch(self, batch: DecodedBatch) -> None:
        # Parquet and JSON lines are encoded in Rust; Arrow IPC and CSV through pyarrow.
        write = {"jsonl": self._write_jsonl, "parquet": self._write_parquet}.get(self.fmt, self._write)
        if self.layout == "nested":
            write("telegrams", self.path, batch.nested())
        else:
            write("telegrams", self.path, batch.telegrams)
            write("records", _records_path(self.path), batch.records)

    def close(self) -> None:
        if self._thread is not None:
            assert self._queue is not None
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        for w in self._writers.values():
            w.close()
        self._writers.clear()
        for f in self._files:
            if not f.closed:
                f.close()
        if self._error is not None:
            e, self._error = self._error, None
            raise e

    def __enter__(self) -> "BatchWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _hex_binary(table: Any) -> Any:
    import pyarrow as pa

    for i, f in enumerate(table.schema):
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            values = [None if v is None else v.hex() for v in table.column(i).to_pylist()]
            table = table.set_column(i, f.name, pa.array(values, pa.string()))
    return table
