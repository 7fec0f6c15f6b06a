"""The media pipeline alone (no sockets): frames the virtual device encrypts go in as a relay leg
would hand them over, decrypted access units come out; duplicates, P-frames before a keyframe
and audio are dropped; only the first keyframe is test-decoded, with the working client's
tolerance of 4 decoder errors; a keyframe without SPS/PPS gets the last ones seen; an unknown
key index falls back to the signalling key; failing keys are fetched again once, then the
pipeline gives up."""

from __future__ import annotations

import asyncio
from fractions import Fraction
from typing import Any

import pytest

from botslab_emulator.live import media as device
from botslab_emulator.live.clip import live_clip
from custom_components.botslab.api.live.frames import (
    CLASS_AUDIO,
    CLASS_IFRAME,
    CLASS_PFRAME,
    AppFrame,
)
from custom_components.botslab.api.live.media import decrypt_au, is_keyframe
from custom_components.botslab.api.live.pipeline import (
    MAX_KEYFRAME_ERRORS,
    NO_PICTURE,
    LiveError,
    LiveFrame,
    MediaPipeline,
    default_keyframe_check,
)
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


async def test_wrong_keys_within_the_tolerance_are_shown_and_fetched_again_once() -> None:
    """Cached keys that are wrong at the same indices: the first keyframe decodes with a few
    errors, within the working client's tolerance (docs/protocol/live-video.md#keyframe-gate), so it
    is shown, as that client shows it; because it had errors the keys are fetched again once, and
    the next group decrypts with them."""
    clip = live_clip()
    wrong = {i: k[::-1] for i, k in KEYS.items()}  # same indices, other keys
    fetched: list[int] = []

    async def refetch() -> CameraKeys:
        fetched.append(1)
        return camera_keys(KEYS)

    pipeline = MediaPipeline(camera_keys(wrong), refetch)
    for frame in frames_of(clip.aus[:10], KEYS) + frames_of(clip.aus[:10], KEYS, start=10):
        pipeline.offer(frame, "tcp")
    task = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        got = await drain(pipeline, 20)
    finally:
        task.cancel()
    assert fetched == [1]
    errors = pipeline.stats.keyframe_errors
    assert errors is not None and 0 < errors <= MAX_KEYFRAME_ERRORS
    assert [f.au for f in got[10:]] == list(clip.aus[:10]), "the fresh keys decrypt"


async def test_a_key_index_nobody_has_falls_back_to_the_signalling_key() -> None:
    """docs/protocol/live-video.md#cipher / docs/protocol/accepted.md#live-view: a frame whose index
    the keys lack makes the keys be fetched again, once; still unknown, it is decrypted with the
    signalling key (the sorted indices' element at n // 3: 35 of 30..44)."""
    clip = live_clip()
    fetched: list[int] = []

    async def refetch() -> CameraKeys:
        fetched.append(1)
        return camera_keys(KEYS)  # fresh keys still lack the frame's index

    pipeline = MediaPipeline(camera_keys(KEYS), refetch)
    # the frames whose ciphertext under this one key every reading decrypts alike (8.4)
    aus = [au for au in clip.aus[:30] if device.encrypt_au(au, KEYS[35])[1]]
    assert is_keyframe(aus[0]) and len(aus) > 20
    for frame in frames_of(tuple(aus), {135: KEYS[35]}, 135):
        pipeline.offer(frame, "tcp")
    task = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        got = await drain(pipeline, len(aus))
    finally:
        task.cancel()
    assert [f.au for f in got] == aus
    assert fetched == [1], "fetched again once"
    assert pipeline.stats.fallback_key == len(aus)


async def test_only_the_first_keyframe_is_test_decoded() -> None:
    """docs/protocol/live-video.md#keyframe-gate: the first keyframe is checked; later ones are not
    (a check that would fail them changes nothing)."""
    clip = live_clip()
    checked: list[int] = []

    def check(au: bytes) -> int:
        checked.append(len(au))
        return 0 if len(checked) == 1 else 99

    pipeline = MediaPipeline(camera_keys(KEYS), no_refetch, keyframe_check=check)
    aus = clip.aus + clip.aus[:15]  # five keyframes (fewer than 90 frames: none pushed out)
    for frame in frames_of(aus, KEYS):
        pipeline.offer(frame, "qtp")
    task = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        got = await drain(pipeline, len(aus))
    finally:
        task.cancel()
    assert len(checked) == 1 and sum(f.keyframe for f in got) == 5


@pytest.mark.parametrize(("errors", "shown"), [(0, True), (4, True), (5, False), (None, True)])
async def test_the_first_keyframe_may_have_four_decoder_errors(
    errors: int | None, shown: bool
) -> None:
    """Up to 4 decoder errors are the working client's tolerance; 5 fail the keyframe: its
    group is dropped, the keys are fetched again once, and failing again with the fresh keys
    ends the stream. None (no decoder) shows the video unchecked."""
    clip = live_clip()
    fetched: list[int] = []

    async def refetch() -> CameraKeys:
        fetched.append(1)
        return camera_keys(KEYS)

    pipeline = MediaPipeline(camera_keys(KEYS), refetch, keyframe_check=lambda au: errors)
    for frame in frames_of(clip.aus[:30], KEYS):
        pipeline.offer(frame, "qtp")
    if shown:
        task = asyncio.get_running_loop().create_task(pipeline.run())
        try:
            got = await drain(pipeline, 30)
        finally:
            task.cancel()
        assert [f.au for f in got] == list(clip.aus[:30])
        assert fetched == ([1] if errors else []), "errors within the tolerance: keys again"
        return
    with pytest.raises(LiveError) as caught:
        async with asyncio.timeout(10):
            await pipeline.run()
    assert caught.value.reason == "keys_rotated" and fetched == [1]
    assert pipeline.take() == [], "nothing of a failed group is shown"


async def test_a_keyframe_without_sps_pps_gets_the_last_ones_seen() -> None:
    """An IDR without SPS/PPS is test-decoded and passed on with the last ones seen in front
    (they travel in clear); one before any was seen is dropped, without counting as a key
    failure."""
    clip = live_clip()
    bare = tuple(
        device.without_parameter_sets(au) if key else au
        for au, key in zip(clip.aus, clip.keyframes, strict=True)
    )
    assert bare[0] != clip.aus[0]
    # the first group comes without SPS/PPS (dropped: none seen yet), then a whole group,
    # then again groups without them
    aus = bare[:15] + clip.aus[15:30] + bare[30:]
    checked: list[bytes] = []

    def check(au: bytes) -> int | None:
        checked.append(au)
        return default_keyframe_check(au)

    pipeline = MediaPipeline(camera_keys(KEYS), no_refetch, keyframe_check=check)
    for frame in frames_of(aus, KEYS):
        pipeline.offer(frame, "qtp")
    task = asyncio.get_running_loop().create_task(pipeline.run())
    try:
        got = await drain(pipeline, len(aus) - 15)
    finally:
        task.cancel()
    # every keyframe passed on is whole again, byte for byte the encoder's
    assert [f.au for f in got] == list(clip.aus[15:])
    assert pipeline.stats.params_added == sum(clip.keyframes[30:])
    assert len(checked) == 1 and pipeline.stats.keyframe_errors == 0


def _keyframe(max_mbs: int) -> bytes:
    """A textured 320x240 keyframe of slices of at most `max_mbs` macroblocks each."""
    import av
    import numpy as np

    ctx: Any = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 320, 240, "yuv420p"
    ctx.time_base = Fraction(1, 15)
    ctx.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"keyint=15:slice-max-mbs={max_mbs}:repeat-headers=1",
    }
    image = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
    frame.pts = 0
    return b"".join(bytes(p) for p in [*ctx.encode(frame), *ctx.encode(None)])


def test_the_keyframe_check_counts_decoder_errors() -> None:
    """default_keyframe_check counts what the working client counts; PyAV's log level is
    left as it was (Home Assistant's stream component sets it)."""
    import av.logging

    clip = live_clip(real=True)
    key, other = bytes(range(32)), bytes(range(1, 33))
    before = av.logging.get_level()
    assert default_keyframe_check(clip.aus[0]) == 0
    damaged = default_keyframe_check(device.damage_slices(clip.aus[0], 2))
    assert damaged is not None and 0 < damaged <= MAX_KEYFRAME_ERRORS
    assert default_keyframe_check(device.without_parameter_sets(clip.aus[0])) == NO_PICTURE
    # many slices, every one garbled by a wrong key: far past the tolerance
    many = _keyframe(60)
    assert default_keyframe_check(many) == 0
    wrong = decrypt_au(device.encrypt_au(many, key)[0], other)
    errors = default_keyframe_check(wrong)
    assert errors is not None and errors > MAX_KEYFRAME_ERRORS
    assert av.logging.get_level() == before
    av.logging.set_level(av.logging.FATAL)  # as the stream component keeps it
    try:
        assert default_keyframe_check(wrong) == errors
        assert av.logging.get_level() == av.logging.FATAL
    finally:
        av.logging.set_level(before)
