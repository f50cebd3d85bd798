"""Snapshot of meterlink's observable behaviour, to prove a refactoring changed none of it.

    python benches/behaviour_snapshot.py dump OUT_DIR CORPUS.jsonl ...   # with one build
    python benches/behaviour_snapshot.py compare OLD_DIR NEW_DIR         # after another build

`dump` writes, for every row of the given JSON-lines corpora (any row with a "hex" frame), the
outcome of `meterlink.decode` under several options (no keys; the row's key for every identity
the frame names; each link mode; strict): `to_dict()` of the telegram, or the exception's class,
message and offset. It also bulk-decodes the bundled sample archive with its keys to Parquet
(`meterlink bulk`) and dumps every row of the Parquet file as canonical JSON.

`compare` prints every difference and exits 1 if there is one. Columns or fields that exist only
in the new snapshot (added, not changed) are listed and not counted as differences; error codes
are such an addition.

Not a test (it needs the shared corpora, which the test suite must run without); run it by hand
around a change that must keep behaviour, as issue 11 asks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPTION_SETS = [
    {"link": "auto"},
    {"link": "wired"},
    {"link": "wireless"},
    {"link": "auto", "strict": True},
    {"link": "auto", "tail": "strict"},
    {"link": "auto", "default_keys": False},
]


def outcome(meterlink, frame, **kw):
    try:
        tg = meterlink.decode(frame, **kw)
    except meterlink.MeterlinkError as e:
        return {"error": type(e).__name__, "message": str(e), "offset": getattr(e, "offset", None)}
    except Exception as e:  # noqa: BLE001 - recorded, a refactor must not change it either
        return {"crash": type(e).__name__, "message": str(e)}
    d = tg.to_dict()
    extra = {}
    for attr in ("decrypted_by", "undecoded", "security_config", "status_flags", "compact_signature"):
        v = getattr(tg, attr, None)
        extra[attr] = v if isinstance(v, (str, int, type(None), dict, list, bool)) else repr(v)
    return {"ok": d, "extra": extra}


def ids_of(meterlink, frame):
    ids = set()
    for link in ("auto", "wired", "wireless"):
        try:
            tg = meterlink.decode(frame, link=link)
        except Exception:  # noqa: BLE001
            continue
        d = tg.to_dict()
        for k in ("id", "link_id"):
            if d.get(k):
                ids.add(d[k])
        la = getattr(tg, "link_address", None)
        if la:
            ids.add(str(la)[:8])
    return sorted(i for i in ids if isinstance(i, str) and len(i) == 8)


def dump(out: Path, corpora: list[str]) -> None:
    import meterlink

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "decode.jsonl", "w") as f:
        for corpus in corpora:
            for n, line in enumerate(open(corpus)):
                row = json.loads(line)
                hx = row.get("hex")
                if not isinstance(hx, str):
                    continue
                try:
                    frame = bytes.fromhex(hx)
                except ValueError:
                    frame = hx
                key = row.get("key")
                keysets = [None]
                if key:
                    ids = ids_of(meterlink, frame)
                    if row.get("meter_id"):
                        ids.append(str(row["meter_id"]))
                    keysets.append({i: key for i in ids} or None)
                for ki, keys in enumerate(keysets):
                    for opts in OPTION_SETS:
                        res = outcome(meterlink, frame, keys=keys, **opts)
                        tag = {"corpus": Path(corpus).name, "row": n, "keys": ki, **opts}
                        f.write(json.dumps({"case": tag, "result": res}, sort_keys=True, default=repr) + "\n")
    pq = out / "sample-archive.parquet"
    subprocess.run(
        [sys.executable, "-m", "meterlink", "bulk", str(ROOT / "examples/sample-archive.txt"),
         "--keys", str(ROOT / "examples/sample-keys.csv"), "-o", str(pq)],
        check=True, stdout=subprocess.DEVNULL,
    )
    import pyarrow.parquet as papq

    table = papq.read_table(pq)
    with open(out / "archive.jsonl", "w") as f:
        for row in table.to_pylist():
            f.write(json.dumps(row, sort_keys=True, default=repr) + "\n")


def _diff(a, b, path=""):
    """Differences between old `a` and new `b`; keys only in `b` are additions."""
    if isinstance(a, dict) and isinstance(b, dict):
        out, added = [], []
        for k in sorted(set(a) | set(b), key=str):
            if k not in b:
                out.append(f"{path}.{k}: removed")
            elif k not in a:
                added.append(f"{path}.{k}")
            else:
                d, ad = _diff(a[k], b[k], f"{path}.{k}")
                out += d
                added += ad
        return out, added
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out, added = [], []
        for i, (x, y) in enumerate(zip(a, b)):
            d, ad = _diff(x, y, f"{path}[{i}]")
            out += d
            added += ad
        return out, added
    return ([] if a == b else [f"{path}: {a!r} -> {b!r}"]), []


def compare(old: Path, new: Path) -> int:
    bad = 0
    added: set[str] = set()
    for name in ("decode.jsonl", "archive.jsonl"):
        la = open(old / name).read().splitlines()
        lb = open(new / name).read().splitlines()
        if len(la) != len(lb):
            print(f"{name}: {len(la)} rows before, {len(lb)} after")
            bad += 1
        for i, (x, y) in enumerate(zip(la, lb)):
            if x == y:
                continue
            d, ad = _diff(json.loads(x), json.loads(y))
            added.update(a.split("[")[0] for a in ad)
            for line in d:
                bad += 1
                if bad <= 50:
                    print(f"{name}:{i + 1}{line}")
        print(f"{name}: {len(la)} rows compared")
    for a in sorted(added):
        print(f"added (not a difference): {a}")
    print(f"{bad} differences")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "dump":
        dump(Path(sys.argv[2]), sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        sys.exit(compare(Path(sys.argv[2]), Path(sys.argv[3])))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
