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
import os
import sys
from typing import Any, Dict, Iterable, Iterator, List, Literal, Mapping, Optional, Sequence, Tuple, Union, overload

from meterlink._native import ArrowTable, CounterStore, DecodedBatch, DlmsBatch, KeyStore, _decode_batch, _dlms_decode_batch
from meterlink.archive import (
    ArchivePath,
    ArchiveSource,
    FramePiece,
    LinePiece,
    _strip_compression,
    archive_error,
    open_input,
)
from meterlink.keys import KeysArg, keystore

# BatchWriter and output_format live in meterlink.writers; imported here so that the old
# ``meterlink.bulk`` import paths keep working.
from meterlink.writers import BatchWriter, output_format

__all__ = [
    "ArchiveReader",
    "ArrowTable",
    "BatchWriter",
    "DecodedBatch",
    "DlmsArchiveReader",
    "DlmsBatch",
    "PROTOCOLS",
    "STATUSES",
    "decode_batch",
    "decode_chunk",
    "decode_dlms_batch",
    "iter_batches",
    "iter_decode",
    "output_format",
    "read_archive",
]

#: The values of the ``status`` column of ``DecodedBatch.telegrams``.
STATUSES = ("ok", "no_key", "frame_error", "decode_error", "security_error")

#: The ``protocol=`` values: wired/wireless M-Bus (``DecodedBatch``), DLMS/COSEM and encrypted
#: or clear P1 telegrams (``DlmsBatch``).
PROTOCOLS = ("mbus", "dlms", "p1")

#: The ``framing=`` values of ``protocol="dlms"`` (``"p1"`` is ``protocol="p1"``).
FRAMINGS = ("auto", "hdlc", "wrapper", "mbus", "p1", "apdu")

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


@overload
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
    protocol: Literal["mbus"] = "mbus",
    framing: Optional[str] = None,
) -> DecodedBatch: ...
@overload
def decode_batch(
    frames: Any,
    keys: Any = None,
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
    protocol: Literal["dlms", "p1"],
    framing: Optional[str] = None,
) -> DlmsBatch: ...
def decode_batch(
    frames: Any,
    keys: Any = None,
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
    protocol: str = "mbus",
    framing: Optional[str] = None,
) -> Union[DecodedBatch, DlmsBatch]:
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

    ``protocol="dlms"`` (or ``"p1"``, the same with ``framing="p1"``) decodes DLMS/COSEM messages
    instead (:func:`decode_dlms_batch`) and returns a :class:`DlmsBatch` with ``messages`` and
    ``obis`` tables; ``keys`` then takes the forms of :func:`meterlink.dlms.decode` and ``framing``
    (``auto``, ``hdlc``, ``wrapper``, ``mbus``, ``p1``, ``apdu``) applies to the whole batch.
    """
    if protocol != "mbus":
        if metadata is not None:
            raise ValueError(f"metadata= applies to protocol='mbus', not {protocol!r}")
        return decode_dlms_batch(
            frames, keys, framing=dlms_framing(protocol, framing), threads=threads, strict=strict,
            column=column, chunk_size=chunk_size, counters=counters,
        )
    if framing is not None:
        raise ValueError("framing= applies to protocol='dlms' and 'p1'; M-Bus frames take link=")
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


# -- DLMS/COSEM --------------------------------------------------------------------------------------


def dlms_framing(protocol: str, framing: Optional[str]) -> str:
    """The framing of a ``protocol="dlms"`` / ``"p1"`` batch, or ``ValueError``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {protocol!r}")
    if protocol == "p1":
        if framing not in (None, "p1"):
            raise ValueError(f"protocol='p1' is framing 'p1', not {framing!r}")
        return "p1"
    framing = framing or "auto"
    if framing not in FRAMINGS:
        raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}, not {framing!r}")
    return framing


def _dlms_keys(keys: Any) -> Any:
    from meterlink.dlms import _normalise_keys

    # dicts and KeyStores are read by the extension itself
    if type(keys) is dict or isinstance(keys, KeyStore):
        return keys
    return _normalise_keys(keys)


def decode_dlms_batch(
    frames: Any,
    keys: Any = None,
    *,
    framing: str = "auto",
    threads: Optional[int] = None,
    strict: bool = False,
    column: Optional[str] = None,
    chunk_size: int = DEFAULT_CHUNK,
    counters: Optional[CounterStore] = None,
) -> DlmsBatch:
    """Decode many DLMS/COSEM messages at once (``decode_batch(..., protocol="dlms")``).

    ``frames``: a list (or tuple) of ``bytes`` / hex ``str`` (a clear P1 telegram may be given as
    its text, starting with ``/``), an Arrow binary or hex string array, record batch, table or
    stream (``column=`` names the frame column), or any other iterable (``chunk_size`` frames at
    a time). ``keys``: ``{"ek": key, "ak": key or None}`` for every server or a mapping from system
    title (16 hex digits) to such a dict, as :func:`meterlink.dlms.decode` takes them.

    Every input frame becomes one ``messages`` row, in input order, with a status: ``ok``,
    ``no_key`` (ciphered and no key: the security header is filled, nothing deciphered),
    ``frame_error``, ``decode_error`` or ``security_error`` (``strict=True``: also for a missing
    key), and ``error``, ``error_code``, ``error_offset``; ``datetime`` is the APDU's date-time as
    ISO 8601 text, ``timestamp`` its UTC instant (null when the meter gives no deviation). ``obis``
    has one row per OBIS value of a push or P1 telegram (``frame_index`` = the message's
    ``index``). ``counters`` (a :class:`meterlink.CounterStore`) rejects replayed invocation
    counters of authenticated messages (``security_error``, ``cipher_replayed_counter``), checked
    in input order. The output is the same whatever ``threads``.
    """
    check_threads(threads)
    framing = dlms_framing("dlms", framing)
    native_keys = _dlms_keys(keys)
    kw: Dict[str, Any] = dict(framing=framing, strict=strict, threads=threads, counters=counters)
    if isinstance(frames, (list, tuple)) or _is_arrow(frames):
        return _dlms_decode_batch(frames, native_keys, column=column, **kw)
    if isinstance(frames, (bytes, bytearray, memoryview, str)):
        raise TypeError("frames must be a sequence of frames; use meterlink.dlms.decode() for one message")
    it = iter(frames)
    parts: List[DlmsBatch] = []
    base = 0
    while True:
        chunk = list(itertools.islice(it, chunk_size))
        if not chunk:
            break
        parts.append(_dlms_decode_batch(chunk, native_keys, index_base=base, **kw))
        base += len(chunk)
    if not parts:
        return _dlms_decode_batch([], native_keys, **kw)
    return DlmsBatch.concat(parts)


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
#: ``OSError`` with its path. (An :class:`ArchiveReader`; with ``protocol="dlms"`` or ``"p1"`` a
#: :class:`DlmsArchiveReader`.)
@overload
def iter_batches(
    path: ArchivePath, format: str = "auto", keys: Any = None, link: str = "auto", threads: Optional[int] = None,
    *, protocol: Literal["mbus"] = "mbus", **options: Any,
) -> ArchiveReader: ...
@overload
def iter_batches(
    path: ArchivePath, format: str = "auto", keys: Any = None, link: str = "auto", threads: Optional[int] = None,
    *, protocol: Literal["dlms", "p1"], **options: Any,
) -> "DlmsArchiveReader": ...
def iter_batches(
    path: ArchivePath, format: str = "auto", keys: Any = None, link: str = "auto", threads: Optional[int] = None,
    *, protocol: str = "mbus", **options: Any,
) -> Union[ArchiveReader, "DlmsArchiveReader"]:
    """The :class:`ArchiveReader` of ``path`` (see above); with ``protocol="dlms"`` / ``"p1"`` a
    :class:`DlmsArchiveReader` yielding :class:`DlmsBatch` pieces (``link`` is then unused;
    ``framing=`` and the DLMS key forms apply)."""
    if protocol == "mbus":
        return ArchiveReader(path, format, keys, link, threads, **options)
    return DlmsArchiveReader(path, format, keys, threads, protocol=protocol, **options)


@overload
def read_archive(
    path: ArchivePath, format: str = "auto", keys: Any = None, link: str = "auto", threads: Optional[int] = None,
    *, protocol: Literal["mbus"] = "mbus", **options: Any,
) -> DecodedBatch: ...
@overload
def read_archive(
    path: ArchivePath, format: str = "auto", keys: Any = None, link: str = "auto", threads: Optional[int] = None,
    *, protocol: Literal["dlms", "p1"], **options: Any,
) -> DlmsBatch: ...
def read_archive(
    path: ArchivePath,
    format: str = "auto",
    keys: Any = None,
    link: str = "auto",
    threads: Optional[int] = None,
    *,
    protocol: str = "mbus",
    **options: Any,
) -> Union[DecodedBatch, DlmsBatch]:
    """Decode a whole archive into one :class:`DecodedBatch` (use :func:`iter_batches` for files
    larger than memory). ``options``: ``batch_size``, ``column``, ``strict``, ``tail``,
    ``max_line_length``, ``accept_unprotected``, ``default_keys``, ``link_crc``, ``counters`` as
    for :func:`iter_batches`. ``protocol="dlms"`` / ``"p1"``: one :class:`DlmsBatch` (options
    ``batch_size``, ``column``, ``strict``, ``max_line_length``, ``framing``, ``counters``)."""
    if protocol != "mbus":
        dparts = list(DlmsArchiveReader(path, format, keys, threads, protocol=protocol, **options))
        if not dparts:
            return _dlms_decode_batch([], None)
        return DlmsBatch.concat(dparts)
    parts = list(ArchiveReader(path, format, keys, link, threads, **options))
    if not parts:
        return decode_chunk([], None)
    return DecodedBatch.concat(parts)


#: Archive formats a DLMS/COSEM run reads: one hex message per line (text, gzip, zstd), or a
#: binary / hex column of Parquet or Arrow IPC.
DLMS_FORMATS = ("auto", "hex", "parquet", "ipc")

_LINE_SEPARATORS = (";", ",", "\t")


class DlmsArchiveReader:
    """Iterates an archive of DLMS/COSEM messages as :class:`DlmsBatch` pieces of at most
    ``batch_size`` messages (``iter_batches(..., protocol="dlms")``); memory stays bounded by one
    piece. Formats (:data:`DLMS_FORMATS`): ``hex`` text, one message per line (``#`` comments and
    blank lines skipped; on a line with ``;``, ``,`` or tab separated fields the message is the
    last field), gzip or zstd compressed, with a ``line`` column (1-based line number) in
    ``messages``; ``parquet`` / ``ipc`` with a binary or hex string column (``column=``; other
    columns are carried along). A line that is not UTF-8 or longer than ``max_line_length``
    bytes becomes a ``frame_error`` row. ``counters``: replayed invocation counters are rejected
    as by :func:`decode_dlms_batch`. Progress: ``bytes_read`` / ``total_bytes``,
    ``rows_read`` / ``total_rows`` as for :class:`ArchiveReader`."""

    def __init__(
        self,
        path: ArchivePath,
        format: str = "auto",
        keys: Any = None,
        threads: Optional[int] = None,
        *,
        protocol: str = "dlms",
        framing: Optional[str] = None,
        batch_size: int = 1 << 14,
        column: Optional[str] = None,
        strict: bool = False,
        max_line_length: int = DEFAULT_MAX_LINE,
        counters: Optional[CounterStore] = None,
    ) -> None:
        check_threads(threads)
        if format not in DLMS_FORMATS:
            raise ValueError(f"protocol={protocol!r} reads formats {', '.join(DLMS_FORMATS)}, not {format!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        if max_line_length < 1:
            raise ValueError(f"max_line_length must be at least 1, not {max_line_length}")
        self.path = path
        self.name = os.fspath(path) if isinstance(path, (str, os.PathLike)) else getattr(path, "name", "<stream>")
        self.requested_format = format
        self.format = format
        self.keys = _dlms_keys(keys)
        self.kw: Dict[str, Any] = dict(
            framing=dlms_framing(protocol, framing), strict=strict, threads=threads, counters=counters
        )
        self.batch_size = batch_size
        self.column = column
        self.max_line_length = max_line_length
        self.bytes_read = 0
        self.rows_read = 0
        self.total_bytes: Optional[int] = None
        self.total_rows: Optional[int] = None

    def _detect(self) -> str:
        if self.requested_format != "auto":
            return self.requested_format
        name = _strip_compression(self.name.lower())
        if name.endswith((".parquet", ".pq")):
            return "parquet"
        if name.endswith((".arrow", ".arrows", ".feather", ".ipc")):
            return "ipc"
        return "hex"

    def __iter__(self) -> Iterator[DlmsBatch]:
        self.format = self._detect()
        try:
            if self.format == "hex":
                yield from self._lines()
            else:
                yield from self._tables()
        except Exception as e:
            raise archive_error(self.name, self.format, e) from e

    def _tables(self) -> Iterator[DlmsBatch]:
        source = ArchiveSource(self.path, self.format, batch_size=self.batch_size, column=self.column)
        for piece in source:
            assert isinstance(piece, FramePiece)
            b = _dlms_decode_batch(piece.frames, self.keys, column=piece.column, index_base=self.rows_read, **self.kw)
            self.total_bytes, self.total_rows = source.total_bytes, source.total_rows
            self.bytes_read = source.bytes_read
            self.rows_read += len(b)
            yield b

    def _lines(self) -> Iterator[DlmsBatch]:
        stream, counter, size = open_input(self.path)
        self.total_bytes = size
        frames: List[Any] = []
        lines: List[int] = []
        errors: List[Tuple[int, str]] = []
        try:
            for lineno, raw in enumerate(_bounded_lines(stream, self.max_line_length), 1):
                item = _line_frame(raw, self.max_line_length)
                if item is None:
                    continue
                if isinstance(item, Exception):
                    errors.append((len(frames), str(item)))
                    frames.append(b"")
                else:
                    frames.append(item)
                lines.append(lineno)
                if len(frames) >= self.batch_size:
                    self.bytes_read = counter.count
                    yield self._flush(frames, lines, errors)
            if frames:
                self.bytes_read = counter.count
                yield self._flush(frames, lines, errors)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()

    def _flush(self, frames: List[Any], lines: List[int], errors: List[Tuple[int, str]]) -> DlmsBatch:
        b = _dlms_decode_batch(
            list(frames), self.keys, index_base=self.rows_read, errors=list(errors) or None,
            metadata={"line": list(lines)}, **self.kw,
        )
        self.rows_read += len(frames)
        for column in (frames, lines, errors):
            column.clear()
        return b


def _bounded_lines(stream: Any, limit: int) -> Iterator[bytes]:
    """The lines of a binary stream; a line over ``limit`` bytes is cut to ``limit + 1`` bytes
    (the rest skipped as it is read), so memory stays bounded."""
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:
                rest = stream.readline(1 << 16)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line


def _line_frame(raw: bytes, limit: int) -> Union[None, str, Exception]:
    """The message of one archive line (hex text), None for blank and comment lines, or why the
    line is not one."""
    if len(raw) > limit:
        return ValueError(f"line longer than {limit} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ValueError("line is not UTF-8 text")
    text = text.split("#", 1)[0].strip()
    if not text:
        return None
    for sep in _LINE_SEPARATORS:
        if sep in text:
            text = text.rsplit(sep, 1)[1].strip()
    return text
