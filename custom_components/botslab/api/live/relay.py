"""The TCP leg to the media relay (liveview.md 7.1): raw LOGIN, its result, START."""

from __future__ import annotations

import asyncio

from ..exceptions import BotslabConnectionError, ProtocolError
from .frames import AppFrame, FrameReader, login_frame, start_frame

LOGIN_WAIT_S = 3.0


class RelayRefused(ProtocolError):
    """The relay refused the LOGIN (an unknown or expired ukey, another stream)."""


async def open_tcp_relay(
    server: str, *, stream_id: str, ukey: str, cluster: str, product_key: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameReader, list[AppFrame]]:
    """Connect, log in (raw framing), START. Returns the stream, a reader holding its buffer,
    and any frames that came with the login result."""
    host, _, port = server.rpartition(":")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host or server, int(port or 80)), 5
        )
    except (OSError, TimeoutError) as err:
        raise BotslabConnectionError("media relay unreachable") from err
    frames = FrameReader()
    writer.write(login_frame(stream_id, ukey, cluster, product_key))
    await writer.drain()
    pending: list[AppFrame] = []
    try:
        async with asyncio.timeout(LOGIN_WAIT_S):
            while True:
                data = await reader.read(65536)
                if not data:
                    raise RelayRefused("relay closed during login")
                pending.extend(frames.feed(data))
                results = [f for f in pending if f.login_ok is not None or f.cls in (0x02, 0x03)]
                if results:
                    break
    except TimeoutError as err:
        writer.close()
        raise BotslabConnectionError("no login result from the relay") from err
    except ProtocolError:
        writer.close()
        raise
    first = results[0]
    if first.login_ok is False:
        writer.close()
        raise RelayRefused("relay refused the login")
    writer.write(start_frame())
    await writer.drain()
    rest = [f for f in pending if f is not first]
    return reader, writer, frames, rest
