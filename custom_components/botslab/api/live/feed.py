"""The live feed Home Assistant's stream component reads: a loopback TCP server that serves the
live session as MPEG-TS (liveview.md 10, without the ffmpeg process).

Connecting starts a session if none runs; a new viewer gets the tables and the current group of
pictures first, so it starts on a keyframe; the session stops `idle_s` after the last viewer
leaves (also armed when the URL is handed out, in case nobody connects), so that battery
devices go back to sleep. The listening port stays the same for the feed's life: the stream
component keeps the URL it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import contextlib
import logging
from typing import Any

from .session import LiveError, LiveFrame, LiveSession
from .tsmux import TsMuxer

_LOGGER = logging.getLogger(__name__)
IDLE_S = 25.0
FIRST_FRAME_S = 8.0
MAX_GOP_FRAMES = 300
# the keyframe group kept for a viewer who joins: bounded in bytes too (a frame may be 4 MiB);
# a group past either bound is dropped, and collecting resumes at the next keyframe
MAX_GOP_BYTES = 16 * 1024 * 1024
MAX_BUFFERED = 8 * 1024 * 1024  # a viewer further behind than this is dropped
FRAME_90K = 6000  # 15 fps when timestamps jump


class LiveFeed:
    def __init__(
        self,
        open_session: Callable[[], LiveSession],
        *,
        idle_s: float = IDLE_S,
        first_frame_s: float = FIRST_FRAME_S,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._open_session = open_session
        self.idle_s = idle_s
        self.first_frame_s = first_frame_s
        self._on_change = on_change
        self._server: asyncio.Server | None = None
        self._session: LiveSession | None = None
        self._pump: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock = asyncio.Lock()
        self._viewers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._chores: set[asyncio.Task[None]] = set()
        self._idle: asyncio.TimerHandle | None = None
        self._first_frame = asyncio.Event()
        self._muxer = TsMuxer()
        self._gop: list[bytes] = []
        self._gop_bytes = 0
        self._gop_open = False  # the group began with a keyframe and is within its bounds
        self._anchor: tuple[int, int] | None = None  # (device ts, pts)
        self._last_pts = 0
        self.last_error: LiveError | None = None
        self.sessions = 0
        self.port = 0

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def streaming(self) -> bool:
        return self._session is not None and self._session.running

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    @property
    def session(self) -> LiveSession | None:
        return self._session

    # --- the URL ----------------------------------------------------------------------------
    async def open(self, wait: float | None = None) -> str:
        """The feed's URL once the first frame is there (or `wait`, by default
        `first_frame_s`, has passed); LiveError if the session cannot start or fails before
        its first frame."""
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
        await self._ensure_session()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.first_frame_s if wait is None else wait):
                await self._first_frame.wait()
        if self._session is None and self.last_error is not None:
            raise self.last_error
        self._arm_idle()
        return self.url

    async def close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        if self._server is not None:
            self._server.close()
        for writer in list(self._viewers):
            writer.close()
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._chores:
            await asyncio.gather(*self._chores, return_exceptions=True)
        await self._stop_session()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # --- the session ------------------------------------------------------------------------
    async def _ensure_session(self) -> None:
        async with self._starting:
            if self._session is not None and self._session.running:
                return
            await self._stop_session()
            session = self._open_session()
            self._first_frame.clear()
            self._drop_gop()
            try:
                await session.start()
            except LiveError as err:
                self.last_error = err
                raise
            self.last_error = None
            self.sessions += 1
            self._session = session
            self._pump = asyncio.get_running_loop().create_task(self._run(session))
            self._changed()

    async def _stop_session(self) -> None:
        session, pump = self._session, self._pump
        self._session, self._pump = None, None
        if session is not None:
            await session.stop()
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        if session is not None:
            self._changed()

    async def _run(self, session: LiveSession) -> None:
        try:
            async for frame in session:
                self._publish(frame)
        except LiveError as err:
            self.last_error = err
            _LOGGER.info("live view of %s ended: %s", session.device_title, err)
        finally:
            if self._session is session:
                # viewers see the end; the stream component reconnects, which opens anew
                for writer in list(self._viewers):
                    writer.close()
                self._session = None
                self._first_frame.set()
                self._background(session.stop())
                self._changed()

    def _pts(self, ts_ms: int) -> int:
        if self._anchor is not None:
            delta = ts_ms - self._anchor[0]
            if 0 <= delta <= 2000:
                pts = self._anchor[1] + delta * 90
                if pts > self._last_pts:
                    self._last_pts = pts
                    return pts
        # the first frame, a jump or a step back: re-anchor, one frame on
        pts = self._last_pts + FRAME_90K if self._last_pts else 90000
        self._anchor = (ts_ms, pts)
        self._last_pts = pts
        return pts

    def _publish(self, frame: LiveFrame) -> None:
        packets = self._muxer.mux(frame.au, self._pts(frame.ts_ms), keyframe=frame.keyframe)
        self._keep(packets, frame.keyframe)
        self._first_frame.set()
        for writer in list(self._viewers):
            transport = writer.transport
            if transport.is_closing() or transport.get_write_buffer_size() > MAX_BUFFERED:
                writer.close()
                self._viewers.discard(writer)
                continue
            writer.write(packets)

    def _drop_gop(self) -> None:
        self._gop.clear()
        self._gop_bytes = 0
        self._gop_open = False

    def _keep(self, packets: bytes, keyframe: bool) -> None:
        """Keep the current keyframe group for viewers who join: from its keyframe on, within
        MAX_GOP_FRAMES and MAX_GOP_BYTES; a group past them is dropped until the next one."""
        if keyframe:
            self._drop_gop()
            self._gop_open = True
        if not self._gop_open:
            return
        if len(self._gop) >= MAX_GOP_FRAMES or self._gop_bytes + len(packets) > MAX_GOP_BYTES:
            self._drop_gop()
            return
        self._gop.append(packets)
        self._gop_bytes += len(packets)

    # --- viewers ----------------------------------------------------------------------------
    def _arm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = None
        if not self._viewers:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(self.idle_s, lambda: self._background(self._idle_stop()))

    async def _idle_stop(self) -> None:
        self._idle = None
        if not self._viewers and self._session is not None:
            _LOGGER.debug("no viewer for %s s: stopping the live session", self.idle_s)
            await self._stop_session()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            try:
                await self._ensure_session()
            except LiveError:
                return
            writer.write(self._muxer.tables() + b"".join(self._gop))
            self._viewers.add(writer)
            while await reader.read(4096):
                pass  # viewers send nothing; EOF means they left
        except (ConnectionError, OSError):
            pass
        finally:
            self._viewers.discard(writer)
            writer.close()
            self._handlers.discard(task)
            if not self._viewers and self._server is not None and self._server.is_serving():
                self._arm_idle()

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        """A task kept referenced until done; close() awaits it (never cancels it)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()
