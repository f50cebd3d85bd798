import json
from pathlib import Path

import pytest

VECTORS = Path(__file__).parent / "vectors"


def load_vectors(name: str):
    return json.loads((VECTORS / name).read_text())["vectors"]


@pytest.fixture(scope="session")
def wired_vectors():
    return load_vectors("wired-frames.json")


# A throwaway PostgreSQL for the service's tests (issue 15 §3): the same approach as the Rust
# helper crates/meterlink-service/tests/pg/: initdb into a temp dir owned by an unprivileged user
# (initdb refuses root), pg_ctl start on a free loopback port, one database, stopped and removed
# at the end of the session; skipped with the reason when no server can be started.
def _pg_bin():
    import os
    import shutil

    if os.environ.get("MLPG_BIN"):
        return Path(os.environ["MLPG_BIN"])
    root = Path("/usr/lib/postgresql")
    dirs = sorted((p / "bin" for p in root.glob("*") if (p / "bin" / "initdb").exists()),
                  key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if dirs:
        return dirs[-1]
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@pytest.fixture(scope="session")
def postgres_url():
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL cannot be started here: no server binaries (initdb) found")
    # Not under pytest's tmp root: that is private to root, and the server runs as nobody.
    base = Path(tempfile.mkdtemp(prefix="mlpg-"))
    prefix = []
    if os.geteuid() == 0:
        shutil.chown(base, "nobody")
        prefix = ["runuser", "-u", "nobody", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data, log = base / "data", base / "log"

    def run(*args):
        return subprocess.run(prefix + [str(a) for a in args], capture_output=True, text=True, stdin=subprocess.DEVNULL)

    r = run(bin_dir / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
    if r.returncode != 0:
        pytest.skip(f"PostgreSQL cannot be started here: initdb: {r.stderr.strip()}")
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    r = run(bin_dir / "pg_ctl", "-D", data, "-l", log, "-o", opts, "-w", "-t", "60", "start")
    if r.returncode != 0:
        pytest.skip(f"PostgreSQL cannot be started here: pg_ctl: {r.stderr.strip()} {log.read_text() if log.exists() else ''}")
    try:
        r = run(bin_dir / "psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "postgres", "-q",
                "-c", "CREATE DATABASE meterlink")
        assert r.returncode == 0, r.stderr
        yield f"postgres://postgres@127.0.0.1:{port}/meterlink"
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
