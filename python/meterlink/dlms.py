"""DLMS/COSEM (IEC 62056-5-3): pushes, APDUs, ciphering, A-XDR, HDLC / wrapper / M-Bus transport
and encrypted P1 telegrams.

>>> import meterlink.dlms
>>> msg = meterlink.dlms.decode("0f000000010c07e1010101000000ff800000020209060100010800ff112a")
>>> msg.apdu_type, msg.invoke_id, msg.datetime
('data-notification', 1, '2017-01-01T00:00:00')
>>> msg.obis_values[0]["obis"], msg.obis_values[0]["value"]
('1.0.1.8.0.255', 42)

The decoding runs in the Rust core (``meterlink::dlms``); this module only normalises the
``keys`` argument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO, Dict, Iterator, Mapping, Optional, Tuple, Union

from meterlink._native import DlmsMessage, HdlcSplitter, dlms_decode, dlms_decode_data, dlms_hls
from meterlink.stream import StreamPiece

if TYPE_CHECKING:
    from meterlink._native import CounterStore

__all__ = ["DlmsMessage", "Message", "StreamPiece", "decode", "decode_data", "hls", "iter_frames"]

Message = DlmsMessage

_Key = Union[bytes, bytearray, str]
_ServerKeys = Mapping[str, Optional[_Key]]
KeysArg = Union[None, _ServerKeys, Mapping[str, _ServerKeys]]

_KeyTuple = Tuple[Optional[bytes], bytes, Optional[bytes]]


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


def _server(entry: Mapping[str, Any], where: str) -> Tuple[bytes, Optional[bytes]]:
    unknown = set(entry) - {"ek", "ak"}
    if unknown or "ek" not in entry:
        raise _argument(f"keys{where}: expected {{'ek': key, 'ak': key or None}}")
    ek = _key_bytes(entry["ek"], f"keys{where}['ek']")
    assert ek is not None or entry["ek"] is None
    if ek is None:
        raise _argument(f"keys{where}['ek'] is required")
    return ek, _key_bytes(entry.get("ak"), f"keys{where}['ak']")


def _normalise_keys(keys: KeysArg) -> Optional[list[_KeyTuple]]:
    """The documented key forms → ``[(system_title | None, ek, ak | None)]``."""
    if keys is None:
        return None
    if not isinstance(keys, Mapping):
        raise _argument(f"keys must be a mapping, not {type(keys).__name__}")
    if "ek" in keys:
        ek, ak = _server(keys, "")  # the same keys for every server
        return [(None, ek, ak)]
    out: list[_KeyTuple] = []
    for title, entry in keys.items():
        t = _key_bytes(title, "a system title") if isinstance(title, str) else None
        if t is None or len(t) != 8:
            raise _argument("keys: system titles are 16 hex digits")
        if not isinstance(entry, Mapping):
            raise _argument(f"keys[{title!r}] must be a mapping {{'ek': ..., 'ak': ...}}")
        ek, ak = _server(entry, f"[{title!r}]")
        out.append((t, ek, ak))
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
    system title (16 hex digits) to such a dict. A ciphered APDU with no key is decoded as far
    as the outer APDU (``decrypted=False``); ``strict=True`` raises ``SecurityError`` instead.
    ``counters``: a :class:`meterlink.CounterStore`; an authenticated APDU whose invocation
    counter is not greater than the last one accepted for its system title and key raises
    ``SecurityError`` (``cipher_replayed_counter``); counters are recorded only after the tag
    verified.
    """
    return dlms_decode(data, _normalise_keys(keys), framing, strict, counters)


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
    splitter = HdlcSplitter(unstuff)

    def emit(items: list[Tuple[str, int, Any]]) -> Iterator[StreamPiece]:
        for kind, offset, payload in items:
            if kind == "frame":
                yield StreamPiece("frame", offset, payload, len(payload))
            elif skipped:
                yield StreamPiece("skipped", offset, b"", payload)

    if isinstance(source, (bytes, bytearray, memoryview)):
        yield from emit(splitter.feed(bytes(source)))
    else:
        while True:
            chunk = source.read(chunk_size)
            if not chunk:
                break
            yield from emit(splitter.feed(chunk))
    yield from emit(splitter.finish())


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

