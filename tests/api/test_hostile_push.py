"""A hostile push channel: a fake dispatcher and QPush server on loopback send hypothesis-made
bytes, absurd dispatcher answers and silence. The push task survives all of it, reconnects,
and drops a connection that stays silent past its heartbeat budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import json
import struct
import time
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
        self.bind_reply = True  # False: the bind is never answered
        self.drop_after_bind: float | None = None  # close this many seconds after the bind
        self.dispatch_gate: asyncio.Event | None = None  # the dispatcher waits for it
        self.dispatches = 0
        self.connections = 0
        self.connected_at: list[float] = []
        self.bound = asyncio.Event()  # a bind was read
        self.push_port = 0
        self.url = ""
        self._writers: set[asyncio.StreamWriter] = set()

    async def dispatcher(self, request: web.Request) -> web.Response:
        self.dispatches += 1
        if self.dispatch_gate is not None:
            await self.dispatch_gate.wait()
        answer = self.dispatch
        if answer is None:
            answer = {"data": [{"ip": "127.0.0.1", "p": self.push_port}]}
        return web.Response(body=json.dumps(answer, allow_nan=True).encode())

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.connected_at.append(time.monotonic())
        self._writers.add(writer)
        try:
            head = await reader.readexactly(6)  # the bind: header, property block length
            await reader.readexactly(struct.unpack(">H", head[4:6])[0])
            self.bound.set()
            if not self.bind_reply:
                await reader.read()  # until the client gives up
                return
            writer.write(BIND_OK)
            if self.script:
                writer.write(self.script)
            await writer.drain()
            if self.drop_after_bind is not None:  # read until then (or an EOF), then drop
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.drop_after_bind):
                        while await reader.read(4096):
                            pass
                return
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
            region="eu1",
            regions={"eu1": hosts},
            dispatcher_url=f"{self.url}/dispatch",
            trusted_hosts=("127.0.0.1",),  # the fake cloud's address, as the emulator's is
            push_default_port=self.push_port,  # the port without `p` (80 on the real cloud)
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
    options: dict[str, Any] = {"backoff_base": 0.01, "backoff_max": 0.05, "bind_timeout": 2}
    return PushClient(
        http, channel.endpoints(), Identity.generate(), kw.pop("alias", alias), **(options | kw)
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


@pytest.mark.parametrize(
    "port",
    [0, "0", "", None, "float", "string", "padded"],
    ids=["zero", "zero-string", "empty", "none", "float", "string", "padded"],
)
async def test_dispatcher_port_forms(channel: FakeChannel, port: Any) -> None:
    """`p` 0, "0", empty or null is the default port (docs/protocol/accepted.md#push: "a dispatcher
    p of 0 or missing means port 80"; here the fake's own); the port as an integral float or a
    string (with blanks) is that port."""
    given = {
        "float": float(channel.push_port),
        "string": str(channel.push_port),
        "padded": f" {channel.push_port} ",
    }.get(port, port)
    channel.dispatch = {"data": [{"ip": "127.0.0.1", "p": given}]}
    async with aiohttp.ClientSession() as http:
        client = pusher(http, channel)
        client.start()
        try:
            await wait_for(lambda: client.state is ConnectionState.CONNECTED)
            assert client.failures == 0
        finally:
            await client.stop()


def record_backoff(client: PushClient) -> list[tuple[int, float]]:
    """The (failures, delay) of each backoff sleep the client takes."""
    calls: list[tuple[int, float]] = []
    real = client.backoff_delay

    def recording(failures: int) -> float:
        calls.append((failures, real(failures)))
        return calls[-1][1]

    client.backoff_delay = recording  # type: ignore[method-assign]
    return calls


async def test_backoff_grows_when_connections_die_young(channel: FakeChannel) -> None:
    """A server that binds and drops at once: each reconnect waits longer than the last
    (before, the bind set the count back to 0: about 14 reconnects in 10 s at the real
    scale, each with a dispatcher request and a catch-up fetch in Home Assistant)."""
    channel.drop_after_bind = 0.0
    async with aiohttp.ClientSession() as http:
        client = pusher(http, channel, backoff_base=0.02, backoff_max=5.0)
        calls = record_backoff(client)
        client.start()
        try:
            await asyncio.sleep(1.5)
            connections = channel.connections
        finally:
            await client.stop()
    assert client.connects >= 3, "each connection was bound before it dropped"
    assert [n for n, _ in calls] == list(range(len(calls))), "the delay's exponent grows"
    delays = [d for _, d in calls]
    assert delays == sorted(delays) and delays[-1] >= 8 * delays[0]
    # 0.02 s doubled each time: at most 8 connections fit in 1.5 s (about 60 with a reset)
    assert 3 <= connections <= 10, connections
    gaps = [b - a for a, b in zip(channel.connected_at, channel.connected_at[1:], strict=False)]
    assert gaps[-1] > gaps[0], gaps


@pytest.mark.parametrize(
    ("healthy_after", "resets"), [(0.25, True), (60.0, False)], ids=["healthy", "young"]
)
async def test_a_healthy_connection_resets_the_backoff(
    channel: FakeChannel, healthy_after: float, resets: bool
) -> None:
    """Connections that live 0.5 s each: with `healthy_after` 0.25 s every one counts as
    healthy and the backoff starts from its base again; with the default minute it grows."""
    channel.drop_after_bind = 0.5
    async with aiohttp.ClientSession() as http:
        client = pusher(
            http, channel, backoff_base=0.02, backoff_max=5.0, healthy_after=healthy_after
        )
        calls = record_backoff(client)
        client.start()
        try:
            await wait_for(lambda: len(calls) >= 3)
            await wait_for(lambda: client.state is ConnectionState.CONNECTED)
            await asyncio.sleep(0.3)
            assert client.failures == (0 if resets else len(calls))
        finally:
            await client.stop()
    exponents = [n for n, _ in calls]
    assert exponents == ([0] * len(calls) if resets else list(range(len(calls))))


STOP_BOUND = 2 * (0.5 + 1.0) + 0.5  # stop(): two cancels, each waiting close_timeout + 1


async def slow_to_stop(seconds: float) -> None:
    """Finish a cancelled task only after `seconds`, whatever cancels come meanwhile."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            await asyncio.sleep(left)
        except asyncio.CancelledError:
            continue
    raise asyncio.CancelledError


STAGES = [
    "dispatcher",
    "alias",
    "alias-swallows-cancel",
    "tcp-connect",
    "bind",
    "connected",
    "heartbeat-sending",
    "teardown",
    "teardown-close",
    "backoff",
]


@pytest.mark.parametrize("stage", STAGES)
async def test_stop_always_stops(
    channel: FakeChannel, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """stop() from each state the push task can be in returns within a bound, leaves no
    task, and no connection is made after it. Each stage is held (or slowed) there by the
    fake server or a patched step; "teardown" is the reported hang: a dropped connection
    whose heartbeat is slow to stop, and a stop() arriving meanwhile (the cancel was
    swallowed, the client reconnected, and stop() never returned)."""
    reached = asyncio.Event()
    hold = asyncio.Event()  # never set: what waits on it hangs until cancelled
    options: dict[str, Any] = {"close_timeout": 0.5, "heartbeat": 30.0}

    async def hanging_alias() -> str:
        reached.set()
        await hold.wait()
        return "botslab_alias"

    async def swallowing_alias() -> str:
        reached.set()
        with contextlib.suppress(asyncio.CancelledError):  # eats the cancel (the point)
            await hold.wait()
        return "botslab_alias"

    real_open = asyncio.open_connection

    async def hanging_open(host: str, port: int, **kw: Any) -> Any:
        if port == channel.push_port:
            reached.set()
            await hold.wait()
        return await real_open(host, port, **kw)

    async def stuck_heartbeats(self: PushClient, writer: asyncio.StreamWriter) -> None:
        writer.write(struct.pack(">HH", 5, 0))
        reached.set()
        try:
            await hold.wait()  # a drain that does not come back
        except asyncio.CancelledError:
            await slow_to_stop(0.3)

    async def slow_heartbeats(self: PushClient, writer: asyncio.StreamWriter) -> None:
        try:
            await hold.wait()
        except asyncio.CancelledError:
            reached.set()  # the connection is being torn down
            await slow_to_stop(0.4)

    async def hanging_wait_closed(self: asyncio.StreamWriter) -> None:
        reached.set()
        await hold.wait()

    if stage == "dispatcher":
        channel.dispatch_gate = hold
    elif stage == "alias":
        options["alias"] = hanging_alias
    elif stage == "alias-swallows-cancel":
        options["alias"] = swallowing_alias
    elif stage == "tcp-connect":
        monkeypatch.setattr(asyncio, "open_connection", hanging_open)
    elif stage == "bind":
        channel.bind_reply = False
    elif stage == "heartbeat-sending":
        options["heartbeat"] = 0.05
        monkeypatch.setattr(PushClient, "_heartbeats", stuck_heartbeats)
    elif stage == "teardown":
        channel.drop_after_bind = 0.1
        monkeypatch.setattr(PushClient, "_heartbeats", slow_heartbeats)
    elif stage == "teardown-close":
        channel.drop_after_bind = 0.1
        monkeypatch.setattr(asyncio.StreamWriter, "wait_closed", hanging_wait_closed)
    elif stage == "backoff":
        channel.dispatch = {"data": []}
        options["backoff_base"] = options["backoff_max"] = 3600.0

    async with aiohttp.ClientSession() as http:
        client = pusher(http, channel, **options)
        client.start()
        try:
            if stage == "dispatcher":
                await wait_for(lambda: channel.dispatches == 1)
            elif stage == "bind":
                await channel.bound.wait()
            elif stage == "connected":
                await wait_for(lambda: client.state is ConnectionState.CONNECTED)
            elif stage == "backoff":
                await wait_for(lambda: client.state is ConnectionState.BACKOFF)
            else:
                await asyncio.wait_for(reached.wait(), 5)
            before = (channel.dispatches, channel.connections)
            started = time.monotonic()
            async with asyncio.timeout(STOP_BOUND):
                await client.stop()
            took = time.monotonic() - started
            assert not client.running and client.state is ConnectionState.STOPPED
            left = [t for t in asyncio.all_tasks() if t.get_name().startswith("botslab-push")]
            assert left == [], left
            await asyncio.sleep(0.3)
            assert (channel.dispatches, channel.connections) == before, "nothing after stop"
            assert took < 1.5, f"stop took {took:.2f} s"
        finally:
            hold.set()
            monkeypatch.undo()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    await client.stop()


async def test_stop_returns_even_if_the_heartbeat_never_ends(
    channel: FakeChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A heartbeat task that ignores every cancel: stop() still returns within its bound,
    the push task is done and nothing reconnects; the stuck heartbeat is the only leftover
    (logged), and ends when it lets go."""
    release = asyncio.Event()
    started = asyncio.Event()

    async def deaf_heartbeats(self: PushClient, writer: asyncio.StreamWriter) -> None:
        started.set()
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    monkeypatch.setattr(PushClient, "_heartbeats", deaf_heartbeats)
    async with aiohttp.ClientSession() as http:
        client = pusher(http, channel, close_timeout=0.3)
        client.start()
        try:
            await asyncio.wait_for(started.wait(), 5)
            before = channel.connections
            async with asyncio.timeout(2 * (0.3 + 1.0) + 0.5):
                await client.stop()
            assert not client.running and client.state is ConnectionState.STOPPED
            await asyncio.sleep(0.3)
            assert channel.connections == before
        finally:
            release.set()
            await asyncio.sleep(0.05)
        left = [t for t in asyncio.all_tasks() if t.get_name().startswith("botslab-push")]
        assert left == []
