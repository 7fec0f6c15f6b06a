"""Live view on a cloud far away (issue 28): QTP rides over lost datagrams, a cold device
opens as slowly as docs/protocol/live-video.md#timers reports and a warm one about as fast, a device
that has just rung is warm, and flag-0 replies are asked past at once."""

from __future__ import annotations

import asyncio
import struct
import time

import av
import pytest

from botslab_emulator import Emulator
from custom_components.botslab.api import BotslabClient
from custom_components.botslab.api.live import qtp
from custom_components.botslab.api.live.frames import MAGIC
from custom_components.botslab.api.live.session import LiveSession

DOOR = "BDX3A1B2C3D4"


async def _door(client: BotslabClient):  # type: ignore[no-untyped-def]
    return next(d for d in await client.devices() if d.serial == DOOR)


HEAD = b"\x00\x00\x00\x00\x00\x03" + bytes(0x38 - 6)  # the device's frame header


def _message(cls: int, body: bytes) -> bytes:
    frame = MAGIC + bytes([0, cls]) + struct.pack(">I", len(body)) + body
    return struct.pack(">I", len(frame)) + frame


def _chunks(message: bytes, size: int = 100) -> list[bytes]:
    return [message[i : i + size] for i in range(0, len(message), size)]


def test_a_lost_datagram_costs_its_frames_not_a_second() -> None:
    """The relay never retransmits: a hole in the sequence is waited for GAP_WAIT_S (for a
    datagram that comes late), not for 48 more segments (about a second of video); then the
    broken message is dropped, the P-frames after it too, and the next keyframe plays."""
    now = [100.0]
    reasm = qtp.Reassembler()
    reasm.clock = lambda: now[0]
    body = HEAD + b"\x00\x00\x00\x01\x41" + bytes(250)
    key = HEAD + b"\x00\x00\x00\x01\x65" + bytes(250)
    stream = [_chunks(_message(0x02, key)), _chunks(_message(0x03, body))]
    stream += [_chunks(_message(0x03, body)), _chunks(_message(0x02, key))]
    sn, out = 1, []
    lost = len(stream[0]) + 2  # the second datagram of the first P-frame
    for frame in stream:
        for chunk in frame:
            if sn != lost:
                out += reasm.feed(sn, chunk)
            sn += 1
            now[0] += 0.01
    assert [f.cls for f in out] == [0x02], "the keyframe; the rest waits for the hole"
    now[0] += qtp.GAP_WAIT_S
    out += reasm.feed(sn, _chunks(_message(0x03, body))[0])  # the next datagram after a while
    assert [f.cls for f in out] == [0x02, 0x02], "the P-frames after the hole are dropped"
    assert reasm.skipped == 1


def test_a_late_datagram_is_still_taken() -> None:
    now = [5.0]
    reasm = qtp.Reassembler()
    reasm.clock = lambda: now[0]
    key = HEAD + b"\x00\x00\x00\x01\x65" + bytes(250)
    chunks = _chunks(_message(0x02, key))
    out = reasm.feed(1, chunks[0]) + reasm.feed(3, chunks[2])
    now[0] += qtp.GAP_WAIT_S / 2
    out += reasm.feed(2, chunks[1])  # reordered, within the wait
    for sn, chunk in enumerate(chunks[3:], start=4):
        out += reasm.feed(sn, chunk)
    assert [f.cls for f in out] == [0x02] and reasm.skipped == 0


@pytest.mark.slow(seconds=20)
async def test_video_goes_on_through_udp_loss(client: BotslabClient, emu: Emulator) -> None:
    """The WAN profile with more loss than its default: the session keeps delivering
    decodable video, keyframe after keyframe, and skips what was lost."""
    emu.net.use("wan")
    emu.net.faults.udp_loss_pct = 4.0
    emu.net.faults.seed = 28
    session = LiveSession(client, await _door(client))
    await session.start()
    frames = []
    try:
        async with asyncio.timeout(40):
            async for frame in session:
                frames.append(frame)
                if len(frames) >= 150:
                    break
    finally:
        await session.stop()
    assert emu.net.udp_lost > 0
    keyframes = [f for f in frames if f.keyframe]
    assert len(keyframes) >= 8
    decoder = av.CodecContext.create("h264", "r")
    decoded = 0
    for frame in frames:
        for packet in decoder.parse(frame.au):
            decoded += len(decoder.decode(packet))
    assert decoded >= len(frames) - 2, "every frame delivered decodes"


async def _first_frame_s(session: LiveSession) -> float:
    started = time.monotonic()
    await session.start()
    try:
        async with asyncio.timeout(30):
            async for _frame in session:
                return time.monotonic() - started
    finally:
        await session.stop()
    raise AssertionError("no frame")


@pytest.mark.real_wake
async def test_cold_and_warm_opens_differ_as_on_real_devices(
    client: BotslabClient, emu: Emulator
) -> None:
    """docs/protocol/live-video.md#timers: a cold doorbell takes about 5-7 s to its first keyframe,
    a warm re-open about 1 s (here on loopback, without the network's round trips)."""
    door = await _door(client)
    assert not emu.world.devices.is_awake(emu.world.devices[DOOR]), "the doorbell sleeps"
    cold = await _first_frame_s(LiveSession(client, door))
    assert emu.live.stats.cold_wakes == 1
    warm = await _first_frame_s(LiveSession(client, door))
    assert emu.live.stats.cold_wakes == 1, "awake: no second boot"
    assert cold >= emu.live.faults.wake_s, (cold, warm)
    assert warm < 1.5, (cold, warm)


@pytest.mark.real_wake
async def test_a_device_that_just_rang_is_warm(client: BotslabClient, emu: Emulator) -> None:
    await emu.trigger(DOOR, "ring")
    warm = await _first_frame_s(LiveSession(client, await _door(client)))
    assert emu.live.stats.cold_wakes == 0 and warm < 1.5


async def test_flag0_replies_are_asked_past_at_once(client: BotslabClient, emu: Emulator) -> None:
    """The first replies say "audio only" (docs/protocol/accepted.md#live-view): each is answered
    with another req_relay at once, not at the next 0.6 s tick."""
    emu.live.faults.flag0_replies = 3
    emu.world.devices[DOOR].awake_until = emu.world.now() + 600
    took = await _first_frame_s(LiveSession(client, await _door(client)))
    assert emu.live.stats.req_relay >= 4
    assert took < 1.2, took
