"""The media browser, clip playback through the decrypting view, snapshots, cloud plans."""

from __future__ import annotations

import asyncio
import io
from typing import Any
from urllib.parse import urlsplit

import av
from homeassistant.components import media_source
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest

from botslab_emulator import Emulator
from botslab_emulator.server import shared_clip
from custom_components.botslab.const import DOMAIN
from custom_components.botslab.media_ref import MediaRef, unseal

DOOR, GARDEN = "BDX3A1B2C3D4", "BCC5E5F6A7B8"


@pytest.fixture
async def browser(hass: HomeAssistant, entry: ConfigEntry) -> ConfigEntry:
    assert await async_setup_component(hass, "media_source", {})
    await hass.async_block_till_done()  # media_source finds its platforms in the background
    return entry


async def browse(hass: HomeAssistant, identifier: str = "") -> Any:
    return await media_source.async_browse_media(
        hass, f"media-source://{DOMAIN}{'/' + identifier if identifier else ''}"
    )


def media_ref(hass: HomeAssistant, entry: ConfigEntry, content_id: str) -> MediaRef:
    """What a media identifier carries (unsealed with this Home Assistant's key)."""
    ref = unseal(hass.data[DOMAIN]["media_key"], entry.entry_id, content_id.rsplit("/", 1)[1])
    assert ref is not None
    return ref


async def newest_event_item(hass: HomeAssistant, entry: ConfigEntry, serial: str) -> Any:
    device = await browse(hass, f"{entry.entry_id}/{serial}")
    day = await media_source.async_browse_media(hass, device.children[0].media_content_id)
    return day.children[0]


async def get(client: Any, url: str) -> tuple[int, bytes, str]:
    parts = urlsplit(url)
    resp = await client.get(parts.path + ("?" + parts.query if parts.query else ""))
    return resp.status, await resp.read(), resp.headers.get("Content-Type", "")


async def play(hass: HomeAssistant, client: Any, content_id: str) -> list[bytes]:
    resolved = await media_source.async_resolve_media(hass, content_id, None)
    assert resolved.mime_type == "application/x-mpegURL"
    assert resolved.url.startswith("/api/botslab/clip/")
    status, body, ctype = await get(client, resolved.url)
    assert status == 200 and "mpegurl" in ctype
    playlist = body.decode()
    assert playlist.startswith("#EXTM3U") and "#EXT-X-ENDLIST" in playlist
    segments = []
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            assert "authSig=" in line, "segment links are signed"
            status, data, ctype = await get(client, line)
            assert status == 200 and ctype == "video/mp2t"
            segments.append(data)
    return segments


async def test_browse_tree(hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator) -> None:
    root = await browse(hass)
    assert [c.title for c in root.children] == [browser.title]
    account = await media_source.async_browse_media(hass, root.children[0].media_content_id)
    assert [c.title for c in account.children] == [
        "Driveway",
        "Front Door",
        "Garden",
        "Living Room",
    ]
    door = await browse(hass, f"{browser.entry_id}/{DOOR}")
    assert door.children and all(c.can_expand for c in door.children)
    day = await media_source.async_browse_media(hass, door.children[0].media_content_id)
    times = [c.title[:8] for c in day.children]
    assert times == sorted(times, reverse=True), "newest first"
    item = day.children[0]
    assert (
        item.can_play
        and item.media_class == "video"
        and item.thumbnail.startswith("/api/botslab/snapshot/")
    )


async def test_day_pages_through_the_message_list(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator
) -> None:
    for _ in range(120):
        emulator.world.trigger(GARDEN, "motion", push=False)
    device = await browse(hass, f"{browser.entry_id}/{GARDEN}")
    today = await media_source.async_browse_media(hass, device.children[0].media_content_id)
    assert len(today.children) >= 120
    assert len({c.media_content_id for c in today.children}) == len(today.children)


async def test_plain_clip_plays(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    await emulator.trigger(GARDEN, "person")
    item = await newest_event_item(hass, browser, GARDEN)
    segments = await play(hass, await hass_client(), item.media_content_id)
    clip = await shared_clip("real")
    assert segments == list(clip.segments.values()), "plain clips pass through unchanged"
    with av.open(io.BytesIO(segments[0])) as container:
        assert sum(1 for _ in container.decode(video=0)) > 10


@pytest.mark.parametrize("media", ["real", "canonical"])
async def test_encrypted_clip_is_decrypted_by_the_view(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any, media: str
) -> None:
    """Frame-exact against the plain source: real clips (escape bytes early and late in
    slices, ADTS frames across PES packets, tables in the first segment only, a cut last
    packet) and the canonical easy form."""
    emulator.faults.clip_media = media
    await emulator.trigger(DOOR, "ring")
    item = await newest_event_item(hass, browser, DOOR)
    ref = media_ref(hass, browser, item.media_content_id)
    message = emulator.world.by_id[ref.msg_id]
    assert message.encrypt == "chacha2" and ref.secretkey == message.secretkey
    # the identifier carries what playback needs, sealed: no key or link in the clear
    assert message.secretkey not in item.media_content_id
    assert "aliyun" not in item.media_content_id and "sign" not in item.media_content_id
    segments = await play(hass, await hass_client(), item.media_content_id)
    clip = await shared_clip(media)
    assert frames(segments) == frames(list(clip.segments.values())), "frame-exact"
    if media == "canonical":
        assert segments == list(clip.segments.values()), "even byte-identical"


async def test_unknown_clip_encryption_is_reported_once_not_guessed(
    hass: HomeAssistant,
    browser: ConfigEntry,
    emulator: Emulator,
    hass_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator.faults.clip_encrypt = "AES256"
    client = await hass_client()
    for _ in range(2):
        await emulator.trigger(DOOR, "ring")
        item = await newest_event_item(hass, browser, DOOR)
        resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)
        status, _body, _ = await get(client, resolved.url)
        assert status == 415
    assert caplog.text.count("encrypted as 'AES256'") == 1


def frames(segments: list[bytes]) -> list[tuple[str, bytes]]:
    """The audio and video packets of consecutive segments (whole TS packets) as one stream."""
    data = b"".join(seg[: len(seg) - len(seg) % 188] for seg in segments)
    with av.open(io.BytesIO(data), format="mpegts") as container:
        return [(p.stream.type, bytes(p)) for p in container.demux() if p.size]


async def test_clip_plays_from_its_reference_alone(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    """No message-list lookup at play time: even a message gone from the list plays."""
    await emulator.trigger(DOOR, "ring")
    item = await newest_event_item(hass, browser, DOOR)
    for box in emulator.world.messages.values():
        box.clear()
    lists = emulator.counters.requests.get("/api/eu1/v2/message/list", 0)
    segments = await play(hass, await hass_client(), item.media_content_id)
    assert segments and emulator.counters.requests.get("/api/eu1/v2/message/list", 0) == lists


async def test_forged_references_are_refused(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    await emulator.trigger(DOOR, "ring")
    item = await newest_event_item(hass, browser, DOOR)
    entry_id, serial, day, token = item.media_content_id.removeprefix(
        f"media-source://{DOMAIN}/"
    ).split("/")
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    client = await hass_client()
    for path in (
        f"/api/botslab/clip/{entry_id}/{forged}/index.m3u8",
        f"/api/botslab/snapshot/{entry_id}/{forged}",
        f"/api/botslab/snapshot/{entry_id}/1",
        f"/api/botslab/snapshot/{entry_id}/{'x' * 5000}",
    ):
        assert (await client.get(path)).status == 404, path
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(
            hass, f"media-source://{DOMAIN}/{entry_id}/{serial}/{day}/{forged}", None
        )
    # another account's entry id does not open it either
    other = f"media-source://{DOMAIN}/01NOTANENTRY/{serial}/{day}/{token}"
    with pytest.raises(media_source.Unresolvable):
        await media_source.async_resolve_media(hass, other, None)


async def test_expired_link_is_resolved_again(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    await emulator.trigger(DOOR, "ring")
    item = await newest_event_item(hass, browser, DOOR)
    client = await hass_client()
    resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)
    _status, body, _ = await get(client, resolved.url)
    first_segment = next(
        line for line in body.decode().splitlines() if line and not line.startswith("#")
    )
    plays = emulator.counters.requests.get("/api/eu1/v1/oss/get_play_url", 0)
    emulator.world.clock_offset += 7200  # the cloud's links have expired
    status, data, _ = await get(client, first_segment)
    plain = (await shared_clip("real")).segments["seg0.ts"]
    assert status == 200 and frames([data]) == frames([plain])
    assert emulator.counters.requests["/api/eu1/v1/oss/get_play_url"] == plays + 1, (
        "resolved once more"
    )


async def test_views_refuse_unauthenticated_requests(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client_no_auth: Any
) -> None:
    await emulator.trigger(DOOR, "ring")
    item = await newest_event_item(hass, browser, DOOR)
    msg_id = item.media_content_id.rsplit("/", 1)[1]
    client = await hass_client_no_auth()
    for path in (
        f"/api/botslab/clip/{browser.entry_id}/{msg_id}/index.m3u8",
        f"/api/botslab/clip/{browser.entry_id}/{msg_id}/0.ts",
        f"/api/botslab/snapshot/{browser.entry_id}/{msg_id}",
    ):
        assert (await client.get(path)).status == 401


async def test_snapshot_thumbnails(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    item = await newest_event_item(hass, browser, GARDEN)
    status, data, ctype = await get(await hass_client(), item.thumbnail)
    assert status == 200 and ctype == "image/jpeg" and data[:2] == b"\xff\xd8"
    status, _, _ = await get(await hass_client(), f"/api/botslab/snapshot/{browser.entry_id}/1")
    assert status == 404


async def test_event_without_clip_resolves_to_its_snapshot(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator
) -> None:
    acc = emulator.world.accounts[browser.runtime_data.client.credentials.qid]
    dev = emulator.world.devices[GARDEN]
    emulator.world.set_consent(acc.qid, "cloud_recording", 0, dev.product_key, dev.device_name)
    await emulator.trigger(GARDEN, "person")
    item = await newest_event_item(hass, browser, GARDEN)
    assert item.media_class == "image"
    resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)
    assert resolved.mime_type == "image/jpeg" and resolved.url.startswith("/api/botslab/snapshot/")


async def test_cloud_plan_sensors_and_repair(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    registry = er.async_get(hass)
    name = registry.async_get_entity_id("sensor", DOMAIN, f"{DOOR}_cloud_plan")
    days = registry.async_get_entity_id("sensor", DOMAIN, f"{DOOR}_cloud_plan_days_left")
    expires = registry.async_get_entity_id("sensor", DOMAIN, f"{DOOR}_cloud_plan_expires")
    assert hass.states.get(name).state == "Cloud Basic 30 days"
    assert hass.states.get(days).state in ("9", "10")
    assert hass.states.get(expires).attributes["device_class"] == "timestamp"
    assert registry.async_get_entity_id("sensor", DOMAIN, f"{GARDEN}_cloud_plan") is None, (
        "no plan, no sensor"
    )
    issue_id = f"cloud_plan_ending_{DOOR}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    emulator.world.clock_offset += 5 * 86400
    coordinator = entry.runtime_data.coordinator
    coordinator.refresh_settings_soon()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None and issue.translation_placeholders["days"] == "5"
    assert hass.states.get(days).state in ("4", "5")


async def test_expired_snapshot_link_is_found_again_in_the_list(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    person = await emulator.trigger(GARDEN, "person")
    item = await newest_event_item(hass, browser, GARDEN)
    images = browser.runtime_data.events.images
    async with asyncio.timeout(10):
        while GARDEN not in images or images[GARDEN][0].id != person["msg_id"]:
            await asyncio.sleep(0.05)
    images.clear()  # not the copy downloaded at delivery
    emulator.world.clock_offset += 7200  # the reference's signed link has expired
    lists = emulator.counters.requests.get("/api/eu1/v2/message/list", 0)
    status, data, ctype = await get(await hass_client(), item.thumbnail)
    assert status == 200 and ctype == "image/jpeg" and data[:2] == b"\xff\xd8"
    assert emulator.counters.requests["/api/eu1/v2/message/list"] > lists, "the list, once"
