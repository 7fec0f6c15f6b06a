"""Setup, devices, entities and their commands, against the emulator."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.camera import async_get_image
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_USER, NEIGHBOUR_USER
from custom_components.botslab import async_remove_config_entry_device, update as update_platform
from custom_components.botslab.const import (
    CONF_Q,
    CONF_QID,
    CONF_T,
    DOMAIN,
    STALE_AFTER,
    STALE_MISSES,
)
from custom_components.botslab.devices import device_for_serial
from custom_components.botslab.diagnostics import (
    async_get_config_entry_diagnostics,
    mask_serial,
)
from tests.ha_helpers import scoped_uid

from .conftest import add_entry, fix_issue

DOOR, GARDEN, LIVING, DRIVE = "BDX3A1B2C3D4", "BCC5E5F6A7B8", "BCC2C9D0E1F2", "BCC5A0B1C2D3"


def entity_id(hass: HomeAssistant, serial: str, key: str) -> str:
    found = er.async_get(hass).async_get_entity_id(
        {
            "camera": "camera",
            "connectivity": "binary_sensor",
            "low_power_mode": "binary_sensor",
            "sd_card": "binary_sensor",
            "battery": "sensor",
            "voltage": "sensor",
            "wifi_signal": "sensor",
            "sd_free": "sensor",
            "sd_used": "sensor",
            "firmware_version": "sensor",
            "access": "sensor",
            "privacy_mode": "switch",
            "motion_detection": "switch",
            "status_light": "switch",
            "night_vision": "select",
            "motion_sensitivity": "select",
            "reboot": "button",
            "wake_up": "button",
            "firmware": "update",
        }[key],
        DOMAIN,
        scoped_uid(hass, f"{serial}_{key}"),
    )
    assert found, f"{serial}_{key}"
    return found


async def refresh(hass: HomeAssistant, entry: ConfigEntry) -> None:
    await entry.runtime_data.device_coordinator.async_refresh()
    await hass.async_block_till_done()


async def test_devices_in_the_registry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    registry = dr.async_get(hass)
    entries = dr.async_entries_for_config_entry(registry, entry.entry_id)
    devices = {d.serial_number: d for d in entries if d.entry_type is None}
    assert set(devices) == {DOOR, GARDEN, LIVING, DRIVE}
    account = [d for d in entries if d.entry_type is dr.DeviceEntryType.SERVICE]
    assert [(d.name, d.model) for d in account] == [
        (f"BOTSLAB account {entry.title}", "Cloud account")
    ]
    door = devices[DOOR]
    assert (door.manufacturer, door.model, door.name, door.sw_version) == (
        "BOTSLAB",
        "Video Doorbell X3",
        "Front Door",
        "1.4.2",
    )
    assert hass.states.get(entity_id(hass, DRIVE, "access")).state == "control"
    assert hass.states.get(entity_id(hass, GARDEN, "access")).state == "owner"


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entity_states_and_classes(hass: HomeAssistant, entry: ConfigEntry) -> None:
    conn = hass.states.get(entity_id(hass, DOOR, "connectivity"))
    assert conn.state == STATE_ON and conn.attributes["device_class"] == "connectivity"
    assert conn.attributes["friendly_name"] == "Front Door Connectivity"
    battery = hass.states.get(entity_id(hass, DOOR, "battery"))
    assert battery.state == "87" and battery.attributes["device_class"] == "battery"
    voltage = hass.states.get(entity_id(hass, DOOR, "voltage"))
    assert (
        float(voltage.state) == pytest.approx(3.96)
        and voltage.attributes["unit_of_measurement"] == "V"
    )
    assert hass.states.get(entity_id(hass, DOOR, "sd_card")).state == STATE_ON
    assert float(hass.states.get(entity_id(hass, GARDEN, "sd_free")).state) == pytest.approx(
        53.09, abs=0.01
    )
    assert hass.states.get(entity_id(hass, GARDEN, "night_vision")).state == "auto"
    assert hass.states.get(entity_id(hass, GARDEN, "motion_sensitivity")).state == "medium"
    assert hass.states.get(entity_id(hass, GARDEN, "privacy_mode")).state == STATE_OFF
    camera = hass.states.get(entity_id(hass, DOOR, "camera"))
    assert camera.attributes["friendly_name"] == "Front Door"
    ent_reg = er.async_get(hass)
    # (which are disabled by default: test_diagnostic_detail_is_disabled_by_default)
    assert (
        ent_reg.async_get(entity_id(hass, GARDEN, "night_vision")).entity_category.value == "config"
    )
    assert ent_reg.async_get(entity_id(hass, DOOR, "battery")).entity_category.value == "diagnostic"
    assert ent_reg.async_get(entity_id(hass, GARDEN, "privacy_mode")).entity_category is None
    # only where the device has the property
    assert (
        ent_reg.async_get_entity_id("sensor", DOMAIN, scoped_uid(hass, f"{GARDEN}_battery")) is None
    )
    assert (
        ent_reg.async_get_entity_id("button", DOMAIN, scoped_uid(hass, f"{GARDEN}_wake_up")) is None
    )
    assert (
        ent_reg.async_get_entity_id("select", DOMAIN, scoped_uid(hass, f"{DOOR}_night_vision"))
        is None
    )


async def test_commands_reach_the_emulator(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    garden = emulator.world.devices[GARDEN]
    await hass.services.async_call(
        "switch", "turn_on", {"entity_id": entity_id(hass, GARDEN, "privacy_mode")}, blocking=True
    )
    assert garden.desired["PrivacyMode"][0] == 1
    assert hass.states.get(entity_id(hass, GARDEN, "privacy_mode")).state == STATE_ON
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": entity_id(hass, GARDEN, "status_light")}, blocking=True
    )
    assert garden.report["StatusLight"][0] == 0
    await hass.services.async_call(
        "select",
        "select_option",
        {"entity_id": entity_id(hass, GARDEN, "night_vision"), "option": "off"},
        blocking=True,
    )
    assert garden.report["NightVisionMode"][0] == 2
    assert hass.states.get(entity_id(hass, GARDEN, "night_vision")).state == "off"
    await hass.services.async_call(
        "button", "press", {"entity_id": entity_id(hass, GARDEN, "reboot")}, blocking=True
    )
    assert "LastReboot" in garden.report
    door = emulator.world.devices[DOOR]
    await hass.services.async_call(
        "button", "press", {"entity_id": entity_id(hass, DOOR, "wake_up")}, blocking=True
    )
    assert emulator.world.devices.is_awake(door)
    # a cloud refusal becomes a translated error
    garden.online = False
    with pytest.raises(HomeAssistantError) as err:
        await hass.services.async_call(
            "switch",
            "turn_on",
            {"entity_id": entity_id(hass, GARDEN, "status_light")},
            blocking=True,
        )
    assert err.value.translation_key == "api_error" and err.value.translation_placeholders == {
        "code": "201002"
    }


async def test_view_only_share_gets_no_write_entities(
    ha: HomeAssistant, emulator: Emulator
) -> None:
    for share in emulator.world.sharing.shares.values():
        share.level = 1
    entry = await add_entry(ha)
    ent_reg = er.async_get(ha)
    assert (
        ent_reg.async_get_entity_id("switch", DOMAIN, scoped_uid(ha, f"{DRIVE}_privacy_mode"))
        is None
    )
    assert ent_reg.async_get_entity_id("button", DOMAIN, scoped_uid(ha, f"{DRIVE}_reboot")) is None
    assert (
        ent_reg.async_get_entity_id("update", DOMAIN, scoped_uid(ha, f"{DRIVE}_firmware")) is None
    )
    assert ha.states.get(entity_id(ha, DRIVE, "access")).state == "view"
    assert ha.states.get(entity_id(ha, DRIVE, "connectivity")).state == STATE_ON
    await ha.config_entries.async_unload(entry.entry_id)


async def test_firmware_update(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(update_platform, "PROGRESS_POLL_SECONDS", 0.05)
    emulator.world.firmware.upgrade_seconds = 0.6
    eid = entity_id(hass, GARDEN, "firmware")
    state = hass.states.get(eid)
    assert state.state == STATE_ON and state.attributes["installed_version"] == "2.1.0"
    assert state.attributes["latest_version"] == "2.2.0"
    assert hass.states.get(entity_id(hass, LIVING, "firmware")).state == STATE_OFF
    await hass.services.async_call("update", "install", {"entity_id": eid}, blocking=True)
    assert hass.states.get(eid).attributes["in_progress"] is True
    for _ in range(100):
        await asyncio.sleep(0.05)
        await hass.async_block_till_done()
        if hass.states.get(eid).attributes["installed_version"] == "2.2.0":
            break
    final = hass.states.get(eid)
    assert final.attributes["installed_version"] == "2.2.0" and final.state == STATE_OFF
    assert not final.attributes["in_progress"]


async def test_camera_image(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    door_image = await async_get_image(hass, entity_id(hass, DOOR, "camera"))
    assert door_image.content[:2] == b"\xff\xd8", "the doorbell shows its latest event image"
    assert not emulator.world.devices.is_awake(emulator.world.devices[DOOR]), "without waking it"
    garden_image = await async_get_image(hass, entity_id(hass, GARDEN, "camera"))
    assert garden_image.content[:2] == b"\xff\xd8", "the newest listed event's, at start"
    assert "/api/eu1/v1/iot/device/invoke_service" not in emulator.counters.requests
    # a camera without any event takes a fresh snapshot
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    new = emulator.world.devices.add(
        acc.qid, title="Garage", category_key="camera", product_name="Indoor Camera C2"
    )
    await refresh(hass, entry)
    new_image = await async_get_image(hass, entity_id(hass, new.device_name, "camera"))
    assert new_image.content[:2] == b"\xff\xd8"
    assert emulator.counters.requests["/api/eu1/v1/iot/device/invoke_service"] == 1, (
        "a fresh snapshot"
    )


async def test_devices_appear_and_disappear(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """A new device comes with its entities, and an entity gated on a property comes when the
    property first shows up; a device the cloud stops listing is kept (unavailable) through a
    grace, then leaves; when it comes back it gets its device and entities again. No reload."""
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    new = emulator.world.devices.add(
        acc.qid, title="Garage", category_key="camera", product_name="Indoor Camera C2"
    )
    await refresh(hass, entry)
    assert hass.states.get(entity_id(hass, new.device_name, "privacy_mode")).state == STATE_OFF
    assert device_for_serial(hass, entry.entry_id, new.device_name) is not None
    battery_uid = scoped_uid(hass, f"{new.device_name}_battery")
    assert er.async_get(hass).async_get_entity_id("sensor", DOMAIN, battery_uid) is None
    emulator.world.devices.report_property(new, "BatteryLevel", 64)  # a battery pack fitted
    await refresh(hass, entry)
    assert hass.states.get(entity_id(hass, new.device_name, "battery")).state == "64"

    garden = device_for_serial(hass, entry.entry_id, GARDEN)
    assert garden is not None
    privacy = entity_id(hass, GARDEN, "privacy_mode")
    assert not await async_remove_config_entry_device(hass, entry, garden), "still listed"
    emulator.world.remove_device(GARDEN)
    for _ in range(STALE_MISSES):
        await refresh(hass, entry)
        assert device_for_serial(hass, entry.entry_id, GARDEN) is not None, "within the grace"
        assert hass.states.get(privacy).state == STATE_UNAVAILABLE
    assert await async_remove_config_entry_device(hass, entry, garden), "gone: may be removed"
    freezer.tick(STALE_AFTER)
    await refresh(hass, entry)
    assert device_for_serial(hass, entry.entry_id, GARDEN) is None
    assert dr.async_get(hass).async_get(garden.id) is None
    assert er.async_get(hass).async_get(privacy) is None

    # Garden comes back (bound again): its device and entities return, without a reload
    emulator.world.devices.add(
        acc.qid,
        title="Garden",
        category_key="camera",
        product_name="Outdoor Camera C5",
        device_name=GARDEN,
    )
    await refresh(hass, entry)
    assert device_for_serial(hass, entry.entry_id, GARDEN) is not None
    assert hass.states.get(entity_id(hass, GARDEN, "privacy_mode")).state == STATE_OFF


async def test_a_device_back_within_the_grace_keeps_its_entities(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, freezer: FrozenDateTimeFactory
) -> None:
    """A share taken back and given again within the grace: nothing is removed, and the
    entities are available again. Misses must come in a row: the count starts over."""
    drive = entity_id(hass, DRIVE, "connectivity")
    device = device_for_serial(hass, entry.entry_id, DRIVE)
    share = next(s for s in emulator.world.sharing.shares.values() if s.device_name == DRIVE)
    status = share.status
    share.status = 1  # pending again: the demo account does not see Driveway
    for _ in range(STALE_MISSES - 1):
        await refresh(hass, entry)
    freezer.tick(STALE_AFTER)
    assert hass.states.get(drive).state == STATE_UNAVAILABLE
    share.status = status
    await refresh(hass, entry)
    assert hass.states.get(drive).state == STATE_ON
    share.status = 1
    await refresh(hass, entry)  # one miss, not the third: the count started over
    assert device_for_serial(hass, entry.entry_id, DRIVE) == device
    share.status = status
    await refresh(hass, entry)
    assert hass.states.get(drive).state == STATE_ON


async def test_offline_device_and_unreachable_cloud(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.world.devices[GARDEN].online = False
    await refresh(hass, entry)
    assert hass.states.get(entity_id(hass, GARDEN, "privacy_mode")).state == STATE_UNAVAILABLE
    assert hass.states.get(entity_id(hass, GARDEN, "connectivity")).state == STATE_OFF
    assert caplog.text.count("Garden is offline") == 1
    await refresh(hass, entry)
    assert caplog.text.count("Garden is offline") == 1, "logged once"
    emulator.world.devices[GARDEN].online = True
    emulator.faults.errors_left, emulator.faults.error_path = 1000, "/api/"
    await refresh(hass, entry)
    await refresh(hass, entry)
    assert hass.states.get(entity_id(hass, DOOR, "battery")).state == STATE_UNAVAILABLE
    assert hass.states.get(entity_id(hass, DOOR, "connectivity")).state == STATE_UNAVAILABLE
    emulator.faults.errors_left = 0
    await refresh(hass, entry)
    assert hass.states.get(entity_id(hass, DOOR, "battery")).state == "87"
    assert "Garden is back online" in caplog.text
    assert (
        caplog.text.count("Error fetching botslab devices data") == 1 and "recovered" in caplog.text
    )


async def test_setup_failures(ha: HomeAssistant, emulator: Emulator) -> None:
    entry = await add_entry(ha)
    await ha.config_entries.async_unload(entry.entry_id)
    # Q/T expired: reauth
    for tok in emulator.world.accounts.tokens.values():
        tok.expired = True
    await ha.config_entries.async_setup(entry.entry_id)
    await ha.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_ERROR
    flows = ha.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert any(f["context"]["source"] == "reauth" for f in flows)
    for flow in flows:
        ha.config_entries.flow.async_abort(flow["flow_id"])
    for tok in emulator.world.accounts.tokens.values():
        tok.expired = False
    # the cloud down: retry later
    emulator.faults.errors_left, emulator.faults.error_path = 1000, "/api/"
    await ha.config_entries.async_reload(entry.entry_id)
    await ha.async_block_till_done()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    emulator.faults.errors_left = 0
    await ha.config_entries.async_unload(entry.entry_id)


async def test_expired_session_during_refresh_starts_reauth(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    for tok in emulator.world.accounts.tokens.values():
        tok.timed_out = True
    await refresh(hass, entry)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]


async def test_session_conflict_backs_off_with_a_repair(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_client: ClientSessionGenerator
) -> None:
    await emulator_kick(emulator)
    logins = emulator.counters.requests["/api/eu1/v1/app/login"]
    await refresh(hass, entry)
    issue_id = f"session_conflict_{entry.entry_id}"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None and issue.is_fixable and issue.translation_key == "session_conflict"
    # it does not fight the phone app: no new app login while backing off
    async_fire_time_changed(hass, dt_util.utcnow() + timedelta(minutes=5))
    await refresh(hass, entry)
    assert emulator.counters.requests["/api/eu1/v1/app/login"] == logins
    assert hass.states.get(entity_id(hass, DOOR, "battery")).state == STATE_UNAVAILABLE
    # the repair flow takes the session back
    result = await fix_issue(hass, hass_client, issue_id)
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    assert hass.states.get(entity_id(hass, DOOR, "battery")).state == "87"


async def emulator_kick(emulator: Emulator) -> None:
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    emulator.world.accounts.app_login(acc.qid, acc.region, phone_app=True)


async def test_diagnostics_hold_no_secret(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    diag = await async_get_config_entry_diagnostics(hass, entry)
    text = repr(diag)
    client = entry.runtime_data.client
    session = client.session
    assert session is not None
    for secret in (
        entry.data["q"],
        entry.data["t"],
        session.sid,
        session.push_alias,
        client.identity.m2,
        client.identity.mid,
        client.identity.androidid,
        DEMO_USER,
        emulator.base_url,
        entry.unique_id,
    ):
        assert secret not in text
    # serials masked: the model's prefix and the last two characters
    assert {d["device"]["serial"] for d in diag["devices"]} == {
        mask_serial(s) for s in (DOOR, GARDEN, LIVING, DRIVE)
    }
    assert not any(serial in text for serial in (DOOR, GARDEN, LIVING, DRIVE))
    assert diag["devices"][0]["properties"]


async def test_unload_leaves_nothing_running(hass: HomeAssistant, entry: ConfigEntry) -> None:
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert all(
        s.state == STATE_UNAVAILABLE
        for s in hass.states.async_all()
        if s.entity_id.startswith("switch.")
    )


async def test_setup_and_unload_return_true_or_raise(
    hass: HomeAssistant, entry: ConfigEntry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Home Assistant 2026.11 turns a False from setup or unload into an error, and 2025.4
    wants a bool: the integration returns True, or raises a translated error."""
    from custom_components import botslab

    results: list[object] = []
    for name in ("async_setup_entry", "async_unload_entry"):
        real = getattr(botslab, name)

        async def recording(*args: object, real: Any = real) -> object:
            results.append(result := await real(*args))
            return result

        monkeypatch.setattr(botslab, name, recording)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert results == [True, True] and entry.state is ConfigEntryState.LOADED

    # a platform that does not unload: a translated error, never False
    real_unload = hass.config_entries.async_unload_platforms

    async def platforms_refuse(*_args: object) -> bool:
        return False

    monkeypatch.setattr(hass.config_entries, "async_unload_platforms", platforms_refuse)
    assert not await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.FAILED_UNLOAD
    assert entry.reason and "could not be unloaded" in entry.reason
    assert results[-1:] == [True], "no False was returned"
    assert await real_unload(entry, botslab.PLATFORMS)
    data = entry.runtime_data
    for coordinator in (
        data.device_coordinator,
        data.firmware_coordinator,
        data.settings_coordinator,
    ):  # what a successful unload ends
        await coordinator.async_shutdown()


async def test_decoded_tokens_of_an_older_entry_are_migrated(
    ha: HomeAssistant, emulator: Emulator
) -> None:
    """Entries of 0.1 kept Q/T URL-decoded; 1.2 keeps them as the cloud sends them. The
    migration encodes them again: the entry loads without a new sign-in."""
    entry = await add_entry(ha)
    encoded_q, encoded_t = entry.data[CONF_Q], entry.data[CONF_T]
    assert await ha.config_entries.async_unload(entry.entry_id)
    ha.config_entries.async_update_entry(
        entry,
        data={**entry.data, CONF_Q: unquote(encoded_q), CONF_T: unquote(encoded_t)},
        title=DEMO_USER,
        version=1,
        minor_version=1,
    )
    quc_before = sum(n for p, n in emulator.counters.requests.items() if "request.php" in p)
    assert await ha.config_entries.async_setup(entry.entry_id)
    await ha.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED and (entry.version, entry.minor_version) == (2, 1)
    assert (entry.data[CONF_Q], entry.data[CONF_T]) == (encoded_q, encoded_t)
    assert entry.title == "d***@botslab.local", "1.3: the sign-in name is masked"
    assert not ha.config_entries.flow.async_progress_by_handler(DOMAIN), "no reauth"
    quc_after = sum(n for p, n in emulator.counters.requests.items() if "request.php" in p)
    assert quc_after == quc_before, "no password login"
    assert await ha.config_entries.async_unload(entry.entry_id)


async def test_a_title_the_user_chose_survives_the_title_migration(
    ha: HomeAssistant, emulator: Emulator
) -> None:
    entry = await add_entry(ha)
    assert await ha.config_entries.async_unload(entry.entry_id)
    ha.config_entries.async_update_entry(entry, title="Home cameras", version=1, minor_version=2)
    assert await ha.config_entries.async_setup(entry.entry_id)
    await ha.async_block_till_done()
    assert (entry.version, entry.minor_version) == (2, 1) and entry.title == "Home cameras"
    assert await ha.config_entries.async_unload(entry.entry_id)


async def test_diagnostics_redact_personal_data_in_free_text(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """What a cloud's free-text fields may carry: numbers as people write them, signed
    object links without their scheme, `token=` and `sid=` pairs."""
    forms = {
        "Note1": "call +49 176 12345678",
        "Note2": "Festnetz 0176/1234-5678",
        "Note3": "bucket.oss-eu-central-1.aliyuncs.com/a/b.jpg?Expires=1&Signature=S1gn",
        "Note4": "retry with token=abcdef123",
        "Note5": "cookie sid=5f2a9c; path=/",
    }
    dev = emulator.world.devices[GARDEN]
    for key, text in forms.items():
        dev.report[key] = [text, str(int(emulator.world.now() * 1000))]
    await entry.runtime_data.device_coordinator.async_refresh()
    await hass.async_block_till_done()
    diag = await async_get_config_entry_diagnostics(hass, entry)
    garden = next(d for d in diag["devices"] if d["device"]["serial"] == mask_serial(GARDEN))
    assert set(forms) <= set(garden["properties"]), "the fields reach diagnostics"
    text = repr(diag)
    for secret in ("12345678", "1234-5678", "aliyuncs.com/a", "S1gn", "abcdef123", "5f2a9c"):
        assert secret not in text, secret


async def test_diagnostics_redact_every_written_form_of_the_sessions_secrets(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """The session's own secrets (sid, push alias, Q, T, m2) as a cloud's text field may
    carry them: JSON with double or single quotes, a header, the jws token, URL-encoded
    pairs (once or twice); and under property names of any spelling. None reaches
    diagnostics, new fields included."""
    client = entry.runtime_data.client
    session = client.session
    assert session is not None
    sid, alias, m2 = session.sid, session.push_alias, client.identity.m2
    q, t = client.credentials.q, client.credentials.t
    token = client._headers(with_sid=True)["Authorization"]
    forms = {
        "Note1": f'{{"sid": "{sid}", "code": 0}}',
        "Note2": f"{{'push_alias': '{alias}', 'sid': '{sid}'}}",
        "Note3": f"Authorization: {token}",
        "Note4": f"retry?sid%3D{sid}%26m2%3D{m2}",
        "Note5": f"cookie Q%3D{q}; T%3D{t}",
        "Note6": f"Q={q}&T={t}",
        "Note7": token.removeprefix("jws "),
        "push-alias": alias,
        "homeSid": sid,
    }
    dev = emulator.world.devices[GARDEN]
    for key, text in forms.items():
        dev.report[key] = [text, str(int(emulator.world.now() * 1000))]
    await entry.runtime_data.device_coordinator.async_refresh()
    await hass.async_block_till_done()
    diag = await async_get_config_entry_diagnostics(hass, entry)
    garden = next(d for d in diag["devices"] if d["device"]["serial"] == mask_serial(GARDEN))
    assert set(forms) <= set(garden["properties"]), "the fields reach diagnostics"
    pause = diag["account"]["cloud_pause"]
    assert {"until", "rate_limits_met", "requests_held_back"} <= pause.keys()
    text = repr(diag)
    for name, secret in {
        "sid": sid,
        "push alias": alias,
        "m2": m2,
        "Q": q,
        "decoded Q": unquote(q),
        "T": t,
        "jws": token.removeprefix("jws ")[:24],
    }.items():
        assert secret not in text, name
    assert unquote(q).split("&")[0] not in text, "not even Q's first field"


async def test_unique_ids_of_an_older_entry_are_scoped_to_the_account(
    ha: HomeAssistant, emulator: Emulator
) -> None:
    """Entries before 2.1 had `{serial}_{key}` unique ids. The migration scopes them to the
    account and keeps what the user sees: entity ids, names given in the UI, and history."""
    entry = await add_entry(ha)
    registry = er.async_get(ha)
    battery = entity_id(ha, DOOR, "battery")
    registry.async_update_entity(battery, name="Doorbell charge")
    before = ha.states.get(battery)
    assert before is not None
    assert await ha.config_entries.async_unload(entry.entry_id)
    await ha.async_block_till_done()
    qid = entry.data[CONF_QID]
    mine = er.async_entries_for_config_entry(registry, entry.entry_id)
    old_ids = {}
    for reg in mine:
        if reg.unique_id.startswith(f"{qid}_"):
            old = reg.unique_id.removeprefix(f"{qid}_")
            registry.async_update_entity(reg.entity_id, new_unique_id=old)
            old_ids[reg.entity_id] = old
    assert len(old_ids) > 20, "the device entities had the old form"
    ha.config_entries.async_update_entry(entry, version=1, minor_version=3)
    assert await ha.config_entries.async_setup(entry.entry_id)
    await ha.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED and (entry.version, entry.minor_version) == (2, 1)
    for eid, old in old_ids.items():
        reg = registry.async_get(eid)
        assert reg is not None and reg.unique_id == f"{qid}_{old}", eid
    after = er.async_entries_for_config_entry(registry, entry.entry_id)
    assert {r.entity_id for r in after} == {r.entity_id for r in mine}, "no entity made anew"
    state = ha.states.get(battery)
    assert state is not None and state.attributes["friendly_name"] == "Doorbell charge"
    assert state.state == before.state
    assert await ha.config_entries.async_unload(entry.entry_id)


async def test_the_owner_and_a_shared_account_side_by_side(
    ha: HomeAssistant, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """The demo account sees Driveway shared by the neighbour, who owns it: with both accounts
    added, each has its own entities for it, events reach both from their own message lists,
    and removing one account leaves the other whole."""
    mine = await add_entry(ha)
    theirs = await add_entry(ha, NEIGHBOUR_USER, "neighbour-demo")
    assert mine.state is theirs.state is ConfigEntryState.LOADED
    assert "does not generate unique IDs" not in caplog.text
    registry = er.async_get(ha)

    def drive_entities(entry: ConfigEntry) -> dict[str, str]:
        """Driveway's entities of one entry, by `domain.key`."""
        prefix = f"{entry.data[CONF_QID]}_{DRIVE}_"
        return {
            f"{r.domain}.{r.unique_id.removeprefix(prefix)}": r.entity_id
            for r in er.async_entries_for_config_entry(registry, entry.entry_id)
            if r.unique_id.startswith(prefix)
        }

    shared, owned = drive_entities(mine), drive_entities(theirs)
    wanted = {"binary_sensor.connectivity", "event.motion"}
    assert wanted <= shared.keys() and wanted <= owned.keys()
    assert "update.firmware" in owned, "the owner updates the firmware"
    assert "update.firmware" not in shared, "a shared account does not"
    assert not set(shared.values()) & set(owned.values()), "two entities, not one"
    for entity in (shared["binary_sensor.connectivity"], owned["binary_sensor.connectivity"]):
        assert ha.states.get(entity).state == STATE_ON
    # an event of Driveway comes to both accounts, each from its own message list
    await emulator.trigger(DRIVE, "motion")
    motions = (shared["event.motion"], owned["event.motion"])
    async with asyncio.timeout(10):
        while any(ha.states.get(e).attributes.get("message_id") is None for e in motions):
            await asyncio.sleep(0.05)
    ids = {ha.states.get(e).attributes["message_id"] for e in motions}
    assert len(ids) == 2, "one message per account"
    # removing the neighbour's account leaves the demo account's Driveway as it was
    assert await ha.config_entries.async_remove(theirs.entry_id)
    await ha.async_block_till_done()
    assert drive_entities(mine) == shared
    assert ha.states.get(shared["binary_sensor.connectivity"]).state == STATE_ON
    assert device_for_serial(ha, mine.entry_id, DRIVE) is not None
    assert mine.state is ConfigEntryState.LOADED
    assert await ha.config_entries.async_unload(mine.entry_id)


async def test_diagnostic_detail_is_disabled_by_default(
    hass: HomeAssistant, entry: ConfigEntry
) -> None:
    """What the device page shows at first: detail a user rarely wants (voltage, SD card
    numbers, the firmware version the update entity shows anyway, the plan's internals, one
    switch per privacy scope, Wi-Fi signal) is in the registry, disabled."""
    registry = er.async_get(hass)
    qid = entry.data[CONF_QID]
    disabled = {
        r.unique_id.removeprefix(f"{qid}_")
        for r in er.async_entries_for_config_entry(registry, entry.entry_id)
        if r.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    }
    keys = {uid.split("_", 1)[1] if not uid.startswith("account_") else uid for uid in disabled}
    account = f"account_{qid}_consent_"
    assert keys == {
        "ring",  # the doorbell event entity says each ring
        "last_event_time",  # "Last event" shows when it changed
        "voltage",
        "sd_free",
        "sd_used",
        "sd_card",
        "firmware_version",
        "cloud_plan_days_left",
        "cloud_plan_expires",
        "wifi_signal",
        "consent_event_upload",
        "consent_cloud_recording",
        "consent_ai_detection",
        *(f"{account}{scope}" for scope in ("marketing", "push", "analytics", "network_test")),
    }
    door = {uid for uid in disabled if uid.startswith(DOOR)}
    assert f"{DOOR}_voltage" in door and f"{DOOR}_battery" not in disabled
    assert hass.states.get(entity_id(hass, DOOR, "battery")) is not None, "the battery shows"
