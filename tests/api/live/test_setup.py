"""Live view's HTTP steps (docs/protocol/live-video.md#setup-calls) from the client to the
emulator."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import aiohttp
import pytest

from botslab_emulator import Emulator
from custom_components.botslab.api import ApiError, BotslabClient, Endpoints
from custom_components.botslab.api.live import relay, setup
from custom_components.botslab.api.live.signing import machine_id

DOOR = "BDX3A1B2C3D4"


async def test_setup_chain(
    client: BotslabClient, http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    emu.live.faults.tcp_silent = False  # this test logs in on the TCP relay itself
    door = next(d for d in await client.devices() if d.serial == DOOR)
    keys = await client.camera_keys(door)
    tunnel = await setup.cloud_control(http, endpoints)
    assert tunnel.hosts == ("127.0.0.1",) and tunnel.port == emu.tunnel_port
    sign = await setup.relay_sign(http, endpoints, keys.license, DOOR)
    assert len(sign.sign) == 32 and len(sign.sname) == 12 and sign.sign not in repr(sign)
    session = client.session
    assert session is not None
    common = {
        "product_id": keys.license.product_id,
        "sn": DOOR,
        "usign": sign.sign,
        "sname": sign.sname,
        "uid": session.user_id,
        "machine_id": machine_id(client.identity.m2),
    }
    first = await setup.schedule(http, endpoints, kind=1, **common)
    assert (
        first.servers == (f"127.0.0.1:{emu.live.relay.port}",)
        and first.stream_id == f"{DOOR}_01_01"
    )
    assert emu.live.ukeys[first.ukey] == {"sn": DOOR, "video": False}
    await setup.schedule(http, endpoints, kind=2, **common)
    video = await setup.schedule(http, endpoints, kind="bf", stream_id=first.stream_id, **common)
    assert emu.live.ukeys[video.ukey]["video"] is True
    # the TCP relay: a login with the video ukey, START, and what the relay sends arrives
    address = setup.host_port(video.servers[0])
    assert address is not None
    tcp, _early = await relay.open_tcp_relay(
        endpoints.guard,
        *address,
        stream_id=video.stream_id,
        ukey=video.ukey,
        cluster=video.cluster_id,
        product_key=door.product_key,
    )
    try:
        for _ in range(100):
            if emu.live.relay.viewers.get(video.stream_id):
                break
            await asyncio.sleep(0.01)
        body = b"\x00\x00\x00\x00\x00\x03" + bytes(0x32) + b"\x00\x00\x00\x01\x65" + bytes(8)
        assert emu.live.relay.send(video.stream_id, 0x02, body) == 1
        got = []
        while not got:
            got = list(tcp.frames.feed(await asyncio.wait_for(tcp.reader.read(65536), 5)))
        assert got[0].cls == 0x02 and got[0].body == body
        assert not tcp.wrapped
    finally:
        tcp.writer.close()
        await tcp.writer.wait_closed()
    with pytest.raises(relay.RelayRefused):
        await relay.open_tcp_relay(
            endpoints.guard,
            *address,
            stream_id=video.stream_id,
            ukey="forged",
            cluster=video.cluster_id,
            product_key=door.product_key,
        )


async def test_relay_sign_checks_the_license(
    client: BotslabClient, http: aiohttp.ClientSession, endpoints: Endpoints
) -> None:
    door = next(d for d in await client.devices() if d.serial == DOOR)
    keys = await client.camera_keys(door)
    with pytest.raises(ApiError):
        await setup.relay_sign(http, endpoints, replace(keys.license, authorization="forged"), DOOR)


async def test_scheduler_refuses_unknown_signs(
    client: BotslabClient, http: aiohttp.ClientSession, endpoints: Endpoints
) -> None:
    with pytest.raises(ApiError):
        await setup.schedule(
            http,
            endpoints,
            kind=1,
            product_id="p",
            sn=DOOR,
            usign="0" * 32,
            sname="abc",
            uid="1",
            machine_id="m",
        )


def test_production_live_hosts() -> None:
    hosts = Endpoints.production("ap1").regions["ap1"]
    assert hosts.iotext_url == "https://ap1-video-iotext.botslab.com"
    assert hosts.license_url == "https://ap1-video-licenseext.botslab.com"
    assert hosts.schedule_url == "https://ap1-video-schedule.botslab.com"
