"""DLMS/COSEM pushes to OBIS rows: meterlink against dlms-cosem and gurux-dlms, in one run
(issue 13 §5). Not part of the test run.

    python -m venv /work/bench-venv && /work/bench-venv/bin/pip install dlms-cosem gurux-dlms
    python benches/bench_dlms.py [--seconds 3] [--peer-python /work/bench-venv/bin/python]

The message: a 290-byte general-glo-ciphering data-notification (suite 0, authenticated
encryption, SC 0x30): the plaintext of the Austrian TINETZ push (tests/vectors/dlms_bulk.json
"dlms-0197-tinetz": long-invoke-id, date-time, 11 OBIS groups), enciphered here with
``cryptography``'s AES-GCM (12-byte tag) under the Green Book keys. Every decoder verifies the
tag, decrypts, decodes the data-notification and its A-XDR body, and produces the OBIS rows
(code, scaled value, unit where the push carries it):
- meterlink, bulk: ``decode_batch(frames, protocol="dlms", threads=1)``, ``BATCH`` messages a
  call, the ``messages`` and ``obis`` tables read into pyarrow (messages/s, one core);
- meterlink, one message: ``meterlink.dlms.decode(frame, keys)`` (the issue's figure), and with
  ``.obis_values`` read into Python dicts;
- dlms-cosem (pure Python over ``cryptography``): ``GeneralGlobalCipher.from_bytes``,
  ``to_plain_apdu``, ``DataNotification.from_bytes``, ``parse_as_dlms_data(body)``, then the
  same walk to OBIS rows (``rows_of``);
- gurux-dlms (pure Python, its own AES): ``GXDLMSSecureClient(interfaceType=PDU)`` with the keys,
  ``getData(frame, reply, notify)``, then the same walk over ``notify.value``.
The peers are imported only in a child process of the benchmark venv (``--peer``), never by
meterlink. Each decoder runs at least ``--seconds``; the best of three rounds is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
EK = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
AK = bytes.fromhex("D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF")
SYSTEM_TITLE = bytes.fromhex("4D4D4D0000BC614E")
INVOCATION_COUNTER = 0x01234567
SC = 0x30
BATCH = 100_000


def plaintext() -> bytes:
    vectors = json.loads((ROOT / "tests" / "vectors" / "dlms_bulk.json").read_text())["frames"]
    (tinetz,) = [v for v in vectors if v["name"] == "dlms-0197-tinetz"]
    return bytes.fromhex(tinetz["expect"]["plaintext"])


def build_push() -> bytes:
    """general-glo-ciphering: DB 08 system-title len(SC IC ciphertext tag) SC IC ciphertext tag."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    iv = SYSTEM_TITLE + INVOCATION_COUNTER.to_bytes(4, "big")
    enc = Cipher(algorithms.AES(EK), modes.GCM(iv, min_tag_length=12)).encryptor()
    enc.authenticate_additional_data(bytes([SC]) + AK)  # AAD = SC || AK (Green Book 9.2.7.2.4)
    ct = enc.update(plaintext()) + enc.finalize()
    body = bytes([SC]) + INVOCATION_COUNTER.to_bytes(4, "big") + ct + enc.tag[:12]
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else b"\x82" + n.to_bytes(2, "big")
    return bytes([0xDB, 8]) + SYSTEM_TITLE + length + body


def rate(fn: Callable[[int], int], seconds: float) -> float:
    """Messages per second of `fn(n)` (decodes n messages, returns how many it did)."""
    best, n = 0.0, 100
    for _ in range(3):
        while True:
            t0 = time.perf_counter()
            done = fn(n)
            dt = time.perf_counter() - t0
            if dt >= seconds / 3 or n >= 10_000_000:
                break
            n = int(n * max(2.0, seconds / 3 / max(dt, 1e-6)))
        best = max(best, done / dt)
    return best


# -- the peers' walk to OBIS rows (same for both) -----------------------------------------------


def rows_of(items: List[Any], obis_of: Callable[[Any], Optional[str]], value_of: Callable[[Any], Any]) -> List[Tuple]:
    """(obis, value, scaler, unit) of a push body: groups (OBIS, value[, scaler_unit]) and flat
    OBIS/value pairs, as the self-describing pushes lay them out."""
    rows: List[Tuple] = []
    pending: Optional[str] = None
    for it in items:
        code = obis_of(it)
        if code is not None:
            pending = code
            continue
        group = value_of(it)
        if isinstance(group, list) and group and obis_of(group[0]) is not None:
            scaler, unit = 0, None
            if len(group) > 2 and isinstance(value_of(group[2]), list):
                scaler, unit = (value_of(x) for x in value_of(group[2]))
            v = value_of(group[1])
            rows.append((obis_of(group[0]), v * 10 ** scaler if isinstance(v, int) and scaler else v, scaler, unit))
        elif pending is not None:
            rows.append((pending, group, 0, None))
            pending = None
    return rows


def raw_obis(x: Any) -> Optional[str]:
    """An OBIS code as the peers return a 6-octet string (bytes / bytearray)."""
    if isinstance(x, (bytes, bytearray)) and len(x) == 6:
        return ".".join(str(b) for b in x)
    return None


def raw_value(x: Any) -> Any:
    return list(x) if isinstance(x, (list, tuple)) else x


def dlms_cosem_decoder(frame: bytes) -> Callable[[], List[Tuple]]:
    from dlms_cosem.protocol.xdlms import DataNotification, GeneralGlobalCipher
    from dlms_cosem.utils import parse_as_dlms_data

    def run() -> List[Tuple]:
        ggc = GeneralGlobalCipher.from_bytes(frame)
        dn = DataNotification.from_bytes(ggc.to_plain_apdu(EK, AK))
        # parse_as_dlms_data gives the body structure's items as Python values.
        return rows_of(raw_value(parse_as_dlms_data(dn.body)), raw_obis, raw_value)

    return run


def gurux_decoder(frame: bytes) -> Callable[[], List[Tuple]]:
    from gurux_dlms import GXByteBuffer, GXReplyData
    from gurux_dlms.enums import InterfaceType, Security
    from gurux_dlms.secure import GXDLMSSecureClient

    client = GXDLMSSecureClient(True, interfaceType=InterfaceType.PDU)
    client.ciphering.security = Security.AUTHENTICATION_ENCRYPTION
    client.ciphering.systemTitle = SYSTEM_TITLE
    client.ciphering.blockCipherKey = EK
    client.ciphering.authenticationKey = AK

    def run() -> List[Tuple]:
        reply, notify = GXReplyData(), GXReplyData()
        client.getData(GXByteBuffer(frame), reply, notify)
        return rows_of(raw_value(notify.value), raw_obis, raw_value)

    return run


def peer_main(name: str, frame: bytes, seconds: float) -> None:
    """In the benchmark venv: rate of one peer, its rows, as JSON on stdout (the peer's own
    prints are swallowed)."""
    make = {"dlms-cosem": dlms_cosem_decoder, "gurux-dlms": gurux_decoder}[name]
    if name == "dlms-cosem":
        # dlms-cosem logs every step through structlog (printed by default): filtered out
        # below WARNING, as a production user would, so that logging is not measured.
        import logging

        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink):
        run = make(frame)
        rows = run()

        def fn(n: int) -> int:
            for _ in range(n):
                run()
            return n

        r = rate(fn, seconds)
    print(json.dumps({"rate": r, "rows": len(rows), "first": [str(x) for x in rows[:2]]}))


# -- meterlink -----------------------------------------------------------------------------------


def meterlink_batch(frame: bytes, threads: int) -> Callable[[int], int]:
    import pyarrow as pa

    import meterlink

    keys = {"ek": EK, "ak": AK}
    frames = [frame] * BATCH

    def run(n: int) -> int:
        done = 0
        while done < n:
            k = min(BATCH, n - done)
            b = meterlink.decode_batch(frames if k == BATCH else frames[:k], protocol="dlms", keys=keys, threads=threads)
            pa.table(b.messages), pa.table(b.obis)
            done += k
        return done

    return run


def meterlink_single(frame: bytes, rows: bool = True) -> Callable[[int], int]:
    import meterlink.dlms

    keys = {"ek": EK, "ak": AK}

    def run(n: int) -> int:
        for _ in range(n):
            msg = meterlink.dlms.decode(frame, keys)
            if rows:
                msg.obis_values
        return n

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--peer-python", default=os.environ.get("BENCH_PEER_PYTHON", "/work/bench-venv/bin/python"))
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    ap.add_argument("--frame", help=argparse.SUPPRESS)
    ns = ap.parse_args()
    if ns.peer:
        peer_main(ns.peer, bytes.fromhex(ns.frame), ns.seconds)
        return
    import meterlink.dlms

    frame = build_push()
    one = meterlink.dlms.decode(frame, {"ek": EK, "ak": AK})
    assert one.decrypted and one.obis_values, "the push deciphers to OBIS rows"
    print(f"message: {len(frame)} bytes general-glo-ciphering (SC 0x30), {len(one.obis_values)} OBIS rows (meterlink)")
    results: Dict[str, Optional[float]] = {}
    results["meterlink decode_batch -> Arrow, 1 thread"] = rate(meterlink_batch(frame, 1), ns.seconds)
    results["meterlink.dlms.decode() per message"] = rate(meterlink_single(frame, rows=False), ns.seconds)
    results["meterlink.dlms.decode().obis_values per message"] = rate(meterlink_single(frame), ns.seconds)
    for peer in ("dlms-cosem", "gurux-dlms"):
        cmd = [ns.peer_python, __file__, "--peer", peer, "--frame", frame.hex(), "--seconds", str(ns.seconds)]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True).stdout
            got = json.loads(out.strip().splitlines()[-1])
            results[f"{peer} (rows: {got['rows']})"] = got["rate"]
        except (OSError, subprocess.SubprocessError, ValueError, IndexError) as e:
            err = getattr(e, "stderr", "") or str(e)
            print(f"{peer}: not measured ({err.strip().splitlines()[-1] if err.strip() else e})")
            results[peer] = None
    base = results["meterlink decode_batch -> Arrow, 1 thread"] or 0.0
    width = max(len(k) for k in results)
    print(f"{'decoder':<{width}}  {'messages/s':>12}  {'meterlink bulk is':>18}")
    for name, r in results.items():
        ratio = "" if not r else f"{base / r:,.1f}x"
        print(f"{name:<{width}}  {(f'{r:,.0f}' if r else '-'):>12}  {ratio:>18}")


if __name__ == "__main__":
    main()
