"""meterlink against pymbusparser and pyMeterBus on the same frames, in one run.

    pip install pymbusparser pyMeterBus      # benchmark-only, not test dependencies
    python benches/compare_peers.py [--n 200000] [--threads 1]

Frames: the wired heat meter with 20 records (frames.HEAT_20) and the OMS mode-5 wireless telegram
(frames.MODE5: AES-CBC decryption and 2F2F verification, then its records). Each decoder gets the
same frames and produces its full result for each:
- meterlink: ``decode_batch`` on one thread, ``BATCH`` frames a call, output materialised as
  Arrow (telegrams and records tables read into pyarrow); also the per-telegram ``decode(...).to_dict()`` for reference;
- pymbusparser: ``parse(frame, key=...)`` (Rust core, Python dict out);
- pyMeterBus: ``meterbus.load(frame)`` plus reading every record value (pure Python; wired only).
Each decoder runs for at least ``--seconds`` and the best of three rounds is reported.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable, Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import meterlink  # noqa: E402
from frames import HEAT_20, MODE5  # noqa: E402


def rate(fn: Callable[[int], int], seconds: float) -> float:
    """Frames per second of `fn(n)` (which decodes n frames and returns how many it did)."""
    best = 0.0
    n = 1000
    for _ in range(3):
        while True:
            t0 = time.perf_counter()
            done = fn(n)
            dt = time.perf_counter() - t0
            if dt >= seconds / 3 or n >= 10_000_000:
                break
            n = int(n * max(2.0, seconds / 3 / max(dt, 1e-6)))
        best = max(best, done / dt)
    return best


# Frames per decode_batch call. A long run is decoded batch after batch, each materialised and
# released, as `iter_batches` and `meterlink bulk` do: memory stays bounded and is reused. (One
# call over millions of frames materialises gigabytes of records; there the first touch of fresh
# pages by the kernel, not decoding, sets the rate.)
BATCH = 100_000


def meterlink_batch(frame: bytes, keys: Optional[dict], threads: int) -> Callable[[int], int]:
    import pyarrow as pa

    store = meterlink.KeyStore(keys) if keys else None
    frames = [frame] * BATCH

    def run(n: int) -> int:
        done = 0
        while done < n:
            k = min(BATCH, n - done)
            b = meterlink.decode_batch(frames if k == BATCH else frames[:k], keys=store, threads=threads)
            t = pa.RecordBatchReader.from_stream(b.telegrams).read_all()
            r = pa.RecordBatchReader.from_stream(b.records).read_all()
            assert t.num_rows == k and r.num_rows > 0 and b.counts["ok"] == k
            done += k
        return done

    return run


def meterlink_dicts(frame: bytes, keys: Optional[dict]) -> Callable[[int], int]:
    store = meterlink.KeyStore(keys) if keys else None

    def run(n: int) -> int:
        for _ in range(n):
            meterlink.decode(frame, keys=store).to_dict()
        return n

    return run


def pymbusparser_fn(frame: bytes, keys: Optional[dict]) -> Optional[Callable[[int], int]]:
    try:
        import pymbusparser
    except ImportError:
        return None
    key = bytes.fromhex(next(iter(keys.values()))) if keys else None

    def run(n: int) -> int:
        for _ in range(n):
            pymbusparser.parse(frame, key=key)
        return n

    return run


def pymeterbus_fn(frame: bytes, keys: Optional[dict]) -> Optional[Callable[[int], int]]:
    if keys:
        return None  # pyMeterBus has no wM-Bus security
    try:
        import meterbus
    except ImportError:
        return None

    def run(n: int) -> int:
        for _ in range(n):
            t = meterbus.load(frame)
            for r in t.body.bodyPayload.records:
                r.value
        return n

    return run


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="time per decoder and case")
    ap.add_argument("--threads", type=int, default=1, help="meterlink batch threads")
    ns = ap.parse_args(argv)
    cases = {"wired, 20 records": (HEAT_20, None), "wireless mode 5 (decrypt + records)": (MODE5[0], MODE5[1])}
    print(f"{'case':38} {'decoder':40} {'telegrams/s':>14} {'meterlink ×':>12}")
    for name, (frame, keys) in cases.items():
        results: Dict[str, float] = {}
        label = f"meterlink decode_batch → Arrow ({ns.threads} thr)"
        results[label] = rate(meterlink_batch(frame, keys, ns.threads), ns.seconds)
        results["meterlink decode().to_dict()"] = rate(meterlink_dicts(frame, keys), ns.seconds)
        for peer, make in (("pymbusparser parse()", pymbusparser_fn), ("pyMeterBus load() + values", pymeterbus_fn)):
            fn = make(frame, keys)
            if fn is not None:
                results[peer] = rate(fn, ns.seconds)
        ref = results[label]
        for dec, r in results.items():
            print(f"{name:38} {dec:40} {r:14,.0f} {ref / r:11.1f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
