"""The media browser, clip playback through the decrypting view, snapshots, cloud plans."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
import av
from homeassistant.components import media_source
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from botslab_emulator import Emulator
from botslab_emulator.oss import shared_clip
from custom_components.botslab.const import DOMAIN
from custom_components.botslab.media_ref import MediaRef, unseal
from custom_components.botslab.views import SnapshotCache
from tests.ha_helpers import scoped_uid

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
        emulator.world.messages.trigger(GARDEN, "motion", push=False)
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
    message = emulator.world.messages.by_id[ref.msg_id]
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
    for box in emulator.world.messages.boxes.values():
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
    emulator.world.consents.set(acc.qid, "cloud_recording", 0, dev.product_key, dev.device_name)
    await emulator.trigger(GARDEN, "person")
    item = await newest_event_item(hass, browser, GARDEN)
    assert item.media_class == "image"
    resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)
    assert resolved.mime_type == "image/jpeg" and resolved.url.startswith("/api/botslab/snapshot/")


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_cloud_plan_sensors_and_repair(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    registry = er.async_get(hass)
    name = registry.async_get_entity_id("sensor", DOMAIN, scoped_uid(hass, f"{DOOR}_cloud_plan"))
    days = registry.async_get_entity_id(
        "sensor", DOMAIN, scoped_uid(hass, f"{DOOR}_cloud_plan_days_left")
    )
    expires = registry.async_get_entity_id(
        "sensor", DOMAIN, scoped_uid(hass, f"{DOOR}_cloud_plan_expires")
    )
    assert hass.states.get(name).state == "Cloud Basic 30 days"
    assert hass.states.get(days).state in ("9", "10")
    assert hass.states.get(expires).attributes["device_class"] == "timestamp"
    assert (
        registry.async_get_entity_id("sensor", DOMAIN, scoped_uid(hass, f"{GARDEN}_cloud_plan"))
        is None
    ), "no plan, no sensor"
    issue_id = f"cloud_plan_ending_{DOOR}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    emulator.world.clock_offset += 5 * 86400
    await entry.runtime_data.settings_coordinator.async_refresh()
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None and issue.translation_placeholders["days"] == "5"
    assert hass.states.get(days).state in ("4", "5")


async def test_expired_snapshot_link_is_found_again_in_the_list(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    person = await emulator.trigger(GARDEN, "person")
    item = await newest_event_item(hass, browser, GARDEN)
    snapshots = browser.runtime_data.snapshots
    async with asyncio.timeout(10):
        while (found := snapshots.get(GARDEN)) is None or found[0].id != person["msg_id"]:
            await asyncio.sleep(0.05)
    snapshots.clear()  # not the copy downloaded at delivery
    emulator.world.clock_offset += 7200  # the reference's signed link has expired
    lists = emulator.counters.requests.get("/api/eu1/v2/message/list", 0)
    status, data, ctype = await get(await hass_client(), item.thumbnail)
    assert status == 200 and ctype == "image/jpeg" and data[:2] == b"\xff\xd8"
    assert emulator.counters.requests["/api/eu1/v2/message/list"] > lists, "the list, once"


# path components a client may send: any Unicode, and the named troublemakers
ODD_COMPONENTS = st.one_of(
    st.sampled_from(
        [
            *("²", "².ts", "١.ts", "0" * 5000, "9" * 100, "9" * 100 + ".ts", "-1.ts"),
            *("00001.ts", "1e999", "..", "%00", "\x00", " ", "index.m3u8\x00", "A" * 5000),
        ]
    ),
    st.text(min_size=1, max_size=60),
    st.from_regex(r"[0-9¹²³٠-٩]{1,12}(\.ts)?", fullmatch=True),
)


def cloud_calls(emulator: Emulator) -> int:
    return sum(emulator.counters.requests.values())


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entry_part=ODD_COMPONENTS, token_part=ODD_COMPONENTS, name=ODD_COMPONENTS)
async def test_views_answer_400_or_404_for_any_path(  # noqa: PLR0917 (fixtures)
    hass: HomeAssistant,
    browser: ConfigEntry,
    emulator: Emulator,
    hass_client: Any,
    entry_part: str,
    token_part: str,
    name: str,
) -> None:
    """Never a 500, and no cloud call for a path that cannot name a clip or a snapshot: an
    odd entry id, an odd token, or a valid token with an odd segment name."""
    client = await hass_client()
    token = await VALID_TOKEN.get(hass, browser, emulator)
    before = cloud_calls(emulator)
    odd = [
        f"/api/botslab/clip/{quote(entry_part, safe='')}/{token}/0.ts",
        f"/api/botslab/clip/{browser.entry_id}/{quote(token_part, safe='')}/{quote(name)}",
        f"/api/botslab/snapshot/{quote(entry_part, safe='')}/{quote(token_part, safe='')}",
        f"/api/botslab/snapshot/{browser.entry_id}/{quote(token_part, safe='')}",
    ]
    if not re.fullmatch(r"[0-9]{1,4}\.ts|index\.m3u8", name):
        odd.append(f"/api/botslab/clip/{browser.entry_id}/{token}/{quote(name, safe='')}")
    for path in odd:
        resp = await client.get(path)
        assert resp.status in (400, 404), (path[:120], resp.status)
    assert cloud_calls(emulator) == before, "no cloud call for a path that cannot exist"


class _Token:
    """One event's valid token, made once per Home Assistant (hypothesis reuses the test's
    fixtures across its examples)."""

    def __init__(self) -> None:
        self._tokens: dict[int, str] = {}

    async def get(self, hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> str:
        if id(hass) not in self._tokens:
            self._tokens.clear()
            await emulator.trigger(DOOR, "ring")
            item = await newest_event_item(hass, entry, DOOR)
            self._tokens[id(hass)] = item.media_content_id.rsplit("/", 1)[1]
        return self._tokens[id(hass)]


VALID_TOKEN = _Token()


@pytest.mark.parametrize(
    "day", ["0001-01-01", "9999-12-31", "2026-02-30", "２０２６-01-01", "20261231"]
)
async def test_the_browser_refuses_days_that_cannot_have_events_without_asking(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, day: str
) -> None:
    before = cloud_calls(emulator)
    with pytest.raises(media_source.Unresolvable):
        await browse(hass, f"{browser.entry_id}/{GARDEN}/{day}")
    assert cloud_calls(emulator) == before


class LanDevice:
    """Something on the user's network that a hostile cloud would like Home Assistant to
    fetch: it counts every request that reaches it."""

    def __init__(self) -> None:
        self.hits = 0
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _any(self, _request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(body=b"\xff\xd8 router admin page", content_type="image/jpeg")

    async def __aenter__(self) -> LanDevice:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.mark.parametrize("knob", ["media_base_url", "segment_base_url"])
async def test_media_links_elsewhere_are_refused_and_reported_once(  # noqa: PLR0917
    hass: HomeAssistant,
    browser: ConfigEntry,
    emulator: Emulator,
    hass_client: Any,
    caplog: pytest.LogCaptureFixture,
    knob: str,
) -> None:
    """The cloud names the hosts of snapshots, playlists and segments; a link outside the
    region's OSS hosts (here: the emulator's address) is never fetched."""
    async with LanDevice() as lan:
        setattr(emulator.faults, knob, lan.url)
        await emulator.trigger(DOOR, "ring")
        item = await newest_event_item(hass, browser, DOOR)
        client = await hass_client()
        resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)
        status, body, _ = await get(client, resolved.url)
        if knob == "media_base_url":
            assert status == 502  # the playlist itself is elsewhere
            status, _, _ = await get(client, item.thumbnail)
            assert status == 502
        else:
            assert status == 200  # the playlist is where media lives; its segments are not
            for line in body.decode().splitlines():
                if line and not line.startswith("#"):
                    status, _, _ = await get(client, line)
                    assert status == 502
        status, _, _ = await get(client, resolved.url)  # asked again
        assert lan.hits == 0, "nothing was fetched from the LAN"
    reports = [r for r in caplog.records if "as a media host" in r.getMessage()]
    assert len(reports) == 1 and reports[0].levelname == "WARNING"
    assert "127.0.0.1" in reports[0].getMessage()


MIB = 1024 * 1024


def test_the_snapshot_cache_is_bounded_in_bytes() -> None:
    """One snapshot may be 8 MiB: the browser's cache is bounded in bytes, not only in count."""
    cache = SnapshotCache()
    for n in range(40):
        cache.put(("entry", str(n)), bytes(8 * MIB))
        assert cache.bytes <= cache.max_bytes
    assert len(cache) == cache.max_bytes // (8 * MIB)
    assert cache.get(("entry", "39")) is not None and cache.get(("entry", "0")) is None
    cache.put(("entry", "huge"), bytes(cache.max_bytes + 1))
    assert cache.get(("entry", "huge")) is None, "larger than the whole cache: not kept"
