#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, built from the frames of tests/vectors/*.json.

Writes fuzz/seeds/<target>/<name> (existing seed directories are replaced). Each target's
input layout is described at the top of its fuzz_targets/<target>.rs; the seeds follow it:
real frames (with the vector's key where the target takes one), length-prefixed frame
sequences, hex text lines, key CSV files. `encode` and the generated modes take structured
bytes, for which a few fixed pseudo-random inputs are written.

Run from anywhere: python3 fuzz/make_seeds.py
"""
import json
import random
import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
SEEDS = Path(__file__).resolve().parent / "seeds"
FRAME_FILES = [
    "wired-frames.json", "wireless-frames.json", "manufacturer-frames.json", "default-keys.json",
    "compact-frames.json", "encode-kat.json", "security/mode5.json", "security/mode7.json",
    "security/mode10.json", "security/ell.json", "security/frames.json",
]


def unhex(s):
    return bytes.fromhex(re.sub(r"\s", "", s))


def key_of(v):
    """The vector's key as (16 bytes, is_des), or None."""
    keys = v.get("keys") if isinstance(v.get("keys"), dict) else {}
    k = v.get("key") or keys.get("key") or keys.get("master_key") or keys.get("user_key")
    if not k:
        return None
    b = unhex(k)
    return (b.ljust(16, b"\0"), len(b) == 8)


def frames():
    """(name, frame bytes, key or None) of every frame in the vector files, deduplicated."""
    out, seen = [], set()
    for f in FRAME_FILES:
        d = json.loads((VECTORS / f).read_text())
        for v in d.get("vectors", []) + d.get("standalone", []) + d.get("pairs", []):
            for field in ("hex", "input_hex", "full_hex", "compact_hex", "expected"):
                s = v.get(field)
                if not isinstance(s, str) or not s or (field == "expected" and "key" not in v):
                    continue
                b = unhex(s)
                if b not in seen:
                    seen.add(b)
                    out.append((f"{v['name']}-{field}", b, key_of(v)))
    return out


def write(target, name, data):
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / re.sub(r"[^A-Za-z0-9_.-]", "_", name)).write_bytes(data)


def prefixed(fs):
    return b"".join(bytes([len(f)]) + f for f in fs if len(f) < 255)


def compact_pairs():
    d = json.loads((VECTORS / "compact-frames.json").read_text())
    return [(p["name"], unhex(p["full_hex"]), unhex(p["compact_hex"])) for p in d["pairs"]]


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    fs = frames()
    rnd = random.Random(12)
    zero = (bytes(16), False)
    for name, f, key in fs:
        k, des = key or zero
        write("decode_frame", name, f)
        write("decode_keyed", name, bytes([0x08 if des else 0x00]) + k + f)
        write("arrow_frames", name, bytes([0]) + prefixed([f]))
        if f[0] == 0x68 or f[0] == 0x10 or f[0] == 0xE5:
            write("split_stream", name, bytes([rnd.randrange(256)]) + b"\xff\x00" + f + f)
        if len(f) > 10 and f[1] == 0x44 and not des:  # wireless SND_NR: AFL/ELL candidates for reassembly
            write("afl_reassembly", name, bytes([3, 5, 0]) + k + prefixed([f, f]))
    write("split_stream", "all-wired", bytes([7]) + b"".join(f for _, f, _ in fs if f[0] in (0x68, 0x10, 0xE5)))
    hexes = [f.hex() for _, f, _ in fs]
    write("read_lines", "hex", bytes([0 + 3 * 5]) + "\n".join(hexes).encode() + b"\n")
    write("read_lines", "rtl-wmbus", bytes([1 + 3 * 9]) + "".join(
        f"T1;1;1;2019-03-28 08:49:36.000;117;102;12345678;0x{h}\n" for h in hexes[:8]).encode())
    write("read_lines", "wmbusmeters", bytes([2 + 3 * 2 + 93]) + "".join(
        f"(wmbus) received\ntelegram=|{h}|+12.5s\n" for h in hexes[:8]).encode())
    write("arrow_frames", "all-hex", bytes([3]) + prefixed([h.encode() for h in hexes if len(h) < 255]) + b"\xff")
    write("arrow_frames", "all-binary", bytes([2]) + prefixed([f for _, f, _ in fs]) + b"\xff")
    ell_key = unhex("28F64A24988064A079AA2C807D6102AE")  # the Multical 21 pairs (ELL AES-CTR)
    for name, full, compact in compact_pairs():
        write("format_cache", name, bytes([0x07]) + ell_key + prefixed([full, compact, compact]))
        write("format_cache", name + "-compact-first", bytes([0x00]) + ell_key + prefixed([compact, full, compact]))
    d = json.loads((VECTORS / "compact-frames.json").read_text())
    for v in d["standalone"]:
        write("format_cache", v["name"], bytes([0x03]) + bytes(16) + prefixed([unhex(v["hex"])] * 2))
    write("key_file", "ids", b"id,key\n12345678,000102030405060708090A0B0C0D0E0F\n# c\n76348799;28F64A24988064A079AA2C807D6102AE\n")
    write("key_file", "manufacturers", b"manufacturer,id,key\nKAM,76348799,28F64A24988064A079AA2C807D6102AE\n"
          b"DME\t64745666\t51728910E66D83F851728910E66D83F8\nKAW,06038253,0102030405060708\n")
    for i in range(24):
        structured = bytes(rnd.randrange(256) for _ in range(rnd.randrange(40, 400)))
        write("encode", f"random-{i}", structured)
        write("decode_keyed", f"built-{i}", bytes([0x80 | rnd.randrange(128)]) + structured)
        write("afl_reassembly", f"generated-{i}", bytes([rnd.randrange(256), 5, 1]) + structured)
    print({p.name: len(list(p.iterdir())) for p in sorted(SEEDS.iterdir())})


if __name__ == "__main__":
    main()
