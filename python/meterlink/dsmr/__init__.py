"""DSMR P2 4.2.2: the E-meter <-> gas/water/heat meter protocol.

- P2 -> P3 view of a telegram: :func:`p3_view` (Appendix A), as OBIS rows and P1 lines.
- The sans-IO protocol engines :class:`EMeter` and :class:`MBusDevice` (sections 4-8).
- A traffic simulator :func:`simulate`.
"""
from __future__ import annotations

from meterlink.dsmr._engine import Bus, EMeter, Event, MBusDevice, Sent, wrap_user_key

__all__: list[str] = ["Bus", "EMeter", "Event", "MBusDevice", "Sent", "wrap_user_key"]
