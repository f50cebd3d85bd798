"""``meterlink serve`` through the CLI (issue 15): a ``meterlink.dsmr.simulate`` archive in
through the file intake, rows out in SQLite, read back with the standard ``sqlite3`` module;
idempotent re-runs; graceful shutdown on SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

import meterlink
from meterlink.cli import main
from meterlink.dsmr import simulate


def _config(tmp: Path, intake: Path, once: bool) -> Path:
    cfg = tmp / "serve.toml"
    cfg.write_text(
        "mqtt = []\nhttp = []\n[broker]\nembedded = false\n"
        f"[[files]]\nname = \"archive\"\npath = \"{intake.as_posix()}\"\nonce = {str(once).lower()}\n",
        encoding="utf-8",
    )
    return cfg


def _counts(db: Path) -> Dict[str, int]:
    with sqlite3.connect(db) as c:
        return {t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("telegrams", "receptions", "readings", "rejected", "meters")}


def _expected(archive: Path, keys: Dict[str, str]) -> Tuple[int, int]:
    """Telegrams and records of the archive, decoded one by one with ``meterlink.decode``."""
    frames: List[bytes] = []
    for line in archive.read_text(encoding="utf-8").splitlines()[1:]:
        frames.append(bytes.fromhex(line.split(";")[-1]))
    records = sum(len(meterlink.decode(f, keys=keys).records) for f in frames)
    return len(frames), records


def test_serve_stores_a_simulated_dsmr_archive_once(tmp_path: Path) -> None:
    sim = simulate(e_meters=4, devices=(1, 2), hours=3, seed=7, path=str(tmp_path / "p2.txt"))
    n, records = _expected(tmp_path / "p2.txt", sim.keys)
    assert n == sim.count > 0
    db = tmp_path / "m.db"
    argv = ["serve", "--config", str(_config(tmp_path, tmp_path / "p2.txt", True)), "--keys", str(sim.keys_path), "--db", str(db)]
    assert main(argv) == 0
    first = _counts(db)
    # One telegram per frame (each has its own DSMR frame counter), one reception each (the
    # E-meter relays it), every record a reading, the counters of every M-Bus device.
    assert first == {"telegrams": n, "receptions": n, "readings": records, "rejected": 0, "meters": len(sim.keys)}
    with sqlite3.connect(db) as c:
        protocols = {r[0] for r in c.execute("SELECT DISTINCT protocol FROM telegrams")}
        gateways = {r[0] for r in c.execute("SELECT DISTINCT gateway FROM receptions")}
        lowest = c.execute("SELECT MIN(counter) FROM telegrams").fetchone()[0]
    assert protocols == {"dsmr"} and lowest is not None
    assert gateways and all(g.startswith("E") for g in gateways)
    # The same archive again: nothing changes (duplicates within the window, idempotent store).
    assert main(argv) == 0
    assert _counts(db) == first


def test_serve_without_the_key_rejects_with_no_key(tmp_path: Path) -> None:
    sim = simulate(e_meters=1, devices=1, hours=1, seed=3, path=str(tmp_path / "p2.txt"))
    db = tmp_path / "m.db"
    assert main(["serve", "--config", str(_config(tmp_path, tmp_path / "p2.txt", True)), "--db", str(db)]) == 0
    with sqlite3.connect(db) as c:
        codes = [r[0] for r in c.execute("SELECT DISTINCT code FROM rejected")]
    assert _counts(db)["telegrams"] == 0
    assert codes == ["no_key"] and _counts(db)["rejected"] == sim.count


def test_serve_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[store]\nkind = \"mysql\"\n", encoding="utf-8")
    assert main(["serve", "--config", str(cfg)]) == 2
    assert "store.kind" in capsys.readouterr().err


def test_sigterm_drains_and_commits(tmp_path: Path) -> None:
    """A running ``meterlink serve`` watching a directory gets SIGTERM while its batch interval
    (1 h) has not flushed anything: it drains the queue, commits and exits 0."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    cfg = _config(tmp_path, inbox, False)
    cfg.write_text(cfg.read_text(encoding="utf-8") + "[service]\nbatch_interval_ms = 3600000\n", encoding="utf-8")
    # `[service]` after `[[files]]` is a new table: valid TOML.
    sim = simulate(e_meters=3, devices=1, hours=2, seed=11, path=str(tmp_path / "p2.txt"))
    db = tmp_path / "m.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterlink", "serve", "--config", str(cfg), "--keys", str(sim.keys_path), "--db", str(db)],
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.0)
        os.replace(tmp_path / "p2.txt", inbox / "p2.txt")
        time.sleep(2.5)  # read (polled every second) and queued; nothing committed yet
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert _counts(db)["telegrams"] == sim.count
