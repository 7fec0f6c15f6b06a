"""The emulator's object storage (OSS, docs/protocol/media.md#clips): signed URLs, the `aliyun://`
references the gateway resolves, snapshots drawn on first download and clips encrypted per message
key."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
import functools
import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from aiohttp import web

from .media import Clip, make_clip, make_real_clip, snapshot_jpeg
from .mpegts import TsLayout, encrypt_real_segment
from .world import EVENT_TITLES, Device, World, kind_of

if TYPE_CHECKING:
    from .faults import HttpFaults

BUCKET_HOST = "oss-{region}.aliyuncs.com"

_clips: dict[str, Clip] = {}
_layouts: dict[str, TsLayout] = {}  # of the canonical clip's segments


async def shared_clip(media: str = "canonical") -> Clip:
    """A synthetic clip, made once per process (PyAV encoding runs in a thread): "real" has
    what real clips have (escape bytes, ADTS frames across PES packets, tables in the first
    segment only, a cut last packet), "canonical" avoids all of it."""
    if media not in _clips:
        maker = make_real_clip if media == "real" else make_clip
        # a thread of its own, ended before returning: nothing lingers in the caller's loop
        with ThreadPoolExecutor(1, thread_name_prefix="botslab-clip") as pool:
            clip = await asyncio.get_running_loop().run_in_executor(pool, maker)
        if media not in _clips:
            _clips[media] = clip
            if media == "canonical":
                _layouts.update({name: TsLayout(seg) for name, seg in clip.segments.items()})
    return _clips[media]


READY_KEYS = 24
REFILL_AFTER = 0.5  # seconds without a new encrypted clip
# Clean keys found in this process, per clip media, with their encrypted segments. Finding
# one encrypts a whole clip (about 0.1 s); the test suite starts hundreds of emulators in
# one process, each of which seeds its world with clips. Every emulator draws from these
# first, in order, and adds what it finds: keys repeat across the emulators of one process,
# never within one emulator (as on the cloud, each of its messages has a key of its own).
_found_keys: dict[str, list[tuple[str, dict[str, bytes]]]] = {}
_found_names: set[str] = set()  # the keys of `_found_keys`, of every media
FOUND_KEYS_MAX = 256


def _find_clean_key(media: str) -> tuple[str, dict[str, bytes]]:
    """A random clip key whose ciphertext a player can carry, with the encrypted segments."""
    clip = _clips.get(media)
    if clip is None:
        raise RuntimeError("shared_clip(media) first")
    for _ in range(50):
        key = secrets.token_hex(16)
        if media == "real":
            found = {n: encrypt_real_segment(seg, key.encode()) for n, seg in clip.segments.items()}
        else:
            found = {n: layout.encrypt(key.encode()) for n, layout in _layouts.items()}
        if all(v is not None for v in found.values()):
            return key, {n: v for n, v in found.items() if v is not None}
    raise RuntimeError("no clean clip key found")


class ObjectStore:
    """The OSS host: signs and checks URLs, keeps the encrypted segments of recent clip keys."""

    def __init__(self, world: World, faults: HttpFaults, base_url: Callable[[], str]) -> None:
        self.world = world
        self._faults = faults
        self._base_url = base_url
        self._keys: dict[str, dict[str, bytes]] = {}
        # clean clip keys found ahead, per clip media: finding one encrypts a whole clip
        # (tens of milliseconds), which a cloud does not do on the thread that serves its API
        self._ready: dict[str, list[tuple[str, dict[str, bytes]]]] = {}
        self._refill_timers: dict[str, asyncio.TimerHandle] = {}
        self._refills: dict[str, asyncio.Task[None]] = {}
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="botslab-oss")
        # the keys of `_found_keys` this emulator's world gave a message (its stored state
        # included: filled at the first draw), or holds ready; never drawn again
        self._taken_keys: set[str] | None = None
        self._found_next: dict[str, int] = {}  # per media: the next of `_found_keys` to try

    def close(self) -> None:
        for timer in self._refill_timers.values():
            timer.cancel()
        for task in self._refills.values():
            task.cancel()
        self._pool.shutdown(wait=True)

    def _sign(self, bucket: str, obj: str, expires: int) -> str:
        mac = hmac.new(
            self.world.oss_secret.encode(),
            f"GET\n\n\n{expires}\n/{bucket}/{obj}".encode(),
            hashlib.sha1,
        )
        return base64.b64encode(mac.digest()).decode()

    def bucket(self, region: str = "eu1") -> str:
        return f"botslab-{region}"

    def url(self, obj: str, expires: int, bucket: str | None = None, *, base: str = "") -> str:
        bucket = bucket or self.bucket()
        sig = quote(self._sign(bucket, obj, expires), safe="")
        query = f"Expires={expires}&OSSAccessKeyId=LTAIemulator&Signature={sig}"
        base = base or self._faults.media_base_url or self._base_url()
        return f"{base.rstrip('/')}/oss/{bucket}/{obj}?{query}"

    def aliyun_url(self, obj: str) -> str:
        bucket = self.bucket()
        sign = hmac.new(
            self.world.oss_secret.encode(), f"{bucket}/{obj}".encode(), hashlib.sha256
        ).hexdigest()[:32]
        return f"aliyun://{bucket}.{BUCKET_HOST.format(region='eu-central-1')}/{obj}?sign={sign}"

    def resolve_aliyun(self, url: str, qid: str) -> dict[str, Any] | None:
        parts = urlsplit(url)
        if parts.scheme != "aliyun" or not parts.hostname:
            return None
        bucket = parts.hostname.split(".")[0]
        obj = parts.path.lstrip("/")
        sign = parse_qs(parts.query).get("sign", [""])[0]
        want = hmac.new(
            self.world.oss_secret.encode(), f"{bucket}/{obj}".encode(), hashlib.sha256
        ).hexdigest()[:32]
        if not hmac.compare_digest(sign, want):
            return None
        found = self.world.messages.find(obj)
        if found is None or (
            found[0].qid != qid and self.world.sharing.role(qid, found[1]) is None
        ):
            return None
        expires = int(self.world.now()) + self.world.url_ttl
        if self._faults.play_url_form == "ts" and obj.endswith(".m3u8"):
            obj = obj.removesuffix(".m3u8") + ".ts"  # the clip as one file
        return {"expire_time": expires, "url": self.url(obj, expires, bucket)}

    def choose_secretkey(self, media: str = "canonical") -> str:
        """A clip key whose ciphertext a player can carry: for the canonical clip one that
        needs no escape bytes (the segments keep their length), for the real clip one whose
        slices do not end in 00 (docs/protocol/media.md#clip-encryption;
        docs/protocol/live-video.md#escape-bytes). The encrypted segments are kept for the key. A
        key found ahead (`prepare_key`) is taken first."""
        ready = self._ready.get(media)
        if ready:
            key, found = ready.pop(0)
        else:
            key, found = self._found_before(media) or self._remember(media, _find_clean_key(media))
        if key in _found_names:
            self._taken().add(key)
        self._keys[key] = found
        while len(self._keys) > 64:
            self._keys.pop(next(iter(self._keys)))
        self._refill_later(media)
        return key

    async def prepare_key(self, media: str) -> None:
        """Have a clean key of `media` ready, found in a worker thread if none is."""
        if not self._ready.get(media):
            await self._find_ahead(media)

    async def _find_ahead(self, media: str) -> None:
        """One more clean key of `media` among the ready ones: one this process found before
        that this emulator has not given out, or one found now in a worker thread."""
        found = self._found_before(media)
        if found is None:
            loop = asyncio.get_running_loop()
            found = self._remember(
                media, await loop.run_in_executor(self._pool, _find_clean_key, media)
            )
        self._ready.setdefault(media, []).append(found)

    def _found_before(self, media: str) -> tuple[str, dict[str, bytes]] | None:
        """The next clean key of `media` that an emulator of this process found and this
        one's world has not taken (given a message, or holds ready)."""
        keys = _found_keys.get(media, [])
        at = self._found_next.get(media, 0)
        taken = self._taken()
        while at < len(keys):
            key, found = keys[at]
            at += 1
            if key not in taken:
                taken.add(key)  # ready now, handed out next
                self._found_next[media] = at
                return key, found
        self._found_next[media] = at
        return None

    def _taken(self) -> set[str]:
        if self._taken_keys is None:  # a world loaded from a state file holds keys already
            self._taken_keys = {
                m.secretkey for m in self.world.messages.by_id.values()
            } & _found_names
        return self._taken_keys

    def _remember(
        self, media: str, found: tuple[str, dict[str, bytes]]
    ) -> tuple[str, dict[str, bytes]]:
        """Keep a key this emulator found for the next emulators of the process (this one
        skips it: it holds it ready or has handed it out)."""
        keys = _found_keys.setdefault(media, [])
        if len(keys) < FOUND_KEYS_MAX:
            keys.append(found)
            _found_names.add(found[0])
            self._taken().add(found[0])
        return found

    def _refill_later(self, media: str) -> None:
        """Find the next keys once events have been quiet for a moment: the worker thread
        shares the interpreter with the loop, and a burst's pushes should not wait for it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a world driven without a loop
            return
        timer = self._refill_timers.pop(media, None)
        if timer is not None:
            timer.cancel()
        self._refill_timers[media] = loop.call_later(REFILL_AFTER, self._refill, media)

    def _refill(self, media: str) -> None:
        self._refill_timers.pop(media, None)
        if media not in self._refills:
            task = asyncio.get_running_loop().create_task(self._fill(media))
            self._refills[media] = task
            task.add_done_callback(lambda _t: self._refills.pop(media, None))

    async def _fill(self, media: str) -> None:
        while len(self._ready.get(media, ())) < READY_KEYS:
            await self._find_ahead(media)

    async def take_snapshot(self, dev: Device) -> str:
        token = secrets.token_hex(6)
        obj = f"snapshots/{dev.device_name}/take-{token}.jpg"
        self.world.messages.cache_snapshot(
            obj, snapshot_jpeg(dev.title, int(self.world.now()), "Snapshot", seed=hash(token))
        )
        return self.url(obj, int(self.world.now()) + self.world.url_ttl)

    async def serve(self, request: web.Request) -> web.StreamResponse:
        bucket, obj = request.match_info["bucket"], request.match_info["obj"]
        q = request.query
        try:
            expires = int(q.get("Expires", ""))
        except ValueError:
            return _oss_error(403, "AccessDenied", "missing Expires")
        if not hmac.compare_digest(q.get("Signature", ""), self._sign(bucket, obj, expires)):
            return _oss_error(403, "SignatureDoesNotMatch", "signature mismatch")
        if expires < self.world.now():
            return _oss_error(403, "AccessDenied", "Request has expired.")
        hop = int(request.match_info.get("hop", "0"))
        if hop < self._faults.media_redirects:
            # the next hop: another path, on another host when one is configured
            base = self._faults.media_redirect_url.rstrip("/")
            location = f"{base}/oss-hop/{hop + 1}/{bucket}/{obj}?{request.query_string}"
            return web.Response(status=302, headers={"Location": location})
        if obj.startswith("snapshots/"):
            data = self.world.messages.snapshot_cache.get(obj)
            if data is None:
                found = self.world.messages.find(obj)
                if found is None:
                    return _oss_error(404, "NoSuchKey", "The specified key does not exist.")
                msg, dev = found
                kind = kind_of(msg.event_type)
                # drawn off the event loop, as a separate OSS server would: pushes and API
                # answers do not wait for JPEG encoding
                data = await asyncio.get_running_loop().run_in_executor(
                    self._pool,
                    functools.partial(
                        snapshot_jpeg,
                        dev.title,
                        msg.ctime,
                        EVENT_TITLES.get(kind, kind),
                        seed=msg.seq,
                    ),
                )
                self.world.messages.cache_snapshot(obj, data)
            return web.Response(body=data, content_type="image/jpeg")
        if obj.startswith("clips/"):
            return await self._clip(bucket, obj, expires)
        return _oss_error(404, "NoSuchKey", "The specified key does not exist.")

    async def _clip(self, bucket: str, obj: str, expires: int) -> web.StreamResponse:
        # clips/<dn>/<mid>.m3u8, clips/<dn>/<mid>/segN.ts, or clips/<dn>/<mid>.ts (one file)
        parts = obj.split("/")
        if len(parts) == 3 and parts[2].endswith(".m3u8"):
            found = self.world.messages.find(obj)
            segment = None
        elif len(parts) == 3 and parts[2].endswith(".ts"):
            found = self.world.messages.find(obj.removesuffix(".ts") + ".m3u8")
            segment = ""
        elif len(parts) == 4 and parts[3].endswith(".ts"):
            found = self.world.messages.find("/".join(parts[:3]) + ".m3u8")
            segment = parts[3]
        else:
            found = None
        if found is None or not found[0].video_object:
            return _oss_error(404, "NoSuchKey", "The specified key does not exist.")
        msg = found[0]
        clip = await shared_clip(msg.clip_media)
        base = msg.video_object[: -len(".m3u8")]
        if segment is None:
            lines = []
            for line in clip.playlist.splitlines():
                if line.endswith(".ts"):
                    lines.append(
                        self.url(
                            f"{base}/{line}", expires, bucket, base=self._faults.segment_base_url
                        )
                    )
                else:
                    lines.append(line)
            return web.Response(
                text="\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl"
            )
        if segment == "":
            return await self._whole_clip(clip, msg.encrypt, msg.secretkey, msg.clip_media)
        plain = clip.segments.get(segment)
        if plain is None:
            return _oss_error(404, "NoSuchKey", "The specified key does not exist.")
        if msg.encrypt != "chacha2":
            return web.Response(body=plain, content_type="video/mp2t")
        cached = self._keys.get(msg.secretkey, {}).get(segment)
        if cached is None and msg.clip_media == "real":
            cached = encrypt_real_segment(plain, msg.secretkey.encode())
        data = cached or _layouts[segment].encrypt(msg.secretkey.encode())
        if data is None:
            return _oss_error(500, "InternalError", "clip key unusable")
        return web.Response(body=data, content_type="video/mp2t")

    async def _whole_clip(
        self, clip: Clip, encrypt: str, secretkey: str, media: str
    ) -> web.StreamResponse:
        """The clip as one MPEG-TS file, encrypted like its segments (off the loop: the whole
        clip is encrypted at once)."""
        data: bytes | None = clip.whole
        if encrypt == "chacha2":
            key = secretkey.encode()
            encrypt_whole = (
                functools.partial(encrypt_real_segment, clip.whole, key)
                if media == "real"
                else functools.partial(TsLayout(clip.whole).encrypt, key)
            )
            data = await asyncio.get_running_loop().run_in_executor(self._pool, encrypt_whole)
        if data is None:
            return _oss_error(500, "InternalError", "clip key unusable")
        return web.Response(body=data, content_type="video/mp2t")


def _oss_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")
