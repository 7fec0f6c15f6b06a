"""The virtual device's camera: a short synthetic H.264 clip (PyAV/libx264), looped by the
publisher at real pace (docs/protocol/live-video.md#emulator). Made once per process, in memory."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
import functools
import math
from typing import Any

from ..crypto import iter_annexb_nals
from ..media import camera_view

LIVE_SIZE = (320, 240)
LIVE_FPS = 15
LIVE_FRAMES = 60  # the canonical clip: a four-second loop, one keyframe a second
# the real-media clip (the default): a sixteen-second loop, so that a frame's stamp names it
# unambiguously for any delay under 16 s
REAL_FRAMES = 240
# every frame carries its index in the clip as a stamp a browser can read back: STAMP_BITS
# squares of STAMP_BLOCK pixels along the bottom edge, white for 1 and black for 0 (the lowest
# bit leftmost), so that a benchmark knows which frame is painted (the hub logs when each
# was sent)
STAMP_BLOCK = 16
STAMP_BITS = 8


def stamp(img: Any, index: int) -> None:
    """Draw `index` into the bottom edge of an RGB image (in place)."""
    for bit in range(STAMP_BITS):
        value = 255 if index >> bit & 1 else 0
        x = bit * STAMP_BLOCK
        img[-STAMP_BLOCK:, x : x + STAMP_BLOCK] = (value, value, value)


@dataclass(frozen=True, slots=True)
class LiveClip:
    """Annex-B access units (SPS/PPS in-band on every IDR) and which are keyframes."""

    aus: tuple[bytes, ...]
    keyframes: tuple[bool, ...]
    fps: int = LIVE_FPS


def _encode(seed: int, scene: str = "textured", frames: int = LIVE_FRAMES) -> LiveClip:
    import av
    import numpy as np

    ctx: Any = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height = LIVE_SIZE
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, LIVE_FPS)
    ctx.framerate = LIVE_FPS
    ctx.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"keyint={LIVE_FPS}:min-keyint={LIVE_FPS}:scenecut=0:bframes=0:"
        "slices=2:repeat-headers=1",
    }
    rnd = np.random.default_rng(seed)
    # a textured background keeps slices long (> 0x100 bytes, so they are encrypted)
    background = camera_view(LIVE_SIZE, rnd, textured=scene == "textured", grain=48)
    aus: list[bytes] = []
    keys: list[bool] = []
    for i in range(frames):
        img = background.copy()
        x = int((LIVE_SIZE[0] - 64) * (0.5 + 0.5 * math.sin(2 * math.pi * i / LIVE_FRAMES)))
        y = int((LIVE_SIZE[1] - 64) * (0.5 + 0.5 * math.cos(2 * math.pi * i / LIVE_FRAMES)))
        img[y : y + 64, x : x + 64] = (230, 120 + i % LIVE_FRAMES, 40)
        stamp(img, i)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        for packet in ctx.encode(frame):
            aus.append(bytes(packet))
            keys.append(bool(packet.is_keyframe))
    for packet in ctx.encode(None):
        aus.append(bytes(packet))
        keys.append(bool(packet.is_keyframe))
    return LiveClip(tuple(aus), tuple(keys))


def _escapes(clip: LiveClip) -> tuple[int, int]:
    """(slices with an escape byte in their first 0x100 raw bytes, slices with one beyond)."""
    early = late = 0
    for au in clip.aus:
        for start, end in iter_annexb_nals(au):
            if end > start and au[start] & 0x1F in (1, 5):
                nal = au[start:end]
                at = nal.find(b"\x00\x00\x03")
                early += 0 <= at < 0x100 - 2
                late += nal.find(b"\x00\x00\x03", 0x100) >= 0
    return early, late


@functools.cache
def live_clip(seed: int = 3, *, real: bool = False) -> LiveClip:
    """The looped clip. Canonical (docs/protocol/live-video.md#escape-bytes): no escape byte in any
    slice, so every reading of the sources decrypts it alike; a clip with one is made again. Real:
    escape bytes in slices early (inside the clear 0x100 bytes) and late, as real encoders write."""
    for attempt in range(30):
        clip = _encode(
            seed + attempt * 7919,
            "camera" if real else "textured",
            REAL_FRAMES if real else LIVE_FRAMES,
        )
        early, late = _escapes(clip)
        wanted = bool(early and late) if real else not (early or late)
        if wanted and clip.keyframes[0]:
            return clip
    raise RuntimeError("could not make the live clip")
