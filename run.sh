#!/usr/bin/env bash
# meterlink: one script for the two README commands.
#   ./run.sh        set up .venv, build meterlink, decode the bundled sample telegrams
#   ./run.sh test   set up .venv, build meterlink, run every test (Rust, clippy, pytest, stubtest)
set -euo pipefail
cd "$(dirname "$0")"

PY=${PYTHON:-python3}
VENV=.venv
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
# Build and install the extension (release profile) into the venv.
PIP=("$VPY" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" "maturin>=1.7,<2"
if [ "${1:-main}" = test ]; then
    # The [test] extra of pyproject.toml.
    "${PIP[@]}" "pytest>=8" "hypothesis>=6.100" "mypy>=1.10" "pytest-benchmark>=4" "cryptography>=42"
fi
VIRTUAL_ENV="$PWD/$VENV" "$VENV/bin/maturin" develop --release --quiet

case "${1:-main}" in
main)
    # The main job: decode the bundled sample frames (one JSON document per frame).
    "$VENV/bin/meterlink" decode - < examples/sample-frames.txt
    ;;
test)
    echo "== cargo test"
    cargo test --quiet
    echo "== cargo clippy"
    cargo clippy --quiet --all-targets -- -D warnings
    cargo clippy --quiet --lib --features python -- -D warnings
    echo "== stubtest"
    "$VPY" -m mypy.stubtest meterlink._native --allowlist .ci/stubtest-allowlist.txt
    echo "== pytest"
    "$VPY" -m pytest -q
    ;;
*)
    echo "usage: $0 [main|test]" >&2
    exit 2
    ;;
esac
