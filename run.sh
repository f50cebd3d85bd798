#!/usr/bin/env bash
# meterlink: one script for the two README commands.
#   ./run.sh        set up .venv, build meterlink, bulk-decode the bundled sample archives (M-Bus, DLMS, DSMR P2)
#   ./run.sh test   set up .venv, build meterlink, run every test (Rust, clippy, pytest, stubtest, mypy)
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
# Build and install the extension into the venv.
PIP=("$VPY" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" "maturin>=1.7,<2"
if [ "${1:-main}" = test ]; then
    # The [test] extra of pyproject.toml.
    "${PIP[@]}" "pytest>=8" "hypothesis>=6.100" "mypy>=1.10" "pytest-benchmark>=4" "cryptography>=42" \
        "pyarrow>=15" "pandas>=2" "polars>=1" "dask[distributed]>=2024.1" "duckdb>=1"
fi
# (The main job needs no extra: `meterlink bulk` writes Parquet itself.)
# The main job gets the release build (LTO); the tests the debug build: they assert behaviour,
# never speed (benchmarks are separate), and a release build of the extension with the service's
# dependencies takes most of CI's time on two cores.
if [ "${1:-main}" = test ]; then
    VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/maturin" develop --quiet
else
    VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/maturin" develop --release --quiet
fi

case "${1:-main}" in
main)
    # The main job: bulk-decode the bundled sample archive (timestamp;hex lines, built from the
    # cited vectors by examples/make_sample_archive.py) with its keys to Parquet, one row per
    # telegram with its records nested; a summary per status is printed at the end.
    mkdir -p out
    "$VENV/bin/meterlink" bulk examples/sample-archive.txt --keys examples/sample-keys.csv \
        -o out/sample-archive.parquet
    # DLMS/COSEM pushes (HDLC, wrapper, ciphered APDUs, an encrypted P1 telegram; cited vectors)
    # to a messages table and an OBIS-row table.
    "$VENV/bin/meterlink" bulk --protocol dlms examples/sample-dlms.txt \
        --keys examples/sample-dlms-keys.json -o out/sample-dlms.parquet
    # DSMR P2: a simulated day of E-meter <-> gas/water/heat meter traffic (method 15, per-device
    # keys; examples/make_sample_dsmr.py), decoded, then rendered as the E-meter's P3 view in P1
    # text lines (DSMR P2 Appendix A).
    "$VENV/bin/meterlink" bulk examples/sample-dsmr.txt --keys examples/sample-dsmr-keys.csv \
        -o out/sample-dsmr.parquet
    "$VENV/bin/meterlink" bulk --p1 examples/sample-dsmr.txt --keys examples/sample-dsmr-keys.csv \
        -o out/sample-dsmr-p1.txt
    ;;
test)
    # Real servers for the service tests: PostgreSQL's server binaries and Debian's mosquitto
    # (the embedded broker needs nothing). Installed when missing and possible; the tests that
    # need one skip with a reason otherwise.
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        missing=()
        command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto mosquitto-clients)
        ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
        if [ ${#missing[@]} -gt 0 ]; then
            echo "== installing ${missing[*]} (Debian) for the service tests"
            { apt-get install -y -q "${missing[@]}" || { apt-get update -q && apt-get install -y -q "${missing[@]}"; }; } \
                >/dev/null 2>&1 || echo "   could not install them: the tests that need them skip"
        fi
    fi
    echo "== core crate: no PyO3, Arrow or rayon in its dependency tree"
    if cargo tree -p meterlink -e normal,build --prefix none | grep -E '^(pyo3|arrow|parquet|rayon)'; then
        echo "crates/meterlink depends on the crates above; the core must not" >&2
        exit 1
    fi
    echo "== cargo test (core, Arrow crate)"
    cargo test --quiet --workspace --exclude meterlink-python
    echo "== cargo clippy"
    cargo clippy --quiet --workspace --all-targets -- -D warnings
    echo "== fuzz targets build (the campaigns themselves are not part of the tests)"
    cargo check --quiet --manifest-path fuzz/Cargo.toml
    echo "== stubtest"
    "$VPY" -m mypy.stubtest meterlink._native --allowlist .ci/stubtest-allowlist.txt
    echo "== mypy"
    "$VPY" -m mypy
    echo "== pytest"
    "$VPY" -m pytest -q
    ;;
*)
    echo "usage: $0 [main|test]" >&2
    exit 2
    ;;
esac
