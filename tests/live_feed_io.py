"""Reading the live feed (the loopback MPEG-TS server) in tests, as HA's stream component does."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
from urllib.parse import urlsplit

import av


def feed_request(url: str) -> bytes:
    """The request ffmpeg sends for `url` once challenged: with the user part of the URL as
    Basic credentials (none when the URL has no user part)."""
    parts = urlsplit(url)
    auth = ""
    if parts.username is not None:
        token = base64.b64encode(f"{parts.username}:{parts.password or ''}".encode()).decode()
        auth = f"Authorization: Basic {token}\r\n"
    return (
        f"GET {parts.path} HTTP/1.1\r\nUser-Agent: Lavf/61.7.100\r\nAccept: */*\r\n"
        f"Range: bytes=0-\r\nConnection: close\r\nHost: {parts.hostname}:{parts.port}\r\n"
        f"Icy-MetaData: 1\r\n{auth}\r\n"
    ).encode()


async def read_feed(
    url: str, size: int | None = None, *, timeout: float = 30, request: bytes | None = None
) -> bytes:
    """The body of the feed at `url` (an HTTP GET, as ffmpeg sends it): `size` bytes of it,
    or until it closes (None); less when it closes first. `request` replaces the request
    bytes (b"" sends none); the answer's status must then be 200 for a body to be returned,
    else the whole answer comes back as it is."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    if request is None:
        request = feed_request(url)
    data = b""
    try:
        writer.write(request)
        async with asyncio.timeout(timeout):
            while chunk := await reader.read(65536):
                data += chunk
                _head, sep, body = data.partition(b"\r\n\r\n")
                if sep and size is not None and len(body) >= size:
                    break
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1.1 200 "):
        return data
    return body


def video_packets(data: bytes) -> list[av.Packet]:
    """The H.264 packets PyAV demuxes from MPEG-TS bytes (whole 188-byte packets only)."""
    container = av.open(io.BytesIO(data[: len(data) // 188 * 188]), format="mpegts")
    return [p for p in container.demux(video=0) if p.size]
