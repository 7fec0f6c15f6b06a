"""A whole live session (docs/protocol/live-video.md#timers) against the emulator's tunnel, virtual
device and relays, over QTP (the faithful mode: video over reliable UDP, audio over TCP) and over
TCP."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import av
import pytest

from botslab_emulator import Emulator
from botslab_emulator.live.clip import live_clip
from custom_components.botslab.api import BotslabClient
from custom_components.botslab.api.live.pipeline import MAX_KEYFRAME_ERRORS
from custom_components.botslab.api.live.session import LiveError, LiveSession, LiveTimers

DOOR = "BDX3A1B2C3D4"


async def _door(client: BotslabClient):  # type: ignore[no-untyped-def]
    return next(d for d in await client.devices() if d.serial == DOOR)


async def _collect(session: LiveSession, count: int, timeout: float = 30) -> list:  # type: ignore[type-arg]
    frames = []
    async with asyncio.timeout(timeout):
        async for frame in session:
            frames.append(frame)
            if len(frames) >= count:
                break
    return frames


@pytest.mark.parametrize(
    "transport", ["qtp", "qtp-canonical", "qtp-tcp-answers", "tcp", "tcp-wrapped"]
)
async def test_full_session(client: BotslabClient, emu: Emulator, transport: str) -> None:
    """qtp: the faithful default, the TCP relay never answers LOGIN and video comes over
    QTP (docs/protocol/accepted.md#live-view); qtp-tcp-answers: the TCP relay answers (the easy
    form); tcp-wrapped: the TCP relay ignores the raw LOGIN; the client falls back to the
    QTP-wrapped one after 3 s and reads the frames in that framing
    (docs/protocol/live-video.md#tcp-relay)."""
    emu.live.faults.video_transport = transport.split("-", maxsplit=1)[0]
    emu.live.faults.tcp_framing = "qtp" if transport.endswith("wrapped") else "raw"
    emu.live.faults.tcp_silent = transport.startswith("qtp") and "tcp" not in transport
    # real: slices with escape bytes early and late (the default); canonical: none
    emu.live.faults.media = "canonical" if transport.endswith("canonical") else "real"
    door = await _door(client)
    session = LiveSession(client, door)
    await session.start()
    try:
        frames = await _collect(session, 40)
    finally:
        await session.stop()
    assert session.stats.transport == transport.split("-", maxsplit=1)[0]
    if emu.live.faults.tcp_silent:
        assert session._tcp is None, "the silent TCP leg was left"
    else:
        assert session._tcp is not None and session._tcp.wrapped == transport.endswith("wrapped")
    clip = live_clip(real=emu.live.faults.media == "real")
    # the first frame out is a keyframe; every AU is byte-identical to the clip's
    assert frames[0].keyframe
    start = clip.aus.index(frames[0].au)
    for offset, frame in enumerate(frames):
        assert frame.au == clip.aus[(start + offset) % len(clip.aus)]
        assert frame.keyframe == clip.keyframes[(start + offset) % len(clip.aus)]
    # timestamps follow the device clock at about 15 fps
    span = frames[-1].ts_ms - frames[0].ts_ms
    assert 39 * 1000 / 15 * 0.7 < span < 39 * 1000 / 15 * 1.5
    # PyAV decodes every frame
    decoder = av.CodecContext.create("h264", "r")
    decoded = 0
    for frame in frames:
        decoded += len(decoder.decode(av.Packet(frame.au)))
    decoded += len(decoder.decode(None))
    assert decoded == len(frames)
    stats = emu.live.stats
    assert stats.by_type.get("base_capacity") and stats.by_type.get("req_relay")
    assert not session.running and not session._tasks


FAST = LiveTimers(
    setup_tries=2,
    setup_gap=0.05,
    asleep_after=2.0,
    rewake=1.0,
    stall=1.5,
    first_frame=5.0,
    audio_only_after=2.5,
)


async def _error_of(session: LiveSession, timeout: float = 20) -> LiveError:
    async def run() -> None:
        await session.start()
        await _collect(session, 10_000, timeout)

    with pytest.raises(LiveError) as caught:
        await run()
    await session.stop()
    assert not session._tasks
    return caught.value


async def test_shared_account_gets_audio_only(client: BotslabClient, emu: Emulator) -> None:
    drive = next(d for d in await client.devices() if d.serial == "BCC5A0B1C2D3")
    assert not drive.owner
    error = await _error_of(LiveSession(client, drive, timers=FAST))
    assert error.reason == "audio_only"


@pytest.mark.parametrize(
    ("knob", "value"),
    [("flag0_replies", 8), ("flag0_replies", 0), ("synack_flags", 0x0C11), ("synack_flags", 0)],
)
async def test_tolerance_of_the_working_client(
    client: BotslabClient, emu: Emulator, knob: str, value: int
) -> None:
    """docs/protocol/accepted.md#live-view: flag-0 replies for several seconds before video, and a
    SYN-ACK with other flags, still give video (over QTP, the TCP relay silent)."""
    setattr(emu.live.faults, knob, value)
    door = await _door(client)
    session = LiveSession(client, door)
    await session.start()
    try:
        frames = await _collect(session, 10)
    finally:
        await session.stop()
    assert frames[0].keyframe and session.stats.transport == "qtp"
    if knob == "flag0_replies" and value:
        assert session.signalling is not None and session.signalling.flag_zero == value, (
            "it kept asking through the flag-0 replies"
        )


@pytest.mark.parametrize(
    ("fault", "value", "reason"),
    [
        ("audio_only", True, "audio_only"),
        ("stay_asleep", True, "device_asleep"),
        ("login_result", 2, "relay_refused"),
        ("substream_errcode", 3, "setup_failed"),
        ("bad_sign", True, "setup_failed"),
    ],
)
async def test_fault_knobs(
    client: BotslabClient, emu: Emulator, fault: str, value: object, reason: str
) -> None:
    door = await _door(client)
    url = f"{emu.base_url}/_emulator/faults"
    async with client.http_session.post(url, json={f"live_{fault}": value}) as resp:
        assert resp.status == 200
    error = await _error_of(LiveSession(client, door, timers=FAST))
    assert error.reason == reason
    if reason == "setup_failed" and fault == "substream_errcode":
        assert "code 3" in str(error)


@pytest.mark.parametrize("transport", ["qtp", "tcp"])
async def test_relay_dropping_mid_stream(
    client: BotslabClient, emu: Emulator, transport: str
) -> None:
    emu.live.faults.video_transport = transport
    emu.live.faults.drop_after_frames = 20
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    got: list[object] = []

    async def run() -> None:
        async with asyncio.timeout(20):
            async for frame in session:
                got.append(frame)

    with pytest.raises(LiveError) as caught:
        await run()
    assert caught.value.reason == "stream_lost"
    assert 1 <= len(got) <= 20
    await session.stop()


async def test_keys_rotated_between_sessions_are_refetched(
    client: BotslabClient, emu: Emulator
) -> None:
    """Cached keys that the device no longer uses, at the same indices: the first keyframe
    decodes with errors, within the working client's tolerance of 4
    (docs/protocol/live-video.md#keyframe-gate), so it is shown as that client shows it; because it
    had errors, the keys are fetched again and the next group is right. On the canonical (detailed)
    clip (real rotations bring new indices, which the client catches by the index,
    test_keys_rotated_mid_session)."""
    emu.live.faults.media = "canonical"
    door = await _door(client)
    first = LiveSession(client, door)
    await first.start()
    await _collect(first, 1)
    await first.stop()
    dev = emu.world.devices[DOOR]
    assert dev.live is not None
    # a keyframe decrypted with the wrong keys decodes with errors, except now and then (which
    # keyframe comes first depends on where the loop is): up to three sessions, each after
    # the device changed its keys again (same indices), until one meets errors
    for attempt in range(1, 4):
        dev.live["keys"] = {  # rotated: not the keys the cache holds
            i: k[attempt:] + k[:attempt] for i, k in dev.live["keys"].items()
        }
        second = LiveSession(client, door, cache=first._cache)
        await second.start()
        try:
            frames = await _collect(second, 18)  # into the second group
        finally:
            await second.stop()
        if second.stats.keyframe_errors:
            break
    # the keyframe is shown (a few decoder errors are within the tolerance) and, as it had
    # errors, the keys are fetched again: the next group decrypts with them
    assert second.pipeline is not None and second.pipeline.refetched_at is not None
    errors = second.stats.keyframe_errors
    assert errors is not None and 0 < errors <= MAX_KEYFRAME_ERRORS
    assert frames[-1].au in live_clip().aus


async def test_stop_leaves_nothing_running(client: BotslabClient, emu: Emulator) -> None:
    session = LiveSession(client, await _door(client))
    await session.start()
    await _collect(session, 2)
    emu.live.faults.heartbeat_timeout_s = 1.0
    assert emu.live.publishing(f"{DOOR}_01_01")
    await session.stop()
    assert not session._tasks and session.signalling is not None
    assert session.signalling.transport is not None and session.signalling.transport.is_closing()
    assert session._qtp is not None and session._qtp.transport is not None
    assert session._qtp.transport.is_closing()
    sent = emu.live.stats.xmsgs
    # with no heartbeat the device stops publishing; the stopped session sends nothing more
    async with asyncio.timeout(5):
        while emu.live.publishing(f"{DOOR}_01_01"):
            await asyncio.sleep(0.1)
    assert emu.live.stats.xmsgs == sent
    assert [f async for f in session] == []


async def test_keys_rotated_mid_session(client: BotslabClient, emu: Emulator) -> None:
    """The keys rotate while streaming (12 hours pass on the emulator clock): frames come with
    an index of the new set, the keys are fetched again, and video goes on with no garbage."""
    session = LiveSession(client, await _door(client))
    await session.start()
    try:
        await _collect(session, 5)
        old = set(session._keys.secret_keys)  # type: ignore[union-attr]
        emu.world.clock_offset += 12 * 3600
        frames = await _collect(session, 40)
    finally:
        await session.stop()
    assert session.pipeline is not None and session.pipeline.refetched_at is not None
    assert not old & set(session._keys.secret_keys)  # type: ignore[union-attr]
    clip = live_clip(real=True)
    assert all(frame.au in clip.aus for frame in frames)


@pytest.mark.slow(seconds=10)
async def test_heartbeats_keep_the_device_publishing(client: BotslabClient, emu: Emulator) -> None:
    """Without req_heartbeat the device stops after its timeout (here 3.5 s); a session that
    heartbeats every 2 s keeps video coming for three times as long."""
    emu.live.faults.heartbeat_timeout_s = 3.5
    session = LiveSession(client, await _door(client))
    await session.start()
    try:
        frames = await _collect(session, 15 * 9)
    finally:
        await session.stop()
    assert frames[-1].ts_ms - frames[0].ts_ms > 8000
    assert emu.live.stats.heartbeats >= 3


async def test_no_secret_in_the_logs(
    client: BotslabClient, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emu.live.faults.drop_after_frames = 20
    emu.live.faults.video_transport = "tcp"
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    with contextlib.suppress(LiveError):
        await _collect(session, 100)
    await session.stop()
    dev = emu.world.devices[DOOR]
    assert dev.live is not None
    secrets = [*emu.live.ukeys, *emu.live.signs, *dev.live["keys"].values()]
    secrets += [dev.live["license"]["authorization"], client.session.sid]  # type: ignore[union-attr]
    text = caplog.text + repr(session) + repr(session.stats)
    assert "live" in caplog.text.lower() or caplog.records
    for secret in secrets:
        assert secret not in text


async def test_an_expired_sid_is_renewed_by_the_setup(client: BotslabClient, emu: Emulator) -> None:
    """The running sid expired (get_keys answers 1015): the client's app login renews it and
    the live view opens with the new one."""
    door = await _door(client)
    before = client.session
    assert before is not None
    async with client.http_session.post(
        f"{emu.base_url}/_emulator/expire", json={"username": "demo@botslab.local"}
    ) as resp:
        assert resp.status == 200
    session = LiveSession(client, door)
    await session.start()
    try:
        await _collect(session, 1)
    finally:
        await session.stop()
    assert client.session is not None and client.session.sid != before.sid


async def test_a_failed_wake_call_ends_the_tunnel_step_too(
    client: BotslabClient, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wake call and the tunnel run side by side: when the wake call fails, start raises
    and the tunnel's step ends with it (no task of the session is left behind)."""
    from custom_components.botslab.api import RateLimited

    door = await _door(client)

    async def refused(_device: object) -> None:
        raise RateLimited("the cloud asked for a pause", retry_after=60)

    monkeypatch.setattr(client, "wake_up", refused)
    before = asyncio.all_tasks()
    session = LiveSession(client, door)
    with pytest.raises(LiveError):
        await session.start()
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if "LiveSession" in repr(t)]
    assert not left, left


async def test_a_start_cancelled_midway_leaves_nothing_running(
    client: BotslabClient, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelled while it starts (Home Assistant's timeout around the stream source, an
    unload): the relay legs and the tunnel, already running, stop with it."""
    door = await _door(client)
    woken = asyncio.Event()

    async def slow_wake(_device: object) -> None:
        woken.set()
        await asyncio.sleep(3600)  # a device that takes its time

    monkeypatch.setattr(client, "wake_up", slow_wake)
    before = asyncio.all_tasks()
    session = LiveSession(client, door)
    starting = asyncio.create_task(session.start())
    await asyncio.wait_for(woken.wait(), 10)
    await asyncio.sleep(0.2)  # the legs dial meanwhile
    starting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starting
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if "LiveSession" in repr(t)]
    assert not left, left
