"""The DSMR P2 traffic simulator (issue 14 section 5): `meterlink bulk` with the written key file
decrypts every simulated telegram; readings never decrease per meter, frame counters strictly
increase per device, time stamps are on the hour and telegrams arrive within the 10 minutes
after it (DSMR P2 3.2.5)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import pytest

import meterlink
from meterlink.cli import main
from meterlink.dsmr import Simulation, simulate


def _bulk(capsys, archive, keys, out, *args):
    rc = main(["bulk", str(archive), "-o", str(out), "-q", "--keys", str(keys), *args])
    err = capsys.readouterr().err
    assert rc == 0, err
    return [json.loads(x) for x in open(out)]


def _check_rows(rows, n):
    assert len(rows) == n
    assert {r["status"] for r in rows} == {"ok"}, {r["status"] for r in rows}
    assert all(r["decrypted"] for r in rows)
    last_fc, last_val, last_stamp = {}, {}, {}
    for r in rows:
        meter = (r["manufacturer"], r["id"])
        fc = r["dsmr_frame_counter"]
        assert fc is not None and fc > last_fc.get(meter, -1), "frame counter strictly increases"
        last_fc[meter] = fc
        stamps = [x["text"] for x in r["records"] if x["value_type"] == "datetime"]
        values = [x["mantissa"] for x in r["records"] if x["storage"] == 1 and x["value_type"] == "number"]
        assert len(stamps) == 1 and len(values) in (1, 2), r["records"]
        t = dt.datetime.fromisoformat(stamps[0]).replace(tzinfo=dt.timezone.utc)
        assert (t.minute, t.second) == (0, 0), stamps[0]
        if meter in last_stamp:
            assert t > last_stamp[meter]
            assert all(a >= b for a, b in zip(values, last_val[meter])), "readings never decrease"
        last_stamp[meter], last_val[meter] = t, values
        got = dt.datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        assert dt.timedelta(0) <= got - t < dt.timedelta(minutes=10)
    return last_fc


def test_bulk_decrypts_a_written_archive(capsys, tmp_path):
    sim = simulate(e_meters=40, devices=4, hours=6, start="2024-02-01T00:00:00Z", seed=11,
                   path=tmp_path / "p2.txt")
    assert isinstance(sim, Simulation) and sim.telegrams is None
    assert sim.keys_path == str(tmp_path / "p2.keys.csv")
    lines = open(sim.path).read().splitlines()
    assert lines[0] == "timestamp;e_meter;channel;frame" and len(lines) == sim.count + 1
    rows = _bulk(capsys, sim.path, sim.keys_path, tmp_path / "out.jsonl")
    fcs = _check_rows(rows, sim.count)
    assert len(fcs) == len(sim.keys)  # every device sent, every key used
    # Both media, and the E-meter / channel columns carried along.
    assert {(r["link"], r["c_field"], r["ci"]) for r in rows} == {("wired", 0x08, 0x72), ("wireless", 0x44, 0x7A)}
    assert all(r["e_meter"].startswith("ESIM") and r["channel"] in "1234" for r in rows)
    # Without the key file nothing decrypts.
    rc = main(["bulk", sim.path, "-o", str(tmp_path / "nokeys.jsonl"), "-q"])
    assert rc == 0
    assert {json.loads(x)["status"] for x in open(tmp_path / "nokeys.jsonl")} == {"no_key"}


def test_parquet_archive(capsys, tmp_path):
    pytest.importorskip("pyarrow")
    sim = simulate(e_meters=15, hours=3, seed=2, wireless=1.0, loss=0.2, path=tmp_path / "p2.parquet")
    assert sim.keys_path == str(tmp_path / "p2.keys.csv")
    rows = _bulk(capsys, sim.path, sim.keys_path, tmp_path / "out.jsonl")
    _check_rows(rows, sim.count)
    assert sim.count < 3 * len(sim.keys)  # some were lost


def test_returned_telegrams_are_deterministic_and_decode_with_the_keys():
    a = simulate(e_meters=8, hours=2, seed=5, start=dt.datetime(2024, 6, 1))
    b = simulate(e_meters=8, hours=2, seed=5, start=1_717_200_000)
    c = simulate(e_meters=8, hours=2, seed=6, start=1_717_200_000)
    assert a.telegrams == b.telegrams and a.keys == b.keys
    assert a.telegrams != c.telegrams
    assert a.count == len(a.telegrams) == 2 * len(a.keys)
    times = [t.time for t in a.telegrams]
    assert times == sorted(times) and times[0] >= 1_717_200_000
    for t in a.telegrams:
        tg = meterlink.decode(t.frame, keys=a.keys)
        assert tg.decrypted and f"{tg.manufacturer}{tg.id}" in a.keys


def test_bad_arguments():
    with pytest.raises(meterlink.MeterlinkError) as e:
        simulate(devices=(1, 5))
    assert e.value.code == "dsmr_state"
    with pytest.raises(TypeError):
        simulate(start=1.5)  # type: ignore[arg-type]
