"""A live-view session (docs/protocol/live-video.md#timers): the HTTP setup (H2-H7), the TCP and QTP
relay legs, and the two parts it runs between them: `Signalling` (the tunnel to the device and its
timers) and `MediaPipeline` (decryption and keyframe gating). An async iterator of access units:

    session = LiveSession(client, device)
    await session.start()
    async for frame in session:      # LiveFrame(ts_ms, au, keyframe)
        ...
    await session.stop()

Errors end the iteration with a LiveError whose `reason` says what happened (device asleep,
audio only, relay refused, keys rotated, stream lost, setup failed, address refused).

Every host the cloud names for live view (the tunnel servers of cloud control, the relays of
the scheduler) is reached only through the endpoints' address guard
(docs/protocol/accepted.md#address-guard): a host that resolves to no public address (unless the
emulator's) is never sent anything.
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

from ..exceptions import (
    AddressRefused,
    ApiError,
    BotslabConnectionError,
    BotslabError,
    ProtocolError,
)
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
from .timeline import LiveTimeline

if TYPE_CHECKING:
    from ..client import BotslabClient

_LOGGER = logging.getLogger(__name__)
CACHE_S = 30 * 60


@dataclass
class LiveCache:
    """Keys and tunnel servers, 30 minutes each (docs/protocol/live-video.md#setup-calls); shared
    across sessions."""

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
        self.timeline = LiveTimeline()  # the stages and the end, for diagnostics
        self.timeline.stats = self.stats
        self._registered = 0  # schedule_2 calls (the first is on the timeline)
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
        # how each relay leg ended (None: still up, or still dialling)
        self._tcp_end: LiveError | None = None
        self._qtp_end: LiveError | None = None
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
        """The wake call beside the setup (H2-H7), then the media legs and the tunnel. Raises
        LiveError if setup fails; later failures end the iteration."""
        self.stats.opened_at = self.timeline.opened = time.monotonic()
        waking: asyncio.Future[None] | None = None
        try:
            if self._client.session is None:
                # before the wake call: it and the setup would otherwise both sign in, and a
                # second sign-in ends the first session
                await self._client.login()
            # the wake call goes out first, beside the setup: a sleeping device boots for
            # seconds, and the setup's round trips (five, on a far cloud) pass meanwhile
            # instead of before it (the public client wakes after the setup;
            # docs/protocol/live-video.md#timers)
            waking = asyncio.ensure_future(self._wake())
            relay = await self._setup()
            self.stats.setup_ms = (time.monotonic() - self.stats.opened_at) * 1000
            keys = self._keys
            assert keys is not None
            tunnel = await self._allowed(self._servers, "tunnel server")
            named = tuple(a for s in relay.servers if (a := setup.host_port(s)) is not None)
            relay_address = (await self._allowed(named, "media relay"))[0]
            self.pipeline = MediaPipeline(keys, self._refetch_keys, self.stats, self._check)
            ids = ViewerIds(self._machine_id, self._requester_id, self._cts)
            self.signalling = Signalling(
                self._sn,
                keys,
                tunnel,
                ids,
                self.timers,
                conv=random.getrandbits(32),
                timeline=self.timeline,
            )
            # both legs at once, in the background: the TCP relay may never answer its LOGIN
            # while video comes over QTP (docs/protocol/accepted.md#live-view); the relay legs, the
            # wake call and the tunnel run concurrently (docs/protocol/live-video.md#timers's start
            # phase)
            self._spawn(self._open_tcp(relay, relay_address))
            self._spawn(self._open_qtp(relay, relay_address))
            steps = (asyncio.ensure_future(self._open_tunnel()), waking)
            try:
                await asyncio.gather(*steps)
            except BaseException:
                # gather leaves the other step running when one fails: it ends here
                for step in steps:
                    step.cancel()
                await asyncio.gather(*steps, return_exceptions=True)
                raise
        except LiveError as err:
            self.timeline.finish(err.reason)
            await self._abandon(waking)
            raise
        except BotslabError as err:
            self.timeline.finish("setup_failed")
            await self._abandon(waking)
            raise LiveError("setup_failed", f"live view setup failed: {err}") from err
        except BaseException:
            # cancelled while starting (Home Assistant's stream source timeout, an unload):
            # the relay legs and the tunnel already run, and nothing else would stop them
            self.timeline.finish("cancelled")
            await self._abandon(waking)
            raise
        self._spawn(self.signalling.run(self))
        self._spawn(self.pipeline.run())

    async def _abandon(self, waking: asyncio.Future[None] | None) -> None:
        """A start that failed: the wake call ends (its answer no longer matters), and
        everything started stops, even if this is cancelled meanwhile."""
        try:
            if waking is not None:
                waking.cancel()
                await asyncio.gather(waking, return_exceptions=True)
        finally:
            await self.stop()

    async def stop(self) -> None:
        """Stop is a flag: sockets close, nothing more is sent
        (docs/protocol/live-video.md#timers)."""
        self.timeline.finish("stopped")
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
            self.timeline.finish(error.reason)
            self._error = error
            if self.pipeline is not None:
                self.pipeline.wake()
            self._stopping = asyncio.get_running_loop().create_task(self.stop())

    # --- what the signalling loop asks of the session (SignallingHooks) -------------------
    def keepalive(self) -> None:
        if self._tcp is not None and not self._tcp.writer.is_closing():
            self._tcp.send(start_frame())  # in the framing the relay answered in

    def rewake(self) -> None:
        self._spawn(self._wake(again=True))

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
        async with self.timeline.stage("keys_again"):
            keys = await self._camera_keys(fresh=True)
        self._keys = keys
        if self.signalling is not None:
            self.signalling.use_keys(keys)  # signalling follows the new set
        return keys

    # --- setup (docs/protocol/live-video.md#timers, setup phase)
    # -----------------------------------------------
    async def _camera_keys(self, *, fresh: bool = False) -> CameraKeys:
        cached = self._cache.keys.get(self._sn)
        if cached is not None and not fresh and cached[0] > time.monotonic():
            self.timeline.mark("keys", "cached")
            return cached[1]
        if fresh:
            keys = await self._client.camera_keys(self._device)
        else:
            async with self.timeline.stage("keys"):
                keys = await self._client.camera_keys(self._device)
        if not keys.secret_keys:
            raise ProtocolError("no media keys")
        self._cache.keys[self._sn] = (time.monotonic() + CACHE_S, keys)
        return keys

    async def _tunnel_servers(self) -> setup.TunnelServers:
        cached = self._cache.tunnel
        if cached is not None and cached[0] > time.monotonic():
            self.timeline.mark("cloud_control", "cached")
            return cached[1]
        async with self.timeline.stage("cloud_control"):
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

        async def relay_sign() -> setup.RelaySign:
            async with self.timeline.stage("relay_sign"):
                return await setup.relay_sign(http, endpoints, keys.license, self._sn)

        async def schedule_1() -> setup.Schedule:
            return await self._schedule(1, await relay_sign())

        sign, first = await asyncio.gather(relay_sign(), schedule_1())
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
        if kind == 2 and self._registered > 1:  # re-registering: only the first is timed
            return await self._schedule_call(kind, sign, stream_id)
        async with self.timeline.stage(f"schedule_{kind}"):
            return await self._schedule_call(kind, sign, stream_id)

    async def _schedule_call(
        self, kind: int | str, sign: setup.RelaySign, stream_id: str
    ) -> setup.Schedule:
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
        self._registered += 1
        try:
            await self._schedule(2, self._usign)
        except (ApiError, ProtocolError, BotslabConnectionError) as err:
            _LOGGER.debug("%s: viewer registration failed: %r", self._sn, err)

    # --- start phase ----------------------------------------------------------------------
    async def _open_tunnel(self) -> None:
        signalling = self.signalling
        assert signalling is not None
        async with self.timeline.stage("tunnel") as step:
            await signalling.open()
            step["outcome"] = (
                f"{signalling.connect_replies} connect replies"
                if signalling.connect_replies
                else "no connect reply"
            )

    async def _wake(self, *, again: bool = False) -> None:
        async with self.timeline.stage("wake_again" if again else "wake") as step:
            result = await self._client.wake_up(self._device)
            if result.error_no:
                step["outcome"] = f"ErrorNO {result.error_no}"
        if result.error_no:
            _LOGGER.debug("%s: wake-up answered %s", self._sn, result.error_no)

    async def _allowed(
        self, named: tuple[tuple[str, int], ...], what: str
    ) -> tuple[tuple[str, int], ...]:
        """The addresses of the hosts the cloud named that the address guard allows, in the
        cloud's order (a refused host is left out); LiveError("address_refused") when none
        is left (docs/protocol/accepted.md#address-guard, issue 24 item 2)."""
        guard = self._client.endpoints.guard
        allowed: list[tuple[str, int]] = []
        refused: list[str] = []
        for host, port in named:
            try:
                allowed.append(await guard.datagram_address(host, port))
            except AddressRefused as err:
                refused.append(err.host)
        if refused:
            _LOGGER.debug("%s: %s refused by address: %s", self._sn, what, ", ".join(refused))
        if not allowed:
            shown = ", ".join(refused) or "none"
            raise LiveError(
                "address_refused",
                f"the cloud named a {what} that is not a public address ({shown})",
            )
        return tuple(allowed)

    def _leg_ended(self, leg: str, error: LiveError) -> None:
        """A relay leg is gone (refused, closed, reset, never answered). The TCP leg's fate
        never ends a session whose QTP leg is up or still dialling: video comes over QTP, and
        the working client ignores how the TCP leg ends (docs/protocol/accepted.md#live-view).
        The session ends when no leg is left, or when the leg that alone carried the video
        closed (then the stream is lost at once, not after the stall timeout)."""
        if leg == "tcp":
            self._tcp_end = error
        else:
            self._qtp_end = error
        other = self._qtp_end if leg == "tcp" else self._tcp_end
        carried = self.pipeline.video_legs if self.pipeline is not None else set()
        if other is not None:
            refused = [e for e in (error, other) if e.reason == "relay_refused"]
            self._fail(refused[0] if refused else error)
        elif carried == {leg}:
            self._fail(error)
        else:
            _LOGGER.debug(
                "%s: the %s relay leg ended (%s); the other goes on", self._sn, leg, error
            )

    async def _open_tcp(self, relay: setup.Schedule, address: tuple[str, int]) -> None:
        """The TCP leg. Silence (no login result), a refusal, a reset or its closing end
        only this leg (see _leg_ended)."""
        began = time.monotonic()
        try:
            tcp, early = await open_tcp_relay(
                self._client.endpoints.guard,
                *address,
                stream_id=relay.stream_id or f"{self._sn}_01_01",
                ukey=relay.ukey,
                cluster=relay.cluster_id,
                product_key=self._device.product_key,
            )
        except AddressRefused as err:  # the connected peer is not the address checked
            self.timeline.mark("relay_tcp", "address_refused", since=began)
            raise LiveError("address_refused", "the media relay is not a public address") from err
        except RelayRefused:
            self.timeline.mark("relay_tcp", "refused", since=began)
            self._leg_ended("tcp", LiveError("relay_refused", "the media relay refused the stream"))
            return
        except (BotslabConnectionError, ProtocolError) as err:
            self.timeline.mark("relay_tcp", type(err).__name__, since=began)
            self._leg_ended("tcp", LiveError("stream_lost", f"the TCP media relay: {err}"))
            return
        self.timeline.mark("relay_tcp", "connected", since=began)
        self._tcp = tcp
        for frame in early:
            self._offer(frame, "tcp")
        why = "the media relay closed the stream"
        try:
            while data := await tcp.reader.read(65536):
                for frame in tcp.frames.feed(data):
                    self._offer(frame, "tcp")
        except (OSError, ProtocolError) as err:
            why = f"the media relay connection failed: {err!r}"
        tcp.writer.close()
        self.timeline.mark("relay_tcp_end", "closed" if why.endswith("stream") else "failed")
        self._leg_ended("tcp", LiveError("stream_lost", why))

    async def _open_qtp(self, relay: setup.Schedule, address: tuple[str, int]) -> None:
        host, port = address
        login = login_frame(
            relay.stream_id or f"{self._sn}_01_01",
            relay.ukey,
            relay.cluster_id,
            self._device.product_key,
        )
        guard = self._client.endpoints.guard
        began = time.monotonic()
        for dial in range(self.timers.qtp_dials):
            if dial:
                await asyncio.sleep(self.timers.qtp_dial_gap)
            leg = QtpLeg(lambda frame: self._offer(frame, "qtp"))
            try:
                await leg.dial(host, port, guard=guard)
                result = await leg.login(login)
            except AddressRefused as err:
                leg.close()
                self.timeline.mark("relay_qtp", "address_refused", since=began)
                raise LiveError(
                    "address_refused", "the media relay is not a public address"
                ) from err
            except (BotslabConnectionError, OSError) as err:
                leg.close()
                _LOGGER.debug("%s: QTP dial %s failed: %r", self._sn, dial + 1, err)
                continue
            if result.login_ok is False:
                leg.close()
                self.timeline.mark("relay_qtp", f"refused (dial {dial + 1})", since=began)
                # QTP carries the video: its refusal ends the session, unless video came
                # over TCP
                error = LiveError("relay_refused", "the media relay refused the stream")
                if self.pipeline is not None and "tcp" in self.pipeline.video_legs:
                    self._leg_ended("qtp", error)
                    return
                raise error
            self._qtp = leg  # never redialled once connected (docs/protocol/live-video.md#timers)
            self.timeline.mark("relay_qtp", f"logged in (dial {dial + 1})", since=began)
            return
        self.timeline.mark("relay_qtp", f"no answer ({self.timers.qtp_dials} dials)", since=began)
        self._leg_ended("qtp", LiveError("stream_lost", "the QTP media relay does not answer"))


__all__ = [
    "LiveCache",
    "LiveError",
    "LiveFrame",
    "LiveSession",
    "LiveStats",
    "LiveTimers",
]
