"""DSMR P2 -> P3 (Appendix A): one P2 telegram as the E-meter's view of its M-Bus channel.

>>> v = p3_view(frame, channel=1, key=user_key)  # doctest: +SKIP
>>> v.p1_lines()                                   # doctest: +SKIP
['0-1:24.1.0(003)', '0-1:96.1.0(5858585858313130313233343536373839)',
 '0-1:24.2.1(090618110000S)(00000.391*m3)']

The capture time in the P1 line is the telegram's UTC time (P2 sends UTC), followed by ``S``
when that instant is in EU summer time, else ``W`` (docs/decisions.md, "DSMR P2").
"""

from __future__ import annotations

import io
from typing import Any, Dict, Iterator, List, NamedTuple, Optional, TextIO, Tuple, Union

from meterlink._native import DsmrP3View, KeyStore, dsmr_p3_view, dsmr_parse_data
from meterlink.exceptions import MeterlinkError

__all__ = ["DsmrP3View", "P1Block", "iter_p1_blocks", "p3_view", "parse_data", "write_p1"]

_Input = Union[bytes, bytearray, memoryview, str]


def p3_view(
    telegram: _Input,
    channel: int = 1,
    key: Union[_Input, KeyStore, None] = None,
    *,
    iv_version: Optional[int] = None,
) -> DsmrP3View:
    """The P3 view of one P2 telegram (wired RSP_UD, wireless SND_NR / RSP_UD / SND_IR; bytes
    or hex) on ``channel`` (1-4).

    ``key``: the 16-byte user key (bytes or hex) of an encrypted (mode 15) telegram, or a
    :class:`meterlink.KeyStore` looked up by the telegram's identification number.
    ``iv_version``: the version byte to use in the mode-15 IV instead of the header's (the
    Appendix B1.3 example's ciphertext was made with ``0x40`` while its header says ``0x42``).

    The result has ``.obis_values`` (dicts with ``obis``, ``value``, ``scaler``, ``unit``,
    ``name`` as :mod:`meterlink.dlms` rows, plus ``class_id`` and ``attribute``), ``.p1_lines()``
    and the M-Bus client setup fields (``identification_number``, ``manufacturer``, ``version``,
    ``device_type``, ``access_number``, ``status``, ``primary_address``), ``equipment_id``,
    ``value`` / ``capture_time`` (Unix seconds UTC), ``config_mask``.
    Raises :class:`meterlink.FrameError`, :class:`meterlink.DecodeError` (``dsmr_control``,
    ``dsmr_application``...) or :class:`meterlink.SecurityError` (``dsmr_decrypt``,
    ``dsmr_no_key``).
    """
    if not 1 <= channel <= 4:
        raise ValueError(f"channel must be 1-4, not {channel}")
    return dsmr_p3_view(telegram, channel, key, iv_version)


def parse_data(device_type: int, data: _Input) -> Dict[str, Any]:
    """The section 6.4 blocks of a device's clear application data (after decryption): a dict
    with ``equipment_id``, ``status``, ``config_mask``, ``timestamp`` (Unix seconds UTC),
    ``readings`` (dicts: kind, raw, scaler, unit, storage, vib), ``versions``, ``valve`` and
    ``other`` (records that are none of these, as (head hex, data hex))."""
    return dsmr_parse_data(device_type, data)


_SEPARATORS = (";", "\t", ",")
_FRAME_NAMES = ("frame", "telegram", "hex", "data")
_TIME_NAMES = ("timestamp", "time", "received", "datetime")


def _fields(line: str) -> List[str]:
    for sep in _SEPARATORS:
        if sep in line:
            return [f.strip() for f in line.split(sep)]
    return [line]


def _is_hex(s: str) -> bool:
    t = s.replace(" ", "")
    return len(t) > 0 and len(t) % 2 == 0 and all(c in "0123456789abcdefABCDEF" for c in t)


class P1Block(NamedTuple):
    """One telegram of an archive as P1 lines: its line number, its timestamp field (if the
    archive has one), the lines, or the error (code and message) that stopped it."""

    line: int
    timestamp: Optional[str]
    lines: List[str]
    error: Optional[Tuple[str, str]] = None


def _columns(header: List[str]) -> Tuple[int, Optional[int], Optional[int]]:
    names = [h.lower() for h in header]
    frame = next((names.index(n) for n in _FRAME_NAMES if n in names), len(names) - 1)
    ts = next((names.index(n) for n in _TIME_NAMES if n in names), None)
    ch = names.index("channel") if "channel" in names else None
    return frame, ts, ch


def _channel(f: List[str], ci: Optional[int], default: int) -> int:
    """The archive's own channel column (as `simulate` writes it) wins over the default."""
    if ci is None or ci >= len(f) or not f[ci].isdigit():
        return default
    return int(f[ci])


def iter_p1_blocks(path: Any, keys: Union[KeyStore, _Input, None] = None, channel: int = 1) -> Iterator[P1Block]:
    """The P3 view of every telegram of a hex-line archive (``[timestamp;]hex`` lines, a header
    line naming the columns, ``#`` comments; gzip/zstd recognised) as :class:`P1Block`\\ s, in
    order. A ``channel`` column (as :func:`meterlink.dsmr.simulate` writes) gives each telegram's
    channel; else ``channel``. A telegram that does not decode gives a block with its error, never
    stops the run."""
    from meterlink.archive import open_input

    stream, _, _ = open_input(path)
    cols: Optional[Tuple[int, Optional[int], Optional[int]]] = None
    for n, raw in enumerate(io.TextIOWrapper(stream, encoding="utf-8", errors="replace"), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        f = _fields(text)
        if cols is None and not _is_hex(f[-1]) and not any(_is_hex(x) for x in f):
            cols = _columns(f)
            continue
        fi, ti, ci = cols if cols is not None else (len(f) - 1, 0 if len(f) > 1 else None, None)
        ts = f[ti] if ti is not None and ti < len(f) else None
        frame = f[fi] if fi < len(f) else ""
        try:
            yield P1Block(n, ts, p3_view(frame, _channel(f, ci, channel), keys).p1_lines())
        except MeterlinkError as e:
            yield P1Block(n, ts, [], (e.code or "error", str(e)))


def write_p1(path: Any, out: TextIO, keys: Union[KeyStore, _Input, None] = None, channel: int = 1) -> Tuple[int, int]:
    """Write :func:`iter_p1_blocks` as text: per telegram a ``# line N [timestamp]`` comment,
    its P1 lines (or ``# error CODE: message``) and a blank line. Returns (telegrams, errors)."""
    total = errors = 0
    for b in iter_p1_blocks(path, keys, channel):
        total += 1
        head = f"# line {b.line}" + (f" {b.timestamp}" if b.timestamp else "")
        body = b.lines if b.error is None else [f"# error {b.error[0]}: {b.error[1]}"]
        errors += b.error is not None
        out.write("\n".join([head, *body]) + "\n\n")
    return total, errors
