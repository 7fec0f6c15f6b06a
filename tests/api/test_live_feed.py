"""The live feed without Home Assistant: the loopback MPEG-TS server that HA's stream component
reads, against the emulator (viewers start on a keyframe, a lost stream ends the viewers and the
next connection opens anew, timestamps only go forward, idle teardown)."""

from __future__ import annotations

import asyncio
import io

import av

from botslab_emulator import Emulator
from botslab_emulator.live.clip import live_clip
from custom_components.botslab.api import BotslabClient
from custom_components.botslab.api.live import LiveCache, LiveFeed, LiveSession

DOOR = "BDX3A1B2C3D4"


async def _read(url: str, until_eof: bool = False, size: int = 200_000) -> bytes:
    host, port = url.removeprefix("tcp://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    data = b""
    try:
        async with asyncio.timeout(30):
            while until_eof or len(data) < size:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                data += chunk
    finally:
        writer.close()
    return data


def _packets(data: bytes) -> list[av.Packet]:
    container = av.open(io.BytesIO(data[: len(data) // 188 * 188]), format="mpegts")
    return [p for p in container.demux(video=0) if p.size]


async def test_lost_stream_reopens_on_the_next_connection(
    client: BotslabClient, emu: Emulator
) -> None:
    emu.live.faults.video_transport = "tcp"
    emu.live.faults.drop_after_frames = 45
    door = next(d for d in await client.devices() if d.device_name == DOOR)
    cache = LiveCache()
    feed = LiveFeed(lambda: LiveSession(client, door, cache=cache), idle_s=30)
    try:
        url = await feed.open()
        first = _packets(await _read(url, until_eof=True))
        assert feed.last_error is not None and feed.last_error.reason == "stream_lost"
        second = _packets(await _read(url, size=100_000))
        assert feed.sessions == 2
    finally:
        await feed.close()
    clip = live_clip()
    for packets in (first, second):
        assert packets[0].is_keyframe  # a viewer starts on a keyframe
        assert all(bytes(p) in clip.aus for p in packets)
    pts = [p.pts for p in first + second]
    assert pts == sorted(pts) and len(set(pts)) == len(pts), "timestamps only go forward"


async def test_idle_teardown_and_close(client: BotslabClient, emu: Emulator) -> None:
    door = next(d for d in await client.devices() if d.device_name == DOOR)
    changes: list[bool] = []
    feed: LiveFeed
    feed = LiveFeed(
        lambda: LiveSession(client, door),
        idle_s=0.3,
        on_change=lambda: changes.append(feed.streaming),
    )
    try:
        url = await feed.open()
        assert feed.streaming and changes == [True]
        async with asyncio.timeout(5):
            while feed.streaming:
                await asyncio.sleep(0.05)
        assert changes == [True, False]
        await _read(url, size=20_000)  # a viewer opens it again
        assert feed.sessions == 2
    finally:
        await feed.close()
    assert not feed.streaming and feed.viewers == 0
