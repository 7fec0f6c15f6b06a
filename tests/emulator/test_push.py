"""QPush: dispatcher, bind, alias, heartbeats, pushes, both ack forms, resends, faults."""

from __future__ import annotations

import asyncio
import json
import struct

import aiohttp
import pytest

from botslab_emulator import Emulator

from .conftest import USER, World
from .wire import push_frame, read_push_frame


async def dispatch(emu: Emulator, http: aiohttp.ClientSession, m2: str) -> tuple[str, int]:
    async with http.get(
        emu.config()["dispatcher_url"],
        params={
            "appId": "venqoyon9hcc",
            "source": "",
            "user": "",
            "version": "2.5.24",
            "retry": "0",
            "device_id": m2,
        },
    ) as resp:
        data = (await resp.json())["data"][0]
    return data["ip"], data["p"]


async def connect(
    emu: Emulator,
    http: aiohttp.ClientSession,
    alias: str,
    *,
    t: int = 180,
    app_id: str = "venqoyon9hcc",
    echo_r: str = "0",
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    m2 = "0123456789abcdef0123456789abcdef"
    before = len(emu.push.by_alias.get(alias, ()))
    host, port = await dispatch(emu, http, m2)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        push_frame(
            2,
            {
                "u": f"{m2}@{app_id}",
                "ts": "1700000000000",
                "t": str(t),
                "di": "HA",
                "db": "HomeAssistant",
                "net": "1",
            },
        )
    )
    op, props, _ = await read_push_frame(reader)
    assert (op, props.get("r")) == (6, "0")
    writer.write(push_frame(17, {"sa": alias}))
    if emu.push.faults.alias_echo:
        op, props, _ = await read_push_frame(reader)
        assert (op, props.get("sa"), props.get("r")) == (17, alias, echo_r)
    else:  # no echo to wait for: wait until the server took the alias
        async with asyncio.timeout(5):
            while len(emu.push.by_alias.get(alias, ())) <= before:
                await asyncio.sleep(0.01)
    return reader, writer


def alias_of(world: World) -> str:
    acc = world.emu.world.accounts.find(USER)
    assert acc is not None
    return acc.push_alias


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


async def test_dispatcher_rejects_unknown_app(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.get(
        emu.config()["dispatcher_url"], params={"appId": "nope", "device_id": "x"}
    ) as resp:
        assert (await resp.json())["data"] == []


async def test_push_and_both_ack_forms(world: World, http: aiohttp.ClientSession) -> None:
    emu = world.emu
    reader, writer = await connect(emu, http, alias_of(world))
    try:
        result = await emu.trigger(world.door, "ring")
        op, props, body = await read_push_frame(reader)
        assert op == 3 and props["ack"]
        payload = json.loads(body)
        assert payload == {
            "msg_id": result["msg_id"],
            "product_key": world.door_pk,
            "device_name": world.door,
            "event_type": "dsl.event.post.DoorbellRing",
            "ctime": payload["ctime"],
        }
        writer.write(push_frame(4, {"ack": props["ack"]}))  # a fresh op 4
        await emu.trigger(world.cam, "motion")
        op, props2, _body2 = await read_push_frame(reader)
        # the ack as a copy of the op-3 prefix with the opcode set to 4
        block = "\n".join(f"{k}:{v}" for k, v in props2.items()).encode()
        writer.write(struct.pack(">HHH", 5, 4, len(block)) + block)
        writer.write(push_frame(0))
        await asyncio.sleep(0.3)
        stats = emu.push.stats
        assert stats.acks == 2 and stats.heartbeats == 1 and stats.pushes == 2
        assert all(not c.pending for c in emu.push.conns)
    finally:
        await close(writer)


async def test_unacked_push_is_resent(world: World, http: aiohttp.ClientSession) -> None:
    emu = world.emu
    await http.post(f"{emu.base_url}/_emulator/faults", json={"push_resend_after": 0.3})
    reader, writer = await connect(emu, http, alias_of(world))
    try:
        await emu.trigger(world.door, "ring")
        _, first, body1 = await read_push_frame(reader)
        _, again, body2 = await read_push_frame(reader, timeout=3)
        assert again["ack"] == first["ack"] and body1 == body2
        writer.write(push_frame(4, {"ack": first["ack"]}))
        await asyncio.sleep(0.8)
        assert emu.push.stats.resends >= 1
        with pytest.raises(TimeoutError):
            await read_push_frame(reader, timeout=0.5)
    finally:
        await close(writer)


async def test_unacked_pushes_follow_a_reconnect(world: World, http: aiohttp.ClientSession) -> None:
    emu = world.emu
    reader, writer = await connect(emu, http, alias_of(world))
    await emu.trigger(world.door, "ring")
    _, props, _ = await read_push_frame(reader)
    await close(writer)
    await asyncio.sleep(0.1)
    reader, writer = await connect(emu, http, alias_of(world))
    try:
        _, again, _ = await read_push_frame(reader)
        assert again["ack"] == props["ack"]
    finally:
        await close(writer)


async def test_heartbeat_timeout_drops_silent_clients(
    world: World, http: aiohttp.ClientSession
) -> None:
    reader, writer = await connect(world.emu, http, alias_of(world), t=1)
    try:
        writer.write(push_frame(0))
        # the heartbeat's reply (a bare opcode 1 first), then nothing: closed after t
        assert await asyncio.wait_for(reader.read(), 4) == struct.pack(">HH", 5, 1)
        assert await asyncio.wait_for(reader.read(), 4) == b""
        assert world.emu.push.stats.timeouts == 1
    finally:
        await close(writer)


@pytest.mark.parametrize("form", ["bare", "props", "mixed", "none"])
async def test_heartbeat_reply_knob(world: World, http: aiohttp.ClientSession, form: str) -> None:
    await http.post(f"{world.emu.base_url}/_emulator/faults", json={"push_heartbeat_reply": form})
    reader, writer = await connect(world.emu, http, alias_of(world))
    bare = struct.pack(">HH", 5, 1)
    try:
        for n in range(2):
            writer.write(push_frame(0))
            if form == "none":
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(reader.readexactly(4), 0.5)
                continue
            head = await asyncio.wait_for(reader.readexactly(4), 2)
            assert head == bare
            if form == "props" or (form == "mixed" and n == 1):
                (length,) = struct.unpack(">H", await reader.readexactly(2))
                assert (await reader.readexactly(length)).startswith(b"t:")
    finally:
        await close(writer)


async def test_alias_echo_knob(world: World, http: aiohttp.ClientSession) -> None:
    """By default an accepted alias gets no echo (the server "may" send one)."""
    reader, writer = await connect(world.emu, http, alias_of(world))
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(4), 0.5)
    finally:
        await close(writer)
    assert world.emu.push.stats.aliases == 1, "the alias was taken all the same"
    await http.post(f"{world.emu.base_url}/_emulator/faults", json={"push_alias_echo": True})
    _reader, writer = await connect(world.emu, http, alias_of(world))  # reads the echo
    await close(writer)


async def test_bind_rejections(world: World, http: aiohttp.ClientSession) -> None:
    emu = world.emu
    host, port = emu.push.host, emu.push.port
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(push_frame(2, {"u": "abc@unknownapp", "t": "180"}))
    op, props, _ = await read_push_frame(reader)
    assert (op, props["r"]) == (6, "1")
    assert await asyncio.wait_for(reader.read(), 2) == b""
    await close(writer)
    # unknown alias: answered r:1, then closed
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(push_frame(2, {"u": "abc@gqrwex6nq54m", "t": "180"}))
    assert (await read_push_frame(reader))[0] == 6
    writer.write(push_frame(17, {"sa": "botslab_nobody"}))
    op, props, _ = await read_push_frame(reader)
    assert (op, props["r"]) == (17, "1")
    await close(writer)


@pytest.mark.parametrize(
    "data",
    [
        struct.pack(">HH", 4, 2),  # wrong version
        struct.pack(">HH", 5, 99) + b"\x00\x00",  # unknown opcode
        struct.pack(">HH", 5, 3) + b"\x00\x00" + struct.pack(">I", 0xFFFFFFFF),  # client op 3
        struct.pack(">HHH", 5, 2, 0xFFFF),  # property block over the limit
        struct.pack(">HHH", 5, 2, 4) + b"\xff\xfe\xfd\xfc",  # not UTF-8
        struct.pack(">HHH", 5, 2, 3) + b"abc",  # no ':'
        struct.pack(">HH", 5, 17) + b"\x00\x00",  # alias before bind
    ],
)
async def test_bad_frames_close_the_connection(emu: Emulator, data: bytes) -> None:
    reader, writer = await asyncio.open_connection(emu.push.host, emu.push.port)
    writer.write(data)
    assert await asyncio.wait_for(reader.read(), 3) == b""
    await close(writer)
    await asyncio.sleep(0.05)
    assert not emu.push.conns


async def test_truncated_frame_times_out(emu: Emulator) -> None:
    """A half frame before bind: closed after the bind timeout, the server keeps serving."""
    from botslab_emulator import pushserver

    old = pushserver.BIND_TIMEOUT_S
    pushserver.BIND_TIMEOUT_S = 0.5
    try:
        reader, writer = await asyncio.open_connection(emu.push.host, emu.push.port)
        writer.write(b"\x00\x05")
        assert await asyncio.wait_for(reader.read(), 3) == b""
        await close(writer)
    finally:
        pushserver.BIND_TIMEOUT_S = old


async def test_push_faults(world: World, http: aiohttp.ClientSession) -> None:
    emu = world.emu
    reader, writer = await connect(emu, http, alias_of(world))
    async with http.post(
        f"{emu.base_url}/_emulator/push/malformed", json={"kind": "empty_body"}
    ) as resp:
        assert (await resp.json())["sent"] == 1
    op, props, body = await read_push_frame(reader)
    assert op == 3 and body == b"" and props["ack"].startswith("empty-")
    async with http.post(f"{emu.base_url}/_emulator/push/malformed", json={"kind": "nope"}) as resp:
        assert resp.status == 400
    async with http.post(f"{emu.base_url}/_emulator/push/drop", json={}) as resp:
        assert (await resp.json())["dropped"] == 1
    assert await asyncio.wait_for(reader.read(), 2) == b""
    await close(writer)
    await http.post(f"{emu.base_url}/_emulator/faults", json={"push_refuse": True})
    reader, writer = await asyncio.open_connection(emu.push.host, emu.push.port)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    await close(writer)
    assert emu.push.stats.refused == 1
    stats = await (await http.get(f"{emu.base_url}/_emulator/push")).json()
    assert stats["refused"] == 1 and stats["connections_now"] == 0


async def test_alias_echo_r_knob(world: World, http: aiohttp.ClientSession) -> None:
    """`push_alias_echo_r`: the `r` of the alias echo, the connection kept."""
    emu = world.emu
    await http.post(
        f"{emu.base_url}/_emulator/faults", json={"push_alias_echo": True, "push_alias_echo_r": "7"}
    )
    alias = alias_of(world)
    reader, writer = await connect(emu, http, alias, echo_r="7")
    try:
        await emu.trigger(world.door, "ring")
        op, props, _ = await read_push_frame(reader)
        assert op == 3 and props["ack"], "the echo's `r` does not end the connection"
    finally:
        await close(writer)


async def test_other_version_frames_keep_the_connection(
    world: World, http: aiohttp.ClientSession
) -> None:
    """`push/malformed` kind `other_version`: frames of versions 6, 4 and 7 in version 5's
    layout (a push with a body, a bare frame, an alias echo), and the connection stays."""
    emu = world.emu
    reader, writer = await connect(emu, http, alias_of(world))
    try:
        async with http.post(
            f"{emu.base_url}/_emulator/push/malformed", json={"kind": "other_version"}
        ) as resp:
            assert (await resp.json())["sent"] == 1
        for version, opcode in ((6, 3), (4, 0), (7, 17)):
            head = await asyncio.wait_for(reader.readexactly(4), 2)
            assert struct.unpack(">HH", head) == (version, opcode)
            if opcode != 0:
                (length,) = struct.unpack(">H", await reader.readexactly(2))
                await reader.readexactly(length)
            if opcode == 3:
                (blen,) = struct.unpack(">I", await reader.readexactly(4))
                assert await reader.readexactly(blen) == b"{}"
        await emu.trigger(world.door, "ring")
        op, props, _ = await read_push_frame(reader)
        assert op == 3 and props["ack"] and emu.push.stats.closed_bad_frames == 0
    finally:
        await close(writer)


@pytest.mark.parametrize(
    ("knobs", "expected"),
    [
        ({}, "port"),
        ({"dispatcher_omit_port": True}, None),
        ({"dispatcher_port_zero": True}, 0),
        ({"dispatcher_ip": "10.0.0.1"}, "port"),
    ],
    ids=["default", "omit", "zero", "ip"],
)
async def test_dispatcher_answer_knobs(
    emu: Emulator, http: aiohttp.ClientSession, knobs: dict[str, object], expected: object
) -> None:
    await http.post(f"{emu.base_url}/_emulator/faults", json=knobs)
    async with http.get(
        emu.config()["dispatcher_url"], params={"appId": "venqoyon9hcc", "device_id": "x"}
    ) as resp:
        (server,) = (await resp.json())["data"]
    assert server["ip"] == knobs.get("dispatcher_ip", emu.push.host)
    assert server.get("p") == (emu.push.port if expected == "port" else expected)
    assert ("p" in server) is (expected is not None)
