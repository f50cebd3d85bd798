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


# -- options shared by `decode` and `bulk`: same names, same choices, same meaning -------------

import pytest  # noqa: E402

import meterlink  # noqa: E402
from meterlink.cli import main  # noqa: E402

# OMS Vol.2 Annex N N.2.1: mode 5, meter ELS 12345678, the records of N22 (tests/vectors).
ENC = "2E4493157856341233037A2A0020255923C95AAA26D1B2E7493B013EC4A6F6D3529B520EDFF0EA6DEFC99D6D69EBF3"
ENC_KEY = "0102030405060708090A0B0C0D0E0F11"
# Mode 5 with the all-zero key, one of the public default keys (tests/vectors/wireless-frames.json).
ZERO_KEY = (
    "6e4401068888888805077a85006085bc2630713819512eb4cd87fba554fb43f67cf9654a68ee8e194088160df752e716"
    "238292e8af1ac20986202ee561d743602466915e42f1105d9c6782a54504e4f099e65a7656b930c73a30775122d2fdf0"
    "74b5035cfaa7e0050bf32faae03a77"
)
# Frame format B with CRCs (frame-b-single-block): only the wireless links take it.
FRAME_B = "13442D2C785634120132A000010203040506C3C0"
# A wireless telegram whose last bytes are not a complete record (see test_wireless_tail_policy).
_TAIL_BODY = bytes.fromhex("442D2C785634120107 7A01000000 0413E8030000 0413E803")
TAIL = (bytes([len(_TAIL_BODY)]) + _TAIL_BODY).hex()
LINKS = ["auto", "wired", "wireless", "wireless-a", "wireless-b", "wireless-nocrc"]


def decode_cli(capsys, *args):
    """(exit status, JSON documents, stderr lines) of an in-process `meterlink decode`."""
    rc = main(["decode", *args])
    cap = capsys.readouterr()
    return rc, [json.loads(x) for x in cap.out.splitlines()], cap.err.splitlines()


def bulk_cli(capsys, tmp_path, frames, *args, quiet=True):
    """(exit status, output rows, stderr) of an in-process `meterlink bulk` to JSON lines."""
    src = tmp_path / "in.txt"
    src.write_text("".join(f"{f}\n" for f in frames))
    out = tmp_path / "out.jsonl"
    rc = main(["bulk", str(src), "-o", str(out), *(["-q"] if quiet else []), *args])
    err = capsys.readouterr().err
    rows = [json.loads(x) for x in open(out)] if rc == 0 else []
    return rc, rows, err


def key_file(tmp_path):
    p = tmp_path / "keys.csv"
    p.write_text(f"12345678,{ENC_KEY}\n")
    return str(p)


def test_keys_on_decode(capsys, tmp_path):
    rc, docs, _ = decode_cli(capsys, ENC)
    assert rc == 0 and docs[0]["encrypted"] and docs[0]["records"] == []
    rc, docs, _ = decode_cli(capsys, "--keys", key_file(tmp_path), ENC)
    assert rc == 0 and docs[0]["records"][0]["value"] == 28504.27
    rc, _, err = decode_cli(capsys, "--keys", str(tmp_path / "missing.csv"), ENC)
    assert rc == 1 and err[0].startswith("meterlink decode: cannot load keys from")


def test_keys_on_bulk(capsys, tmp_path):
    rc, rows, _ = bulk_cli(capsys, tmp_path, [ENC])
    assert rc == 0 and rows[0]["status"] == "no_key" and rows[0]["records"] == []
    rc, rows, _ = bulk_cli(capsys, tmp_path, [ENC], "--keys", key_file(tmp_path))
    assert rc == 0 and rows[0]["status"] == "ok" and rows[0]["records"][0]["value"] == 28504.27
    rc, _, err = bulk_cli(capsys, tmp_path, [ENC], "--keys", str(tmp_path / "missing.csv"))
    assert rc == 1 and err.startswith("meterlink bulk: cannot load keys from")


@pytest.mark.parametrize("link", LINKS)
def test_link_choices_on_both_commands(capsys, tmp_path, link):
    # Every choice is taken by both commands, and means the same: the frame decodes on one
    # exactly when it decodes on the other, to the same telegram.
    for frame in (FRAME_B, N22):
        rc, docs, err = decode_cli(capsys, "--link", link, frame)
        assert rc in (0, 1), err
        brc, rows, berr = bulk_cli(capsys, tmp_path, [frame], "--link", link)
        assert brc == 0, berr
        assert (rc == 0) == (rows[0]["status"] == "ok"), (err, rows[0]["error"])
        if rc == 0:
            assert docs[0]["id"] == rows[0]["id"] and len(docs[0]["records"]) == len(rows[0]["records"])
        known = {("wired", FRAME_B): False, ("wireless-b", FRAME_B): True, ("auto", FRAME_B): True,
                 ("wired", N22): True, ("auto", N22): True, ("wireless-a", N22): False}
        if (link, frame) in known:
            assert (rc == 0) == known[(link, frame)]


@pytest.mark.parametrize("command", ["decode", "bulk"])
def test_link_rejects_unknown_choice_on_both_commands(capsys, tmp_path, command):
    args = [FRAME_B] if command == "decode" else [str(tmp_path / "x.txt"), "-o", str(tmp_path / "o.jsonl")]
    with pytest.raises(SystemExit) as e:
        main([command, "--link", "mbus", *args])
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err


def test_strict_on_both_commands(capsys, tmp_path):
    # ENC (OMS N.2.1) came without DLL CRCs: strict rejects the unchecked CRC-less reading of
    # "auto" (issue 12), and with --link wireless-nocrc it wants a key.
    rc, _, err = decode_cli(capsys, "--strict", ENC)
    assert rc == 1 and err[0].startswith("meterlink: argument: FrameError: [wmbus_crc]")
    rc, _, err = decode_cli(capsys, "--strict", "--link", "wireless-nocrc", ENC)
    assert rc == 1 and err[0].startswith("meterlink: argument: SecurityError: [no_key]")
    rc, docs, _ = decode_cli(capsys, "--strict", "--link", "wireless-nocrc", "--keys", key_file(tmp_path), ENC)
    assert rc == 0 and docs[0]["records"]
    rc, rows, _ = bulk_cli(capsys, tmp_path, [ENC], "--strict")
    assert rc == 0 and (rows[0]["status"], rows[0]["error_code"]) == ("frame_error", "wmbus_crc")
    rc, rows, _ = bulk_cli(capsys, tmp_path, [ENC], "--strict", "--link", "wireless-nocrc")
    assert rc == 0 and (rows[0]["status"], rows[0]["error_code"]) == ("security_error", "no_key")
    rc, rows, _ = bulk_cli(capsys, tmp_path, [ENC], "--strict", "--link", "wireless-nocrc", "--keys", key_file(tmp_path))
    assert rc == 0 and rows[0]["status"] == "ok"


def test_tail_on_both_commands(capsys, tmp_path):
    for tail in ("auto", "keep"):
        rc, docs, _ = decode_cli(capsys, "--tail", tail, TAIL)
        assert rc == 0 and len(docs[0]["records"]) == 1
        rc, rows, _ = bulk_cli(capsys, tmp_path, [TAIL], "--tail", tail)
        assert rc == 0 and rows[0]["status"] == "ok" and len(rows[0]["records"]) == 1
    rc, _, err = decode_cli(capsys, "--tail", "strict", TAIL)
    assert rc == 1 and err[0].startswith("meterlink: argument: DecodeError:")
    rc, rows, _ = bulk_cli(capsys, tmp_path, [TAIL], "--tail", "strict")
    assert rc == 0 and rows[0]["status"] == "decode_error"
    for command in ("decode", "bulk"):
        with pytest.raises(SystemExit):
            main([command, "--tail", "lenient", "x"])
        capsys.readouterr()


def test_no_default_keys_on_decode(capsys):
    rc, docs, _ = decode_cli(capsys, ZERO_KEY)
    assert rc == 0 and docs[0]["records"] and docs[0]["decrypted_by"] == "default key"
    rc, docs, _ = decode_cli(capsys, "--no-default-keys", ZERO_KEY)
    assert rc == 0 and docs[0]["records"] == []


def test_decode_error_reason_names_the_code(capsys):
    bad = N22[:-4] + "0016"
    with pytest.raises(meterlink.FrameError) as e:
        meterlink.decode(bad)
    rc, _, err = decode_cli(capsys, bad)
    assert rc == 1 and len(err) == 1
    assert e.value.code == "frame_checksum" and e.value.offset == len(bytes.fromhex(bad)) - 2
    assert err[0] == f"meterlink: argument: FrameError: [frame_checksum] {e.value}"


def test_bulk_summary_counts_error_codes(capsys, tmp_path):
    bad = N22[:-4] + "0016"
    frames = [N22, bad, ENC, "zz", bad]
    rc, rows, err = bulk_cli(capsys, tmp_path, frames, quiet=False)
    assert rc == 0 and "5 telegrams" in err and "no key 1" in err and "frame errors 3" in err
    lines = [ln for ln in err.splitlines() if ln.startswith("  errors by code: ")]
    codes = {}
    for row in rows:
        if row["error_code"] is not None:
            codes[row["error_code"]] = codes.get(row["error_code"], 0) + 1
    ranked = sorted(codes.items(), key=lambda kv: (-kv[1], kv[0]))
    assert lines == ["  errors by code: " + ", ".join(f"{c} {n}" for c, n in ranked)]
    # The three error rows have codes; the row decoded without a key has a status, no error.
    assert codes == {"frame_checksum": 2, "hex_character": 1} and len(rows) == 5


def test_decode_reason_with_a_code(capsys, monkeypatch):
    # The shape of the line once the core gives every error its code.
    def fake_decode(frame, **kw):
        raise meterlink.FrameError("CRC of block 1 is wrong", 12, "wmbus_crc")

    monkeypatch.setattr(meterlink, "decode", fake_decode)
    rc, _, err = decode_cli(capsys, FRAME_B)
    assert rc == 1 and err == ["meterlink: argument: FrameError: [wmbus_crc] CRC of block 1 is wrong"]


@pytest.mark.parametrize("dictionary", [False, True])
def test_bulk_summary_line_from_an_error_code_column(capsys, tmp_path, monkeypatch, dictionary):
    # The per-code line from batches whose telegrams table has the column (plain or dictionary).
    pa = pytest.importorskip("pyarrow")
    from meterlink import bulk

    codes = pa.array([None, "wmbus_crc", "no_key", "wmbus_crc", None])
    if dictionary:
        codes = codes.dictionary_encode()

    class FakeBatch:
        telegrams = pa.table({"status": ["ok"] * 5, "error_code": codes})
        counts = {"frames": 5, "ok": 2, "no_key": 1, "frame_error": 2, "decode_error": 0,
                  "security_error": 0, "records": 0}

    class FakeReader:
        total_rows = total_bytes = None

        def __iter__(self):
            yield FakeBatch()
            yield FakeBatch()

    class NullWriter:
        def __init__(self, *a, **kw):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def write(self, batch):
            pass

    monkeypatch.setattr(bulk, "iter_batches", lambda *a, **kw: FakeReader())
    monkeypatch.setattr("meterlink.writers.BatchWriter", NullWriter)
    src = tmp_path / "in.txt"
    src.write_text("")
    assert main(["bulk", str(src), "-o", str(tmp_path / "o.jsonl")]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "10 telegrams" in err[0] and err[-1] == "  errors by code: wmbus_crc 4, no_key 2"
