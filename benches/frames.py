"""Frames shared by the Python benchmarks (same bytes as the criterion bench)."""

# A typical wired heat meter RSP_UD: long header + 20 records.
HEAT_20 = bytes.fromhex(
    "687B7B6808017278563412931533042A0000000C78123456780406A08601000C14270485020B2D1500000B3B56"
    "04000A5B65000A5F42000A622301046D32371F154406A08501004414C4D20100426C1F15840106A08401008401"
    "14B0D1010082016CFF140422E80300000426E803000002FD17000001FD0E050C13910300004116"
)

# Encrypted wireless telegrams from the verified vector set (tests/vectors/wireless-frames.json):
# (frame, {meter id: key})
import json as _json
import os as _os

_V = {
    v["name"]: v
    for v in _json.load(open(_os.path.join(_os.path.dirname(__file__), "..", "tests", "vectors", "wireless-frames.json")))[
        "vectors"
    ]
}


def _case(name, meter_id):
    v = _V[name]
    return bytes.fromhex(v["input_hex"]), {meter_id: next(iter(v["keys"].values()))}


MODE5 = _case("mode5-oms-annexN-N21", "12345678")
MODE7 = _case("mode7-oms-profileB-short-tpl", "12345678")
MODE10 = _case("mode10-kaw-issue1667-trace", "53820306")
ELL_CTR = _case("ell-aes-ctr-kamstrup-multical21", "76348799")
