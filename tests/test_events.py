"""Events into automations: push, coalescing, exactly once across outages and restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import copy
from datetime import timedelta
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import (
    MAJOR_VERSION,
    MINOR_VERSION,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_USER
from custom_components.botslab.const import DOMAIN, EVENT_BOTSLAB
from custom_components.botslab.events import CONNECTION_POLLING, CONNECTION_PUSH
from tests.ha_helpers import scoped_uid

from .conftest import add_entry, fix_issue

DOOR, GARDEN = "BDX3A1B2C3D4", "BCC5E5F6A7B8"


def eid(hass: HomeAssistant, platform: str, serial: str, key: str) -> str:
    found = er.async_get(hass).async_get_entity_id(
        platform, DOMAIN, scoped_uid(hass, f"{serial}_{key}")
    )
    assert found, f"{platform} {serial}_{key}"
    return found


class Bus:
    def __init__(self, hass: HomeAssistant) -> None:
        self.events: list[dict[str, object]] = []
        hass.bus.async_listen(EVENT_BOTSLAB, self._on)

    @callback
    def _on(self, event: Event) -> None:
        self.events.append(dict(event.data))

    def ids(self) -> list[object]:
        return [e["message_id"] for e in self.events]


async def until(hass: HomeAssistant, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
        await hass.async_block_till_done()


def link(entry: ConfigEntry):  # type: ignore[no-untyped-def]
    """The entry's push link (connection state, the push client)."""
    push = entry.runtime_data.push
    assert push is not None
    return push


def delivery(entry: ConfigEntry):  # type: ignore[no-untyped-def]
    events = entry.runtime_data.events
    assert events is not None
    return events


async def pushed(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    """Push is up on both ends: the client has sent its alias (it calls itself connected
    then, as the working client does) and the emulator has bound it, so that what a test
    triggers next is pushed (a push sent before the bind reaches nobody; the catch-up fetch
    of the connection may have run before the trigger)."""
    await until(hass, lambda: link(entry).connection == CONNECTION_PUSH)
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    await until(hass, lambda: bool(emulator.push.by_alias.get(acc.push_alias)))


async def fetched(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Wait for the fetch in flight to end: the last-event sensors are written when it ends
    (a background task), after the event entities and the bus have had each event."""
    task = delivery(entry)._fetch_task
    await until(hass, lambda: task is None or task.done())
    await hass.async_block_till_done()


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_ring_reaches_the_doorbell_entity_and_the_bus(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    doorbell = eid(hass, "event", DOOR, "doorbell")
    state = hass.states.get(doorbell)
    assert state.state == STATE_UNKNOWN and state.attributes["event_types"] == ["ring"]
    assert (
        state.attributes["device_class"] == "doorbell"
        and state.attributes["friendly_name"] == "Front Door Doorbell"
    )
    result = await emulator.trigger(DOOR, "ring")
    await until(hass, lambda: hass.states.get(doorbell).state != STATE_UNKNOWN)
    state = hass.states.get(doorbell)
    assert (
        state.attributes["event_type"] == "ring"
        and state.attributes["message_id"] == result["msg_id"]
    )
    assert "http" not in repr(state.attributes), "no signed URL in attributes"
    assert len(bus.events) == 1
    data = bus.events[0]
    assert (
        data["kind"] == "ring"
        and data["event_type"] == "dsl.event.post.DoorbellRing"
        and data["late"] is False
    )
    assert (
        data["device"] == "Front Door"
        and data["message_id"] == result["msg_id"]
        and data["device_id"]
    )
    assert hass.states.get(eid(hass, "binary_sensor", DOOR, "ring")).state == STATE_ON
    await fetched(hass, entry)
    assert hass.states.get(eid(hass, "sensor", DOOR, "last_event_kind")).state == "ring"
    # the snapshot was downloaded at once and is served by the image entity
    image = eid(hass, "image", DOOR, "last_event_image")
    await until(
        hass, lambda: hass.states.get(image).attributes.get("message_id") == result["msg_id"]
    )
    assert entry.runtime_data.snapshots.get(DOOR)[1][:2] == b"\xff\xd8"
    # the ring sensor turns off after the option's seconds
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
    await hass.async_block_till_done()
    assert hass.states.get(eid(hass, "binary_sensor", DOOR, "ring")).state == STATE_OFF


async def test_kinds_reach_the_motion_entity(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    await pushed(hass, entry, emulator)
    motion = eid(hass, "event", GARDEN, "motion")
    for kind in ("person", "pet", "vehicle", "dsl.event.post.Whatever"):
        result = await emulator.trigger(GARDEN, kind)
        await until(
            hass,
            lambda r=result: hass.states.get(motion).attributes.get("message_id") == r["msg_id"],
        )
    assert hass.states.get(motion).attributes["event_type"] == "other"
    assert hass.states.get(eid(hass, "binary_sensor", GARDEN, "person")).state == STATE_ON
    assert hass.states.get(eid(hass, "binary_sensor", GARDEN, "motion")).state == STATE_ON
    assert (
        er.async_get(hass).async_get_entity_id(
            "event", DOMAIN, scoped_uid(hass, f"{GARDEN}_doorbell")
        )
        is None
    )


async def test_burst_is_coalesced_exactly_once_in_order(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    motion = eid(hass, "event", GARDEN, "motion")
    states: list[str] = []

    @callback
    def on_state(event: Event) -> None:
        if event.data["entity_id"] == motion and event.data["new_state"] is not None:
            old = event.data["old_state"]
            if old is None or old.state != event.data["new_state"].state:
                states.append(event.data["new_state"].state)

    hass.bus.async_listen("state_changed", on_state)
    before = delivery(entry).fetches
    ids = [(await emulator.trigger(GARDEN, "motion"))["msg_id"] for _ in range(100)]
    await until(hass, lambda: len(bus.events) >= 100)
    await asyncio.sleep(0.3)
    await hass.async_block_till_done()
    assert bus.ids() == ids, "every message once, in order"
    if (MAJOR_VERSION, MINOR_VERSION) >= (2026, 8):  # Home Assistant keeps their times apart
        assert len(states) == 100, "each event a state change of its own (what triggers see)"
    else:  # events of one millisecond share a time there: as many states as milliseconds
        assert 0 < len(states) <= 100 and states == sorted(states)
    fetches = delivery(entry).fetches - before
    assert fetches <= 20, f"{fetches} fetches for 100 pushes"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_last_event_sensors_are_written_once_per_fetch(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """Five events of one device in one fetch: every one reaches the bus and the event
    entity, and the last-event sensors are written once, with the newest."""
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    sensors = {eid(hass, "sensor", GARDEN, key) for key in ("last_event_kind", "last_event_time")}
    motion = eid(hass, "event", GARDEN, "motion")
    writes: dict[str, list[str]] = {entity: [] for entity in (*sensors, motion)}

    @callback
    def on_state(event: Event) -> None:
        if event.data["entity_id"] in writes and event.data["new_state"] is not None:
            writes[event.data["entity_id"]].append(event.data["new_state"].state)

    hass.bus.async_listen("state_changed", on_state)
    kinds = ("person", "pet", "vehicle", "package", "motion")
    ids = [
        (await emulator.trigger(GARDEN, kind, push=kind == "motion"))["msg_id"] for kind in kinds
    ]
    await until(hass, lambda: len(bus.events) == 5)
    await fetched(hass, entry)
    assert bus.ids() == ids
    assert len(writes[motion]) == 5, "each event fires the event entity"
    kind = eid(hass, "sensor", GARDEN, "last_event_kind")
    assert writes[kind] == ["motion"], writes[kind]
    assert all(len(writes[entity]) == 1 for entity in sensors), writes


async def test_events_in_one_millisecond_are_states_of_their_own(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """Ten events of one device in one batch fire within a millisecond or two: each is a
    state write of its own, in order; from Home Assistant 2026.8 their times are strictly
    increasing too (Home Assistant keeps them apart; before, events of one millisecond share
    a time, and the integration does not reach into EventEntity's private state to change
    that)."""
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    motion = eid(hass, "event", GARDEN, "motion")
    fired: list[tuple[str, object]] = []

    @callback
    def on_state(event: Event) -> None:
        new = event.data["new_state"]
        if event.data["entity_id"] == motion and new is not None:
            fired.append((new.state, new.attributes.get("message_id")))

    hass.bus.async_listen("state_changed", on_state)
    ids = [(await emulator.trigger(GARDEN, "motion", push=i == 9))["msg_id"] for i in range(10)]
    await until(hass, lambda: len(bus.events) == 10)
    await hass.async_block_till_done()
    assert [i for _, i in fired] == ids
    times = [dt_util.parse_datetime(state) for state, _ in fired]
    assert None not in times and times == sorted(times)
    if (MAJOR_VERSION, MINOR_VERSION) >= (2026, 8):
        assert times == sorted(set(times)), "strictly increasing"


async def test_push_outage_delivers_once_on_reconnect(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    emulator.push.faults.refuse = True
    emulator.push.drop_all()
    await until(hass, lambda: link(entry).connection == CONNECTION_POLLING)
    during = [(await emulator.trigger(DOOR, "motion"))["msg_id"] for _ in range(3)]
    emulator.push.faults.refuse = False
    await pushed(hass, entry, emulator)  # the client's backoff reconnects
    await until(hass, lambda: len(bus.events) >= 3, timeout=30)
    after = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await until(hass, lambda: after in bus.ids())
    await asyncio.sleep(0.2)
    assert bus.ids() == [*during, after]
    # what a user's diagnostics say of the outage (issue 27): the failures, the last error
    # and when, the reconnect, and the four events delivered once
    from custom_components.botslab.diagnostics import async_get_config_entry_diagnostics

    path = (await async_get_config_entry_diagnostics(hass, entry))["event_path"]
    push = path["push"]
    assert push["state"] == "connected" and push["connects"] >= 2
    assert push["failures_total"] >= 1 and push["last_error"] and push["last_error_at"]
    assert path["delivery"]["delivered"] >= 4 and path["delivery"]["duplicates_dropped"] == 0
    assert path["polling"]["connection"] == CONNECTION_PUSH


async def test_refused_push_falls_back_to_polling(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    emulator.push.faults.refuse = True
    emulator.push.drop_all()
    await until(hass, lambda: link(entry).connection == CONNECTION_POLLING)
    assert hass.states.get(eid_account(hass, entry)).state == "polling"
    ids = [(await emulator.trigger(GARDEN, "person"))["msg_id"] for _ in range(2)]
    await asyncio.sleep(0.2)
    assert bus.events == [], "no push, no poll yet"
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=301))
    await until(hass, lambda: len(bus.events) == 2)
    assert bus.ids() == ids and all(e["late"] is False for e in bus.events)
    emulator.push.faults.refuse = False


def eid_account(hass: HomeAssistant, entry: ConfigEntry) -> str:
    qid = entry.runtime_data.client.credentials.qid
    found = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"account_{qid}_event_connection"
    )
    assert found
    return found


async def test_sid_expiry_during_a_fetch(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    for session in emulator.world.accounts.sessions.values():
        session.expired = True
    result = await emulator.trigger(DOOR, "ring")
    await until(hass, lambda: bus.ids() == [result["msg_id"]])


async def test_restart_delivers_downtime_events_late_once(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    first = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await until(hass, lambda: bus.ids() == [first])
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    old = int(time.time()) - 600
    downtime = [
        (await emulator.trigger(DOOR, kind, ctime=old + i))["msg_id"]
        for i, kind in enumerate(("ring", "person"))
    ]
    assert await hass.config_entries.async_setup(entry.entry_id)
    await until(hass, lambda: len(bus.events) == 3)
    await asyncio.sleep(0.3)
    await fetched(hass, entry)
    assert bus.ids() == [first, *downtime], "each once"
    assert [e["late"] for e in bus.events] == [False, True, True]
    doorbell = hass.states.get(eid(hass, "event", DOOR, "doorbell"))
    assert doorbell.attributes.get("message_id") != downtime[0], "late rings do not fire the entity"
    assert hass.states.get(eid(hass, "binary_sensor", DOOR, "person")).state == STATE_OFF
    assert hass.states.get(eid(hass, "sensor", DOOR, "last_event_kind")).state == "ring", (
        "latest by time"
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_stale_pushed_event_does_not_fire(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    result = await emulator.trigger(DOOR, "ring", ctime=int(time.time()) - 3600)
    await until(hass, lambda: bus.ids() == [result["msg_id"]])
    assert bus.events[0]["late"] is True
    assert hass.states.get(eid(hass, "event", DOOR, "doorbell")).state == STATE_UNKNOWN
    assert hass.states.get(eid(hass, "binary_sensor", DOOR, "ring")).state == STATE_OFF


@pytest.mark.parametrize(
    "kind", ["garbage", "truncated", "huge_length", "empty_body", "opaque_body", "unknown_opcode"]
)
async def test_malformed_push_frames(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, kind: str
) -> None:
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    emulator.push.malformed(kind)
    await asyncio.sleep(0.1)
    await pushed(hass, entry, emulator)
    result = await emulator.trigger(GARDEN, "motion")
    await until(hass, lambda: result["msg_id"] in bus.ids(), timeout=30)
    assert bus.ids() == [result["msg_id"]]


async def test_withdrawn_event_upload(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_client: ClientSessionGenerator
) -> None:
    bus = Bus(hass)
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    dev = emulator.world.devices[GARDEN]
    emulator.world.consents.set(acc.qid, "event_upload", 0, dev.product_key, dev.device_name)
    await entry.runtime_data.settings_coordinator.async_refresh()
    await hass.async_block_till_done()
    assert hass.states.get(eid(hass, "event", GARDEN, "motion")).state == STATE_UNAVAILABLE
    assert hass.states.get(eid(hass, "binary_sensor", GARDEN, "motion")).state == STATE_UNAVAILABLE
    issue_id = f"event_upload_withdrawn_{entry.entry_id}_{GARDEN}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None and issue.translation_placeholders == {"device": "Garden"}
    assert (await emulator.trigger(GARDEN, "person"))["msg_id"] is None
    # the repair grants it again
    result = await fix_issue(hass, hass_client, issue_id)
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert emulator.world.consents.device_granted(dev, "event_upload")
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert hass.states.get(eid(hass, "event", GARDEN, "motion")).state != STATE_UNAVAILABLE
    await pushed(hass, entry, emulator)
    result_id = (await emulator.trigger(GARDEN, "person"))["msg_id"]
    await until(hass, lambda: result_id in bus.ids())


async def test_withdrawn_event_upload_of_a_shared_device(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """A shared account does not see the owner's consents: no notice it could not act on."""
    drive = emulator.world.devices["BCC5A0B1C2D3"]
    emulator.world.consents.set(
        drive.owner_qid, "event_upload", 0, drive.product_key, drive.device_name
    )
    await entry.runtime_data.settings_coordinator.async_refresh()
    await hass.async_block_till_done()
    assert (
        ir.async_get(hass).async_get_issue(
            DOMAIN, f"event_upload_withdrawn_{entry.entry_id}_{drive.device_name}"
        )
        is None
    )
    assert (await emulator.trigger(drive.device_name, "motion"))["msg_id"] is None, "no events"


async def test_one_ring_reads_as_two_logbook_lines(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """The logbook lists the state changes of entities that are not continuous: one ring
    changes the doorbell's event entity and the "Last event" sensor, and nothing else that
    is enabled by default (the ring binary sensor and "Last event time" wait to be enabled).
    The live view prepared on the ring leaves the camera idle until somebody opens it. The
    snapshot image is a third line where the logbook does not count images as continuous
    (2025.4 does not, 2026.10 does). The lines are Home Assistant's own: translated, with an
    icon, linked to their entity."""
    from homeassistant.components.logbook.const import ALWAYS_CONTINUOUS_DOMAINS
    from homeassistant.components.logbook.helpers import is_sensor_continuous

    await pushed(hass, entry, emulator)
    changed: list[str] = []

    @callback
    def on_change(event: Event) -> None:
        entity_id = event.data["entity_id"]
        domain = entity_id.split(".")[0]
        if domain in ALWAYS_CONTINUOUS_DOMAINS or (
            domain == "sensor" and is_sensor_continuous(hass, er.async_get(hass), entity_id)
        ):
            return
        old, new = event.data["old_state"], event.data["new_state"]
        if old is not None and new is not None and old.state != new.state:
            changed.append(entity_id)

    hass.bus.async_listen("state_changed", on_change)
    doorbell = eid(hass, "event", DOOR, "doorbell")
    camera = eid(hass, "camera", DOOR, "camera")
    feeds = entry.runtime_data.live_feeds
    result = await emulator.trigger(DOOR, "ring")
    await until(
        hass, lambda: hass.states.get(doorbell).attributes.get("message_id") == result["msg_id"]
    )
    await until(hass, lambda: DOOR in feeds and feeds[DOOR].streaming)  # prepared
    await until(hass, lambda: hass.states.get(camera).attributes.get("event_id") is not None)
    await hass.async_block_till_done()
    expected = [doorbell, eid(hass, "sensor", DOOR, "last_event_kind")]
    if "image" not in ALWAYS_CONTINUOUS_DOMAINS:
        expected.append(eid(hass, "image", DOOR, "last_event_image"))
        await until(hass, lambda: len(changed) >= len(expected))
    assert sorted(changed) == sorted(expected)
    assert hass.states.get(camera).state == "idle"


@pytest.mark.parametrize(
    "forms",
    [
        {"message_ids": "opaque"},
        {"message_ids": "numeric"},
        {"message_ids": "number"},
        {"message_id_key": "msg_id"},
        {"message_id_key": "message_id", "message_ids": "number"},
        {"message_serial": "sn"},
        {"message_type": "event_type"},
        {"message_type": "type", "message_serial": "sn", "message_id_key": "msg_id"},
    ],
    ids=lambda f: "+".join(f"{k}={v}" for k, v in f.items()),
)
async def test_every_message_form_is_delivered_exactly_once(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, forms: dict[str, str]
) -> None:
    """docs/protocol/cloud-api.md#messages's field variants, each its own knob: the events arrive
    once each, in order, with the serial and kind right, through a push outage too (catch-up)."""
    for name, value in forms.items():
        setattr(emulator.faults, name, value)
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    made = [await emulator.trigger(GARDEN, kind) for kind in ("person", "pet", "motion")]
    await until(hass, lambda: len(bus.events) == 3)
    emulator.push.faults.refuse = True
    emulator.push.drop_all()
    await until(hass, lambda: link(entry).connection != CONNECTION_PUSH)
    made.append(await emulator.trigger(DOOR, "ring"))
    made.append(await emulator.trigger(GARDEN, "vehicle"))
    emulator.push.faults.refuse = False
    await until(hass, lambda: len(bus.events) == 5, timeout=60)
    await asyncio.sleep(0.3)
    await hass.async_block_till_done()
    assert bus.ids() == [str(m["msg_id"]) for m in made], "each once, in order"
    assert [e["serial"] for e in bus.events] == [GARDEN, GARDEN, GARDEN, DOOR, GARDEN]
    assert [e["kind"] for e in bus.events] == ["person", "pet", "motion", "ring", "vehicle"]


async def test_a_stored_cursor_of_numeric_ids_is_migrated(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_storage: dict[str, Any]
) -> None:
    """Versions before 0.2 kept `last_id` and numeric ids (storage version 1); they become
    opaque ids and a ctime floor: nothing delivered before comes again, nothing is lost."""
    emulator.faults.message_ids = "number"  # the cloud's ids, numbers, as before
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    before = [(await emulator.trigger(DOOR, kind))["msg_id"] for kind in ("ring", "person")]
    await until(hass, lambda: len(bus.events) == 2)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    key = f"{DOMAIN}.{entry.entry_id}.events"
    hass_storage[key] = {
        "version": 1,
        "minor_version": 1,
        "key": key,
        "data": {
            "last_id": int(before[-1]),
            "recent": [int(i) for i in before],
            "latest_ctime": {DOOR: int(time.time())},
        },
    }
    downtime = (await emulator.trigger(GARDEN, "pet"))["msg_id"]
    assert await hass.config_entries.async_setup(entry.entry_id)
    await until(hass, lambda: len(bus.events) == 3)
    await asyncio.sleep(0.3)
    await hass.async_block_till_done()
    assert bus.ids() == [*before, downtime], "each once"
    assert hass_storage[key]["version"] == 2


async def test_the_cursor_is_written_with_each_delivered_batch(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_storage: dict[str, Any]
) -> None:
    """The crash guarantee (README): one write right after each delivered batch. A kill
    before that write (here: the storage as it was before the batch) delivers the batch again
    after the restart, once; nothing is lost."""
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    key = f"{DOMAIN}.{entry.entry_id}.events"
    delivery = entry.runtime_data.events
    assert delivery is not None
    await until(hass, lambda: key in hass_storage)
    before_batch = copy.deepcopy(hass_storage[key])
    ring = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await until(hass, lambda: bus.ids() == [ring])
    await until(hass, lambda: delivery._fetch_task is None or delivery._fetch_task.done())
    assert ring in hass_storage[key]["data"]["seen"], "written at once, not later"
    # a kill between firing the batch and its write: the write never happened
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    hass_storage[key] = before_batch
    assert await hass.config_entries.async_setup(entry.entry_id)
    await until(hass, lambda: len(bus.events) == 2)
    await asyncio.sleep(0.3)
    await hass.async_block_till_done()
    assert bus.ids() == [ring, ring], "the batch again, once: never lost"
    after = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await until(hass, lambda: len(bus.events) == 3)
    assert bus.ids()[-1] == after


async def test_events_stop_when_home_assistant_stops(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_storage: dict[str, Any]
) -> None:
    """Home Assistant does not unload entries when it stops: push and delivery stop on its
    stop event, with the cursor written, so that an event of the shutdown is not fired into a
    stopping Home Assistant (no automation would run) and marked delivered; the next start
    fetches it (found by the soak: such events were gone after a restart)."""
    from homeassistant.const import EVENT_HOMEASSISTANT_STOP

    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    key = f"{DOMAIN}.{entry.entry_id}.events"
    first = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await until(hass, lambda: bus.ids() == [first])
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert entry.runtime_data.push is None and entry.runtime_data.events is None
    during = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await asyncio.sleep(0.3)
    await hass.async_block_till_done()
    assert bus.ids() == [first], "nothing fired while Home Assistant stops"
    assert first in hass_storage[key]["data"]["seen"]
    assert during not in hass_storage[key]["data"]["seen"]
    # the next start (the same storage): the event of the shutdown comes, once
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await until(hass, lambda: bus.ids() == [first, during])
    await asyncio.sleep(0.2)
    await hass.async_block_till_done()
    assert bus.ids() == [first, during]


async def test_events_wait_until_home_assistant_has_started(
    hass: HomeAssistant, ha: HomeAssistant, emulator: Emulator
) -> None:
    """An entry set up while Home Assistant starts fires nothing before it has started
    (automations are not listening yet): events of that time come once it has, once each
    (found by the soak: a restart's catch-up was fired before other integrations listened)."""
    from homeassistant.const import EVENT_HOMEASSISTANT_STARTED
    from homeassistant.core import CoreState

    from .conftest import add_entry

    hass.set_state(CoreState.not_running)
    entry = await add_entry(hass)
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    ring = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await asyncio.sleep(0.3)
    await hass.async_block_till_done()
    assert bus.ids() == [], "nothing before Home Assistant has started"
    hass.set_state(CoreState.running)
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STARTED)
    await until(hass, lambda: bus.ids() == [ring])
    after = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await until(hass, lambda: bus.ids() == [ring, after])


async def test_a_silent_push_connection_falls_back_to_polling(
    hass: HomeAssistant, ha: HomeAssistant, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection stays open but nothing comes any more (no heartbeat reply, no push):
    past its heartbeat budget it is dropped and the message list is polled until push is
    back; events of the silent time arrive all the same."""
    from custom_components.botslab.events import link as push_module

    from .conftest import add_entry

    monkeypatch.setattr(push_module, "PUSH_HEARTBEAT_S", 0.2)
    monkeypatch.setattr(push_module, "PUSH_TIMEOUT_S", 1)
    entry = await add_entry(hass)
    hass.config_entries.async_update_entry(entry, options={**entry.options, "poll_interval": 30})
    await hass.async_block_till_done()
    bus = Bus(hass)
    await pushed(hass, entry, emulator)
    emulator.push.faults.silent = True
    seen: list[str] = []
    events = link(entry)

    async def watch() -> None:
        while True:
            if not seen or seen[-1] != events.connection:
                seen.append(events.connection)
            await asyncio.sleep(0.02)

    watcher = hass.async_create_background_task(watch(), "watch")
    try:
        ring = (await emulator.trigger(DOOR, "ring"))["msg_id"]
        await until(hass, lambda: CONNECTION_POLLING in seen, timeout=20)
        assert events.push.silent_drops >= 1
        emulator.push.faults.silent = False
        async_fire_time_changed(hass, dt_util.utcnow() + timedelta(seconds=31))
        await until(hass, lambda: ring in bus.ids(), timeout=20)
    finally:
        watcher.cancel()
    assert bus.ids().count(ring) == 1
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_first_start_that_cannot_read_the_list_replays_no_history(
    ha: HomeAssistant, emulator: Emulator, hass_storage: dict[str, Any]
) -> None:
    """The very first start cannot read the message list (the cloud answers 503): the entry
    retries and no cursor is written; once the list answers, its history is taken as
    delivered, not fired (an empty cursor written by the failed start made the next start
    fire the account's whole history as late events)."""
    bus = Bus(ha)
    emulator.faults.errors_left, emulator.faults.error_status = 1000, 503
    emulator.faults.error_path = "/api/eu1/v2/message/list"
    entry = await add_entry(ha)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    key = f"{DOMAIN}.{entry.entry_id}.events"
    assert key not in hass_storage
    emulator.faults.errors_left = 0
    assert await ha.config_entries.async_reload(entry.entry_id)
    assert entry.state is ConfigEntryState.LOADED
    await pushed(ha, entry, emulator)
    await fetched(ha, entry)
    assert hass_storage[key]["data"]["seen"], "the history, taken as delivered"
    await asyncio.sleep(0.3)
    await ha.async_block_till_done()
    assert bus.events == [], "no history fired"
    ring = (await emulator.trigger(DOOR, "ring"))["msg_id"]
    await until(ha, lambda: bus.ids() == [ring])
