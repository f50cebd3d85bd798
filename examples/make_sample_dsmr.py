"""Write examples/sample-dsmr.txt and its key file: one simulated day of DSMR P2 traffic
(meterlink.dsmr.simulate, seed 42: 8 E-meters with 1-4 devices each, wired and wireless,
every telegram encrypted with DSMR method 15 under its device's user key)."""
from pathlib import Path

import meterlink.dsmr

here = Path(__file__).parent
sim = meterlink.dsmr.simulate(
    e_meters=8, devices=(1, 4), hours=24, start="2024-01-15T00:00:00Z", seed=42,
    path=here / "sample-dsmr.txt", keys_path=here / "sample-dsmr-keys.csv",
)
print(sim.count, "telegrams,", len(sim.keys), "devices")
