"""Writing decoded batches to files: Parquet, Arrow IPC, JSON lines and CSV (the output side of
``meterlink bulk``).

>>> with BatchWriter("out.parquet") as w:                                  # doctest: +SKIP
...     for batch in meterlink.iter_batches("capture.txt.gz", keys="keys.csv"):
...         w.write(batch)

Parquet and JSON lines are encoded in Rust (``ParquetWriter``, ``ArrowTable.to_jsonl``), Arrow
IPC and CSV through pyarrow; :class:`BatchWriter` picks the format from the file name and can
encode on a writer thread of its own, overlapped with decoding.
"""

from __future__ import annotations

import errno
import os
import queue
import threading
from typing import Any, Callable, Dict, List, Optional

from meterlink._native import ArrowTable, DecodedBatch, ParquetWriter

__all__ = ["OUTPUT_FORMATS", "BatchWriter", "output_format", "plain_table", "plain_type", "records_path"]

#: The formats :class:`BatchWriter` writes.
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


def records_path(path: str) -> str:
    """Where the split layout writes the records of ``path``: ``<stem>.records<ext>``."""
    root, ext = os.path.splitext(path)
    return f"{root}.records{ext}"


def plain_type(t: Any) -> Any:
    """`t` with every dictionary (also inside lists and structs) replaced by its value type."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        return t.value_type
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        f = t.value_field
        inner = f.with_type(plain_type(f.type))
        return pa.list_(inner) if pa.types.is_list(t) else pa.large_list(inner)
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(plain_type(t.field(i).type)) for i in range(t.num_fields)])
    return t


def plain_table(table: Any) -> Any:
    """Dictionary columns (also the nested ``records``) as plain strings, for formats that cannot
    replace a dictionary from one batch to the next (Arrow IPC files, CSV)."""
    import pyarrow as pa

    cols = []
    for f, c in zip(table.schema, table.columns):
        t = plain_type(f.type)
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
        # A missing directory is reported now, by name, not after the first batch was decoded.
        folder = os.path.dirname(os.path.abspath(os.fspath(path)))
        if not os.path.isdir(folder):
            raise FileNotFoundError(errno.ENOENT, "the output directory does not exist", folder)

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
        t = plain_table(pa.RecordBatchReader.from_stream(table).read_all())
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
            _named(write, "telegrams", self.path, batch.nested())
        else:
            _named(write, "telegrams", self.path, batch.telegrams)
            _named(write, "records", records_path(self.path), batch.records)

    def close(self) -> None:
        """Wait for the writer thread, close every file, and raise a failure it met."""
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


def _named(write: Callable[[str, str, ArrowTable], None], name: str, path: str, table: ArrowTable) -> None:
    """``write(name, path, table)``; an I/O error that does not name its file names ``path``."""
    try:
        write(name, path, table)
    except OSError as e:
        if e.filename is not None:
            raise
        raise OSError(e.errno, f"cannot write: {e.strerror or e}", path) from e


def _hex_binary(table: Any) -> Any:
    import pyarrow as pa

    for i, f in enumerate(table.schema):
        if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type):
            values = [None if v is None else v.hex() for v in table.column(i).to_pylist()]
            table = table.set_column(i, f.name, pa.array(values, pa.string()))
    return table
