"""A live-view session (liveview.md 9): the HTTP setup (H2-H7), the TCP and QTP relay legs, and
the two parts it runs between them: `Signalling` (the tunnel to the device and its timers) and
`MediaPipeline` (decryption and keyframe gating). An async iterator of access units:

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
from collections.abc import AsyncIterator
import contextlib
from dataclasses import dataclass, field
import logging
import random
import time
from typing import TYPE_CHECKING, Any

from ..exceptions import ApiError, BotslabConnectionError, BotslabError, ProtocolError
from ..models import CameraKeys, Device
from . import setup
from .frames import AppFrame, login_frame, start_frame
from .pipeline import (
    KeyframeCheck,
    LiveError,
    LiveFrame,
    LiveStats,
    MediaPipeline,
    default_keyframe_check,
)
from .qtp import QtpLeg
from .relay import RelayRefused, TcpRelay, open_tcp_relay
from .signalling import LiveTimers, Signalling, ViewerIds
from .signing import machine_id, requester_id

if TYPE_CHECKING:
    from ..client import BotslabClient

_LOGGER = logging.getLogger(__name__)
CACHE_S = 30 * 60


@dataclass
class LiveCache:
    """Keys and tunnel servers, 30 minutes each (liveview.md H2, H3); shared across sessions."""

    keys: dict[str, tuple[float, CameraKeys]] = field(default_factory=dict)
    tunnel: tuple[float, setup.TunnelServers] | None = None


class LiveSession:
    def __init__(
        self,
        client: BotslabClient,
        device: Device,
        *,
        cache: LiveCache | None = None,
        timers: LiveTimers | None = None,
        keyframe_check: KeyframeCheck | None = default_keyframe_check,
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
        self._error: LiveError | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False
        self._stopping: asyncio.Task[None] | None = None  # the stop a failure started
        self._tcp: TcpRelay | None = None
        self._qtp: QtpLeg | None = None
        self._keys: CameraKeys | None = None
        self._usign: setup.RelaySign | None = None
        self._servers: tuple[tuple[str, int], ...] = ()
        self._cts = 0
        self.signalling: Signalling | None = None
        self.pipeline: MediaPipeline | None = None

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
            keys = self._keys
            assert keys is not None
            self.pipeline = MediaPipeline(keys, self._refetch_keys, self.stats, self._check)
            ids = ViewerIds(self._machine_id, self._requester_id, self._cts)
            self.signalling = Signalling(
                self._sn, keys, self._servers, ids, self.timers, conv=random.getrandbits(32)
            )
            await self.signalling.open()
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
        self._spawn(self.signalling.run(self))
        self._spawn(self.pipeline.run())

    async def stop(self) -> None:
        """Stop is a flag: sockets close, nothing more is sent (liveview.md 9)."""
        self._stopped = True
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        if self.signalling is not None:
            self.signalling.close()
        if self._qtp is not None:
            self._qtp.close()
        if self._tcp is not None:
            self._tcp.writer.close()
            with contextlib.suppress(Exception):
                await self._tcp.writer.wait_closed()
        if self.pipeline is not None:
            self.pipeline.close()

    def __aiter__(self) -> AsyncIterator[LiveFrame]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[LiveFrame]:
        pipeline = self.pipeline
        while True:
            for frame in pipeline.take() if pipeline is not None else ():
                yield frame
            if self._error is not None:
                raise self._error
            if self._stopped or pipeline is None:
                return
            await pipeline.wait()

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
            if self.pipeline is not None:
                self.pipeline.wake()
            self._stopping = asyncio.get_running_loop().create_task(self.stop())

    # --- what the signalling loop asks of the session (SignallingHooks) -------------------
    def keepalive(self) -> None:
        if self._tcp is not None and not self._tcp.writer.is_closing():
            self._tcp.send(start_frame())  # in the framing the relay answered in

    def rewake(self) -> None:
        self._spawn(self._wake())

    def reregister(self) -> None:
        self._spawn(self._register())

    def media(self) -> tuple[int, float]:
        last = self.pipeline.last_media if self.pipeline is not None else 0.0
        return self.stats.frames, last

    # --- relay legs to the pipeline -----------------------------------------------------------
    def _offer(self, frame: AppFrame, leg: str) -> None:
        if self.pipeline is not None and not self._stopped:
            self.pipeline.offer(frame, leg)

    async def _refetch_keys(self) -> CameraKeys:
        keys = await self._camera_keys(fresh=True)
        self._keys = keys
        if self.signalling is not None:
            self.signalling.use_keys(keys)  # signalling follows the new set
        return keys

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


__all__ = [
    "LiveCache",
    "LiveError",
    "LiveFrame",
    "LiveSession",
    "LiveStats",
    "LiveTimers",
]
