"""Real media for the emulator: JPEG snapshots, PNG captchas, HLS clips (PyAV, libx264, AAC).

Everything is synthetic and made at run time; nothing large is kept in the repository.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
import io
import math
from pathlib import Path
import random
import tempfile
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from .mpegts import realistic_segments, segment_number, slice_nals

SNAPSHOT_SIZE = (640, 360)
CLIP_SIZE = (320, 240)
CLIP_FPS = 15
CLIP_SECONDS = 4
SEGMENT_SECONDS = 2


def camera_view(size: tuple[int, int], rnd: Any, *, textured: bool, grain: int) -> Any:
    """A background frame (height, width, RGB). Textured: noise below `grain`, so coded
    slices look random (no escape bytes). Otherwise what a camera sees: a sky gradient over a
    brick wall, whose flat parts and edges give x264's slices the zero runs, and so the
    escape bytes, that real media has. The sky's noise is added in a wider type and clipped:
    in uint8, 254 plus 2 wraps to 0, dark dots down the right edge that look like broken
    decryption."""
    import numpy as np  # only where media is made (PyAV and numpy are test dependencies)

    width, height = size
    if textured:
        return rnd.integers(0, grain, (height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:height, 0:width]
    sky = np.zeros((height, width, 3), np.int16)
    sky[..., 0] = xx * 255 // width
    sky[..., 1] = yy * 255 // height
    sky[..., 2] = 128
    half = height // 2
    sky[half:] = 90
    sky[:half] += rnd.integers(0, 3, (half, width, 3), dtype=np.int16)
    # the wall's bricks: mortar every 12 rows, joints staggered; their edges give the coded
    # slices enough detail for escape bytes early and late, as real views have
    sky[half::12] = 60
    for row in range(half, height, 24):
        sky[row : row + 12, ::32] = 60
        sky[row + 12 : row + 24, 16::32] = 60
    return np.clip(sky, 0, 255).astype(np.uint8)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def snapshot_jpeg(device_title: str, when: int, label: str, seed: int = 0) -> bytes:
    """A 640x360 JPEG with the device's name, the event and the time drawn on it."""
    rnd = random.Random(seed)
    base = (rnd.randrange(40, 120), rnd.randrange(40, 120), rnd.randrange(60, 160))
    img = Image.new("RGB", SNAPSHOT_SIZE, base)
    draw = ImageDraw.Draw(img)
    for y in range(0, SNAPSHOT_SIZE[1], 6):
        shade = tuple(min(255, c + y // 6) for c in base)
        draw.rectangle((0, y, SNAPSHOT_SIZE[0], y + 5), fill=shade)
    stamp = datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    draw.rectangle((0, 0, SNAPSHOT_SIZE[0], 64), fill=(0, 0, 0))
    draw.text((12, 8), device_title, fill=(255, 255, 255), font=_font(24))
    draw.text((12, 38), f"{label}  {stamp}", fill=(255, 220, 120), font=_font(18))
    cx, cy = rnd.randrange(120, 520), rnd.randrange(140, 300)
    draw.ellipse((cx - 40, cy - 40, cx + 40, cy + 40), outline=(255, 255, 0), width=4)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


def captcha_png(code: str, seed: int = 0) -> bytes:
    """A readable graphic captcha: the code drawn large over light noise."""
    rnd = random.Random(seed)
    img = Image.new("RGB", (160, 60), (235, 235, 235))
    draw = ImageDraw.Draw(img)
    for _ in range(120):
        x, y = rnd.randrange(160), rnd.randrange(60)
        draw.point((x, y), fill=(rnd.randrange(150, 220),) * 3)
    for idx, char in enumerate(code):
        draw.text(
            (14 + idx * 34, 10 + rnd.randrange(-4, 5)), char, fill=(20, 40, 120), font=_font(34)
        )
    draw.line((5, rnd.randrange(20, 40), 155, rnd.randrange(20, 40)), fill=(120, 120, 160), width=2)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


@dataclass(frozen=True)
class Clip:
    """An HLS clip: playlist text (segment names relative) and the TS segments; `whole` is
    the same clip as one MPEG-TS file with one timeline (a play URL may name such a file,
    docs/protocol/accepted.md#media)."""

    playlist: str
    segments: dict[str, bytes]
    duration: int
    whole: bytes = b""


def _make_clip_once(seed: int, workdir: Path, scene: str = "textured") -> Clip:
    import av
    import numpy as np

    rnd = np.random.default_rng(seed)
    playlist = workdir / "index.m3u8"
    out = av.open(
        str(playlist),
        "w",
        format="hls",
        options={
            "hls_time": str(SEGMENT_SECONDS),
            "hls_list_size": "0",
            "hls_playlist_type": "vod",
            "hls_segment_filename": str(workdir / "seg%d.ts"),
        },
    )
    video: Any = out.add_stream("libx264", rate=CLIP_FPS)
    video.width, video.height = CLIP_SIZE
    video.pix_fmt = "yuv420p"
    video.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "g": str(CLIP_FPS * SEGMENT_SECONDS),
    }
    audio: Any = out.add_stream("aac", rate=16000)
    audio.layout = "mono"
    # a textured background keeps the coded slices random-looking: no escape bytes
    background = camera_view(CLIP_SIZE, rnd, textured=scene == "textured", grain=40)
    frames = CLIP_FPS * CLIP_SECONDS
    for i in range(frames):
        img = background.copy()
        x = int((CLIP_SIZE[0] - 60) * (0.5 + 0.5 * math.sin(i / 7)))
        y = int((CLIP_SIZE[1] - 60) * (0.5 + 0.5 * math.cos(i / 9)))
        img[y : y + 60, x : x + 60] = (200, 180 - i, 40 + i)
        if scene == "textured":
            img[:: 8 + i % 3, :, 2] += 9
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        for packet in video.encode(frame):
            out.mux(packet)
    for packet in video.encode(None):
        out.mux(packet)
    samples_per_frame = 1024
    total = 16000 * CLIP_SECONDS
    t = np.arange(total) / 16000
    wave = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for start in range(0, total, samples_per_frame):
        chunk = wave[start : start + samples_per_frame]
        aframe = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="fltp", layout="mono")
        aframe.sample_rate = 16000
        aframe.pts = start
        for packet in audio.encode(aframe):
            out.mux(packet)
    for packet in audio.encode(None):
        out.mux(packet)
    out.close()
    segments = {p.name: p.read_bytes() for p in sorted(workdir.glob("seg*.ts"))}
    whole = b"".join(segments[name] for name in sorted(segments, key=segment_number))
    return Clip(playlist.read_text(), segments, CLIP_SECONDS, whole)


def _has_escape(nal: bytes) -> bool:
    return b"\x00\x00\x03" in nal


def make_clip(seed: int = 1) -> Clip:
    """A short synthetic HLS clip whose slices hold no emulation-prevention bytes (the easy
    "canonical" form).

    docs/protocol/live-video.md#escape-bytes: a clip with no escape byte in any slice decrypts
    identically under every reading of the sources, so clips with one are thrown away and made
    again.
    """
    for attempt in range(20):
        with tempfile.TemporaryDirectory(prefix="botslab-clip-") as tmp:
            clip = _make_clip_once(seed + attempt * 7919, Path(tmp))
        if not any(_has_escape(n) for seg in clip.segments.values() for n in slice_nals(seg)):
            return clip
    raise RuntimeError("could not make a clip without escape bytes")


def _escape_places(clip: Clip) -> tuple[int, int]:
    """(slices with an escape byte in their first 0x100 raw bytes, slices with one beyond)."""
    early = late = 0
    for seg in clip.segments.values():
        for nal in slice_nals(seg):
            at = nal.find(b"\x00\x00\x03")
            if at >= 0 and at + 2 < 0x100:
                early += 1
            if nal.find(b"\x00\x00\x03", 0x100) >= 0:
                late += 1
    return early, late


def make_real_clip(seed: int = 1) -> Clip:
    """A clip as real cameras and the cloud make them (docs/protocol/media.md#escape-bytes): escape
    bytes in slices, early (inside the clear 0x100 bytes) and late (in the encrypted part); ADTS
    frames that span PES packets; the PAT/PMT in the first segment only; timestamps that
    start anew in every segment; a last segment that ends in part of a packet
    (mpegts.realistic_segments)."""
    for attempt in range(20):
        with tempfile.TemporaryDirectory(prefix="botslab-clip-") as tmp:
            clip = _make_clip_once(seed + attempt * 7919, Path(tmp), scene="camera")
        early, late = _escape_places(clip)
        if early and late:
            # one file: the real forms with one timeline (the segments restart theirs)
            continuous = realistic_segments(clip.segments, restart=False)
            whole = b"".join(
                continuous[name][: len(continuous[name]) // 188 * 188]
                for name in sorted(continuous, key=segment_number)
            )
            segments = realistic_segments(clip.segments)
            return Clip(clip.playlist, segments, clip.duration, whole)
    raise RuntimeError("could not make a clip with escape bytes where real ones have them")
