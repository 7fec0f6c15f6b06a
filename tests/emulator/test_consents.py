"""What withdrawn consents and notification settings do (docs/protocol/cloud-api.md#notifications,
docs/protocol/cloud-api.md#privacy-and-consent)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from .conftest import World
from .test_push import alias_of, close, connect
from .wire import read_push_frame


async def consent(
    world: World, http: aiohttp.ClientSession, scope: str, granted: int, device: str = ""
) -> None:
    form: dict[str, object] = {"scope": scope, "granted": granted}
    if device:
        dev = world.emu.world.devices[device]
        form.update(product_key=dev.product_key, device_name=device)
    assert (await world.alice.post(http, "/v1/user/privacy/consent", form))["code"] == 0


async def items(world: World, http: aiohttp.ClientSession) -> list[dict]:  # type: ignore[type-arg]
    return (await world.alice.get(http, "/v2/message/list", {"page_size": 100}))["data"]["items"]  # type: ignore[no-any-return]


async def test_event_upload_withdrawn_means_no_events(
    world: World, http: aiohttp.ClientSession
) -> None:
    await consent(world, http, "event_upload", 0, world.cam)
    result = await world.emu.trigger(world.cam, "person")
    assert result["msg_id"] is None
    await world.emu.trigger(world.door, "ring")
    assert [i["tdata"]["device_name"] for i in await items(world, http)] == [world.door]
    async with http.post(
        f"{world.emu.base_url}/_emulator/trigger",
        json={"device_name": world.cam, "event_type": "motion"},
    ) as resp:
        assert (await resp.json())["msg_id"] is None
    await consent(world, http, "event_upload", 1, world.cam)
    assert (await world.emu.trigger(world.cam, "person"))["msg_id"] is not None


async def test_no_clips_without_cloud_recording(world: World, http: aiohttp.ClientSession) -> None:
    await consent(world, http, "cloud_recording", 0, world.cam)
    await world.emu.trigger(world.cam, "person")
    tdata = (await items(world, http))[0]["tdata"]
    assert "video" not in tdata and tdata["image"]["url"]


@pytest.mark.parametrize("kind", ["person", "pet", "vehicle", "package"])
async def test_plain_motion_without_ai_detection(
    world: World, http: aiohttp.ClientSession, kind: str
) -> None:
    await consent(world, http, "ai_detection", 0, world.cam)
    await world.emu.trigger(world.cam, kind)
    tdata = (await items(world, http))[0]["tdata"]
    assert tdata["event_type"] == "dsl.event.post.FrameChange"
    await consent(world, http, "ai_detection", 1, world.cam)
    await world.emu.trigger(world.cam, kind)
    assert (await items(world, http))[0]["tname"] == kind


async def test_restricted_processing_stops_ai(world: World, http: aiohttp.ClientSession) -> None:
    await world.alice.post(http, "/v1/user/privacy/restrict", {"restricted": 1})
    await world.emu.trigger(world.cam, "person")
    assert (await items(world, http))[0]["tname"] == "motion"


async def test_shared_user_cannot_change_device_consents(
    world: World, http: aiohttp.ClientSession
) -> None:
    dev = world.emu.world.devices[world.cam]
    bob = world.emu.world.accounts.find("bob@example.com")
    assert bob is not None
    share = world.emu.world.sharing.share(
        dev.owner_qid, dev.product_key, dev.device_name, email=bob.email, level=3
    )
    share.status = 2
    answer = await world.bob.post(
        http,
        "/v1/user/privacy/consent",
        {
            "scope": "event_upload",
            "granted": 0,
            "product_key": dev.product_key,
            "device_name": dev.device_name,
        },
    )
    assert answer["code"] == 202101


async def no_push(reader: asyncio.StreamReader) -> None:
    with pytest.raises(TimeoutError):
        await read_push_frame(reader, timeout=0.4)


async def test_push_settings_gate_pushes_not_messages(
    world: World, http: aiohttp.ClientSession
) -> None:
    emu, api = world.emu, world.alice
    reader, writer = await connect(emu, http, alias_of(world))
    try:
        await consent(world, http, "push", 0)
        await emu.trigger(world.door, "ring")
        await no_push(reader)
        await consent(world, http, "push", 1)
        # snooze one device
        await api.post(
            http,
            "/v1/push/snooze",
            {"product_key": world.cam_pk, "device_name": world.cam, "second": 60},
        )
        await emu.trigger(world.cam, "motion")
        await no_push(reader)
        await emu.trigger(world.door, "ring")
        assert (await read_push_frame(reader))[0] == 3
        await api.post(
            http,
            "/v1/push/snooze",
            {"product_key": world.cam_pk, "device_name": world.cam, "second": 0},
        )
        # per-event-type switch
        key = f"{world.cam_pk}_{world.cam}"
        await api.post(
            http,
            "/v1/push/device_setting",
            {"key": key, "event": {"dsl.event.post.FrameChange": {"is_open": 0}}},
        )
        await emu.trigger(world.cam, "motion")
        await no_push(reader)
        await emu.trigger(world.cam, "person")
        assert (await read_push_frame(reader))[0] == 3
        # do-not-disturb around the clock
        await api.post(
            http, "/v1/push/dnd", {"is_open": 1, "start_time": "00:00", "end_time": "23:59"}
        )
        await emu.trigger(world.door, "ring")
        await no_push(reader)
        assert len(await items(world, http)) == 6, "every event is still in the message list"
    finally:
        await close(writer)
