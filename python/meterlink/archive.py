"""Telegram archives and captures, read piece by piece with bounded memory.

>>> for batch in meterlink.iter_batches("capture-2024.txt.zst", keys="keys.csv"):  # doctest: +SKIP
...     writer.write(batch.telegrams)

Formats (``format="auto"`` tells them apart by file name and first lines):

``hex``
    one frame in hex per line; ``#`` comments and blank lines skipped. A line may carry other
    fields before the frame (``timestamp;hex``, CSV-ish ``a,b,hex``; separators ``;`` ``,`` tab):
    they become metadata columns (named by a header line if the file has one, else
    ``timestamp`` for a single leading field, ``field1``, ``field2``... otherwise). The frame is
    the column named ``frame``/``telegram``/``hex``/``data``, else the last field.
``rtl-wmbus``
    rtl-wmbus output (``T1;1;1;2019-03-28 08:49:36.000;117;102;12345678;0x1e44...``): mode,
    CRC flag, timestamp, RSSI and ID fields are kept as metadata, the ``0x`` field is the frame.
``wmbusmeters``
    wmbusmeters telegram logs and simulation files: the hex between ``telegram=|`` and ``|``
    (``_`` separators removed); a trailing ``+N`` is kept as ``time_offset``. Lines without
    ``telegram=`` are log text, not telegrams, and are skipped.
``raw``
    a raw wired M-Bus byte stream (serial capture): cut into FT1.2 frames by the stream
    splitter; garbage between frames becomes ``frame_error`` rows with its offset and length.
``parquet`` / ``ipc``
    Parquet or Arrow IPC (file or stream) with a binary or hex string column (``column=``; other
    columns are carried along). Needs pyarrow.

gzip (``.gz``) and zstd (``.zst``) compressed inputs are recognised by their magic bytes. A line
that cannot be read never stops the run and never vanishes: it becomes a telegram row with
status ``frame_error`` and the reason. Every text format adds a ``line`` column (1-based line
number); ``raw`` adds ``offset``.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
from typing import IO, Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from meterlink._native import DecodedBatch, FrameSplitter, LineReader, _decode_batch
from meterlink.bulk import _KeysArg, _keys

__all__ = ["FORMATS", "ArchiveReader", "iter_batches", "open_input", "read_archive", "detect_format"]

FORMATS = ("auto", "hex", "rtl-wmbus", "wmbusmeters", "raw", "parquet", "ipc")

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"
_RTL = re.compile(r"^[A-Za-z][0-9A-Za-z]?;[01];[01];")


class _Counting(io.RawIOBase):
    """A read-only wrapper that counts the bytes read from the underlying (compressed) file."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._f.read(len(b))
        n = len(data)
        b[:n] = data
        self.count += n
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


def _zstd_reader(f: IO[bytes]) -> IO[bytes]:
    try:  # Python 3.14+
        from compression import zstd  # type: ignore[import-not-found]

        return zstd.ZstdFile(f)  # type: ignore[no-any-return]
    except ImportError:
        pass
    try:
        import zstandard  # type: ignore[import-not-found]

        return zstandard.ZstdDecompressor().stream_reader(f)  # type: ignore[no-any-return]
    except ImportError:
        pass
    try:
        import pyarrow as pa

        return pa.CompressedInputStream(pa.PythonFile(f, mode="r"), "zstd")  # type: ignore[no-any-return]
    except ImportError:
        raise OSError("reading .zst needs Python 3.14, the zstandard package or pyarrow") from None


def open_input(path: Union[str, "os.PathLike[str]", IO[bytes]]) -> Tuple[IO[bytes], _Counting, Optional[int]]:
    """(decompressed binary stream, byte counter on the raw file, raw file size or None)."""
    if isinstance(path, (str, os.PathLike)):
        p = os.fspath(path)
        raw: IO[bytes] = sys.stdin.buffer if p == "-" else open(p, "rb")
        size = None if p == "-" else os.path.getsize(p)
    else:
        raw, size = path, None
    counter = _Counting(raw)
    buffered = io.BufferedReader(counter, 1 << 16)
    magic = buffered.peek(4)[:4]
    stream: IO[bytes]
    if magic.startswith(_GZIP):
        stream = gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[assignment]
    elif magic.startswith(_ZSTD):
        stream = io.BufferedReader(_zstd_reader(buffered), 1 << 16)  # type: ignore[arg-type, type-var]
    else:
        stream = buffered
    return stream, counter, size


def _strip_compression(name: str) -> str:
    for ext in (".gz", ".zst", ".zstd"):
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def detect_format(name: str, head: bytes) -> str:
    """The archive format from a file name and its first (decompressed) bytes."""
    base = _strip_compression(name.lower())
    if base.endswith((".parquet", ".pq")) or head.startswith(b"PAR1"):
        return "parquet"
    if base.endswith((".arrow", ".feather", ".ipc", ".arrows")) or head.startswith(b"ARROW1"):
        return "ipc"
    if base.endswith((".bin", ".raw", ".mbus", ".cap")):
        return "raw"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head[: max(0, len(head) - 4)].decode("utf-8", errors="replace")
        if "\ufffd" in text:
            return "raw"
    lines = [ln for ln in text.splitlines()[:50] if ln.strip() and not ln.lstrip().startswith("#")]
    if any("telegram=" in ln for ln in lines):
        return "wmbusmeters"
    if lines and all(_RTL.match(ln) for ln in lines[:5]):
        return "rtl-wmbus"
    if head[:1] in (b"\x68", b"\x10", b"\xe5", b"\xE5") and not text.isprintable():
        return "raw"
    return "hex"


class ArchiveReader:
    """Iterates an archive as :class:`DecodedBatch` pieces of at most ``batch_size`` frames.

    ``bytes_read`` / ``total_bytes`` (raw, possibly compressed file) and ``rows_read`` /
    ``total_rows`` (when the format knows it: Parquet) report progress.
    """

    def __init__(
        self,
        path: Union[str, "os.PathLike[str]", IO[bytes]],
        format: str = "auto",
        keys: _KeysArg = None,
        link: str = "auto",
        threads: Optional[int] = None,
        *,
        batch_size: int = 1 << 14,
        column: Optional[str] = None,
        strict: bool = False,
        tail: str = "auto",
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        self.path = path
        self.name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else getattr(path, "name", "<stream>")
        self.keys = _keys(keys)
        self.kw: Dict[str, Any] = dict(link=link, threads=threads, strict=strict, tail=tail)
        self.batch_size = max(1, batch_size)
        self.column = column
        self.requested_format = format
        self.format = format
        self.bytes_read = 0
        self.total_bytes: Optional[int] = None
        self.rows_read = 0
        self.total_rows: Optional[int] = None
        self._counter: Optional[_Counting] = None

    def _progress(self, rows: int) -> None:
        self.rows_read += rows
        if self._counter is not None:
            self.bytes_read = self._counter.count

    def __iter__(self) -> Iterator[DecodedBatch]:
        fmt = self.requested_format
        if fmt in ("parquet", "ipc") or (
            fmt == "auto" and isinstance(self.path, (str, os.PathLike)) and
            _strip_compression(os.fspath(self.path).lower()).endswith((".parquet", ".pq"))
        ):
            if fmt == "auto":
                fmt = "parquet"
            if fmt == "parquet":
                self.format = fmt
                yield from self._parquet()
                return
        stream, counter, size = open_input(self.path)
        self._counter, self.total_bytes = counter, size
        try:
            if fmt == "auto":
                head = stream.peek(1 << 14)[: 1 << 14] if hasattr(stream, "peek") else b""
                fmt = detect_format(self.name, head)
            self.format = fmt
            if fmt == "parquet":
                yield from self._parquet()
            elif fmt == "ipc":
                yield from self._ipc(stream)
            elif fmt == "raw":
                yield from self._raw(stream)
            else:
                yield from self._lines(stream, fmt)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    def _decode(self, frames: Any, **extra: Any) -> DecodedBatch:
        b = _decode_batch(frames, self.keys, index_base=self.rows_read, **self.kw, **extra)
        self._progress(len(b))
        return b

    def _parquet(self) -> Iterator[DecodedBatch]:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.path)
        self.total_rows = pf.metadata.num_rows
        for rb in pf.iter_batches(batch_size=self.batch_size):
            yield self._decode(rb, column=self.column)

    def _ipc(self, stream: IO[bytes]) -> Iterator[DecodedBatch]:
        import pyarrow as pa

        if isinstance(self.path, (str, os.PathLike)) and not isinstance(stream, gzip.GzipFile):
            try:
                # The IPC file format (random access): memory-mapped, read batch by batch.
                f = pa.ipc.open_file(pa.memory_map(os.fspath(self.path)))
            except pa.ArrowInvalid:
                f = None
            if f is not None:
                self.total_rows = sum(f.get_batch(i).num_rows for i in range(f.num_record_batches))
                for i in range(f.num_record_batches):
                    yield from self._rechunk(f.get_batch(i))
                return
        for rb in pa.ipc.open_stream(pa.PythonFile(stream, mode="r")):
            yield from self._rechunk(rb)

    def _rechunk(self, rb: Any) -> Iterator[DecodedBatch]:
        for start in range(0, max(rb.num_rows, 1), self.batch_size):
            if rb.num_rows == 0:
                return
            yield self._decode(rb.slice(start, self.batch_size), column=self.column)

    def _raw(self, stream: IO[bytes]) -> Iterator[DecodedBatch]:
        splitter = FrameSplitter()
        frames: List[bytes] = []
        offsets: List[int] = []
        lengths: List[int] = []
        errors: List[Tuple[int, str]] = []

        def take(items: Any) -> None:
            for kind, offset, payload in items:
                if kind == "frame":
                    frames.append(payload)
                    lengths.append(len(payload))
                else:
                    errors.append((len(frames), f"{payload} bytes skipped: not an FT1.2 frame"))
                    frames.append(b"")
                    lengths.append(payload)
                offsets.append(offset)

        def flush() -> DecodedBatch:
            b = self._decode(list(frames), metadata={"offset": offsets[:], "length": lengths[:]}, errors=errors[:])
            for column in (frames, offsets, lengths, errors):
                column.clear()
            return b

        while True:
            chunk = stream.read(1 << 16)
            if not chunk:
                break
            take(splitter.feed(chunk))
            while len(frames) >= self.batch_size:
                yield flush()
        take(splitter.finish())
        if frames:
            yield flush()

    def _lines(self, stream: IO[bytes], fmt: str) -> Iterator[DecodedBatch]:
        # Lines are split, parsed and decoded in Rust (meterlink._native.LineReader), with the
        # GIL released; Python only moves 1 MiB pieces of the decompressed stream across.
        reader = LineReader(fmt)
        while True:
            piece = stream.read(1 << 20)
            if piece:
                reader.feed(piece)
            while True:
                b = reader.decode_next(
                    self.batch_size, last=not piece, keys=self.keys, index_base=self.rows_read, **self.kw
                )
                if b is None:
                    break
                self._progress(len(b))
                yield b
            if not piece:
                return


def iter_batches(
    path: Union[str, "os.PathLike[str]", IO[bytes]],
    format: str = "auto",
    keys: _KeysArg = None,
    link: str = "auto",
    threads: Optional[int] = None,
    *,
    batch_size: int = 1 << 14,
    column: Optional[str] = None,
    strict: bool = False,
    tail: str = "auto",
) -> ArchiveReader:
    """An iterable of :class:`DecodedBatch` pieces (``batch_size`` frames each) over an archive;
    memory stays bounded by one piece whatever the file size. See the module doc for formats."""
    return ArchiveReader(
        path, format, keys, link, threads, batch_size=batch_size, column=column, strict=strict, tail=tail
    )


def read_archive(
    path: Union[str, "os.PathLike[str]", IO[bytes]],
    format: str = "auto",
    keys: _KeysArg = None,
    link: str = "auto",
    threads: Optional[int] = None,
    *,
    batch_size: int = 1 << 14,
    column: Optional[str] = None,
    strict: bool = False,
    tail: str = "auto",
) -> DecodedBatch:
    """Decode a whole archive into one :class:`DecodedBatch` (use :func:`iter_batches` for files
    larger than memory)."""
    parts = list(
        iter_batches(path, format, keys, link, threads, batch_size=batch_size, column=column, strict=strict, tail=tail)
    )
    if not parts:
        return _decode_batch([], None)
    return DecodedBatch.concat(parts)
