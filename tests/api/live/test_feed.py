"""The live feed without Home Assistant: the loopback MPEG-TS server that HA's stream component
reads, against the emulator (viewers start on a keyframe, a lost stream ends the viewers and the
next connection opens anew, timestamps only go forward, idle teardown)."""

from __future__ import annotations

import asyncio

from botslab_emulator import Emulator
from botslab_emulator.live.clip import live_clip
from custom_components.botslab.api import BotslabClient
from custom_components.botslab.api.live import LiveCache, LiveFeed, LiveSession

from ...live_feed_io import read_feed, video_packets

DOOR = "BDX3A1B2C3D4"


async def test_lost_stream_reopens_on_the_next_connection(
    client: BotslabClient, emu: Emulator
) -> None:
    emu.live.faults.video_transport = "tcp"
    emu.live.faults.drop_after_frames = 45
    door = next(d for d in await client.devices() if d.serial == DOOR)
    cache = LiveCache()
    feed = LiveFeed(lambda: LiveSession(client, door, cache=cache), idle_s=30)
    try:
        url = await feed.open()
        first = video_packets(await read_feed(url))
        assert feed.last_error is not None and feed.last_error.reason == "stream_lost"
        second = video_packets(await read_feed(url, 30_000))
        assert feed.sessions == 2
    finally:
        await feed.close()
    clip = live_clip(real=True)
    for packets in (first, second):
        assert packets[0].is_keyframe  # a viewer starts on a keyframe
        assert all(bytes(p) in clip.aus for p in packets)
    pts = [p.pts for p in first + second]
    assert pts == sorted(pts) and len(set(pts)) == len(pts), "timestamps only go forward"


async def test_idle_teardown_and_close(client: BotslabClient, emu: Emulator) -> None:
    door = next(d for d in await client.devices() if d.serial == DOOR)
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
        await read_feed(url, 20_000)  # a viewer opens it again
        assert feed.sessions == 2
    finally:
        await feed.close()
    assert not feed.streaming and feed.viewers == 0
