"""Loading meter keys from files.

A key file is CSV (``id,key`` or ``manufacturer,id,key`` per line; a header line and ``#``
comments are allowed; ``,``, ``;`` or tab separate) or JSON (``{"12345678": "0011…", …}``).
IDs are as printed (8 digits, or hex digits for a non-BCD ID); keys are 32 hex digits (AES-128)
or 16 (DES).
"""

from __future__ import annotations

import json
import os
from typing import Mapping, Union

from meterlink._native import KeyStore

__all__ = ["KeyStore", "load_keys"]


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
