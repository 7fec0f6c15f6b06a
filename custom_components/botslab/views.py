"""Authenticated HTTP views: cloud clips (decrypted on the fly) and event snapshots.

Clips are resolved at play time (the cloud's links expire), the playlist's segments are served
one by one through signed Home Assistant paths, `chacha2` segments decrypted with the client's
pure function; an expired link is resolved again once. Nothing holds a whole clip in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import re
import time
from typing import Any
from urllib.parse import urljoin

from aiohttp import web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .api import ApiError, BotslabError, Event, SnapshotExpired, decrypt_clip_segment
from .const import DOMAIN
from .data import BotslabConfigEntry
from .media_ref import DATA_KEY, MediaRef, unseal

_LOGGER = logging.getLogger(__name__)

SNAPSHOT_CACHE_ITEMS = 64
SNAPSHOT_CACHE_BYTES = 24 * 1024 * 1024
CLIP_PATH = "/api/botslab/clip/{entry_id}/{token}/{name}"
SNAPSHOT_PATH = "/api/botslab/snapshot/{entry_id}/{token}"
SEGMENT_LINK_LIFETIME = timedelta(hours=1)
CHUNK = 64 * 1024
FIND_PAGES = 10  # pages of the message list read to find a message again
# ASCII digits only: "²" is a digit to \d and to str.isdigit, not to int()
_SEGMENT = re.compile(r"([0-9]{1,4})\.ts", re.ASCII)


def clip_url(entry_id: str, token: str) -> str:
    return CLIP_PATH.format(entry_id=entry_id, token=token, name="index.m3u8")


def snapshot_url(entry_id: str, token: str) -> str:
    return SNAPSHOT_PATH.format(entry_id=entry_id, token=token)


def media_key(hass: HomeAssistant) -> bytes:
    key: bytes = hass.data[DOMAIN][DATA_KEY]
    return key


async def find_event(entry: BotslabConfigEntry, ref: MediaRef) -> Event | None:
    """The message again, from the list (the fallback when a link in the reference expired):
    the device's messages of the day of its ctime, by page number, never by id arithmetic."""
    client = entry.runtime_data.client
    state = (entry.runtime_data.coordinator.data or {}).get(ref.serial)
    day = datetime.fromtimestamp(ref.ctime, UTC).date()
    for when in (day, day - timedelta(days=1), day + timedelta(days=1)):
        for number in range(1, FIND_PAGES + 1):
            page = await client.messages(
                page=number,
                page_size=50,
                date=when.isoformat(),
                device=state.device if state else None,
            )
            for event in page.events:
                if event.id == ref.msg_id:
                    return event
            if len(page.events) < 50:
                break
    return None


@dataclass
class ResolvedClip:
    ref: MediaRef
    playlist: list[str]  # the playlist's lines; segment lines replaced by their index
    segments: list[str] = field(default_factory=list)  # absolute (signed) cloud URLs
    resolved_at: float = field(default_factory=time.monotonic)


class ClipResolver:
    """Play URLs and playlists of recent clips, resolved again when the cloud's link expired."""

    def __init__(self) -> None:
        self._clips: OrderedDict[tuple[str, str], ResolvedClip] = OrderedDict()
        self._unknown_encrypt: set[str] = set()

    def check_encrypt(self, ref: MediaRef) -> None:
        """`chacha2` is the one encrypted form seen (protocol.md 3.3); any other is reported
        once and refused, never guessed."""
        if ref.encrypted and ref.encrypt != "chacha2":
            if ref.encrypt not in self._unknown_encrypt:
                self._unknown_encrypt.add(ref.encrypt)
                _LOGGER.warning(
                    "A BOTSLAB clip is encrypted as %r, which this integration does not know; "
                    "such clips are not played",
                    ref.encrypt[:32],
                )
            raise web.HTTPUnsupportedMediaType(text="unknown clip encryption")

    async def get(
        self, entry: BotslabConfigEntry, ref: MediaRef, *, fresh: bool = False
    ) -> ResolvedClip | None:
        key = (entry.entry_id, ref.msg_id)
        if not fresh and key in self._clips:
            self._clips.move_to_end(key)
            return self._clips[key]
        if not ref.has_clip:
            return None
        self.check_encrypt(ref)
        client = entry.runtime_data.client
        try:
            play = await client.play_url(ref.video_url)
        except ApiError:
            found = await find_event(entry, ref)  # the list's own copy, once
            if found is None or found.video is None or found.video.url == ref.video_url:
                raise
            ref = MediaRef.of(found)
            play = await client.play_url(ref.video_url)
        text = (await client.download(play.url, max_bytes=1024 * 1024)).decode("utf-8", "replace")
        clip = ResolvedClip(ref, [])
        for line in text.splitlines():
            if line and not line.startswith("#"):
                clip.playlist.append(f"\x00{len(clip.segments)}")
                clip.segments.append(urljoin(play.url, line))
            else:
                clip.playlist.append(line)
        self._clips[key] = clip
        while len(self._clips) > 32:
            self._clips.popitem(last=False)
        return clip

    async def segment(self, entry: BotslabConfigEntry, ref: MediaRef, index: int) -> bytes | None:
        """The segment's plain MPEG-TS bytes (decrypted when the clip is encrypted)."""
        clip = await self.get(entry, ref)
        if clip is None or not 0 <= index < len(clip.segments):
            return None
        client = entry.runtime_data.client
        try:
            data = await client.download(clip.segments[index])
        except SnapshotExpired:
            clip = await self.get(entry, ref, fresh=True)  # the link expired: once more
            if clip is None or not 0 <= index < len(clip.segments):
                return None
            data = await client.download(clip.segments[index])
        if clip.ref.encrypted:
            data = decrypt_clip_segment(data, clip.ref.secretkey)
        return data


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> BotslabConfigEntry | None:
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
        return None
    return entry


def _entry_and_ref(
    hass: HomeAssistant, entry_id: str, token: str
) -> tuple[BotslabConfigEntry, MediaRef]:
    entry = _loaded_entry(hass, entry_id)
    ref = unseal(media_key(hass), entry_id, token) if entry is not None else None
    if entry is None or ref is None:
        raise web.HTTPNotFound
    return entry, ref


class BotslabClipView(HomeAssistantView):
    """HLS playlist and segments of a cloud clip."""

    url = CLIP_PATH
    name = "api:botslab:clip"
    requires_auth = True

    def __init__(self, resolver: ClipResolver) -> None:
        self.resolver = resolver

    async def get(
        self, request: web.Request, entry_id: str, token: str, name: str
    ) -> web.StreamResponse:
        hass = request.app[KEY_HASS]
        entry, ref = _entry_and_ref(hass, entry_id, token)
        try:
            if name == "index.m3u8":
                return await self._playlist(hass, entry, ref, token)
            match = _SEGMENT.fullmatch(name)
            if match is None:
                raise web.HTTPNotFound
            data = await self.resolver.segment(entry, ref, int(match.group(1)))
        except BotslabError as err:
            raise web.HTTPBadGateway(text=f"BOTSLAB cloud: {type(err).__name__}") from err
        if data is None:
            raise web.HTTPNotFound
        response = web.StreamResponse(
            headers={"Content-Type": "video/mp2t", "Cache-Control": "no-store"}
        )
        response.content_length = len(data)
        await response.prepare(request)
        for start in range(0, len(data), CHUNK):
            await response.write(data[start : start + CHUNK])
        await response.write_eof()
        return response

    async def _playlist(
        self, hass: HomeAssistant, entry: BotslabConfigEntry, ref: MediaRef, token: str
    ) -> web.Response:
        clip = await self.resolver.get(entry, ref, fresh=True)
        if clip is None:
            raise web.HTTPNotFound
        lines = []
        for line in clip.playlist:
            if line.startswith("\x00"):
                path = CLIP_PATH.format(entry_id=entry.entry_id, token=token, name=f"{line[1:]}.ts")
                lines.append(async_sign_path(hass, path, SEGMENT_LINK_LIFETIME))
            else:
                lines.append(line)
        return web.Response(
            text="\n".join(lines) + "\n",
            content_type="application/vnd.apple.mpegurl",
            headers={"Cache-Control": "no-store"},
        )


class SnapshotCache:
    """The snapshots the media browser showed last: at most SNAPSHOT_CACHE_ITEMS of them and
    SNAPSHOT_CACHE_BYTES together (one may be 8 MiB), the least recently used go first."""

    def __init__(
        self, max_items: int = SNAPSHOT_CACHE_ITEMS, max_bytes: int = SNAPSHOT_CACHE_BYTES
    ) -> None:
        self.max_items, self.max_bytes = max_items, max_bytes
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[str, str]) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def put(self, key: tuple[str, str], data: bytes) -> None:
        if len(data) > self.max_bytes:
            return  # larger than the whole cache: served, not kept
        old = self._items.pop(key, None)
        self.bytes -= len(old) if old is not None else 0
        self._items[key] = data
        self.bytes += len(data)
        while len(self._items) > self.max_items or self.bytes > self.max_bytes:
            _key, dropped = self._items.popitem(last=False)
            self.bytes -= len(dropped)


class BotslabSnapshotView(HomeAssistantView):
    """An event's snapshot (the media browser's thumbnails and images)."""

    url = SNAPSHOT_PATH
    name = "api:botslab:snapshot"
    requires_auth = True

    def __init__(self) -> None:
        self.cache = SnapshotCache()

    async def get(self, request: web.Request, entry_id: str, token: str) -> web.Response:
        hass = request.app[KEY_HASS]
        entry, ref = _entry_and_ref(hass, entry_id, token)
        if not ref.has_image:
            raise web.HTTPNotFound
        key = (entry_id, ref.msg_id)
        data = self.cache.get(key)
        if data is None:
            data = await self._fetch(entry, ref)
            self.cache.put(key, data)
        return web.Response(
            body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
        )

    async def _fetch(self, entry: BotslabConfigEntry, ref: MediaRef) -> bytes:
        image = entry.runtime_data.snapshots.find(ref.msg_id)
        if image is not None:
            return image
        client = entry.runtime_data.client
        try:
            try:
                return await client.download(ref.image_url)
            except SnapshotExpired:
                found = await find_event(entry, ref)  # a fresh link from the list
                if found is None or found.image is None:
                    raise web.HTTPNotFound from None
                return await client.download_snapshot(found)
        except BotslabError as err:
            raise web.HTTPBadGateway(text=f"BOTSLAB cloud: {type(err).__name__}") from err


def async_register_views(hass: HomeAssistant) -> ClipResolver:
    """Register the views once per Home Assistant instance."""
    data: dict[str, Any] = hass.data.setdefault(DOMAIN, {})
    if "clip_resolver" not in data:
        resolver = ClipResolver()
        hass.http.register_view(BotslabClipView(resolver))
        hass.http.register_view(BotslabSnapshotView())
        data["clip_resolver"] = resolver
    resolver_: ClipResolver = data["clip_resolver"]
    return resolver_
