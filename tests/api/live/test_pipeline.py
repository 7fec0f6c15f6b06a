"""The media pipeline alone (no sockets): frames the virtual device encrypts go in as a relay leg
would hand them over, decrypted access units come out; duplicates, P-frames before a keyframe
and audio are dropped; failing keys are fetched again once, then the pipeline gives up."""

from __future__ import annotations

import asyncio

import pytest

from botslab_emulator.live import media as device
from botslab_emulator.live.clip import live_clip
from custom_components.botslab.api.live.frames import (
    CLASS_AUDIO,
    CLASS_IFRAME,
    CLASS_PFRAME,
    AppFrame,
)
from custom_components.botslab.api.live.media import is_keyframe
from custom_components.botslab.api.live.pipeline import LiveError, LiveFrame, MediaPipeline
from custom_components.botslab.api.models import CameraKeys, LiveLicense

KEYS = {index: bytes((index * 7 + i) % 94 + 33 for i in range(32)) for index in range(30, 45)}
LICENSE = LiveLicense(product_id="1", authorization="a")


def camera_keys(keys: dict[int, bytes]) -> CameraKeys:
    return CameraKeys(LICENSE, 43200, {i: k.decode() for i, k in keys.items()})


def frames_of(
    aus: tuple[bytes, ...], keys: dict[int, bytes], first: int = 35, start: int = 0
) -> list[AppFrame]:
    """Frames as the relay carries them: sequence numbers and timestamps from `start` on."""
    out = []
    for n, au in enumerate(aus, start=start):
        index, encrypted = device.encrypt_frame(au, keys, first)
        cls = CLASS_IFRAME if is_keyframe(au) else CLASS_PFRAME
        out.append(AppFrame(cls, device.media_body(n, n * 66, index, encrypted)))
    return out


async def drain(pipeline: MediaPipeline, count: int, timeout: float = 10) -> list[LiveFrame]:
    got: list[LiveFrame] = []
    async with asyncio.timeout(timeout):
        while len(got) < count:
            got += pipeline.take()
            if len(got) < count:
                await pipeline.wait()
    return got


async def no_refetch() -> CameraKeys:
    raise AssertionError("the keys were good")


async def test_frames_come_out_decrypted_once_each() -> None:
    clip = live_clip()
    pipeline = MediaPipeline(camera_keys(KEYS), no_refetch)
    frames = frames_of(clip.aus[:20], KEYS)
    # a P-frame before any keyframe is dropped; audio is counted, not passed on
    pipeline.offer(frames_of(clip.aus[1:2], KEYS, start=999)[0], "qtp")
    pipeline.offer(AppFrame(CLASS_AUDIO, b"\x00" * 80), "tcp")
    for frame in frames:
        pipeline.offer(frame, "qtp")
        pipeline.offer(frame, "tcp")  # the same frame over the other leg
    task = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        got = await drain(pipeline, 20)
    finally:
        task.cancel()
    assert [f.au for f in got] == list(clip.aus[:20])
    assert got[0].keyframe and [f.ts_ms for f in got] == [n * 66 for n in range(20)]
    stats = pipeline.stats
    assert (stats.frames, stats.duplicates, stats.audio, stats.transport) == (20, 20, 1, "qtp")
    assert stats.dropped == 1, "the early P-frame"


async def test_wrong_keys_are_fetched_again_once() -> None:
    clip = live_clip()
    wrong = {i: k[::-1] for i, k in KEYS.items()}  # same indices, other keys
    fetched: list[int] = []

    async def refetch() -> CameraKeys:
        fetched.append(1)
        return camera_keys(KEYS)

    pipeline = MediaPipeline(camera_keys(wrong), refetch)
    # the keyframe fails its test decode and is dropped with the P-frames after it; the keys
    # are fetched again, and the next group decrypts
    for frame in frames_of(clip.aus[:10], KEYS) + frames_of(clip.aus[:10], KEYS, start=10):
        pipeline.offer(frame, "tcp")
    task = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        got = await drain(pipeline, 10)
    finally:
        task.cancel()
    assert fetched == [1]
    assert [f.au for f in got] == list(clip.aus[:10]), "nothing decrypted with wrong keys"
    assert got[0].ts_ms == 10 * 66


async def test_a_key_index_nobody_has_ends_the_stream() -> None:
    clip = live_clip()
    other = {i + 100: k for i, k in KEYS.items()}

    async def refetch() -> CameraKeys:
        return camera_keys(KEYS)  # fresh keys still lack the frame's index

    pipeline = MediaPipeline(camera_keys(KEYS), refetch)
    pipeline.offer(frames_of(clip.aus[:1], other, 135)[0], "tcp")
    with pytest.raises(LiveError) as caught:
        async with asyncio.timeout(10):
            await pipeline.run()
    assert caught.value.reason == "keys_rotated"
    assert pipeline.take() == []
