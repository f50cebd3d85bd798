"""meterlink.dlms: the decode contract of issue 13 §4 on real frames, and building APDUs
(``encode``, ``apdu_tree``, ``encode_data``, ``encipher``, transport frames) with property
tests. Vectors: tests/vectors/dlms_python.json (each with its source)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import meterlink
import meterlink.dlms as dlms
from meterlink.exceptions import FrameError, MeterlinkError, SecurityError

V = json.loads((Path(__file__).parent / "vectors" / "dlms_python.json").read_text())
GB = {v["name"]: v for v in V["greenbook"]}
GB_KEYS = {"ek": "000102030405060708090A0B0C0D0E0F", "ak": "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"}
GB_TITLE = "4d4d4d0000bc614e"


# ---- the decode contract (issue 13 §4) on real frames ----

CONTRACT_KEYS = {
    "framing", "apdu_type", "plaintext_apdu_type", "security", "decrypted", "plaintext_apdu",
    "invoke_id", "priority", "service_class", "datetime", "value", "obis_values", "p1_telegram",
    "hdlc", "wrapper",
}


def test_green_book_glo_get_with_keys() -> None:
    v = GB["dlms-greenbook-glo-get-auth-enc"]
    # glo- APDUs carry no system title: a one-entry mapping gives it with its keys.
    msg = dlms.decode(v["apdu"], {GB_TITLE: GB_KEYS})
    d = msg.to_dict()
    assert CONTRACT_KEYS <= set(d)
    assert d["framing"] == "apdu" and d["apdu_type"] == "glo-get-request"
    assert d["plaintext_apdu_type"] == "get-request" and d["decrypted"] is True
    assert d["plaintext_apdu"] == v["plaintext"].lower()
    assert d["security"] == {
        "security_control": 0x30, "suite": 0, "authenticated": True, "encrypted": True,
        "key_set": "unicast", "system_title": None, "invocation_counter": 0x01234567,
    }
    assert (d["invoke_id"], d["priority"], d["service_class"]) == (0, "normal", "unconfirmed")  # C0 01 00
    json.dumps(d)  # JSON-serialisable
    tree = msg.plaintext_tree()
    assert tree is not None
    assert tree["attribute"] == {"class_id": 8, "instance": "0.0.1.0.0.255", "attribute_id": 2}


def test_glo_get_response_built_with_green_book_keys_decodes() -> None:
    # get-response-normal, invoke 1 high priority confirmed, data long-unsigned 60 (gosem's
    # clock-response bytes), protected as the Green Book protects its glo-get-request.
    plain = bytes.fromhex("c401c10012003c")
    ct = dlms.encipher(plain, system_title=GB_TITLE, invocation_counter=0x01234568, form="glo", **GB_KEYS)
    assert ct[0] == 0xCC
    d = dlms.decode(ct, {GB_TITLE: GB_KEYS}).to_dict()
    assert (d["apdu_type"], d["plaintext_apdu_type"], d["decrypted"]) == ("glo-get-response", "get-response", True)
    assert d["value"] == {"type": "long-unsigned", "value": 60}
    assert (d["invoke_id"], d["priority"], d["service_class"]) == (1, "high", "confirmed")


def test_dlms_cosem_general_glo_ciphering_push() -> None:
    g = V["general_glo_ciphering"]
    msg = dlms.decode(g["hex"], {"ek": g["ek"], "ak": g["ak"]})
    d = msg.to_dict()
    assert (d["apdu_type"], d["plaintext_apdu_type"]) == ("general-glo-ciphering", "data-notification")
    assert d["plaintext_apdu"] == g["plaintext"]
    assert d["security"]["system_title"] == g["system_title"]
    assert d["security"]["invocation_counter"] == 0x1E5
    assert msg.apdu_tree() == {
        "apdu_type": "general-glo-ciphering", "choice": "general-glo-ciphering",
        "system_title": g["system_title"], "security_control": 0x30, "invocation_counter": 0x1E5,
        "payload": g["hex"][32:],  # after DB 08 title 3B 30 IC
    }
    assert dlms.encode(msg.apdu_tree() or {}) == bytes.fromhex(g["hex"])
    assert dlms.encode(msg.plaintext_tree() or {}) == bytes.fromhex(g["plaintext"])


def test_luxembourg_smarty_p1() -> None:
    s = V["smarty"]
    d = dlms.decode(s["apdu"], {"ek": s["ek"], "ak": s["ak"]}).to_dict()
    assert d["decrypted"] is True and d["p1_telegram"] == s["text"]
    rows = {r["obis"]: r for r in d["obis_values"]}
    # go-smarty-reader's telegram: 1-0:1.8.0(000006.695*kWh), 0-0:42.0.0 the meter name.
    assert rows["1.0.1.8.0.255"]["value"] == pytest.approx(6.695)
    assert (rows["1.0.1.8.0.255"]["unit"], rows["1.0.1.8.0.255"]["scaler"]) == ("kWh", -3)
    assert rows["1.0.4.8.0.255"]["unit"] == "kvarh"
    assert rows["0.0.42.0.0.255"]["value"] == "SAG1030700114004"
    assert rows["0.0.1.0.0.255"]["value"] == "2018-01-30T10:21:22+01:00"
    assert set(rows["1.0.1.8.0.255"]) == {"obis", "value", "scaler", "unit", "name"}


def test_hdlc_frame_dict() -> None:
    h = V["hdlc"]
    d = dlms.decode(h["hex"]).to_dict()
    assert d["framing"] == "hdlc" and d["apdu_type"] == "aare"
    assert d["hdlc"] == {"destination": {"upper": 16, "lower": None}, "source": {"upper": 1, "lower": 17}, "control": 0x30, "segmented": False}
    # Rebuilt byte-exact: dlms-cosem's I frame (N(S)=0, N(R)=1, poll) with the E6 E7 00 LLC.
    aare = bytes.fromhex(h["information"])[3:]
    frame = dlms.hdlc_frame(aare, destination=16, source=(1, 17), control=0x30)
    assert frame == bytes.fromhex(h["hex"])


def test_wrapper_frame_dict() -> None:
    w = V["wrapper"]
    g = V["general_glo_ciphering"]
    d = dlms.decode(w["hex"], {"ek": g["ek"], "ak": g["ak"]}).to_dict()
    assert d["wrapper"] == {"version": 1, "source_wport": 1, "destination_wport": 1, "length": 70}
    assert d["plaintext_apdu_type"] == "data-notification"
    assert dlms.wrapper_frame(w["apdu"]) == bytes.fromhex(w["hex"])


def test_aare() -> None:
    a = V["aare"]
    d = dlms.decode(a["hex"]).to_dict()
    assert d["apdu_type"] == "aare" and d["security"] is None and d["decrypted"] is False
    t = dlms.apdu_tree(a["hex"])
    assert t["result"] == "accepted" and t["application_context"] == "logical-name-referencing-no-ciphering"
    assert t["user_information"]["apdu_type"] == "initiate-response"
    assert "get" in t["user_information"]["conformance"]
    assert dlms.encode(t) == bytes.fromhex(a["hex"])


def test_strict_without_keys_raises() -> None:
    v = GB["dlms-greenbook-glo-get-auth-enc"]
    msg = dlms.decode(v["apdu"])
    assert msg.decrypted is False and msg.security is not None
    with pytest.raises(SecurityError) as e:
        dlms.decode(v["apdu"], strict=True)
    assert e.value.code is not None


def test_wrong_key_raises_with_a_code() -> None:
    v = GB["dlms-greenbook-glo-get-auth-enc"]
    bad = dict(GB_KEYS, ek="000102030405060708090A0B0C0D0E0E")
    with pytest.raises(SecurityError) as e:
        dlms.decode(v["apdu"], {GB_TITLE: bad})
    assert e.value.code == "cipher_tag_mismatch"


def test_counter_store_rejects_replay_and_persists(tmp_path: Path) -> None:
    g = V["general_glo_ciphering"]
    keys = {"ek": g["ek"], "ak": g["ak"]}
    path = tmp_path / "counters.sqlite"
    with meterlink.CounterStore(path) as store:
        dlms.decode(g["hex"], keys, counters=store)
        with pytest.raises(SecurityError) as e:
            dlms.decode(g["hex"], keys, counters=store)
        assert e.value.code == "cipher_replayed_counter"
    with meterlink.CounterStore(path) as store:
        assert store.last_dlms(g["system_title"]) == 0x1E5
        with pytest.raises(SecurityError) as e:
            dlms.decode(g["hex"], keys, counters=store)
        assert e.value.code == "cipher_replayed_counter"
        # A later counter is accepted.
        newer = dlms.encipher(g["plaintext"], system_title=g["system_title"], invocation_counter=0x1E6, **keys)
        assert dlms.decode(newer, keys, counters=store).decrypted


# ---- building: byte-exact against published vectors ----


@pytest.mark.parametrize("name", sorted(GB))
def test_green_book_vectors_rebuilt_with_encipher(name: str) -> None:
    v = GB[name]
    sc = {"auth-only": 0x10, "enc-only": 0x20, "auth-enc": 0x30}[name.rsplit("glo-get-", 1)[1]]
    out = dlms.encipher(
        v["plaintext"], system_title=v["system_title"], invocation_counter=int(v["ic"], 16),
        ek=v["ek"], ak=v["ak"], security_control=sc, form="glo",
    )
    assert out == bytes.fromhex(v["apdu"])


def test_general_glo_ciphering_rebuilt_with_encipher() -> None:
    g = V["general_glo_ciphering"]
    out = dlms.encipher(bytes.fromhex(g["plaintext"]), system_title=bytes.fromhex(g["system_title"]), invocation_counter=0x1E5, ek=g["ek"], ak=g["ak"])
    assert out == bytes.fromhex(g["hex"])


@pytest.mark.parametrize("v", V["content_vectors"], ids=lambda v: v["id"])
def test_content_vectors_rebuilt_with_encipher(v: Dict[str, Any]) -> None:
    out = dlms.encipher(
        v["plaintext"], system_title=v["system_title"], invocation_counter=v["invocation_counter"],
        ek=v["ek"], ak=v["ak"], security_control=v["security_control"], form="glo",
    )
    content = bytes.fromhex(v["hex"])
    # glo-get-request: tag, length, SC, IC, then the vector's ciphered content (and tag).
    header = bytes([0xC8, 5 + len(content), v["security_control"]]) + v["invocation_counter"].to_bytes(4, "big")
    assert out == header + content


def test_mbus_frames_round_trip_through_decode() -> None:
    g = V["general_glo_ciphering"]
    frames = dlms.mbus_frames(bytes.fromhex(g["hex"]), segment_size=40)
    assert frames[:4] == bytes([0x68, 45, 45, 0x68]) and frames[4:9] == bytes([0x53, 0xFF, 0x00, 0x01, 0x67])
    d = dlms.decode(frames, {"ek": g["ek"], "ak": g["ak"]}).to_dict()
    assert d["framing"] == "mbus" and d["plaintext_apdu"] == g["plaintext"]


def test_hdlc_ui_push_round_trip() -> None:
    apdu = bytes.fromhex("0f000000010c07e1010101000000ff800000020209060100010800ff06000004d2")
    frame = dlms.hdlc_frame(apdu, destination=0x10, source={"upper": 1, "lower": 17}, control="UI")
    d = dlms.decode(frame).to_dict()
    assert d["hdlc"]["control"] == 0x13 and d["apdu_type"] == "data-notification"
    assert dlms.hdlc_frame(apdu, destination=1, source=2, llc=False)[8:11] != b"\xe6\xe7\x00"


def test_encode_errors_name_the_field() -> None:
    with pytest.raises(MeterlinkError) as e:
        dlms.encode({"apdu_type": "get-request", "choice": "get-request-normal", "invoke_id": 1,
                     "attribute": {"class_id": 8, "instance": "0.0.1.0.0", "attribute_id": 2}})
    assert e.value.code == "argument" and e.value.offset is None
    assert "attribute.instance" in str(e.value)
    with pytest.raises(MeterlinkError, match="missing field attribute"):
        dlms.encode({"apdu_type": "get-request", "choice": "get-request-normal", "invoke_id": 1})
    with pytest.raises(MeterlinkError, match="apdu_type"):
        dlms.encode({"apdu_type": "get-something"})
    with pytest.raises(MeterlinkError, match="invoke_id is out of range"):
        dlms.encode({"apdu_type": "get-request", "choice": "get-request-next", "invoke_id": 16, "block_number": 1})
    with pytest.raises(MeterlinkError, match="value"):
        dlms.encode_data({"type": "unsigned", "value": 256})
    with pytest.raises(SecurityError) as s:
        dlms.encipher(b"\xc0\x01", system_title=GB_TITLE, invocation_counter=1, ek=b"short")
    assert s.value.code == "cipher_key_length"
    with pytest.raises(MeterlinkError):
        dlms.encipher(b"\x60\x00", system_title=GB_TITLE, invocation_counter=1, ek=GB_KEYS["ek"], form="glo")
    with pytest.raises(FrameError):
        dlms.hdlc_frame(b"x", destination=200, source=1)


def test_hand_written_tree_with_iso_datetime() -> None:
    apdu = dlms.encode({
        "apdu_type": "data-notification", "invoke_id": 1, "date_time": "2017-01-01T01:00:00",
        "body": {"type": "structure", "value": [{"type": "long-unsigned", "value": 60}]},
    })
    d = dlms.decode(apdu).to_dict()
    assert d["datetime"] == "2017-01-01T01:00:00" and d["value"]["value"][0]["value"] == 60


# ---- hypothesis: Data trees ----

INT_TYPES = {
    "integer": (-(2**7), 2**7 - 1), "long": (-(2**15), 2**15 - 1), "double-long": (-(2**31), 2**31 - 1),
    "long64": (-(2**63), 2**63 - 1), "unsigned": (0, 255), "long-unsigned": (0, 2**16 - 1),
    "double-long-unsigned": (0, 2**32 - 1), "long64-unsigned": (0, 2**64 - 1), "enum": (0, 255), "bcd": (0, 255),
}


def _node(t: str, v: Any) -> Dict[str, Any]:
    return {"type": t, "value": v}


def _iso_time(h: int, m: int, s: int, hh: Optional[int]) -> str:
    return f"{h:02}:{m:02}:{s:02}" + (f".{hh:02}" if hh else "")


def _offset(minutes: Optional[int]) -> str:
    if minutes is None:
        return ""
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02}:{abs(minutes) % 60:02}"


times = st.tuples(st.integers(0, 23), st.integers(0, 59), st.integers(0, 59), st.none() | st.integers(1, 99))
dates = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(lambda d: d.isoformat())
datetimes = st.builds(lambda d, t, o: f"{d}T{_iso_time(*t)}{_offset(o)}", dates, times, st.none() | st.integers(-840, 840))

leaves = st.one_of(
    [st.integers(lo, hi).map(lambda v, t=t: _node(t, v)) for t, (lo, hi) in INT_TYPES.items()]
    + [
        st.just(_node("null-data", None)),
        st.just(_node("dont-care", None)),
        st.booleans().map(lambda b: _node("boolean", b)),
        st.binary(max_size=20).map(lambda b: _node("octet-string", b.hex())),
        st.binary(max_size=8).map(lambda b: _node("bit-string", b.hex())),
        st.text(st.characters(max_codepoint=255), max_size=10).map(lambda s: _node("visible-string", s)),
        st.text(max_size=10).map(lambda s: _node("utf8-string", s)),
        st.floats(width=32, allow_nan=False).map(lambda f: _node("float32", f)),
        st.floats(allow_nan=False).map(lambda f: _node("float64", f)),
        (st.none() | datetimes).map(lambda s: _node("date-time", s)),
        (st.none() | dates).map(lambda s: _node("date", s)),
        (st.none() | times.map(lambda t: _iso_time(*t))).map(lambda s: _node("time", s)),
        st.lists(st.integers(0, 2**16 - 1), max_size=5).map(lambda v: _node("compact-array", [_node("long-unsigned", x) for x in v])),
    ]
)
data_trees = st.recursive(
    leaves,
    lambda inner: st.lists(inner, max_size=4).map(lambda v: _node("array", v)) | st.lists(inner, max_size=4).map(lambda v: _node("structure", v)),
    max_leaves=16,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data_trees)
def test_data_trees_round_trip(tree: Dict[str, Any]) -> None:
    assert dlms.decode_data(dlms.encode_data(tree)) == tree


# ---- hypothesis: APDU trees ----

DARS = ["success", "hardware-fault", "temporary-failure", "read-write-denied", "object-undefined", "object-unavailable", "type-unmatched", "other-reason"]
ACTION_RESULTS = ["success", "hardware-fault", "temporary-failure", "read-write-denied", "object-undefined", "long-action-aborted", "other-reason"]
CONFORMANCE = [
    "reserved-zero", "general-protection", "general-block-transfer", "read", "write", "unconfirmed-write",
    "delta-value-encoding", "reserved-seven", "attribute0-supported-with-set", "priority-mgmt-supported",
    "attribute0-supported-with-get", "block-transfer-with-get-or-read", "block-transfer-with-set-or-write",
    "block-transfer-with-action", "multiple-references", "information-report", "data-notification", "access",
    "parameterized-access", "get", "set", "selective-access", "event-notification", "action",
]

obis = st.lists(st.integers(0, 255), min_size=6, max_size=6).map(lambda v: ".".join(map(str, v)))
invoke = st.fixed_dictionaries({
    "invoke_id": st.integers(0, 15), "priority": st.sampled_from(["high", "normal"]),
    "service_class": st.sampled_from(["confirmed", "unconfirmed"]),
})


def descriptor(id_name: str) -> st.SearchStrategy[Dict[str, Any]]:
    return st.fixed_dictionaries({"class_id": st.integers(0, 65535), "instance": obis, id_name: st.integers(-128, 127)})


access = st.none() | st.fixed_dictionaries({"selector": st.integers(0, 255), "parameters": data_trees})
get_result = st.fixed_dictionaries({"data": data_trees}) | st.fixed_dictionaries({"data_access_result": st.sampled_from(DARS)})


def service(apdu_type: str, choice: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Dict[str, Any]]:
    return st.tuples(invoke, st.fixed_dictionaries(fields)).map(lambda p: {"apdu_type": apdu_type, "choice": choice, **p[0], **p[1]})


conformance = st.lists(st.booleans(), min_size=24, max_size=24).map(lambda bits: [n for n, b in zip(CONFORMANCE, bits) if b])
initiate_request = st.fixed_dictionaries({
    "apdu_type": st.just("initiate-request"), "choice": st.just("initiate-request"),
    "dedicated_key": st.none() | st.binary(min_size=16, max_size=16).map(bytes.hex),
    "response_allowed": st.none() | st.booleans(), "quality_of_service": st.none() | st.integers(-128, 127),
    "dlms_version": st.integers(0, 255), "conformance": conformance, "max_pdu_size": st.integers(0, 65535),
})
initiate_response = st.fixed_dictionaries({
    "apdu_type": st.just("initiate-response"), "choice": st.just("initiate-response"),
    "quality_of_service": st.none() | st.integers(-128, 127), "dlms_version": st.integers(0, 255),
    "conformance": conformance, "max_pdu_size": st.integers(0, 65535), "vaa_name": st.integers(0, 65535),
})
title = st.none() | st.binary(min_size=8, max_size=8).map(bytes.hex)
auth_value = st.none() | st.binary(max_size=16).map(lambda b: {"tag": 0x80, "content": b.hex()})
mechanism = st.none() | st.sampled_from(["lowest", "low", "high", "high-md5", "high-sha1", "high-gmac", "high-sha256", "high-ecdsa"])
context = st.sampled_from([
    "logical-name-referencing-no-ciphering", "short-name-referencing-no-ciphering",
    "logical-name-referencing-with-ciphering", "short-name-referencing-with-ciphering",
])
NONE_AARQ = ["protocol_version", "called_ap_title", "called_ae_qualifier", "called_ap_invocation_id", "called_ae_invocation_id",
             "calling_ae_qualifier", "calling_ap_invocation_id", "calling_ae_invocation_id", "implementation_information"]
NONE_AARE = ["protocol_version", "responding_ae_qualifier", "responding_ap_invocation_id", "responding_ae_invocation_id", "implementation_information"]

aarq = st.fixed_dictionaries({
    "apdu_type": st.just("aarq"), "choice": st.just("aarq"), "application_context": context,
    "calling_ap_title": title, "sender_acse_requirements": st.none() | st.just("0780"), "mechanism_name": mechanism,
    "calling_authentication_value": auth_value, "user_information": st.none() | initiate_request,
    **{k: st.none() for k in NONE_AARQ},
})
aare = st.fixed_dictionaries({
    "apdu_type": st.just("aare"), "choice": st.just("aare"), "application_context": context,
    "result": st.sampled_from(["accepted", "rejected-permanent", "rejected-transient"]),
    "result_source_diagnostic": st.sampled_from([{"acse_service_user": "null"}, {"acse_service_user": "authentication-failure"}, {"acse_service_provider": "no-reason-given"}]),
    "responding_ap_title": title, "responder_acse_requirements": st.none() | st.just("0780"), "mechanism_name": mechanism,
    "responding_authentication_value": auth_value, "user_information": st.none() | initiate_response,
    **{k: st.none() for k in NONE_AARE},
})
rlrq = st.fixed_dictionaries({
    "apdu_type": st.just("rlrq"), "choice": st.just("rlrq"), "reason": st.none() | st.sampled_from(["normal", "urgent", "user-defined"]),
    "user_information": st.none() | initiate_request,
})
notification = st.fixed_dictionaries({
    "apdu_type": st.just("data-notification"), "choice": st.just("data-notification"),
    "invoke_id": st.integers(0, 2**24 - 1), "priority": st.sampled_from(["high", "normal"]),
    "service_class": st.sampled_from(["confirmed", "unconfirmed"]), "self_descriptive": st.booleans(), "break_on_error": st.booleans(),
    "date_time": st.none() | st.binary(min_size=12, max_size=12).map(bytes.hex), "body": data_trees,
})
apdu_trees = st.one_of(
    notification,
    service("get-request", "get-request-normal", attribute=descriptor("attribute_id"), access=access),
    service("get-response", "get-response-normal", result=get_result),
    service("set-request", "set-request-normal", attribute=descriptor("attribute_id"), access=access, value=data_trees),
    service("set-response", "set-response-normal", result=st.sampled_from(DARS)),
    service("action-request", "action-request-normal", method=descriptor("method_id"), parameters=st.none() | data_trees),
    service("action-response", "action-response-normal", response=st.fixed_dictionaries({
        "result": st.sampled_from(ACTION_RESULTS), "return_parameters": st.none() | get_result})),
    aarq, aare, rlrq,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(apdu_trees)
def test_apdu_trees_round_trip(tree: Dict[str, Any]) -> None:
    assert dlms.apdu_tree(dlms.encode(tree)) == tree


# Every security control combination of suite 0: A, E, A+E, each with the unicast and the
# broadcast key set.
SUITE0 = [0x10, 0x20, 0x30, 0x50, 0x60, 0x70]
plain_services = st.one_of(
    service("get-request", "get-request-normal", attribute=descriptor("attribute_id"), access=st.none()),
    service("get-response", "get-response-normal", result=get_result),
    service("action-request", "action-request-normal", method=descriptor("method_id"), parameters=st.none() | data_trees),
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SUITE0), st.sampled_from(["general-glo-ciphering", "glo"]), st.one_of(notification, plain_services),
    st.binary(min_size=8, max_size=8), st.integers(0, 2**32 - 1), st.binary(min_size=16, max_size=16), st.binary(min_size=16, max_size=16),
)
def test_enciphered_then_decoded_gives_the_plaintext(sc: int, form: str, tree: Dict[str, Any], system_title: bytes, ic: int, ek: bytes, ak: bytes) -> None:
    if form == "glo" and tree["apdu_type"] == "data-notification":
        form = "general-glo-ciphering"  # data-notification has no glo- tag
    plain = dlms.encode(tree)
    ct = dlms.encipher(plain, system_title=system_title, invocation_counter=ic, ek=ek, ak=ak, security_control=sc, form=form)
    msg = dlms.decode(ct, {system_title.hex(): {"ek": ek, "ak": ak}}, strict=True)
    assert msg.decrypted and msg.plaintext_apdu == plain
    assert msg.plaintext_tree() == tree
    sec = msg.security or {}
    assert (sec["security_control"], sec["invocation_counter"]) == (sc, ic)
    assert sec["key_set"] == ("broadcast" if sc & 0x40 else "unicast")
    if sc & 0x10:
        flipped = bytes([ek[0] ^ 1]) + ek[1:]
        with pytest.raises(SecurityError):
            dlms.decode(ct, {system_title.hex(): {"ek": flipped, "ak": ak}})


def test_apdu_tree_of_bytes_and_hex_agree() -> None:
    h = V["aarq_ciphered"]["hex"]
    a: List[Dict[str, Any]] = [dlms.apdu_tree(h), dlms.apdu_tree(bytes.fromhex(h))]
    assert a[0] == a[1] and a[0]["user_information"]["apdu_type"] == "glo-initiate-request"
    assert dlms.encode(a[0]) == bytes.fromhex(h)


def test_readme_building_example_runs() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## DLMS/COSEM\n", 1)[1].split("### Building APDUs", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md (DLMS/COSEM, Building APDUs)", "exec"), {})


def test_encipher_forms_pick_their_tags() -> None:
    plain = bytes.fromhex(GB["dlms-greenbook-glo-get-auth-enc"]["plaintext"])
    tags = {"glo": 0xC8, "ded": 0xD0, "general-glo-ciphering": 0xDB, "general-ded-ciphering": 0xDC, "general-ciphering": 0xDD}
    for form, tag in tags.items():
        c = dlms.encipher(plain, system_title=GB_TITLE, invocation_counter=7, form=form, **GB_KEYS)
        assert c[0] == tag and dlms.encode(dlms.apdu_tree(c)) == c
        if "ded" in form:
            # ded forms need the association's dedicated key (here EK was used as that key).
            with pytest.raises(SecurityError) as e:
                dlms.decode(c, {GB_TITLE: GB_KEYS})
            assert e.value.code == "cipher_missing_dedicated_key"
            ded = dict(GB_KEYS, dedicated_key=GB_KEYS["ek"])
            assert dlms.decode(c, {GB_TITLE: ded}).plaintext_apdu == plain
            wrong = dict(GB_KEYS, dedicated_key=bytes(16))
            with pytest.raises(SecurityError):
                dlms.decode(c, {GB_TITLE: wrong})
        else:
            assert dlms.decode(c, {GB_TITLE: GB_KEYS}).plaintext_apdu == plain
