"""Live view prepared on a ring (issue 28): the doorbell's session starts when it rings, so that
opening the camera finds the video there; it ends quietly with its window when nobody watches;
two rings share one session; a device with a low battery is left alone; a person seen by a
camera prepares it only when the option says so."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from homeassistant.components.camera import async_get_stream_source
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from botslab_emulator import Emulator
from custom_components.botslab import camera as camera_module
from custom_components.botslab.api.live import feed as feed_module
from custom_components.botslab.const import (
    CONF_LIVE_PREPARE_MIN_BATTERY,
    CONF_LIVE_PREPARE_PERSON,
    CONF_LIVE_PREPARE_SECONDS,
    DOMAIN,
)

from .live_feed_io import read_feed, video_packets

DOOR, DOOR_SN = "camera.front_door", "BDX3A1B2C3D4"
GARDEN, GARDEN_SN = "camera.garden", "BCC5E5F6A7B8"
STREAM = f"{DOOR_SN}_01_01"


def _camera(hass: HomeAssistant, entity_id: str) -> Any:
    return hass.data["camera"].get_entity(entity_id)


async def set_options(hass: HomeAssistant, entry: ConfigEntry, **options: Any) -> None:
    """Through the options flow, as the frontend sends it."""
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    defaults = {
        key.schema: key.default()
        for key in flow["data_schema"].schema
        if callable(getattr(key, "default", None))
    }
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {**defaults, **options}
    )
    assert result["type"] == "create_entry", result
    await hass.async_block_till_done()


async def _until(check: Any, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_a_ring_prepares_the_live_view(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    cam = _camera(hass, DOOR)
    assert cam._feed is None and not emulator.live.stats.xmsgs, "nothing before the ring"
    await emulator.trigger(DOOR_SN, "ring")
    # the session starts by itself: nobody asked for the stream
    await _until(lambda: cam._feed is not None and cam._feed.history_ms >= 1000)
    feed = cam._feed
    assert feed.prepared == 1 and feed.sessions == 1
    assert emulator.live.publishing(STREAM)
    assert emulator.live.stats.cold_wakes == 0, "the device is awake after its ring"
    assert hass.states.get(DOOR).state == "idle", "prepared is not streaming to anybody"  # type: ignore[union-attr]
    # opening the camera now: the URL at once, and a second of video in the first read
    loop = asyncio.get_running_loop()
    asked = loop.time()
    url = await async_get_stream_source(hass, DOOR)
    assert url is not None and loop.time() - asked < 0.5
    await hass.async_block_till_done()
    assert hass.states.get(DOOR).state == "streaming"  # type: ignore[union-attr]
    held = len(feed._backfill()) + len(feed._history_bytes())
    data = await read_feed(url, held, timeout=1.0)  # all of it at once
    packets = video_packets(data)
    assert packets and packets[0].is_keyframe
    distinct = {bytes(p) for p in packets}
    assert len(distinct) >= 15, "the second of video the feed holds comes at once"
    assert feed.sessions == 1, "the prepared session is the one that plays"


async def test_two_rings_in_the_window_use_one_session(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    await emulator.trigger(DOOR_SN, "ring")
    cam = _camera(hass, DOOR)
    await _until(lambda: cam._feed is not None and cam._feed.streaming)
    await asyncio.sleep(1.0)
    await emulator.trigger(DOOR_SN, "ring")
    await _until(lambda: len(entry.runtime_data.events.newest_event) > 0)  # type: ignore[union-attr]
    await asyncio.sleep(1.0)
    assert cam._feed.sessions == 1 and cam._feed.prepared == 1
    assert emulator.live.stats.publisher_starts == 1
    assert emulator.world.devices[DOOR_SN] is not None
    wakes = emulator.counters.requests.get("/api/eu1/v1/iot/device/invoke_service", 0)
    assert wakes == 1, "one session, one wake call"


@pytest.mark.parametrize("failing", [False, True])
async def test_a_prepared_session_ends_unused_quietly(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: Emulator,
    caplog: pytest.LogCaptureFixture,
    failing: bool,
) -> None:
    """Nobody opens the camera: the session ends with its window, the device stops
    publishing; no repair, no error on the camera, nothing logged above debug, also when
    the prepared session could not start (the relay refuses it)."""
    emulator.live.faults.heartbeat_timeout_s = 3.0
    await set_options(hass, entry, **{CONF_LIVE_PREPARE_SECONDS: 2})
    if failing:
        emulator.live.faults.login_result = 2
    caplog.set_level(logging.DEBUG, logger="custom_components.botslab")
    cam = _camera(hass, DOOR)
    await emulator.trigger(DOOR_SN, "ring")
    await _until(lambda: cam._feed is not None and (cam._feed.streaming or failing))
    await _until(lambda: emulator.live.stats.req_relay > 0 or cam._feed.last_error is not None)
    await asyncio.sleep(2.5)  # the window ends
    await _until(lambda: not cam._feed.streaming)
    await _until(lambda: not emulator.live.publishing(STREAM), timeout=10)
    assert hass.states.get(DOOR).state == "idle"  # type: ignore[union-attr]
    assert hass.states.get(DOOR).attributes["live_view_error"] is None  # type: ignore[union-attr]
    assert not [i for i in ir.async_get(hass).issues.values() if i.domain == DOMAIN]
    loud = [
        r
        for r in caplog.records
        if r.name.startswith("custom_components.botslab")
        and r.levelno >= logging.INFO
        and "live" in r.getMessage().lower()
    ]
    assert not loud, [r.getMessage() for r in loud]
    if not failing:
        assert cam._feed.prepared == 1
    # a user who opens the camera later gets a live view as always (a new session)
    emulator.live.faults.login_result = 0
    assert await async_get_stream_source(hass, DOOR)


async def test_a_low_battery_prevents_it(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    dev = emulator.world.devices[DOOR_SN]
    emulator.world.devices.report_property(dev, "BatteryLevel", 12)
    await entry.runtime_data.device_coordinator.async_refresh()
    await set_options(hass, entry, **{CONF_LIVE_PREPARE_MIN_BATTERY: 15})
    await emulator.trigger(DOOR_SN, "ring")
    await _until(lambda: hass.states.get("event.front_door_doorbell").state != "unknown")  # type: ignore[union-attr]
    await asyncio.sleep(1.0)
    cam = _camera(hass, DOOR)
    assert cam._feed is None or not cam._feed.prepared
    assert not emulator.live.stats.xmsgs and not emulator.live.publishers, "nothing was started"
    # above the level it is prepared again
    emulator.world.devices.report_property(dev, "BatteryLevel", 15)
    await entry.runtime_data.device_coordinator.async_refresh()
    await emulator.trigger(DOOR_SN, "ring")
    await _until(lambda: cam._feed is not None and cam._feed.prepared == 1)


@pytest.mark.parametrize("option", [False, True])
async def test_a_person_prepares_a_camera_only_when_asked(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, option: bool
) -> None:
    if option:
        await set_options(hass, entry, **{CONF_LIVE_PREPARE_PERSON: True})
    await emulator.trigger(GARDEN_SN, "person")
    await emulator.trigger(GARDEN_SN, "motion")
    cam = _camera(hass, GARDEN)
    if option:
        await _until(lambda: cam._feed is not None and cam._feed.streaming)
    else:
        await asyncio.sleep(1.5)
        assert cam._feed is None, "off by default: a person does not start the camera"
        assert not emulator.live.publishers


@pytest.mark.slow(seconds=8)
async def test_the_feed_keeps_whole_groups_for_a_viewer(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """What a viewer gets at once: whole keyframe groups covering HISTORY_MS (Home
    Assistant's HLS output serves nothing before a whole segment, 6 s by default)."""
    await emulator.trigger(DOOR_SN, "ring")
    cam = _camera(hass, DOOR)
    await _until(lambda: cam._feed is not None and cam._feed.history_ms >= 7000, timeout=20)
    feed = cam._feed
    assert feed._history[0][1], "it starts on a keyframe"
    assert feed_module.HISTORY_MS <= feed.history_ms < feed_module.HISTORY_MS + 1100
    assert camera_module.LIVE_IDLE_SECONDS + camera_module.HLS_IDLE_SECONDS <= 25
