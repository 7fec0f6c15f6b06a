"""The media pipeline of a live view (liveview.md 8): frames from either relay leg in, decrypted
access units out. It drops audio and duplicates (the same frame over both legs), holds P-frames
until a keyframe that decodes, test-decodes every keyframe, and asks for fresh keys once when
they fail. Both queues are bounded in frames and bytes.

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
import time
from typing import Any

from ..exceptions import BotslabError, ProtocolError
from ..models import CameraKeys
from .frames import CLASS_AUDIO, CLASS_IFRAME, CLASS_PFRAME, AppFrame
from .media import decrypt_au, frame_key, is_keyframe, parse_body

# memory: a frame may be up to 4 MiB (frames.MAX_BODY), so frame counts alone allow gigabytes;
# both queues are bounded in bytes too. Raw frames beyond their budget are dropped as they
# come; decoded frames push the oldest out.
RAW_MAX = 512
RAW_MAX_BYTES = 16 * 1024 * 1024
QUEUE_MAX = 90
QUEUE_MAX_BYTES = 16 * 1024 * 1024
REFETCH_GAP_S = 60.0

KeyframeCheck = Callable[[bytes], bool | None]


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
    """liveview.md 8.5: test-decode a keyframe (PyAV if present, strict error detection);
    None when no decoder is available."""
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
        self.refetched_at: float | None = None
        self.last_media = 0.0  # monotonic time of the last video frame, 0 before the first
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
        """Decrypt an access unit. Every keyframe is test-decoded (liveview.md 8.5 checks only
        the first; checking each one also catches keys rotated mid-session): a failure drops
        P-frames until a good keyframe, and fetches the keys again (at most once a minute);
        failing again with fresh keys, or an index the fresh keys lack, is an error."""
        keys = self.keys
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
        return self.refetched_at is None or time.monotonic() - self.refetched_at > REFETCH_GAP_S

    async def _refetch_keys(self) -> CameraKeys:
        self.refetched_at = time.monotonic()
        self.keys = await self._refetch()
        return self.keys
