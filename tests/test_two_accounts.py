"""What a user finds with two accounts side by side (issue 25): the owner's and a shared one
see the Driveway camera; and what a fresh install shows before anything happens."""

from __future__ import annotations

from collections.abc import AsyncIterator

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
import pytest

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_USER, NEIGHBOUR_USER
from botslab_emulator.world import kind_of
from custom_components.botslab.const import DOMAIN, EVENT_BOTSLAB

from .conftest import add_entry, find_device
from .test_events import DOOR, until

DRIVE = "BCC5A0B1C2D3"  # the neighbour's, shared to the demo account (level 2)


@pytest.fixture
async def both(ha: HomeAssistant) -> AsyncIterator[tuple[ConfigEntry, ConfigEntry]]:
    """The demo account (the driveway shared to it) and the neighbour's (its owner)."""
    demo = await add_entry(ha)
    neighbour = await add_entry(ha, NEIGHBOUR_USER, "neighbour-demo")
    yield demo, neighbour
    for entry in (demo, neighbour):
        assert await ha.config_entries.async_unload(entry.entry_id)
    await ha.async_block_till_done()


async def test_two_account_devices_have_two_names(
    hass: HomeAssistant, both: tuple[ConfigEntry, ConfigEntry]
) -> None:
    """Each account's own device is named after its entry, so the entity ids differ by the
    account's name, not by a `_2`."""
    registry = dr.async_get(hass)
    names = []
    for entry in both:
        account = [
            d
            for d in dr.async_entries_for_config_entry(registry, entry.entry_id)
            if d.entry_type is dr.DeviceEntryType.SERVICE
        ]
        assert len(account) == 1
        names.append(account[0].name)
    assert names == ["BOTSLAB account Demo", "BOTSLAB account Neighbour"]
    ids = [
        e.entity_id
        for e in er.async_get(hass).entities.values()
        if e.platform == DOMAIN and e.unique_id.endswith("_event_connection")
    ]
    assert sorted(ids) == [
        "sensor.botslab_account_demo_event_connection",
        "sensor.botslab_account_neighbour_event_connection",
    ]


async def test_owner_only_actions_use_the_owner_s_account(
    hass: HomeAssistant, both: tuple[ConfigEntry, ConfigEntry], emulator: Emulator
) -> None:
    """The driveway is one device of two entries: an owner-only action goes through the
    owner's, whichever entry was set up first."""
    device = find_device(hass, DRIVE)  # the shared account's, set up first
    assert device is not None
    shares = await hass.services.async_call(
        DOMAIN, "list_shares", {"device_id": device.id}, blocking=True, return_response=True
    )
    assert [s["status"] for s in shares["shares"]] == ["sharing"]  # type: ignore[index]
    await hass.services.async_call(
        DOMAIN,
        "set_consent",
        {"scope": "ai_detection", "granted": False, "device_id": device.id},
        blocking=True,
    )
    drive = emulator.world.devices[DRIVE]
    assert not emulator.world.consents.device_granted(drive, "ai_detection")


async def test_the_account_device_is_refused_by_name(
    hass: HomeAssistant, both: tuple[ConfigEntry, ConfigEntry]
) -> None:
    demo, _ = both
    qid = demo.runtime_data.client.credentials.qid
    account = find_device(hass, f"account_{qid}")
    assert account is not None
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            DOMAIN,
            "share_device",
            {"device_id": account.id, "email": "someone@example.com", "level": "view"},
            blocking=True,
            return_response=True,
        )
    assert err.value.translation_key == "account_device"


async def test_repairs_are_scoped_to_their_account(
    hass: HomeAssistant, both: tuple[ConfigEntry, ConfigEntry], emulator: Emulator
) -> None:
    """The owner withdrew the driveway's event upload: the owner's repair stays however often
    the shared account refreshes, and carries the owner's entry in its id."""
    demo, neighbour = both
    drive = emulator.world.devices[DRIVE]
    emulator.world.consents.set(drive.owner_qid, "event_upload", 0, drive.product_key, DRIVE)
    await neighbour.runtime_data.settings_coordinator.async_refresh()
    await hass.async_block_till_done()
    issue_id = f"event_upload_withdrawn_{neighbour.entry_id}_{DRIVE}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    for _ in range(2):
        await demo.runtime_data.settings_coordinator.async_refresh()
        await demo.runtime_data.device_coordinator.async_refresh()
        await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"event_upload_withdrawn_{DRIVE}") is None


async def test_a_live_view_clears_only_its_own_account_s_notice(
    hass: HomeAssistant, both: tuple[ConfigEntry, ConfigEntry], emulator: Emulator
) -> None:
    """The driveway is a camera of both accounts: the shared account's live-view notice stays
    when the owner's live view works (it went, before the ids carried the entry)."""
    from homeassistant.components.camera import async_get_stream_source

    demo, neighbour = both
    cameras = {
        camera.coordinator.config_entry.entry_id: camera
        for camera in hass.data["camera"].entities
        if camera.unique_id and camera.unique_id.endswith(f"{DRIVE}_camera")
    }
    shared, owned = cameras[demo.entry_id], cameras[neighbour.entry_id]
    assert shared._live_issue_id != owned._live_issue_id
    assert demo.entry_id in shared._live_issue_id
    ir.async_create_issue(
        hass,
        DOMAIN,
        shared._live_issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="live_audio_only",
        translation_placeholders={"device": "Driveway"},
    )
    assert await async_get_stream_source(hass, owned.entity_id)  # the owner's works
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, shared._live_issue_id) is not None


async def test_old_unscoped_repairs_are_migrated(
    hass: HomeAssistant, ha: HomeAssistant, emulator: Emulator
) -> None:
    """An issue named by serial alone (an earlier version) goes at setup; one that still holds
    comes back scoped."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        f"cloud_plan_ending_{DOOR}",
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="cloud_plan_ending",
        translation_placeholders={"device": "Front Door", "plan": "x", "days": "3"},
    )
    entry = await add_entry(ha, DEMO_USER)
    assert ir.async_get(hass).async_get_issue(DOMAIN, f"cloud_plan_ending_{DOOR}") is None
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_fresh_install_shows_the_newest_listed_event(
    hass: HomeAssistant, ha: HomeAssistant, emulator: Emulator
) -> None:
    """History is not fired, but what shows a device's newest event does show it at once."""
    fired: list[object] = []
    hass.bus.async_listen(EVENT_BOTSLAB, fired.append)
    entry = await add_entry(ha, DEMO_USER)
    qid = entry.runtime_data.client.credentials.qid
    newest = max(
        (m for m in emulator.world.messages.boxes[qid] if m.device_name == DOOR),
        key=lambda m: m.ctime,
    )
    registry = er.async_get(hass)

    def entity(platform: str, key: str) -> str:
        found = registry.async_get_entity_id(platform, DOMAIN, f"{qid}_{DOOR}_{key}")
        assert found
        return found

    kind = entity("sensor", "last_event_kind")
    await until(hass, lambda: hass.states.get(kind).state not in (STATE_UNKNOWN, "unavailable"))
    assert hass.states.get(kind).state == kind_of(newest.event_type)  # the newest listed
    image = entity("image", "last_event_image")
    await until(hass, lambda: hass.states.get(image).attributes.get("message_id") == newest.id)
    assert hass.states.get(entity("event", "doorbell")).state == STATE_UNKNOWN, "nothing fired"
    assert fired == []
    assert await hass.config_entries.async_unload(entry.entry_id)


async def test_a_share_taken_back_leaves_the_owner_s_camera_alone(
    hass: HomeAssistant,
    both: tuple[ConfigEntry, ConfigEntry],
    emulator: Emulator,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The neighbour takes the driveway's share back: after the grace the demo account's
    driveway leaves (its device and entities), while the neighbour's camera, the same device
    on Home Assistant 2025.4, stays with all its entities; shared again, it comes back to the
    demo account without a reload."""
    from custom_components.botslab.coordinator import STALE_AFTER, STALE_MISSES
    from custom_components.botslab.devices import device_for_serial, entry_devices

    demo, neighbour = both
    registry = er.async_get(hass)

    def camera_of(entry: ConfigEntry) -> str | None:
        return next(
            (
                e.entity_id
                for e in er.async_entries_for_config_entry(registry, entry.entry_id)
                if e.domain == "camera" and e.unique_id.endswith(f"{DRIVE}_camera")
            ),
            None,
        )

    owners_before = len(er.async_entries_for_config_entry(registry, neighbour.entry_id))
    assert camera_of(demo) and camera_of(neighbour)
    share = next(s for s in emulator.world.sharing.shares.values() if s.device_name == DRIVE)
    status = share.status
    share.status = 1  # pending again: the demo account does not see the driveway
    for _ in range(STALE_MISSES):
        await demo.runtime_data.device_coordinator.async_refresh()
        await hass.async_block_till_done()
    freezer.tick(STALE_AFTER)
    await demo.runtime_data.device_coordinator.async_refresh()
    await hass.async_block_till_done()
    assert device_for_serial(hass, demo.entry_id, DRIVE) is None
    assert camera_of(demo) is None, "the demo account's driveway entities left"
    kept = device_for_serial(hass, neighbour.entry_id, DRIVE)
    assert kept is not None and kept in entry_devices(hass, neighbour.entry_id)
    assert len(er.async_entries_for_config_entry(registry, neighbour.entry_id)) == owners_before
    owner_camera = hass.states.get(camera_of(neighbour) or "")
    assert owner_camera is not None and owner_camera.state != "unavailable"
    # shared again: the demo account's driveway comes back
    share.status = status
    await demo.runtime_data.device_coordinator.async_refresh()
    await hass.async_block_till_done()
    assert device_for_serial(hass, demo.entry_id, DRIVE) is not None
    assert camera_of(demo) is not None
