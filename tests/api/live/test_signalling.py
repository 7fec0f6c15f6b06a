"""The signalling part alone, against the emulator's tunnel and virtual device: no HTTP setup,
no relay, no media. The tunnel handshake, encrypted req_relay and heartbeat, the answers'
flags, and the timers' verdicts."""

from __future__ import annotations

import asyncio
import time

import pytest

from botslab_emulator import Emulator
from custom_components.botslab.api.live.pipeline import LiveError
from custom_components.botslab.api.live.signalling import LiveTimers, Signalling, ViewerIds
from custom_components.botslab.api.models import CameraKeys

DOOR = "BDX3A1B2C3D4"
IDS = ViewerIds(machine_id="a1b2c3d4e5f60718", requester_id="botslab_test", cts=1)


class Hooks:
    """The session's side, counted."""

    def __init__(self) -> None:
        self.keepalives = self.rewakes = self.reregisters = 0
        self.frames, self.last_media = 0, 0.0

    def keepalive(self) -> None:
        self.keepalives += 1

    def rewake(self) -> None:
        self.rewakes += 1

    def reregister(self) -> None:
        self.reregisters += 1

    def media(self) -> tuple[int, float]:
        return self.frames, self.last_media


def signalling_for(emu: Emulator, timers: LiveTimers) -> Signalling:
    dev = emu.world.devices[DOOR]
    dev.awake_until = emu.world.now() + 600
    keys = CameraKeys.from_api(emu.world.devices.live_keys(dev))
    servers = (("127.0.0.1", emu.tunnel_port),)
    return Signalling(DOOR, keys, servers, IDS, timers)


async def test_a_registered_owner_gets_video(emu: Emulator) -> None:
    dev = emu.world.devices[DOOR]
    emu.live.registered[(DOOR, IDS.machine_id)] = f"botslab_{dev.owner_qid}"  # schedule_2
    emu.live.faults.flag0_replies = 1
    signalling = signalling_for(emu, LiveTimers(keepalive=0.2, heartbeat=0.3))
    hooks = Hooks()
    await signalling.open()
    task = asyncio.get_running_loop().create_task(signalling.run(hooks))
    try:
        async with asyncio.timeout(10):
            while not (signalling.flag == 1 and emu.live.stats.heartbeats >= 2):
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        signalling.close()
    assert signalling.connect_replies >= 1, "CONNECT was echoed"
    assert signalling.publishing and signalling.base_capacity_done
    assert signalling.flag_zero == 1, "one audio-only answer first (the knob), then video"
    assert emu.live.publishing(f"{DOOR}_01_01"), "the device publishes to the relay"
    assert hooks.keepalives >= 1
    assert signalling.transport is not None and signalling.transport.is_closing()


async def test_an_unregistered_viewer_hears_audio_only(emu: Emulator) -> None:
    timers = LiveTimers(audio_only_after=0.5, req_relay=0.1)
    signalling = signalling_for(emu, timers)
    await signalling.open()
    with pytest.raises(LiveError) as caught:
        async with asyncio.timeout(10):
            await signalling.run(Hooks())
    signalling.close()
    assert caught.value.reason == "audio_only"
    assert signalling.flag == 0 and signalling.flag_zero >= 3


async def test_a_device_that_never_answers_is_asleep(emu: Emulator) -> None:
    emu.live.faults.stay_asleep = True
    hooks = Hooks()
    signalling = signalling_for(emu, LiveTimers(asleep_after=1.0, rewake=0.3))
    await signalling.open()
    with pytest.raises(LiveError) as caught:
        async with asyncio.timeout(10):
            await signalling.run(hooks)
    signalling.close()
    assert caught.value.reason == "device_asleep"
    assert hooks.rewakes >= 2 and not signalling.publishing


async def test_media_that_stops_is_a_stall(emu: Emulator) -> None:
    """The verdict on media comes from the hooks: frames that stopped coming end the loop."""
    emu.live.faults.stay_asleep = True
    hooks = Hooks()
    hooks.frames, hooks.last_media = 5, asyncio.get_running_loop().time() - 60
    signalling = signalling_for(emu, LiveTimers(stall=0.5))
    await signalling.open()
    with pytest.raises(LiveError) as caught:
        async with asyncio.timeout(5):
            await signalling.run(hooks)
    signalling.close()
    assert caught.value.reason == "stream_lost"


class Flowing(Hooks):
    """Video frames arriving from `after` seconds on (the relay's side, as the session sees
    it), whatever the signalling replies say."""

    def __init__(self, after: float = 0.0) -> None:
        super().__init__()
        self.since = time.monotonic() + after

    def media(self) -> tuple[int, float]:
        now = time.monotonic()
        return (1, now) if now >= self.since else (0, 0.0)


async def test_video_beats_any_number_of_flag0_replies(emu: Emulator) -> None:
    """docs/protocol/accepted.md#live-view: arriving media is proof that the device publishes. A
    viewer that gets flag 0 for ever but sees video is not "audio only", however many flag-0 replies
    come (here many times the three, and far past `audio_only_after`)."""
    timers = LiveTimers(audio_only_after=0.3, req_relay=0.05, heartbeat=0.3)
    signalling = signalling_for(emu, timers)
    await signalling.open()
    task = asyncio.get_running_loop().create_task(signalling.run(Flowing()))
    try:
        async with asyncio.timeout(10):
            while signalling.flag_zero < 20:
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert not task.done(), task.exception() if task.done() else None
    finally:
        task.cancel()
        signalling.close()
    assert signalling.flag == 0 and signalling.publishing
    assert emu.live.stats.heartbeats >= 1, "media started the heartbeats"


async def test_heartbeats_start_when_media_arrives(emu: Emulator) -> None:
    """docs/protocol/live-video.md#signalling-messages, docs/protocol/live-video.md#timers:
    heartbeats start with the first media frame, not only after a parsed reply. The device's replies
    are late here (60 s), its media is not."""
    dev = emu.world.devices[DOOR]
    emu.live.registered[(DOOR, IDS.machine_id)] = f"botslab_{dev.owner_qid}"
    emu.live.faults.reply_delay_s = 60
    signalling = signalling_for(emu, LiveTimers(heartbeat=0.2))
    await signalling.open()
    task = asyncio.get_running_loop().create_task(signalling.run(Flowing(after=0.3)))
    try:
        async with asyncio.timeout(10):
            while emu.live.stats.heartbeats < 3:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        signalling.close()
    assert signalling.flag == -1, "no reply was read"
    assert emu.live.stats.by_type.get("req_relay")


@pytest.mark.parametrize(
    ("skew", "form"), [(5, "padded"), (-3, "unpadded"), (16, "loose"), (0, "loose")]
)
async def test_odd_length_fields_and_loose_base64(emu: Emulator, skew: int, form: str) -> None:
    """docs/protocol/accepted.md#live-view: the working client checks neither the tunnel
    datagrams' length field nor Base64 padding; the device's replies still count."""
    dev = emu.world.devices[DOOR]
    emu.live.registered[(DOOR, IDS.machine_id)] = f"botslab_{dev.owner_qid}"
    emu.live.faults.flag0_replies = 1
    emu.live.faults.tunnel_length_skew = skew
    emu.live.faults.base64 = form
    signalling = signalling_for(emu, LiveTimers(req_relay=0.1))
    await signalling.open()
    task = asyncio.get_running_loop().create_task(signalling.run(Hooks()))
    try:
        async with asyncio.timeout(10):
            while signalling.flag != 1:
                await asyncio.sleep(0.05)
    finally:
        task.cancel()
        signalling.close()
    assert signalling.connect_replies >= 1 and signalling.base_capacity_done
    assert signalling.flag_zero == 1 and signalling.publishing
