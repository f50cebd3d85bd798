"""Bulk decoding: many frames (or whole archives) in, two Arrow tables out.

>>> batch = meterlink.decode_batch(frames, keys="keys.csv")     # doctest: +SKIP
>>> pyarrow.table(batch.telegrams)    # one row per input frame, in input order   # doctest: +SKIP
>>> polars.from_arrow(batch.records)  # one row per data record                  # doctest: +SKIP

The work is done in Rust with the GIL released, spread over threads; the tables are built with
arrow-rs and handed over through the Arrow PyCapsule interface (``__arrow_c_stream__``), so
pyarrow, polars, pandas (via pyarrow) and DuckDB read them without copying.

Archives are read by :mod:`meterlink.archive` and decoded here (:func:`iter_batches`,
:func:`read_archive`); decoded batches are written to files by :mod:`meterlink.writers`.
"""

from __future__ import annotations

import itertools
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Sequence

from meterlink._native import ArrowTable, CounterStore, DecodedBatch, _decode_batch
from meterlink.archive import ArchivePath, ArchiveSource, FramePiece, LinePiece, archive_error
from meterlink.keys import KeysArg, keystore

# BatchWriter and output_format live in meterlink.writers; imported here so that the old
# ``meterlink.bulk`` import paths keep working.
from meterlink.writers import BatchWriter, output_format

__all__ = [
    "ArchiveReader",
    "ArrowTable",
    "BatchWriter",
    "DecodedBatch",
    "STATUSES",
    "decode_batch",
    "decode_chunk",
    "iter_batches",
    "iter_decode",
    "output_format",
    "read_archive",
]

#: The values of the ``status`` column of ``DecodedBatch.telegrams``.
STATUSES = ("ok", "no_key", "frame_error", "decode_error", "security_error")

#: Frames per piece when an iterable (not a list or Arrow data) is decoded.
DEFAULT_CHUNK = 1 << 16

#: The default line length limit of text archives (bytes): a longer line is one error row
#: (code ``line_too_long``) and is skipped, so memory stays bounded.
DEFAULT_MAX_LINE = 1 << 16


#: The native batch decoder, under a name the package's modules share (``meterlink.archive``
#: readers' pieces are decoded with it here): ``decode_chunk(frames, keystore_or_None, link=,
#: strict=, tail=, threads=, column=, index_base=, metadata=, errors=)``, where ``errors`` lists
#: (row, message) of rows already known to be bad (skipped bytes of a raw capture).
decode_chunk = _decode_batch


#: The most worker threads a batch takes (more only cost memory and start-up time).
MAX_THREADS = 1024


def check_threads(threads: Optional[int]) -> None:
    """``threads`` is None or 1..:data:`MAX_THREADS`, else ``ValueError``."""
    if threads is not None and not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads must be between 1 and {MAX_THREADS}, not {threads}")


def _is_arrow(obj: Any) -> bool:
    return hasattr(obj, "__arrow_c_stream__") or hasattr(obj, "__arrow_c_array__")


def _slice(meta: Optional[Mapping[str, Any]], start: int, stop: int) -> Optional[dict]:
    if meta is None:
        return None
    return {k: v[start:stop] for k, v in meta.items()}


def decode_batch(
    frames: Any,
    keys: KeysArg = None,
    link: str = "auto",
    threads: Optional[int] = None,
    *,
    strict: bool = False,
    tail: str = "auto",
    column: Optional[str] = None,
    metadata: Optional[Mapping[str, Any]] = None,
    chunk_size: int = DEFAULT_CHUNK,
    accept_unprotected: bool = False,
    default_keys: bool = True,
    link_crc: str = "source",
    counters: Optional[CounterStore] = None,
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

    Safety (issue 12; README "Safe by default"): ``link_crc="source"`` takes the frames for one
    receiver's: when most of the first ones carry verifying DLL CRCs, every frame must verify them
    (``"frame"`` judges each frame alone, as ``decode`` does; ``"required"`` always demands them).
    ``accept_unprotected`` keeps a keyed meter's unprotected payload (else a ``security_error`` row
    with code ``unprotected``); ``default_keys=False`` tries no public default keys. ``counters``
    (a :class:`meterlink.CounterStore`) rejects replayed counters (``replayed_counter``), checked in
    input order whatever the thread count.
    """
    check_threads(threads)
    store = keystore(keys)
    kw: Dict[str, Any] = dict(
        link=link, strict=strict, tail=tail, threads=threads,
        accept_unprotected=accept_unprotected, default_keys=default_keys, link_crc=link_crc, counters=counters,
    )
    if isinstance(frames, (list, tuple)) or _is_arrow(frames):
        return decode_chunk(frames, store, column=column, metadata=metadata, **kw)
    if isinstance(frames, (bytes, bytearray, memoryview, str)):
        raise TypeError("frames must be a sequence of frames; use meterlink.decode() for one frame")
    parts = list(iter_decode(frames, store, chunk_size=chunk_size, metadata=metadata, **kw))
    if not parts:
        return decode_chunk([], store, metadata=metadata, **kw)
    return DecodedBatch.concat(parts)


def iter_decode(
    frames: Iterable[Any],
    keys: KeysArg = None,
    link: str = "auto",
    threads: Optional[int] = None,
    *,
    strict: bool = False,
    tail: str = "auto",
    chunk_size: int = DEFAULT_CHUNK,
    metadata: Optional[Mapping[str, Sequence[Any]]] = None,
    accept_unprotected: bool = False,
    default_keys: bool = True,
    link_crc: str = "source",
    counters: Optional[CounterStore] = None,
) -> Iterator[DecodedBatch]:
    """Decode an iterable of frames piece by piece (``chunk_size`` frames per
    :class:`DecodedBatch`), with bounded memory. ``index`` counts across pieces. One source: once
    a piece shows that the frames carry DLL CRCs, every later piece must verify them."""
    check_threads(threads)
    store = keystore(keys)
    it = iter(frames)
    base = 0
    kw: Dict[str, Any] = dict(
        link=link, strict=strict, tail=tail, threads=threads,
        accept_unprotected=accept_unprotected, default_keys=default_keys, link_crc=link_crc, counters=counters,
    )
    while True:
        chunk = list(itertools.islice(it, chunk_size))
        if not chunk:
            return
        b = decode_chunk(chunk, store, index_base=base, metadata=_slice(metadata, base, base + len(chunk)), **kw)
        keep_link_crc(kw, b)
        yield b
        base += len(chunk)


def keep_link_crc(kw: Dict[str, Any], b: DecodedBatch) -> None:
    """A source whose frames showed DLL CRCs keeps requiring them in its later pieces."""
    if kw.get("link_crc", "source") == "source" and b.link_crc_required:
        kw["link_crc"] = "required"


# -- archives (read by meterlink.archive, decoded here) --------------------------------------------


#: Archive formats whose frames come without DLL CRCs (the receiver removed them).
CRC_LESS_FORMATS = ("rtl-wmbus", "wmbusmeters")


class ArchiveReader:
    """Iterates an archive as :class:`DecodedBatch` pieces of at most ``batch_size`` frames
    (``meterlink.iter_batches``); memory stays bounded by one piece whatever the file size. See
    :mod:`meterlink.archive` for the formats.

    ``bytes_read`` / ``total_bytes`` (raw, possibly compressed file) and ``rows_read`` /
    ``total_rows`` (when the format knows it: Parquet) report progress.
    """

    def __init__(
        self,
        path: ArchivePath,
        format: str = "auto",
        keys: KeysArg = None,
        link: str = "auto",
        threads: Optional[int] = None,
        *,
        batch_size: int = 1 << 14,
        column: Optional[str] = None,
        strict: bool = False,
        tail: str = "auto",
        max_line_length: int = DEFAULT_MAX_LINE,
        accept_unprotected: bool = False,
        default_keys: bool = True,
        link_crc: str = "source",
        counters: Optional[CounterStore] = None,
    ) -> None:
        check_threads(threads)
        self.source = ArchiveSource(
            path, format, batch_size=batch_size, column=column, max_line_length=max_line_length
        )
        self.path = path
        self.name = self.source.name
        self.keys = keystore(keys)
        self.kw: Dict[str, Any] = dict(
            link=link, threads=threads, strict=strict, tail=tail,
            accept_unprotected=accept_unprotected, default_keys=default_keys, link_crc=link_crc,
            counters=counters,
        )
        self.batch_size = self.source.batch_size
        self.column = column
        self.requested_format = format
        self.bytes_read = 0
        self.rows_read = 0

    @property
    def format(self) -> str:
        """The archive's format (detected once iteration started when ``"auto"`` was asked)."""
        return self.source.format

    @property
    def total_bytes(self) -> Optional[int]:
        """The raw file's size, once known (``None`` for streams)."""
        return self.source.total_bytes

    @property
    def total_rows(self) -> Optional[int]:
        """The number of frames, when the format knows it up front (Parquet, IPC files)."""
        return self.source.total_rows

    def _progress(self, rows: int) -> None:
        self.rows_read += rows
        self.bytes_read = self.source.bytes_read

    def __iter__(self) -> Iterator[DecodedBatch]:
        try:
            for piece in self.source:
                if isinstance(piece, LinePiece):
                    yield from self._lines(piece)
                else:
                    yield self._frames(piece)
        except Exception as e:
            raise archive_error(self.name, self.source.format, e) from e

    def _frames(self, piece: FramePiece) -> DecodedBatch:
        b = decode_chunk(
            piece.frames, self.keys, column=piece.column, metadata=piece.metadata, errors=piece.errors,
            index_base=self.rows_read, **self.kw,
        )
        keep_link_crc(self.kw, b)
        self._progress(len(b))
        return b

    def _lines(self, piece: LinePiece) -> Iterator[DecodedBatch]:
        kw = dict(self.kw)
        # rtl-wmbus and wmbusmeters logs carry frames whose DLL CRCs the receiver removed.
        if self.source.format in CRC_LESS_FORMATS and kw["link"] == "auto":
            kw["link"] = "wireless-nocrc"
        while True:
            b = piece.reader.decode_next(
                self.batch_size, last=piece.last, keys=self.keys, index_base=self.rows_read, **kw
            )
            if b is None:
                return
            keep_link_crc(self.kw, b)
            kw["link_crc"] = self.kw["link_crc"]
            self._progress(len(b))
            yield b


#: ``iter_batches(path, format="auto", keys=None, link="auto", threads=None, *, batch_size=16384,
#: column=None, strict=False, tail="auto", max_line_length=65536)``: an iterable of
#: :class:`DecodedBatch` pieces (``batch_size`` frames each) over an archive; memory stays
#: bounded by one piece whatever the file size. See :mod:`meterlink.archive` for the formats.
#: An archive that cannot be read (corrupt compression, not the Parquet/IPC it claims to be, no
#: frame column) raises one :class:`meterlink.MeterlinkError` naming the file (codes
#: ``archive_unreadable``, ``archive_no_frame_column``); a file that cannot be opened raises
#: ``OSError`` with its path. (The :class:`ArchiveReader` itself.)
iter_batches = ArchiveReader


def read_archive(
    path: ArchivePath,
    format: str = "auto",
    keys: KeysArg = None,
    link: str = "auto",
    threads: Optional[int] = None,
    **options: Any,
) -> DecodedBatch:
    """Decode a whole archive into one :class:`DecodedBatch` (use :func:`iter_batches` for files
    larger than memory). ``options``: ``batch_size``, ``column``, ``strict``, ``tail``,
    ``max_line_length``, ``accept_unprotected``, ``default_keys``, ``link_crc``, ``counters`` as
    for :func:`iter_batches`."""
    parts = list(iter_batches(path, format, keys, link, threads, **options))
    if not parts:
        return decode_chunk([], None)
    return DecodedBatch.concat(parts)
