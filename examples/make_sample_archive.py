"""Build examples/sample-archive.txt and examples/sample-keys.csv (the bulk demo of ./run.sh).

Every frame comes from meterlink's own cited vectors: examples/sample-frames.txt and
tests/vectors/*.json (each vector names its source there). Lines are ``timestamp;hex``; two
deliberately broken lines show that bad input becomes an error row instead of stopping the run.

    python examples/make_sample_archive.py      (needs meterlink installed, to read the meter IDs)
"""

from __future__ import annotations

import datetime as dt
import json
import os

import meterlink

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def frames_and_keys():
    frames, keys = [], {}
    with open(os.path.join(HERE, "sample-frames.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                frames.append(line.upper())
    for name in ("wired-frames.json", "wireless-frames.json"):
        with open(os.path.join(ROOT, "tests", "vectors", name), encoding="utf-8") as f:
            for v in json.load(f)["vectors"]:
                hx = (v.get("hex") or v.get("input_hex")).replace(" ", "").upper()
                if hx in frames:
                    continue
                frames.append(hx)
                key = next(iter((v.get("keys") or {}).values()), None)
                if key:
                    tg = meterlink.decode(hx)
                    # The key belongs to the identity that protects the telegram (manufacturer + ID).
                    if tg.ci in (0x8C, 0x8D, 0x8E, 0x8F) and tg.link_id is not None:
                        ident = (tg.link_manufacturer, tg.link_id)
                    else:
                        ident = (tg.manufacturer, tg.id)
                    # Two sources use ELS 12345678 with different keys: the first one is kept, so
                    # the other telegram shows up as a security error in the demo.
                    keys.setdefault(ident, key)
    return frames, keys


def main() -> None:
    frames, keys = frames_and_keys()
    t0 = dt.datetime(2024, 1, 1, 0, 0, 0)
    lines = ["# meterlink sample archive: timestamp;frame (built by examples/make_sample_archive.py)"]
    for i, hx in enumerate(frames):
        lines.append(f"{(t0 + dt.timedelta(seconds=15 * i)).isoformat()};{hx}")
        if i == 3:
            lines.append(f"{(t0 + dt.timedelta(seconds=15 * i + 1)).isoformat()};68 0X 0X 68 not hex")
        if i == 7:
            lines.append(f"{(t0 + dt.timedelta(seconds=15 * i + 1)).isoformat()};{frames[0][:30]}")
    with open(os.path.join(HERE, "sample-archive.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(HERE, "sample-keys.csv"), "w", encoding="utf-8") as f:
        f.write("manufacturer,id,key\n")
        for (man, mid), key in sorted(keys.items()):
            f.write(f"{man},{mid},{key}\n")
    print(f"{len(lines) - 1} lines, {len(keys)} keys")


if __name__ == "__main__":
    main()
