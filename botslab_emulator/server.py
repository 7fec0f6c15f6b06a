"""The emulator process: one aiohttp server for every HTTP host, one TCP server for push."""

from __future__ import annotations

import asyncio
import base64
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
import functools
import hashlib
import hmac
import ipaddress
import logging
from pathlib import Path
import secrets
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from aiohttp import web

from . import codes, gateway, quc
from .media import Clip, make_clip, make_real_clip, snapshot_jpeg
from .mpegts import TsLayout, encrypt_real_segment
from .pushserver import PushServer
from .world import EVENT_TITLES, Device, Message, World, kind_of

_LOGGER = logging.getLogger(__name__)
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


@dataclass
class HttpFaults:
    """Fault knobs for the HTTP side (set through POST /_emulator/faults)."""

    errors_left: int = 0
    error_status: int = 503
    error_path: str = ""
    delay_ms: int = 0
    delay_path: str = ""
    device_list_key: str = "devices"
    # clips: "real" (escape bytes in slices, ADTS frames across PES packets, tables in the
    # first segment only, a last segment cut mid-packet) or "canonical" (none of it)
    clip_media: str = "real"
    clip_encrypt: str = ""  # an `encrypt` value to report instead of chacha2 (unknown ones)
    dispatcher_omit_port: bool = False  # the push dispatcher names no port (`p`)
    # easy forms (protocol.md leaves them open or says the real cloud does otherwise)
    qt_decoded_ok: bool = False  # also accept Q/T URL-decoded in the jws header
    # message ids: "opaque" (neither numeric nor increasing), "numeric" (increasing numbers
    # as strings), "number" (the same as JSON numbers)
    message_ids: str = "opaque"
    message_id_key: str = "id"  # or "msg_id", "message_id"
    message_serial: str = "tdata"  # tdata.device_name, or "sn" at the top
    message_type: str = "tdata"  # tdata.event_type, or "event_type" / "type" at the top
    # a hostile or spoofed cloud: media links (snapshots, playlists, segments) on another
    # address, e.g. a server on the user's LAN; or only a playlist's segment lines
    media_base_url: str = ""
    segment_base_url: str = ""


@dataclass
class Counters:
    requests: dict[str, int] = field(default_factory=dict)
    # the wire form of the last request per path: what a client sent, for tests
    last_headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def hit(self, path: str) -> None:
        self.requests[path] = self.requests.get(path, 0) + 1


class Emulator:
    """A faithful local BOTSLAB cloud. Use as `async with Emulator() as emu:`."""

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        push_port: int = 0,
        state_path: Path | None = None,
        demo: bool = False,
    ) -> None:
        self.state_path = state_path
        if world is None and state_path is not None and state_path.exists():
            world = World.load(state_path)
            demo = False
        self.world = world or World()
        self._demo = demo
        self.host = host
        self.port = port
        self.push = PushServer(host, push_port, self._known_alias)
        self.faults = HttpFaults()
        self.counters = Counters()
        self.nonces = gateway.NonceCache()
        self.captcha_pending: dict[str, str] = {}
        self.clip_duration = 4
        self._runner: web.AppRunner | None = None
        self._keys: dict[str, dict[str, bytes]] = {}
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="botslab-oss")
        # live view: relay signs issued, ukeys minted (ukey -> {sn, video}), the tunnel, the
        # virtual devices and the relays (liveview.md 13)
        self.live_signs: dict[str, dict[str, str]] = {}
        self.live_ukeys: dict[str, dict[str, Any]] = {}
        from .live.hub import LiveHub

        self.live = LiveHub(self, host)
        self.relay = self.live.relay
        self.world.on_message.append(self._on_message)
        self.world.secretkey_factory = self.choose_secretkey
        self.world.clip_media_factory = lambda: self.faults.clip_media
        self.world.message_id_factory = self._message_id

    # --- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> Emulator:
        if self._demo:
            from .seed import seed_demo

            await seed_demo(self)
        app = web.Application(middlewares=[self._faults_mw], client_max_size=256 * 1024)
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        await self.push.start()
        await self.live.start()
        return self

    async def stop(self) -> None:
        await self.live.stop()
        await self.push.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._pool.shutdown(wait=True)
        self.save()

    def save(self) -> None:
        if self.state_path is not None:
            self.world.save(self.state_path)

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def tunnel_port(self) -> int:
        return self.live.tunnel.port

    # --- URLs -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def quc_url(self, region: str) -> str:
        return f"{self.base_url}/quc/{region}/request.php"

    def api_url(self, region: str) -> str:
        return f"{self.base_url}/api/{region}"

    def config(self) -> dict[str, Any]:
        from .world import REGIONS

        return {
            "quc_url": f"{self.base_url}/quc/{{region}}/request.php",
            "api_url": f"{self.base_url}/api/{{region}}",
            "regions": {
                r: {
                    "quc_url": self.quc_url(r),
                    "api_url": self.api_url(r),
                    "iotext_url": f"{self.base_url}/live/{r}/iotext",
                    "license_url": f"{self.base_url}/live/{r}/licenseext",
                    "schedule_url": f"{self.base_url}/live/{r}/schedule",
                }
                for r in REGIONS
            },
            "dispatcher_url": f"{self.base_url}/v1/list/ip",
            "push_host": self.host,
            "push_port": self.push.port,
            "rsa_public_key": self.world.keypair.public_spki_b64(),
            "accounts": [
                {"username": a.username, "password": a.password, "region": a.region, "qid": a.qid}
                for a in self.world.accounts.values()
            ],
        }

    def _sign(self, bucket: str, obj: str, expires: int) -> str:
        mac = hmac.new(
            self.world.oss_secret.encode(),
            f"GET\n\n\n{expires}\n/{bucket}/{obj}".encode(),
            hashlib.sha1,
        )
        return base64.b64encode(mac.digest()).decode()

    def bucket(self, region: str = "eu1") -> str:
        return f"botslab-{region}"

    def oss_url(self, obj: str, expires: int, bucket: str | None = None, *, base: str = "") -> str:
        bucket = bucket or self.bucket()
        sig = quote(self._sign(bucket, obj, expires), safe="")
        query = f"Expires={expires}&OSSAccessKeyId=LTAIemulator&Signature={sig}"
        base = base or self.faults.media_base_url or self.base_url
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
        found = self.world.find_message(obj)
        if found is None or (found[0].qid != qid and self.world.role(qid, found[1]) is None):
            return None
        expires = int(self.world.now()) + self.world.url_ttl
        return {"expire_time": expires, "url": self.oss_url(obj, expires, bucket)}

    # --- events ---------------------------------------------------------------------------
    def _known_alias(self, alias: str) -> bool:
        return any(a.push_alias == alias for a in self.world.accounts.values())

    def _on_message(self, msg: Message, dev: Device) -> None:
        # the snapshot is drawn from the message on first download (deterministic), see _oss
        if not self.world.push_allowed(msg):
            return
        acc = self.world.accounts[msg.qid]
        self.push.publish(
            acc.push_alias,
            {
                "msg_id": msg.id,
                "product_key": msg.product_key,
                "device_name": msg.device_name,
                "event_type": msg.event_type,
                "ctime": msg.ctime,
            },
        )

    async def trigger(self, device_name: str, event_type: str, **kw: Any) -> dict[str, Any]:
        """Make an event as a device would: a message per viewer, a snapshot, a push."""
        dev = self.world.devices.get(device_name)
        if dev is not None and dev.clip_encrypt == "chacha2":
            await shared_clip(self.faults.clip_media)
        result = self.world.trigger(device_name, event_type, **kw)
        if result["msg_id"] is not None:
            result["pushed_at"] = self.push.last_push_write.get(result["msg_id"])
        return result

    def _message_id(self, seq: int) -> str:
        """A new message's wire id: opaque by default (a random part first, so that ids are
        neither numbers nor in order), or the sequence number (the easy form)."""
        if self.faults.message_ids in ("numeric", "number"):
            return str(seq)
        return f"{secrets.token_hex(5)}-{seq:x}"

    def choose_secretkey(self, media: str = "canonical") -> str:
        """A clip key whose ciphertext a player can carry: for the canonical clip one that
        needs no escape bytes (the segments keep their length), for the real clip one whose
        slices do not end in 00 (protocol.md 3.3; liveview.md 8.4). The encrypted segments
        are kept for the key."""
        clip = _clips.get(media)
        assert clip is not None, "shared_clip(media) first"
        for _ in range(50):
            key = secrets.token_hex(16)
            if media == "real":
                found = {
                    n: encrypt_real_segment(seg, key.encode()) for n, seg in clip.segments.items()
                }
            else:
                found = {n: layout.encrypt(key.encode()) for n, layout in _layouts.items()}
            if all(v is not None for v in found.values()):
                self._keys[key] = {n: v for n, v in found.items() if v is not None}
                while len(self._keys) > 64:
                    self._keys.pop(next(iter(self._keys)))
                return key
        raise RuntimeError("no clean clip key found")

    async def take_snapshot(self, dev: Device) -> str:
        token = secrets.token_hex(6)
        obj = f"snapshots/{dev.device_name}/take-{token}.jpg"
        self.world.cache_snapshot(
            obj, snapshot_jpeg(dev.title, int(self.world.now()), "Snapshot", seed=hash(token))
        )
        return self.oss_url(obj, int(self.world.now()) + self.world.url_ttl)

    # --- HTTP -----------------------------------------------------------------------------
    @web.middleware
    async def _faults_mw(self, request: web.Request, handler: Any) -> web.StreamResponse:
        path = request.path
        self.counters.hit(path)
        if not path.startswith("/_emulator/"):
            f = self.faults
            if f.delay_ms and path.startswith(f.delay_path):
                await asyncio.sleep(f.delay_ms / 1000)
            if f.errors_left > 0 and path.startswith(f.error_path):
                f.errors_left -= 1
                return web.Response(status=f.error_status, text="Service Unavailable")
        response: web.StreamResponse = await handler(request)
        return response

    def _routes(self, app: web.Application) -> None:
        async def quc_handler(request: web.Request) -> web.StreamResponse:
            return await quc.handle_request(request, self)

        app.router.add_post("/quc/{region}/request.php", quc_handler)
        for route in gateway.ROUTES:
            app.router.add_route(
                route.method, "/api/{region}" + route.path, gateway.make_handler(self, route)
            )
        app.router.add_get("/v1/list/ip", self._dispatcher)
        app.router.add_get("/oss/{bucket}/{obj:.+}", self._oss)
        from .control import add_control_routes

        add_control_routes(app, self)
        from .live.http import add_live_routes

        add_live_routes(app, self)
        app.router.add_route("*", "/api/{region}/{tail:.*}", self._not_found)

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"code": codes.NOT_FOUND, "msg": "not found", "data": None}, status=404
        )

    async def _dispatcher(self, request: web.Request) -> web.Response:
        if request.query.get("appId") not in {"venqoyon9hcc", "gqrwex6nq54m"}:
            return web.json_response({"code": 1, "msg": "unknown appId", "data": []})
        if not request.query.get("device_id"):
            return web.json_response({"code": 1, "msg": "device_id required", "data": []})
        server: dict[str, Any] = {"ip": self.push.host, "p": self.push.port}
        if self.faults.dispatcher_omit_port:
            del server["p"]  # the client must then take port 80 (here: the config's push_port)
        return web.json_response({"code": 0, "data": [server]})

    async def _oss(self, request: web.Request) -> web.StreamResponse:
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
        if obj.startswith("snapshots/"):
            data = self.world.snapshot_cache.get(obj)
            if data is None:
                found = self.world.find_message(obj)
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
                self.world.cache_snapshot(obj, data)
            return web.Response(body=data, content_type="image/jpeg")
        if obj.startswith("clips/"):
            return await self._clip(bucket, obj, expires)
        return _oss_error(404, "NoSuchKey", "The specified key does not exist.")

    async def _clip(self, bucket: str, obj: str, expires: int) -> web.StreamResponse:
        # clips/<dn>/<mid>.m3u8 or clips/<dn>/<mid>/segN.ts
        parts = obj.split("/")
        if len(parts) == 3 and parts[2].endswith(".m3u8"):
            found = self.world.find_message(obj)
            segment = None
        elif len(parts) == 4 and parts[3].endswith(".ts"):
            found = self.world.find_message("/".join(parts[:3]) + ".m3u8")
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
                        self.oss_url(
                            f"{base}/{line}", expires, bucket, base=self.faults.segment_base_url
                        )
                    )
                else:
                    lines.append(line)
            return web.Response(
                text="\n".join(lines) + "\n", content_type="application/vnd.apple.mpegurl"
            )
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

    def loopback_only(self, request: web.Request) -> bool:
        remote = request.remote or ""
        try:
            return ipaddress.ip_address(remote).is_loopback
        except ValueError:
            return False

    def snapshot_state(self) -> dict[str, Any]:
        return {
            "push": asdict(self.push.stats),
            "push_connections": len(self.push.conns),
            "requests": dict(self.counters.requests),
        }


def _oss_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


__all__ = ["Emulator", "shared_clip"]
