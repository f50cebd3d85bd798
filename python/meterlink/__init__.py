"""meterlink: decode, decrypt, verify and build smart-meter telegrams.

>>> import meterlink
>>> tg = meterlink.decode("68 06 06 68 08 01 72 ...")  # doctest: +SKIP
>>> tg.to_dict()["records"]  # doctest: +SKIP
"""

from __future__ import annotations

from meterlink._native import (
    AflReassembler,
    FormatCache,
    FrameSplitter,
    KeyStore,
    Record,
    Telegram,
    __version__,
    decode,
    device_type_name,
    encode,
    encode_record,
    manufacturer_code,
    manufacturer_name,
)
from meterlink.bulk import ArrowTable, DecodedBatch, decode_batch, iter_batches, read_archive
from meterlink.exceptions import DecodeError, FrameError, MeterlinkError, SecurityError
from meterlink.keys import load_keys
from meterlink.readings import Reading, group_readings
from meterlink.replay import CounterStore
from meterlink.stream import iter_frames

__all__ = [
    "AflReassembler",
    "ArrowTable",
    "CounterStore",
    "DecodedBatch",
    "FormatCache",
    "DecodeError",
    "FrameError",
    "FrameSplitter",
    "KeyStore",
    "MeterlinkError",
    "Reading",
    "Record",
    "SecurityError",
    "Telegram",
    "__version__",
    "decode",
    "decode_batch",
    "device_type_name",
    "group_readings",
    "iter_batches",
    "iter_frames",
    "load_keys",
    "manufacturer_code",
    "manufacturer_name",
    "read_archive",
]
