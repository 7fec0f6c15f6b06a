"""The virtual device's camera: a short synthetic H.264 clip (PyAV/libx264), looped by the
publisher at real pace (liveview.md 13). Made once per process, in memory."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
import functools
import math
from typing import Any

from ..crypto import iter_annexb_nals

LIVE_SIZE = (320, 240)
LIVE_FPS = 15
LIVE_FRAMES = 60  # a four-second loop, one keyframe a second


@dataclass(frozen=True, slots=True)
class LiveClip:
    """Annex-B access units (SPS/PPS in-band on every IDR) and which are keyframes."""

    aus: tuple[bytes, ...]
    keyframes: tuple[bool, ...]
    fps: int = LIVE_FPS


def _encode(seed: int) -> LiveClip:
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
    background = rnd.integers(0, 48, (LIVE_SIZE[1], LIVE_SIZE[0], 3), dtype=np.uint8)
    aus: list[bytes] = []
    keys: list[bool] = []
    for i in range(LIVE_FRAMES):
        img = background.copy()
        x = int((LIVE_SIZE[0] - 64) * (0.5 + 0.5 * math.sin(2 * math.pi * i / LIVE_FRAMES)))
        y = int((LIVE_SIZE[1] - 64) * (0.5 + 0.5 * math.cos(2 * math.pi * i / LIVE_FRAMES)))
        img[y : y + 64, x : x + 64] = (230, 120 + i, 40)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        frame.pts = i
        for packet in ctx.encode(frame):
            aus.append(bytes(packet))
            keys.append(bool(packet.is_keyframe))
    for packet in ctx.encode(None):
        aus.append(bytes(packet))
        keys.append(bool(packet.is_keyframe))
    return LiveClip(tuple(aus), tuple(keys))


def _slices_escape_free(clip: LiveClip) -> bool:
    for au in clip.aus:
        for start, end in iter_annexb_nals(au):
            if end > start and au[start] & 0x1F in (1, 5) and b"\x00\x00\x03" in au[start:end]:
                return False
    return True


@functools.cache
def live_clip(seed: int = 3) -> LiveClip:
    """liveview.md 8.4: a clip whose slices hold no escape byte decrypts identically under
    every reading of the sources; one with an escape byte is thrown away and made again."""
    for attempt in range(30):
        clip = _encode(seed + attempt * 7919)
        if _slices_escape_free(clip) and clip.keyframes[0]:
            return clip
    raise RuntimeError("could not make a live clip without escape bytes")
