"""Robustness (issue 12): batches never abort, archives fail with one clear error, the CLI
validates its options and names paths, and no message carries key material."""

import gzip
import json
import os
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import meterlink
from meterlink.cli import main

# EN 13757-3 wired example (the README's): ELS 12345678, three records.
N22 = "6820206808FD7278563412931533032A0000000C1427048502046D32371F1502FD1700008916"
# A made-up AES key that must never show up in a message (and its DES-length prefix).
SECRET = "A1B2C3D4E5F60718293A4B5C6D7E8F90"


def table(batch):
    return pa.table(batch.telegrams)


# -- 1. batches never abort --------------------------------------------------------------------


def test_a_lone_surrogate_is_an_input_row_not_an_abort():
    batch = meterlink.decode_batch([N22, "\ud800" + N22, N22, "68\udcff"])
    t = table(batch)
    assert t.column("index").to_pylist() == [0, 1, 2, 3]
    assert t.column("status").to_pylist() == ["ok", "frame_error", "ok", "frame_error"]
    assert t.column("error_code").to_pylist() == [None, "input", None, "input"]
    assert "not valid Unicode" in t.column("error")[1].as_py()
    # Iterables (decoded in chunks) and metadata columns too.
    batch = meterlink.decode_batch(iter([N22, "\ud800"]), metadata={"note": ["\udcff", "x"]})
    assert table(batch).column("status").to_pylist() == ["ok", "frame_error"]
    assert table(batch).column("note").to_pylist()[1] == "x"


# -- 2. archives -------------------------------------------------------------------------------


def _archive_error(path, **kw):
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.read_archive(path, **kw)
    assert str(path.name) in str(e.value)
    return e.value


def test_corrupt_compression_is_one_clear_error(tmp_path):
    data = gzip.compress((N22 + "\n").encode() * 2000)
    (tmp_path / "cut.txt.gz").write_bytes(data[: len(data) // 2])
    (tmp_path / "junk.gz").write_bytes(b"\x1f\x8b" + b"junk" * 50)
    (tmp_path / "junk.zst").write_bytes(b"\x28\xb5\x2f\xfd" + b"junk" * 50)
    for name in ("cut.txt.gz", "junk.gz", "junk.zst"):
        e = _archive_error(tmp_path / name)
        assert e.code == "archive_unreadable", e
    # A cut zstd stream (written by pyarrow's codec) as well.
    with pa.CompressedOutputStream(str(tmp_path / "full.zst"), "zstd") as f:
        f.write((N22 + "\n").encode() * 5000)
    whole = (tmp_path / "full.zst").read_bytes()
    (tmp_path / "cut.zst").write_bytes(whole[: len(whole) // 2])
    assert meterlink.read_archive(tmp_path / "full.zst").counts["ok"] == 5000
    assert _archive_error(tmp_path / "cut.zst").code == "archive_unreadable"


def test_fake_parquet_ipc_and_missing_frame_column(tmp_path):
    (tmp_path / "fake.parquet").write_bytes(b"PAR1 this is no parquet file")
    (tmp_path / "fake.arrow").write_bytes(b"ARROW1\x00\x00 nor an IPC file")
    assert _archive_error(tmp_path / "fake.parquet").code == "archive_unreadable"
    assert _archive_error(tmp_path / "fake.arrow").code == "archive_unreadable"
    pq.write_table(pa.table({"reading": [1, 2], "site": [3, 4]}), tmp_path / "nocol.parquet")
    assert _archive_error(tmp_path / "nocol.parquet").code == "archive_no_frame_column"
    pq.write_table(pa.table({"frame": [N22]}), tmp_path / "ok.parquet")
    assert _archive_error(tmp_path / "ok.parquet", column="telegram").code == "archive_no_frame_column"
    assert meterlink.read_archive(tmp_path / "ok.parquet").counts["ok"] == 1


def test_nul_byte_in_a_header_name(tmp_path):
    (tmp_path / "nul.txt").write_bytes(b"rec\x00eived;frame\n2024-01-01;" + N22.encode() + b"\n")
    t = table(meterlink.read_archive(tmp_path / "nul.txt"))
    assert t.column("status").to_pylist() == ["ok"]
    assert t.column("rec\ufffdeived").to_pylist() == ["2024-01-01"]


def test_an_over_long_line_is_one_error_row(tmp_path):
    # 50 MB without a line end between two frames: three rows, the middle one line_too_long.
    p = tmp_path / "long.txt"
    with open(p, "wb") as f:
        f.write(N22.encode() + b"\n")
        chunk = b"ab" * (1 << 19)
        for _ in range(50):
            f.write(chunk)
        f.write(b"\n" + N22.encode() + b"\n")
    start = time.monotonic()
    t = table(meterlink.read_archive(p))
    elapsed = time.monotonic() - start
    assert t.column("status").to_pylist() == ["ok", "frame_error", "ok"]
    assert t.column("error_code").to_pylist() == [None, "line_too_long", None]
    assert t.column("line").to_pylist() == [1, 2, 3]
    assert "line 2: longer than the line limit of 65536 bytes" in t.column("error")[1].as_py()
    assert elapsed < 10, elapsed  # one pass (quadratic rescanning took seconds per 50 MB)
    # A lower limit, set by the caller; a line of exactly the limit is still a line.
    (tmp_path / "small.txt").write_text(f"{'0' * 200}\n{N22}\n{'1' * 77}\n")
    t = table(meterlink.read_archive(tmp_path / "small.txt", max_line_length=len(N22)))
    assert t.column("error_code").to_pylist() == ["line_too_long", None, "line_too_long"]
    with pytest.raises(ValueError):
        meterlink.read_archive(tmp_path / "small.txt", max_line_length=0)
    with pytest.raises(ValueError):
        meterlink.read_archive(tmp_path / "small.txt", batch_size=0)


# -- 3. the command line -----------------------------------------------------------------------


def cli(*args, stdin=b""):
    p = subprocess.run([sys.executable, "-m", "meterlink", *args], input=stdin, capture_output=True)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_cli_archive_errors_are_one_line_exit_1(tmp_path):
    (tmp_path / "fake.parquet").write_bytes(b"PAR1 nope")
    pq.write_table(pa.table({"x": [1]}), tmp_path / "nocol.parquet")
    for name, code in (("fake.parquet", "archive_unreadable"), ("nocol.parquet", "archive_no_frame_column")):
        rc, _, err = cli("bulk", str(tmp_path / name), "-o", str(tmp_path / "out.jsonl"), "-q")
        assert rc == 1 and "Traceback" not in err, err
        assert err.count("\n") == 1 and f"[{code}]" in err and name in err


def test_cli_option_validation(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(N22 + "\n")
    out = str(tmp_path / "out.jsonl")
    for opt, value, why in (
        ("--threads", "100000", "between 1 and 1024"),
        ("--threads", "0", "between 1 and 1024"),
        ("--batch-size", "0", "at least 1"),
        ("--max-line-length", "-5", "at least 1"),
    ):
        with pytest.raises(SystemExit) as e:
            main(["bulk", str(src), "-o", out, opt, value])
        assert e.value.code == 2
        assert f"argument {opt}: must be {why}, not {value}" in capsys.readouterr().err
    # The Python API bounds threads too.
    with pytest.raises(ValueError, match="threads must be between 1 and 1024"):
        meterlink.decode_batch([N22], threads=100000)


def test_cli_io_errors_name_their_path(tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text(N22 + "\n")
    missing_dir = tmp_path / "no" / "such"
    assert main(["bulk", str(src), "-o", str(missing_dir / "out.parquet"), "-q"]) == 1
    err = capsys.readouterr().err
    assert str(missing_dir) in err and "does not exist" in err
    assert main(["bulk", str(tmp_path / "absent.txt"), "-o", str(tmp_path / "o.jsonl"), "-q"]) == 1
    assert str(tmp_path / "absent.txt") in capsys.readouterr().err


def test_cli_decode_stdin_invalid_utf8_and_closed_pipe(tmp_path):
    rc, out, err = cli("decode", "-", stdin=N22.encode() + b"\n\xff\xfe\x00\n" + N22.encode() + b"\n")
    assert rc == 1 and "Traceback" not in err
    assert err.splitlines() == ["meterlink: line 2: not UTF-8 text"]
    assert len(out.splitlines()) == 2
    # A reader that goes away after one line (`| head -1`): status 0, nothing on stderr.
    frames = (N22 + "\n").encode() * 20000
    p = subprocess.Popen(
        [sys.executable, "-m", "meterlink", "decode", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    import threading

    def feed():
        try:
            p.stdin.write(frames)
            p.stdin.close()
        except BrokenPipeError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    first = p.stdout.readline()
    p.stdout.close()
    rc = p.wait(timeout=60)
    err = p.stderr.read().decode()
    p.stderr.close()
    assert json.loads(first)["id"] == "12345678"
    assert rc == 0 and err == "", err


# -- 4. secrets and key files ------------------------------------------------------------------


def test_swapped_key_file_columns_never_echo_the_key(tmp_path, capsys):
    p = tmp_path / "keys.csv"
    p.write_text(f"id,key\n12345678,{'00' * 16}\n{SECRET},87654321\n")
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.load_keys(p)
    msg = str(e.value)
    assert e.value.code == "key_meter_id"
    assert msg == (
        f"{p} line 3, column 1: meter id must be 8 digits (or hex digits) as printed, "
        "got 32 characters of hex digits: a key? (are the columns swapped?)"
    )
    rc = main(["decode", "--keys", str(p), N22])
    err = capsys.readouterr().err
    assert rc == 1 and "line 3, column 1" in err
    for text in (msg, err):
        assert SECRET[:8] not in text.upper() and SECRET[-8:] not in text.upper()
    # Every other way a value could leak: a manufacturer column holding the key, a short line,
    # a dict whose names are keys.
    for bad in (f"{SECRET},12345678,{SECRET}\n", f"{SECRET}\n", f"KAM;{SECRET};{SECRET[:8]}\n"):
        p.write_text(bad)
        with pytest.raises(meterlink.MeterlinkError) as e:
            meterlink.load_keys(p)
        assert SECRET[:8] not in str(e.value), e.value
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.KeyStore({SECRET: SECRET})
    assert SECRET[:8] not in str(e.value) and e.value.code == "key_meter_id"


def test_a_header_is_recognised_by_its_names(tmp_path, capsys):
    p = tmp_path / "keys.csv"
    # `KAM,<key>` is no header: loading fails at line 1 (before: 0 keys, exit 0).
    p.write_text(f"KAM,{SECRET}\n")
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.load_keys(p)
    assert "line 1, column 1" in str(e.value)
    assert main(["decode", "--keys", str(p), N22]) == 1
    assert "cannot load keys from" in capsys.readouterr().err
    # Named columns in any order (any case; unknown columns ignored).
    p.write_text(f"Key;comment;Meter_ID\n{SECRET};roof;12345678\n")
    ks = meterlink.load_keys(p)
    assert len(ks) == 1 and "12345678" in ks
    p.write_text("key,serial\n")
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.load_keys(p)
    assert e.value.code == "key_file_header"


def test_duplicates_name_both_lines_unless_chosen(tmp_path, capsys):
    other = "000102030405060708090A0B0C0D0E0F"
    p = tmp_path / "keys.csv"
    p.write_text(f"manufacturer,id,key\nELS,12345678,{SECRET}\n\nKAM,12345678,{other}\nels,12345678,{other}\n")
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.load_keys(p)
    assert e.value.code == "key_duplicate" and "lines 2 and 5 give the same meter different keys" in str(e.value)
    assert len(meterlink.load_keys(p, on_duplicate="first")) == 2
    assert len(meterlink.KeyStore.from_csv(p, on_duplicate="last")) == 2
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.KeyStore.from_csv(p)
    assert e.value.code == "key_duplicate" and str(p) in str(e.value)
    assert main(["decode", "--keys", str(p), N22]) == 1
    assert "lines 2 and 5" in capsys.readouterr().err
    # The keys load; N.2.2 is ELS 12345678's clear readout, so with a key for that meter it is
    # unprotected (issue 12's policy): the decode fails on that, not on the key file.
    assert main(["decode", "--keys", str(p), "--on-duplicate", "last", N22]) == 1
    assert "[unprotected]" in capsys.readouterr().err
    # JSON: the same meter spelled twice, with line numbers; json.loads would keep the last.
    j = tmp_path / "keys.json"
    j.write_text('{\n  "ELS12345678": "%s",\n  "87654321": "%s",\n  "els:12345678": "%s"\n}\n' % (SECRET, other, other))
    with pytest.raises(meterlink.MeterlinkError) as e:
        meterlink.load_keys(j)
    assert "lines 2 and 4 give the same meter different keys" in str(e.value) and SECRET[:8] not in str(e.value)
    assert len(meterlink.KeyStore.from_json(j, on_duplicate="first")) == 2
    with pytest.raises(meterlink.MeterlinkError):
        meterlink.KeyStore({"ELS12345678": SECRET, "els:12345678": other})
    assert len(meterlink.KeyStore({"ELS12345678": SECRET, "els:12345678": other}, on_duplicate="last")) == 1
    # The same key twice is no conflict (a hex ID spelt in both cases, as dicts often are).
    assert len(meterlink.KeyStore({"0014a807": SECRET, "0014A807": SECRET})) == 1
    with pytest.raises(meterlink.MeterlinkError, match="on_duplicate"):
        meterlink.load_keys(p, on_duplicate="newest")


def test_json_key_file_errors_never_quote_the_file(tmp_path):
    j = tmp_path / "keys.json"
    for text in ('{"12345678": "%s",}' % SECRET, '["%s"]' % SECRET, '{"12345678": "%s"} x' % SECRET):
        j.write_text(text)
        with pytest.raises(meterlink.MeterlinkError) as e:
            meterlink.load_keys(j)
        assert SECRET[:8] not in str(e.value) and str(j) in str(e.value)
    j.write_bytes(b'{"12345678": "\xff"}')
    with pytest.raises(meterlink.MeterlinkError, match="not UTF-8"):
        meterlink.load_keys(j)
    assert os.path.exists(j)
