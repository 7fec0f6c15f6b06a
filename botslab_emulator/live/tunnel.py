"""The tunnel server's and the virtual device's datagrams (docs/protocol/live-video.md#tunnel),
apart from the client's code: headers parsed at fixed offsets, XMSG built with no 0x7B in its
header."""

from __future__ import annotations

import json
from typing import Any

MAGIC = bytes.fromhex("8009000020160518")


def header(path: int, kind: int, conv: int, payload_len: int, skew: int = 0) -> bytes:
    """The 24-byte header; `skew` is added to the length field (a knob: the real ones match,
    but the working client reads none)."""
    return (
        MAGIC
        + b"\x00" * 8
        + ((0x08 + payload_len + skew) & 0xFFFF).to_bytes(2, "big")
        + bytes([path, kind])
        + conv.to_bytes(4, "big")
    )


def parse(data: bytes) -> tuple[int, int, int, bytes]:
    """(path, type, conv, payload); ValueError for anything else."""
    if len(data) < 0x18 or data[:8] != MAGIC:
        raise ValueError("bad magic")
    if int.from_bytes(data[0x10:0x12], "big") != len(data) - 0x10:
        raise ValueError("bad length")
    return data[0x12], data[0x13], int.from_bytes(data[0x14:0x18], "big"), data[0x18:]


def xmsg_content(data: bytes) -> dict[str, Any]:
    """A client XMSG's JSON, read from the fixed offset 0x94."""
    if len(data) < 0x94 or data[0x13] != 0x30:
        raise ValueError("not an XMSG")
    size = int.from_bytes(data[0x7C:0x80], "big") - 12
    loaded = json.loads(data[0x94 : 0x94 + size])
    if not isinstance(loaded, dict):
        raise ValueError("XMSG content is not an object")  # noqa: TRY004 - a parse error
    return loaded


def device_xmsg(
    conv: int, uuid40: bytes, route40: bytes, msg_id: int, content: str, *, skew: int = 0
) -> bytes:
    """An XMSG from the virtual device; its header never holds 0x7B ('{'), which would mislead
    a reader that searches for the JSON (docs/protocol/live-video.md#xmsg)."""
    while True:
        body = content.encode()
        rest = (
            uuid40
            + route40
            + msg_id.to_bytes(8, "big")
            + bytes(8)
            + (1).to_bytes(4, "big")
            + (len(body) + 12).to_bytes(4, "big")
            + bytes(8)
            + (1).to_bytes(2, "big")
            + bytes(2)
            + msg_id.to_bytes(8, "big")
        )
        head = header(0x02, 0x30, conv, len(rest) + len(body), skew) + rest
        # a reader searches for "{" from 0x18 on; the client's own uuid/route are echoed as is
        if 0x7B not in head[0x18 + 80 :]:
            return head + body
        raw_id = msg_id.to_bytes(8, "big")
        if 0x7B in raw_id:  # the device picks its ids: one without the byte
            msg_id = int.from_bytes(raw_id.replace(b"\x7b", b"\x7c"), "big")
        else:
            content += " "  # the length word held 0x7B: one byte more moves it
