"""The meterlink exception hierarchy.

Every error meterlink raises for bad input is a :class:`MeterlinkError`, which is a
:class:`ValueError`. Where a byte position applies, ``offset`` holds it (an index into the frame
as given, after hex decoding); otherwise ``offset`` is ``None``. ``code`` is the error's stable
snake_case code (``frame_checksum``, ``wmbus_crc``, ``no_key``, ``afl_mac`` ...; listed in
``docs/errors.md``), or ``None`` for an error raised without one.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

__all__ = ["MeterlinkError", "FrameError", "DecodeError", "SecurityError"]


class MeterlinkError(ValueError):
    """Base class of every meterlink error."""

    offset: Optional[int]
    code: Optional[str]

    def __init__(self, message: str, offset: Optional[int] = None, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.offset = offset
        self.code = code

    def __reduce__(self) -> Tuple[Any, Tuple[str, Optional[int], Optional[str]]]:
        # Keep ``offset`` and ``code`` across pickling (multiprocessing, Dask).
        return (type(self), (str(self), self.offset, self.code))


class FrameError(MeterlinkError):
    """The link layer rejected the frame: start/stop byte, length, checksum, CRC."""


class DecodeError(MeterlinkError):
    """The frame is intact but its transport or application layer cannot be decoded."""


class SecurityError(MeterlinkError):
    """Decryption or authentication failed: missing key (strict), wrong key, bad MAC."""
