"""The emulator's network profile (issue 28): round trips on HTTP, late pushes, late and lost
UDP datagrams, jitter that never reorders a flow; `--network wan` and the `net_` knobs."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
import pytest

from botslab_emulator import Emulator
from botslab_emulator.__main__ import parse_args
from botslab_emulator.network import WAN, Network

from .conftest import World


def test_the_cli_chooses_a_profile() -> None:
    assert parse_args([]).network == "loopback"
    assert parse_args(["--network", "wan"]).network == "wan"
    with pytest.raises(SystemExit):
        parse_args(["--network", "moon"])
    net = Network()
    net.use("wan")
    assert (net.faults.rtt_ms, net.faults.jitter_ms, net.faults.udp_loss_pct) == (120, 30, 1)
    assert WAN["rtt_ms"] == 120


async def test_http_answers_a_round_trip_late(emu: Emulator, http: aiohttp.ClientSession) -> None:
    async with http.post(
        emu.base_url + "/_emulator/faults", json={"net_rtt_ms": 200, "net_jitter_ms": 20}
    ) as resp:
        assert resp.status == 200 and (await resp.json())["net"]["rtt_ms"] == 200
    took = []
    for _ in range(5):
        start = time.monotonic()
        async with http.get(emu.base_url + "/v1/list/ip?appId=venqoyon9hcc&device_id=x") as resp:
            assert resp.status == 200
        took.append(time.monotonic() - start)
    assert min(took) >= 0.18 and max(took) < 0.4, took
    # the control API itself is not slowed (it is not the cloud)
    start = time.monotonic()
    async with http.get(emu.base_url + "/_emulator/config") as resp:
        assert resp.status == 200
    assert time.monotonic() - start < 0.1
    async with http.post(emu.base_url + "/_emulator/faults", json={"network": "loopback"}):
        pass
    assert not emu.net.active


async def test_the_cloud_answers_from_what_it_holds_when_the_request_arrives(
    world: World, http: aiohttp.ClientSession
) -> None:
    """Half a round trip out, the answer the other half back: a message made while the
    answer is on its way is not in it (a whole round trip before the cloud reads its list
    would show events the real cloud could not have listed yet)."""
    emu = world.emu
    emu.net.faults.rtt_ms = 400
    emu.net.faults.jitter_ms = 0
    start = time.monotonic()
    fetch = asyncio.create_task(world.alice.get(http, "/v2/message/list", {"page_size": 10}))
    await asyncio.sleep(0.3)  # the request reached the cloud at 0.2 s; the answer comes at 0.4 s
    made = await emu.trigger(world.cam, "motion")
    items = (await fetch)["data"]["items"]
    assert 0.38 <= time.monotonic() - start < 0.7
    assert str(made["msg_id"]) not in _ids(items)
    items = (await world.alice.get(http, "/v2/message/list", {"page_size": 10}))["data"]["items"]
    assert str(made["msg_id"]) in _ids(items)


async def test_a_fault_s_answer_takes_the_whole_round_trip_too(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    emu.net.faults.rtt_ms = 400
    emu.net.faults.jitter_ms = 0
    emu.faults.errors_left, emu.faults.error_status, emu.faults.error_path = 1, 503, "/v1/list/"
    start = time.monotonic()
    async with http.get(emu.base_url + "/v1/list/ip?appId=venqoyon9hcc&device_id=x") as resp:
        assert resp.status == 503
    assert 0.38 <= time.monotonic() - start < 0.7
    start = time.monotonic()
    async with http.get(emu.base_url + "/v1/no/such/path") as resp:
        assert resp.status == 404
    assert 0.38 <= time.monotonic() - start < 0.7


def _ids(items: list[dict[str, object]]) -> set[str]:
    """The listed ids, under whichever name the list gives them (docs/protocol/cloud-api.md)."""
    names = ("id", "msg_id", "message_id")
    return {str(next(i[n] for n in names if n in i)) for i in items}


async def test_a_push_arrives_half_a_round_trip_late(world: World) -> None:
    emu = world.emu
    emu.net.faults.rtt_ms = 300
    host, port = emu.push.host, emu.push.port
    reader, writer = await asyncio.open_connection(host, port)
    try:
        from botslab_emulator.pushserver import OP_BIND, frame

        writer.write(frame(OP_BIND, {"u": "m2x@venqoyon9hcc", "t": "180"}))
        start = time.monotonic()
        head = await asyncio.wait_for(reader.readexactly(4), 5)
        took = time.monotonic() - start
        assert head[2:4] == b"\x00\x06"
        # the bind crossed the path (150 ms), its answer came back (150 ms)
        assert 0.27 <= took < 0.6, took
    finally:
        writer.close()


async def test_udp_is_late_in_order_and_lost(emu: Emulator) -> None:
    """Datagrams to the tunnel: each one-way late, never reordered by the jitter, and with
    100% loss none arrives."""
    emu.net.faults.rtt_ms = 100
    emu.net.faults.jitter_ms = 80
    from botslab_emulator.live.tunnel import header

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        sock.connect(("127.0.0.1", emu.tunnel_port))
        sent = time.monotonic()
        for conv in range(20):  # CONNECT, echoed with its conv
            sock.send(header(0x02, 0x04, conv, 4, 0) + b"body")
        convs = []
        async with asyncio.timeout(5):
            while len(convs) < 20:
                data = await loop.sock_recv(sock, 2048)
                convs.append(int.from_bytes(data[0x14:0x18], "big"))
        took = time.monotonic() - sent
        assert convs == list(range(20)), "jitter never reorders a flow"
        assert took >= 0.06, took  # two one-way trips of at least 30 ms
        emu.net.faults.udp_loss_pct = 100
        lost_before = emu.net.udp_lost
        sock.send(header(0x02, 0x04, 99, 4, 0) + b"body")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await loop.sock_recv(sock, 2048)
        assert emu.net.udp_lost == lost_before + 1
    finally:
        sock.close()


async def test_the_live_stats_name_the_frames_sent(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    async with http.get(emu.base_url + "/_emulator/live") as resp:
        stats = await resp.json()
    assert stats["frames"] == [] and stats["publishing"] == []
    assert stats["network"] == {"udp_lost": 0, "udp_passed": 0}
