"""A hostile push channel: a fake dispatcher and QPush server on loopback send hypothesis-made
bytes, absurd dispatcher answers and silence. The push task survives all of it, reconnects,
and drops a connection that stays silent past its heartbeat budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import json
import struct
from typing import Any

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.botslab.api import (
    ConnectionState,
    Endpoints,
    Identity,
    PushClient,
    RegionHosts,
)

BIND_OK = struct.pack(">HHH", 5, 6, 3) + b"r:0"


class FakeChannel:
    """The dispatcher (HTTP) and the push server (TCP): `dispatch` is the dispatcher's JSON,
    `script` what the push server writes after the bind reply (None: stay silent)."""

    def __init__(self) -> None:
        self.dispatch: Any = None
        self.script: bytes | None = None
        self.reply_heartbeats = False
        self.connections = 0
        self.push_port = 0
        self.url = ""
        self._writers: set[asyncio.StreamWriter] = set()

    async def dispatcher(self, request: web.Request) -> web.Response:
        answer = self.dispatch
        if answer is None:
            answer = {"data": [{"ip": "127.0.0.1", "p": self.push_port}]}
        return web.Response(body=json.dumps(answer, allow_nan=True).encode())

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            head = await reader.readexactly(6)  # the bind: header, property block length
            await reader.readexactly(struct.unpack(">H", head[4:6])[0])
            writer.write(BIND_OK)
            if self.script:
                writer.write(self.script)
            await writer.drain()
            while data := await reader.read(4096):
                if self.reply_heartbeats and b"\x00\x05\x00\x00" in data:
                    writer.write(b"\x00\x05\x00\x01")  # a bare op 1, once
                    self.reply_heartbeats = False
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    def endpoints(self) -> Endpoints:
        hosts = RegionHosts(f"{self.url}/quc", f"{self.url}/api")
        return Endpoints(
            region="eu1", regions={"eu1": hosts}, dispatcher_url=f"{self.url}/dispatch"
        )

    async def close_all(self) -> None:
        for writer in list(self._writers):
            writer.close()


@pytest.fixture
async def channel() -> AsyncIterator[FakeChannel]:
    fake = FakeChannel()
    app = web.Application()
    app.router.add_get("/dispatch", fake.dispatcher)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    server = await asyncio.start_server(fake.serve, "127.0.0.1", 0)
    fake.push_port = server.sockets[0].getsockname()[1]
    yield fake
    server.close()
    await fake.close_all()
    await server.wait_closed()
    await runner.cleanup()


async def alias() -> str:
    return "botslab_alias"


def pusher(http: aiohttp.ClientSession, channel: FakeChannel, **kw: Any) -> PushClient:
    return PushClient(
        http,
        channel.endpoints(),
        Identity.generate(),
        alias,
        backoff_base=0.01,
        backoff_max=0.05,
        bind_timeout=2,
        **kw,
    )


async def wait_for(predicate: Any, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(script=st.binary(min_size=1, max_size=600))
async def test_any_bytes_after_the_bind(channel: FakeChannel, script: bytes) -> None:
    """Whatever the server writes, the task goes on: it parses, or it reconnects."""
    channel.script = script
    before = channel.connections
    async with aiohttp.ClientSession() as http:
        client = pusher(http, channel)
        client.start()
        try:
            await wait_for(lambda: channel.connections > before)
            await asyncio.sleep(0.05)
            assert client.running, client.last_error
            channel.script = None  # a well-behaved server from now on
            await wait_for(lambda: client.state is ConnectionState.CONNECTED)
        finally:
            await client.stop()


@pytest.mark.parametrize(
    "dispatch",
    [
        {"data": [{"ip": "127.0.0.1", "p": 1e999}]},
        {"data": [{"ip": "127.0.0.1", "p": 70000}]},
        {"data": [{"ip": "127.0.0.1", "p": -1}]},
        {"data": [{"ip": "127.0.0.1", "p": "²"}]},
        {"data": [{"ip": "127.0.0.1", "p": float("nan")}]},
        {"data": [{"ip": None, "p": 80}]},
        {"data": [{"ip": ["x"], "p": 80}]},
        {"data": []},
        {"data": "x"},
        [1, 2],
    ],
    ids=["inf", "70000", "-1", "superscript", "nan", "no-ip", "list-ip", "empty", "string", "list"],
)
async def test_absurd_dispatcher_answers(channel: FakeChannel, dispatch: Any) -> None:
    channel.dispatch = dispatch
    async with aiohttp.ClientSession() as http:
        client = pusher(http, channel)
        client.start()
        try:
            await wait_for(lambda: client.failures >= 3)
            assert client.running and client.state is not ConnectionState.CONNECTED
            channel.dispatch = None  # the dispatcher is sane again: the task connects
            await wait_for(lambda: client.state is ConnectionState.CONNECTED)
        finally:
            await client.stop()


@pytest.mark.parametrize("replies", [False, True])
async def test_a_silent_connection_is_dropped(channel: FakeChannel, replies: bool) -> None:
    """No data past the budget (three heartbeats and 5 s once the server has answered one;
    else its own timeout `t` and a heartbeat): the connection is dropped and made again."""
    channel.reply_heartbeats = replies
    states: list[ConnectionState] = []
    async with aiohttp.ClientSession() as http:
        client = pusher(http, channel, heartbeat=0.2, timeout_s=1)
        client.subscribe_state(states.append)
        client.start()
        try:
            await wait_for(lambda: client.silent_drops >= 1, timeout=15)
            await wait_for(lambda: channel.connections >= 2)
            assert ConnectionState.DISCONNECTED in states
        finally:
            await client.stop()
