"""Live view memory is bounded in bytes, not only in frames: a relay (or a camera) that sends
frames of the largest size, faster than they are read, or a QTP message claiming gigabytes,
costs a few tens of megabytes at most. Measured with tracemalloc while each buffer is fed
oversized input (a new object per frame, as from the network)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import contextlib
import struct
import tracemalloc
from typing import Any

import pytest

from custom_components.botslab.api import BotslabClient
from custom_components.botslab.api.live import (
    LiveFeed,
    LiveSession,
    feed as feed_module,
    pipeline as pipeline_module,
    qtp,
)
from custom_components.botslab.api.live.frames import (
    CLASS_IFRAME,
    CLASS_PFRAME,
    MAGIC,
    MAX_BODY,
    MEDIA_HEAD,
    AppFrame,
)
from custom_components.botslab.api.live.pipeline import LiveFrame, MediaPipeline

MIB = 1024 * 1024
DOOR = "BDX3A1B2C3D4"


@contextlib.contextmanager
def peak_mib() -> Iterator[Callable[[], float]]:
    """The peak of traced allocations inside the block, in MiB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    peak = [0.0]
    try:
        yield lambda: peak[0]
    finally:
        peak[0] = (tracemalloc.get_traced_memory()[1] - base) / MIB
        tracemalloc.stop()


async def _session(client: BotslabClient) -> LiveSession:
    door = next(d for d in await client.devices() if d.serial == DOOR)
    return LiveSession(client, door)


async def _pipeline(client: BotslabClient) -> MediaPipeline:
    door = next(d for d in await client.devices() if d.serial == DOOR)
    keys = await client.camera_keys(door)

    async def refetch() -> Any:
        return keys

    return MediaPipeline(keys, refetch)


async def test_raw_frames_are_bounded_in_bytes(client: BotslabClient) -> None:
    session = await _pipeline(client)
    offered = 200  # 800 MiB of the largest frames, nobody reading
    with peak_mib() as peak:
        for _ in range(offered):
            session.offer(AppFrame(CLASS_IFRAME, MEDIA_HEAD + bytes(MAX_BODY - 6)), "tcp")
    kept = session._raw.qsize()
    assert kept * MAX_BODY <= pipeline_module.RAW_MAX_BYTES
    assert kept >= pipeline_module.RAW_MAX_BYTES // MAX_BODY - 1
    assert session.stats.dropped == offered - kept
    assert peak() < pipeline_module.RAW_MAX_BYTES / MIB + 3 * MAX_BODY / MIB


async def test_decoded_frames_are_bounded_in_bytes(client: BotslabClient) -> None:
    session = await _pipeline(client)
    with peak_mib() as peak:
        for ts in range(200):
            session._enqueue(LiveFrame(ts, bytes(MAX_BODY), ts % 10 == 0))
    held = sum(len(f.au) for f in session._queue)
    assert held <= pipeline_module.QUEUE_MAX_BYTES and session._queue_bytes == held
    assert [f.ts_ms for f in session._queue][-1] == 199, "the newest are kept"
    assert peak() < pipeline_module.QUEUE_MAX_BYTES / MIB + 3 * MAX_BODY / MIB
    # small frames are still bounded by count
    for ts in range(500):
        session._enqueue(LiveFrame(1000 + ts, b"\x00\x00\x00\x01\x41", False))
    assert len(session._queue) == pipeline_module.QUEUE_MAX


@pytest.mark.slow(seconds=14)
async def test_the_keyframe_group_is_bounded_in_bytes(client: BotslabClient) -> None:
    session = await _session(client)
    feed = LiveFeed(lambda: session)
    with peak_mib() as peak:
        for ts in range(40):
            # one keyframe, then 3 MiB P-frames: the group passes its byte bound
            au = b"\x00\x00\x00\x01" + (b"\x65" if ts == 0 else b"\x41") + bytes(3 * MIB)
            feed._publish(LiveFrame(ts * 66, au, ts == 0))
            kept = sum(feed_module._size(entry[2], entry[3]) for entry in feed._history)
            assert kept <= feed_module.MAX_GOP_BYTES and kept == feed._gop_bytes
    assert not feed._history, "a group past its bound is dropped, not kept without its keyframe"
    assert peak() < feed_module.MAX_GOP_BYTES / MIB + 12
    feed._publish(LiveFrame(10_000, b"\x00\x00\x00\x01\x65" + bytes(100), True))
    assert len(feed._history) == 1, "the next keyframe starts a new group"


def _datagram_payload(size: int, cls: int, body_part: bytes) -> bytes:
    return struct.pack(">I", size) + MAGIC + bytes([0, cls]) + body_part


def test_a_qtp_message_claiming_gigabytes_is_not_buffered() -> None:
    reasm = qtp.Reassembler()
    sn = 0
    with peak_mib() as peak:
        out = reasm.feed(sn, _datagram_payload(0xFFFFFFF0, CLASS_IFRAME, bytes(1390)))
        for _ in range(30_000):  # 40 MiB of the claimed message's "rest"
            sn += 1
            out += reasm.feed(sn & 0xFFFF, bytes(1400))
    assert not out and len(reasm._message) == 0
    assert peak() < 4
    # the next keyframe head is read again
    body = MEDIA_HEAD + bytes(20)
    frame = MAGIC + bytes([0, CLASS_IFRAME]) + struct.pack(">I", len(body)) + body
    got = reasm.feed((sn + 1) & 0xFFFF, struct.pack(">I", len(frame)) + frame)
    assert [f.cls for f in got] == [CLASS_IFRAME]
    # a P-frame head does not end the resync: only a keyframe does
    reasm2 = qtp.Reassembler()
    reasm2.feed(0, _datagram_payload(0xFFFFFFF0, CLASS_IFRAME, b""))
    p_body = MEDIA_HEAD + bytes(5)
    p_frame = MAGIC + bytes([0, CLASS_PFRAME]) + struct.pack(">I", len(p_body)) + p_body
    assert reasm2.feed(1, struct.pack(">I", len(p_frame)) + p_frame) == []
