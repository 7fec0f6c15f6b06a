"""The live feed without Home Assistant: the loopback MPEG-TS server that HA's stream component
reads, against the emulator (viewers start on a keyframe, a lost stream ends the viewers and the
next connection opens anew, timestamps only go forward, idle teardown)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from botslab_emulator import Emulator
from botslab_emulator.live.clip import live_clip
from custom_components.botslab.api import BotslabClient
from custom_components.botslab.api.live import LiveCache, LiveFeed, LiveSession, feed as feed_module

from ...live_feed_io import feed_request, read_feed, video_packets

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
        async with asyncio.timeout(5):  # the change is told once the session has stopped
            while feed.streaming or len(changes) < 2:
                await asyncio.sleep(0.05)
        assert changes == [True, False]
        await read_feed(url, 20_000)  # a viewer opens it again
        assert feed.sessions == 2
    finally:
        await feed.close()
    assert not feed.streaming and feed.viewers == 0


def _wakes(emu: Emulator) -> int:
    """The live starts the emulator saw: wake-up calls and the first setup step."""
    return sum(
        n
        for path, n in emu.counters.requests.items()
        if path.endswith(("/invoke_service", "/get_keys", "/sdk"))
    )


async def test_only_the_stream_component_reads_the_feed(
    client: BotslabClient, emu: Emulator
) -> None:
    """The feed's URL carries a secret as its password. A bare socket, a wrong or missing
    secret, another path or method, or a request that never ends get no video and start
    nothing: no session, no wake-up, no setup call, while the feed is idle (as after the
    stream component left). The secret is not in the path, which Home Assistant logs."""
    door = next(d for d in await client.devices() if d.serial == DOOR)
    feed = LiveFeed(lambda: LiveSession(client, door), idle_s=0.2, head_timeout=0.5)
    try:
        url = await feed.open()
        parts = urlsplit(url)
        secret = parts.password
        assert parts.hostname == "127.0.0.1" and parts.path == "/live.ts"
        assert secret and len(secret) >= 32 and secret not in parts.path
        async with asyncio.timeout(5):
            while feed.streaming:
                await asyncio.sleep(0.05)
        wakes, xmsgs = _wakes(emu), emu.live.stats.xmsgs
        base = f"http://127.0.0.1:{parts.port}"
        wrong = f"http://botslab:{'x' * len(secret)}@127.0.0.1:{parts.port}/live.ts"
        refused = {
            "bare socket": await read_feed(url, request=b"", timeout=5),
            "no path": await read_feed(f"http://botslab:{secret}@127.0.0.1:{parts.port}/"),
            "the secret as the path": await read_feed(f"{base}/{secret}.ts", timeout=5),
            "wrong secret": await read_feed(wrong, timeout=5),
            "secret as a prefix": await read_feed(url.replace(secret, secret + "x"), timeout=5),
            "another user": await read_feed(url.replace("botslab:", "admin:"), timeout=5),
            "another scheme": await read_feed(
                url, request=feed_request(url).replace(b"Basic", b"Bearer"), timeout=5
            ),
            "another method": await read_feed(
                url, request=feed_request(url).replace(b"GET", b"POST", 1), timeout=5
            ),
            "a head that never ends": await read_feed(
                url, request=feed_request(url)[:-2], timeout=5
            ),
            "not HTTP": await read_feed(url, request=b"\x47" * 188, timeout=5),
        }
        challenged = {"no credentials": await read_feed(f"{base}/live.ts", timeout=5)}
        for name, answer in {**refused, **challenged}.items():
            assert b"\x47" not in answer[answer.find(b"\r\n\r\n") + 4 :], name
            allowed = (b"", feed_module.ANSWER_NOT_FOUND, feed_module.ANSWER_CHALLENGE)
            assert answer in allowed, (name, answer[:80])
        assert challenged["no credentials"] == feed_module.ANSWER_CHALLENGE
        assert refused["wrong secret"] == feed_module.ANSWER_CHALLENGE
        assert feed.sessions == 1 and not feed.streaming, "nothing started"
        assert (_wakes(emu), emu.live.stats.xmsgs) == (wakes, xmsgs), "nothing woken"
        assert (feed.refused, feed.challenged) == (len(refused), 1)
        # the stream component's request, after the challenge, still opens it
        assert len(await read_feed(url, 20_000)) >= 20_000
        assert feed.sessions == 2
    finally:
        await feed.close()


async def test_viewers_are_capped(client: BotslabClient, emu: Emulator) -> None:
    door = next(d for d in await client.devices() if d.serial == DOOR)
    feed = LiveFeed(lambda: LiveSession(client, door), idle_s=30)
    viewers: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        url = await feed.open()
        parts = urlsplit(url)
        request = feed_request(url)
        for _ in range(feed_module.MAX_VIEWERS + 1):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            viewers.append((reader, writer))
            writer.write(request)
            async with asyncio.timeout(10):
                status = await reader.readline()
            if len(viewers) <= feed_module.MAX_VIEWERS:
                assert status.startswith(b"HTTP/1.1 200"), status
            else:
                assert status.startswith(b"HTTP/1.1 503"), status
                assert await reader.read() == b"Content-Length: 0\r\nConnection: close\r\n\r\n"
        assert feed.viewers == feed_module.MAX_VIEWERS and feed.sessions == 1
        # a place that frees up is given again
        viewers[0][1].close()
        async with asyncio.timeout(5):
            while feed.viewers == feed_module.MAX_VIEWERS:
                await asyncio.sleep(0.05)
        assert (await read_feed(url, 10_000))[:1] == b"\x47"
    finally:
        for _reader, writer in viewers:
            writer.close()
        await feed.close()


async def test_a_session_that_starts_after_close_is_stopped(
    client: BotslabClient, emu: Emulator
) -> None:
    """A ring prepares the live view; the entry unloads while its session is starting: the
    session is stopped once started, nothing pumps, nobody hears a change (CI saw a pump
    outlive its entry and write the state of a removed camera)."""
    door = next(d for d in await client.devices() if d.serial == DOOR)
    started, release = asyncio.Event(), asyncio.Event()
    sessions: list[LiveSession] = []

    class Gated(LiveSession):
        async def start(self) -> None:
            await super().start()
            started.set()
            await release.wait()

    def open_session() -> LiveSession:
        sessions.append(Gated(client, door))
        return sessions[-1]

    changes: list[bool] = []
    feed = LiveFeed(open_session, idle_s=30, on_change=lambda: changes.append(True))
    preparing = asyncio.create_task(feed.prepare(30))
    async with asyncio.timeout(20):
        await started.wait()
    await feed.close()
    release.set()
    assert await preparing is False
    assert not feed.streaming and feed._pump is None and changes == []
    assert len(sessions) == 1 and not sessions[0].running
