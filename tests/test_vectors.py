"""Published and standard-derived wired frames (tests/vectors/wired-frames.json, sources in the file)."""

import json
import math

import pytest

import meterlink
from conftest import load_vectors

VECTORS = load_vectors("wired-frames.json")


def _same(got, want):
    if isinstance(want, float):
        return isinstance(got, float) and math.isclose(got, want, rel_tol=0, abs_tol=1e-12 * max(1.0, abs(want)))
    return got == want


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_vector(vec):
    if "error" in vec:
        err = vec["error"]
        with pytest.raises(getattr(meterlink, err["type"])) as info:
            meterlink.decode(vec["hex"])
        assert info.value.offset == err["offset"]
        assert err["message_contains"] in str(info.value)
        return
    tg = meterlink.decode(vec["hex"])
    d = tg.to_dict()
    json.dumps(d)  # JSON-serialisable
    exp = dict(vec["expect"])
    exp_records = exp.pop("records")
    for key, want in exp.items():
        got = getattr(tg, key)
        assert got == want, f"{key}: {got!r} != {want!r}"
        if key in d:
            assert d[key] == want
    assert len(tg.records) == len(exp_records)
    for i, (rec, want) in enumerate(zip(tg.records, exp_records)):
        for key, w in want.items():
            got = getattr(rec, key)
            if key == "exact":
                w = tuple(w)
            assert _same(got, w), f"record {i} {key}: {got!r} != {w!r}"
        assert d["records"][i]["dif"] == rec.dif
        assert _same(d["records"][i]["value"], rec.value)
