"""meterlink.dsmr engines from Python (issue 14 section 5): an EMeter and MBusDevices against each
other on the in-memory Bus with simulated time. Expectations come from DSMR P2 4.2.2: the wired
installation flow (section 8.3.1, Figure 6), the Appendix B1.1 key change and B1.3 RSP_UD records
byte-exact, wireless local binding (section 8.4.2.2, Figure 11), section 4.1 (unknown C/CI),
section 5.2 (replay); plus the JSON state round trip and a hypothesis test over random API calls,
lost frames and time jumps."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import meterlink
from meterlink.dsmr import Bus, EMeter, Event, MBusDevice, Sent, wrap_user_key

# Appendix B: default key 00 11 .. FF, user key 00 01 .. 0F; 'NET', ID 23456789, DSMR 4.2, gas.
DEFAULT_KEY = "00112233445566778899aabbccddeeff"
USER_KEY = bytes(range(16))
# source: DSMR P2 Appendix B1.1 "The User Key is encrypted with the Default Key".
WRAPPED = bytes.fromhex("279FB74A7572135E8F9B8EF6D1EEE003")
SHORT_ID = "NET-23456789-42-03"
# 2009-06-18 11:30:00 UTC: the hourly value is stamped 09-06-18 11:00:00 as in Appendix B1.3.
T0 = 1_245_324_600_000
MIN = 60_000
HOUR = 3_600_000

# source: DSMR P2 Appendix B1.3, the clear records of the gas meter's RSP_UD: status 00,
# equipment id 'XXXXX110123456789' (last character first), time stamp 09.06.18 11:00:00 (type I),
# converted volume 00000391 (G4: 0.001 m3), meter configuration 05.
B13_RECORDS = (
    "01fd1700"
    "0d7811" "3938373635343332313031315858585858"
    "466d00000b321600"
    "4c1391030000"
    "01fd6705"
)


def gas_values(equipment_id: str = "XXXXX110123456789", raw: int = 391) -> Dict[str, Any]:
    return {
        "device_type": 3,
        "equipment_id": equipment_id,
        "status": 0,
        "config_mask": 5,
        "readings": [{"kind": "gas_converted", "raw": raw, "scaler": -3, "unit": "m3", "storage": 1, "vib": "13"}],
        "versions": [[0x0D, "met=PCBx1.x2\r\ncom=M-Bus module supplier\r\n"], [0x0E, "met=FW123.4.5\r\n"]],
    }


def checksum(body: bytes) -> int:
    return sum(body) % 256


def kinds(events: List[Event]) -> List[str]:
    return [e.kind for e in events]


def wired_installed() -> Bus:
    """Figure 6: the installer opens the M-Bus cover; the E-meter scans, finds the unencrypted gas
    meter at address 0, gives it address 1 and binds it on channel 1."""
    gas = MBusDevice("wired", SHORT_ID, DEFAULT_KEY, gas_values(), mode="installation", access_number=0xF5)
    bus = Bus(EMeter(access_number=0x10), [gas], now=T0)
    bus.emeter.cover_opened(T0)
    bus.run_for(MIN)
    return bus


def test_wired_installation_figure_6() -> None:
    bus = wired_installed()
    frames = [s.data for s in bus.log[:6]]
    # SND_NKE to address 0 (section 4.3.1) -> E5; REQ_UD2 to 0 (4.3.2) -> RSP_UD.
    assert frames[0].hex() == "1040004016"
    assert frames[1].hex() == "e5"
    assert frames[2].hex() == "105b005b16"
    # RSP_UD (C 08h, A 00h, CI 72h), long header of B1.3 (ID 23456789, 'NET', 42h, gas, ACC F6h,
    # status 0, CW 0000: unencrypted), then exactly the B1.3 clear records.
    body = bytes.fromhex("080072" + "89674523b4384203" + "f600" + "0000" + B13_RECORDS)
    assert frames[3] == bytes([0x68, len(body), len(body), 0x68]) + body + bytes([checksum(body), 0x16])
    # Set primary address 1 (section 6.2.2: SND_UD CI 51h, 01 7A 01), acknowledged with E5.
    # The bytes 53 00 51 01 7A 01 sum to 120h: checksum 20h.
    assert frames[4].hex() == "68060668" + "530051017a01" + "20" + "16"
    assert frames[5].hex() == "e5"
    em = bus.take_emeter_events()
    found = [e for e in em if e.kind == "device_found"]
    assert found and found[0].short_id == SHORT_ID and found[0].primary_address == 0
    assert any(e.kind == "bound" and e.channel == 1 and e.short_id == SHORT_ID for e in em)
    gas = bus.devices[0]
    assert gas.state()["primary_address"] == 1 and gas.mode == "customer"
    dev = kinds(bus.take_device_events(0))
    assert "address_set" in dev and "bound" in dev
    (ch,) = bus.emeter.channels()
    assert (ch["channel"], ch["primary_address"], ch["bound"], ch["short_id"]) == (1, 1, True, SHORT_ID)
    # Appendix A: the P3 view of channel 1 (client setup, equipment id, the last value).
    view = ch["view"]
    assert view["client_setup"]["identification_number"] == 23456789
    assert view["equipment_id"] == "XXXXX110123456789"
    rows = {(r["obis"], r["name"]): r["value"] for r in view["obis_values"]}
    assert rows[("0.1.24.1.0.255", "identification_number")] == 23456789
    assert rows[("0.1.96.1.0.255", "equipment_identifier")] == "XXXXX110123456789"
    assert rows[("0.1.24.2.1.255", "value")] == pytest.approx(0.391)
    assert "0-1:96.1.0(" + "XXXXX110123456789".encode().hex().upper() + ")" in view["p1_lines"]
    # source: issue 14 section 4, the Appendix B1.3 gas value as a P1 line.
    assert "0-1:24.2.1(090618110000S)(00000.391*m3)" in view["p1_lines"]
    assert ch["p3"].p1_lines() == view["p1_lines"] and ch["p3"].identification_number == 23456789
    # Cover closed: installation ends, no more scanning.
    bus.emeter.cover_closed(bus.now)
    assert not bus.emeter.installing
    n = len(bus.log)
    bus.run_for(5 * MIN)
    assert len(bus.log) == n


def test_wrap_user_key_is_appendix_b1_1() -> None:
    assert wrap_user_key(DEFAULT_KEY, USER_KEY) == WRAPPED
    assert wrap_user_key(bytes.fromhex(DEFAULT_KEY), USER_KEY.hex()) == WRAPPED


def test_key_change_frame_is_appendix_b1_1() -> None:
    bus = wired_installed()
    bus.emeter.cover_closed(bus.now)
    bus.take_emeter_events()
    bus.take_device_events(0)
    n = len(bus.log)
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, WRAPPED)
    bus.run_for(MIN)
    # source: DSMR P2 Appendix B1.1 (address 1, CI 51h, 07 FD 19 <LSB block> 47 FD 19 <MSB block>).
    # The standard prints CS 4Eh; the bytes sum to 8Eh (erratum, shared security-notes section f).
    b11 = "6819196853015107fd1903e0eed1f68e9b8f47fd195e1372754ab79f278e16"
    assert bus.log[n].data.hex() == b11
    assert checksum(bytes.fromhex(b11)[4:-2]) == 0x8E
    assert bus.log[n + 1].data.hex() == "e5"
    assert bus.devices[0].state()["user_key"] == USER_KEY.hex()
    (ch,) = bus.emeter.channels()
    assert ch["user_key"] == USER_KEY.hex()
    em = bus.take_emeter_events()
    assert any(e.kind == "key_set" and e.channel == 1 for e in em)
    done = [e.command for e in em if e.kind == "command_done"]
    assert {"name": "set_key", "value": WRAPPED.hex()} in done
    # Section 8.1 administration: clock set, versions read through a changed readout list.
    assert "clock_set" in kinds(bus.take_device_events(0))
    assert any(
        e.kind == "reading" and e.data is not None and [0x0E, "met=FW123.4.5\r\n"] in e.data["versions"] for e in em
    )
    # Both ends agree on the frame counter (section 5.2).
    assert ch["counter"] == bus.devices[0].state()["frame_counter"]


def test_wireless_binding_by_manual_selection() -> None:
    """Section 8.4.2.2 / Figure 11: a wireless gas meter delivered with a user key the E-meter
    does not know; SND_IR every minute; manual selection; CNF_IR; key from the CS."""
    sid = "NET-12345678-42-03"
    factory_key = b"\x5a" * 16
    gas = MBusDevice("wireless", sid, DEFAULT_KEY, gas_values("XXXXX110112345678"), user_key=factory_key)
    bus = Bus(EMeter(access_number=0x20), [gas], now=T0)
    gas.press_button(T0)  # 1
    bus.emeter.cover_opened(T0)  # 2
    bus.run_for(3 * MIN + 1000)  # 3, 4
    radio = [s for s in bus.log if s.medium == "wireless"]
    assert [s.at - T0 for s in radio] == [0, MIN, 2 * MIN, 3 * MIN]
    assert all(s.sender == 0 and s.data[1] == 0x46 for s in radio), "SND_IR (C 46h) only"
    assert bus.emeter.detected() == [sid]
    assert [e.short_id for e in bus.take_emeter_events() if e.kind == "device_found"] == [sid]
    with pytest.raises(meterlink.MeterlinkError) as info:
        bus.emeter.select(bus.now, "NET-99999999-42-03")
    assert info.value.code == "dsmr_state"
    assert bus.emeter.select(bus.now, sid) == 1  # 5
    bus.run_for(MIN)  # 6: the next SND_IR gets its CNF_IR (C 06h)
    cnf = [s for s in bus.log if s.medium == "wireless" and s.sender is None]
    assert len(cnf) == 1 and cnf[0].data[1] == 0x06
    assert gas.mode == "customer"
    assert "bound" in kinds(bus.take_device_events(0))
    bus.emeter.cover_closed(bus.now)  # 7
    bus.run_for(HOUR)  # 8: SND_NR encrypted with a key the E-meter lacks: a reading without data
    em = bus.take_emeter_events()
    assert any(e.kind == "reading" and e.message_kind == "periodic_data" and e.data is None for e in em)
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, wrap_user_key(DEFAULT_KEY, USER_KEY))  # 9
    bus.run_for(HOUR)
    assert gas.state()["user_key"] == USER_KEY.hex()
    dev = kinds(bus.take_device_events(0))
    assert dev.index("fac") < dev.index("key_set") and "clock_set" in dev
    bus.run_for(HOUR)
    readings = [e for e in bus.take_emeter_events() if e.kind == "reading"]
    assert readings and readings[-1].message_kind == "periodic_data" and readings[-1].data is not None
    assert readings[-1].data["readings"][0]["value"] == pytest.approx(0.391)


def test_state_round_trip_and_the_next_hour_decrypts() -> None:
    """Persist both engines after binding and key exchange (through JSON), restore, continue:
    the next hour's SND_NR decrypts with the restored key and counter."""
    sid = "NET-22222222-42-03"
    gas = MBusDevice("wireless", sid, DEFAULT_KEY, gas_values("XXXXX110122222222"))
    bus = Bus(EMeter(), [gas], now=T0)
    bus.emeter.register(T0, 2, "wireless", sid)  # section 8.4.2.3: remote binding via the CS
    gas.press_button(T0 + 10_000)
    bus.run_for(MIN)
    bus.emeter.transfer_key(bus.now, 2, USER_KEY, WRAPPED)
    bus.run_for(2 * HOUR)
    assert gas.state()["user_key"] == USER_KEY.hex()
    em_state, dev_state = bus.emeter.state(), gas.state()
    assert json.loads(json.dumps(em_state)) == em_state
    assert em_state["channels"][0]["user_key"] == USER_KEY.hex()
    em2 = EMeter.from_state(json.loads(json.dumps(em_state)))
    dev2 = MBusDevice.from_state(json.loads(json.dumps(dev_state)))
    assert em2.state() == em_state and dev2.state() == dev_state
    counter = dev_state["frame_counter"]
    bus2 = Bus(em2, [dev2], now=bus.now)
    bus2.devices[0].values = gas_values("XXXXX110122222222", raw=1391)
    bus2.run_for(HOUR)
    readings = [e for e in bus2.take_emeter_events() if e.kind == "reading"]
    assert len(readings) == 1 and readings[0].channel == 2
    assert readings[0].message_kind == "periodic_data"
    assert readings[0].frame_counter == counter + 1
    assert readings[0].data is not None and readings[0].data["readings"][0]["raw"] == 1391
    # The original pair continues identically (determinism: same inputs, same bytes).
    bus.devices[0].values = gas_values("XXXXX110122222222", raw=1391)
    n = len(bus.log)
    bus.run_for(HOUR)
    assert [s.data for s in bus.log[n:]] == [s.data for s in bus2.log]


def test_rejected_unknown_c_ci_and_replay() -> None:
    bus = wired_installed()
    bus.emeter.cover_closed(bus.now)
    bus.take_device_events(0)
    n = len(bus.log)
    # Section 4.1 Table 5: SND_UD with CI 72h to a device is not allowed: rejected, no answer.
    body = bytes([0x53, 0x01, 0x72])
    bad = bytes([0x68, 3, 3, 0x68]) + body + bytes([checksum(body), 0x16])
    bus.inject(None, "wired", bad)
    rej = [e for e in bus.take_device_events(0) if e.kind == "rejected"]
    assert len(rej) == 1 and rej[0].code == "dsmr_control" and rej[0].medium == "wired"
    assert rej[0].offset == 4 and "72h" in (rej[0].message or "")
    assert len(bus.log) == n
    # Section 5.2: once keyed, a replayed encrypted command (the clock, CI 6Ch) is refused.
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, WRAPPED)
    bus.run_for(MIN)
    bus.take_device_events(0)
    clock = next(s.data for s in bus.log if s.sender is None and len(s.data) > 6 and s.data[6] == 0x6C)
    bus.inject(None, "wired", clock)
    rej = [e for e in bus.take_device_events(0) if e.kind == "rejected"]
    assert [e.code for e in rej] == ["dsmr_replay"]


def test_api_misuse_raises_meterlink_errors() -> None:
    em = EMeter()
    with pytest.raises(meterlink.DecodeError) as info:
        em.transfer_key(T0, 1, USER_KEY, WRAPPED)
    assert info.value.code == "dsmr_state"
    with pytest.raises(meterlink.MeterlinkError):
        em.register(T0, 5, "wired", SHORT_ID)
    with pytest.raises(meterlink.MeterlinkError) as info:
        em.register(T0, 1, "wired", "not a short id")
    assert info.value.code == "argument"
    with pytest.raises(meterlink.MeterlinkError):
        em.register(T0, 1, "optical", SHORT_ID)
    with pytest.raises(meterlink.MeterlinkError):
        em.handle_received(T0, "optical", b"\xe5")
    with pytest.raises(meterlink.MeterlinkError):
        MBusDevice("wired", SHORT_ID, "0011")
    with pytest.raises(meterlink.MeterlinkError):
        MBusDevice("wired", SHORT_ID, DEFAULT_KEY, {"readings": [{"kind": "gas", "raw": 1, "scaler": 0, "unit": "m3", "vib": "13"}]})
    with pytest.raises(meterlink.MeterlinkError):
        EMeter.from_state({"config": {}, "channels": [{"channel": 9}], "access_number": 0})
    state = wired_installed().emeter.state()
    state["channels"].append(dict(state["channels"][0]))
    with pytest.raises(meterlink.MeterlinkError) as info:
        EMeter.from_state(state)
    assert info.value.code == "dsmr_state"
    # Garbage received is an event, never an exception.
    em.handle_received(T0, "wired", b"\x68\x00")
    e = em.poll_event()
    assert e is not None and e.kind == "rejected" and e.code == "dsmr_frame"


# ---- property: random interleavings ----------------------------------------------------------

_steps = st.one_of(
    st.tuples(st.just("run"), st.integers(1, 2 * HOUR)),
    st.tuples(st.just("jump"), st.integers(HOUR, 10 * 24 * HOUR)),
    st.tuples(st.just("key"), st.integers(1, 255)),
    st.tuples(st.sampled_from(["clock", "readout", "reset", "clear", "request", "persist", "button", "reregister"]), st.just(0)),
    st.tuples(st.just("lose"), st.integers(1, 6)),
    st.tuples(st.just("misuse"), st.integers(0, 4)),
    st.tuples(st.just("garbage"), st.binary(max_size=40)),
    st.tuples(st.just("replay"), st.integers(0, 10_000)),
    st.tuples(st.just("mutate"), st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.integers(1, 255))),
)


def _bound_pair(medium: str) -> Bus:
    mode, addr = ("customer", 5) if medium == "wired" else ("storage", 0)
    gas = MBusDevice(medium, SHORT_ID, DEFAULT_KEY, gas_values(), mode=mode, primary_address=addr, access_number=0x77)
    bus = Bus(EMeter(access_number=1), [gas], now=T0)
    bus.emeter.register(T0, 1, medium, SHORT_ID, addr)
    if medium == "wireless":
        gas.press_button(T0)
    else:
        bus.emeter.start_polling(T0)
    bus.run_for(2 * MIN)
    return bus


def _misuse(bus: Bus, which: int) -> None:
    now = bus.now
    calls = [
        lambda: bus.emeter.set_clock(now, 3),
        lambda: bus.emeter.select(now, "NET-11111111-42-03"),
        lambda: bus.emeter.register(now, 0, "wired", SHORT_ID),
        lambda: bus.emeter.transfer_key(now, 1, b"short", WRAPPED),
        lambda: bus.emeter.change_readout(now, 1, ["zz"]),
    ]
    with pytest.raises(meterlink.MeterlinkError):
        calls[which]()


def _apply(bus: Bus, step: Any) -> None:
    name, arg = step
    now, medium = bus.now, bus.devices[0].medium
    if name == "run":
        bus.run_for(arg)
    elif name == "jump":
        bus.now += arg  # the caller's clock jumps: overdue timers fire late, once
        bus.run_for(0)
    elif name == "key":
        user = bytes([arg]) * 16
        bus.emeter.transfer_key(now, 1, user, wrap_user_key(DEFAULT_KEY, user))
    elif name == "clock":
        bus.emeter.set_clock(now, 1)
    elif name == "readout":
        bus.emeter.change_readout(now, 1, ["fd0e"])
    elif name == "reset":
        bus.emeter.reset_readout(now, 1)
    elif name == "clear":
        bus.emeter.clear_status(now, 1)
    elif name == "request":
        bus.emeter.request(now, 1)
    elif name == "button" and medium == "wireless":
        bus.devices[0].press_button(now)  # back to SND_IR; the registered E-meter confirms
    elif name == "reregister":  # de-installation and registration again (keys forgotten)
        bus.emeter.deregister(1)
        bus.emeter.register(now, 1, medium, SHORT_ID, bus.devices[0].state()["primary_address"])
    elif name == "lose":
        until = len(bus.log) + arg
        bus.lose = lambda i, s: i < until
    elif name == "misuse":
        _misuse(bus, arg)
    elif name == "garbage":
        bus.inject(None if len(arg) % 2 else 0, medium, arg)
    elif name in ("replay", "mutate") and bus.log:
        # A frame sent earlier comes again (section 5.2 replay), or with one byte changed.
        i = (arg if name == "replay" else arg[0]) % len(bus.log)
        sent = bus.log[i]
        if sent.sender is None and b"\x07\xfd\x19" in sent.data:
            # Section 6.5 has set-key travel in clear without a frame counter: a key change that
            # never reached the device (reported command_failed) installs its key when replayed
            # later, and nothing in the standard can tell. No agreement to check then.
            return
        data = bytearray(sent.data)
        if name == "mutate":
            data[arg[1] % len(data)] ^= arg[2]
        bus.inject(sent.sender, sent.medium, bytes(data))
    elif name == "persist":
        bus.pump()
        em, dev = bus.emeter.state(), bus.devices[0].state()
        bus.emeter = EMeter.from_state(json.loads(json.dumps(em)))
        bus.devices = [MBusDevice.from_state(json.loads(json.dumps(dev)))]
        assert bus.emeter.state() == em and bus.devices[0].state() == dev


def _settle_and_check(bus: Bus) -> None:
    """Quiet bus, no losses, long enough for a FAC and a poll: both ends agree."""
    bus.lose = None
    bus.run_for(3 * HOUR)
    bus.emeter.request(bus.now, 1)
    bus.run_for(2 * HOUR)
    ch = bus.emeter.channel(1)
    dev = bus.devices[0].state()
    assert ch is not None and ch["bound"] and dev["mode"] == "customer"
    if ch["user_key"] is not None:
        assert dev["user_key"] == ch["user_key"], "the E-meter uses a key the device does not have"
    if bus.devices[0].medium == "wired":
        assert ch["primary_address"] == dev["primary_address"]


@pytest.mark.parametrize("medium", ["wired", "wireless"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_steps, min_size=1, max_size=15))
def test_random_interleavings_survive_and_agree(medium: str, steps: List[Any]) -> None:
    bus = _bound_pair(medium)
    for s in steps:
        _apply(bus, s)
    _settle_and_check(bus)


def test_bus_loss_function_and_log() -> None:
    gas = MBusDevice("wired", SHORT_ID, DEFAULT_KEY, gas_values(), mode="installation")
    lost: List[Sent] = []

    def lose(i: int, s: Sent) -> bool:
        if i == 1:  # the E5 to the first SND_NKE
            lost.append(s)
            return True
        return False

    bus = Bus(EMeter(), [gas], now=T0, lose=lose)
    bus.emeter.cover_opened(T0)
    bus.run_for(MIN // 2)
    assert len(lost) == 1 and lost[0].data == b"\xe5" and lost[0].sender == 0
    assert not bus.log[1].delivered
    # No answer within the scan step: the E-meter moves on to address 1 (no retries in a scan).
    assert bus.log[2].data.hex() == "105b015c16" and bus.log[2].at == T0 + 200
    assert bus.emeter.channels() == []


def test_deregister_during_a_wired_transaction() -> None:
    """The answer to a command whose channel was removed meanwhile is ignored (no crash)."""
    bus = wired_installed()
    bus.emeter.cover_closed(bus.now)
    bus.run_for(1000)  # the last scan step times out: the bus is free
    bus.take_emeter_events()
    bus.emeter.transfer_key(bus.now, 1, USER_KEY, WRAPPED)  # SND_UD queued, E5 awaited
    assert bus.emeter.state()["wired"]["awaiting"]["task"]["task"] == "key"
    bus.emeter.deregister(1)
    bus.pump()  # the device takes the key and answers E5
    assert bus.devices[0].state()["user_key"] == USER_KEY.hex()
    assert bus.emeter.channels() == []
    assert "key_set" not in kinds(bus.take_emeter_events())
    bus.run_for(HOUR)
