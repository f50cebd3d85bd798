"""pytest-benchmark: the per-telegram Python API.

Run: `.venv/bin/python -m pytest benches/ --benchmark-enable` (pytest.ini disables benchmarks in
the normal test run, where these only check that the code path works).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import meterlink  # noqa: E402
from frames import HEAT_20  # noqa: E402


def test_decode(benchmark):
    tg = benchmark(meterlink.decode, HEAT_20)
    assert len(tg.records) == 20


def test_decode_to_dict(benchmark):
    d = benchmark(lambda: meterlink.decode(HEAT_20).to_dict())
    assert len(d["records"]) == 20


def test_decode_hex_str(benchmark):
    h = HEAT_20.hex()
    tg = benchmark(meterlink.decode, h)
    assert len(tg.records) == 20


import pytest  # noqa: E402
from frames import ELL_CTR, MODE5, MODE7, MODE10  # noqa: E402


@pytest.mark.parametrize("case", [MODE5, MODE7, MODE10, ELL_CTR], ids=["mode5", "mode7", "mode10", "ell_ctr"])
def test_decode_decrypt(benchmark, case):
    frame, keys = case
    store = meterlink.KeyStore(keys)
    tg = benchmark(meterlink.decode, frame, store)
    assert tg.decrypted and tg.records
