"""Bulk decoding benchmarks (pytest-benchmark) and the archive / key-store measurements.

    .venv/bin/python -m pytest benches/test_bench_batch.py --benchmark-enable
    .venv/bin/python benches/test_bench_batch.py archive [--frames 10000000]   # streaming + peak RSS
    .venv/bin/python benches/test_bench_batch.py keys [--keys 1000000]          # key-store loading
    .venv/bin/python benches/test_bench_batch.py scaling [--rounds 12]          # 1 vs 2 threads

Throughput is telegrams per second with the output materialised as Arrow (both tables read into
pyarrow). No wall-clock assertion anywhere: the numbers go in the notes, not in pass/fail.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import meterlink  # noqa: E402
from frames import HEAT_20, MODE5  # noqa: E402

N = 100_000


def _materialise(batch):
    import pyarrow as pa

    t = pa.RecordBatchReader.from_stream(batch.telegrams).read_all()
    r = pa.RecordBatchReader.from_stream(batch.records).read_all()
    return t.num_rows, r.num_rows


def _run(frames, keys, threads):
    return _materialise(meterlink.decode_batch(frames, keys=keys, threads=threads))


try:
    import pytest

    @pytest.mark.parametrize("threads", [1, 2])
    def test_batch_wired_20_records(benchmark, threads):
        frames = [HEAT_20] * N
        t, r = benchmark(_run, frames, None, threads)
        assert (t, r) == (N, 20 * N)

    @pytest.mark.parametrize("threads", [1, 2])
    def test_batch_mode5(benchmark, threads):
        frame, keys = MODE5
        store = meterlink.KeyStore(keys)
        frames = [frame] * N
        t, r = benchmark(_run, frames, store, threads)
        assert t == N and r == 3 * N

    def test_keystore_bulk_load(benchmark):
        text = key_csv(100_000)
        ks = benchmark(meterlink.KeyStore.from_csv_text, text)
        assert len(ks) == 100_000

except ImportError:  # run as a script without pytest
    pass


def key_csv(n: int) -> str:
    return "id,key\n" + "".join(f"{i:08d},{(i * 2654435761) & ((1 << 128) - 1):032X}\n" for i in range(n))


def bench_keys(n: int) -> None:
    text = key_csv(n)
    t0 = time.perf_counter()
    ks = meterlink.KeyStore.from_csv_text(text)
    t1 = time.perf_counter()
    path = "/tmp/meterlink-bench-keys.csv"
    with open(path, "w") as f:
        f.write(text)
    t2 = time.perf_counter()
    ks2 = meterlink.load_keys(path)
    t3 = time.perf_counter()
    os.unlink(path)
    assert len(ks) == len(ks2) == n
    print(f"{n:,} keys: KeyStore.from_csv_text {t1 - t0:.3f} s, load_keys(file) {t3 - t2:.3f} s")


def make_archive(path: str, n: int) -> None:
    """`timestamp;hex` lines cycling through a wired 20-record frame, a wired 3-record frame and a
    mode-5 wireless telegram, gzip-compressed (level 1)."""
    import gzip

    gas = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916"
    mix = [HEAT_20.hex().upper(), gas, MODE5[0].hex().upper()]
    lines = [f"2024-01-01T00:00:{i % 60:02d};{mix[i % 3]}\n" for i in range(3 * 20)]
    block = "".join(lines).encode()
    with gzip.open(path, "wb", compresslevel=1) as f:
        full, rest = divmod(n, len(lines))
        for _ in range(full):
            f.write(block)
        f.write("".join(lines[:rest]).encode())


def bench_archive(n: int, threads: int) -> None:
    src = f"/tmp/meterlink-bench-{n}.txt.gz"
    out = f"/tmp/meterlink-bench-{n}.parquet"
    keys = "/tmp/meterlink-bench-keys.json"
    with open(keys, "w") as f:
        f.write('{"%s": "%s"}' % next(iter(MODE5[1].items())))
    if not os.path.exists(src):
        t0 = time.perf_counter()
        make_archive(src, n)
        print(f"generated {src} ({os.path.getsize(src) / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
    cmd = [sys.executable, "-m", "meterlink", "bulk", src, "--keys", keys, "-o", out, "--threads", str(threads)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{n:,} telegrams → {out} ({os.path.getsize(out) / 1e6:.0f} MB) in {dt:.1f} s "
        f"({n / dt:,.0f}/s), peak RSS {peak:.0f} MB, {threads} threads"
    )


def bench_scaling(rounds: int) -> None:
    """Wired-20 and mode-5 at 1 and 2 threads, the four runs interleaved round after round (a
    noisy machine then hits every case alike); best and median rates and the 2-thread ratio."""
    import statistics

    frame, keys = MODE5
    cases = {"wired-20": ([HEAT_20] * N, None), "mode-5": ([frame] * N, meterlink.KeyStore(keys))}
    rates: dict = {}
    for _ in range(rounds):
        for name, (frames, store) in cases.items():
            for threads in (1, 2):
                t0 = time.perf_counter()
                _run(frames, store, threads)
                rates.setdefault((name, threads), []).append(N / (time.perf_counter() - t0))
    for name in cases:
        one, two = rates[(name, 1)], rates[(name, 2)]
        print(
            f"{name}: 1 thread best {max(one):,.0f}/s median {statistics.median(one):,.0f}/s; "
            f"2 threads best {max(two):,.0f}/s median {statistics.median(two):,.0f}/s; "
            f"ratio best {max(two) / max(one):.2f}x median {statistics.median(two) / statistics.median(one):.2f}x"
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    a = sub.add_parser("archive")
    a.add_argument("--frames", type=int, default=10_000_000)
    a.add_argument("--threads", type=int, default=2)
    k = sub.add_parser("keys")
    k.add_argument("--keys", type=int, default=1_000_000)
    s = sub.add_parser("scaling")
    s.add_argument("--rounds", type=int, default=12)
    ns = ap.parse_args()
    if ns.what == "archive":
        bench_archive(ns.frames, ns.threads)
    elif ns.what == "scaling":
        bench_scaling(ns.rounds)
    else:
        bench_keys(ns.keys)
    return 0


if __name__ == "__main__":
    sys.exit(main())
