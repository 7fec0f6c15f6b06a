"""Reading the live feed (the loopback MPEG-TS server) in tests, as HA's stream component does."""

from __future__ import annotations

import asyncio
import io

import av


async def read_feed(url: str, size: int | None = None, *, timeout: float = 30) -> bytes:
    """Bytes from a `tcp://host:port` feed: `size` of them, or until it closes (None); less
    when it closes first."""
    host, port = url.removeprefix("tcp://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    data = b""
    try:
        async with asyncio.timeout(timeout):
            while size is None or len(data) < size:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
    finally:
        writer.close()
        await writer.wait_closed()
    return data


def video_packets(data: bytes) -> list[av.Packet]:
    """The H.264 packets PyAV demuxes from MPEG-TS bytes (whole 188-byte packets only)."""
    container = av.open(io.BytesIO(data[: len(data) // 188 * 188]), format="mpegts")
    return [p for p in container.demux(video=0) if p.size]
