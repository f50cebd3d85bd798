"""Meter keys: loading key files, and the one place that turns a ``keys=`` argument into what
the native decoder takes.

A key file is CSV (``id,key`` or ``manufacturer,id,key`` per line; a header line and ``#``
comments are allowed; ``,``, ``;`` or tab separate) or JSON (``{"12345678": "0011…", …}``).
IDs are as printed (8 digits, or hex digits for a non-BCD ID); keys are 32 hex digits (AES-128)
or 16 (DES).

Every ``keys=`` argument of the package (``decode_batch``, ``iter_batches``, the Dask functions,
the command line) accepts the same forms, resolved by :func:`keystore`: ``None``, a
:class:`KeyStore`, a dict ``{id: key}``, or the path of a key file.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Mapping, Optional, Union

from meterlink._native import KeyStore

__all__ = ["KeyStore", "KeysArg", "keystore", "load_keys"]

#: What a ``keys=`` argument may be: nothing, a KeyStore, a dict ``{id: key}`` or a key file path.
KeysArg = Union[None, KeyStore, Mapping[str, Union[str, bytes]], str, "os.PathLike[str]"]


def load_keys(source: Union[str, "os.PathLike[str]", Mapping[str, Union[str, bytes]]]) -> KeyStore:
    """A :class:`KeyStore` from a dict, a ``.json`` file, or a CSV file."""
    if isinstance(source, Mapping):
        return KeyStore(dict(source))
    path = os.fspath(source)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.lower().endswith(".json") or text.lstrip().startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a JSON key file must hold an object {{id: key}}")
        return KeyStore(data)
    return KeyStore.from_csv_text(text)


@functools.lru_cache(maxsize=8)
def _load_cached(path: str, mtime: float) -> KeyStore:
    return load_keys(path)


def keystore(keys: KeysArg, *, cached: bool = False) -> Optional[KeyStore]:
    """The :class:`KeyStore` (or ``None``) for a ``keys=`` argument, built once so that every
    chunk of a batch shares it.

    ``cached=True`` keeps key files loaded per process (keyed by path and modification time):
    for per-partition functions such as :func:`meterlink.dask.decode_partition`, which are called
    many times with the same path.
    """
    if keys is None or isinstance(keys, KeyStore):
        return keys
    if isinstance(keys, Mapping):
        return KeyStore(dict(keys))
    if isinstance(keys, (str, os.PathLike)):
        if cached:
            path = os.fspath(keys)
            return _load_cached(path, os.path.getmtime(path))
        return load_keys(keys)
    raise TypeError("keys must be a KeyStore, a dict, or the path of a key file")
