"""Single-bit flips over real and encoded frames: how many corrupted frames come back as readings.

    python benches/mutation_run.py [CORPUS.jsonl ...]     # default: ../shared/corpus/*.jsonl

For every frame (the corpora's, with their keys, and `encode()`d frames of every security mode on
every link) every bit of every byte is flipped and the frame decoded again, in the modes a user
would use: a single `decode()` (link "auto"), and for wireless frames with CRCs the batch mode of a
source whose frames carry CRCs (`decode_batch(..., link_crc="required")`). A flipped frame that
decodes with values other than the original's is a *changed acceptance*. Printed per kind of
frame: frames, flips, acceptances, changed acceptances, and how many of those said
`link_crc="absent"` (the CRC-less reading, which `strict=True` or a CRC source rejects).

A benchmark-style run (minutes), not a test: the seeded, fast version of this check is
`crates/meterlink/tests/safe_defaults.rs`. Numbers go into the issue note.
"""

from __future__ import annotations

import glob
import json
import os
import sys
from collections import defaultdict

import meterlink

HERE = os.path.dirname(os.path.abspath(__file__))
KEY = "000102030405060708090A0B0C0D0E0F"


def values(tg):
    return [(r.dif, r.vif, r.value) for r in tg.records]


def kind(tg):
    if tg.link_layer == "wired":
        return "wired"
    return {"format A": "wireless A", "format B": "wireless B"}.get(tg.frame_type, "wireless, no CRC")


def encoded_frames():
    rec = meterlink.encode_record(0x13, 6408) + meterlink.encode_record(0x13, 5120, storage=1)
    out = []
    for mode in (0, 2, 3, 5, 7, 8, 9, 10, 15):
        key = KEY[:16] if mode in (2, 3) else KEY
        for link, fmt in (("wired", None), ("wireless", "A"), ("wireless", "B"), ("wireless", "none")):
            kw = dict(link=link, manufacturer="KAM", id="12345678", mode=mode, key=key if mode else None)
            if fmt:
                kw["frame_format"] = fmt
            if mode in (7, 8, 9, 10, 15):
                kw["message_counter"] = 7
            if mode == 15 or link == "wired":
                kw["header"] = "long"
            try:
                out.append((meterlink.encode(rec, **kw), {"12345678": key}))
            except meterlink.MeterlinkError:
                pass
    return out


def corpus_frames(paths):
    out = []
    for p in paths:
        for line in open(p):
            row = json.loads(line)
            hx = row.get("hex")
            if not isinstance(hx, str):
                continue
            try:
                f = bytes.fromhex(hx)
            except ValueError:
                continue
            keys = None
            if row.get("key") and row.get("meter_id"):
                keys = {str(row["meter_id"]): row["key"]}
            out.append((f, keys))
    return out


def run(frames):
    stats = defaultdict(lambda: defaultdict(int))
    for f, keys in frames:
        try:
            base = meterlink.decode(f, keys=keys, accept_unprotected=True)
        except meterlink.MeterlinkError:
            continue
        if not base.records:
            continue
        k = kind(base)
        want = values(base)
        s = stats[k]
        s["frames"] += 1
        for i in range(len(f)):
            for bit in range(8):
                m = bytearray(f)
                m[i] ^= 1 << bit
                m = bytes(m)
                s["flips"] += 1
                try:
                    tg = meterlink.decode(m, keys=keys, accept_unprotected=True)
                except meterlink.MeterlinkError:
                    tg = None
                if tg is not None:
                    s["accepted"] += 1
                    if tg.records and values(tg) != want:
                        s["changed"] += 1
                        s["changed, link_crc absent"] += tg.link_crc == "absent"
                if k in ("wireless A", "wireless B"):
                    t = meterlink.decode_batch([m], keys=keys, link_crc="required", accept_unprotected=True).telegrams
                    row = t.to_pyarrow().to_pylist()[0]
                    if row["status"] == "ok" and row["record_count"]:
                        b = meterlink.decode(m, keys=keys, accept_unprotected=True, link="wireless-a" if k.endswith("A") else "wireless-b")
                        s["source with CRCs: changed"] += values(b) != want
    return stats


def main(argv):
    paths = argv or sorted(glob.glob(os.path.join(HERE, "..", "..", "shared", "corpus", "*.jsonl")))
    for name, frames in (("corpus", corpus_frames(paths)), ("encode()", encoded_frames())):
        stats = run(frames)
        cols = ["frames", "flips", "accepted", "changed", "changed, link_crc absent", "source with CRCs: changed"]
        print(f"\n{name}")
        print(f"{'kind':<18}" + "".join(f"{c:>28}" for c in cols))
        for k in sorted(stats):
            print(f"{k:<18}" + "".join(f"{stats[k][c]:>28,}" for c in cols))


if __name__ == "__main__":
    main(sys.argv[1:])
