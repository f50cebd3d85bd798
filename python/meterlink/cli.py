"""The ``meterlink`` command line.

    meterlink decode HEX [HEX ...]      decode frames given as arguments
    meterlink decode -                  decode one hex frame per line from stdin
    meterlink decode --table HEX        a readable table instead of JSON

Output is one JSON document per frame (JSON lines). Exit status: 0 when every frame decoded,
1 when any frame was rejected (one line on stderr per bad frame, saying why), 2 on usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Iterable, Iterator, List, Optional, TextIO, Tuple

import meterlink
from meterlink.exceptions import MeterlinkError

__all__ = ["main"]


def _frames_from(args: List[str], stdin: TextIO) -> Iterator[Tuple[str, str]]:
    """(label, hex) pairs: arguments, or stdin lines for '-'. Blank and '#' lines are skipped."""
    for arg in args:
        if arg == "-":
            for lineno, line in enumerate(stdin, 1):
                text = line.split("#", 1)[0].strip()
                if text:
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


def _cmd_decode(ns: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    failed = 0
    for label, text in _frames_from(ns.frames, stdin):
        try:
            tg = meterlink.decode(text, link=ns.link)
        except MeterlinkError as e:
            failed += 1
            err.write(f"meterlink: {label}: {type(e).__name__}: {e}\n")
            continue
        if ns.table:
            _table(tg, out)
            out.write("\n")
        else:
            out.write(json.dumps(tg.to_dict(), ensure_ascii=False, indent=2 if ns.pretty else None) + "\n")
    return 1 if failed else 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="meterlink", description="Decode smart-meter telegrams.")
    p.add_argument("--version", action="version", version=f"meterlink {meterlink.__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("decode", help="decode frames given as hex (or '-' for stdin, one per line)")
    d.add_argument("frames", nargs="+", metavar="HEX|-")
    d.add_argument("--link", choices=["auto", "wired", "wireless"], default="auto")
    fmt = d.add_mutually_exclusive_group()
    fmt.add_argument("--table", action="store_true", help="readable table instead of JSON")
    fmt.add_argument("--pretty", action="store_true", help="indented JSON")
    d.set_defaults(func=_cmd_decode)
    return p


def main(argv: Optional[Iterable[str]] = None) -> int:
    ns = _parser().parse_args(None if argv is None else list(argv))
    try:
        return int(ns.func(ns, sys.stdin, sys.stdout, sys.stderr))
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
