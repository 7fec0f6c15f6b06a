"""Compressed answers are bounded by what they inflate to, while they are read.

A fake server on 127.0.0.1 answers every request with a "bomb": half a megabyte of gzip (or
deflate) that inflates to 500 MB of zeros. aiohttp 3.11 (Home Assistant 2025.4) inflated a
whole network read before the size check saw a byte, so one answer took the memory to about
280 MB; every path the client reads from the cloud (the gateway, QUC, the push dispatcher, live
view's setup steps, media) must now stop at its own limit, with a peak near that limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
import functools
import tracemalloc
from typing import Any
import zlib

import aiohttp
import pytest

from custom_components.botslab.api import (
    BotslabClient,
    Credentials,
    Endpoints,
    Identity,
    ProtocolError,
    QucLogin,
    RegionHosts,
)
from custom_components.botslab.api.http import MAX_ANSWER
from custom_components.botslab.api.live import setup as live_setup
from custom_components.botslab.api.models import LiveLicense
from custom_components.botslab.api.push import PushClient

BOMB_MB = 500
MIB = 1024 * 1024


@functools.cache
def bomb(encoding: str) -> bytes:
    """BOMB_MB of zeros, compressed as `encoding` names it (gzip, deflate with its zlib
    header, or raw deflate as some servers send it under "deflate")."""
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}[encoding]
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(MIB)
    parts = [packer.compress(zeros) for _ in range(BOMB_MB)]
    parts.append(packer.flush())
    return b"".join(parts)


class BombServer:
    """Answers every request with one compressed body (HTTP/1.1, its compressed length
    declared), and counts the requests."""

    def __init__(self) -> None:
        self.encoding = "gzip"
        self.content_encoding = "gzip"
        self.content_type = "application/json"
        self.hits = 0
        self.accept_encoding: list[str] = []
        self.url = ""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            self.hits += 1
            for line in head.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.lower() == "accept-encoding":
                    self.accept_encoding.append(value.strip())
            body = bomb(self.encoding)
            writer.write(
                (
                    "HTTP/1.1 200 OK\r\n"
                    f"Content-Type: {self.content_type}\r\n"
                    f"Content-Encoding: {self.content_encoding}\r\n"
                    f"Content-Length: {len(body)}\r\n"
                    "Connection: close\r\n\r\n"
                ).encode()
            )
            writer.write(body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def endpoints(self) -> Endpoints:
        hosts = RegionHosts(
            f"{self.url}/quc", f"{self.url}/api", f"{self.url}/iot", f"{self.url}/lic", self.url
        )
        return Endpoints(
            region="eu1",
            regions={"eu1": hosts},
            dispatcher_url=f"{self.url}/dispatch",
            trusted_hosts=("127.0.0.1",),
        )


@pytest.fixture
async def server() -> AsyncIterator[BombServer]:
    fake = BombServer()
    listener = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    fake.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    yield fake
    listener.close()
    await listener.wait_closed()


def _client(http: aiohttp.ClientSession, server: BombServer) -> BotslabClient:
    credentials = Credentials(q="u%3D1", t="s%3D1", qid="1", region="eu1")
    return BotslabClient(http, server.endpoints(), Identity.generate(), credentials, timeout=10)


CALLS: dict[str, tuple[int, Callable[[BotslabClient, BombServer], Awaitable[Any]]]] = {
    # name: (the limit that path reads to, the call)
    "api": (MAX_ANSWER, lambda c, s: c.login()),
    "quc": (
        MAX_ANSWER,
        lambda c, s: QucLogin(c.http_session, c.endpoints, c.identity).login("a@b.c", "pw"),
    ),
    "dispatcher": (
        MAX_ANSWER,
        lambda c, s: PushClient(c.http_session, c.endpoints, c.identity, _alias)._dispatch(),
    ),
    "cloud_control": (
        MAX_ANSWER,
        lambda c, s: live_setup.cloud_control(c.http_session, c.endpoints),
    ),
    "relay_sign": (
        MAX_ANSWER,
        lambda c, s: live_setup.relay_sign(
            c.http_session, c.endpoints, LiveLicense("pid", "auth", "1", "2"), "SN1"
        ),
    ),
    "scheduler": (
        MAX_ANSWER,
        lambda c, s: live_setup.schedule(
            c.http_session,
            c.endpoints,
            kind=1,
            product_id="pid",
            sn="SN1",
            usign="u",
            sname="s",
            uid="1",
            machine_id="m",
        ),
    ),
    "media": (8 * MIB, lambda c, s: c.download(f"{s.url}/oss/x.jpg")),
    "playlist": (MIB, lambda c, s: c.fetch(f"{s.url}/oss/x.m3u8", max_bytes=MIB)),
}


async def _alias() -> str:
    return "alias"


async def _peak(server: BombServer, name: str) -> int:
    """The traced peak of one call against the bomb; it must fail with the package's error."""
    _limit, call = CALLS[name]
    bomb(server.encoding)  # made before tracing starts
    async with aiohttp.ClientSession() as http:
        client = _client(http, server)
        tracemalloc.start()
        try:
            with pytest.raises(ProtocolError):
                await call(client, server)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            await client.close()
    return peak


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize("encoding", ["gzip", "deflate", "raw-deflate"])
async def test_a_compression_bomb_stops_at_the_limit(
    server: BombServer, name: str, encoding: str
) -> None:
    server.encoding = encoding
    server.content_encoding = "gzip" if encoding == "gzip" else "deflate"
    peak = await _peak(server, name)
    limit = CALLS[name][0]
    # the limit, the last piece inflated past it, and the reader's buffers: far below the
    # 500 MB the body inflates to (aiohttp 3.11 alone: about 280 MB)
    assert peak < limit + limit // 2 + 2 * MIB, f"{name}: peak {peak / MIB:.1f} MiB"
    assert server.hits == 1


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip, gzip", "x-unknown"])
async def test_an_encoding_that_cannot_be_bounded_is_refused(
    server: BombServer, coding: str
) -> None:
    """Only gzip and deflate are asked for (Accept-Encoding) and inflated; an answer in any
    other coding (a server that ignores the header) is refused, never inflated unbounded."""
    server.content_encoding = coding
    async with aiohttp.ClientSession() as http:
        client = _client(http, server)
        try:
            with pytest.raises(ProtocolError):
                await client.login()
            with pytest.raises(ProtocolError):
                await client.download(f"{server.url}/oss/x.jpg")
        finally:
            await client.close()
    assert server.accept_encoding == ["gzip, deflate", "gzip, deflate"]


async def test_a_small_compressed_answer_is_read() -> None:
    """What a well-behaved server sends: a gzip or deflate JSON answer within the limit."""
    from custom_components.botslab.api.http import Inflater

    for wbits, coding in ((31, "gzip"), (15, "deflate"), (-15, "deflate"), (0, "identity")):
        plain = b'{"code": 0}' * 1000
        if wbits:
            packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
            data = packer.compress(plain) + packer.flush()
        else:
            data = plain
        inflater = Inflater(coding, 100_000, "test")
        out = bytearray()
        for i in range(0, len(data), 7):
            inflater.feed(data[i : i + 7], out)
        inflater.finish(out)
        assert out == plain, coding
        with pytest.raises(ProtocolError):
            Inflater(coding, 100, "test").feed(data, bytearray())
