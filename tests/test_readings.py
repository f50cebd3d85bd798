"""Multi-telegram readings joined through DIF 1Fh (EN 13757-3 "more records follow")."""

import meterlink


def _long(ci_body: bytes) -> bytes:
    d = bytes([0x08, 0x01, 0x72]) + ci_body
    return bytes([0x68, len(d), len(d), 0x68]) + d + bytes([sum(d) % 256, 0x16])


def _tg(acc: int, records: str, meter: str = "78563412") -> meterlink.Telegram:
    header = bytes.fromhex(meter + "931533" + "07") + bytes([acc, 0, 0, 0])
    return meterlink.decode(_long(header + bytes.fromhex(records)))


def test_three_telegram_readout():
    # 0C13 = 8-digit BCD volume in litres (10^-3 m^3); the first two telegrams end with 1F.
    t1 = _tg(1, "0C1301000000" + "1F")
    t2 = _tg(2, "4C1302000000" + "1F")
    t3 = _tg(3, "8C011303000000")
    other = _tg(9, "0C1309000000", meter="11111111")
    readings = list(meterlink.group_readings([t1, t2, t3, other]))
    assert [len(r.telegrams) for r in readings] == [3, 1]
    first = readings[0]
    assert first.complete and first.id == "12345678" and first.manufacturer == "ELS"
    assert [(r.storage, r.value) for r in first.records] == [(0, 0.001), (1, 0.002), (2, 0.003)]
    assert readings[1].records[0].value == 0.009


def test_interrupted_readout_is_incomplete():
    t1 = _tg(1, "0C1301000000" + "1F")
    other = _tg(5, "0C1305000000", meter="11111111")
    readings = list(meterlink.group_readings([t1, other, _tg(2, "0C1301000000" + "1F")]))
    assert [r.complete for r in readings] == [False, True, False]
    assert [len(r.records) for r in readings] == [1, 1, 1]
