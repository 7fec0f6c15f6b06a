"""The live feed Home Assistant's stream component reads: a loopback server that serves the
live session as MPEG-TS over HTTP (docs/protocol/live-video.md#into-home-assistant, without the
ffmpeg process).

Only the stream component may read it: the URL it is given carries a secret made for the feed
as the password of its user part (`http://botslab:<secret>@127.0.0.1:<port>/live.ts`, which
PyAV/ffmpeg opens as a streaming HTTP answer). ffmpeg asks without it first, is answered 401
with a Basic challenge, and asks again with `Authorization: Basic`. The secret is not in the
path because Home Assistant's stream component logs the URL (at ERROR when the worker fails to
open it) and hides only a URL's user and password there (`redact_credentials`). A connection
that does not send that request with that secret within HEAD_TIMEOUT (a bare socket, another
path, a wrong password, another program on the host) gets nothing and starts nothing: no
session, no wake-up, no video. At most MAX_VIEWERS read at once (the stream worker and a
reconnect of it), and at most MAX_PENDING connections wait to say what they want.

A viewer let in starts a session if none runs; it gets the tables and the last few seconds
of video first (whole groups of pictures, HISTORY_MS, so it starts on a keyframe): Home
Assistant's HLS output serves nothing before its first segment is complete (6 s of video by
default, 2 s at the least its settings allow), and video the feed already holds fills it at
once. Where it holds less than BACKFILL_S, the oldest keyframe it holds comes first as a still
picture, repeated every 0.2 s with earlier timestamps (the same picture, time stamped before
it): the first segment is then complete as soon as the viewer joins, and the player starts
near the live edge, a part or two before it (Home Assistant's PART-HOLD-BACK), showing the
device's first picture until the live video reaches it. The session stops `idle_s` after
the last viewer leaves (also armed when the URL is handed out, in case nobody connects), so
that battery devices go back to sleep.

`prepare(window)` starts the session with no viewer (a doorbell's ring: the device is awake
anyway): a viewer who comes within the window finds the video there; if none comes, the
session ends with the window, quietly (a failure is only logged at debug level). The port and
the secret stay the same for the feed's life: the stream component keeps the URL it was given.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections import deque
from collections.abc import Callable, Coroutine
import contextlib
import hmac
import logging
import secrets
from typing import Any

from .session import LiveError, LiveFrame, LiveSession
from .timeline import LiveTimeline
from .tsmux import TsMuxer

_LOGGER = logging.getLogger(__name__)
IDLE_S = 25.0
FIRST_FRAME_S = 8.0
MAX_GOP_FRAMES = 300
# the video kept for a viewer who joins: whole keyframe groups covering at least HISTORY_MS
# (Home Assistant's default HLS segment is 6 s), bounded in frames and bytes too (a frame may
# be 4 MiB); past a bound the oldest groups go, and a single group past one is dropped and
# collecting resumes at the next keyframe
HISTORY_MS = 6500
MAX_GOP_BYTES = 16 * 1024 * 1024
MAX_BUFFERED = 8 * 1024 * 1024  # a viewer further behind than this is dropped
FRAME_90K = 6000  # 15 fps when timestamps jump
BASE_PTS = 12 * 90000  # the first frame's timestamp: room for the still picture before it
BACKFILL_S = 10.0  # the longest segment Home Assistant's settings allow
BACKFILL_STEP_90K = 18000  # 0.2 s, the shortest part they allow
MAX_VIEWERS = 3  # the stream worker, and a reconnect of it while the old one goes
MAX_PENDING = 8  # connections that have not sent their request yet
HISTORY = 5  # the last sessions' timelines kept for diagnostics
HEAD_TIMEOUT = 5.0  # seconds a connection has to send its request
HEAD_BYTES = 4096  # the most a request head may take
ANSWER_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nCache-Control: no-store\r\n"
    b"Connection: close\r\n\r\n"
)
ANSWER_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
ANSWER_CHALLENGE = (
    b'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="BOTSLAB live feed"\r\n'
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)
FEED_USER = "botslab"
FEED_PATH = b"/live.ts"
ANSWER_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _size(packets: bytes, picture: tuple[bytes, int] | None) -> int:
    """What a kept frame holds: its packets, and a keyframe's access unit (for the still)."""
    return len(packets) + (len(picture[0]) if picture is not None else 0)


def _basic(credentials: bytes) -> bytes:
    """The user:password of an Authorization field's Basic credentials (b"" for others)."""
    scheme, _, token = credentials.partition(b" ")
    if scheme.lower() != b"basic":
        return b""
    try:
        return base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return b""


class LiveFeed:
    def __init__(
        self,
        open_session: Callable[[], LiveSession],
        *,
        idle_s: float = IDLE_S,
        first_frame_s: float = FIRST_FRAME_S,
        on_change: Callable[[], None] | None = None,
        max_viewers: int = MAX_VIEWERS,
        head_timeout: float = HEAD_TIMEOUT,
    ) -> None:
        self._open_session = open_session
        self.idle_s = idle_s
        self.first_frame_s = first_frame_s
        self.max_viewers = max_viewers
        self.head_timeout = head_timeout
        self._secret = secrets.token_urlsafe(24)
        self._admitted = 0  # viewers let in (reading, or their session starting)
        self._pending = 0  # connections that have not said what they want yet
        self.refused = 0  # connections turned away (no or a wrong request or secret, too many)
        self.challenged = 0  # requests without credentials, answered with the Basic challenge
        self._on_change = on_change
        self._server: asyncio.Server | None = None
        self._closed = False  # for good: nothing starts, nobody hears of changes
        self._session: LiveSession | None = None
        self._pump: asyncio.Task[None] | None = None
        self._starting: asyncio.Lock = asyncio.Lock()
        self._viewers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._chores: set[asyncio.Task[None]] = set()
        self._idle: asyncio.TimerHandle | None = None
        self._first_frame = asyncio.Event()
        self._muxer = TsMuxer()
        # (device ts ms, keyframe, packets, (access unit, pts) of a keyframe) from a keyframe
        # on: what a joining viewer gets
        self._history: deque[tuple[int, bool, bytes, tuple[bytes, int] | None]] = deque()
        self._gop_bytes = 0
        self._gop_open = False  # the history began with a keyframe and is within its bounds
        self.prepared = 0  # sessions started by prepare()
        self._asked = False  # the running session was asked for by a viewer (not only prepared)
        self._anchor: tuple[int, int] | None = None  # (device ts, pts)
        self._last_pts = 0
        self.last_error: LiveError | None = None
        self.sessions = 0
        self.port = 0
        self.history: deque[LiveTimeline] = deque(maxlen=HISTORY)  # newest last

    @property
    def url(self) -> str:
        """Where the stream component reads the feed (it carries the feed's secret: never
        log it)."""
        return f"http://{FEED_USER}:{self._secret}@127.0.0.1:{self.port}{FEED_PATH.decode()}"

    @property
    def streaming(self) -> bool:
        return self._session is not None and self._session.running

    @property
    def watched(self) -> bool:
        """Streaming for a viewer: the URL was asked for or a viewer reads. A session only
        prepared on a ring is not (the camera stays idle, and the logbook quiet, until
        somebody opens it)."""
        return self.streaming and (self._asked or bool(self._viewers))

    def _ask(self) -> None:
        if not self._asked:
            self._asked = True
            if self.streaming:
                self._changed()

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
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_BYTES)
            self.port = self._server.sockets[0].getsockname()[1]
        await self._ensure_session(ask=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.first_frame_s if wait is None else wait):
                await self._first_frame.wait()
        if self._session is None and self.last_error is not None:
            raise self.last_error
        if not self._viewers:  # a prepared window still running is not cut short
            self._arm_idle(max(self.idle_s, self._idle_left()))
        return self.url

    async def prepare(self, window: float) -> bool:
        """Start the session now, for a viewer expected within `window` seconds; it stops
        when the window ends with nobody watching (a viewer extends it as usual). Never
        raises: a session that cannot start is logged at debug level and nothing else.
        Whether a session runs."""
        if self._closed:
            return False
        try:
            if self._server is None:
                server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=HEAD_BYTES)
                if self.closed():  # closed meanwhile (the entry unloads)
                    server.close()
                    return False
                self._server = server
                self.port = server.sockets[0].getsockname()[1]
            running = self._session is not None and self._session.running
            await self._ensure_session(ask=False)
        except LiveError as err:
            _LOGGER.debug("no prepared live view: %s", err.reason)
            return False
        except OSError as err:
            _LOGGER.debug("no prepared live view: %r", err)
            return False
        if not running:
            self.prepared += 1
        if not self._viewers:
            self._arm_idle(max(window, self._idle_left()))
        return True

    def _idle_left(self) -> float:
        if self._idle is None:
            return 0.0
        return max(0.0, self._idle.when() - asyncio.get_running_loop().time())

    def closed(self) -> bool:
        """Whether `close` was called (a method: it may change across an await)."""
        return self._closed

    async def close(self) -> None:
        self._closed = True
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
    async def _ensure_session(self, *, ask: bool) -> None:
        """A running session; `ask`: for a viewer (the URL asked for, or a viewer let in),
        not only prepared."""
        async with self._starting:
            if self._closed:
                raise LiveError("setup_failed", "the live view was closed")
            if self._session is not None and self._session.running:
                if ask:
                    self._ask()
                return
            await self._stop_session()
            session = self._open_session()
            self.history.append(session.timeline)
            self._first_frame.clear()
            self._drop_gop()
            try:
                await session.start()
            except LiveError as err:
                self.last_error = err
                raise
            if self.closed():  # closed while it started (a ring's prepared session, unloaded)
                await session.stop()
                raise LiveError("setup_failed", "the live view was closed")
            self.last_error = None
            self.sessions += 1
            self._session = session
            self._asked = ask
            self._pump = asyncio.get_running_loop().create_task(self._run(session))
            self._changed()

    async def _stop_session(self) -> None:
        session, pump = self._session, self._pump
        self._session, self._pump = None, None
        self._asked = False
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
            # a prepared session nobody watched ends quietly
            level = logging.INFO if self._admitted or self._viewers else logging.DEBUG
            _LOGGER.log(level, "live view of %s ended: %s", session.device_title, err)
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
        pts = self._last_pts + FRAME_90K if self._last_pts else BASE_PTS
        self._anchor = (ts_ms, pts)
        self._last_pts = pts
        return pts

    def _publish(self, frame: LiveFrame) -> None:
        pts = self._pts(frame.ts_ms)
        packets = self._muxer.mux(frame.au, pts, keyframe=frame.keyframe)
        self._keep(
            packets, frame.keyframe, frame.ts_ms, (frame.au, pts) if frame.keyframe else None
        )
        self._first_frame.set()
        for writer in list(self._viewers):
            transport = writer.transport
            if transport.is_closing() or transport.get_write_buffer_size() > MAX_BUFFERED:
                writer.close()
                self._viewers.discard(writer)
                continue
            writer.write(packets)

    def _drop_gop(self) -> None:
        self._history.clear()
        self._gop_bytes = 0
        self._gop_open = False

    @property
    def history_ms(self) -> int:
        """The span of video a viewer who joins now gets at once."""
        if not self._history:
            return 0
        return (self._history[-1][0] - self._history[0][0]) & 0xFFFFFFFF

    def _drop_oldest_group(self) -> bool:
        """Drop the oldest keyframe group if another follows; whether one was dropped."""
        keys = [i for i, (_ts, key, _p, _k) in enumerate(self._history) if key]
        if len(keys) < 2:
            return False
        for _ in range(keys[1]):
            _ts, _key, packets, picture = self._history.popleft()
            self._gop_bytes -= _size(packets, picture)
        return True

    def _keep(
        self,
        packets: bytes,
        keyframe: bool,
        ts_ms: int = 0,
        picture: tuple[bytes, int] | None = None,
    ) -> None:
        """Keep the last keyframe groups for viewers who join: from a keyframe on, the fewest
        whole groups that cover HISTORY_MS, within MAX_GOP_FRAMES and MAX_GOP_BYTES (the
        oldest groups go first; a single group past them is dropped until the next one)."""
        if keyframe:
            self._gop_open = True
        if not self._gop_open:
            return
        self._history.append((ts_ms, keyframe, packets, picture))
        self._gop_bytes += _size(packets, picture)
        while len(self._history) > MAX_GOP_FRAMES or self._gop_bytes > MAX_GOP_BYTES:
            if not self._drop_oldest_group():
                self._drop_gop()
                return
        while True:
            keys = [ts for ts, key, _p, _k in self._history if key]
            newest = self._history[-1][0]
            if len(keys) < 2 or (newest - keys[1]) & 0xFFFFFFFF < HISTORY_MS:
                break
            self._drop_oldest_group()

    def _history_bytes(self) -> bytes:
        return b"".join(packets for _ts, _key, packets, _k in self._history)

    def _backfill(self) -> bytes:
        """The oldest keyframe held, as a still before it: copies every 0.2 s, back to
        BACKFILL_S before the live edge (its own muxer: the live one's counters stay as
        they are)."""
        if not self._history or self._history[0][3] is None:
            return b""
        au, pts = self._history[0][3]
        span = BACKFILL_S * 90000 - self.history_ms * 90
        copies = min(int(span // BACKFILL_STEP_90K), int(BACKFILL_S * 5))
        copies = min(copies, (pts - 90000) // BACKFILL_STEP_90K)
        if copies <= 0:
            return b""
        muxer = TsMuxer()
        return b"".join(
            muxer.mux(au, pts - k * BACKFILL_STEP_90K, keyframe=True) for k in range(copies, 0, -1)
        )

    # --- viewers ----------------------------------------------------------------------------
    def _arm_idle(self, after: float | None = None) -> None:
        if self._idle is not None:
            self._idle.cancel()
        self._idle = None
        if not self._viewers:
            loop = asyncio.get_running_loop()
            wait = self.idle_s if after is None else after
            self._idle = loop.call_later(wait, lambda: self._background(self._idle_stop()))

    async def _idle_stop(self) -> None:
        self._idle = None
        if not self._viewers and self._session is not None:
            _LOGGER.debug("no viewer for %s s: stopping the live session", self.idle_s)
            await self._stop_session()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        admitted = False
        try:
            answer = await self._admit(reader)
            if answer is not None:
                writer.write(answer)
                return
            admitted = True
            self._admitted += 1
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            try:
                await self._ensure_session(ask=True)
            except LiveError:
                writer.write(ANSWER_BUSY)
                return
            writer.write(
                ANSWER_OK + self._muxer.tables() + self._backfill() + self._history_bytes()
            )
            self._viewers.add(writer)
            while await reader.read(4096):
                pass  # viewers send nothing more; EOF means they left
        except (ConnectionError, OSError):
            pass
        finally:
            self._admitted -= admitted
            self._viewers.discard(writer)
            writer.close()
            self._handlers.discard(task)
            # a viewer leaving arms the idle stop; a connection turned away changes nothing
            server = self._server
            if admitted and not self._viewers and server is not None and server.is_serving():
                self._arm_idle()

    async def _admit(self, reader: asyncio.StreamReader) -> bytes | None:
        """None when the connection asked for the feed with its secret and a viewer's place
        is free; else the answer it gets (b"" for one that said nothing an HTTP server reads),
        counted as refused or, for a request without credentials, as challenged. Nothing is
        started before this says yes."""
        if self._pending >= MAX_PENDING:
            self.refused += 1
            return b""
        self._pending += 1
        try:
            async with asyncio.timeout(self.head_timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            self.refused += 1
            return b""
        finally:
            self._pending -= 1
        request, *fields = head.split(b"\r\n")
        method, _, rest = request.partition(b" ")
        target = rest.partition(b" ")[0].partition(b"?")[0]
        if method != b"GET" or target != FEED_PATH:
            self.refused += 1
            return ANSWER_NOT_FOUND
        credentials = None
        for field in fields:
            name, _, value = field.partition(b":")
            if name.strip().lower() == b"authorization":
                credentials = value.strip()
        if credentials is None:
            self.challenged += 1
            return ANSWER_CHALLENGE
        if not hmac.compare_digest(_basic(credentials), f"{FEED_USER}:{self._secret}".encode()):
            self.refused += 1
            return ANSWER_CHALLENGE
        if self._admitted >= self.max_viewers:
            _LOGGER.debug(
                "live feed: a viewer past the %d allowed was turned away", self.max_viewers
            )
            self.refused += 1
            return ANSWER_BUSY
        return None

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        """A task kept referenced until done; close() awaits it (never cancels it)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    def _changed(self) -> None:
        if self._on_change is not None and not self._closed:
            self._on_change()
