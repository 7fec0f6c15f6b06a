"""A live-view session (liveview.md 9): setup over HTTP, the tunnel signalling with the device,
the TCP and QTP relay legs, decryption and keyframe gating, as an async iterator of access units.

    session = LiveSession(client, device)
    await session.start()
    async for frame in session:      # LiveFrame(ts_ms, au, keyframe)
        ...
    await session.stop()

Errors end the iteration with a LiveError whose `reason` says what happened (device asleep,
audio only, relay refused, keys rotated, stream lost, setup failed).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import deque
from collections.abc import AsyncIterator, Callable
import contextlib
from dataclasses import dataclass, field
import logging
import random
import time
from typing import TYPE_CHECKING, Any
import uuid

from .. import safejson
from ..exceptions import ApiError, BotslabConnectionError, BotslabError, ProtocolError
from ..models import CameraKeys, Device, code_of
from . import setup, tunnel
from .frames import CLASS_AUDIO, CLASS_IFRAME, CLASS_PFRAME, AppFrame, login_frame, start_frame
from .media import decrypt_au, frame_key, is_keyframe, parse_body
from .qtp import QtpLeg
from .relay import RelayRefused, TcpRelay, open_tcp_relay
from .signing import (
    BASE_CAPACITY_KEY,
    envelope,
    machine_id,
    open_data,
    reply_key,
    requester_id,
    signalling_index,
)

if TYPE_CHECKING:
    from ..client import BotslabClient

_LOGGER = logging.getLogger(__name__)
PLAY_TYPE_AUX = base64.b64encode(
    b'{"pct":3, "bitrate":1, "os":"1", "f":0, "rfd":0, "sp":0, "vfs":0, "mc":"", "ver":"220802"}'
).decode()
CACHE_S = 30 * 60
# memory: a frame may be up to 4 MiB (frames.MAX_BODY), so frame counts alone allow gigabytes;
# both queues are bounded in bytes too. Raw frames beyond their budget are dropped as they
# come; decoded frames push the oldest out.
RAW_MAX = 512
RAW_MAX_BYTES = 16 * 1024 * 1024
QUEUE_MAX = 90
QUEUE_MAX_BYTES = 16 * 1024 * 1024


class LiveError(BotslabError):
    """A live session could not start or ended; `reason` is a stable key for translations:
    device_asleep, audio_only, relay_refused, keys_rotated, stream_lost, setup_failed."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """A decrypted H.264 access unit (Annex-B) and its device timestamp."""

    ts_ms: int
    au: bytes
    keyframe: bool


@dataclass(slots=True)
class LiveTimers:
    """liveview.md 9's timers (seconds); tests shorten the error timeouts."""

    keepalive: float = 3.0
    register: float = 2.0
    base_capacity: float = 1.0
    req_relay: float = 0.6
    heartbeat: float = 2.0
    rewake: float = 20.0
    reregister: float = 30.0
    qtp_dial_gap: float = 2.0
    qtp_dials: int = 8
    setup_tries: int = 4
    setup_gap: float = 0.8
    asleep_after: float = 45.0  # no answer to req_relay (two wake calls): the device sleeps
    # replies with flag 0 for this long (and at least 3 of them) before "audio only": the
    # first replies often carry flag 0 before video is authorised (liveview.md 10.1)
    audio_only_after: float = 15.0
    first_frame: float = 30.0  # publishing but no video
    stall: float = 10.0  # no media for this long once flowing


@dataclass
class LiveCache:
    """Keys and tunnel servers, 30 minutes each (liveview.md H2, H3); shared across sessions."""

    keys: dict[str, tuple[float, CameraKeys]] = field(default_factory=dict)
    tunnel: tuple[float, setup.TunnelServers] | None = None


@dataclass(slots=True)
class LiveStats:
    opened_at: float = 0.0
    setup_ms: float = 0.0
    first_frame_ms: float = 0.0
    frames: int = 0
    keyframes: int = 0
    dropped: int = 0
    duplicates: int = 0
    audio: int = 0
    transport: str = ""


def default_keyframe_check(au: bytes) -> bool | None:
    """liveview.md 8.5: test-decode the first keyframe (PyAV if present, strict error
    detection); None when no decoder is available."""
    try:
        import av  # optional: Home Assistant's stream component brings it
    except ImportError:
        return None
    try:
        ctx: Any = av.CodecContext.create("h264", "r")
        # strict error detection; whole-packet decoding makes a bad slice raise
        ctx.options = {"err_detect": "aggressive+explode", "flags2": "+chunks"}
        frames = ctx.decode(av.Packet(au))
        frames += ctx.decode(None)
    except (av.error.FFmpegError, ValueError):
        return False
    return bool(frames)


class LiveSession:
    def __init__(
        self,
        client: BotslabClient,
        device: Device,
        *,
        cache: LiveCache | None = None,
        timers: LiveTimers | None = None,
        keyframe_check: Callable[[bytes], bool | None] | None = default_keyframe_check,
    ) -> None:
        self._client = client
        self._device = device
        self._sn = device.serial
        self._cache = cache or LiveCache()
        self.timers = timers or LiveTimers()
        self._check = keyframe_check
        self.stats = LiveStats()
        self._m2 = client.identity.m2
        self._machine_id = machine_id(self._m2)
        self._requester_id = requester_id(self._m2)
        self._queue: deque[LiveFrame] = deque()
        self._queue_bytes = 0
        self._wakeup = asyncio.Event()
        self._raw: asyncio.Queue[AppFrame] = asyncio.Queue(maxsize=RAW_MAX)
        self._raw_bytes = 0
        self._error: LiveError | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False
        self._stopping: asyncio.Task[None] | None = None  # the stop a failure started
        self._tunnel_transport: asyncio.DatagramTransport | None = None
        self._tcp: TcpRelay | None = None
        self._qtp: QtpLeg | None = None
        self._keys: CameraKeys | None = None
        self._usign: setup.RelaySign | None = None
        self._servers: tuple[tuple[str, int], ...] = ()
        self._conv = random.getrandbits(32)
        self._index = 0
        self._cts = 0
        self._publishing = False
        self._flag = -1
        self._flag_zero = 0
        self._flag_zero_since = 0.0
        self._base_capacity_done = False
        self._last_media = 0.0
        self._good_keyframe = False
        self._refetched_at: float | None = None
        self._seen: deque[tuple[int, int]] = deque(maxlen=64)
        self._connect_replies = 0

    def __repr__(self) -> str:
        return f"LiveSession(device={self._sn!r}, transport={self.stats.transport!r})"

    @property
    def device_title(self) -> str:
        return self._device.title

    @property
    def running(self) -> bool:
        return not self._stopped and self._error is None

    @property
    def error(self) -> LiveError | None:
        return self._error

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Setup (H2-H7), then the media legs, the wake call and the tunnel. Raises LiveError
        if setup fails; later failures end the iteration."""
        self.stats.opened_at = time.monotonic()
        try:
            relay = await self._setup()
            self.stats.setup_ms = (time.monotonic() - self.stats.opened_at) * 1000
            await self._open_tunnel()
            await self._wake()
        except LiveError:
            await self.stop()
            raise
        except BotslabError as err:
            await self.stop()
            raise LiveError("setup_failed", f"live view setup failed: {err}") from err
        # both legs at once, in the background: the TCP relay may never answer its LOGIN
        # while video comes over QTP (liveview.md 10.1)
        self._spawn(self._open_tcp(relay))
        self._spawn(self._open_qtp(relay))
        self._spawn(self._signalling())
        self._spawn(self._media())

    async def stop(self) -> None:
        """Stop is a flag: sockets close, nothing more is sent (liveview.md 9)."""
        self._stopped = True
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self._tunnel_transport is not None:
            self._tunnel_transport.close()
        if self._qtp is not None:
            self._qtp.close()
        if self._tcp is not None:
            self._tcp.writer.close()
            with contextlib.suppress(Exception):
                await self._tcp.writer.wait_closed()
        self._wakeup.set()

    def __aiter__(self) -> AsyncIterator[LiveFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[LiveFrame]:
        while True:
            while self._queue:
                frame = self._queue.popleft()
                self._queue_bytes -= len(frame.au)
                yield frame
            if self._error is not None:
                raise self._error
            if self._stopped:
                return
            self._wakeup.clear()
            await self._wakeup.wait()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._fail(
                exc
                if isinstance(exc, LiveError)
                else LiveError("stream_lost", f"live view stopped: {exc!r}")
            )

    def _fail(self, error: LiveError) -> None:
        if self._error is None and not self._stopped:
            _LOGGER.debug("%s: %s", self._sn, error)
            self._error = error
            self._wakeup.set()
            self._stopping = asyncio.get_running_loop().create_task(self.stop())

    # --- setup (liveview.md 9, setup phase) -----------------------------------------------
    async def _camera_keys(self, *, fresh: bool = False) -> CameraKeys:
        cached = self._cache.keys.get(self._sn)
        if cached is not None and not fresh and cached[0] > time.monotonic():
            return cached[1]
        keys = await self._client.camera_keys(self._device)
        if not keys.secret_keys:
            raise ProtocolError("no media keys")
        self._cache.keys[self._sn] = (time.monotonic() + CACHE_S, keys)
        return keys

    async def _tunnel_servers(self) -> setup.TunnelServers:
        cached = self._cache.tunnel
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        servers = await setup.cloud_control(self._client.http_session, self._client.endpoints)
        self._cache.tunnel = (time.monotonic() + CACHE_S, servers)
        return servers

    async def _setup(self) -> setup.Schedule:
        last: Exception | None = None
        for attempt in range(self.timers.setup_tries):
            if attempt:
                await asyncio.sleep(self.timers.setup_gap)
            try:
                return await self._setup_once()
            except (ApiError, ProtocolError, BotslabConnectionError) as err:
                last = err
                _LOGGER.debug("%s: live setup attempt %s failed: %r", self._sn, attempt + 1, err)
        code = f" (code {last.code})" if isinstance(last, ApiError) else ""
        raise LiveError("setup_failed", f"the cloud refused the live stream{code}") from last

    async def _setup_once(self) -> setup.Schedule:
        if self._client.session is None:
            await self._client.login()  # otherwise the running sid is reused
        http, endpoints = self._client.http_session, self._client.endpoints
        keys, servers = await asyncio.gather(self._camera_keys(), self._tunnel_servers())
        self._keys = keys
        self._servers = tuple((host, servers.port) for host in servers.hosts)

        async def schedule_1() -> setup.Schedule:
            own = await setup.relay_sign(http, endpoints, keys.license, self._sn)
            return await self._schedule(1, own)

        sign, first = await asyncio.gather(
            setup.relay_sign(http, endpoints, keys.license, self._sn), schedule_1()
        )
        self._usign = sign
        self._index = signalling_index(keys.secret_keys)
        self._cts = int(time.time() * 1000)
        await self._register()
        try:
            video = await self._schedule("bf", sign, stream_id=first.stream_id)
        except (ApiError, ProtocolError, BotslabConnectionError) as err:
            _LOGGER.debug("%s: video authorisation failed: %r", self._sn, err)
            return first
        return video if video.servers and video.ukey else first

    async def _schedule(
        self, kind: int | str, sign: setup.RelaySign, *, stream_id: str = ""
    ) -> setup.Schedule:
        """One `/substream` call (H5-H7) with this viewer's identities; the channel falls back
        to the product key when the relay sign named none."""
        assert self._keys is not None
        session = self._client.session
        return await setup.schedule(
            self._client.http_session,
            self._client.endpoints,
            kind=kind,
            product_id=self._keys.license.product_id,
            sn=self._sn,
            usign=sign.sign,
            sname=sign.sname or self._device.product_key,
            uid=session.user_id if session is not None else "",
            machine_id=self._machine_id,
            stream_id=stream_id,
        )

    async def _register(self) -> None:
        """H6 schedule_2: registers this viewer; failures are only logged."""
        if self._keys is None or self._usign is None:
            return
        try:
            await self._schedule(2, self._usign)
        except (ApiError, ProtocolError, BotslabConnectionError) as err:
            _LOGGER.debug("%s: viewer registration failed: %r", self._sn, err)

    # --- start phase ----------------------------------------------------------------------
    async def _wake(self) -> None:
        result = await self._client.wake_up(self._device)
        if result.error_no:
            _LOGGER.debug("%s: wake-up answered %s", self._sn, result.error_no)

    async def _open_tcp(self, relay: setup.Schedule) -> None:
        """The TCP leg. A refusal ends the session; silence (no login result) does not: the
        leg is left, video comes over QTP. Its closing ends the session only when it carried
        the video."""
        try:
            tcp, early = await open_tcp_relay(
                relay.servers[0],
                stream_id=relay.stream_id or f"{self._sn}_01_01",
                ukey=relay.ukey,
                cluster=relay.cluster_id,
                product_key=self._device.product_key,
            )
        except RelayRefused as err:
            raise LiveError("relay_refused", "the media relay refused the stream") from err
        except (BotslabConnectionError, ProtocolError) as err:
            _LOGGER.debug("%s: TCP relay leg left: %s", self._sn, err)
            return
        self._tcp = tcp
        for frame in early:
            self._offer(frame, "tcp")
        while True:
            data = await tcp.reader.read(65536)
            if not data:
                if self.stats.transport == "qtp":
                    _LOGGER.debug("%s: the TCP relay leg closed; video goes on over QTP", self._sn)
                    return
                raise LiveError("stream_lost", "the media relay closed the stream")
            for frame in tcp.frames.feed(data):
                self._offer(frame, "tcp")

    async def _open_qtp(self, relay: setup.Schedule) -> None:
        address = setup.host_port(relay.servers[0])
        if address is None:
            raise ProtocolError("media relay address is not host:port")
        host, port = address
        login = login_frame(
            relay.stream_id or f"{self._sn}_01_01",
            relay.ukey,
            relay.cluster_id,
            self._device.product_key,
        )
        for dial in range(self.timers.qtp_dials):
            if dial:
                await asyncio.sleep(self.timers.qtp_dial_gap)
            leg = QtpLeg(lambda frame: self._offer(frame, "qtp"))
            try:
                await leg.dial(host, port)
                result = await leg.login(login)
            except BotslabConnectionError as err:
                leg.close()
                _LOGGER.debug("%s: QTP dial %s failed: %s", self._sn, dial + 1, err)
                continue
            if result.login_ok is False:
                leg.close()
                raise LiveError("relay_refused", "the media relay refused the stream")
            self._qtp = leg  # never redialled once connected (liveview.md 9)
            return

    def _tunnel_send(self, data_for: Callable[[int], bytes], *, new_conv: bool = False) -> None:
        transport = self._tunnel_transport
        if transport is None or transport.is_closing() or self._stopped:
            return
        self._conv = (self._conv + 1) & 0xFFFFFFFF
        for server in self._servers:
            if new_conv:
                self._conv = (self._conv + 1) & 0xFFFFFFFF
            transport.sendto(data_for(self._conv), server)

    async def _open_tunnel(self) -> None:
        loop = asyncio.get_running_loop()
        session = self

        class Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                session._datagram(data)

            def error_received(self, exc: Exception) -> None:
                _LOGGER.debug("tunnel: %s", exc)

        transport, _ = await loop.create_datagram_endpoint(
            Protocol,
            local_addr=("0.0.0.0", 0),  # replies come from any tunnel server
        )
        self._tunnel_transport = transport
        mid, pid, sn = (
            self._machine_id,
            self._keys.license.product_id if self._keys else "",
            self._sn,
        )
        self._tunnel_send(lambda c: tunnel.wrap(0x03, 0x01, c, tunnel.open_payload(mid, pid, sn)))
        await asyncio.sleep(0.15)
        self._tunnel_send(
            lambda c: tunnel.wrap(0x02, 0x04, c, tunnel.connect_payload(mid, pid, sn)),
            new_conv=True,
        )
        for _ in range(40):  # wait (up to 2 s) for CONNECT's echo
            if self._connect_replies:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.15)
        self._tunnel_send(
            lambda c: tunnel.wrap(0x04, 0x01, c, tunnel.register_payload(mid, pid, sn))
        )
        await asyncio.sleep(0.15)
        self._tunnel_send(lambda c: tunnel.wrap(0x02, 0x03, c, tunnel.probe_payload(mid)))
        await asyncio.sleep(0.2)

    # --- signalling (liveview.md 5.4) -----------------------------------------------------
    def _send_signal(self, inner: dict[str, Any], *, fixed: bool) -> None:
        keys = self._keys
        if keys is None:
            return
        tm = int(time.time() * 1000)
        if fixed:
            content = envelope(self._sn, tm, inner, BASE_CAPACITY_KEY, bc=1)
        else:
            key = keys.secret_keys[self._index].encode("ascii")
            content = envelope(self._sn, tm, inner, key, index=self._index, algo=1)
        pid = keys.license.product_id
        self._tunnel_send(
            lambda c: tunnel.xmsg(
                c, self._machine_id, pid, self._sn, msg_id=int(time.time() * 1e6), content=content
            )
        )

    def _heartbeat(self) -> dict[str, Any]:
        return {
            "model": "netsdk",
            "type": "req_heartbeat",
            "channel_no": 1,
            "device_sn": self._sn,
            "publish_sn": f"{self._sn}_01_01",
            "play_type": 1,
            "requester_id": self._requester_id,
            "requester_ctx": f"{self._machine_id}[cts={self._cts}]",
        }

    def _req_relay(self) -> dict[str, Any]:
        fields = self._heartbeat()
        return {
            "model": "netsdk",
            "type": "req_relay",
            "token": "",  # must stay empty: a uSign here gave audio only
            "channel_no": 1,
            "device_sn": self._sn,
            "publish_sn": fields["publish_sn"],
            "play_type": 1,
            "play_type_aux": PLAY_TYPE_AUX,
            "requester_id": fields["requester_id"],
            "requester_ctx": fields["requester_ctx"],
        }

    def _datagram(self, data: bytes) -> None:
        try:
            head = tunnel.unwrap(data)
        except ProtocolError:
            return
        if head.type == tunnel.TYPE_CONNECT:
            self._connect_replies += 1
            return
        if head.type != tunnel.TYPE_XMSG or self._keys is None:
            return
        keys = self._keys
        self._tunnel_send_ack(data)
        try:
            message = tunnel.read_xmsg(data)
            inner = open_data(str(message.get("data", "")), reply_key(message, keys.secret_keys))
        except ProtocolError as err:
            _LOGGER.debug("%s: signalling dropped: %s", self._sn, err)
            return
        kind = inner.get("type")
        if kind == "base_capacity_res":
            self._base_capacity_done = True
        elif kind == "req_relay_res":
            self._flag = _lra_flag(inner.get("lra"))
            if self._flag == 1:
                self._publishing = True
            elif self._flag == 0:
                self._flag_zero += 1
                if not self._flag_zero_since:
                    self._flag_zero_since = time.monotonic()
                waited = time.monotonic() - self._flag_zero_since
                if self._flag_zero >= 3 and waited >= self.timers.audio_only_after:
                    self._fail(
                        LiveError("audio_only", "the camera only sends audio to this account")
                    )
        elif kind == "res_pub_stream_result":
            self._publishing = True

    def _tunnel_send_ack(self, data: bytes) -> None:
        transport = self._tunnel_transport
        if transport is None or transport.is_closing() or self._keys is None:
            return
        head = tunnel.unwrap(data)
        ack = tunnel.xmsg_ack(
            head.conv, self._machine_id, self._keys.license.product_id, self._sn, data
        )
        for server in self._servers:
            transport.sendto(ack, server)

    async def _signalling(self) -> None:
        """The main loop's timers (liveview.md 9)."""
        loop = asyncio.get_running_loop()
        t = self.timers
        start = loop.time()
        due: dict[str, float] = {}
        mid = self._machine_id
        pid = self._keys.license.product_id if self._keys else ""
        last_wake = start
        while not self._stopped:
            now = loop.time()

            def every(name: str, period: float, now: float = now) -> bool:
                if now >= due.get(name, 0.0):
                    due[name] = now + period
                    return True
                return False

            if every("keepalive", t.keepalive):
                self._tunnel_send(
                    lambda c: tunnel.wrap(0x02, 0x20, c, tunnel.keepalive_payload(mid))
                )
                if self._tcp is not None and not self._tcp.writer.is_closing():
                    self._tcp.send(start_frame())  # in the framing the relay answered in
            if every("register", t.register):
                self._tunnel_send(
                    lambda c: tunnel.wrap(
                        0x04, 0x01, c, tunnel.register_payload(mid, pid, self._sn)
                    )
                )
            if not self._base_capacity_done and every("base_capacity", t.base_capacity):
                self._send_signal(
                    {
                        "type": "base_capacity",
                        "ver": 1,
                        "requester_ctx": uuid.uuid4().hex,
                        "device_sn": self._sn,
                    },
                    fixed=True,
                )
            if self._flag != 1 and every("req_relay", t.req_relay):
                self._send_signal(self._req_relay(), fixed=False)
            if self._publishing and every("heartbeat", t.heartbeat):
                self._send_signal(self._heartbeat(), fixed=False)
            if every("reregister", t.reregister) and now > start:
                self._spawn(self._register())
            media_flowing = self._last_media > 0
            if not self._publishing and not media_flowing:
                if now - last_wake >= t.rewake:
                    last_wake = now
                    self._spawn(self._wake())
                if now - start >= t.asleep_after and not self._flag_zero:
                    # no answer at all; a device that says "audio only" is awake
                    raise LiveError("device_asleep", "the camera did not wake up")
            elif not self.stats.frames and now - start >= t.first_frame:
                raise LiveError("stream_lost", "the camera sent no video")
            if self.stats.frames and time.monotonic() - self._last_media >= t.stall:
                raise LiveError("stream_lost", "the live stream stalled")
            await asyncio.sleep(0.05)

    # --- media (liveview.md 8) ------------------------------------------------------------
    def _offer(self, frame: AppFrame, leg: str) -> None:
        if self._stopped:
            return
        if frame.cls == CLASS_AUDIO:
            self.stats.audio += 1  # audio is not decrypted or passed on
            return
        if frame.cls not in (CLASS_IFRAME, CLASS_PFRAME):
            return
        if not self.stats.transport:
            self.stats.transport = leg
        if self._raw_bytes + len(frame.body) > RAW_MAX_BYTES:
            self.stats.dropped += 1
            return
        try:
            self._raw.put_nowait(frame)
        except asyncio.QueueFull:
            self.stats.dropped += 1
        else:
            self._raw_bytes += len(frame.body)

    async def _media(self) -> None:
        while True:
            frame = await self._raw.get()
            self._raw_bytes -= len(frame.body)
            try:
                body = parse_body(frame.body)
            except ProtocolError:
                self.stats.dropped += 1
                continue
            if (body.seq, body.ts_ms) in self._seen:
                self.stats.duplicates += 1  # the same frame over the other leg
                continue
            self._seen.append((body.seq, body.ts_ms))
            self._last_media = time.monotonic()
            keyframe = is_keyframe(body.au)
            if not self._good_keyframe and not keyframe:
                self.stats.dropped += 1  # P-frames wait for a good keyframe
                continue
            au = await self._decrypt(body.key_index, body.au, keyframe)
            if au is None:
                continue
            if not self.stats.frames:
                self.stats.first_frame_ms = (time.monotonic() - self.stats.opened_at) * 1000
            self.stats.frames += 1
            self.stats.keyframes += keyframe
            self._enqueue(LiveFrame(body.ts_ms, au, keyframe))

    def _enqueue(self, frame: LiveFrame) -> None:
        """A decoded frame for the reader; the oldest go when the reader is behind by more
        than QUEUE_MAX frames or QUEUE_MAX_BYTES."""
        self._queue.append(frame)
        self._queue_bytes += len(frame.au)
        while len(self._queue) > 1 and (
            len(self._queue) > QUEUE_MAX or self._queue_bytes > QUEUE_MAX_BYTES
        ):
            self._queue_bytes -= len(self._queue.popleft().au)
            self.stats.dropped += 1
        self._wakeup.set()

    async def _decrypt(self, index: int, au: bytes, keyframe: bool) -> bytes | None:
        """Decrypt an access unit. Every keyframe is test-decoded (liveview.md 8.5 checks only
        the first; checking each one also catches keys rotated mid-session): a failure drops
        P-frames until a good keyframe, and fetches the keys again (at most once a minute);
        failing again with fresh keys, or an index the fresh keys lack, is an error."""
        keys = self._keys
        assert keys is not None
        if index not in keys.secret_keys and self._may_refetch():
            keys = await self._refetch_keys()
        if index not in keys.secret_keys:
            # liveview.md 8.3 falls back to the signalling key, which would decrypt to garbage
            # unnoticed: an index the account lacks is an error instead
            raise LiveError("keys_rotated", f"the camera uses a key this account lacks ({index})")
        plain = decrypt_au(au, frame_key(keys.secret_keys, index))
        if not keyframe:
            return plain
        ok = await asyncio.to_thread(self._check, plain) if self._check is not None else None
        if ok is False:
            self._good_keyframe = False
            self.stats.dropped += 1
            if not self._may_refetch():
                raise LiveError("keys_rotated", "the live video does not decrypt")
            await self._refetch_keys()
            return None
        self._good_keyframe = True
        return plain

    def _may_refetch(self) -> bool:
        return self._refetched_at is None or time.monotonic() - self._refetched_at > 60

    async def _refetch_keys(self) -> CameraKeys:
        self._refetched_at = time.monotonic()
        self._keys = await self._camera_keys(fresh=True)
        self._index = signalling_index(self._keys.secret_keys)  # signalling follows the new set
        return self._keys


def _lra_flag(lra: Any) -> int:
    """`flag` of req_relay_res's Base64 `lra` object (1 = video, 0 = audio only)."""
    try:
        loaded = safejson.loads(base64.b64decode(str(lra), validate=True))
        flag = code_of(loaded.get("flag")) if isinstance(loaded, dict) else None
        return -1 if flag is None else flag
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        return -1
