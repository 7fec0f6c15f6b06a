"""The QPush client against the emulator: bind, pushes, acks, drops, refusals, bad frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
import logging
from typing import Any

import aiohttp
import pytest

from botslab_emulator import Emulator
from custom_components.botslab.api import (
    BotslabClient,
    ConnectionState,
    Endpoints,
    PushClient,
    PushMessage,
)

DOOR = "BDX3A1B2C3D4"


class Recorder:
    def __init__(self) -> None:
        self.messages: list[PushMessage] = []
        self.states: list[ConnectionState] = []
        self.event = asyncio.Event()

    def on_push(self, message: PushMessage) -> None:
        self.messages.append(message)
        self.event.set()

    def on_state(self, state: ConnectionState) -> None:
        self.states.append(state)
        self.event.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.event.clear()
                await self.event.wait()


async def aliased(emu: Emulator, pusher: PushClient) -> None:
    """Until the emulator took the client's latest alias: the client is connected once the
    alias is sent (docs/protocol/push.md: no echo to wait for), the server reads it a moment
    later."""
    async with asyncio.timeout(5):
        while emu.push.stats.aliases < pusher.connects:
            await asyncio.sleep(0.01)


@pytest.fixture
async def push(
    http: aiohttp.ClientSession, endpoints: Endpoints, client: BotslabClient
) -> AsyncIterator[tuple[PushClient, Recorder]]:
    async def alias() -> str:
        session = client.session or await client.login()
        return session.push_alias

    recorder = Recorder()
    pusher = PushClient(
        http, endpoints, client.identity, alias, heartbeat=0.2, backoff_base=0.05, backoff_max=0.2
    )
    pusher.subscribe(recorder.on_push)
    pusher.subscribe_state(recorder.on_state)
    pusher.start()
    await recorder.wait_for(lambda: pusher.state is ConnectionState.CONNECTED)
    yield pusher, recorder
    await pusher.stop()
    assert pusher.state is ConnectionState.STOPPED and not pusher.running


async def test_push_is_received_and_acked(push: tuple[PushClient, Recorder], emu: Emulator) -> None:
    _pusher, rec = push
    result = await emu.trigger(DOOR, "ring")
    await rec.wait_for(lambda: len(rec.messages) == 1)
    message = rec.messages[0]
    assert message.msg_id == result["msg_id"] and message.serial == DOOR and message.ack
    await asyncio.sleep(0.5)
    assert emu.push.stats.acks == 1 and emu.push.stats.heartbeats >= 1
    assert rec.states[:2] == [ConnectionState.CONNECTING, ConnectionState.CONNECTED]


async def test_dropped_connection_reconnects_without_duplicates(
    push: tuple[PushClient, Recorder], emu: Emulator
) -> None:
    pusher, rec = push
    await aliased(emu, push[0])
    await emu.trigger(DOOR, "ring")
    await rec.wait_for(lambda: len(rec.messages) == 1)
    emu.push.drop_all()
    await rec.wait_for(lambda: rec.states.count(ConnectionState.CONNECTED) == 2)
    assert ConnectionState.DISCONNECTED in rec.states and ConnectionState.BACKOFF in rec.states
    await aliased(emu, push[0])
    await emu.trigger(DOOR, "motion")
    await rec.wait_for(lambda: len(rec.messages) == 2)
    await asyncio.sleep(0.3)
    assert len(rec.messages) == 2, (
        "each push delivered once (a resend after the drop is dropped by its ack)"
    )
    assert pusher.connects == 2


async def test_refused_reconnect_backs_off_then_recovers(
    push: tuple[PushClient, Recorder], emu: Emulator
) -> None:
    pusher, rec = push
    emu.push.faults.refuse = True
    emu.push.drop_all()
    await rec.wait_for(lambda: emu.push.stats.refused >= 3)
    assert pusher.state in (ConnectionState.BACKOFF, ConnectionState.CONNECTING)
    emu.push.faults.refuse = False
    await rec.wait_for(lambda: pusher.state is ConnectionState.CONNECTED)
    await aliased(emu, push[0])
    await emu.trigger(DOOR, "ring")
    await rec.wait_for(lambda: len(rec.messages) == 1)


@pytest.mark.parametrize(
    "kind",
    [
        "empty_body",
        "opaque_body",
        "header_body",
        "unknown_opcode",
        "heartbeat_reply",
        "bad_props",
        "other_version",
    ],
)
async def test_odd_frames_are_tolerated(
    push: tuple[PushClient, Recorder], emu: Emulator, kind: str
) -> None:
    pusher, rec = push
    emu.push.malformed(kind)
    await aliased(emu, push[0])
    await emu.trigger(DOOR, "ring")
    await rec.wait_for(lambda: any(m.msg_id for m in rec.messages))
    assert pusher.connects == 1, f"no reconnect for a frame that parses: {pusher.last_error}"
    if kind == "header_body":
        assert rec.messages[0].payload == {"msg_id": 0}
    if kind in ("empty_body", "opaque_body"):
        assert rec.messages[0].payload is None and rec.messages[0].msg_id is None
    if kind == "other_version":
        # docs/protocol/accepted.md#push: skipped (not delivered, not acked), the place in the
        # stream kept
        assert pusher.skipped_frames == 3 and len(rec.messages) == 1
        await asyncio.sleep(0.2)
        assert emu.push.stats.acks == 1, "only the version-5 push is acked"


@pytest.mark.parametrize("kind", ["garbage", "bad_version", "huge_length", "truncated"])
async def test_broken_streams_reconnect(
    push: tuple[PushClient, Recorder], emu: Emulator, kind: str
) -> None:
    pusher, rec = push
    emu.push.malformed(kind)
    await rec.wait_for(lambda: pusher.connects == 2 and pusher.state is ConnectionState.CONNECTED)
    await aliased(emu, push[0])
    await emu.trigger(DOOR, "ring")
    await rec.wait_for(lambda: any(m.msg_id for m in rec.messages))


async def test_heartbeat_keeps_a_short_timeout_connection(
    http: aiohttp.ClientSession, endpoints: Endpoints, client: BotslabClient, emu: Emulator
) -> None:
    async def alias() -> str:
        return (client.session or await client.login()).push_alias

    rec = Recorder()
    pusher = PushClient(http, endpoints, client.identity, alias, heartbeat=0.3, timeout_s=1)
    pusher.subscribe_state(rec.on_state)
    pusher.start()
    try:
        await rec.wait_for(lambda: pusher.state is ConnectionState.CONNECTED)
        await asyncio.sleep(2.0)
        assert pusher.connects == 1 and emu.push.stats.timeouts == 0
    finally:
        await pusher.stop()


def test_backoff_is_jittered_and_capped() -> None:
    pusher = PushClient(None, Endpoints.production(), None, None, backoff_base=1, backoff_max=60)  # type: ignore[arg-type]
    delays = [pusher.backoff_delay(n) for n in range(12)]
    assert all(0.5 <= d <= 60 for d in delays)
    assert max(pusher.backoff_delay(30) for _ in range(50)) <= 60
    assert len({round(pusher.backoff_delay(5), 6) for _ in range(20)}) > 1


@pytest.mark.parametrize(
    "knobs",
    [
        {"heartbeat_reply": "bare"},
        {"heartbeat_reply": "props"},
        {"heartbeat_reply": "mixed", "split_frames": True},
        {"heartbeat_reply": "none", "split_frames": False},
        {"alias_echo": True},
        {"alias_echo": False},
    ],
    ids=["op1-bare", "op1-props", "op1-mixed-split", "no-op1-whole", "echo", "no-echo"],
)
async def test_push_forms_of_the_real_server(
    http: aiohttp.ClientSession,
    endpoints: Endpoints,
    client: BotslabClient,
    emu: Emulator,
    knobs: dict[str, object],
) -> None:
    """docs/protocol/push.md: opcode 1 bare or with a property block, frames in pieces, an alias
    echo or none: the client keeps its place in the stream and its one connection."""
    for name, value in knobs.items():
        setattr(emu.push.faults, name, value)

    async def alias() -> str:
        return (client.session or await client.login()).push_alias

    rec = Recorder()
    pusher = PushClient(http, endpoints, client.identity, alias, heartbeat=0.1)
    pusher.subscribe(rec.on_push)
    pusher.subscribe_state(rec.on_state)
    pusher.start()
    try:
        await rec.wait_for(lambda: pusher.state is ConnectionState.CONNECTED)
        await aliased(emu, pusher)
        ids = []
        for kind in ("ring", "motion", "person"):
            ids.append((await emu.trigger(DOOR, kind))["msg_id"])
            await asyncio.sleep(0.15)  # a heartbeat and its reply between pushes
        await rec.wait_for(lambda: len(rec.messages) == 3)
        assert [m.msg_id for m in rec.messages] == ids
        assert pusher.connects == 1 and emu.push.stats.heartbeats >= 2
    finally:
        await pusher.stop()


async def test_dispatcher_without_a_port(
    http: aiohttp.ClientSession, endpoints: Endpoints, client: BotslabClient, emu: Emulator
) -> None:
    """No `p` in the dispatcher's answer: the client takes the default port (docs/protocol/push.md:
    80; the endpoints' push_default_port, which the emulator's config sets to its own)."""
    emu.faults.dispatcher_omit_port = True
    assert endpoints.push_default_port == emu.push.port
    assert Endpoints.production().push_default_port == 80

    async def alias() -> str:
        return (client.session or await client.login()).push_alias

    rec = Recorder()
    pusher = PushClient(http, endpoints, client.identity, alias)
    pusher.subscribe_state(rec.on_state)
    pusher.start()
    try:
        await rec.wait_for(lambda: pusher.state is ConnectionState.CONNECTED)
        assert pusher.failures == 0
    finally:
        await pusher.stop()


async def test_alias_echo_with_another_r_is_only_logged(
    http: aiohttp.ClientSession,
    endpoints: Endpoints,
    client: BotslabClient,
    emu: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """docs/protocol/accepted.md#push: the working client only logs the op-17 echo, whatever its
    `r`. The connection stays, pushes keep coming, and the alias is not in the log."""
    emu.push.faults.alias_echo = True
    emu.push.faults.alias_echo_r = "1"
    caplog.set_level(logging.DEBUG, logger="custom_components.botslab.api.push")

    async def alias() -> str:
        return (client.session or await client.login()).push_alias

    rec = Recorder()
    pusher = PushClient(http, endpoints, client.identity, alias, heartbeat=0.1, backoff_base=0.05)
    pusher.subscribe(rec.on_push)
    pusher.start()
    try:
        await aliased(emu, pusher)
        await asyncio.sleep(0.3)  # the echo has come and gone
        result = await emu.trigger(DOOR, "ring")
        await rec.wait_for(lambda: any(m.msg_id == result["msg_id"] for m in rec.messages))
        assert pusher.connects == 1, f"the echo dropped the connection: {pusher.last_error}"
        noted = [r.getMessage() for r in caplog.records if "alias echo" in r.getMessage()]
        assert noted == ["push alias echo with r=1: only logged, as the working client does"]
        alias_value = (await alias()).strip()
        assert all(alias_value not in r.getMessage() for r in caplog.records)
    finally:
        await pusher.stop()


async def test_dispatcher_port_zero_means_the_default_port(
    http: aiohttp.ClientSession, endpoints: Endpoints, client: BotslabClient, emu: Emulator
) -> None:
    """A dispatcher `p` of 0 is the default port, as a missing `p`
    (docs/protocol/accepted.md#push)."""
    emu.faults.dispatcher_port_zero = True

    async def alias() -> str:
        return (client.session or await client.login()).push_alias

    rec = Recorder()
    pusher = PushClient(http, endpoints, client.identity, alias)
    pusher.subscribe_state(rec.on_state)
    pusher.start()
    try:
        await rec.wait_for(lambda: pusher.state is ConnectionState.CONNECTED)
        assert pusher.failures == 0 and emu.push.stats.binds == 1
    finally:
        await pusher.stop()


@pytest.mark.parametrize(
    "ip", ["10.0.0.1", "169.254.169.254", "127.0.0.2", "fd00::1", "::ffff:192.168.1.20"]
)
async def test_dispatcher_naming_a_private_address_is_refused(  # noqa: PLR0917 - fixtures
    http: aiohttp.ClientSession,
    endpoints: Endpoints,
    client: BotslabClient,
    emu: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    ip: str,
) -> None:
    """The push server the dispatcher names goes through the address guard
    (docs/protocol/accepted.md#address-guard): a private, link-local or other loopback address is
    never connected to; the refusal is a connection failure that backs off, logged once with the
    host; the emulator's own address (trusted) works again as soon as the dispatcher names it."""
    attempts: list[str] = []
    real_open = asyncio.open_connection

    async def recording_open(host: str, port: int, **kw: Any) -> Any:
        attempts.append(host)
        if host != "127.0.0.1":  # nothing leaves loopback, even on the old code
            raise OSError("not in this test")
        return await real_open(host, port, **kw)

    monkeypatch.setattr(asyncio, "open_connection", recording_open)
    emu.faults.dispatcher_ip = ip
    caplog.set_level(logging.DEBUG, logger="custom_components.botslab.api.push")

    async def alias() -> str:
        return (client.session or await client.login()).push_alias

    rec = Recorder()
    pusher = PushClient(http, endpoints, client.identity, alias, backoff_base=0.05, backoff_max=0.2)
    pusher.subscribe_state(rec.on_state)
    pusher.start()
    try:
        await rec.wait_for(lambda: pusher.failures >= 3)
        assert attempts == [] and emu.push.stats.connections == 0
        assert pusher.last_error == "AddressRefused" and pusher.connects == 0
        warned = [
            r
            for r in caplog.records
            if r.levelno >= logging.WARNING and r.name.startswith("custom_components.botslab")
        ]
        assert len(warned) == 1 and ip in warned[0].getMessage()
        emu.faults.dispatcher_ip = ""
        await rec.wait_for(lambda: pusher.state is ConnectionState.CONNECTED)
        assert set(attempts) == {"127.0.0.1"}
    finally:
        await pusher.stop()
