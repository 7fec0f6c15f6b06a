"""Live view in Home Assistant: the camera entity's stream against the emulator's virtual
devices, through the loopback MPEG-TS feed and HA's own stream component (HLS)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

from homeassistant.components.camera import (
    CameraEntityFeature,
    DynamicStreamSettings,
    async_get_stream_source,
)
from homeassistant.components.stream import create_stream
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest

from botslab_emulator import Emulator
from botslab_emulator.live.clip import live_clip
from custom_components.botslab import camera as camera_module
from custom_components.botslab.api.live.session import LiveTimers
from custom_components.botslab.camera import USER_FIXABLE
from custom_components.botslab.const import DOMAIN
from custom_components.botslab.diagnostics import async_get_config_entry_diagnostics

from .ha_helpers import scoped_uid
from .live_feed_io import read_feed, video_packets

DOOR = "camera.front_door"
DRIVEWAY = "camera.driveway"


def _camera(hass: HomeAssistant, entity_id: str) -> Any:
    return hass.data["camera"].get_entity(entity_id)


async def test_stream_source_serves_the_decrypted_video(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    state = hass.states.get(DOOR)
    assert state is not None and state.state == "idle"
    assert state.attributes["supported_features"] & CameraEntityFeature.STREAM
    # nothing was woken or started by setting up the entity
    assert not emulator.live.stats.xmsgs and not emulator.live.publishers
    url = await async_get_stream_source(hass, DOOR)
    assert url is not None and urlsplit(url).hostname == "127.0.0.1" and url.endswith(".ts")
    assert hass.states.get(DOOR).state == "streaming"  # type: ignore[union-attr]
    held_bytes = len(live_clip(real=True).aus[0]) * 60  # the still, at most 50 copies
    data = await read_feed(url, held_bytes + 60_000, timeout=20)
    assert len(data) >= held_bytes + 60_000, "the feed closed"
    packets = video_packets(data)
    clip = live_clip(real=True)
    assert packets[0].is_keyframe and bytes(packets[0]) in clip.aus
    # the still before the first keyframe held (Home Assistant's first segment filled at
    # once): copies of it, 0.2 s apart, then the video as the device sent it
    held = 0
    while held + 1 < len(packets) and bytes(packets[held + 1]) == bytes(packets[0]):
        assert packets[held + 1].pts - packets[held].pts == 18000
        held += 1
    assert held >= 10, "the first keyframe is held as a still before it"
    packets = packets[held:]
    assert len(packets) >= 20, "and the live video after it"
    start = clip.aus.index(bytes(packets[0]))
    for offset, packet in enumerate(packets):
        assert bytes(packet) == clip.aus[(start + offset) % len(clip.aus)]
    decoded = sum(len(packet.decode()) for packet in packets)
    assert decoded >= len(packets) - 1
    pts = [p.pts for p in packets]
    assert pts == sorted(pts)


@pytest.mark.parametrize("expected_lingering_timers", [True])  # the stream's HLS idle timer
async def test_hls_through_the_stream_component(
    hass: HomeAssistant, entry: ConfigEntry, hass_ws_client: Any, hass_client: Any
) -> None:
    assert await async_setup_component(hass, "stream", {})
    ws = await hass_ws_client(hass)
    await ws.send_json({"id": 1, "type": "camera/stream", "entity_id": DOOR})
    reply = await ws.receive_json()
    assert reply["success"], reply
    http = await hass_client()
    master = reply["result"]["url"]
    async with http.get(master) as resp:
        assert resp.status == 200
        assert "playlist.m3u8" in await resp.text()
    playlist = master.replace("master_playlist.m3u8", "playlist.m3u8")
    text = ""
    async with asyncio.timeout(60):
        while "#EXTINF" not in text:
            await asyncio.sleep(0.5)
            async with http.get(playlist) as resp:
                text = await resp.text() if resp.status == 200 else ""
    segment = next(line for line in text.splitlines() if line.endswith(".m4s"))
    async with http.get(playlist.rsplit("/", 1)[0] + "/" + segment) as resp:
        assert resp.status == 200 and len(await resp.read()) > 1000
    cam = _camera(hass, DOOR)
    assert cam._feed.refused == 0, "the stream worker's own request is let in"
    assert cam._feed.challenged >= 1, "ffmpeg sent the secret only once challenged"
    await cam.stream.stop()


async def test_the_feed_is_no_open_door(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the stream component has left, another program on the host that finds the port
    gets no video and wakes nothing: the feed's URL carries a secret."""
    monkeypatch.setattr(camera_module, "LIVE_IDLE_SECONDS", 0.5)
    url = await async_get_stream_source(hass, DOOR)
    assert url is not None
    async with asyncio.timeout(10):
        while hass.states.get(DOOR).state == "streaming":  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
    wakes = emulator.counters.requests.get("/api/eu1/v1/iot/device/invoke_service", 0)
    port = urlsplit(url).port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\n\r\n")
    async with asyncio.timeout(10):
        answer = await reader.read()
    writer.close()
    assert answer.startswith(b"HTTP/1.1 404") and b"\x47" not in answer
    assert await read_feed(f"tcp://127.0.0.1:{port}", request=b"", timeout=10) == b""
    assert hass.states.get(DOOR).state == "idle"  # type: ignore[union-attr]
    assert emulator.counters.requests.get("/api/eu1/v1/iot/device/invoke_service", 0) == wakes
    assert _camera(hass, DOOR)._feed.sessions == 1


async def test_home_assistant_logs_no_feed_secret(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """When the stream worker cannot open the feed (the doorbell refuses to start its stream),
    Home Assistant's stream component logs the feed's URL, at ERROR. The secret is
    the URL's password, which it hides; it was the path, which it logged as it was."""
    caplog.set_level(logging.DEBUG, logger="homeassistant.components.stream")
    monkeypatch.setattr(camera_module, "LIVE_IDLE_SECONDS", 0.5)
    monkeypatch.setattr(
        camera_module,
        "LIVE_TIMERS",
        LiveTimers(asleep_after=2, rewake=1, setup_tries=1, audio_only_after=2),
    )
    assert await async_setup_component(hass, "stream", {})
    url = await async_get_stream_source(hass, DOOR)
    assert url is not None
    secret = urlsplit(url).password
    assert secret
    async with asyncio.timeout(10):
        while hass.states.get(DOOR).state == "streaming":  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
    emulator.live.faults.substream_errcode = 3
    stream = create_stream(hass, url, {}, DynamicStreamSettings(), DOOR)
    await stream.start()
    try:
        async with asyncio.timeout(30):
            while "Error from stream worker" not in caplog.text:
                await asyncio.sleep(0.1)
    finally:
        await stream.stop()
    assert secret not in caplog.text
    assert "****:****@127.0.0.1" in caplog.text, "the URL was logged, its user part hidden"
    assert _camera(hass, DOOR)._feed.last_error is not None


@pytest.mark.slow(seconds=8)
async def test_idle_teardown(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Handed out but never read, or read and left: the session stops after the idle time,
    and the device stops publishing soon after."""
    monkeypatch.setattr(camera_module, "LIVE_IDLE_SECONDS", 0.5)
    emulator.live.faults.heartbeat_timeout_s = 4.0  # > the 2 s heartbeat, with room
    url = await async_get_stream_source(hass, DOOR)
    assert url is not None
    async with asyncio.timeout(10):
        while hass.states.get(DOOR).state == "streaming":  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
    assert _camera(hass, DOOR)._feed.sessions == 1
    # a viewer that comes and goes: a new session, and teardown once it leaves
    assert len(await read_feed(url, 50_000, timeout=20)) >= 50_000, "the feed closed"
    assert _camera(hass, DOOR)._feed.sessions == 2
    async with asyncio.timeout(15):
        while hass.states.get(DOOR).state == "streaming":  # type: ignore[union-attr]
            await asyncio.sleep(0.1)
        while emulator.live.publishing("BDX3A1B2C3D4_01_01"):
            await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    "case",
    [
        (DRIVEWAY, None, "sends only the sound of Driveway"),
        (DOOR, "stay_asleep", "Front Door did not wake up"),
        (DOOR, "login_result", "relay refused the live stream of Front Door"),
        (DOOR, "substream_errcode", "did not start the live stream of Front Door"),
    ],
)
@pytest.mark.usefixtures("entry")
async def test_errors_are_translated(  # noqa: PLR0917 (fixtures)
    hass: HomeAssistant,
    emulator: Emulator,
    hass_ws_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    case: tuple[str, str | None, str],
) -> None:
    entity_id, fault, words = case
    monkeypatch.setattr(
        camera_module,
        "LIVE_TIMERS",
        LiveTimers(asleep_after=2, rewake=1, setup_tries=1, audio_only_after=2),
    )
    if fault is not None:
        setattr(emulator.live.faults, fault, 3 if fault != "stay_asleep" else True)
    assert await async_setup_component(hass, "stream", {})
    ws = await hass_ws_client(hass)
    await ws.send_json({"id": 1, "type": "camera/stream", "entity_id": entity_id})
    reply = await ws.receive_json()
    assert not reply["success"]
    assert words in reply["error"]["message"]
    assert hass.states.get(entity_id).state == "idle"  # type: ignore[union-attr]
    cam = _camera(hass, entity_id)
    assert cam.stream is None
    reason = cam._feed.last_error.reason
    issue = ir.async_get(hass).async_get_issue(DOMAIN, cam._live_issue_id)
    attrs = hass.states.get(entity_id).attributes  # type: ignore[union-attr]
    assert attrs["live_view_error"] == reason
    if reason in USER_FIXABLE:
        # the frontend's player falls back to the still image: a repair notice says why
        assert issue is not None and issue.translation_key == f"live_{reason}"
        assert issue.translation_placeholders is not None
        assert issue.translation_placeholders["device"] in words
    else:
        # transient: nothing to repair; logged once, and shown on the camera
        assert issue is None
        assert caplog.text.count(f"Live view of Front Door failed: {reason}") == 1
        with pytest.raises(HomeAssistantError):
            await async_get_stream_source(hass, entity_id)
        assert caplog.text.count(f"Live view of Front Door failed: {reason}") == 1, "once"
    if fault is not None:  # the fault gone, a live view works and the notice goes
        setattr(emulator.live.faults, fault, type(getattr(emulator.live.faults, fault))())
        assert await async_get_stream_source(hass, entity_id)
        assert ir.async_get(hass).async_get_issue(DOMAIN, cam._live_issue_id) is None
        attrs = hass.states.get(entity_id).attributes  # type: ignore[union-attr]
        assert attrs["live_view_error"] is None
        assert reason in USER_FIXABLE or "Live view of Front Door works again" in caplog.text


async def test_unload_leaves_nothing_running(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    url = await async_get_stream_source(hass, DOOR)
    assert url is not None
    feed = _camera(hass, DOOR)._feed
    session = feed.session
    assert session is not None and session.running
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert not session.running and not session._tasks
    assert feed._server is None and feed.session is None
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", urlsplit(url).port)


async def test_offline_device_and_diagnostics(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    url = await async_get_stream_source(hass, DOOR)
    assert url is not None
    diag = await async_get_config_entry_diagnostics(hass, entry)
    door = next(d for d in diag["devices"] if d["live"] is not None)
    assert door["live"]["streaming"] and door["live"]["sessions"] == 1
    assert door["live"]["stats"]["transport"] == "qtp"
    # a device that went offline says so, and nothing is started
    emulator.world.devices["BCC2C9D0E1F2"].online = False
    await entry.runtime_data.device_coordinator.async_refresh()
    with pytest.raises(HomeAssistantError, match="Living Room is offline"):
        await async_get_stream_source(hass, "camera.living_room")


async def test_webrtc_providers_are_never_asked(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_ws_client: Any
) -> None:
    """The camera offers HLS only, whatever WebRTC provider is registered: asking one would
    call stream_source() (and wake a battery doorbell) at every provider refresh. The camera
    answers Camera's public async_refresh_providers itself."""
    from homeassistant.components.camera import Camera
    from homeassistant.components.camera.webrtc import (
        CameraWebRTCProvider,
        async_register_webrtc_provider,
    )

    class RecordingProvider(CameraWebRTCProvider):
        """A provider (go2rtc's role) that takes every stream and records what it was asked:
        a camera that offers itself to it hands over its stream source."""

        def __init__(self) -> None:
            self.asked: list[str] = []

        @property
        def domain(self) -> str:
            return "test_webrtc"

        @callback
        def async_is_supported(self, stream_source: str) -> bool:
            self.asked.append(stream_source)
            return True

        async def async_handle_async_webrtc_offer(self, *args: Any) -> None:
            raise AssertionError("no WebRTC offer may reach a BOTSLAB camera")

        async def async_on_webrtc_candidate(self, *args: Any) -> None:
            raise AssertionError("no WebRTC candidate may reach a BOTSLAB camera")

    assert callable(getattr(Camera, "async_refresh_providers", None))
    provider = RecordingProvider()
    unregister = async_register_webrtc_provider(hass, provider)
    try:
        await hass.async_block_till_done()
        ws = await hass_ws_client(hass)
        for n, entity_id in enumerate((DOOR, "camera.garden"), start=1):
            await _camera(hass, entity_id).async_refresh_providers()
            await ws.send_json({"id": n, "type": "camera/capabilities", "entity_id": entity_id})
            reply = await ws.receive_json()
            assert reply["success"], reply
            assert reply["result"]["frontend_stream_types"] == ["hls"]
        assert provider.asked == []
        assert not emulator.live.stats.xmsgs and not emulator.live.publishers, "nothing woken"
        assert not entry.runtime_data.live_feeds, "no stream source was asked for"
    finally:
        unregister()
        await hass.async_block_till_done()


@pytest.mark.usefixtures("entry")
async def test_a_relay_in_the_home_network_is_refused(
    hass: HomeAssistant, emulator: Emulator, hass_ws_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler names a relay at a private address (a hostile or spoofed answer): the
    address guard refuses it before any socket, and the player gets a translated reason
    (docs/protocol/accepted.md#address-guard, issue 24 item 2)."""
    monkeypatch.setattr(camera_module, "LIVE_TIMERS", LiveTimers(setup_tries=1))
    emulator.live.faults.relay_host = "192.168.1.20"
    assert await async_setup_component(hass, "stream", {})
    ws = await hass_ws_client(hass)
    await ws.send_json({"id": 1, "type": "camera/stream", "entity_id": DOOR})
    reply = await ws.receive_json()
    assert not reply["success"]
    assert "not on the internet" in reply["error"]["message"]
    attrs = hass.states.get(DOOR).attributes  # type: ignore[union-attr]
    assert attrs["live_view_error"] == "address_refused"
    assert not emulator.live.stats.xmsgs, "nothing was sent to the device either"


async def test_a_shared_camera_says_why_before_it_is_opened(  # noqa: PLR0917 (fixtures)
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: Emulator,
    hass_ws_client: Any,
    hass_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """BOTSLAB sends a shared account a camera's sound only: a known, permanent condition.
    The camera offers no live stream (the frontend shows its snapshot, no player that fails
    after a wait, no error in the log), says why in its attributes, and its device page has a
    "Live view" line that says the same, translated."""
    state = hass.states.get(DRIVEWAY)
    assert state is not None
    assert not state.attributes["supported_features"] & CameraEntityFeature.STREAM
    assert state.attributes["live_view_error"] == "audio_only"
    sensor = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, scoped_uid(hass, "BCC5A0B1C2D3_live_view")
    )
    assert sensor and hass.states.get(sensor).state == "sound_only_shared"
    ws = await hass_ws_client(hass)
    await ws.send_json({"id": 1, "type": "camera/capabilities", "entity_id": DRIVEWAY})
    reply = await ws.receive_json()
    assert reply["success"] and reply["result"]["frontend_stream_types"] == []
    # what the more-info dialog asks for: the still picture, which it gets
    http = await hass_client()
    async with http.get(state.attributes["entity_picture"]) as resp:
        assert resp.status == 200
    assert not emulator.live.stats.xmsgs, "nothing was asked of the device"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    # an owned camera still streams
    assert hass.states.get(DOOR).attributes["supported_features"] & CameraEntityFeature.STREAM
