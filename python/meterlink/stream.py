"""Cut a raw wired M-Bus byte stream into frames (the Rust splitter does the work)."""

from __future__ import annotations

from typing import Any, BinaryIO, Iterator, List, NamedTuple, Protocol, Tuple, Union

from meterlink._native import FrameSplitter

__all__ = ["StreamPiece", "iter_frames"]


class StreamPiece(NamedTuple):
    """A frame (``kind == "frame"``, ``data`` its bytes) or a run of skipped bytes
    (``kind == "skipped"``, ``data`` empty, ``length`` how many). ``offset`` counts from the
    start of the stream."""

    kind: str
    offset: int
    data: bytes
    length: int


def iter_frames(
    source: Union[bytes, bytearray, memoryview, BinaryIO],
    *,
    chunk_size: int = 1 << 16,
    skipped: bool = False,
    accept_ack: bool = True,
) -> Iterator[StreamPiece]:
    """Yield the FT1.2 frames found in ``source`` (bytes or a binary file-like object).

    Garbage between frames is skipped and resynchronised on; with ``skipped=True`` the skipped
    runs are yielded too, so every input byte is accounted for.
    """
    return _pieces(FrameSplitter(accept_ack), source, chunk_size, skipped)


class _Splitter(Protocol):
    def feed(self, data: bytes) -> List[Tuple[str, int, Any]]: ...
    def finish(self) -> List[Tuple[str, int, Any]]: ...


def _pieces(
    splitter: _Splitter,
    source: Union[bytes, bytearray, memoryview, BinaryIO],
    chunk_size: int,
    skipped: bool,
) -> Iterator[StreamPiece]:
    """Feed ``source`` to a native splitter (FT1.2 or HDLC) and yield its pieces."""

    def emit(items: List[Tuple[str, int, Any]]) -> Iterator[StreamPiece]:
        for kind, offset, payload in items:
            if kind == "frame":
                yield StreamPiece("frame", offset, payload, len(payload))
            elif skipped:
                yield StreamPiece("skipped", offset, b"", payload)

    if isinstance(source, (bytes, bytearray, memoryview)):
        yield from emit(splitter.feed(bytes(source)))
    else:
        while True:
            chunk = source.read(chunk_size)
            if not chunk:
                break
            yield from emit(splitter.feed(chunk))
    yield from emit(splitter.finish())
