"""The relay side of the "20141104" app-frames (docs/protocol/live-video.md#app-frames), apart from
the client's."""

from __future__ import annotations

import struct

MAGIC = bytes.fromhex("20141104")


def app_frame(cls: int, body: bytes) -> bytes:
    return MAGIC + b"\x00" + bytes([cls]) + len(body).to_bytes(4, "big") + body


def read_tlvs(body: bytes) -> dict[int, bytes]:
    """TLVs of a client frame; raises ValueError on a truncated one."""
    fields = {}
    offset = 0
    while offset < len(body):
        if offset + 4 > len(body):
            raise ValueError("truncated TLV header")
        tag, size = struct.unpack(">HH", body[offset : offset + 4])
        value = body[offset + 4 : offset + 4 + size]
        if len(value) != size:
            raise ValueError("truncated TLV value")
        fields[tag] = value
        offset += 4 + size
    return fields


def login_result(code: int) -> bytes:
    """0x69 with TLV 0x0016 = code (0 is ok)."""
    return app_frame(0x69, struct.pack(">HHI", 0x0016, 4, code))


def parse_login(data: bytes) -> dict[str, str]:
    """A raw LOGIN frame: its stream id, ukey, cluster and product key."""
    if data[:4] != MAGIC or data[5] != 0x01:
        raise ValueError("not a LOGIN")
    size = int.from_bytes(data[6:10], "big")
    fields = read_tlvs(data[10 : 10 + size])
    names = {0x0001: "stream_id", 0x0002: "ukey", 0x0005: "cluster", 0x000B: "product_key"}
    return {name: fields[tag].decode() for tag, name in names.items() if tag in fields}
