"""DSMR P2 4.2.2: the E-meter <-> gas/water/heat meter protocol.

- P2 -> P3 view of a telegram: :func:`p3_view` (Appendix A), as OBIS rows and P1 lines.
- The sans-IO protocol engines :class:`EMeter` and :class:`MBusDevice` (sections 4-8).
- A traffic simulator :func:`simulate`.
"""
from __future__ import annotations

from meterlink.dsmr._engine import Bus, EMeter, Event, MBusDevice, Sent, wrap_user_key
from meterlink.dsmr._p3 import DsmrP3View, p3_view, parse_data
from meterlink.dsmr._simulate import Simulation, SimulatedTelegram, simulate

__all__: list[str] = [
    "Bus",
    "DsmrP3View",
    "EMeter",
    "Event",
    "MBusDevice",
    "Sent",
    "Simulation",
    "SimulatedTelegram",
    "p3_view",
    "parse_data",
    "simulate",
    "wrap_user_key",
]
