"""The TCP leg to the media relay (docs/protocol/live-video.md#tcp-relay): LOGIN, its result, START.

The framing on TCP is not known, so, as the public client does, the LOGIN goes out raw first
and, with no answer within 3 s, wrapped in a QTP data header (conv 0, sn 1, una 0, flags
0x1D02). The answer tells the framing: the app-frame magic at offset 0 is raw, at offset 14 it
is QTP-wrapped (the conv taken from its first two bytes). Everything after is read and written
in that framing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import struct

from ..exceptions import BotslabConnectionError, ProtocolError
from ..netguard import NetGuard
from .frames import MAGIC, AppFrame, FrameReader, login_frame, start_frame
from .qtp import message

CONNECT_S = 5.0
LOGIN_WAIT_S = 3.0
WRAPPED_HEAD = 14  # QTP data header (10) + u32 length


class RelayRefused(ProtocolError):
    """The relay refused the LOGIN (an unknown or expired ukey, another stream)."""


class WrappedFrameReader:
    """App-frames inside QTP data headers on a byte stream: `[header][u32 L][frame]`."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[AppFrame]:
        self._buf += data
        while len(self._buf) >= WRAPPED_HEAD:
            (size,) = struct.unpack_from(">I", self._buf, 10)
            if size > 4 * 1024 * 1024:
                raise ProtocolError("wrapped app-frame too large")
            if len(self._buf) < WRAPPED_HEAD + size:
                return
            frame = bytes(self._buf[WRAPPED_HEAD : WRAPPED_HEAD + size])
            del self._buf[: WRAPPED_HEAD + size]
            if size:
                yield from FrameReader().feed(frame)


class TcpRelay:
    """A logged-in TCP relay connection in the framing the relay answered in."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        frames: FrameReader | WrappedFrameReader,
        conv: int | None,
    ) -> None:
        self.reader, self.writer, self.frames, self.conv = reader, writer, frames, conv
        self._sn = 1

    @property
    def wrapped(self) -> bool:
        return self.conv is not None

    def send(self, frame: bytes) -> None:
        if self.conv is None:
            self.writer.write(frame)
            return
        self._sn = (self._sn + 1) & 0xFFFF
        self.writer.write(message(self.conv, self._sn, 0, frame))


async def open_tcp_relay(
    guard: NetGuard,
    host: str,
    port: int,
    *,
    stream_id: str,
    ukey: str,
    cluster: str,
    product_key: str,
) -> tuple[TcpRelay, list[AppFrame]]:
    """Connect (through the address guard: only an allowed address, its peer checked; a
    refusal raises AddressRefused), log in (raw, then QTP-wrapped), START. Returns the
    connection and any frames that came with the login result."""
    try:
        reader, writer = await guard.open_connection(host, port, connect_timeout=CONNECT_S)
    except (OSError, TimeoutError) as err:
        raise BotslabConnectionError("media relay unreachable") from err
    login = login_frame(stream_id, ukey, cluster, product_key)
    try:
        relay, pending = await _login(reader, writer, login)
    except OSError as err:  # reset while logging in
        writer.close()
        raise BotslabConnectionError("media relay connection lost during login") from err
    except (ProtocolError, BotslabConnectionError):
        writer.close()
        raise
    results = [f for f in pending if f.login_ok is not None or f.cls in (0x02, 0x03)]
    first = results[0]
    if first.login_ok is False:
        writer.close()
        raise RelayRefused("relay refused the login")
    relay.send(start_frame())
    await writer.drain()
    return relay, [f for f in pending if f is not first]


async def _login(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, login: bytes
) -> tuple[TcpRelay, list[AppFrame]]:
    """LOGIN raw, then (after 3 s of silence) QTP-wrapped; read in the framing of the answer
    until the login result or media arrives."""
    buf = b""
    relay: TcpRelay | None = None
    pending: list[AppFrame] = []
    for login_data in (login, message(0, 1, 0, login)):
        writer.write(login_data)
        await writer.drain()
        try:
            async with asyncio.timeout(LOGIN_WAIT_S):
                while not any(f.login_ok is not None or f.cls in (0x02, 0x03) for f in pending):
                    data = await reader.read(65536)
                    if not data:
                        raise BotslabConnectionError("relay closed during login")
                    if relay is None:
                        buf += data
                        relay = _framing(reader, writer, buf)
                        data = buf if relay is not None else b""
                    if relay is not None:
                        pending += relay.frames.feed(data)
        except TimeoutError:
            if buf:
                break  # the relay answered, but not with a login result
            continue
        assert relay is not None
        return relay, pending
    raise BotslabConnectionError("no login result from the relay")


def _framing(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, buf: bytes
) -> TcpRelay | None:
    """The framing of the relay's first answer, once enough of it is there."""
    if len(buf) >= 4 and buf[:4] == MAGIC:
        return TcpRelay(reader, writer, FrameReader(), None)
    if len(buf) >= WRAPPED_HEAD + 4:
        if buf[WRAPPED_HEAD : WRAPPED_HEAD + 4] == MAGIC:
            return TcpRelay(reader, writer, WrappedFrameReader(), struct.unpack(">H", buf[:2])[0])
        raise ProtocolError("the relay answers in an unknown framing")
    return None
