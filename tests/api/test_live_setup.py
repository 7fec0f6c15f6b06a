"""Live view's HTTP steps (liveview.md H2-H7) from the client to the emulator."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest

from botslab_emulator import Emulator
from custom_components.botslab.api import ApiError, BotslabClient, Endpoints
from custom_components.botslab.api.live import setup
from custom_components.botslab.api.live.signing import machine_id

DOOR = "BDX3A1B2C3D4"


async def test_setup_chain(
    client: BotslabClient, http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    door = next(d for d in await client.devices() if d.device_name == DOOR)
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
    assert first.servers == (f"127.0.0.1:{emu.relay_port}",) and first.stream_id == f"{DOOR}_01_01"
    assert emu.live_ukeys[first.ukey] == {"sn": DOOR, "video": False}
    await setup.schedule(http, endpoints, kind=2, **common)
    video = await setup.schedule(http, endpoints, kind="bf", stream_id=first.stream_id, **common)
    assert emu.live_ukeys[video.ukey]["video"] is True


async def test_relay_sign_checks_the_license(
    client: BotslabClient, http: aiohttp.ClientSession, endpoints: Endpoints
) -> None:
    door = next(d for d in await client.devices() if d.device_name == DOOR)
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
