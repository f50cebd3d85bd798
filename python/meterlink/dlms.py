"""DLMS/COSEM (IEC 62056-5-3): pushes, APDUs, ciphering, A-XDR, HDLC / wrapper / M-Bus transport
and encrypted P1 telegrams.

>>> import meterlink.dlms
>>> msg = meterlink.dlms.decode("0f000000010c07e1010101000000ff800000020209060100010800ff112a")
>>> msg.apdu_type, msg.invoke_id, msg.datetime
('data-notification', 1, '2017-01-01T00:00:00')
>>> msg.obis_values[0]["obis"], msg.obis_values[0]["value"]
('1.0.1.8.0.255', 42)

Building runs the other way: :func:`encode` turns an APDU tree (what :func:`apdu_tree` and
:meth:`DlmsMessage.apdu_tree` return) back into bytes, :func:`encode_data` an A-XDR tree,
:func:`encipher` protects a plain APDU, and :func:`hdlc_frame`, :func:`wrapper_frame` and
:func:`mbus_frames` put an APDU in its transport.

>>> apdu = meterlink.dlms.encode({"apdu_type": "get-request", "choice": "get-request-normal",
...     "invoke_id": 1, "priority": "high",
...     "attribute": {"class_id": 8, "instance": "0.0.1.0.0.255", "attribute_id": 2}})
>>> apdu.hex()
'c001c100080000010000ff0200'
>>> meterlink.dlms.apdu_tree(apdu)["attribute"]["instance"]
'0.0.1.0.0.255'

The decoding and building run in the Rust core (``meterlink::dlms``); this module only
normalises the ``keys`` argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO, Dict, Iterator, Mapping, Optional, Tuple, Union

from meterlink._native import (
    DlmsMessage,
    HdlcSplitter,
    KeyStore,
    dlms_apdu_tree,
    dlms_decode,
    dlms_decode_data,
    dlms_encipher,
    dlms_encode,
    dlms_encode_data,
    dlms_hdlc_frame,
    dlms_hls,
    dlms_mbus_frames,
    dlms_wrapper_frame,
)
from meterlink.stream import StreamPiece, _pieces

if TYPE_CHECKING:
    from meterlink._native import CounterStore

__all__ = [
    "DlmsMessage",
    "Message",
    "StreamPiece",
    "apdu_tree",
    "decode",
    "decode_data",
    "encipher",
    "encode",
    "encode_data",
    "hdlc_frame",
    "hls",
    "iter_frames",
    "mbus_frames",
    "wrapper_frame",
]

Message = DlmsMessage

_Key = Union[bytes, bytearray, str]
_ServerKeys = Mapping[str, Optional[_Key]]
KeysArg = Union[None, _ServerKeys, Mapping[str, _ServerKeys]]

_Extra = Optional[Tuple[Optional[bytes], Optional[bytes], Optional[bytes]]]
_KeyTuple = Tuple[Optional[bytes], bytes, Optional[bytes], _Extra]
_EXTRA = ("broadcast_ek", "dedicated_key", "kek")


def _key_bytes(value: Optional[_Key], what: str) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise _argument(f"{what} must be hex text or bytes") from None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise _argument(f"{what} must be hex text or bytes, not {type(value).__name__}")


def _argument(message: str) -> Exception:
    from meterlink.exceptions import MeterlinkError

    return MeterlinkError(message, None, "argument")


def _server(entry: Mapping[str, Any], where: str) -> Tuple[bytes, Optional[bytes], _Extra]:
    unknown = set(entry) - {"ek", "ak", *_EXTRA}
    if unknown or "ek" not in entry:
        raise _argument(
            f"keys{where}: expected {{'ek': key, 'ak': key or None}} (optional: broadcast_ek, dedicated_key, kek)"
        )
    ek = _key_bytes(entry["ek"], f"keys{where}['ek']")
    if ek is None:
        raise _argument(f"keys{where}['ek'] is required")
    extra = tuple(_key_bytes(entry.get(k), f"keys{where}[{k!r}]") for k in _EXTRA)
    more: _Extra = (extra[0], extra[1], extra[2]) if any(x is not None for x in extra) else None
    return ek, _key_bytes(entry.get("ak"), f"keys{where}['ak']"), more


def _normalise_keys(keys: KeysArg) -> Optional[list[_KeyTuple]]:
    """The documented key forms → ``[(system_title | None, ek, ak | None, extra keys | None)]``."""
    if keys is None:
        return None
    if not isinstance(keys, Mapping):
        raise _argument(f"keys must be a mapping, not {type(keys).__name__}")
    if "ek" in keys:
        ek, ak, more = _server(keys, "")  # the same keys for every server
        return [(None, ek, ak, more)]
    out: list[_KeyTuple] = []
    for title, entry in keys.items():
        t = _key_bytes(title, "a system title") if isinstance(title, str) else None
        if t is None or len(t) != 8:
            raise _argument("keys: system titles are 16 hex digits")
        if not isinstance(entry, Mapping):
            raise _argument(f"keys[{title!r}] must be a mapping {{'ek': ..., 'ak': ...}}")
        ek, ak, more = _server(entry, f"[{title!r}]")
        out.append((t, ek, ak, more))
    return out


def decode(
    data: Union[bytes, bytearray, memoryview, str],
    keys: KeysArg = None,
    *,
    framing: str = "auto",
    strict: bool = False,
    counters: Optional["CounterStore"] = None,
) -> DlmsMessage:
    """Decode one DLMS/COSEM message.

    ``data``: bytes, or hex text (a clear P1 telegram may also be given as its text).
    ``framing``: ``"auto"``, ``"hdlc"``, ``"wrapper"``, ``"mbus"``, ``"p1"`` or ``"apdu"``.
    ``keys``: ``{"ek": key, "ak": key or None}`` for every server, or a mapping from server
    system title (16 hex digits) to such a dict; a dict may also hold ``broadcast_ek`` (the
    broadcast key set), ``dedicated_key`` (ded- APDUs, general-ded-ciphering) and ``kek``
    (general-ciphering's wrapped keys). ``keys`` may also be a :class:`meterlink.KeyStore`
    holding DLMS servers by system title (``KeyStore.with_dlms``). A ciphered APDU with no key is decoded as far
    as the outer APDU (``decrypted=False``); ``strict=True`` raises ``SecurityError`` instead.
    ``counters``: a :class:`meterlink.CounterStore`; an authenticated APDU whose invocation
    counter is not greater than the last one accepted for its system title and key raises
    ``SecurityError`` (``cipher_replayed_counter``); counters are recorded only after the tag
    verified.
    """
    # A plain dict (the common case) is parsed by the extension itself: normalising it here
    # cost as much as the decode.
    native_keys = keys if type(keys) is dict or isinstance(keys, KeyStore) else _normalise_keys(keys)
    return dlms_decode(data, native_keys, framing, strict, counters)


def decode_data(data: Union[bytes, bytearray, memoryview, str]) -> Dict[str, Any]:
    """One A-XDR ``Data`` item as its tree ``{"type": ..., "value": ...}``."""
    tree: Dict[str, Any] = dlms_decode_data(data)
    return tree


def iter_frames(
    source: Union[bytes, bytearray, memoryview, BinaryIO],
    *,
    chunk_size: int = 1 << 16,
    skipped: bool = False,
    unstuff: bool = True,
) -> Iterator[StreamPiece]:
    """Yield the HDLC frames (``7E ... 7E``, HCS and FCS verified) found in ``source`` (bytes or
    a binary file-like object), each ready for ``decode(piece.data, framing="hdlc")``.

    Consecutive frames may share a flag; garbage is skipped and resynchronised on (with
    ``skipped=True`` the skipped runs are yielded too, so every input byte is accounted for);
    octet-stuffed frames (some HAN readers) are un-stuffed when they fail as they are, unless
    ``unstuff=False``.
    """
    return _pieces(HdlcSplitter(unstuff), source, chunk_size, skipped)


def hls(
    mechanism: int,
    challenge: Union[bytes, str],
    secret: Union[bytes, str, None] = None,
    *,
    invocation_counter: Optional[int] = None,
    suite: int = 0,
    system_title: Union[bytes, str, None] = None,
    ek: Union[bytes, str, None] = None,
    ak: Union[bytes, str, None] = None,
) -> bytes:
    """HLS pass 3/4: f(challenge) for mechanisms 3 (MD5) and 4 (SHA-1) over ``secret``, and
    mechanism 5 (GMAC): ``SC || IC || GMAC`` with the sender's ``system_title``,
    ``invocation_counter`` and keys. Bytes arguments may be given as hex text."""
    def b(v: Union[bytes, str, None], what: str) -> Optional[bytes]:
        return _key_bytes(v, what)

    return dlms_hls(mechanism, b(challenge, "challenge") or b"", b(secret, "secret"),
                    invocation_counter=invocation_counter, suite=suite,
                    system_title=b(system_title, "system_title"), ek=b(ek, "ek"), ak=b(ak, "ak"))


_Bytes = Union[bytes, bytearray, memoryview, str]


def apdu_tree(data: _Bytes) -> Dict[str, Any]:
    """The full tree of one APDU (bytes or hex): ``{"apdu_type": ..., "choice": ..., fields}``.

    Field names are snake_case, OBIS codes dotted text, octet strings lowercase hex,
    enumerations their standard names, ``Data`` values the A-XDR tree of :func:`decode_data`.
    A ciphered APDU gives its fields (security control, invocation counter, payload).
    :func:`encode` is its inverse.
    """
    tree: Dict[str, Any] = dlms_apdu_tree(data)
    return tree


def encode(apdu: Mapping[str, Any]) -> bytes:
    """The bytes of the APDU a tree describes (the inverse of :func:`apdu_tree`).

    Every APDU type and CHOICE alternative, ciphered ones included (as their fields; use
    :func:`encipher` to protect a plain APDU). Optional fields may be left out; octet strings
    may be bytes or hex text; enumerations names or numbers; ``Data`` values A-XDR trees; a
    date-time field ISO 8601 text or its 12 octets in hex. A malformed tree raises
    ``MeterlinkError`` (code ``argument``) naming the field.
    """
    return dlms_encode(dict(apdu))


def encode_data(tree: Mapping[str, Any]) -> bytes:
    """One A-XDR ``Data`` item from its tree (the inverse of :func:`decode_data`).

    Beyond what :func:`decode_data` gives, ``"bits"`` sets a bit-string's length, a
    compact-array may carry its ``"description"`` (else inferred from its first value), and a
    date-time / date / time value may be its octets in hex (``None``: not specified).
    """
    return dlms_encode_data(dict(tree))


def encipher(
    apdu: _Bytes,
    *,
    system_title: _Bytes,
    invocation_counter: int,
    ek: _Bytes,
    ak: Optional[_Bytes] = None,
    security_control: int = 0x30,
    form: str = "general-glo-ciphering",
) -> bytes:
    """Protect a plain APDU (Green Book 9.2.7.2.4: AES-GCM, IV = system title ‖ counter).

    ``security_control``: suite (bits 0–3; 0/1 AES-128, 2 AES-256), authentication 0x10,
    encryption 0x20, broadcast key set 0x40. ``form``: ``"general-glo-ciphering"`` (carries the
    system title), ``"general-ded-ciphering"``, ``"general-ciphering"``, or ``"glo"`` / ``"ded"``
    (the glo-/ded- tag of the plain APDU's service; the ded forms use ``ek`` as the dedicated
    key). Key errors raise ``SecurityError``.
    """
    return dlms_encipher(apdu, system_title, invocation_counter, ek, ak, security_control, form)


def hdlc_frame(
    apdu_or_info: _Bytes,
    *,
    destination: Any,
    source: Any,
    control: Union[str, int] = "I",
    segmented: bool = False,
    llc: Union[bool, str] = True,
) -> bytes:
    """One HDLC frame (IEC 62056-46, format type 3, HCS and FCS) around an APDU.

    Addresses: an int (one byte), ``(upper, lower)`` or ``{"upper": .., "lower": ..}`` (two
    bytes when both fit 7 bits, else four). ``control``: ``"I"`` (0x10), ``"UI"`` (0x13, as
    pushes) or the byte. ``llc``: ``True``/``"response"`` prefixes E6 E7 00, ``"request"``
    E6 E6 00, ``False`` nothing (the argument is then the whole information field).
    """
    return dlms_hdlc_frame(apdu_or_info, destination, source, control, segmented, llc)


def wrapper_frame(apdu: _Bytes, *, source_wport: int = 1, destination_wport: int = 1) -> bytes:
    """The IEC 62056-47 wrapper (TCP/UDP): version 1, wPorts, length, then the APDU."""
    return dlms_wrapper_frame(apdu, source_wport, destination_wport)


def mbus_frames(
    apdu: _Bytes,
    *,
    address: int = 0xFF,
    control: int = 0x53,
    stsap: int = 0x01,
    dtsap: int = 0x67,
    segment_size: int = 245,
) -> bytes:
    """Wired M-Bus long frames carrying one APDU in CI 00–1F segments (bit 4 on the last),
    back to back, as the Austrian meters send them."""
    return dlms_mbus_frames(apdu, address, control, stsap, dtsap, segment_size)
