"""Authenticated HTTP views: cloud clips (decrypted on the fly) and event snapshots.

Clips are resolved at play time (the cloud's links expire), the playlist's segments are served
one by one through signed Home Assistant paths, `chacha2` segments decrypted with the client's
pure function; an expired link is resolved again once. Nothing holds a whole clip in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import timedelta
import re
import time
from typing import Any
from urllib.parse import urljoin

from aiohttp import web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .api import BotslabClient, BotslabError, Event, SnapshotExpired, decrypt_clip_segment
from .const import DOMAIN
from .coordinator import BotslabConfigEntry

CLIP_PATH = "/api/botslab/clip/{entry_id}/{msg_id}/{name}"
SNAPSHOT_PATH = "/api/botslab/snapshot/{entry_id}/{msg_id}"
SEGMENT_LINK_LIFETIME = timedelta(hours=1)
CHUNK = 64 * 1024
_SEGMENT = re.compile(r"^(\d{1,4})\.ts$")


def clip_url(entry_id: str, msg_id: int) -> str:
    return CLIP_PATH.format(entry_id=entry_id, msg_id=msg_id, name="index.m3u8")


def snapshot_url(entry_id: str, msg_id: int) -> str:
    return SNAPSHOT_PATH.format(entry_id=entry_id, msg_id=msg_id)


async def find_event(client: BotslabClient, msg_id: int) -> Event | None:
    """One message by id: the page that starts right below id + 1."""
    page = await client.messages(page_size=1, nextid=msg_id + 1)
    if page.events and page.events[0].id == msg_id:
        return page.events[0]
    return None


@dataclass
class ResolvedClip:
    event: Event
    playlist: list[str]  # the playlist's lines; segment lines replaced by their index
    segments: list[str] = field(default_factory=list)  # absolute (signed) cloud URLs
    resolved_at: float = field(default_factory=time.monotonic)


class ClipResolver:
    """Play URLs and playlists of recent clips, resolved again when the cloud's link expired."""

    def __init__(self) -> None:
        self._clips: OrderedDict[tuple[str, int], ResolvedClip] = OrderedDict()

    async def get(
        self, entry: BotslabConfigEntry, msg_id: int, *, fresh: bool = False
    ) -> ResolvedClip | None:
        key = (entry.entry_id, msg_id)
        if not fresh and key in self._clips:
            self._clips.move_to_end(key)
            return self._clips[key]
        client = entry.runtime_data.client
        event = self._clips[key].event if key in self._clips else await find_event(client, msg_id)
        if event is None or event.video is None:
            return None
        play = await client.play_url(event.video.url)
        text = (await client.download(play.url, max_bytes=1024 * 1024)).decode("utf-8", "replace")
        clip = ResolvedClip(event, [])
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

    async def segment(self, entry: BotslabConfigEntry, msg_id: int, index: int) -> bytes | None:
        """The segment's plain MPEG-TS bytes (decrypted when the clip is encrypted)."""
        clip = await self.get(entry, msg_id)
        if clip is None or not 0 <= index < len(clip.segments):
            return None
        client = entry.runtime_data.client
        try:
            data = await client.download(clip.segments[index])
        except SnapshotExpired:
            clip = await self.get(entry, msg_id, fresh=True)  # the link expired: once more
            if clip is None or not 0 <= index < len(clip.segments):
                return None
            data = await client.download(clip.segments[index])
        video = clip.event.video
        if video is not None and video.encrypted:
            data = decrypt_clip_segment(data, video.secretkey)
        return data


def _loaded_entry(hass: HomeAssistant, entry_id: str) -> BotslabConfigEntry | None:
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
        return None
    return entry


class BotslabClipView(HomeAssistantView):
    """HLS playlist and segments of a cloud clip."""

    url = CLIP_PATH
    name = "api:botslab:clip"
    requires_auth = True

    def __init__(self, resolver: ClipResolver) -> None:
        self.resolver = resolver

    async def get(
        self, request: web.Request, entry_id: str, msg_id: str, name: str
    ) -> web.StreamResponse:
        hass = request.app[KEY_HASS]
        entry = _loaded_entry(hass, entry_id)
        if entry is None or not msg_id.isdigit():
            raise web.HTTPNotFound
        try:
            if name == "index.m3u8":
                return await self._playlist(hass, entry, int(msg_id))
            match = _SEGMENT.match(name)
            if match is None:
                raise web.HTTPNotFound
            data = await self.resolver.segment(entry, int(msg_id), int(match.group(1)))
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
        self, hass: HomeAssistant, entry: BotslabConfigEntry, msg_id: int
    ) -> web.Response:
        clip = await self.resolver.get(entry, msg_id, fresh=True)
        if clip is None:
            raise web.HTTPNotFound
        lines = []
        for line in clip.playlist:
            if line.startswith("\x00"):
                path = CLIP_PATH.format(
                    entry_id=entry.entry_id, msg_id=msg_id, name=f"{line[1:]}.ts"
                )
                lines.append(async_sign_path(hass, path, SEGMENT_LINK_LIFETIME))
            else:
                lines.append(line)
        return web.Response(
            text="\n".join(lines) + "\n",
            content_type="application/vnd.apple.mpegurl",
            headers={"Cache-Control": "no-store"},
        )


class BotslabSnapshotView(HomeAssistantView):
    """An event's snapshot (the media browser's thumbnails and images)."""

    url = SNAPSHOT_PATH
    name = "api:botslab:snapshot"
    requires_auth = True

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    async def get(self, request: web.Request, entry_id: str, msg_id: str) -> web.Response:
        hass = request.app[KEY_HASS]
        entry = _loaded_entry(hass, entry_id)
        if entry is None or not msg_id.isdigit():
            raise web.HTTPNotFound
        key = (entry_id, int(msg_id))
        data = self._cache.get(key)
        if data is None:
            data = await self._fetch(entry, int(msg_id))
            self._cache[key] = data
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return web.Response(
            body=data, content_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
        )

    async def _fetch(self, entry: BotslabConfigEntry, msg_id: int) -> bytes:
        stream = entry.runtime_data.events
        if stream is not None:
            for event, image in stream.images.values():
                if event.id == msg_id:
                    return image
        try:
            found = await find_event(entry.runtime_data.client, msg_id)
            if found is None or found.image is None:
                raise web.HTTPNotFound
            return await entry.runtime_data.client.download_snapshot(found)
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
