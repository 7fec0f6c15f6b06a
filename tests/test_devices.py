"""The device-registry helpers mean the same on every lane: 2025.4 keeps one device shared by
two config entries, 2026.8 and newer give each entry its own. No call of the registry that
reports a deprecation from 2026.9 is made (the test harness fails on such a report)."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.botslab.const import DOMAIN
from custom_components.botslab.devices import (
    device_for_serial,
    entry_devices,
    entry_owns_device,
    remove_from_entry,
    serials_of,
)

SERIAL = "BCC5A0B1C2D3"


async def test_a_camera_in_two_accounts(hass: HomeAssistant) -> None:
    owner = MockConfigEntry(domain=DOMAIN, title="owner", unique_id="1")
    guest = MockConfigEntry(domain=DOMAIN, title="guest", unique_id="2")
    owner.add_to_hass(hass)
    guest.add_to_hass(hass)
    registry, entities = dr.async_get(hass), er.async_get(hass)
    camera: dict[str, str] = {}  # entry id -> its camera entity on the device
    for entry in (owner, guest):
        device = registry.async_get_or_create(
            config_entry_id=entry.entry_id, identifiers={(DOMAIN, SERIAL)}, name="Driveway"
        )
        camera[entry.entry_id] = entities.async_get_or_create(
            "camera",
            DOMAIN,
            f"{entry.unique_id}_{SERIAL}_camera",
            config_entry=entry,
            device_id=device.id,
        ).entity_id
    owners = device_for_serial(hass, owner.entry_id, SERIAL)
    guests = device_for_serial(hass, guest.entry_id, SERIAL)
    assert owners is not None and guests is not None
    assert serials_of(owners) == {SERIAL}
    assert entry_owns_device(hass, owner.entry_id, owners.id)
    assert entry_owns_device(hass, guest.entry_id, guests.id)
    assert device_for_serial(hass, owner.entry_id, "OTHER") is None

    # the guest loses the camera: the owner keeps it, whichever registry this is
    remove_from_entry(hass, guest.entry_id, guests.id)
    assert device_for_serial(hass, guest.entry_id, SERIAL) is None
    kept = device_for_serial(hass, owner.entry_id, SERIAL)
    assert kept is not None and kept.name == "Driveway"
    assert entry_devices(hass, guest.entry_id) == []
    assert not entry_owns_device(hass, guest.entry_id, kept.id)
    assert entities.async_get(camera[guest.entry_id]) is None, "the guest's entities went"
    assert entities.async_get(camera[owner.entry_id]) is not None, "the owner's stayed"

    # a device that is not the entry's is left alone
    remove_from_entry(hass, guest.entry_id, kept.id)
    assert device_for_serial(hass, owner.entry_id, SERIAL) is not None

    # the owner's removal removes it for good, with its entities
    remove_from_entry(hass, owner.entry_id, kept.id)
    assert registry.async_get(kept.id) is None
    assert entities.async_get(camera[owner.entry_id]) is None
