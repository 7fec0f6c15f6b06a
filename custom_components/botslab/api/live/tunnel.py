"""The P2P tunnel's datagrams (docs/protocol/live-video.md#tunnel): header, fixed fields, the
client's messages and XMSG carrying signalling JSON."""

from __future__ import annotations

from dataclasses import dataclass
import struct
from typing import Any

from .. import safejson
from ..exceptions import ProtocolError

MAGIC = bytes.fromhex("8009000020160518")
HEADER = 0x18
XMSG_CONTENT = 0x94
PATH_TUNNEL = 0x02
TYPE_CONNECT = 0x04
TYPE_PROBE = 0x03
TYPE_KEEPALIVE = 0x20
TYPE_XMSG = 0x30
TYPE_XMSG_ACK = 0x31


@dataclass(frozen=True, slots=True)
class Datagram:
    path: int
    type: int
    conv: int
    payload: bytes


def wrap(path: int, type_: int, conv: int, payload: bytes) -> bytes:
    """§5.1: magic, eight zero bytes, length (total - 0x10), path, type, conv, payload."""
    return (
        MAGIC
        + bytes(8)
        + struct.pack(">HBBI", HEADER - 0x10 + len(payload), path, type_, conv)
        + payload
    )


def unwrap(data: bytes) -> Datagram:
    """The header of a datagram from a tunnel server. Its length field is not checked: the
    working client reads none (docs/protocol/accepted.md#live-view), the datagram's own size
    is what counts."""
    if len(data) < HEADER or data[:8] != MAGIC:
        raise ProtocolError("not a tunnel datagram")
    _length, path, type_, conv = struct.unpack_from(">HBBI", data, 0x10)
    return Datagram(path, type_, conv, data[HEADER:])


def _field(text: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > 40:
        raise ProtocolError("tunnel field longer than 40 bytes")
    return raw.ljust(40, b"\x00")


def uuid_field(machine_id: str) -> bytes:
    return _field(f"{machine_id}_3")


def route_field(product_id: str, sn: str) -> bytes:
    return _field(f"{product_id}/{sn}")


def open_payload(machine_id: str, product_id: str, sn: str) -> bytes:
    """03/01 OPEN ("play"), not padded."""
    return (
        bytes.fromhex("070000000100002719000107")
        + f"{machine_id}_3".encode()
        + b"\x00\x00\x01\x07"
        + f"{product_id}/{sn}".encode()
        + bytes(25)
    )


def connect_payload(machine_id: str, product_id: str, sn: str) -> bytes:
    return uuid_field(machine_id) + route_field(product_id, sn) + bytes.fromhex("0000010000000000")


def register_payload(machine_id: str, product_id: str, sn: str) -> bytes:
    return uuid_field(machine_id) + route_field(product_id, sn) + bytes(16)


def probe_payload(machine_id: str) -> bytes:
    return uuid_field(machine_id) + bytes(8)


def keepalive_payload(machine_id: str) -> bytes:
    return uuid_field(machine_id)


def xmsg(
    conv: int, machine_id: str, product_id: str, sn: str, *, msg_id: int, content: str
) -> bytes:
    """02/30 XMSG carrying a §4 envelope (msg_id: Unix microseconds)."""
    body = content.encode()
    head = (
        uuid_field(machine_id)
        + route_field(product_id, sn)
        + struct.pack(">Q", msg_id)
        + bytes(8)
        + struct.pack(">II", 1, len(body) + 12)
        + bytes(8)
        + struct.pack(">HHQ", 1, 0, msg_id)
    )
    return wrap(PATH_TUNNEL, TYPE_XMSG, conv, head + body)


def xmsg_ack(conv: int, machine_id: str, product_id: str, sn: str, acked: bytes) -> bytes:
    """02/31: uuid, route, the 8 bytes at 0x68 of the XMSG acked, 12 zero bytes (124 bytes)."""
    return wrap(
        PATH_TUNNEL,
        TYPE_XMSG_ACK,
        conv,
        uuid_field(machine_id) + route_field(product_id, sn) + acked[0x68:0x70] + bytes(12),
    )


def read_xmsg(data: bytes) -> dict[str, Any]:
    """The JSON of a device XMSG: from the first '{' at or after 0x18 to the last '}'."""
    if len(data) < XMSG_CONTENT or data[:8] != MAGIC or data[0x13] != TYPE_XMSG:
        raise ProtocolError("not an XMSG")
    start = data.find(b"{", HEADER)
    end = data.rfind(b"}")
    if start < 0 or end < start:
        raise ProtocolError("XMSG without JSON")
    try:
        loaded = safejson.loads(data[start : end + 1])
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ProtocolError("XMSG JSON does not parse") from err
    if not isinstance(loaded, dict):
        raise ProtocolError("XMSG JSON is not an object")
    return loaded
