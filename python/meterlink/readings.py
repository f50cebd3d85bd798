"""Multi-telegram readings (EN 13757-3: DIF 1Fh "more records follow").

A meter with more data than fits one telegram ends each telegram but the last with a 1Fh data
block; the head-end asks again (wired: REQ_UD2 with the FCB toggled) and gets the rest.
:func:`group_readings` joins such telegrams of one meter into one :class:`Reading`.
"""

from __future__ import annotations

from typing import Iterable, Iterator, List, NamedTuple, Optional, Tuple

from meterlink._native import Record, Telegram

__all__ = ["Reading", "group_readings"]


class Reading(NamedTuple):
    """The telegrams of one readout of one meter and their data records (the 1Fh markers left
    out). ``complete`` is False when the run ended, or another meter answered, while the last
    telegram still announced more records."""

    manufacturer: Optional[str]
    id: Optional[str]
    telegrams: List[Telegram]
    records: List[Record]
    complete: bool


def _more_follow(tg: Telegram) -> bool:
    recs = tg.records
    return bool(recs) and recs[-1].kind == "manufacturer_more_follow"


def _data_records(tg: Telegram) -> List[Record]:
    recs = tg.records
    return recs[:-1] if _more_follow(tg) else recs


def group_readings(telegrams: Iterable[Telegram]) -> Iterator[Reading]:
    """Join consecutive telegrams of the same meter linked by DIF 1Fh into readings, in order.

    A telegram without a 1Fh block is a reading by itself. Telegrams without a meter identity
    (acknowledgements, short frames) are skipped.
    """
    current: List[Telegram] = []
    key: Tuple[Optional[str], Optional[str]] = (None, None)

    def flush(complete: bool) -> Reading:
        recs: List[Record] = []
        for t in current:
            recs.extend(_data_records(t))
        return Reading(key[0], key[1], list(current), recs, complete)

    for tg in telegrams:
        if tg.id is None:
            continue
        k = (tg.manufacturer, tg.id)
        if current and k != key:
            yield flush(complete=False)
            current = []
        key = k
        current.append(tg)
        if not _more_follow(tg):
            yield flush(complete=True)
            current = []
    if current:
        yield flush(complete=False)
