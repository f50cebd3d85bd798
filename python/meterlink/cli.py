"""The ``meterlink`` command line.

    meterlink decode HEX [HEX ...]      decode frames given as arguments
    meterlink decode -                  decode one hex frame per line from stdin
    meterlink decode --table HEX        a readable table instead of JSON
    meterlink bulk INPUT... -o OUT      decode archives to Parquet / Arrow / JSON lines / CSV
    meterlink decode --dlms HEX         decode DLMS/COSEM messages (--framing, --ek/--ak or --keys)
    meterlink bulk --protocol dlms ...  DLMS/COSEM (or p1) archives to a messages and an OBIS table

Both commands take the same decoding options, spelled the same: ``--keys FILE``, ``--link``
(auto, wired, wireless, wireless-a, wireless-b, wireless-nocrc), ``--strict`` and ``--tail``
(auto, strict, keep), ``--no-default-keys``, ``--accept-unprotected``; ``bulk`` also has
``--threads`` and ``--link-crc``.

``decode`` output is one JSON document per frame (JSON lines). Exit status: 0 when every frame
decoded, 1 when any frame was rejected (one line on stderr per bad frame, saying why, with the
error's code when it has one: ``FrameError: [frame_checksum] ...``), 2 on usage errors.
``bulk`` ends with a summary on stderr: counts per status and, when the telegrams table has an
``error_code`` column, per error code; its exit status is 0 whatever the telegrams, 1 for I/O
errors (a file that cannot be opened, read or written, named in the message; an archive that
cannot be read; a key file that cannot be loaded), 2 for usage errors (``--threads`` outside
1..1024, ``--batch-size`` or ``--max-line-length`` below 1, an unknown output format).
A closed output pipe (``meterlink decode - | head -1``) ends either command quietly with status
0. Key-file errors name the file, line and column, never a value from it.

DLMS/COSEM (``decode --dlms``, ``bulk --protocol dlms|p1``): ``--framing`` (auto, hdlc, wrapper,
mbus, p1, apdu; ``--protocol p1`` is framing p1), keys as ``--ek HEX [--ak HEX]`` for every
server or ``--keys FILE``, a JSON file in the forms ``meterlink.dlms.decode`` takes
(``{"ek": ..., "ak": ...}``, or ``{"<system title, 16 hex digits>": {"ek": ..., "ak": ...}}``);
``--strict`` makes a ciphered message without a key an error. ``decode --dlms`` prints
``to_dict()`` as JSON lines with the exit statuses above. ``bulk`` writes one row per message
(status, error, security header, ...) with its OBIS rows nested (``--layout nested``), or the
OBIS rows to ``<stem>.records<ext>`` (``--layout split``, always for CSV); exit statuses as above.
``--replay-store FILE`` rejects replayed invocation counters of authenticated messages
(``cipher_replayed_counter``). The M-Bus options (``--link``, ``--tail``, ``--no-default-keys``,
``--accept-unprotected``, ``--link-crc``) do not apply to DLMS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, Iterable, Iterator, List, Optional, TextIO, Tuple

import meterlink
from meterlink.exceptions import MeterlinkError
from meterlink.keys import keystore

__all__ = ["main"]


def _stdin_lines(stdin: TextIO) -> Iterator[Tuple[int, Optional[str]]]:
    """(line number, text) of stdin's lines; text None for a line that is not UTF-8 (read as
    bytes when stdin has a binary buffer, so one bad line is one bad frame, not a crash)."""
    raw = getattr(stdin, "buffer", None)
    if raw is None:
        yield from enumerate(stdin, 1)
        return
    for lineno, data in enumerate(raw, 1):
        try:
            yield lineno, data.decode("utf-8")
        except UnicodeDecodeError:
            yield lineno, None


def _frames_from(args: List[str], stdin: TextIO) -> Iterator[Tuple[str, Optional[str]]]:
    """(label, hex) pairs: arguments, or stdin lines for '-' (hex None: the line is not UTF-8).
    Blank and '#' lines are skipped."""
    for arg in args:
        if arg == "-":
            for lineno, line in _stdin_lines(stdin):
                text = None if line is None else line.split("#", 1)[0].strip()
                if text is None or text:
                    yield f"line {lineno}", text
        else:
            yield "argument", arg


def _fmt_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _table(tg: meterlink.Telegram, out: TextIO) -> None:
    d = tg.to_dict()
    head = [
        ("manufacturer", d["manufacturer"]),
        ("id", d["id"]),
        ("version", d["version"]),
        ("device type", f"{d['device_type']} ({d['device_type_name']})" if d["device_type"] is not None else None),
        ("access number", d["access_number"]),
        ("status", None if d["status"] is None else f"0x{d['status']:02X}"),
        ("CI", None if d["ci"] is None else f"0x{d['ci']:02X} ({tg.ci_name})"),
        ("security mode", d["security_mode"]),
        ("encrypted", d["encrypted"]),
        ("application error", d["application_error"]),
    ]
    for name, val in head:
        if val is not None:
            out.write(f"{name:>17}: {val}\n")
    rows = [("#", "quantity", "value", "unit", "stor", "tar", "sub", "function", "DIB", "VIB")]
    for i, r in enumerate(tg.records):
        rows.append(
            (
                str(i),
                r.quantity,
                _fmt_value(r.value),
                r.unit or "",
                str(r.storage),
                str(r.tariff),
                str(r.subunit),
                r.function,
                r.dif,
                r.vif,
            )
        )
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")


def _reason(e: MeterlinkError) -> str:
    """``FrameError: [frame_checksum] message`` (the code only when the error has one)."""
    code = getattr(e, "code", None)
    return f"{type(e).__name__}: [{code}] {e}" if code else f"{type(e).__name__}: {e}"


def _load_keys(ns: argparse.Namespace, err: TextIO) -> Tuple[bool, Any]:
    """(loaded, KeyStore or None) for ``--keys``; says why on stderr when it cannot (key-file
    errors name the file, line and column, never a value from it)."""
    try:
        return True, keystore(ns.keys, on_duplicate=ns.on_duplicate) if ns.keys else None
    except MeterlinkError as e:
        err.write(f"meterlink {ns.command}: cannot load keys from {e}\n")
    except OSError as e:
        err.write(f"meterlink {ns.command}: cannot load keys from {ns.keys}: {e.strerror or e}\n")
    except (ValueError, TypeError) as e:
        err.write(f"meterlink {ns.command}: cannot load keys from {ns.keys}: {e}\n")
    return False, None


def _load_dlms_keys(ns: argparse.Namespace, err: TextIO) -> Tuple[bool, Any]:
    """(loaded, keys in the ``meterlink.dlms.decode`` forms or None) from ``--ek``/``--ak`` or the
    JSON file of ``--keys``; says why on stderr when it cannot (never a key value)."""
    from meterlink.dlms import _normalise_keys

    keys: Any = None
    try:
        if ns.keys:
            with open(ns.keys, "rb") as f:
                try:
                    keys = json.loads(f.read().decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError) as e:
                    err.write(f"meterlink {ns.command}: cannot load keys from {ns.keys}: not JSON ({type(e).__name__})\n")
                    return False, None
        elif ns.ek:
            keys = {"ek": ns.ek, "ak": ns.ak}
        _normalise_keys(keys)  # checked now, not at the first ciphered message
    except MeterlinkError as e:
        err.write(f"meterlink {ns.command}: cannot load keys from {ns.keys or '--ek/--ak'}: {e}\n")
        return False, None
    except OSError as e:
        err.write(f"meterlink {ns.command}: cannot load keys from {ns.keys}: {e.strerror or e}\n")
        return False, None
    return True, keys


def _dlms_usage(ns: argparse.Namespace, err: TextIO) -> bool:
    """False after saying on stderr why the DLMS options do not fit together."""
    if ns.ak and not ns.ek:
        err.write(f"meterlink {ns.command}: --ak needs --ek\n")
        return False
    if ns.ek and ns.keys:
        err.write(f"meterlink {ns.command}: give keys as --ek/--ak or as --keys FILE, not both\n")
        return False
    return True


def _json_default(o: object) -> object:
    if isinstance(o, (bytes, bytearray, memoryview)):
        return bytes(o).hex()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def _cmd_decode_dlms(ns: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    import meterlink.dlms

    if ns.table:
        err.write("meterlink decode: --table applies to M-Bus telegrams; DLMS messages print as JSON\n")
        return 2
    if not _dlms_usage(ns, err):
        return 2
    loaded, keys = _load_dlms_keys(ns, err)
    if not loaded:
        return 1
    failed = 0
    for label, text in _frames_from(ns.frames, stdin):
        if text is None:
            failed += 1
            err.write(f"meterlink: {label}: not UTF-8 text\n")
            continue
        try:
            msg = meterlink.dlms.decode(text, keys, framing=ns.framing, strict=ns.strict)
        except MeterlinkError as e:
            failed += 1
            err.write(f"meterlink: {label}: {_reason(e)}\n")
            continue
        d = msg.to_dict()
        out.write(json.dumps(d, ensure_ascii=False, indent=2 if ns.pretty else None, default=_json_default) + "\n")
    return 1 if failed else 0


def _cmd_decode(ns: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    if ns.dlms:
        return _cmd_decode_dlms(ns, stdin, out, err)
    if ns.ek or ns.ak or ns.framing != "auto":
        err.write("meterlink decode: --ek, --ak and --framing apply to --dlms\n")
        return 2
    loaded, keys = _load_keys(ns, err)
    if not loaded:
        return 1
    opts: Dict[str, Any] = dict(
        keys=keys, link=ns.link, strict=ns.strict, tail=ns.tail, default_keys=ns.default_keys,
        accept_unprotected=ns.accept_unprotected,
    )
    failed = 0
    for label, text in _frames_from(ns.frames, stdin):
        if text is None:
            failed += 1
            err.write(f"meterlink: {label}: not UTF-8 text\n")
            continue
        try:
            tg = meterlink.decode(text, **opts)
        except MeterlinkError as e:
            failed += 1
            err.write(f"meterlink: {label}: {_reason(e)}\n")
            continue
        if ns.table:
            _table(tg, out)
            out.write("\n")
        else:
            out.write(json.dumps(tg.to_dict(), ensure_ascii=False, indent=2 if ns.pretty else None) + "\n")
    return 1 if failed else 0


def _fmt_duration(s: float) -> str:
    s = int(s)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class _Progress:
    """A one-line progress bar on stderr: telegrams, telegrams/s, share done and ETA."""

    def __init__(self, err: TextIO, enabled: bool) -> None:
        self.err = err
        self.enabled = enabled
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def update(self, done_frames: int, fraction: Optional[float], force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done_frames / elapsed
        if fraction is not None and fraction > 0:
            fraction = min(fraction, 1.0)
            width = 24
            bar = "#" * int(fraction * width)
            eta = elapsed * (1 - fraction) / fraction
            line = f"[{bar:<{width}}] {fraction * 100:5.1f}%  {done_frames:,} telegrams  {rate:,.0f}/s  ETA {_fmt_duration(eta)}"
        else:
            line = f"{done_frames:,} telegrams  {rate:,.0f}/s  {_fmt_duration(elapsed)}"
        self.err.write("\r" + line + "\x1b[K")
        self.err.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.err.write("\n")
            self.err.flush()


class _Totals:
    """Counts over a bulk run: frames, per status, records, and per error code when the
    telegrams table has an ``error_code`` column."""

    def __init__(self, statuses: Tuple[str, ...]) -> None:
        self.counts = dict.fromkeys(("frames",) + statuses + ("records",), 0)
        self.codes: Optional[Dict[str, int]] = None

    def add(self, batch: Any) -> None:
        for k, v in batch.counts.items():
            self.counts[k] += v
        if "error_code" in batch.telegrams.column_names:
            self._add_codes(batch.telegrams)

    def _add_codes(self, telegrams: Any) -> None:
        try:
            import pyarrow as pa
            import pyarrow.compute as pc
        except ImportError:  # the per-code line needs pyarrow; the rest of the summary does not
            return
        codes = self.codes if self.codes is not None else {}
        self.codes = codes
        column = pa.RecordBatchReader.from_stream(telegrams).read_all().column("error_code").drop_null()
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        for item in pc.value_counts(column).to_pylist():
            codes[item["values"]] = codes.get(item["values"], 0) + item["counts"]

    def codes_line(self) -> Optional[str]:
        """``  errors by code: wmbus_crc 2, no_key 1`` (most frequent first), or None when the
        tables had no ``error_code`` column."""
        if self.codes is None:
            return None
        ranked = sorted(self.codes.items(), key=lambda kv: (-kv[1], kv[0]))
        return "  errors by code: " + (", ".join(f"{code} {n:,}" for code, n in ranked) or "none")


def _usage_errors(ns: argparse.Namespace, err: TextIO) -> Optional[str]:
    """The output format of a bulk run, or None after saying on stderr what is wrong."""
    from meterlink.writers import output_format

    try:
        fmt = output_format(ns.output)
    except ValueError as e:
        err.write(f"meterlink bulk: {e}\n")
        return None
    return fmt


#: The most worker threads ``--threads`` accepts (more only costs memory and start-up time).
MAX_THREADS = 1024  # meterlink.bulk.MAX_THREADS


def _bounded_int(low: int, high: Optional[int] = None) -> Any:
    """An argparse type: an integer in ``low..=high``, else a usage error (exit 2) saying so."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
        if v < low or (high is not None and v > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {v}")
        return v

    return parse


def _fraction(reader: Any, i: int, n_inputs: int) -> Optional[float]:
    """The share of the run done: rows or bytes of input ``i`` of ``n_inputs``."""
    if reader.total_rows:
        frac = reader.rows_read / reader.total_rows
    elif reader.total_bytes:
        frac = reader.bytes_read / reader.total_bytes
    else:
        return None
    return (i + frac) / n_inputs if n_inputs > 1 else frac


def _run_bulk(ns: argparse.Namespace, fmt: str, keys: Any, totals: _Totals, progress: "_Progress") -> None:
    from meterlink.writers import BatchWriter

    store = meterlink.CounterStore(ns.replay_store) if ns.replay_store else None
    try:
        with BatchWriter(ns.output, fmt, layout=ns.layout, threads=ns.threads) as writer:
            _bulk_inputs(ns, keys, store, writer, totals, progress)
    finally:
        if store is not None:
            store.close()


def _bulk_inputs(ns: argparse.Namespace, keys: Any, store: Any, writer: Any, totals: _Totals, progress: "_Progress") -> None:
    """Decode every input into `writer`; the replay store (if any) is saved after each input."""
    from meterlink.bulk import iter_batches

    for i, path in enumerate(ns.inputs):
        reader = iter_batches(
            path, format=ns.format, keys=keys, link=ns.link, threads=ns.threads,
            batch_size=ns.batch_size, column=ns.column, strict=ns.strict, tail=ns.tail,
            max_line_length=ns.max_line_length, default_keys=ns.default_keys,
            accept_unprotected=ns.accept_unprotected, link_crc=ns.link_crc, counters=store,
        )
        for batch in reader:
            writer.write(batch)
            totals.add(batch)
            progress.update(totals.counts["frames"], _fraction(reader, i, len(ns.inputs)))
        if store is not None:
            store.save()
    if totals.counts["frames"] == 0:
        # No telegram at all: still write the file, empty, with the table schema.
        writer.write(meterlink.decode_batch([]))
    progress.update(totals.counts["frames"], 1.0, force=True)


class _DlmsTotals(_Totals):
    """Counts over a DLMS bulk run: messages, per status, OBIS rows, per error code."""

    def __init__(self, statuses: Tuple[str, ...]) -> None:
        super().__init__(statuses)
        self.counts = dict.fromkeys(("frames",) + statuses + ("obis",), 0)

    def add(self, batch: Any) -> None:
        for k, v in batch.counts.items():
            self.counts[k] += v
        self._add_codes(batch.messages)


class _AsTelegrams:
    """A ``DlmsBatch`` as ``BatchWriter`` writes a decoded batch: the messages with their OBIS
    rows nested, or (split layout) messages and OBIS rows as the two tables."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch
        self.telegrams = batch.messages
        self.records = batch.obis

    def nested(self) -> Any:
        return self.batch.nested()


def _dlms_bulk_usage(ns: argparse.Namespace, err: TextIO) -> bool:
    """False after saying on stderr which option does not apply to a DLMS run."""
    from meterlink.bulk import DLMS_FORMATS

    if not _dlms_usage(ns, err):
        return False
    if ns.format not in DLMS_FORMATS:
        err.write(f"meterlink bulk: --protocol {ns.protocol} reads --format {', '.join(DLMS_FORMATS)}, not {ns.format}\n")
        return False
    if ns.protocol == "p1" and ns.framing not in ("auto", "p1"):
        err.write(f"meterlink bulk: --protocol p1 is --framing p1, not {ns.framing}\n")
        return False
    return True


def _run_bulk_dlms(ns: argparse.Namespace, fmt: str, keys: Any, totals: _Totals, progress: "_Progress") -> None:
    from meterlink.bulk import iter_batches
    from meterlink.writers import BatchWriter

    framing = "p1" if ns.protocol == "p1" else ns.framing
    store = meterlink.CounterStore(ns.replay_store) if ns.replay_store else None
    try:
        with BatchWriter(ns.output, fmt, layout=ns.layout, threads=ns.threads) as writer:
            for i, path in enumerate(ns.inputs):
                reader = iter_batches(
                    path, format=ns.format, keys=keys, threads=ns.threads, protocol="dlms", framing=framing,
                    batch_size=ns.batch_size, column=ns.column, strict=ns.strict,
                    max_line_length=ns.max_line_length, counters=store,
                )
                for batch in reader:
                    writer.write(_AsTelegrams(batch))  # type: ignore[arg-type]
                    totals.add(batch)
                    progress.update(totals.counts["frames"], _fraction(reader, i, len(ns.inputs)))
                if store is not None:
                    store.save()
            if totals.counts["frames"] == 0:
                # No message at all: still write the file, empty, with the table schema.
                writer.write(_AsTelegrams(meterlink.decode_batch([], protocol="dlms")))  # type: ignore[arg-type]
    finally:
        if store is not None:
            store.close()
    progress.update(totals.counts["frames"], 1.0, force=True)


def _cmd_bulk_p1(ns: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``bulk --p1``: DSMR P2 telegrams (hex lines) to their P3 view as P1 text, one block per
    telegram (``meterlink.dsmr.write_p1``); keys from ``--keys``."""
    from meterlink.dsmr._p3 import write_p1

    loaded, keys = _load_keys(ns, err)
    if not loaded:
        return 1
    total = errors = 0
    try:
        dest: TextIO = out if ns.output == "-" else open(ns.output, "w", encoding="utf-8")
        try:
            for path in ns.inputs:
                t, e = write_p1(path, dest, keys, ns.p1_channel)
                total, errors = total + t, errors + e
        finally:
            if dest is not out:
                dest.close()
    except (OSError, MeterlinkError) as e:
        err.write(f"meterlink bulk: {_os_error(e) if isinstance(e, OSError) else _reason(e)}\n")
        return 1
    if not ns.quiet:
        err.write(f"meterlink bulk --p1: {total:,} telegrams, {errors:,} errors -> {ns.output}\n")
    return 0


def _cmd_bulk(ns: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    from meterlink.bulk import STATUSES

    if ns.p1:
        return _cmd_bulk_p1(ns, out, err)
    dlms = ns.protocol != "mbus"
    if dlms and not _dlms_bulk_usage(ns, err):
        return 2
    if not dlms and (ns.ek or ns.ak or ns.framing != "auto"):
        err.write("meterlink bulk: --ek, --ak and --framing apply to --protocol dlms and p1\n")
        return 2
    fmt = _usage_errors(ns, err)
    if fmt is None:
        return 2
    loaded, keys = _load_dlms_keys(ns, err) if dlms else _load_keys(ns, err)
    if not loaded:
        return 1
    totals = _DlmsTotals(STATUSES) if dlms else _Totals(STATUSES)
    show = not ns.quiet and (ns.progress or (ns.progress is None and err.isatty()))
    progress = _Progress(err, bool(show))
    start = time.monotonic()
    try:
        if dlms:
            _run_bulk_dlms(ns, fmt, keys, totals, progress)
        else:
            _run_bulk(ns, fmt, keys, totals, progress)
    except MeterlinkError as e:  # an archive that cannot be read: it names the file
        progress.close()
        err.write(f"meterlink bulk: {_reason(e)}\n")
        return 1
    except OSError as e:
        progress.close()
        err.write(f"meterlink bulk: {_os_error(e)}\n")
        return 1
    except ImportError as e:
        progress.close()
        err.write(f"meterlink bulk: {e} (pip install pyarrow)\n")
        return 1
    progress.close()
    elapsed = time.monotonic() - start
    if not ns.quiet:
        _summary(ns, totals, elapsed, err)
    return 0


def _os_error(e: OSError) -> str:
    """``path: reason`` for an I/O error (every one names its file)."""
    if e.filename is not None:
        return f"{e.filename}: {e.strerror or e}"
    return str(e)


def _summary(ns: argparse.Namespace, totals: _Totals, elapsed: float, err: TextIO) -> None:
    t = totals.counts
    rate = t["frames"] / elapsed if elapsed > 0 else 0.0
    if "obis" in t:
        err.write(
            f"meterlink bulk: {t['frames']:,} messages in {elapsed:.1f} s ({rate:,.0f}/s) -> {ns.output}\n"
            f"  decoded {t['ok']:,}, no key {t['no_key']:,}, frame errors {t['frame_error']:,}, "
            f"decode errors {t['decode_error']:,}, security errors {t['security_error']:,}; "
            f"{t['obis']:,} OBIS rows\n"
        )
        line = totals.codes_line()
        if line is not None:
            err.write(line + "\n")
        return
    err.write(
        f"meterlink bulk: {t['frames']:,} telegrams in {elapsed:.1f} s ({rate:,.0f}/s) -> {ns.output}\n"
        f"  decoded {t['ok']:,}, no key {t['no_key']:,}, frame errors {t['frame_error']:,}, "
        f"decode errors {t['decode_error']:,}, security errors {t['security_error']:,}; "
        f"{t['records']:,} records\n"
    )
    line = totals.codes_line()
    if line is not None:
        err.write(line + "\n")


#: The ``--link`` choices of both commands (the values ``meterlink.decode`` takes).
_LINKS = ("auto", "wired", "wireless", "wireless-a", "wireless-b", "wireless-nocrc")
#: The ``--tail`` choices of both commands.
_TAILS = ("auto", "strict", "keep")


def _add_decode_options(p: argparse.ArgumentParser) -> None:
    """The options ``decode`` and ``bulk`` share, spelled the same on both."""
    p.add_argument("--keys", help="key file (CSV id,key / manufacturer,id,key, or JSON)")
    p.add_argument(
        "--on-duplicate", default="error", choices=("error", "first", "last"),
        help="a meter given two different keys in the key file: an error (default), or keep the first / last entry",
    )
    p.add_argument(
        "--link", default="auto", choices=_LINKS,
        help="link layer: auto-detect, wired M-Bus, wireless M-Bus (frame format A/B auto, A, B, or without CRCs)",
    )
    p.add_argument(
        "--strict", action="store_true",
        help="an encrypted telegram without a key is an error (SecurityError / security_error), not a header-only result",
    )
    p.add_argument(
        "--tail", default="auto", choices=_TAILS,
        help="bytes after the last complete record: auto (wired: error, wireless: kept as undecoded), strict, keep",
    )
    p.add_argument(
        "--no-default-keys", dest="default_keys", action="store_false",
        help="do not try the public default keys on encrypted telegrams without a configured key",
    )
    p.add_argument(
        "--accept-unprotected", action="store_true",
        help="keep a keyed meter's payload that its key did not protect (a receiver that decrypts in the "
        "radio; else a SecurityError / security_error with code 'unprotected')",
    )


#: The ``--framing`` choices (DLMS/COSEM).
_FRAMINGS = ("auto", "hdlc", "wrapper", "mbus", "p1", "apdu")


def _add_dlms_options(p: argparse.ArgumentParser) -> None:
    """The DLMS/COSEM options ``decode --dlms`` and ``bulk --protocol dlms|p1`` share."""
    p.add_argument(
        "--framing", default="auto", choices=_FRAMINGS,
        help="DLMS framing: auto-detect, HDLC frame, TCP/UDP wrapper, DLMS over M-Bus, (encrypted) P1 telegram, bare APDU",
    )
    p.add_argument("--ek", metavar="HEX", help="DLMS encryption key for every server (with --ak; or --keys FILE, JSON)")
    p.add_argument("--ak", metavar="HEX", help="DLMS authentication key (with --ek)")


def _parser() -> argparse.ArgumentParser:
    from meterlink.archive import FORMATS

    p = argparse.ArgumentParser(prog="meterlink", description="Decode smart-meter telegrams.")
    p.add_argument("--version", action="version", version=f"meterlink {meterlink.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("decode", help="decode frames given as hex (or '-' for stdin, one per line)")
    d.add_argument("frames", nargs="+", metavar="HEX|-")
    _add_decode_options(d)
    d.add_argument("--dlms", action="store_true", help="decode DLMS/COSEM messages (print to_dict() as JSON)")
    _add_dlms_options(d)
    fmt = d.add_mutually_exclusive_group()
    fmt.add_argument("--table", action="store_true", help="readable table instead of JSON")
    fmt.add_argument("--pretty", action="store_true", help="indented JSON")
    d.set_defaults(func=_cmd_decode)

    b = sub.add_parser(
        "bulk",
        help="decode telegram archives (hex lines, rtl-wmbus, wmbusmeters logs, raw wired captures, "
        "Parquet/Arrow; .gz/.zst) to Parquet, Arrow, JSON lines or CSV",
        description="Decode telegram archives. Every input frame becomes one output row, with a status "
        "(ok, no_key, frame_error, decode_error, security_error). Exit status is non-zero only for I/O "
        "or usage errors, never for bad telegrams.",
    )
    b.add_argument("inputs", nargs="+", metavar="INPUT", help="archive files ('-' for stdin)")
    b.add_argument("-o", "--output", required=True, help="out.parquet, out.arrow, out.jsonl or out.csv")
    _add_decode_options(b)
    b.add_argument(
        "--protocol", default="mbus", choices=("mbus", "dlms", "p1"),
        help="mbus (default): M-Bus telegrams; dlms: DLMS/COSEM messages (hex lines, Parquet, Arrow); "
        "p1: encrypted or clear P1 telegrams (framing p1). DLMS output: a messages table and an OBIS table",
    )
    _add_dlms_options(b)
    b.add_argument(
        "--p1", action="store_true",
        help="DSMR P2 telegrams (hex lines, [timestamp;]hex) to their P3 view as DSMR P1 text lines, "
        "one block per telegram (keys from --keys); -o is a text file or '-'",
    )
    b.add_argument(
        "--p1-channel", type=_bounded_int(1, 4), default=1, metavar="X",
        help="the E-meter channel (1-4) the --p1 lines name (default 1)",
    )
    b.add_argument(
        "--threads", type=_bounded_int(1, MAX_THREADS), default=None,
        help=f"worker threads, 1 to {MAX_THREADS} (default: every core)",
    )
    b.add_argument(
        "--link-crc", default="source", choices=("source", "frame", "required"),
        help="source (default): when an input's frames carry wireless DLL CRCs, every frame must verify "
        "them; frame: each frame judged alone; required: always",
    )
    b.add_argument(
        "--replay-store", metavar="FILE",
        help="SQLite file of the last accepted counter per meter: a telegram whose counter is not greater "
        "is a security_error (replayed_counter); created if missing, saved after every input",
    )
    b.add_argument("--format", default="auto", choices=list(FORMATS))
    b.add_argument("--column", help="frame column of Parquet/Arrow inputs (default: 'frame' or the only binary column)")
    b.add_argument(
        "--layout", default="nested", choices=["nested", "split"],
        help="nested: one row per telegram with a records list; split: telegrams in OUT, records in "
        "OUT's stem + .records (always split for CSV)",
    )
    b.add_argument(
        "--batch-size", type=_bounded_int(1), default=1 << 14,
        help="frames per decoded piece (memory bound; at least 1)",
    )
    b.add_argument(
        "--max-line-length", type=_bounded_int(1), default=1 << 16,
        help="longest text-archive line in bytes (default 65536); a longer line is one error row (line_too_long)",
    )
    bar = b.add_mutually_exclusive_group()
    bar.add_argument("--progress", action="store_true", default=None, help="progress bar even when stderr is not a TTY")
    bar.add_argument("--quiet", "-q", action="store_true", help="no progress bar, no summary")
    b.set_defaults(func=_cmd_bulk)

    sv = sub.add_parser(
        "serve",
        help="run the head-end ingestion service (MQTT/HTTP/TCP/UDP/file intake → SQLite/PostgreSQL)",
        description="Run meterlink serve: receptions in, deduplicated and replay-checked telegrams, readings, "
        "receptions and rejections out into SQLite or PostgreSQL, until SIGINT/SIGTERM (graceful: the queue is "
        "drained and committed). Without --config: the embedded head-end (broker on 127.0.0.1:1883, HTTP on "
        "127.0.0.1:8080, SQLite meterlink.db).",
    )
    sv.add_argument("--config", metavar="FILE", help="the TOML configuration (docs: crates/meterlink-service/src/config.rs)")
    sv.add_argument("--keys", metavar="FILE", action="append", help="a key file (CSV manufacturer,id,key; repeatable; hot-reloaded)")
    sv.add_argument("--db", metavar="PATH", help="store into this SQLite file (overrides [store])")
    sv.set_defaults(func=_cmd_serve)

    lg = sub.add_parser(
        "loadgen",
        add_help=False,
        help="publish realistic wM-Bus/DSMR traffic of N meters through G gateways to MQTT (load tests)",
        description="The load generator of meterlink serve: --help lists its options.",
    )
    lg.add_argument("args", nargs=argparse.REMAINDER)
    lg.set_defaults(func=_cmd_loadgen)
    return p


def _cmd_loadgen(ns: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """``meterlink loadgen``: the service's load generator (options parsed in Rust); prints the
    summary JSON line. Exit 2 for bad options (the usage on stderr), 1 when publishing fails."""
    from meterlink._native import loadgen

    try:
        out.write(loadgen(list(ns.args)) + "\n")
    except ValueError as e:
        err.write(f"meterlink loadgen: {e}\n")
        return 0 if any(a in ("-h", "--help") for a in ns.args) else 2
    except OSError as e:
        err.write(f"meterlink loadgen: {e}\n")
        return 1
    return 0


def _cmd_serve(ns: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """``meterlink serve``: the head-end ingestion service (issue 15) until SIGINT/SIGTERM, or
    until its ``once`` file intakes are read and stored. Exit 2 for a bad configuration, 1 for
    a store, intake or I/O failure."""
    from meterlink._native import serve

    text = ""
    if ns.config is not None:
        try:
            with open(ns.config, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            err.write(f"meterlink serve: {_os_error(e)}\n")
            return 2
    try:
        serve(text, keys=ns.keys or None, db=ns.db)
    except KeyboardInterrupt:
        return 0
    except MeterlinkError as e:
        err.write(f"meterlink serve: {_reason(e)}\n")
        return 2 if getattr(e, "code", None) == "service_config" else 1
    return 0


def _quiet_stdout() -> None:
    """After a closed pipe (``meterlink decode - | head -1``): send what is left of stdout to
    the null device, so that the interpreter's final flush does not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Optional[Iterable[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["loadgen"]:
        # Its options are parsed in Rust (argparse would claim them for the main parser).
        ns = argparse.Namespace(args=args[1:], func=_cmd_loadgen)
    else:
        ns = _parser().parse_args(args)
    try:
        return int(ns.func(ns, sys.stdin, sys.stdout, sys.stderr))
    except BrokenPipeError:
        # The reader went away (a pager, `head`): stop quietly, status 0.
        _quiet_stdout()
        return 0


if __name__ == "__main__":
    sys.exit(main())
