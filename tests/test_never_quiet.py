"""Events that never go quiet (issue 24, item 1): the cloud sends no push during a snooze,
do-not-disturb or without the `push` consent (docs/protocol/cloud-api.md#notifications), may push
before it lists (docs/protocol/accepted.md#push), and loses a push now and then. Home Assistant
still hears every event."""

from __future__ import annotations

import copy
from datetime import timedelta
import logging
import re
import time
from typing import Any

from homeassistant.components import media_source
from homeassistant.components.camera import async_get_stream_source
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_USER
from custom_components.botslab.api import DoNotDisturb
from custom_components.botslab.const import CONF_LIVE_PREPARE_SECONDS, DOMAIN
from custom_components.botslab.events import CONNECTION_POLLING, CONNECTION_PUSH
from custom_components.botslab.events.link import HELD_BACK_POLL, dnd_window

from .conftest import find_device
from .test_events import DOOR, Bus, delivery, eid, link, pushed, until
from .test_live_prepared import set_options
from .test_media import newest_event_item

LIST = "/api/eu1/v2/message/list"


def connection(hass: HomeAssistant, entry: ConfigEntry) -> Any:
    qid = entry.runtime_data.client.credentials.qid
    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"account_{qid}_event_connection"
    )
    assert entity_id
    return hass.states.get(entity_id)


def device_id(hass: HomeAssistant, serial: str) -> str:
    device = find_device(hass, serial)
    assert device is not None
    return str(device.id)


async def call(hass: HomeAssistant, service: str, data: dict[str, Any]) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)
    await hass.async_block_till_done()


async def tick(hass: HomeAssistant, seconds: float) -> None:
    """Home Assistant's clock moves on: timers that fall due run."""
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=seconds))
    await hass.async_block_till_done()


async def settled(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """No fetch is running (fetches are background tasks: block_till_done does not wait)."""
    events = delivery(entry)
    await until(
        hass,
        lambda: all(t is None or t.done() for t in (events._fetch_task, events._look_task)),
        10,
    )


async def ring_without_push(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, doorbell: str
) -> str:
    """A ring that the cloud lists and does not push (its settings hold it back): Home
    Assistant shows it within one held-back poll."""
    pushes = emulator.push.stats.pushes
    made = await emulator.trigger(DOOR, "ring")
    await hass.async_block_till_done()
    assert emulator.push.stats.pushes == pushes, "the cloud held this push back"
    assert hass.states.get(doorbell).attributes.get("message_id") != made["msg_id"]
    await tick(hass, HELD_BACK_POLL + 0.5)
    await until(
        hass, lambda: hass.states.get(doorbell).attributes.get("message_id") == made["msg_id"], 10
    )
    return str(made["msg_id"])


async def test_a_ring_during_a_snooze_still_rings(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """The README suggests snoozing a doorbell for 8 hours: its rings must still reach Home
    Assistant, by polling every few seconds, and the sensor says so."""
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    doorbell = eid(hass, "event", DOOR, "doorbell")
    # as the frontend's duration selector sends it
    await call(
        hass,
        "snooze_notifications",
        {"device_id": device_id(hass, DOOR), "duration": {"hours": 8, "minutes": 0, "seconds": 0}},
    )
    state = connection(hass, entry)
    assert state.state == CONNECTION_POLLING
    assert state.attributes["reason"] == "snoozed"
    assert state.attributes["poll_interval"] == HELD_BACK_POLL
    msg_id = await ring_without_push(hass, entry, emulator, doorbell)
    assert bus.ids() == [msg_id]
    # the snooze is kept across a reload (it was set here; the cloud has no way to ask)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert connection(hass, entry).attributes["reason"] == "snoozed"


async def test_a_ring_during_do_not_disturb_still_rings(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    await pushed(hass, entry, emulator)
    doorbell = eid(hass, "event", DOOR, "doorbell")
    now = dt_util.now()  # the cloud counts do-not-disturb in the time zone we send: HA's
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    await call(
        hass,
        "set_do_not_disturb",
        {"enabled": True, "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
    )
    assert connection(hass, entry).attributes["reason"] == "do_not_disturb"
    await ring_without_push(hass, entry, emulator, doorbell)
    await call(hass, "set_do_not_disturb", {"enabled": False})
    state = connection(hass, entry)
    assert state.state == CONNECTION_PUSH and state.attributes["reason"] is None


async def test_a_ring_without_the_push_consent_still_rings(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    await pushed(hass, entry, emulator)
    doorbell = eid(hass, "event", DOOR, "doorbell")
    await call(hass, "set_consent", {"scope": "push", "granted": False})
    assert connection(hass, entry).attributes["reason"] == "push_consent_withdrawn"
    await ring_without_push(hass, entry, emulator, doorbell)


def test_the_do_not_disturb_window() -> None:
    at = dt_util.parse_datetime("2026-12-01T23:30:00+01:00")
    assert at is not None
    night = DoNotDisturb(True, "22:00", "07:00")
    assert dnd_window(night, at) == (True, 7.5 * 3600)
    assert dnd_window(night, at.replace(hour=12)) == (False, 9.5 * 3600)
    assert dnd_window(DoNotDisturb(True, "09:00:00", "17:00:00"), at.replace(hour=12))[0]
    assert not dnd_window(DoNotDisturb(False, "22:00", "07:00"), at)[0]
    assert not dnd_window(DoNotDisturb(True, "25:00", "07:00"), at)[0]


async def test_a_push_before_its_message_is_listed(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """The push's fetch finds nothing yet; two seconds later Home Assistant looks again."""
    await pushed(hass, entry, emulator)
    await settled(hass, entry)  # the connection's catch-up fetch is not the push's
    doorbell = eid(hass, "event", DOOR, "doorbell")
    # listed 10 s after the push on the emulator's clock, which the test moves on: the
    # push's fetch cannot see it however slowly the machine runs
    emulator.faults.push_before_list_ms = 10_000
    fetches = delivery(entry).fetches
    made = await emulator.trigger(DOOR, "ring")
    await until(hass, lambda: delivery(entry).fetches > fetches)
    await settled(hass, entry)
    assert hass.states.get(doorbell).state == STATE_UNKNOWN
    emulator.world.clock_offset += 11  # the list shows it now
    await tick(hass, 2.5)
    await until(
        hass, lambda: hass.states.get(doorbell).attributes.get("message_id") == made["msg_id"], 10
    )


async def test_a_push_without_a_message_is_looked_for_twice_at_most(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    await pushed(hass, entry, emulator)
    await settled(hass, entry)
    before = emulator.counters.requests.get(LIST, 0)
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    emulator.push.publish(acc.push_alias, {"msg_id": "nothing-listed"})
    await until(hass, lambda: emulator.counters.requests.get(LIST, 0) == before + 1)
    for _ in range(4):
        await settled(hass, entry)
        await tick(hass, 6)
    await settled(hass, entry)
    assert emulator.counters.requests.get(LIST, 0) == before + 3


async def test_a_safety_net_poll_while_push_is_up(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """An event nobody pushed (lost, or held back where Home Assistant cannot see it: a snooze
    set in the phone app) arrives by the option's poll while push is up. (30 s: a longer jump
    of the test's clock would also pass the push connection's silence budget.)"""
    hass.config_entries.async_update_entry(entry, options={**entry.options, "poll_interval": 30})
    await hass.async_block_till_done()  # the options reload the entry
    await pushed(hass, entry, emulator)
    await settled(hass, entry)  # the catch-up fetch of the push connection has run
    connects = link(entry).push.connects
    doorbell = eid(hass, "event", DOOR, "doorbell")
    made = emulator.world.messages.trigger(DOOR, "ring", push=False)
    await tick(hass, 20)
    await settled(hass, entry)
    assert hass.states.get(doorbell).state == STATE_UNKNOWN
    await tick(hass, 31)
    await until(
        hass, lambda: hass.states.get(doorbell).attributes.get("message_id") == made["msg_id"], 10
    )
    assert connection(hass, entry).state == CONNECTION_PUSH
    assert link(entry).push.connects == connects, "no reconnect's catch-up brought it"


async def test_the_held_back_poll_stays_inside_the_rate_limit(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """Ten minutes of a snooze (Home Assistant's and the emulator's clocks moved together):
    every poll is answered (no 429), and each ring shows at the next poll."""
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    await call(
        hass, "snooze_notifications", {"device_id": device_id(hass, DOOR), "duration": {"hours": 1}}
    )
    made: list[str] = []
    for step in range(int(600 / HELD_BACK_POLL)):
        if step % 10 == 3:
            made.append((await emulator.trigger(DOOR, "ring"))["msg_id"])
        emulator.world.clock_offset += HELD_BACK_POLL
        await tick(hass, HELD_BACK_POLL)
        await settled(hass, entry)
        if made:
            assert made[-1] in bus.ids(), f"the ring of step {step} waits"
    assert emulator.list_limiter.refused == 0
    assert bus.ids()[-len(made) :] == made


async def test_a_rate_limit_is_waited_out(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """A 429 is no outage: the sensor stays as it was, nothing asks the list again before the
    time Retry-After names, and the event comes after it."""
    await pushed(hass, entry, emulator)
    doorbell = eid(hass, "event", DOOR, "doorbell")
    emulator.faults.list_burst, emulator.faults.list_rate_per_min = 1, 2  # one each 30 s
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    emulator.list_limiter._buckets[acc.qid] = (0.0, emulator.world.now())  # spent
    requests = emulator.counters.requests.get(LIST, 0)
    made = await emulator.trigger(DOOR, "ring")
    await until(hass, lambda: delivery(entry).rate_limited == 1)
    assert connection(hass, entry).state == CONNECTION_PUSH
    moved = gate_clock(entry)
    await tick(hass, 20)
    assert emulator.counters.requests.get(LIST, 0) == requests + 1
    emulator.world.clock_offset += 31
    moved[0] += 31
    await tick(hass, 31)  # (the clock is moved from now, not from the last tick)
    await until(
        hass, lambda: hass.states.get(doorbell).attributes.get("message_id") == made["msg_id"], 10
    )


def gate_clock(entry: ConfigEntry) -> list[float]:
    """The client's Retry-After gate on a clock the test moves (with Home Assistant's timers
    and the emulator's clock): add seconds to the list's one item."""
    moved = [0.0]
    entry.runtime_data.client.endpoints.gate.clock = lambda: time.monotonic() + moved[0]
    return moved


def cloud_requests(emulator: Emulator) -> int:
    return sum(n for path, n in emulator.counters.requests.items() if "/_emulator/" not in path)


async def test_nothing_asks_the_cloud_before_the_time_it_named(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    """One 429 with Retry-After: 120 (on the device list). Until then nothing asks the cloud
    anything, counted at the emulator: not the three coordinators (each fails with a
    translated message naming the time), not event delivery (a ring pushed meanwhile
    waits), not a clip (503 with the Retry-After), not live view (no setup call, no
    wake-up), not an action. After it, everything works again, and the ring comes."""
    assert await async_setup_component(hass, "media_source", {})
    await hass.async_block_till_done()
    # the first ring would prepare live view, and a session that began before the pause
    # rightly goes on (on the live hosts, which did not ask for one): not this test's subject
    await set_options(hass, entry, **{CONF_LIVE_PREPARE_SECONDS: 0})
    await pushed(hass, entry, emulator)
    doorbell = eid(hass, "event", DOOR, "doorbell")
    first = await emulator.trigger(DOOR, "ring")
    await until(hass, lambda: state_id(hass, doorbell) == first["msg_id"], 10)
    item = await newest_event_item(hass, entry, DOOR)
    clip = (await media_source.async_resolve_media(hass, item.media_content_id, None)).url
    moved = gate_clock(entry)
    data = entry.runtime_data
    f = emulator.faults
    f.errors_left, f.error_status, f.error_retry_after = 1, 429, "120"
    f.error_path = "/api/eu1/v1/iot/device/list"
    await data.device_coordinator.async_refresh()
    before = cloud_requests(emulator)
    counted = dict(emulator.counters.requests)
    assert f.errors_left == 0, "the 429 was met"
    for coordinator in (
        data.device_coordinator,
        data.firmware_coordinator,
        data.settings_coordinator,
    ):
        await coordinator.async_refresh()
        err = coordinator.last_exception
        assert not coordinator.last_update_success and err is not None
        assert err.translation_key == "rate_limited", err
        assert err.translation_placeholders is not None
        assert 115 <= int(err.translation_placeholders["seconds"]) <= 120
        assert re.fullmatch(r"\d\d:\d\d:\d\d", err.translation_placeholders["time"])
    second = await emulator.trigger(DOOR, "ring")  # pushed: delivery wants the list
    await until(hass, lambda: delivery(entry).rate_limited >= 1, 10)
    http = await hass_client()
    resp = await http.get(clip)
    assert resp.status == 503 and 115 <= int(resp.headers["Retry-After"]) <= 120
    with pytest.raises(HomeAssistantError) as live:
        await async_get_stream_source(hass, "camera.front_door")
    assert live.value.translation_key == "live_rate_limited"
    with pytest.raises(HomeAssistantError) as action:
        await call(
            hass,
            "snooze_notifications",
            {"device_id": device_id(hass, DOOR), "duration": {"minutes": 5}},
        )
    assert action.value.translation_key == "rate_limited"
    await tick(hass, 60)
    asked = {p: n - counted.get(p, 0) for p, n in emulator.counters.requests.items()}
    asked = {p: n for p, n in asked.items() if n and "/_emulator/" not in p}
    assert cloud_requests(emulator) == before, f"nothing asked the cloud: {asked}"
    assert data.client.endpoints.gate.refused >= 6
    # the time named has come: the ring is fetched, the coordinators read again
    emulator.world.clock_offset += 121
    moved[0] += 121
    await tick(hass, 121)
    await until(hass, lambda: state_id(hass, doorbell) == second["msg_id"], 10)
    await data.device_coordinator.async_refresh()
    assert data.device_coordinator.last_update_success
    assert cloud_requests(emulator) > before


def state_id(hass: HomeAssistant, entity_id: str) -> Any:
    state = hass.states.get(entity_id)
    return state.attributes.get("message_id") if state else None


async def test_a_guessed_endpoint_never_takes_the_account_down(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The do-not-disturb endpoint is [modelled]: when the cloud answers it with "sign in
    again", only do-not-disturb goes unavailable, with one log line; no reauth starts."""
    qid = entry.runtime_data.client.credentials.qid
    switch = er.async_get(hass).async_get_entity_id(
        "switch", DOMAIN, f"account_{qid}_do_not_disturb"
    )
    assert switch and hass.states.get(switch).state != STATE_UNAVAILABLE
    emulator.faults.code_path, emulator.faults.code_answer = "/api/eu1/v1/push/dnd", 100003
    caplog.set_level(logging.INFO)
    settings = entry.runtime_data.settings_coordinator
    for _ in range(3):
        await settings.async_refresh()
        await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert hass.states.get(switch).state == STATE_UNAVAILABLE
    lines = [r for r in caplog.records if "do not disturb" in r.getMessage()]
    assert len(lines) == 1 and "100003" in lines[0].getMessage()
    assert settings.last_update_success
    emulator.faults.code_path = ""
    await settings.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(switch).state != STATE_UNAVAILABLE


async def test_the_media_browser_filters_each_device_itself(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """The list's device and date filters are SDK-named; a cloud that ignores them still gives
    each device's folder only that device's events, and each day only its own."""
    from homeassistant.components import media_source
    from homeassistant.setup import async_setup_component

    from custom_components.botslab.media_ref import unseal

    assert await async_setup_component(hass, "media_source", {})
    await hass.async_block_till_done()
    emulator.faults.list_ignores_filters = True
    garden = "BCC5E5F6A7B8"
    made = await emulator.trigger(garden, "motion")
    door = await media_source.async_browse_media(
        hass, f"media-source://{DOMAIN}/{entry.entry_id}/{DOOR}"
    )
    key = hass.data[DOMAIN]["media_key"]
    listed = 0
    for day_node in door.children:
        day = await media_source.async_browse_media(hass, day_node.media_content_id)
        counted = int(day_node.title.rsplit("(", 1)[1].rstrip(")"))
        assert len(day.children) == counted
        for item in day.children:
            ref = unseal(key, entry.entry_id, item.media_content_id.rsplit("/", 1)[1])
            assert ref is not None and ref.serial == DOOR and ref.msg_id != made["msg_id"]
            listed += 1
    assert listed > 0


async def ring_listed_late(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, bus: Bus, newer: int
) -> tuple[str, list[str]]:
    """A ring pushed now and listed 10 s later on the emulator's clock (which only the test
    moves on), then `newer` motion events pushed, listed and delivered on top of it."""
    emulator.faults.push_before_list_ms = 10_000
    late = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    emulator.faults.push_before_list_ms = 0
    ids = [(await emulator.trigger("BCC5E5F6A7B8", "motion"))["msg_id"] for _ in range(newer)]
    await until(hass, lambda: all(i in bus.ids() for i in ids), 20)
    await settled(hass, entry)
    assert late not in bus.ids()
    return late, ids


async def listed_and_found_once(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, bus: Bus, late: str
) -> None:
    """The list shows the late ring now, under the newer ones: the looks again find it."""
    emulator.world.clock_offset += 11
    for _ in range(3):
        await settled(hass, entry)
        await tick(hass, 6)
    await until(hass, lambda: late in bus.ids(), 10)
    assert bus.ids().count(late) == 1


async def test_a_message_listed_late_under_a_burst_is_found(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """A push whose message the list shows late, then a burst of 80 events delivered on top
    of it: the look again walks past every event delivered since that push."""
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    await settled(hass, entry)
    late, _burst = await ring_listed_late(hass, entry, emulator, bus, 80)
    await listed_and_found_once(hass, entry, emulator, bus, late)


async def test_pushes_heard_during_a_fetch_make_no_deep_walk(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """Pushes that come while a fetch runs are answered by the fetch that follows at once, a
    plain one: the deep walk (past the first seen id) waits for a fetch that ends the run
    with a push still unanswered. (In a burst, every second walk read three pages, not one.)"""
    await pushed(hass, entry, emulator)
    for _ in range(60):  # a list longer than a page, all delivered
        await emulator.trigger("BCC5E5F6A7B8", "motion", push=False)
    delivery(entry).request_fetch()
    await settled(hass, entry)
    before = emulator.counters.requests.get(LIST, 0)
    emulator.faults.delay_ms, emulator.faults.delay_path = 1000, LIST
    fetches = delivery(entry).fetches
    first = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await until(hass, lambda: delivery(entry).fetches > fetches)  # its list is on its way
    emulator.faults.push_before_list_ms = 10_000
    for _ in range(2):  # pushed now, listed later
        await emulator.trigger(DOOR, "ring")
    await until(hass, lambda: delivery(entry)._dirty, 5)  # heard while the fetch runs
    await settled(hass, entry)
    assert state_id(hass, eid(hass, "event", DOOR, "doorbell")) == first
    # the first fetch (one short page) and the one after it (one page, not a deep walk)
    assert emulator.counters.requests.get(LIST, 0) == before + 2


async def test_events_found_without_pushes_never_excuse_a_later_push(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """Events a poll found with no push of their own, then a push whose message the list shows
    late, under a dozen newer events: the push is still owed, and a look again finds it (the
    soak lost such messages while events found ahead of pushes stood for the next pushes)."""
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    await settled(hass, entry)
    quiet = [
        (await emulator.trigger("BCC5E5F6A7B8", "motion", push=False))["msg_id"] for _ in range(5)
    ]
    delivery(entry).request_fetch()
    await until(hass, lambda: all(i in bus.ids() for i in quiet), 10)
    await settled(hass, entry)
    emulator.faults.push_before_list_ms = 10_000
    late = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    emulator.faults.push_before_list_ms = 0
    newer = []
    for _ in range(12):
        newer.append((await emulator.trigger("BCC5E5F6A7B8", "motion"))["msg_id"])
        await until(hass, lambda: newer[-1] in bus.ids(), 10)
        await settled(hass, entry)
    await listed_and_found_once(hass, entry, emulator, bus, late)


@pytest.mark.parametrize("how", ["reload", "kill"])
async def test_a_restart_before_a_late_listed_message_loses_nothing(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: Emulator,
    hass_storage: dict[str, Any],
    how: str,
) -> None:
    """A push whose message the list shows late, then the entry goes before the list shows
    it: reloaded, with newer events delivered on top of it (the stored cursor says a push is
    owed), or killed in a run that started from a clean stop and delivered nothing since (the
    cursor as that run's start wrote it: running), newer events delivered after the restart.
    The Home Assistant after it looks again too (the soak lost such a message when a reload
    or restart came inside a push-before-list window)."""
    bus = Bus(hass)
    key = f"{DOMAIN}.{entry.entry_id}.events"
    if how == "kill":  # a run that starts from a clean stop
        assert await hass.config_entries.async_reload(entry.entry_id)
    await pushed(hass, entry, emulator)
    await settled(hass, entry)
    # the start wrote the cursor: running, so that a kill is told apart from a clean stop
    assert hass_storage[key]["data"]["stopped"] is False
    late, newer = await ring_listed_late(hass, entry, emulator, bus, 3 if how == "reload" else 0)
    if how == "reload":
        assert await hass.config_entries.async_reload(entry.entry_id)
    else:
        as_written = copy.deepcopy(hass_storage[key])
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        hass_storage[key] = as_written  # a kill: the stop's own write never happened
        assert await hass.config_entries.async_setup(entry.entry_id)
    await pushed(hass, entry, emulator)
    await settled(hass, entry)  # the start's walk: not listed yet
    if how == "kill":  # newer events on top of it after the restart: no plain walk finds it
        newer = [(await emulator.trigger("BCC5E5F6A7B8", "motion"))["msg_id"] for _ in range(3)]
        await until(hass, lambda: all(i in bus.ids() for i in newer), 10)
        await settled(hass, entry)
    assert late not in bus.ids()
    await listed_and_found_once(hass, entry, emulator, bus, late)
    assert all(bus.ids().count(i) == 1 for i in newer)
