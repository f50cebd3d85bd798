"""Replay protection: :class:`CounterStore`, the last accepted message counter per meter.

A telegram verified with a key (``integrity`` other than ``none``) that carries a message
counter (AFL MCR, TPL message counter, DSMR frame counter, ELL session number: see
``Telegram.counters``) must count up: EN 13757-7 7.5.8 and DSMR P2 5.2 have the receiver reject
a counter that is not greater than the last one it accepted from that meter and key ID, and
store a counter only after the telegram verified. Pass a store as ``counters=`` to
:func:`meterlink.decode` (raises :class:`~meterlink.SecurityError` with code
``replayed_counter``) or to the batch decoders (the row gets status ``security_error`` and no
records).

The counters live in the native object (thread-safe); this wrapper only persists them in a
SQLite file (Python's :mod:`sqlite3`): read when the store is opened, written by
:meth:`CounterStore.save` / :meth:`CounterStore.close` / the ``with`` block in one transaction.
A save merges: the file keeps the higher counter of each meter, so it never goes back, even
when two processes share it. Memory: one entry per (meter, key ID), not bounded.

DLMS/COSEM invocation counters (``meterlink.dlms.decode(..., counters=store)``) are kept per
sender system title and key kind in the same store (table ``dlms_counters``): an authenticated
APDU whose counter is not greater than the last accepted one is a ``SecurityError`` with code
``cipher_replayed_counter``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from types import TracebackType
from typing import Optional, Type, Union

from meterlink import _native

__all__ = ["CounterStore"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS counters (
    manufacturer TEXT NOT NULL,
    id TEXT NOT NULL,
    key_id INTEGER NOT NULL,
    counter INTEGER NOT NULL,
    PRIMARY KEY (manufacturer, id, key_id)
)"""

_DLMS_SCHEMA = """CREATE TABLE IF NOT EXISTS dlms_counters (
    system_title TEXT NOT NULL,
    key TEXT NOT NULL,
    counter INTEGER NOT NULL,
    PRIMARY KEY (system_title, key)
)"""

_DLMS_UPSERT = """INSERT INTO dlms_counters (system_title, key, counter) VALUES (?, ?, ?)
ON CONFLICT (system_title, key) DO UPDATE SET counter = max(counter, excluded.counter)"""

_UPSERT = """INSERT INTO counters (manufacturer, id, key_id, counter) VALUES (?, ?, ?, ?)
ON CONFLICT (manufacturer, id, key_id) DO UPDATE SET counter = max(counter, excluded.counter)"""


class CounterStore(_native.CounterStore):
    """The last accepted counter per (meter, key ID); in memory, or backed by the SQLite file
    ``path`` (created if missing; its counters are loaded now).

    >>> with CounterStore("counters.db") as store:  # doctest: +SKIP
    ...     tg = meterlink.decode(frame, keys=keys, counters=store)
    """

    path: Optional[str]

    def __new__(cls, path: Union[str, "os.PathLike[str]", None] = None) -> "CounterStore":
        return super().__new__(cls)

    def __init__(self, path: Union[str, "os.PathLike[str]", None] = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self._lock = threading.Lock()
        self._db: Optional[sqlite3.Connection] = None
        if self.path is not None:
            db = sqlite3.connect(self.path, check_same_thread=False)
            try:
                with db:
                    db.execute(_SCHEMA)
                    db.execute(_DLMS_SCHEMA)
                rows = db.execute("SELECT manufacturer, id, key_id, counter FROM counters").fetchall()
                self.load([(str(m), str(i), int(k), int(c)) for m, i, k, c in rows])
                dlms = db.execute("SELECT system_title, key, counter FROM dlms_counters").fetchall()
                self.load_dlms([(str(t), str(k), int(c)) for t, k, c in dlms])
            except BaseException:
                db.close()
                raise
            self._db = db

    def save(self) -> None:
        """Write every counter to the file, in one transaction (nothing without a file)."""
        with self._lock:
            if self._db is None:
                return
            with self._db:
                self._db.executemany(_UPSERT, self.entries())
                self._db.executemany(_DLMS_UPSERT, self.dlms_entries())

    def close(self) -> None:
        """Save and close the file (idempotent)."""
        with self._lock:
            db, self._db = self._db, None
            if db is None:
                return
            try:
                with db:
                    db.executemany(_UPSERT, self.entries())
                    db.executemany(_DLMS_UPSERT, self.dlms_entries())
            finally:
                db.close()

    def __enter__(self) -> "CounterStore":
        return self

    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f" at {self.path!r}" if self.path is not None else ""
        return f"<CounterStore {len(self)} meters{where}>"
