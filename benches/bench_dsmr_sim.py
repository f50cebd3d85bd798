"""The DSMR P2 traffic simulator's speed (issue 14 section 5: >= 500,000 simulated telegrams/s on
one core). Not part of the test run; build the extension in release first:

    VIRTUAL_ENV=$PWD/.venv .venv/bin/maturin develop --release
    .venv/bin/python benches/bench_dsmr_sim.py [--e-meters 20000] [--hours 48]

Measures, best of ``--rounds``:
- ``archive``: ``meterlink.dsmr.simulate(..., path=os.devnull)``: generation, mode-15 encryption,
  framing and the hex archive lines (the key file goes to a temporary directory);
- ``returned``: ``simulate(...)`` without a path: the telegrams as Python objects (the cost of
  Python objects dominates; for reference).
The core alone (no hex, no Python): ``cargo test --release -p meterlink --test dsmr_simulate --
--ignored --nocapture``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Callable, Tuple

from meterlink.dsmr import simulate


def best(rounds: int, f: Callable[[], int]) -> Tuple[int, float]:
    times = []
    n = 0
    for _ in range(rounds):
        t = time.perf_counter()
        n = f()
        times.append(time.perf_counter() - t)
    return n, min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--e-meters", type=int, default=20_000)
    ap.add_argument("--hours", type=int, default=48)
    ap.add_argument("--rounds", type=int, default=3)
    ns = ap.parse_args()
    kw = dict(e_meters=ns.e_meters, hours=ns.hours, seed=1)
    with tempfile.TemporaryDirectory() as d:
        keys = os.path.join(d, "keys.csv")
        n, s = best(ns.rounds, lambda: simulate(**kw, path=os.devnull, keys_path=keys).count)  # type: ignore[arg-type]
        print(f"archive : {n:,} telegrams in {s:.2f} s = {n / s:,.0f}/s (hex lines to /dev/null, one core)")
    small = dict(kw, hours=max(1, ns.hours // 8))
    n, s = best(ns.rounds, lambda: simulate(**small).count)  # type: ignore[arg-type]
    print(f"returned: {n:,} telegrams in {s:.2f} s = {n / s:,.0f}/s (as Python objects)")


if __name__ == "__main__":
    main()
