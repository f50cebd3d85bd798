"""Telegram archives and captures, read piece by piece with bounded memory (the input side;
:func:`meterlink.iter_batches` in :mod:`meterlink.bulk` decodes the pieces).

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
status ``frame_error`` and the reason. A line longer than ``max_line_length`` bytes (default
64 KiB; a frame is at most a few hundred) becomes one such row (code ``line_too_long``) and is
skipped as it is read, so memory stays bounded and time linear. Every text format adds a
``line`` column (1-based line number); ``raw`` adds ``offset``.

An archive that cannot be read as a whole (corrupt gzip/zstd data, a file that is not the
Parquet/IPC it claims to be, no frame column) raises one :class:`meterlink.MeterlinkError`
naming the file: code ``archive_unreadable`` or ``archive_no_frame_column``.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
from typing import IO, Any, Dict, Iterator, List, NamedTuple, Optional, Tuple, Union

from meterlink._native import FrameSplitter, LineReader
from meterlink.exceptions import MeterlinkError

__all__ = [
    "FORMATS",
    "ArchivePath",
    "ArchiveSource",
    "FramePiece",
    "LinePiece",
    "archive_error",
    "detect_format",
    "open_input",
]

#: The archive formats (``format=``) :class:`ArchiveSource` reads.
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


def archive_error(name: str, fmt: str, e: BaseException) -> BaseException:
    """The error to raise for ``e``, met while reading archive ``name`` of format ``fmt``:
    ``e`` itself for meterlink errors, missing modules and I/O errors that name their file;
    else one :class:`MeterlinkError` naming the archive (never a raw decoder exception)."""
    if isinstance(e, (MeterlinkError, ImportError, MemoryError)):
        return e
    if isinstance(e, OSError) and e.filename is not None:
        return e
    text = str(e) or type(e).__name__
    # The batch decoder's column errors (meterlink-arrow Error::NoSuchColumn, FrameColumn,
    # FrameType).
    if isinstance(e, (ValueError, TypeError)) and (
        text.startswith("no column ") or "which column holds the frames" in text or text.startswith("frames must be")
    ):
        return MeterlinkError(f"{name}: no frame column: {text}", None, "archive_no_frame_column")
    what = {"parquet": "not a Parquet file", "ipc": "not an Arrow IPC file", "auto": "cannot be read"}.get(
        fmt, f"cannot be read as a {fmt} archive"
    )
    return MeterlinkError(f"{name}: {what} ({type(e).__name__}: {text})", None, "archive_unreadable")


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


class FramePiece(NamedTuple):
    """Frames ready for the batch decoder: an Arrow record batch whose frame column is
    ``column``, or (raw captures) a list of frames with ``metadata`` columns and the ``errors``
    (row, message) of rows that are skipped bytes rather than frames."""

    frames: Any
    column: Optional[str] = None
    metadata: Optional[Dict[str, List[int]]] = None
    errors: Optional[List[Tuple[int, str]]] = None


class LinePiece(NamedTuple):
    """A text archive's :class:`LineReader`, just fed; ``last`` when the input has ended. The
    reader splits, parses and decodes the lines itself (``decode_next``), in Rust."""

    reader: LineReader
    last: bool


#: What an archive argument may be: a path ("-" for stdin) or a binary file object.
ArchivePath = Union[str, "os.PathLike[str]", IO[bytes]]


class ArchiveSource:
    """An archive read piece by piece: iterating yields :class:`FramePiece` (Parquet, Arrow IPC,
    raw captures; at most ``batch_size`` frames each) and :class:`LinePiece` (text formats).

    ``format`` is the detected format once iteration started; ``bytes_read`` / ``total_bytes``
    (raw, possibly compressed file) and ``total_rows`` (when the format knows it: Parquet, IPC
    files) report progress.
    """

    def __init__(
        self,
        path: ArchivePath,
        format: str = "auto",
        *,
        batch_size: int = 1 << 14,
        column: Optional[str] = None,
        max_line_length: int = 1 << 16,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if max_line_length < 1:
            raise ValueError(f"max_line_length must be at least 1, not {max_line_length}")
        self.max_line_length = max_line_length
        self.path = path
        self.name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else getattr(path, "name", "<stream>")
        self.batch_size = batch_size
        self.column = column
        self.requested_format = format
        self.format = format
        self.total_bytes: Optional[int] = None
        self.total_rows: Optional[int] = None
        self._counter: Optional[_Counting] = None

    @property
    def bytes_read(self) -> int:
        """Bytes read so far from the raw (possibly compressed) file."""
        return 0 if self._counter is None else self._counter.count

    def __iter__(self) -> Iterator[Union[FramePiece, LinePiece]]:
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

    def _parquet(self) -> Iterator[FramePiece]:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.path)
        self.total_rows = pf.metadata.num_rows
        for rb in pf.iter_batches(batch_size=self.batch_size):
            yield FramePiece(rb, column=self.column)

    def _ipc(self, stream: IO[bytes]) -> Iterator[FramePiece]:
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

    def _rechunk(self, rb: Any) -> Iterator[FramePiece]:
        for start in range(0, max(rb.num_rows, 1), self.batch_size):
            if rb.num_rows == 0:
                return
            yield FramePiece(rb.slice(start, self.batch_size), column=self.column)

    def _raw(self, stream: IO[bytes]) -> Iterator[FramePiece]:
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

        def flush() -> FramePiece:
            piece = FramePiece(list(frames), metadata={"offset": offsets[:], "length": lengths[:]}, errors=errors[:])
            for column in (frames, offsets, lengths, errors):
                column.clear()
            return piece

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

    def _lines(self, stream: IO[bytes], fmt: str) -> Iterator[LinePiece]:
        # Lines are split, parsed and decoded in Rust (meterlink._native.LineReader), with the
        # GIL released; Python only moves 1 MiB pieces of the decompressed stream across.
        reader = LineReader(fmt, self.max_line_length)
        while True:
            piece = stream.read(1 << 20)
            if piece:
                reader.feed(piece)
            yield LinePiece(reader, last=not piece)
            if not piece:
                return


def __getattr__(name: str) -> Any:
    # ArchiveReader, iter_batches and read_archive (decoding) moved to meterlink.bulk; the old
    # import paths keep working.
    if name in ("ArchiveReader", "iter_batches", "read_archive"):
        from meterlink import bulk

        return getattr(bulk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
