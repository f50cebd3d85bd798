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
from typing import Callable, Dict, List, Tuple

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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(pred: Callable[[], bool], what: str, within: float = 30.0) -> None:
    end = time.monotonic() + within
    while not pred():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def _telegrams_or_zero(db: Path) -> int:
    try:
        return _counts(db)["telegrams"]
    except sqlite3.Error:
        return 0


def test_serve_embedded_head_end_mqtt_and_http(tmp_path: Path) -> None:
    """The embedded default (issue 15 §1) on free ports: the embedded broker takes a telegram
    published with Debian's ``mosquitto_pub`` (when installed), ``POST /telegrams`` takes hex
    lines and answers after the commit, ``/health`` and ``/metrics`` answer; SIGTERM exits 0."""
    import json
    import shutil
    import urllib.request

    sim = simulate(e_meters=2, devices=1, hours=1, seed=5, path=str(tmp_path / "p2.txt"))
    frames = [line.split(";")[-1] for line in (tmp_path / "p2.txt").read_text(encoding="utf-8").splitlines()[1:]]
    mqtt_port, http_port = _free_port(), _free_port()
    cfg = tmp_path / "serve.toml"
    cfg.write_text(
        f'[broker]\nlisten = "127.0.0.1:{mqtt_port}"\n'
        f'[[mqtt]]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\n'
        f'[[http]]\nlisten = "127.0.0.1:{http_port}"\n',
        encoding="utf-8",
    )
    db = tmp_path / "m.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterlink", "serve", "--config", str(cfg), "--keys", str(sim.keys_path), "--db", str(db)],
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{http_port}"

    def up() -> bool:
        try:
            urllib.request.urlopen(base + "/health", timeout=2).read()
            return True
        except OSError:
            return False

    try:
        _wait(up, "the HTTP intake")
        via_mqtt = 0
        if shutil.which("mosquitto_pub"):
            subprocess.run(["mosquitto_pub", "-p", str(mqtt_port), "-q", "1", "-t", "telegrams/gw-1", "-m", frames[0]], check=True, timeout=30)
            via_mqtt = 1
        body = "\n".join(frames[via_mqtt:]).encode()
        req = urllib.request.Request(base + "/telegrams?gateway=gw-http", data=body, method="POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200
            assert json.loads(r.read()) == {"accepted": len(frames) - via_mqtt}
        _wait(lambda: _telegrams_or_zero(db) >= len(frames), "every telegram committed")
        with urllib.request.urlopen(base + "/health", timeout=5) as r:
            assert json.loads(r.read())["store_ok"] is True
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert f'meterlink_received_total{{intake="http",gateway="gw-http"}} {len(frames) - via_mqtt}' in metrics
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert _counts(db)["telegrams"] == sim.count == len(frames)
    assert _counts(db)["rejected"] == 0


def test_loadgen_dry_run_frames_decrypt_with_its_key_file(tmp_path: Path) -> None:
    """``meterlink loadgen --dry-run`` prints what the gateways would publish; every telegram
    decrypts with the key file it wrote (wM-Bus mode 5 and 7, DSMR method 15)."""
    import json

    keys = tmp_path / "keys.csv"
    r = subprocess.run(
        [sys.executable, "-m", "meterlink", "loadgen", "--dry-run", "--meters", "6", "--dsmr-e-meters", "2", "--gateways", "3",
         "--rounds", "4", "--loss", "0.2", "--keys-out", str(keys)],
        capture_output=True, text=True, timeout=60, check=True,
    )
    lines = r.stdout.splitlines()
    summary = json.loads(lines[-1])
    pubs = [line.split("\t", 1) for line in lines[:-1]]
    assert len(pubs) == summary["publications"] > summary["heard"] > 0
    assert {t for t, _ in pubs} <= {"telegrams/gw-000", "telegrams/gw-001", "telegrams/gw-002"}
    store = meterlink.KeyStore.from_csv(keys)
    for _, payload in pubs:
        t = meterlink.decode(bytes.fromhex(json.loads(payload)["telegram"]), keys=store)
        assert len(t.records) >= 3


def test_loadgen_into_the_embedded_head_end(tmp_path: Path) -> None:
    """``meterlink serve`` (embedded broker) and ``meterlink loadgen`` against it: 5 gateways
    with 10 % loss and ±5 s skew give one telegram per radio telegram heard."""
    import json

    mqtt_port = _free_port()
    cfg = tmp_path / "serve.toml"
    cfg.write_text(f'http = []\n[broker]\nlisten = "127.0.0.1:{mqtt_port}"\n[[mqtt]]\nurl = "mqtt://127.0.0.1:{mqtt_port}"\n', encoding="utf-8")
    keys, db = tmp_path / "keys.csv", tmp_path / "m.db"
    args = ["--meters", "30", "--dsmr-e-meters", "3", "--gateways", "5", "--rounds", "4", "--seed", "3"]
    subprocess.run([sys.executable, "-m", "meterlink", "loadgen", "--dry-run", *args, "--keys-out", str(keys)], capture_output=True, check=True, timeout=60)
    proc = subprocess.Popen(
        [sys.executable, "-m", "meterlink", "serve", "--config", str(cfg), "--keys", str(keys), "--db", str(db)], stderr=subprocess.PIPE
    )
    try:
        import socket

        def up() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", mqtt_port)) == 0

        _wait(up, "the embedded broker")
        # The broker listening does not mean the service has subscribed: publish the run's
        # first reception (--limit 1) until it is stored; the run repeats it without a new row.
        url = ["--url", f"mqtt://127.0.0.1:{mqtt_port}"]

        def probed() -> bool:
            subprocess.run([sys.executable, "-m", "meterlink", "loadgen", *url, *args, "--limit", "1"], capture_output=True, check=True, timeout=60)
            time.sleep(0.1)
            try:
                with sqlite3.connect(db) as c:
                    return int(c.execute("SELECT COUNT(*) FROM receptions").fetchone()[0]) > 0
            except sqlite3.Error:
                return False

        _wait(probed, "the service's subscription")
        r = subprocess.run(
            [sys.executable, "-m", "meterlink", "loadgen", "--url", f"mqtt://127.0.0.1:{mqtt_port}", *args],
            capture_output=True, text=True, timeout=120, check=True,
        )
        s = json.loads(r.stdout)

        def stored() -> bool:
            try:
                with sqlite3.connect(db) as c:
                    return int(c.execute("SELECT COUNT(*) FROM receptions").fetchone()[0]) >= s["publications"]
            except sqlite3.Error:
                return False

        _wait(stored, "every reception committed", within=60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    counts = _counts(db)
    assert counts["telegrams"] == s["heard"], counts
    assert counts["receptions"] == s["publications"], counts
    assert counts["rejected"] == 0
