"""Authenticated HTTP views: cloud clips (decrypted on the fly) and event snapshots.

Clips are resolved at play time (the cloud's links expire), the playlist's segments are served
one by one through signed Home Assistant paths, `chacha2` segments decrypted with the client's
pure function, every segment's timestamps made continuous (real segments restart them); an
expired link is resolved again once. A play URL that is a single `.ts` file is a one-segment
clip. Nothing holds a whole clip in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import logging
import math
import re
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from aiohttp import web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .api import (
    ApiError,
    BotslabError,
    Event,
    RateLimited,
    SnapshotExpired,
    decrypt_clip_segment,
)
from .api.cliptime import extinf_duration, retime_segment, segment_starts
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
PLAYLIST_BYTES = 1024 * 1024
SINGLE_SEGMENT_SECONDS = 10  # a guess: a one-file clip's length is known once it is read
# ASCII digits only: "²" is a digit to \d and to str.isdigit, not to int()
_SEGMENT = re.compile(r"([0-9]{1,4})\.ts", re.ASCII)


def _is_ts_url(url: str) -> bool:
    """Whether a play URL names an MPEG-TS file (by its path, whatever the query)."""
    try:
        return urlsplit(url).path.lower().endswith(".ts")
    except ValueError:
        return False


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
    state = (entry.runtime_data.device_coordinator.data or {}).get(ref.serial)
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


# a playlist's bounds (a clip of tens of seconds has tens of lines): a longer one is refused
MAX_PLAYLIST_LINES = 10_000
MAX_SEGMENTS = 2_000
# the resolved clips kept for their segment requests: at most this many, this many bytes
CLIP_CACHE_ITEMS = 32
CLIP_CACHE_BYTES = 8 * 1024 * 1024
LINE_COST = 64  # what a kept line costs beyond its characters (the str object, its slot)
START_COST = 40  # ... and a segment's start (an int and its slot)
# media playlist tags handed to the player as they are: none of them names a URI
PASSED_TAGS = frozenset(
    {
        "#EXTM3U",
        "#EXT-X-VERSION",
        "#EXT-X-TARGETDURATION",
        "#EXT-X-MEDIA-SEQUENCE",
        "#EXT-X-DISCONTINUITY-SEQUENCE",
        "#EXT-X-PLAYLIST-TYPE",
        "#EXT-X-ENDLIST",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-PROGRAM-DATE-TIME",
        "#EXTINF",
    }
)
# what this integration does not play (BOTSLAB clips are one media playlist of MPEG-TS
# segments, encrypted inside the segments, docs/protocol/media.md#clip-encryption): refused, never
# half-played and never handed to the player, whose browser would fetch a URI the cloud named itself
REFUSED_TAGS = {
    "#EXT-X-STREAM-INF": "master",
    "#EXT-X-I-FRAME-STREAM-INF": "master",
    "#EXT-X-MEDIA": "master",
    "#EXT-X-SESSION-KEY": "master",
    "#EXT-X-SESSION-DATA": "master",
    "#EXT-X-KEY": "key",
    "#EXT-X-MAP": "map",
    "#EXT-X-BYTERANGE": "byterange",
}
REFUSED_WHY = {
    "master": "a master playlist (variant streams)",
    "key": "HLS encryption (#EXT-X-KEY)",
    "map": "an initialization section (#EXT-X-MAP: fragmented MP4)",
    "byterange": "byte ranges (#EXT-X-BYTERANGE)",
    "too_long": f"longer than {MAX_PLAYLIST_LINES} lines or {MAX_SEGMENTS} segments",
}


class PlaylistRefused(Exception):
    """A playlist this integration does not play; `kind` says why (REFUSED_WHY)."""

    def __init__(self, kind: str) -> None:
        super().__init__(REFUSED_WHY[kind])
        self.kind = kind


@dataclass
class ResolvedClip:
    ref: MediaRef
    playlist: list[str]  # the playlist's lines; segment lines replaced by their index
    # each segment's line as the playlist has it, resolved against `base` when fetched (so
    # that short lines stay short in memory)
    segments: list[str] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)  # each segment's place (90 kHz ticks)
    base: str = ""  # the URL the playlist came from, after redirects
    resolved_at: float = field(default_factory=time.monotonic)

    def segment_url(self, index: int) -> str:
        return urljoin(self.base, self.segments[index])

    @property
    def cost(self) -> int:
        """The bytes this clip holds (what the clip cache counts)."""
        lines = sum(len(line) + LINE_COST for line in (*self.playlist, *self.segments))
        return lines + len(self.starts) * START_COST + len(self.base) + LINE_COST


def single_segment(ref: MediaRef, url: str) -> ResolvedClip:
    """A play URL that is one MPEG-TS file, not a playlist: a one-segment clip (the working
    client plays it as it is, docs/protocol/accepted.md#media). Its length is not known before it is
    read: players take the segment's own timestamps (hls.js plays it to its end whatever the
    `#EXTINF` says: measured with 1, 4 and 30 s for a 4 s file)."""
    seconds = SINGLE_SEGMENT_SECONDS
    return ResolvedClip(
        ref,
        [
            "#EXTM3U",
            "#EXT-X-VERSION:3",
            f"#EXT-X-TARGETDURATION:{seconds}",
            "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:VOD",
            f"#EXTINF:{seconds}.000,",
            "\x000",
            "#EXT-X-ENDLIST",
        ],
        [url],
        [0],
    )


def _lines(text: str) -> list[str]:
    """The playlist's lines (LF or CRLF, a lone CR too), at most MAX_PLAYLIST_LINES:
    PlaylistRefused past that, before more are made."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n", MAX_PLAYLIST_LINES)
    if len(lines) > MAX_PLAYLIST_LINES:
        if lines[-1].strip():
            raise PlaylistRefused("too_long")
        lines.pop()
    return lines


def parse_playlist(ref: MediaRef, text: str, url: str) -> ResolvedClip:
    """A media playlist: segment lines become indexes (resolved against the URL the playlist
    came from, after redirects), each segment's place on the clip's timeline comes from the
    `#EXTINF` durations before it. `#EXT-X-DISCONTINUITY` tags are dropped: the segments are
    served with continuous timestamps (api/cliptime.py), and with the tags hls.js resets its
    demuxer at each boundary, where real segments after the first carry no PAT/PMT.

    Only the tags of PASSED_TAGS reach the player; other tags go (players ignore tags they do
    not know; none of these names a URI the player would fetch itself). Master playlists,
    HLS encryption, fMP4 sections and byte ranges are refused (PlaylistRefused), as is a
    playlist of more than MAX_PLAYLIST_LINES lines or MAX_SEGMENTS segments."""
    clip = ResolvedClip(ref, [], base=url)
    durations: list[float] = []
    target = 0.0  # a segment without a usable #EXTINF lasts the target duration
    duration: float | None = None
    for raw in _lines(text):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            if len(clip.segments) >= MAX_SEGMENTS:
                raise PlaylistRefused("too_long")
            clip.playlist.append(f"\x00{len(clip.segments)}")
            clip.segments.append(line)
            durations.append(target if duration is None else duration)
            duration = None
            continue
        tag = line.split(":", 1)[0]
        if tag in REFUSED_TAGS:
            if tag == "#EXT-X-KEY" and _key_method(line) == "NONE":
                continue  # "no encryption": nothing to do, nothing to pass on
            raise PlaylistRefused(REFUSED_TAGS[tag])
        if tag == "#EXT-X-TARGETDURATION":
            target = extinf_duration(line.removeprefix("#EXT-X-TARGETDURATION:"), 0.0)
        elif tag == "#EXTINF":
            duration = extinf_duration(line, target) or None
        if tag in PASSED_TAGS:
            clip.playlist.append(line)
    clip.starts = segment_starts(durations)
    return clip


def _key_method(line: str) -> str:
    found = re.search(r"METHOD=([A-Za-z0-9-]+)", line)
    return found.group(1).upper() if found else ""


class ClipResolver:
    """Play URLs and playlists of recent clips, resolved again when the cloud's link expired.
    The clips are kept for their segment requests, within CLIP_CACHE_ITEMS and
    CLIP_CACHE_BYTES (counted as `ResolvedClip.cost`), the least recently used going first."""

    def __init__(
        self, max_items: int = CLIP_CACHE_ITEMS, max_bytes: int = CLIP_CACHE_BYTES
    ) -> None:
        self.max_items, self.max_bytes = max_items, max_bytes
        self._clips: OrderedDict[tuple[str, str], ResolvedClip] = OrderedDict()
        self._costs: dict[tuple[str, str], int] = {}
        self.bytes = 0
        self._unknown_encrypt: set[str] = set()
        self._refused: set[str] = set()

    def __len__(self) -> int:
        return len(self._clips)

    def check_encrypt(self, ref: MediaRef) -> None:
        """`chacha2` is the one encrypted form seen (docs/protocol/media.md#clip-encryption); any
        other is reported once and refused, never guessed."""
        if ref.encrypted and ref.encrypt != "chacha2":
            if ref.encrypt not in self._unknown_encrypt:
                self._unknown_encrypt.add(ref.encrypt)
                _LOGGER.warning(
                    "A BOTSLAB clip is encrypted as %r, which this integration does not know; "
                    "such clips are not played",
                    ref.encrypt[:32],
                )
            raise web.HTTPUnsupportedMediaType(text="unknown clip encryption")

    def _refuse(self, kind: str) -> web.HTTPUnsupportedMediaType:
        """The answer for a playlist not played, reported once per kind (its words only:
        neither the error, whose frames hold the playlist, nor the playlist's URL)."""
        why = REFUSED_WHY[kind]
        if kind not in self._refused:
            self._refused.add(kind)
            _LOGGER.warning(
                "A BOTSLAB clip came as a playlist with %s, which this integration does not "
                "play; such clips are refused",
                why,
            )
        return web.HTTPUnsupportedMediaType(text=f"unsupported clip playlist: {why}")

    def _keep(self, key: tuple[str, str], clip: ResolvedClip) -> None:
        self._drop(key)
        cost = clip.cost
        if cost > self.max_bytes:
            return  # larger than the whole cache: served, not kept
        self._clips[key] = clip
        self._costs[key] = cost
        self.bytes += cost
        while len(self._clips) > self.max_items or self.bytes > self.max_bytes:
            self._drop(next(iter(self._clips)))

    def _drop(self, key: tuple[str, str]) -> None:
        if self._clips.pop(key, None) is not None:
            self.bytes -= self._costs.pop(key)

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
        if _is_ts_url(play.url):
            clip = single_segment(ref, play.url)
        else:
            body, url = await client.fetch(play.url, max_bytes=PLAYLIST_BYTES)
            if body[:1] == b"\x47" and not body.lstrip().startswith(b"#EXTM3U"):
                clip = single_segment(ref, url)  # an MPEG-TS file under another name
            else:
                clip = self._parsed(key, ref, body, url)
        self._keep(key, clip)
        return clip

    def _parsed(self, key: tuple[str, str], ref: MediaRef, body: bytes, url: str) -> ResolvedClip:
        try:
            return parse_playlist(ref, body.decode("utf-8", "replace"), url)
        except PlaylistRefused as err:
            kind = err.kind  # raised outside: the error (and the playlist) not chained
        self._drop(key)
        raise self._refuse(kind)

    async def segment(self, entry: BotslabConfigEntry, ref: MediaRef, index: int) -> bytes | None:
        """The segment's plain MPEG-TS bytes (decrypted when the clip is encrypted)."""
        clip = await self.get(entry, ref)
        if clip is None or not 0 <= index < len(clip.segments):
            return None
        client = entry.runtime_data.client
        try:
            data = await client.download(clip.segment_url(index))
        except SnapshotExpired:
            clip = await self.get(entry, ref, fresh=True)  # the link expired: once more
            if clip is None or not 0 <= index < len(clip.segments):
                return None
            data = await client.download(clip.segment_url(index))
        if clip.ref.encrypted:
            data = decrypt_clip_segment(data, clip.ref.secretkey)
        # real segments each start their timestamps anew (docs/protocol/media.md#clip-timestamps):
        # continuous ones play smoothly, with their sound, plain and decrypted clips alike
        return retime_segment(data, clip.starts[index])


def _cloud_error(err: BotslabError) -> web.HTTPException:
    """The answer for a cloud error: 503 with the cloud's own Retry-After while it asked for
    a pause (nothing is asked of it before then), 502 otherwise."""
    if isinstance(err, RateLimited):
        return web.HTTPServiceUnavailable(
            text="BOTSLAB cloud: rate limited",
            headers={"Retry-After": str(math.ceil(err.retry_after or 1))},
        )
    return web.HTTPBadGateway(text=f"BOTSLAB cloud: {type(err).__name__}")


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
            raise _cloud_error(err) from err
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
            raise _cloud_error(err) from err


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
