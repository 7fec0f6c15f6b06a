"""The media pipeline of a live view (docs/protocol/live-video.md#media-frames): frames from either
relay leg in, decrypted access units out. It drops audio and duplicates (the same frame over both
legs), holds P-frames until a keyframe that decodes, test-decodes only the first keyframe (with the
working client's tolerance of a few decoder errors), gives a keyframe without SPS/PPS the last ones
seen, falls back to the signalling key for a key index it does not know, and asks for fresh keys
once when keys fail. Both queues are bounded in frames and bytes.

    pipeline = MediaPipeline(keys, refetch_keys, stats)
    leg.on_frame = pipeline.offer          # from the TCP or QTP leg
    task = create_task(pipeline.run())     # raises LiveError("keys_rotated") when keys fail
    for frame in pipeline.take(): ...      # then `await pipeline.wait()`
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import logging
import threading
import time
from typing import Any

from ..crypto import nal_spans
from ..exceptions import BotslabError, ProtocolError
from ..models import CameraKeys
from .frames import CLASS_AUDIO, CLASS_IFRAME, CLASS_PFRAME, AppFrame
from .media import decrypt_au, frame_key, is_keyframe, parse_body
from .signing import signalling_index

# memory: a frame may be up to 4 MiB (frames.MAX_BODY), so frame counts alone allow gigabytes;
# both queues are bounded in bytes too. Raw frames beyond their budget are dropped as they
# come; decoded frames push the oldest out.
RAW_MAX = 512
RAW_MAX_BYTES = 16 * 1024 * 1024
QUEUE_MAX = 90
QUEUE_MAX_BYTES = 16 * 1024 * 1024
_LOGGER = logging.getLogger(__name__)
REFETCH_GAP_S = 60.0
# the working client's tolerance: a first keyframe with up to 4 decoder errors is good
# (docs/protocol/live-video.md#keyframe-gate, docs/protocol/accepted.md#live-view)
MAX_KEYFRAME_ERRORS = 4
NO_PICTURE = 1000  # the error count of a keyframe that gives no picture at all
# what the working client counts in the decoder's log (docs/protocol/live-video.md#keyframe-gate)
_ERROR_MARKS = ("decoding mb", "block unavailable", "concealing", "damaged")
_LOG_LOCK = threading.Lock()

# decoder errors of a decrypted keyframe (with its SPS/PPS), or None without a decoder
KeyframeCheck = Callable[[bytes], int | None]
START_CODE = b"\x00\x00\x00\x01"


class LiveError(BotslabError):
    """A live session could not start or ended; `reason` is a stable key for translations:
    device_asleep, audio_only, relay_refused, keys_rotated, stream_lost, setup_failed,
    address_refused (the cloud named a live host at an address that is not public)."""

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
class LiveStats:
    opened_at: float = 0.0
    setup_ms: float = 0.0
    first_frame_ms: float = 0.0  # the first frame out (decrypted, past the keyframe gate)
    first_media_ms: float = 0.0  # the first video frame in, from either relay leg
    first_keyframe_ms: float = 0.0  # the first keyframe in (before its test decode)
    frames: int = 0
    keyframes: int = 0
    dropped: int = 0
    duplicates: int = 0
    audio: int = 0
    transport: str = ""
    keyframe_errors: int | None = None  # of the first keyframe, None until it is checked
    fallback_key: int = 0  # frames whose key index was unknown: decrypted with the signalling key
    params_added: int = 0  # keyframes that came without SPS/PPS and got the last ones seen


def default_keyframe_check(au: bytes) -> int | None:
    """docs/protocol/live-video.md#keyframe-gate: test-decode a keyframe and count the decoder's
    errors as the working client counts them (log lines about undecodable macroblocks, unavailable
    blocks, concealment, damage); NO_PICTURE when it gives no picture. None when no decoder (PyAV)
    is available."""
    try:
        import av  # optional: Home Assistant's stream component brings it
        import av.logging
    except ImportError:
        return None
    # the decoder's messages reach Python only at a level that lets errors through; Home
    # Assistant's stream component keeps PyAV at FATAL unless debugging, so the level is
    # raised for this one decode (once per session) and put back, under a lock
    with _LOG_LOCK:
        before = av.logging.get_level()
        raise_level = before is None or before < av.logging.INFO
        if raise_level:
            av.logging.set_level(av.logging.INFO)
        try:
            with av.logging.Capture(local=True) as logs:
                frames = _decode_once(av, au)
        finally:
            if raise_level:
                av.logging.set_level(before)
    errors = sum(
        any(mark in str(message).lower() for mark in _ERROR_MARKS) for _lvl, _name, message in logs
    )
    return errors if frames else max(errors, NO_PICTURE)


def _decode_once(av: Any, au: bytes) -> int:
    """Pictures decoded from one access unit (single-threaded, so every message is this
    thread's)."""
    try:
        ctx: Any = av.CodecContext.create("h264", "r")
        ctx.thread_count = 1
        frames = ctx.decode(av.Packet(au))
        frames += ctx.decode(None)
    except (av.error.FFmpegError, ValueError):
        return 0
    return len(frames)


def parameter_sets(au: bytes) -> dict[int, bytes]:
    """The SPS (7) and PPS (8) NALs of an access unit, by type (the last of each)."""
    found: dict[int, bytes] = {}
    for start, end in nal_spans(au):
        if end > start and au[start] & 0x1F in (7, 8):
            found[au[start] & 0x1F] = au[start:end]
    return found


class MediaPipeline:
    def __init__(
        self,
        keys: CameraKeys,
        refetch_keys: Callable[[], Awaitable[CameraKeys]],
        stats: LiveStats | None = None,
        keyframe_check: KeyframeCheck | None = default_keyframe_check,
    ) -> None:
        self.keys = keys
        self._refetch = refetch_keys
        self.stats = stats or LiveStats()
        self._check = keyframe_check
        self._raw: asyncio.Queue[AppFrame] = asyncio.Queue(maxsize=RAW_MAX)
        self._raw_bytes = 0
        self._queue: deque[LiveFrame] = deque()
        self._queue_bytes = 0
        self._wakeup = asyncio.Event()
        self._seen: deque[tuple[int, int]] = deque(maxlen=64)
        self._good_keyframe = False
        # the first keyframe passed its test decode (docs/protocol/live-video.md#keyframe-gate)
        self._checked = False
        self._params: dict[int, bytes] = {}  # the last SPS/PPS seen (they travel in clear)
        self.refetched_at: float | None = None
        # when the keys were last fetched again, by why: an unknown index ("index"), or the
        # first keyframe ("keyframe"); each at most once a minute, apart from the other
        self._refetched: dict[str, float] = {}
        self.last_media = 0.0  # monotonic time of the last video frame, 0 before the first
        self.video_legs: set[str] = set()  # the relay legs video came over
        self.closed = False

    # --- in ---------------------------------------------------------------------------------
    def offer(self, frame: AppFrame, leg: str) -> None:
        """A frame from a relay leg ("tcp" or "qtp"); never blocks."""
        if self.closed:
            return
        if frame.cls == CLASS_AUDIO:
            self.stats.audio += 1  # audio is not decrypted or passed on
            return
        if frame.cls not in (CLASS_IFRAME, CLASS_PFRAME):
            return
        if not self.stats.transport:
            self.stats.transport = leg
        self.video_legs.add(leg)
        if self._raw_bytes + len(frame.body) > RAW_MAX_BYTES:
            self.stats.dropped += 1
            return
        try:
            self._raw.put_nowait(frame)
        except asyncio.QueueFull:
            self.stats.dropped += 1
        else:
            self._raw_bytes += len(frame.body)

    async def run(self) -> None:
        """Decrypt what comes in, until cancelled; raises LiveError when the keys fail."""
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
            self.last_media = time.monotonic()
            if not self.stats.first_media_ms:
                self.stats.first_media_ms = (self.last_media - self.stats.opened_at) * 1000
            self._params.update(parameter_sets(body.au))
            keyframe = is_keyframe(body.au)
            if keyframe and not self.stats.first_keyframe_ms:
                self.stats.first_keyframe_ms = (time.monotonic() - self.stats.opened_at) * 1000
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

    # --- out --------------------------------------------------------------------------------
    def take(self) -> list[LiveFrame]:
        """The decrypted frames waiting, oldest first."""
        frames = list(self._queue)
        self._queue.clear()
        self._queue_bytes = 0
        return frames

    async def wait(self) -> None:
        """Until a frame is ready or `wake()` is called."""
        self._wakeup.clear()
        if not self._queue:
            await self._wakeup.wait()

    def wake(self) -> None:
        self._wakeup.set()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()

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

    # --- keys -------------------------------------------------------------------------------
    async def _decrypt(self, index: int, au: bytes, keyframe: bool) -> bytes | None:
        """Decrypt an access unit.

        - A key index the keys lack: the keys are fetched again (the frame waits) and, if the
          index is still unknown, the signalling key is used: the working client falls back
          to it (docs/protocol/live-video.md#cipher, docs/protocol/accepted.md#live-view).
        - Only the first keyframe is test-decoded, with up to MAX_KEYFRAME_ERRORS decoder
          errors (8.5). When it fails, P-frames wait for the next keyframe and the keys are
          fetched again; failing again is an error. Within the tolerance but with errors, the
          keys are fetched again too (stale cached keys decode with a few errors only).
        - A keyframe without SPS/PPS gets the last ones seen.

        Keys are fetched again at most once a minute for each of the two reasons."""
        if index not in self.keys.secret_keys and self._may_refetch("index"):
            await self._refetch_quietly("index")  # the frame waits: it may be known now
        keys = self.keys
        if index not in keys.secret_keys:
            self.stats.fallback_key += 1
        fallback = signalling_index(keys.secret_keys)
        plain = decrypt_au(au, frame_key(keys.secret_keys, index, fallback))
        if not keyframe:
            return plain
        whole = self._with_params(plain)
        if whole is None:
            self.stats.dropped += 1  # no SPS/PPS yet: the next keyframe may bring them
            return None
        if self._checked or self._check is None:
            self._good_keyframe = True
            return whole
        errors = await asyncio.to_thread(self._check, whole)
        self.stats.keyframe_errors = errors
        if errors is not None and errors > MAX_KEYFRAME_ERRORS:
            self._good_keyframe = False
            self.stats.dropped += 1
            if not self._may_refetch("keyframe"):
                raise LiveError("keys_rotated", "the live video does not decrypt")
            await self._refetch_keys("keyframe")
            return None
        self._checked = self._good_keyframe = True
        if errors and self._may_refetch("keyframe"):
            # within the tolerance, so shown; fresh keys cost one call and mend the next
            # keyframe if the cached ones were stale
            await self._refetch_quietly("keyframe")
        return whole

    def _with_params(self, au: bytes) -> bytes | None:
        """A keyframe with its SPS and PPS: its own, else the last ones seen in front; None
        when none has been seen yet."""
        own = parameter_sets(au)
        if 7 in own and 8 in own:
            return au
        if 7 not in self._params or 8 not in self._params:
            return None
        self.stats.params_added += 1
        missing = [self._params[t] for t in (7, 8) if t not in own]
        return b"".join(START_CODE + nal for nal in missing) + au

    async def _refetch_quietly(self, why: str) -> None:
        """Fetch the keys again; a failure leaves the keys as they are (logged)."""
        try:
            await self._refetch_keys(why)
        except BotslabError as err:
            _LOGGER.debug("live keys not fetched again: %r", err)

    def _may_refetch(self, why: str) -> bool:
        last = self._refetched.get(why)
        return last is None or time.monotonic() - last > REFETCH_GAP_S

    async def _refetch_keys(self, why: str) -> CameraKeys:
        self.refetched_at = self._refetched[why] = time.monotonic()
        self.keys = await self._refetch()
        return self.keys
