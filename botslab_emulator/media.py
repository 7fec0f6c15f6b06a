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

from .mpegts import realistic_segments, slice_nals

SNAPSHOT_SIZE = (640, 360)
CLIP_SIZE = (320, 240)
CLIP_FPS = 15
CLIP_SECONDS = 4
SEGMENT_SECONDS = 2


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
    """An HLS clip: playlist text (segment names relative) and the TS segments."""

    playlist: str
    segments: dict[str, bytes]
    duration: int


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
    if scene == "textured":
        # a textured background keeps the coded slices random-looking: no escape bytes
        background = rnd.integers(0, 40, (CLIP_SIZE[1], CLIP_SIZE[0], 3), dtype=np.uint8)
    else:
        # what a camera sees: a sky gradient over a plain wall; the flat parts give x264's
        # slices the zero runs, and so the escape bytes, that real clips have
        yy, xx = np.mgrid[0 : CLIP_SIZE[1], 0 : CLIP_SIZE[0]]
        background = np.zeros((CLIP_SIZE[1], CLIP_SIZE[0], 3), np.uint8)
        background[..., 0] = xx * 255 // CLIP_SIZE[0]
        background[..., 1] = yy * 255 // CLIP_SIZE[1]
        background[..., 2] = 128
        half = CLIP_SIZE[1] // 2
        background[half:] = 90
        background[:half] += rnd.integers(0, 3, (half, CLIP_SIZE[0], 3), dtype=np.uint8)
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
    return Clip(playlist.read_text(), segments, CLIP_SECONDS)


def _has_escape(nal: bytes) -> bool:
    return b"\x00\x00\x03" in nal


def make_clip(seed: int = 1) -> Clip:
    """A short synthetic HLS clip whose slices hold no emulation-prevention bytes (the easy
    "canonical" form).

    liveview.md 8.4: a clip with no escape byte in any slice decrypts identically under every
    reading of the sources, so clips with one are thrown away and made again.
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
    """A clip as real cameras and the cloud make them (protocol.md 3.3): escape bytes in
    slices, early (inside the clear 0x100 bytes) and late (in the encrypted part); ADTS
    frames that span PES packets; the PAT/PMT in the first segment only; a last segment
    that ends in part of a packet (mpegts.realistic_segments)."""
    for attempt in range(20):
        with tempfile.TemporaryDirectory(prefix="botslab-clip-") as tmp:
            clip = _make_clip_once(seed + attempt * 7919, Path(tmp), scene="camera")
        early, late = _escape_places(clip)
        if early and late:
            return Clip(clip.playlist, realistic_segments(clip.segments), clip.duration)
    raise RuntimeError("could not make a clip with escape bytes where real ones have them")
