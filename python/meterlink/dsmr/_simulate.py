"""The DSMR P2 traffic simulator (issue 14 section 5): :func:`simulate`.

>>> sim = simulate(e_meters=2, hours=1, seed=1)
>>> sim.count == len(sim.telegrams) and all(t.frame for t in sim.telegrams)
True
"""
from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Tuple, Union

from meterlink._native import _dsmr_simulate

__all__ = ["Simulation", "SimulatedTelegram", "simulate"]

#: The default start: 2024-01-01T00:00:00Z.
DEFAULT_START = 1_704_067_200

StartArg = Union[None, int, str, _dt.datetime]
PathArg = Union[None, str, "os.PathLike[str]"]


class SimulatedTelegram(NamedTuple):
    """One simulated telegram: when the E-meter received it (Unix seconds, UTC), the E-meter's
    name, the M-Bus channel (1-4) and the frame (wired FT1.2 or wireless format A)."""

    time: int
    e_meter: str
    channel: int
    frame: bytes


@dataclass
class Simulation:
    """What :func:`simulate` made.

    ``count``: telegrams; ``keys``: ``{"MAN12345678": key hex}`` for every device (usable as
    any ``keys=`` argument); ``path`` / ``keys_path``: the files written (or None);
    ``telegrams``: the telegrams in time order when no ``path`` was given (else None)."""

    count: int
    keys: Dict[str, str]
    path: Optional[str] = None
    keys_path: Optional[str] = None
    telegrams: Optional[List[SimulatedTelegram]] = field(default=None, repr=False)


def _start(start: StartArg) -> int:
    if start is None:
        return DEFAULT_START
    if isinstance(start, bool):
        raise TypeError("start must be a datetime, an ISO 8601 text or Unix seconds")
    if isinstance(start, int):
        return start
    if isinstance(start, str):
        start = _dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    if isinstance(start, _dt.datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=_dt.timezone.utc)
        return int(start.timestamp())
    raise TypeError("start must be a datetime, an ISO 8601 text or Unix seconds")


def _devices(devices: Union[int, Tuple[int, int]]) -> Tuple[int, int]:
    if isinstance(devices, bool):
        raise TypeError("devices must be an int or a (min, max) pair")
    if isinstance(devices, int):
        return 1, devices
    lo, hi = devices
    return int(lo), int(hi)


def _keys(text: str) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for line in text.splitlines()[1:]:
        man, ident, key = line.split(",")
        out[f"{man}{ident}"] = key
    return out


def _default_keys_path(path: str) -> str:
    for ext in (".parquet", ".txt", ".hex", ".csv"):
        if path.lower().endswith(ext):
            return path[: -len(ext)] + ".keys.csv"
    return path + ".keys.csv"


def simulate(
    e_meters: int = 10,
    devices: Union[int, Tuple[int, int]] = (1, 4),
    hours: int = 24,
    start: StartArg = None,
    seed: int = 0,
    wireless: float = 0.5,
    path: PathArg = None,
    *,
    keys_path: PathArg = None,
    loss: float = 0.0,
) -> Simulation:
    """Simulate ``hours`` of DSMR P2 traffic of ``e_meters`` E-meters (deterministic for ``seed``).

    Each E-meter has ``devices`` M-Bus devices (an int ``n``: one to ``n``, most E-meters one;
    or ``(min, max)``; 1-4): a gas meter on channel 1 (mostly), water, heat or slave E-meters on
    the others. A share ``wireless`` of the E-meters talk wireless M-Bus: their devices send
    SND_NR (C 44h, CI 7Ah) at a random second of the 10 minutes after each hour, ``loss`` of
    them lost on the air; the others are wired, and their devices answer the hourly poll with
    RSP_UD (C 08h, CI 72h). Every telegram is encrypted with DSMR method 15 under the device's
    user key and carries the section 6.3 readout list of Appendix B1.3 (status, equipment
    identifier, hourly time stamp, reading, configuration).

    ``start``: a datetime (naive = UTC), an ISO 8601 text or Unix seconds (rounded down to the
    hour; default 2024-01-01T00:00Z).

    With ``path``: writes the archive there (``.parquet``: Parquet with ``timestamp``,
    ``e_meter``, ``channel`` and binary ``frame`` columns, needs pyarrow; otherwise hex lines
    ``timestamp;e_meter;channel;frame`` with a header) and the key file (CSV
    ``manufacturer,id,key``) to ``keys_path`` (default: next to it, ``<name>.keys.csv``); both
    read by ``meterlink bulk --keys``. Without: the telegrams are returned. The work runs
    without the GIL.
    """
    lo, hi = _devices(devices)
    args = (int(e_meters), lo, hi, int(hours), _start(start), int(seed), float(wireless), float(loss))
    if path is None:
        count, key_text, times, meters, channels, frames = _dsmr_simulate(*args)
        tgs = [SimulatedTelegram(*t) for t in zip(times, meters, channels, frames)]
        return Simulation(count, _keys(key_text), telegrams=tgs)
    p = os.fspath(path)
    kp = os.fspath(keys_path) if keys_path is not None else _default_keys_path(p)
    if p.lower().endswith(".parquet"):
        return _parquet(args, p, kp)
    count, key_text = _dsmr_simulate(*args, path=p, keys_path=kp)
    return Simulation(count, _keys(key_text), path=p, keys_path=kp)


def _parquet(args: tuple, path: str, keys_path: str) -> Simulation:
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    count, key_text, times, meters, channels, frames = _dsmr_simulate(*args)
    table = pa.table(
        {
            "timestamp": pa.array(times, pa.timestamp("s", tz="UTC")),
            "e_meter": pa.array(meters, pa.string()).dictionary_encode(),
            "channel": pa.array(channels, pa.uint8()),
            "frame": pa.array(frames, pa.binary()),
        }
    )
    pq.write_table(table, path)
    with open(keys_path, "w", encoding="utf-8") as f:
        f.write(key_text)
    return Simulation(count, _keys(key_text), path=path, keys_path=keys_path)
