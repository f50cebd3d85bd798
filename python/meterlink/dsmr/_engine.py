"""The DSMR P2 sans-IO protocol engines (issue 14 section 5): :class:`EMeter` (the P2 master)
and :class:`MBusDevice` (a gas, thermal, water or slave-E meter), wired and wireless, and a
small in-memory :class:`Bus` with simulated time to script scenarios.

Sans-IO: nothing here reads a clock, opens a port or starts a thread. The caller passes the
current time (Unix milliseconds, UTC) and received bytes in (``handle_received``,
``handle_timeout``) and takes bytes to send (``poll_transmit``), the next deadline
(``poll_timeout``) and typed :class:`Event` objects (``poll_event``) out. The same inputs give
the same outputs. The protocol itself (DSMR P2 sections 4-8) runs in the Rust core
(``meterlink::dsmr::engine``).

>>> from meterlink.dsmr import Bus, EMeter, MBusDevice
>>> T0 = 1_245_321_000_000
>>> gas = MBusDevice(medium="wired", short_id="NET-23456789-42-03",
...                  default_key="00112233445566778899aabbccddeeff", mode="installation",
...                  values={"equipment_id": "XXXXX110123456789"})
>>> bus = Bus(EMeter(), [gas], now=T0)
>>> bus.emeter.cover_opened(T0)
>>> bus.run_for(60_000)
>>> [e.kind for e in bus.take_emeter_events() if e.kind in ("device_found", "bound")]
['device_found', 'bound']
>>> gas.state()["primary_address"], gas.mode
(1, 'customer')

Both engines' ``state()`` is a JSON-able dict; ``from_state(state)`` resumes exactly where it
was (``from_state(s).state() == s``). The states hold key material in clear (the user keys, the
device's default key): store them as you store keys. Bytes sent and events not yet polled are
not part of a state: poll them before persisting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from meterlink._native import DsmrEMeter, DsmrMBusDevice, dsmr_wrap_user_key

__all__ = ["Bus", "EMeter", "Event", "MBusDevice", "Sent", "wrap_user_key"]

_Bytes = Union[bytes, bytearray, memoryview, str]
_Key = Union[bytes, str]
_ShortId = Union[str, bytes, Any]

HOUR_MS = 3_600_000


def wrap_user_key(default_key: _Key, user_key: _Key) -> bytes:
    """DSMR P2 section 6.5.1: ``user_key`` encrypted with ``default_key`` (AES-128-ECB), the form
    :meth:`EMeter.transfer_key` sends (keys as 16 bytes or 32 hex digits)."""
    return dsmr_wrap_user_key(default_key, user_key)


@dataclass(frozen=True)
class Event:
    """Something an engine reports. ``kind`` is one of ``device_found``, ``bound``,
    ``address_set``, ``key_set``, ``clock_set``, ``command_done``, ``command_failed``,
    ``readout_reset``, ``reading``, ``rejected``, ``mode``, ``fac``; the other fields are set
    where that kind has them (``None`` otherwise):

    - ``channel``: E-meter channel 1-4 (0 on the device side and for the engine itself);
    - ``short_id`` (``"NET-23456789-42-03"``), ``primary_address`` (device_found: wired address,
      None for wireless), ``address`` (address_set);
    - ``time`` (Unix seconds set) and ``deviation`` (device: new - old clock, seconds) of clock_set;
    - ``command``: ``{"name": "set_time"|"set_address"|"clear_status"|"set_key"|"select_readout",
      "value": ...}``;
    - reading: ``message_kind`` (``meter_data``, ``periodic_data``, ``installation``...),
      ``frame_counter``, ``data`` (the named section 6.4 blocks: ``equipment_id``, ``status``,
      ``config_mask``, ``timestamp``, ``readings`` [dicts with ``kind``, ``raw``, ``scaler``,
      ``unit``, ``value``...], ``versions``, ``valve``, ``other``; None while the E-meter lacks
      the key);
    - rejected: ``medium``, the error's stable ``code`` (``dsmr_control``, ``dsmr_replay``...),
      ``message`` and ``offset`` (a byte offset in the frame, or None);
    - mode: ``mode`` (``storage``/``installation``/``customer``); fac: ``active``.
    """

    kind: str
    channel: Optional[int] = None
    short_id: Optional[str] = None
    primary_address: Optional[int] = None
    address: Optional[int] = None
    time: Optional[int] = None
    deviation: Optional[int] = None
    command: Optional[Dict[str, Any]] = None
    message_kind: Optional[str] = None
    frame_counter: Optional[int] = None
    data: Optional[Dict[str, Any]] = None
    medium: Optional[str] = None
    code: Optional[str] = None
    message: Optional[str] = None
    offset: Optional[int] = None
    mode: Optional[str] = None
    active: Optional[bool] = None

    @classmethod
    def _of(cls, d: Optional[Dict[str, Any]]) -> Optional["Event"]:
        return None if d is None else cls(**d)


class MBusDevice:
    """A DSMR P2 M-Bus device (gas, thermal, water or slave-E meter), wired (the slave of
    section 4.3) or wireless (the T2 meter of section 4.4 with its SND_NR schedule, frequent
    access cycle and SND_IR installation schedule).

    ``short_id``: ``"MAN-IDIDIDID-VV-TT"`` (``"NET-23456789-42-03"``: manufacturer, 8-digit
    identification number, version hex (42 = DSMR 4.2, 40 = DSMR 4.0), device type hex) or the 8
    long-header bytes. ``default_key``/``user_key``: 16 bytes or 32 hex digits; ``user_key=None``
    sends in clear until the E-meter sets one (section 6.5). ``values``: what it reports, a dict
    with ``device_type`` (default: the Short ID's), ``equipment_id`` (17 characters), ``status``,
    ``config_mask``, ``readings`` (list of ``{"kind": "gas_converted", "raw": 391, "scaler": -3,
    "unit": "m3", "storage": 1, "vib": "13"}``), ``versions`` (``[[0x0D, "met=..."]]``) and
    ``valve`` (DSMR 4.0). ``mode``: ``storage``, ``installation`` or ``customer`` (section 8.2).
    ``access_number`` is the initial ACC (section 4.2.4: random at start; the caller picks it).
    Times are Unix milliseconds.
    """

    def __init__(
        self,
        medium: str = "wired",
        short_id: _ShortId = "NET-00000000-42-03",
        default_key: _Key = b"\x00" * 16,
        values: Optional[Dict[str, Any]] = None,
        mode: str = "storage",
        user_key: Optional[_Key] = None,
        primary_address: int = 0,
        access_number: int = 0,
        fac_delay_s: int = 2,
        response_window_ms: int = 1000,
        schedule_offset_s: Optional[int] = None,
        *,
        _native: Optional[DsmrMBusDevice] = None,
    ) -> None:
        if _native is not None:
            self._n = _native
            return
        config = {
            "medium": medium,
            "short_id": short_id if isinstance(short_id, (str, bytes)) else str(short_id),
            "default_key": default_key,
            "fac_delay_s": fac_delay_s,
            "response_window_ms": response_window_ms,
            "schedule_offset_s": schedule_offset_s,
        }
        self._n = DsmrMBusDevice(config, mode, dict(values or {}), user_key, primary_address, access_number)

    @classmethod
    def from_state(cls, state: Dict[str, Any]) -> "MBusDevice":
        """Resume a device from what :meth:`state` returned (its ``config`` entry included)."""
        rest = {k: v for k, v in state.items() if k != "config"}
        return cls(_native=DsmrMBusDevice.from_state(state["config"], rest))

    def state(self) -> Dict[str, Any]:
        """Everything that changes, plus the fixed ``config``, as a JSON-able dict: mode, user
        key (hex, in clear), primary address, frame counter, access number, clock offset, values,
        readout selection, schedule and FAC state. ``MBusDevice.from_state(s).state() == s``."""
        s = self._n.state()
        s["config"] = self._n.config()
        return s

    @property
    def config(self) -> Dict[str, Any]:
        """The fixed configuration (medium, short_id, default_key hex, timings)."""
        return self._n.config()

    @property
    def medium(self) -> str:
        """``"wired"`` or ``"wireless"``."""
        return str(self._n.config()["medium"])

    @property
    def short_id(self) -> str:
        """The Short ID as text."""
        return str(self._n.config()["short_id"])

    @property
    def mode(self) -> str:
        """The section 8.2 state: ``storage``, ``installation`` or ``customer``."""
        return self._n.mode()

    @property
    def values(self) -> Dict[str, Any]:
        """The values it reports (a copy: assign a changed dict to change them)."""
        return self._n.values()

    @values.setter
    def values(self, values: Dict[str, Any]) -> None:
        self._n.set_values(values)

    def handle_received(self, now: int, data: _Bytes) -> None:
        """Bytes from the E-meter (a wireless device hears only in its listening windows)."""
        self._n.handle_received(now, data)

    def handle_timeout(self, now: int) -> None:
        """Time passed: send what is due (SND_IR, SND_NR, FAC slot)."""
        self._n.handle_timeout(now)

    def poll_transmit(self) -> Optional[bytes]:
        """The next frame to send, or None."""
        return self._n.poll_transmit()

    def poll_event(self) -> Optional[Event]:
        """The next event, or None."""
        return Event._of(self._n.poll_event())

    def poll_timeout(self) -> Optional[int]:
        """When :meth:`handle_timeout` is due (Unix ms), or None."""
        return self._n.poll_timeout()

    def press_button(self, now: int) -> None:
        """The installer's button (section 8.2/8.4.2.2): installation mode; a wireless device
        sends SND_IR every minute for an hour, then hourly."""
        self._n.press_button(now)

    def start(self, now: int) -> None:
        """Wireless, customer mode: start the hourly SND_NR schedule."""
        self._n.start(now)

    def set_clock(self, now: int, device_now: int) -> None:
        """Set the device clock: it reads ``device_now`` when the caller's clock reads ``now``."""
        self._n.set_clock(now, device_now)

    def device_time(self, now: int) -> int:
        """The device clock (Unix ms) at ``now``."""
        return self._n.device_time(now)

    def __repr__(self) -> str:
        return f"<MBusDevice {self.short_id} {self.medium} {self.mode}>"


class EMeter:
    """A DSMR P2 E-meter: the P2 master of up to four channels, wired (it scans, polls and sends
    commands, one transaction at a time) and wireless (it answers SND_IR with CNF_IR and runs
    the queued commands of a channel in the frequent access cycle after the device's SND_NR).

    ``response_timeout_ms`` and ``retries``: wired answer time-out and command retries;
    ``poll_interval_ms``: the wired polling period; ``auto_administer``: after a key transfer
    set the clock and read versions/configuration through ``admin_readout`` (VIBs, hex) as
    section 8.1 describes; ``access_number``: the initial ACC. Times are Unix milliseconds.
    Engine calls on a channel that is not registered raise :class:`meterlink.DecodeError`
    (code ``dsmr_state``); malformed arguments raise :class:`meterlink.MeterlinkError`.
    """

    def __init__(
        self,
        response_timeout_ms: int = 200,
        retries: int = 2,
        poll_interval_ms: int = HOUR_MS,
        auto_administer: bool = True,
        admin_readout: Optional[Sequence[_Key]] = None,
        access_number: int = 0,
        *,
        _native: Optional[DsmrEMeter] = None,
    ) -> None:
        if _native is not None:
            self._n = _native
            return
        config: Dict[str, Any] = {
            "response_timeout_ms": response_timeout_ms,
            "retries": retries,
            "poll_interval_ms": poll_interval_ms,
            "auto_administer": auto_administer,
        }
        if admin_readout is not None:
            config["admin_readout"] = list(admin_readout)
        self._n = DsmrEMeter(config, access_number)

    @classmethod
    def from_state(cls, state: Dict[str, Any]) -> "EMeter":
        """Resume an E-meter from what :meth:`state` returned (its ``config`` entry included)."""
        rest = {k: v for k, v in state.items() if k != "config"}
        return cls(_native=DsmrEMeter.from_state(state["config"], rest))

    def state(self) -> Dict[str, Any]:
        """Everything that changes, plus the ``config``, as a JSON-able dict: the channels (Short
        ID, address, binding, **user key in clear**, frame counter, queued commands, P3 view),
        the access number, installation mode, detected devices, scan and poll schedule and the
        wired transaction in progress. ``EMeter.from_state(s).state() == s``."""
        s = self._n.state()
        s["config"] = self._n.config()
        return s

    @property
    def config(self) -> Dict[str, Any]:
        """The configuration."""
        return self._n.config()

    def handle_received(self, now: int, medium: str, data: _Bytes) -> None:
        """Bytes received on ``medium`` (``"wired"``/``"wireless"``)."""
        self._n.handle_received(now, medium, data)

    def handle_timeout(self, now: int) -> None:
        """Time passed: wired time-outs and retries, scan, hourly poll, end of installation."""
        self._n.handle_timeout(now)

    def poll_transmit(self) -> Optional[Tuple[str, bytes]]:
        """The next ``(medium, frame)`` to send, or None."""
        return self._n.poll_transmit()

    def poll_event(self) -> Optional[Event]:
        """The next event, or None."""
        return Event._of(self._n.poll_event())

    def poll_timeout(self) -> Optional[int]:
        """When :meth:`handle_timeout` is due (Unix ms), or None."""
        return self._n.poll_timeout()

    def cover_opened(self, now: int) -> None:
        """Section 8.1: M-Bus cover removed: installation mode for an hour, wired scan."""
        self._n.cover_opened(now)

    def cover_closed(self, now: int) -> None:
        """Section 8.1: the cover is back: installation mode ends."""
        self._n.cover_closed(now)

    def slave_install(self, now: int) -> None:
        """Section 8.3.1.2 (DLMS ``slave_install()``): one wired scan cycle."""
        self._n.slave_install(now)

    def start_polling(self, now: int) -> None:
        """Poll the wired channels every ``poll_interval_ms``, from the next whole hour."""
        self._n.start_polling(now)

    def register(self, now: int, channel: int, medium: str, short_id: _ShortId, primary_address: int = 0) -> None:
        """Write a Short ID (and a wired primary address) into channel 1-4's M-Bus client setup
        (P0/P3 registration, remote binding; section 8.3.1.1, 8.4.2.3)."""
        self._n.register(now, channel, medium, _sid(short_id), primary_address)

    def select(self, now: int, short_id: _ShortId) -> int:
        """Section 8.4.2.2 step 5: select a detected wireless device (installation mode);
        returns the channel it is registered on."""
        return self._n.select(now, _sid(short_id))

    def deregister(self, channel: int) -> None:
        """Remove a channel's registration."""
        self._n.deregister(channel)

    def transfer_key(self, now: int, channel: int, user_key: _Key, wrapped_key: _Key) -> None:
        """Section 6.5.1 / P3 ``transfer_key``: send ``wrapped_key`` (``user_key`` encrypted with
        the device's default key, :func:`wrap_user_key`); the E-meter uses ``user_key`` once the
        device acknowledged (wired now, wireless in the next frequent access cycle)."""
        self._n.transfer_key(now, channel, user_key, wrapped_key)

    def set_clock(self, now: int, channel: int) -> None:
        """Section 6.2.1: set the device clock to the E-meter's time when sent."""
        self._n.command(now, channel, "clock")

    def change_readout(self, now: int, channel: int, vibs: Sequence[_Key]) -> None:
        """Section 6.3.1: select these VIBs (hex or bytes, e.g. ``"fd0d"``) for readout, read
        them, and restore the default list."""
        self._n.command(now, channel, "readout", list(vibs))

    def reset_readout(self, now: int, channel: int) -> None:
        """Section 6.3.2: reset the readout list (SND_NKE)."""
        self._n.command(now, channel, "reset_readout")

    def clear_status(self, now: int, channel: int, mask: int = 0x73) -> None:
        """Section 6.2.3: clear the status bits in ``mask`` (73h: the non-permanent errors)."""
        self._n.command(now, channel, "clear_status", mask)

    def request(self, now: int, channel: int) -> None:
        """Read the device now (REQ_UD2)."""
        self._n.command(now, channel, "request")

    def set_address(self, now: int, channel: int, address: int) -> None:
        """Section 6.2.2 (wired): give the device a new primary address."""
        self._n.command(now, channel, "address", address)

    def set_key(self, channel: int, key: Optional[_Key]) -> None:
        """The E-meter knows a channel's user key already (e.g. from the CS); None forgets it."""
        self._n.set_key(channel, key)

    def channels(self) -> List[Dict[str, Any]]:
        """The registered channels: ``channel``, ``medium``, ``short_id``, ``primary_address``,
        ``bound``, ``user_key`` (hex, in clear), ``counter``, ``tasks``, ``last_seen`` and
        ``view``, the channel's P3 view (Appendix A) with ``obis_values`` (OBIS rows: ``obis``,
        ``value``, ``scaler``, ``unit``, ``name``) and ``p1_lines`` (DSMR P1 text lines), and
        ``p3``, the same view as the :class:`meterlink.dsmr.DsmrP3View` that
        :func:`meterlink.dsmr.p3_view` returns."""
        return self._n.channels()

    def channel(self, channel: int) -> Optional[Dict[str, Any]]:
        """One channel as :meth:`channels` gives it, or None if not registered."""
        return next((c for c in self._n.channels() if c["channel"] == channel), None)

    def detected(self) -> List[str]:
        """Wireless devices seen in installation mode and not registered (the display list)."""
        return self._n.detected()

    @property
    def installing(self) -> bool:
        """Whether installation mode is on."""
        return self._n.installing()

    def __repr__(self) -> str:
        return f"<EMeter channels={len(self._n.channels())} installing={self.installing}>"


def _sid(short_id: _ShortId) -> Union[str, bytes]:
    return short_id if isinstance(short_id, (str, bytes)) else str(short_id)


@dataclass
class Sent:
    """One transmission on a :class:`Bus`: when, on which medium, by whom (``sender`` None =
    the E-meter, else the device's index), the bytes, and whether it was delivered."""

    at: int
    medium: str
    sender: Optional[int]
    data: bytes
    delivered: bool = True


LossFunction = Callable[[int, Sent], bool]


@dataclass
class Bus:
    """An in-memory P2 bus with simulated time, to script scenarios: the E-meter's frames reach
    every device on that medium, a device's frames reach the E-meter (wired slaves do not hear
    each other). ``lose(index, sent)`` decides whether a transmission is lost (``index`` is its
    place in :attr:`log`). Events are collected into :attr:`emeter_events` and
    :attr:`device_events` (one list per device). Times are Unix milliseconds.

    >>> bus = Bus(EMeter(), [], now=0)
    >>> bus.run_for(1000); bus.now
    1000
    """

    emeter: EMeter
    devices: List[MBusDevice]
    now: int = 0
    lose: Optional[LossFunction] = None
    log: List[Sent] = field(default_factory=list)
    emeter_events: List[Event] = field(default_factory=list)
    device_events: List[List[Event]] = field(default_factory=list)

    def __post_init__(self) -> None:
        while len(self.device_events) < len(self.devices):
            self.device_events.append([])

    def _send(self, sender: Optional[int], medium: str, data: bytes) -> None:
        s = Sent(self.now, medium, sender, data)
        s.delivered = not (self.lose is not None and self.lose(len(self.log), s))
        self.log.append(s)
        if not s.delivered:
            return
        if sender is None:
            for d in self.devices:
                if d.medium == medium:
                    d.handle_received(self.now, data)
        else:
            self.emeter.handle_received(self.now, medium, data)

    def _collect(self) -> None:
        while (e := self.emeter.poll_event()) is not None:
            self.emeter_events.append(e)
        for i, d in enumerate(self.devices):
            while (e := d.poll_event()) is not None:
                self.device_events[i].append(e)

    def pump(self, limit: int = 10_000) -> None:
        """Deliver everything sent until nobody has more to send at this instant."""
        for _ in range(limit):
            moved = False
            while (out := self.emeter.poll_transmit()) is not None:
                moved = True
                self._send(None, out[0], out[1])
            for i, d in enumerate(self.devices):
                while (b := d.poll_transmit()) is not None:
                    moved = True
                    self._send(i, d.medium, b)
            self._collect()
            if not moved:
                return
        raise RuntimeError("the engines keep talking at one instant")

    def next_deadline(self) -> Optional[int]:
        """The earliest ``poll_timeout`` of all engines."""
        ts = [t for t in [self.emeter.poll_timeout()] + [d.poll_timeout() for d in self.devices] if t is not None]
        return min(ts) if ts else None

    def run_until(self, t: int, max_steps: int = 1_000_000) -> None:
        """Run the simulation up to time ``t`` (inclusive): every deadline on the way is served."""
        self.pump()
        for _ in range(max_steps):
            n = self.next_deadline()
            if n is None or n > t:
                break
            self.now = max(self.now, n)
            self.emeter.handle_timeout(self.now)
            for d in self.devices:
                d.handle_timeout(self.now)
            self.pump()
        self.now = max(self.now, t)

    def run_for(self, ms: int) -> None:
        """Run for ``ms`` more milliseconds."""
        self.run_until(self.now + ms)

    def inject(self, sender: Optional[int], medium: str, data: _Bytes) -> None:
        """Deliver ``data`` now as if the E-meter (``sender=None``) or device ``sender`` sent it
        (not logged, never lost), then pump."""
        if sender is None:
            for d in self.devices:
                if d.medium == medium:
                    d.handle_received(self.now, data)
        else:
            self.emeter.handle_received(self.now, medium, data)
        self.pump()

    def take_emeter_events(self) -> List[Event]:
        """The E-meter's events so far (and forget them)."""
        out, self.emeter_events = self.emeter_events, []
        return out

    def take_device_events(self, i: int) -> List[Event]:
        """Device ``i``'s events so far (and forget them)."""
        out, self.device_events[i] = self.device_events[i], []
        return out
