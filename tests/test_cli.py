"""The command line: JSON lines, table, stdin, exit status."""

import json
import subprocess
import sys

N22 = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916"


def run(*args, stdin=""):
    return subprocess.run([sys.executable, "-m", "meterlink", *args], input=stdin, capture_output=True, text=True)


def test_decode_argument_json():
    p = run("decode", N22)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["id"] == "12345678" and d["records"][0]["value"] == 28504.27


def test_decode_stdin_lines_and_failure_status():
    bad = N22[:-4] + "0016"
    p = run("decode", "-", stdin=f"# comment\n{N22}\n\n{bad}\n{N22}\n")
    assert p.returncode == 1
    lines = p.stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(line)["manufacturer"] == "ELS" for line in lines)
    err = p.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("meterlink: line 4: FrameError:") and "checksum" in err[0]


def test_table_output():
    p = run("decode", "--table", N22)
    assert p.returncode == 0
    assert "manufacturer: ELS" in p.stdout and "28504.27" in p.stdout and "m^3" in p.stdout


def test_usage_error():
    assert run("decode").returncode == 2
