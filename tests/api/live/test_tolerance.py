"""Live view gives up only when the device truly gives nothing (issue 24, item 5;
docs/protocol/accepted.md#live-view): whole sessions against the emulator's live world with its
knobs, each a variant the working client accepts. And every host the cloud names for live view goes
through the address guard (item 2)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from botslab_emulator import Emulator
from botslab_emulator.live import media as device
from botslab_emulator.live.clip import live_clip
from custom_components.botslab.api import BotslabClient
from custom_components.botslab.api.live.pipeline import MAX_KEYFRAME_ERRORS
from custom_components.botslab.api.live.session import LiveError, LiveSession, LiveTimers
from custom_components.botslab.api.models import Device

DOOR = "BDX3A1B2C3D4"
FAST = LiveTimers(
    setup_tries=2,
    setup_gap=0.05,
    asleep_after=2.0,
    rewake=1.0,
    stall=1.5,
    first_frame=5.0,
    audio_only_after=2.5,
)


async def _door(client: BotslabClient) -> Device:
    return next(d for d in await client.devices() if d.serial == DOOR)


async def _frames(session: LiveSession, count: int, timeout: float = 30) -> list[Any]:
    """`count` frames of a started session; the session is stopped either way."""
    frames: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            async for frame in session:
                frames.append(frame)
                if len(frames) >= count:
                    break
    finally:
        await session.stop()
    assert not session._tasks
    return frames


@pytest.mark.parametrize("close", ["at_once", "after_login", "reset", "refuse_login"])
async def test_how_the_tcp_leg_ends_never_ends_a_session_with_qtp(
    client: BotslabClient, emu: Emulator, close: str
) -> None:
    """The TCP relay closes at once, closes once LOGIN is read, resets, or refuses the LOGIN
    while QTP carries the video: the working client ignores the TCP leg's fate."""
    emu.live.faults.tcp_close = close
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    frames = await _frames(session, 45)  # three seconds of video
    assert frames[0].keyframe and session.stats.transport == "qtp"
    assert session._tcp_end is not None, "the TCP leg did end"
    assert session._tcp_end.reason == (
        "relay_refused" if close == "refuse_login" else "stream_lost"
    )
    clip = live_clip(real=True)
    assert all(f.au in clip.aus for f in frames)


async def test_video_beats_any_number_of_flag0_replies(
    client: BotslabClient, emu: Emulator
) -> None:
    """Video flows while every req_relay_res says flag 0, for twice `audio_only_after`: the
    session is not "audio only" (arriving media is proof that the device publishes)."""
    emu.live.faults.flag0_replies = 10_000
    emu.live.faults.video_during_flag0 = True
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    frames = await _frames(session, 75)  # five seconds, audio_only_after is 2.5
    assert frames[-1].ts_ms - frames[0].ts_ms > (FAST.audio_only_after + 1.5) * 1000
    assert session.signalling is not None
    assert session.signalling.flag == 0 and session.signalling.flag_zero > 5


@pytest.mark.slow(seconds=8)
async def test_heartbeats_start_when_media_arrives(client: BotslabClient, emu: Emulator) -> None:
    """The device publishes at once but its replies come late (60 s): heartbeats start with
    the media, so the stream, which lapses after 3.5 s without one, never restarts."""
    emu.live.faults.reply_delay_s = 60
    emu.live.faults.heartbeat_timeout_s = 3.5
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    frames = await _frames(session, 90)  # six seconds
    assert frames[-1].ts_ms - frames[0].ts_ms > 5000
    assert session.signalling is not None and session.signalling.flag == -1, "no reply read"
    assert emu.live.stats.heartbeats >= 2
    assert emu.live.stats.publisher_starts == 1, "the stream never lapsed"


@pytest.mark.parametrize(("skew", "form"), [(5, "loose"), (-2, "unpadded")])
async def test_odd_tunnel_lengths_and_loose_base64(
    client: BotslabClient, emu: Emulator, skew: int, form: str
) -> None:
    emu.live.faults.tunnel_length_skew = skew
    emu.live.faults.base64 = form
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    frames = await _frames(session, 20)
    assert frames[0].keyframe
    signalling = session.signalling
    assert signalling is not None and signalling.flag == 1 and signalling.base_capacity_done
    assert signalling.connect_replies >= 1


async def test_keyframes_without_sps_pps(client: BotslabClient, emu: Emulator) -> None:
    """Every other keyframe comes without SPS/PPS: each gets the last ones seen (so every
    keyframe passed on is byte for byte the encoder's), and only the first is test-decoded."""
    emu.live.faults.keyframe_params = "alternate"
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    frames = await _frames(session, 50)  # four keyframes
    clip = live_clip(real=True)
    assert frames[0].keyframe and all(f.au in clip.aus for f in frames)
    assert session.stats.params_added >= 1 and session.stats.keyframe_errors == 0


async def test_a_first_keyframe_with_a_few_decoder_errors(
    client: BotslabClient, emu: Emulator
) -> None:
    """Both slices of every keyframe are damaged: the first keyframe decodes with errors,
    within the working client's tolerance of 4, and video flows."""
    emu.live.faults.keyframe_damage = 2
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    frames = await _frames(session, 30)
    errors = session.stats.keyframe_errors
    assert errors is not None and 0 < errors <= MAX_KEYFRAME_ERRORS
    clip = live_clip(real=True)
    assert all(f.au in clip.aus for f in frames if not f.keyframe)


@pytest.mark.parametrize(("every", "first"), [(False, 30), (True, 0)])
async def test_an_unknown_key_index_falls_back_to_the_signalling_key(
    client: BotslabClient, emu: Emulator, every: bool, first: int
) -> None:
    """Frames carry a key index nobody was given (the first 30, or all), encrypted with the
    signalling key: they decrypt, and the keys are fetched again exactly once."""
    emu.live.faults.unknown_key_index = every
    emu.live.faults.unknown_key_frames = first
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    before = _get_keys(emu)
    frames = await _frames(session, 45)
    clip = live_clip(real=True)
    # under one forced key a real-media frame may end its ciphertext in a lone 00, which no
    # H.264 stream can carry (docs/protocol/live-video.md#escape-bytes, failure 2); the device has
    # no other key here
    keys = emu.world.devices[DOOR].live["keys"]  # type: ignore[index]
    index = sorted(keys, key=int)[len(keys) // 3]
    key = keys[index].encode()[:32].ljust(32, b"\x00")
    lost = sum(not device.encrypt_au(au, key, real=True)[1] for au in clip.aus)
    assert frames[0].keyframe and sum(f.au not in clip.aus for f in frames) <= lost
    assert session.stats.fallback_key >= (1 if first else 45)
    assert _get_keys(emu) == before + 1, "fetched again once"


def _get_keys(emu: Emulator) -> int:
    return sum(n for path, n in emu.counters.requests.items() if path.endswith("/get_keys"))


# --- the address guard ------------------------------------------------------------------------
@pytest.fixture
def destinations(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket connects or sends to; anything but the emulator's 127.0.0.1 is
    refused here, so that a test of a hostile answer never reaches another host."""
    seen: list[Any] = []
    real_connect, real_sendto = socket.socket.connect, socket.socket.sendto

    def check(address: Any) -> None:
        seen.append(address)
        if isinstance(address, tuple) and address[0] != "127.0.0.1":
            raise OSError(f"the test refused a socket to {address[0]}")

    def connect(self: socket.socket, address: Any) -> None:
        check(address)
        real_connect(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        check(args[-1])
        return real_sendto(self, data, *args)  # type: ignore[call-overload,no-any-return]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    return seen


@pytest.mark.parametrize("host", ["10.0.0.7", "169.254.169.254", "127.0.0.2"])
@pytest.mark.parametrize("knob", ["relay_host", "tunnel_host"])
async def test_a_hostile_live_host_is_refused(
    client: BotslabClient, emu: Emulator, destinations: list[Any], knob: str, host: str
) -> None:
    """The scheduler names a relay, or cloud control a tunnel server, in the user's network
    (or the cloud's metadata address, or another loopback address): the session fails with
    "address_refused" and nothing is sent there. The emulator's trusted 127.0.0.1 works
    (every other test)."""
    setattr(emu.live.faults, knob, host)
    session = LiveSession(client, await _door(client), timers=FAST)
    with pytest.raises(LiveError) as caught:
        await session.start()
    assert caught.value.reason == "address_refused" and host in str(caught.value)
    assert not session._tasks and not session.running
    assert not [a for a in destinations if isinstance(a, tuple) and a[0] == host]


async def test_a_refused_tunnel_server_is_left_out(
    client: BotslabClient, emu: Emulator, destinations: list[Any]
) -> None:
    """Cloud control names two tunnel servers, one of them private: the session talks to the
    other only."""
    emu.live.faults.tunnel_host = "10.9.8.7,127.0.0.1"
    session = LiveSession(client, await _door(client), timers=FAST)
    await session.start()
    frames = await _frames(session, 5)
    assert frames[0].keyframe
    assert not [a for a in destinations if isinstance(a, tuple) and a[0] == "10.9.8.7"]
    assert [a for a in destinations if isinstance(a, tuple) and a[1] == emu.tunnel_port]
