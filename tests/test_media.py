"""The media browser, clip playback through the decrypting view, snapshots, cloud plans."""

from __future__ import annotations

import asyncio
import gc
import io
from itertools import pairwise
import re
import tracemalloc
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
import av
from homeassistant.components import media_source
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from botslab_emulator import Emulator
from botslab_emulator.oss import shared_clip
from botslab_emulator.world import kind_of
from custom_components.botslab.api.cliptime import retime_segment, segment_starts
from custom_components.botslab.api.models import PlayUrl
from custom_components.botslab.const import DOMAIN
from custom_components.botslab.media_ref import MediaRef, unseal
from custom_components.botslab.views import (
    CLIP_CACHE_BYTES,
    MAX_PLAYLIST_LINES,
    ClipResolver,
    PlaylistRefused,
    SnapshotCache,
    parse_playlist,
)
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


async def _door_events(entry: ConfigEntry, emulator: Emulator) -> list[Any]:
    qid = entry.runtime_data.client.credentials.qid
    return [m for m in emulator.world.messages.boxes[qid] if m.device_name == DOOR]


async def test_browse_tree(hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator) -> None:
    root = await browse(hass)
    # one account: its devices at once, no folder of the account's own
    assert [c.title for c in root.children] == [
        "Driveway",
        "Front Door",
        "Garden",
        "Living Room",
    ]
    door = await browse(hass, f"{browser.entry_id}/{DOOR}")
    assert door.children and all(c.can_expand for c in door.children)
    day = await media_source.async_browse_media(hass, door.children[0].media_content_id)
    events = sorted(
        (e for e in await _door_events(browser, emulator)), key=lambda e: e.ctime, reverse=True
    )
    local = [dt_util.as_local(dt_util.utc_from_timestamp(e.ctime)) for e in events]
    shown_day = local[0].date()
    assert door.children[0].title.startswith(
        f"{shown_day.month}/{shown_day.day}/{shown_day.year} ("
    )
    today = [e for e, at in zip(events, local, strict=True) if at.date() == shown_day]
    # short titles, newest first: the time as the UI shows it (12 hours in the US) and the kind
    expected = []
    for event in today:
        at = dt_util.as_local(dt_util.utc_from_timestamp(event.ctime))
        hour = f"{(at.hour % 12) or 12}:{at.minute:02} {'AM' if at.hour < 12 else 'PM'}"
        expected.append(f"{hour} {kind_of(event.event_type).capitalize()}")
    assert [c.title for c in day.children] == expected
    assert day.title == door.children[0].title.split(" (")[0]
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


def timeline(segments: list[bytes]) -> dict[str, list[int]]:
    """Each stream's DTS over consecutive segments (whole TS packets), in order."""
    data = b"".join(seg[: len(seg) - len(seg) % 188] for seg in segments)
    found: dict[str, list[int]] = {}
    with av.open(io.BytesIO(data), format="mpegts") as container:
        for packet in container.demux():
            if packet.size and packet.dts is not None:
                found.setdefault(packet.stream.type, []).append(packet.dts)
    return found


def assert_continuous(segments: list[bytes]) -> None:
    """One timeline across the segment boundaries: every video frame 1/15 s after the one
    before, every AAC frame (1,024 samples at 16 kHz) 64 ms after the one before."""
    assert len(segments) >= 2
    steps = {kind: {b - a for a, b in pairwise(dts)} for kind, dts in timeline(segments).items()}
    assert steps == {"video": {6000}, "audio": {5760}}, steps


async def test_plain_clip_plays(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    """A plain clip as real ones come (timestamps restarting in every segment) plays with
    one timeline: the view makes it continuous, as it does for encrypted clips."""
    await emulator.trigger(GARDEN, "person")
    item = await newest_event_item(hass, browser, GARDEN)
    segments = await play(hass, await hass_client(), item.media_content_id)
    clip = await shared_clip("real")
    assert timeline([clip.segments["seg1.ts"]])["video"][0] == 0, "the cloud's restart"
    assert frames(segments) == frames(list(clip.segments.values())), "the same frames"
    assert_continuous(segments)
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
    assert_continuous(segments)
    if media == "canonical":  # byte-identical, once on the view's timeline
        plain = list(clip.segments.values())
        starts = segment_starts([2.0] * len(plain))
        assert segments == [retime_segment(p, at) for p, at in zip(plain, starts, strict=True)]


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
    issue_id = f"cloud_plan_ending_{entry.entry_id}_{DOOR}"
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
@pytest.mark.slow(seconds=7)
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
    assert cloud_calls(emulator) == before


class _Token:
    """One event's valid token, made once per Home Assistant (hypothesis reuses the test's
    fixtures across its examples)."""

    def __init__(self) -> None:
        self._tokens: dict[int, str] = {}

    async def get(self, hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> str:
        if id(hass) not in self._tokens:
            self._tokens.clear()
            # a motion, not a ring: a ring prepares the live view, whose calls would count
            ring = await emulator.trigger(DOOR, "motion")
            item = await newest_event_item(hass, entry, DOOR)
            self._tokens[id(hass)] = item.media_content_id.rsplit("/", 1)[1]
            # the ring's own snapshot download (in the background) is over before counting
            snapshots = entry.runtime_data.snapshots
            async with asyncio.timeout(10):
                while (found := snapshots.get(DOOR)) is None or found[0].id != ring["msg_id"]:
                    await asyncio.sleep(0.02)
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
    fetch: it counts every request that reaches it. It listens on 127.0.0.2, an address of
    this machine that is not the emulator's (127.0.0.1, trusted)."""

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
        site = web.TCPSite(self._runner, "127.0.0.2", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.2:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.mark.parametrize("knob", ["media_base_url", "segment_base_url"])
@pytest.mark.parametrize(
    ("where", "host"),
    [
        ("lan", "127.0.0.2"),  # loopback, but not the emulator's address
        ("http://10.0.0.1:8080", "10.0.0.1"),
        ("http://169.254.169.254", "169.254.169.254"),  # cloud metadata
        ("http://[fd00::1]:8080", "fd00::1"),
    ],
)
async def test_media_links_into_the_network_are_refused_and_reported_once(  # noqa: PLR0917
    hass: HomeAssistant,
    browser: ConfigEntry,
    emulator: Emulator,
    hass_client: Any,
    caplog: pytest.LogCaptureFixture,
    knob: str,
    where: str,
    host: str,
) -> None:
    """The cloud names the hosts of snapshots, playlists and segments: any host may serve
    them, but an address that is not public (here not the trusted emulator's) is refused
    before anything connects to it (the test harness allows sockets to 127.0.0.1 only)."""
    async with LanDevice() as lan:
        setattr(emulator.faults, knob, lan.url if where == "lan" else where)
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
    assert host in reports[0].getMessage()
    assert "Signature" not in caplog.text, "no signed URL in the log"


class PlaylistHost:
    """A media host (on the trusted address) that answers every path with one playlist, and
    counts what it was asked for."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.paths: list[str] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _any(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        return web.Response(text=self.body, content_type="application/vnd.apple.mpegurl")

    async def __aenter__(self) -> PlaylistHost:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self.body = self.body.replace("HOST", self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.mark.parametrize(
    ("tag", "words"),
    [
        ('#EXT-X-KEY:METHOD=AES-128,URI="HOST/key.bin"', "HLS encryption"),
        ('#EXT-X-MAP:URI="HOST/init.mp4"', "initialization section"),
        ("#EXT-X-STREAM-INF:BANDWIDTH=800000\nHOST/variant.m3u8", "master playlist"),
    ],
)
async def test_a_playlist_naming_what_is_not_played_is_refused_once(  # noqa: PLR0917
    hass: HomeAssistant,
    browser: ConfigEntry,
    emulator: Emulator,
    hass_client: Any,
    caplog: pytest.LogCaptureFixture,
    tag: str,
    words: str,
) -> None:
    """The player gets 415, the log one line per kind, and nothing the playlist names is
    fetched (nor handed to the browser, which would fetch it itself)."""
    body = f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n{tag}\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n"
    async with PlaylistHost(body) as host:
        emulator.faults.media_base_url = host.url
        client = await hass_client()
        for _ in range(2):
            await emulator.trigger(DOOR, "ring")
            item = await newest_event_item(hass, browser, DOOR)
            resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)
            status, answer, _ = await get(client, resolved.url)
            assert status == 415 and words in answer.decode()
        named = {"key.bin", "init.mp4", "variant.m3u8", "seg0.ts"}
        assert not named & {path.rsplit("/", 1)[-1] for path in host.paths}, host.paths
    assert caplog.text.count("which this integration does not play") == 1
    assert host.url not in caplog.text


async def test_clip_behind_redirects_plays(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    """Playlist, segments and snapshots three redirects away (another path each hop)."""
    emulator.faults.media_redirects = 3
    await emulator.trigger(DOOR, "ring")
    item = await newest_event_item(hass, browser, DOOR)
    segments = await play(hass, await hass_client(), item.media_content_id)
    assert frames(segments) == frames(list((await shared_clip("real")).segments.values()))
    status, data, _ = await get(await hass_client(), item.thumbnail)
    assert status == 200 and data[:2] == b"\xff\xd8"
    assert any(path.startswith("/oss-hop/3/") for path in emulator.counters.requests)


@pytest.mark.parametrize("serial", [DOOR, GARDEN])
async def test_a_play_url_that_is_one_ts_file_plays(
    hass: HomeAssistant, browser: ConfigEntry, emulator: Emulator, hass_client: Any, serial: str
) -> None:
    """docs/protocol/accepted.md#media: the working client plays a play URL that is a single `.ts`
    as it is; the view serves it as a one-segment clip (decrypted when the clip is encrypted)."""
    emulator.faults.play_url_form = "ts"
    await emulator.trigger(serial, "person")
    item = await newest_event_item(hass, browser, serial)
    segments = await play(hass, await hass_client(), item.media_content_id)
    clip = await shared_clip("real")
    assert len(segments) == 1
    assert frames(segments) == frames([clip.whole])
    steps = {kind: {b - a for a, b in pairwise(dts)} for kind, dts in timeline(segments).items()}
    assert steps == {"video": {6000}, "audio": {5760}}


def test_playlists_become_one_timeline() -> None:
    """Each segment's place comes from the #EXTINF durations before it (the target duration
    where one is missing or absurd); relative lines are resolved against the URL the
    playlist came from; discontinuity tags go, since the segments are made continuous."""
    text = "\n".join(
        [
            "#EXTM3U",
            "#EXT-X-TARGETDURATION:4",
            "#EXTINF:2.5,",
            "a.ts",
            "#EXT-X-DISCONTINUITY",
            "#EXTINF:nan,",
            "/abs/b.ts?x=1",
            "#EXTINF:-3,",
            "https://other.example/c.ts",
            "#EXTINF:1e400,",
            "d.ts",
            "e.ts",
            "#EXT-X-ENDLIST",
        ]
    )
    ref = MediaRef("SN", "1", 0, "aliyun://b/x.m3u8", "", "none", "")
    clip = parse_playlist(ref, text, "https://cdn.example/clips/x/index.m3u8?sig=1")
    assert [clip.segment_url(n) for n in range(len(clip.segments))] == [
        "https://cdn.example/clips/x/a.ts",
        "https://cdn.example/abs/b.ts?x=1",
        "https://other.example/c.ts",
        "https://cdn.example/clips/x/d.ts",
        "https://cdn.example/clips/x/e.ts",
    ]
    assert clip.starts == [0, 225000, 585000, 945000, 1305000]
    assert "#EXT-X-DISCONTINUITY" not in clip.playlist
    assert [line for line in clip.playlist if line.startswith("\x00")] == [
        f"\x00{n}" for n in range(5)
    ]


MIB = 1024 * 1024
SIGNED = (
    "https://botslab-eu1.oss-eu-central-1.aliyuncs.com/clips/BDX3A1B2C3D4/"
    + "m" * 40
    + "/index.m3u8?Expires=1700000000&OSSAccessKeyId="
    + "K" * 24
    + "&Signature="
    + "S" * 28
)


def fake_entry(body: bytes) -> Any:
    """An entry whose client names a playlist (behind a signed URL) with this body."""

    async def play_url(_url: str) -> PlayUrl:
        return PlayUrl(SIGNED, 0)

    async def fetch(_url: str, *, max_bytes: int) -> tuple[bytes, str]:
        return body[:max_bytes], SIGNED

    client = SimpleNamespace(play_url=play_url, fetch=fetch)
    return SimpleNamespace(entry_id="entry", runtime_data=SimpleNamespace(client=client))


def ref_of(n: int) -> MediaRef:
    return MediaRef("SN", str(n), 0, "aliyun://b/x.m3u8", "", "none", "")


async def test_a_hostile_playlist_is_refused_in_bounded_memory() -> None:
    """One megabyte of one-byte lines became 113 MB of segment URLs, and 32 were kept
    (3.6 GB): now a playlist of more than MAX_PLAYLIST_LINES lines is refused before its
    lines are made, and nothing is kept."""
    entry = fake_entry(b"#EXTM3U\n" + b"a\n" * (512 * 1024 - 4))
    resolver = ClipResolver()
    tracemalloc.start()
    try:
        for n in range(32):
            with pytest.raises(web.HTTPUnsupportedMediaType):
                await resolver.get(entry, ref_of(n))
        gc.collect()  # the last error's traceback (and the body its frames hold)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(resolver) == 0 and resolver.bytes == 0
    assert peak < 8 * MIB, peak
    assert current < MIB, current


async def test_the_clip_cache_is_bounded_in_bytes() -> None:
    """The largest playlists still taken (1 MiB, 2,000 long segment lines, nearly 10,000
    lines): the cache keeps as many as fit in CLIP_CACHE_BYTES, counting what it holds
    (lines, segment lines, starts), and what it holds is what it counts."""
    segment = b"#EXTINF:2.0,\n" + b"s" * 380 + b".ts\n"
    body = (b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n" + segment * 1990 + b"#EXTINF:1,\n" * 6000)[:MIB]
    entry = fake_entry(body)
    resolver = ClipResolver()
    tracemalloc.start()
    try:
        for n in range(32):
            clip = await resolver.get(entry, ref_of(n))
            assert clip is not None and len(clip.segments) == 1990
            assert resolver.bytes <= CLIP_CACHE_BYTES
        current, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert 1 < len(resolver) < 32, "some kept, the oldest dropped"
    assert current < CLIP_CACHE_BYTES * 1.25, (current, resolver.bytes)
    # the newest is there, the oldest gone
    assert await resolver.get(entry, ref_of(31)) is not None
    assert resolver.bytes <= CLIP_CACHE_BYTES


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("#EXT-X-STREAM-INF:BANDWIDTH=800000", "master"),
        ('#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="a",NAME="x",URI="http://10.0.0.1/a.m3u8"', "master"),
        ('#EXT-X-I-FRAME-STREAM-INF:URI="http://10.0.0.1/i.m3u8"', "master"),
        ('#EXT-X-KEY:METHOD=AES-128,URI="http://10.0.0.1/key"', "key"),
        ('#EXT-X-KEY:METHOD=SAMPLE-AES,URI="key.bin"', "key"),
        ('#EXT-X-MAP:URI="http://10.0.0.1/init.mp4"', "map"),
        ("#EXT-X-BYTERANGE:1000@0", "byterange"),
    ],
)
def test_playlists_naming_what_is_not_played_are_refused(line: str, kind: str) -> None:
    """BOTSLAB clips are one media playlist of MPEG-TS segments, encrypted inside the
    segments (docs/protocol/media.md#clips). A master playlist, HLS encryption, an fMP4 section or
    byte ranges are refused: handed on, the browser would fetch the URI the cloud named itself."""
    text = f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n{line}\n#EXTINF:2,\nseg0.ts\n#EXT-X-ENDLIST\n"
    with pytest.raises(PlaylistRefused) as refused:
        parse_playlist(ref_of(1), text, SIGNED)
    assert refused.value.kind == kind


def test_only_tags_without_a_uri_reach_the_player() -> None:
    """A key of METHOD=NONE says nothing; unknown tags (with or without a URI) and comments
    are dropped (players ignore tags they do not know); the tags that describe the media
    playlist stay. A playlist of exactly MAX_PLAYLIST_LINES lines is taken."""
    text = "\r\n".join(
        [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            "#EXT-X-TARGETDURATION:2",
            "#EXT-X-KEY:METHOD=NONE",
            '#EXT-X-PRELOAD-HINT:TYPE=PART,URI="http://10.0.0.1/p.ts"',
            "#EXT-X-CUSTOM:anything",
            "# a comment",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            "#EXTINF:2.000,",
            "seg0.ts",
            "   ",
            "#EXT-X-ENDLIST",
        ]
    )
    clip = parse_playlist(ref_of(1), text, SIGNED)
    assert clip.playlist == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXTINF:2.000,",
        "\x000",
        "#EXT-X-ENDLIST",
    ]
    assert clip.segments == ["seg0.ts"], "a blank line is no segment"
    full = "#EXTM3U\n" + "#EXT-X-CUSTOM:x\n" * (MAX_PLAYLIST_LINES - 2) + "x.ts\n"
    assert parse_playlist(ref_of(1), full, SIGNED).segments == ["x.ts"]
    with pytest.raises(PlaylistRefused):
        parse_playlist(ref_of(1), full + "y.ts\n", SIGNED)
    with pytest.raises(PlaylistRefused):  # more than MAX_SEGMENTS segments
        parse_playlist(ref_of(1), "#EXTM3U\n" + "x.ts\n" * 2001, SIGNED)


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


@pytest.mark.parametrize(
    ("language", "country", "twelve"),
    [("en", "DE", True), ("en", "US", True), ("en-GB", "GB", False), ("de", "US", False)],
)
async def test_times_follow_the_language_as_the_frontend_does(
    hass: HomeAssistant, browser: ConfigEntry, language: str, country: str, twelve: bool
) -> None:
    """The frontend shows times by the language tag alone: English ("en") in Germany, as in
    the demo, shows 10:52 PM; British English 22:52; German 22:52 in the United States."""
    hass.config.language, hass.config.country = language, country
    door = await browse(hass, f"{browser.entry_id}/{DOOR}")
    day = await media_source.async_browse_media(hass, door.children[0].media_content_id)
    pattern = r"[0-9]{1,2}:[0-9]{2} [AP]M" if twelve else r"[0-9]{2}:[0-9]{2}"
    for item in day.children:
        assert re.match(pattern + " ", item.title), item.title


async def test_labels_follow_the_installation_s_language(
    hass: HomeAssistant, browser: ConfigEntry
) -> None:
    """German: 24 hours, dates as Germans write them, kinds as the German event entities
    call them."""
    hass.config.language, hass.config.country = "de", "DE"
    door = await browse(hass, f"{browser.entry_id}/{DOOR}")
    assert re.fullmatch(r"[0-9]{2}\.[0-9]{2}\.[0-9]{4} \([0-9]+\)", door.children[0].title)
    day = await media_source.async_browse_media(hass, door.children[0].media_content_id)
    german = {"Klingeln", "Bewegung", "Person", "Haustier", "Paket", "Fahrzeug", "Geräusch"}
    for item in day.children:
        time_of_day, _, kind = item.title.partition(" ")
        assert re.fullmatch(r"[0-9]{2}:[0-9]{2}", time_of_day) and kind in german, item.title
