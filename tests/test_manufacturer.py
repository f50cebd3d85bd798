"""Values decoded from manufacturer-specific data by per-family layouts
(tests/vectors/manufacturer-frames.json; sources in the file)."""

import json
import math

import pytest

import meterlink
from conftest import load_vectors

VECTORS = load_vectors("manufacturer-frames.json")


def _layout_records(tg, layout):
    return [r for r in tg.records if layout in r.quantity]


@pytest.mark.parametrize("vec", VECTORS, ids=[v["name"] for v in VECTORS])
def test_manufacturer_vector(vec):
    tg = meterlink.decode(vec["hex"], keys=vec["keys"])
    recs = _layout_records(tg, vec["layout"])
    if not vec["expect"]:
        assert recs == [], [r.description for r in recs]
        return
    for want in vec["expect"]:
        hits = [
            r
            for r in recs
            if r.quantity.startswith(want["quantity"]) and r.storage == want["storage"] and r.unit == want["unit"]
        ]
        assert len(hits) == 1, (want, [r.description for r in recs])
        got = hits[0].value
        assert isinstance(got, (int, float)), got
        assert math.isclose(got, want["value"], rel_tol=1e-6, abs_tol=1e-9), (want, got)
        # Described as decoded from manufacturer data, by which layout.
        assert "manufacturer-specific" in hits[0].description
        assert vec["layout"] in hits[0].description


@pytest.mark.parametrize("vec", [v for v in VECTORS if v["expect"]][:3], ids=lambda v: v["name"])
def test_derived_records_in_dict_and_json(vec):
    tg = meterlink.decode(vec["hex"], keys=vec["keys"])
    d = tg.to_dict()
    json.dumps(d)
    quantities = [r["quantity"] for r in d["records"]]
    assert sum(vec["layout"] in q for q in quantities) >= len(vec["expect"])
    # The raw manufacturer data stays a record of its own where the frame has one.
    assert len(d["records"]) == len(tg.records)


def test_generic_records_unchanged():
    # The derived records come after the generic ones, which are exactly what the generic decoder gives.
    vec = next(v for v in VECTORS if v["name"] == "hydrodigit-monthly")
    tg = meterlink.decode(vec["hex"])
    layout = [vec["layout"] in r.quantity for r in tg.records]
    first = layout.index(True)
    assert all(layout[first:]) and not any(layout[:first])
    assert any(r.kind == "manufacturer" for r in tg.records[:first])
