"""Replay protection (issue 12): CounterStore with decode(), the batch decoders and SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any, Dict, List, Optional

import pytest

import meterlink
from meterlink import CounterStore, SecurityError
from meterlink._native import LineReader, _decode_batch

KEY = bytes(range(16))
WRONG = bytes([9] * 16)
KEYS = {"KAM12345678": KEY, "KAM11111111": KEY}


def frame(counter: int, meter: str = "12345678", key: bytes = KEY, mode: int = 7, key_id: int = 0) -> bytes:
    rec = meterlink.encode_record(0x13, counter) + meterlink.encode_record(0x5B, 21)
    return meterlink.encode(
        rec, link="wireless", c=0x44, id=meter, mode=mode, message_counter=counter, key=key, key_id=key_id
    )


def test_the_same_mode7_frame_twice_is_a_replay() -> None:
    store = CounterStore()
    f = frame(5)
    tg = meterlink.decode(f, keys=KEYS, counters=store)
    assert tg.counters["afl_message_counter"] == 5 and len(tg.records) == 2
    with pytest.raises(SecurityError) as e:
        meterlink.decode(f, keys=KEYS, counters=store)
    assert e.value.code == "replayed_counter"
    assert e.value.offset is None
    assert "KAM 12345678 (key ID 0) sent counter 5" in str(e.value)
    assert store.last("KAM", "12345678") == 5
    # Without counters= nothing is checked.
    assert len(meterlink.decode(f, keys=KEYS).records) == 2


def test_lower_rejected_with_the_last_value_higher_accepted() -> None:
    store = CounterStore()
    meterlink.decode(frame(10), keys=KEYS, counters=store)
    with pytest.raises(SecurityError, match="sent counter 9, not greater than the last accepted counter 10$"):
        meterlink.decode(frame(9), keys=KEYS, counters=store)
    assert store.last("KAM", "12345678") == 10
    assert meterlink.decode(frame(11), keys=KEYS, counters=store).counters["afl_message_counter"] == 11
    assert store.last("KAM", "12345678") == 11
    # Another key ID of the same meter has its own counter; the message never shows a key.
    meterlink.decode(frame(1, key_id=2), keys=KEYS, counters=store)
    assert store.entries() == [("KAM", "12345678", 0, 11), ("KAM", "12345678", 2, 1)]
    with pytest.raises(SecurityError) as e:
        meterlink.decode(frame(1, key_id=2), keys=KEYS, counters=store)
    assert KEY.hex() not in str(e.value).lower()


def test_wrong_key_or_unverified_never_moves_the_counter() -> None:
    store = CounterStore()
    meterlink.decode(frame(5), keys=KEYS, counters=store)
    with pytest.raises(SecurityError) as e:
        meterlink.decode(frame(50, key=WRONG), keys=KEYS, counters=store)
    assert e.value.code == "afl_mac"
    # No key: nothing verified the counter; passes, records nothing.
    tg = meterlink.decode(frame(60), counters=store)
    assert tg.integrity == "none" and tg.records == []
    assert store.last("KAM", "12345678") == 5 and len(store) == 1
    # check() alone does not record; accept() of an unverified telegram does nothing.
    store.accept(tg)
    ok = meterlink.decode(frame(6), keys=KEYS)
    store.check(ok)
    assert store.last("KAM", "12345678") == 5
    store.accept(ok)
    assert store.last("KAM", "12345678") == 6
    with pytest.raises(SecurityError):
        store.check(ok)
    # A mode without a message counter (5) is never a replay.
    for _ in range(2):
        meterlink.decode(frame(0, mode=5), keys=KEYS, counters=store)
    assert len(store) == 1


def _rows(b: Any) -> List[Dict[str, Any]]:
    t = b.telegrams.to_pyarrow().to_pylist()
    return [{k: r[k] for k in ("index", "status", "error", "error_code", "error_offset", "record_count")} for r in t]


def _frames() -> List[bytes]:
    out = []
    for i, c in enumerate([1, 2, 2, 3, 1, 5, 4, 5, 6]):
        out.append(frame(c))
        out.append(frame(1 + i // 2, meter="11111111"))
        if i % 3 == 0:
            out.append(frame(100, key=WRONG))
            out.append(frame(7, meter="22222222"))
    return out


def test_batch_replays_are_the_same_for_any_threads_and_chunks() -> None:
    frames = _frames()
    single = CounterStore()
    expected: List[Optional[str]] = []
    for f in frames:
        try:
            meterlink.decode(f, keys=KEYS, counters=single)
            expected.append(None)
        except SecurityError as e:
            expected.append(e.code)
    assert expected.count("replayed_counter") == 8
    seen = []
    for threads in (1, 2):
        for chunk in range(1, len(frames) + 1):
            store = CounterStore()
            b = _decode_batch(frames, KEYS, threads=threads, chunk_rows=chunk, counters=store)
            rows = _rows(b)
            assert [r["error_code"] for r in rows if r["status"] != "no_key"] == [
                c for c, r in zip(expected, rows) if r["status"] != "no_key"
            ]
            assert store.entries() == single.entries()
            seen.append((rows, b.records.to_pyarrow().to_pylist(), b.counts))
    assert all(s == seen[0] for s in seen)
    rows, records, counts = seen[0]
    replayed = [r for r in rows if r["error_code"] == "replayed_counter"]
    assert all(r["status"] == "security_error" and r["record_count"] == 0 for r in replayed)
    assert all(r["error_offset"] is None and "not greater than" in r["error"] for r in replayed)
    gone = {r["index"] for r in replayed}
    assert records and not gone & {r["frame_index"] for r in records}
    assert counts["records"] == len(records) == sum(r["record_count"] for r in rows)
    assert counts["security_error"] == 8 + 3
    # The same frames again: every verified one is now a replay.
    b = _decode_batch(frames, KEYS, counters=single)
    assert {r["error_code"] for r in _rows(b)} == {"replayed_counter", "afl_mac", None}
    assert b.counts["ok"] == 0


def test_arrow_input_and_line_reader() -> None:
    pa = pytest.importorskip("pyarrow")
    frames = [frame(3), frame(3), frame(4)]
    store = CounterStore()
    b = _decode_batch(pa.array(frames, pa.binary()), KEYS, counters=store)
    assert [r["error_code"] for r in _rows(b)] == [None, "replayed_counter", None]
    reader = LineReader("hex")
    reader.feed(b"".join(f.hex().encode() + b"\n" for f in [frame(4), frame(5), frame(5), frame(6)]))
    store2 = CounterStore()
    got = []
    while True:
        part = reader.decode_next(1, last=True, keys=KEYS, counters=store2)
        if part is None:
            break
        got += [r["error_code"] for r in _rows(part)]
    assert got == [None, None, "replayed_counter", None]
    # Each store carries over from call to call (one row per decode_next above).
    assert store.last("KAM", "12345678") == 4 and store2.last("KAM", "12345678") == 6


def test_sqlite_round_trip(tmp_path: Any) -> None:
    path = tmp_path / "counters.db"
    with CounterStore(path) as store:
        meterlink.decode(frame(7), keys=KEYS, counters=store)
        meterlink.decode(frame(2, meter="11111111", key_id=1), keys=KEYS, counters=store)
        assert "2 meters" in repr(store)
    with sqlite3.connect(path) as db:
        rows = sorted(db.execute("SELECT manufacturer, id, key_id, counter FROM counters"))
    assert rows == [("KAM", "11111111", 1, 2), ("KAM", "12345678", 0, 7)]
    reopened = CounterStore(str(path))
    assert reopened.entries() == [("KAM", "11111111", 1, 2), ("KAM", "12345678", 0, 7)]
    with pytest.raises(SecurityError, match="last accepted counter 7"):
        meterlink.decode(frame(7), keys=KEYS, counters=reopened)
    meterlink.decode(frame(8), keys=KEYS, counters=reopened)
    # A save merges with the file: a stale store never moves a counter back.
    stale = CounterStore(path)
    reopened.save()
    stale.load([("KAM", "12345678", 0, 3)])
    stale.close()
    reopened.close()
    reopened.close()
    assert CounterStore(path).last("KAM", "12345678") == 8


def test_malformed_entries_are_rejected() -> None:
    store = CounterStore()
    with pytest.raises(meterlink.MeterlinkError) as e:
        store.load([("KAM", "1234567X", 0, 1)])
    assert e.value.code == "key_meter_id"
    with pytest.raises(meterlink.MeterlinkError):
        store.load([("KA", "12345678", 0, 1)])
    assert len(store) == 0
    with pytest.raises(OverflowError):
        store.load([("KAM", "12345678", 0, 1 << 32)])
