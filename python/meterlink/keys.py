"""Meter keys: loading key files, and the one place that turns a ``keys=`` argument into what
the native decoder takes.

A key file is CSV (``id,key`` or ``manufacturer,id,key`` per line; ``#`` comments are allowed;
``,``, ``;`` or tab separate) or JSON (``{"12345678": "0011…", …}``). IDs are as printed (8
digits, or hex digits for a non-BCD ID); keys are 32 hex digits (AES-128) or 16 (DES).

A CSV header is recognised by its column names, never by failing to parse: the first line is a
header when one of its columns is ``id``/``meter``/``meter_id``/``meterid``, ``key``/``aes_key``/
``aeskey`` or ``manufacturer``/``mfct``/``mfr``/``manufacturer_code`` (any case); it must then
name an id and a key column, and a header in another order fixes the column order (other
columns are ignored). Any other first line is data (``KAM,<key>`` is an error, not a header).

A meter named twice (same manufacturer, or none, and ID) with different keys is an error naming
both lines, unless ``on_duplicate="first"`` or ``"last"`` says which entry wins (the same key
twice is accepted). Errors name the file, line and
column, never a value from the file (a swapped column could be a key).

Every ``keys=`` argument of the package (``decode_batch``, ``iter_batches``, the Dask functions,
the command line) accepts the same forms, resolved by :func:`keystore`: ``None``, a
:class:`KeyStore`, a dict ``{id: key}``, or the path of a key file.
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any, List, Mapping, Optional, Tuple, Union

from meterlink._native import KeyStore
from meterlink.exceptions import MeterlinkError

__all__ = ["KeyStore", "KeysArg", "keystore", "load_keys"]

#: What a ``keys=`` argument may be: nothing, a KeyStore, a dict ``{id: key}`` or a key file path.
KeysArg = Union[None, KeyStore, Mapping[str, Union[str, bytes]], str, "os.PathLike[str]"]


def load_keys(
    source: Union[str, "os.PathLike[str]", Mapping[str, Union[str, bytes]]],
    *,
    on_duplicate: str = "error",
    format: Optional[str] = None,
) -> KeyStore:
    """A :class:`KeyStore` from a dict, a JSON file or a CSV file (``format="json"`` / ``"csv"``,
    by default a ``.json`` name or text starting with ``{`` is JSON). ``on_duplicate``:
    ``"error"`` (default), ``"first"`` or ``"last"``."""
    if isinstance(source, Mapping):
        return KeyStore(dict(source), on_duplicate=on_duplicate)  # type: ignore[arg-type]
    path = os.fspath(source)
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MeterlinkError(f"{path}: not UTF-8 text (byte {e.start})", None, "argument") from None
    if format == "json" or (format is None and (path.lower().endswith(".json") or text.lstrip().startswith("{"))):
        entries = _json_entries(text, path)
        return KeyStore._from_entries(entries, on_duplicate=on_duplicate, source=path)  # type: ignore[arg-type]
    if format not in (None, "csv"):
        raise ValueError(f"format must be 'csv' or 'json', not {format!r}")
    return KeyStore.from_csv_text(text, on_duplicate=on_duplicate, source=path)  # type: ignore[arg-type]


_WS = re.compile(r"[ \t\n\r]*")


def _json_entries(text: str, path: str) -> List[Tuple[Any, Any, int]]:
    """The ``(name, value, line)`` entries of a flat JSON object, in file order, duplicates kept
    (``json.loads`` would silently keep the last). Messages never quote the file."""
    dec = json.JSONDecoder()
    entries: List[Tuple[Any, Any, int]] = []
    line, counted = 1, 0

    def fail(why: str) -> MeterlinkError:
        return MeterlinkError(f"{path}: not a JSON key file: {why}", None, "argument")

    def skip(i: int) -> int:
        return _WS.match(text, i).end()  # type: ignore[union-attr]

    i = skip(0)
    if text[i : i + 1] != "{":
        raise fail("a JSON key file must hold an object {id: key}")
    i = skip(i + 1)
    try:
        while text[i : i + 1] != "}":
            line, counted = line + text.count("\n", counted, i), i
            name, i = dec.raw_decode(text, i)
            i = skip(i)
            if not isinstance(name, str) or text[i : i + 1] != ":":
                raise fail(f"line {line}: expected \"id\": \"key\"")
            value, i = dec.raw_decode(text, skip(i + 1))
            entries.append((name, value, line))
            i = skip(i)
            if text[i : i + 1] == ",":
                i = skip(i + 1)
                if text[i : i + 1] == "}":
                    raise fail(f"line {line + text.count(chr(10), counted, i)}: a ',' before '}}'")
            elif text[i : i + 1] != "}":
                raise fail(f"line {line + text.count(chr(10), counted, i)}: expected ',' or '}}'")
    except json.JSONDecodeError as e:
        raise fail(f"line {e.lineno}, column {e.colno}: {e.msg}") from None
    if skip(i + 1) != len(text):
        raise fail("text after the object")
    return entries


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float, on_duplicate: str) -> KeyStore:
    return load_keys(path, on_duplicate=on_duplicate)


def keystore(keys: KeysArg, *, cached: bool = False, on_duplicate: str = "error") -> Optional[KeyStore]:
    """The :class:`KeyStore` (or ``None``) for a ``keys=`` argument, built once so that every
    chunk of a batch shares it.

    ``cached=True`` keeps key files loaded per process (keyed by path and modification time):
    for per-partition functions such as :func:`meterlink.dask.decode_partition`, which are called
    many times with the same path.
    """
    if keys is None or isinstance(keys, KeyStore):
        return keys
    if isinstance(keys, Mapping):
        return KeyStore(dict(keys), on_duplicate=on_duplicate)  # type: ignore[arg-type]
    if isinstance(keys, (str, os.PathLike)):
        if cached:
            path = os.fspath(keys)
            return _load_cached(path, os.path.getmtime(path), on_duplicate)
        return load_keys(keys, on_duplicate=on_duplicate)
    raise TypeError("keys must be a KeyStore, a dict, or the path of a key file")
