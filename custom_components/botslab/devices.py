"""Device-registry lookups and removals that mean the same on every supported Home Assistant.

Home Assistant 2026.8 split the device registry per config entry: one camera that comes
through two accounts is two devices there, while 2025.4 keeps one device shared by both
entries. Lookups by identifier (`async_get_device`), the device's entry set
(`DeviceEntry.config_entries`) and the registry's own detaching of a device from one entry
report deprecations from 2026.9, so everything here starts from the
entry's own devices (`async_entries_for_config_entry`) and their entities, which every version
has alike.

An entry lets a device go by losing its entities on it. Where no other entry has entities on
the device (always, from 2026.8), the device is removed; on 2025.4, a device another
account's entry still holds stays in the registry, linked to both entries, and an entry with
no entity on a device that another entry's entities use is not that device's entry here.
"""

from __future__ import annotations

from typing import Protocol

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import DOMAIN


class _Identified(Protocol):
    @property
    def identifiers(self) -> set[tuple[str, str]]: ...


def serials_of(device: _Identified) -> set[str]:
    """The BOTSLAB identifiers of a registry device."""
    return {ident[1] for ident in device.identifiers if ident[0] == DOMAIN}


@callback
def _entities_on(hass: HomeAssistant, device_id: str) -> list[er.RegistryEntry]:
    return er.async_entries_for_device(
        er.async_get(hass), device_id, include_disabled_entities=True
    )


@callback
def _let_go(hass: HomeAssistant, entry_id: str, device_id: str) -> bool:
    """Whether the entry let the device go while another entry keeps it (2025.4 only): the
    device has entities, none of them the entry's."""
    holders = {entity.config_entry_id for entity in _entities_on(hass, device_id)}
    return bool(holders) and entry_id not in holders


@callback
def _linked(hass: HomeAssistant, entry_id: str) -> list[dr.DeviceEntry]:
    return dr.async_entries_for_config_entry(dr.async_get(hass), entry_id)


@callback
def entry_devices(hass: HomeAssistant, entry_id: str) -> list[dr.DeviceEntry]:
    """The devices of one config entry."""
    return [d for d in _linked(hass, entry_id) if not _let_go(hass, entry_id, d.id)]


@callback
def device_for_serial(hass: HomeAssistant, entry_id: str, serial: str) -> dr.DeviceEntry | None:
    """The entry's device with this BOTSLAB identifier (a serial, or the account's id)."""
    for device in _linked(hass, entry_id):
        if (DOMAIN, serial) in device.identifiers:
            return None if _let_go(hass, entry_id, device.id) else device
    return None


@callback
def entry_owns_device(hass: HomeAssistant, entry_id: str, device_id: str) -> bool:
    """Whether the registry device belongs to the entry (on 2025.4: is one of its entries)."""
    linked = any(device.id == device_id for device in _linked(hass, entry_id))
    return linked and not _let_go(hass, entry_id, device_id)


@callback
def remove_from_entry(hass: HomeAssistant, entry_id: str, device_id: str) -> None:
    """Take a device away from one config entry, and only from it: its entities on the
    device go, and the device goes with them unless another entry's entities are on it
    (2025.4, a camera two accounts share)."""
    if not entry_owns_device(hass, entry_id, device_id):
        return
    entities = _entities_on(hass, device_id)
    if any(entity.config_entry_id != entry_id for entity in entities):
        registry = er.async_get(hass)
        for entity in entities:
            if entity.config_entry_id == entry_id:
                registry.async_remove(entity.entity_id)
        return
    dr.async_get(hass).async_remove_device(device_id)
