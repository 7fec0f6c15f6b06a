"""The relay's "20141104" app-frames (docs/protocol/live-video.md#app-frames): LOGIN, START, and a
parser of what the relay sends (login result, video access units, audio, config)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
import struct

from ..exceptions import ProtocolError

MAGIC = b"\x20\x14\x11\x04"
HEADER = 10
CLASS_LOGIN = 0x01
CLASS_IFRAME = 0x02
CLASS_PFRAME = 0x03
CLASS_CONFIG = 0x05
CLASS_START = 0x09
CLASS_AUDIO = 0x0A
CLASS_LOGIN_RESULT = 0x69
MEDIA_HEAD = b"\x00\x00\x00\x00\x00\x03"
MAX_BODY = 4 * 1024 * 1024


def tlv(tag: int, value: bytes) -> bytes:
    return struct.pack(">HH", tag, len(value)) + value


def parse_tlvs(body: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    pos = 0
    while pos + 4 <= len(body):
        tag, length = struct.unpack_from(">HH", body, pos)
        if pos + 4 + length > len(body):
            raise ProtocolError("truncated TLV")
        out[tag] = body[pos + 4 : pos + 4 + length]
        pos += 4 + length
    return out


def frame(cls: int, body: bytes) -> bytes:
    return MAGIC + bytes([0, cls]) + struct.pack(">I", len(body)) + body


def login_frame(stream_id: str, ukey: str, cluster: str, product_key: str) -> bytes:
    """LOGIN: stream id, ukey, cluster, product key and four zero bytes, in this order."""
    body = (
        tlv(0x0001, stream_id.encode())
        + tlv(0x0002, ukey.encode())
        + tlv(0x0005, cluster.encode())
        + tlv(0x000B, product_key.encode())
        + tlv(0x0015, bytes(4))
    )
    return frame(CLASS_LOGIN, body)


def start_frame(stream_type: int = 0) -> bytes:
    return frame(CLASS_START, tlv(0x000C, struct.pack(">I", stream_type)))


@dataclass(frozen=True, slots=True)
class AppFrame:
    cls: int
    body: bytes

    @property
    def login_ok(self) -> bool | None:
        """For a login result: whether TLV 0x0016 says 0 (an echoed LOGIN counts as ok)."""
        if self.cls == CLASS_LOGIN:
            return True
        if self.cls != CLASS_LOGIN_RESULT:
            return None
        value = parse_tlvs(self.body).get(0x0016)
        return value is not None and len(value) == 4 and struct.unpack(">I", value)[0] == 0


class FrameReader:
    """Incremental reader of app-frames from the TCP relay; absurd lengths and foreign bytes
    raise ProtocolError."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[AppFrame]:
        self._buf += data
        while len(self._buf) >= HEADER:
            if bytes(self._buf[:4]) != MAGIC or self._buf[4] != 0:
                raise ProtocolError("not an app-frame")
            cls = self._buf[5]
            (length,) = struct.unpack_from(">I", self._buf, 6)
            if length > MAX_BODY:
                raise ProtocolError("app-frame too large")
            if len(self._buf) < HEADER + length:
                return
            body = bytes(self._buf[HEADER : HEADER + length])
            del self._buf[: HEADER + length]
            if cls in (CLASS_IFRAME, CLASS_PFRAME) and not body.startswith(MEDIA_HEAD):
                raise ProtocolError("media frame without its device header")
            yield AppFrame(cls, body)
