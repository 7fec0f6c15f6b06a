"""Device-registry lookups and removals that mean the same on every supported Home Assistant.

Home Assistant 2026.8 split the device registry per config entry: one camera that comes
through two accounts is two devices there, while 2025.4 keeps one device shared by both
entries. Lookups by identifier (`async_get_device`) and the device's entry set
(`DeviceEntry.config_entries`) are deprecated from 2026.9, so everything here starts from
the entry's own devices (`async_entries_for_config_entry`, which both versions have).
"""

from __future__ import annotations

from typing import Protocol

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr

from .compat import remove_device_of_entry
from .const import DOMAIN


class _Identified(Protocol):
    @property
    def identifiers(self) -> set[tuple[str, str]]: ...


def serials_of(device: _Identified) -> set[str]:
    """The BOTSLAB identifiers of a registry device."""
    return {ident[1] for ident in device.identifiers if ident[0] == DOMAIN}


@callback
def entry_devices(hass: HomeAssistant, entry_id: str) -> list[dr.DeviceEntry]:
    """The devices of one config entry."""
    return dr.async_entries_for_config_entry(dr.async_get(hass), entry_id)


@callback
def device_for_serial(hass: HomeAssistant, entry_id: str, serial: str) -> dr.DeviceEntry | None:
    """The entry's device with this BOTSLAB identifier (a serial, or the account's id)."""
    for device in entry_devices(hass, entry_id):
        if (DOMAIN, serial) in device.identifiers:
            return device
    return None


@callback
def entry_owns_device(hass: HomeAssistant, entry_id: str, device_id: str) -> bool:
    """Whether the registry device belongs to the entry (on 2025.4: is one of its entries)."""
    return any(device.id == device_id for device in entry_devices(hass, entry_id))


@callback
def remove_from_entry(hass: HomeAssistant, entry_id: str, device_id: str) -> None:
    """Take a device away from one config entry, and only from it.

    From 2026.8 the device is the entry's alone, so it is removed. Before, a device may be
    shared with another account's entry: the registry's own per-entry removal detaches it
    from this entry and removes it only when no entry is left (the one call 2025.4 has for
    that; it is never reached on 2026.8 and newer, where it is deprecated).
    """
    registry = dr.async_get(hass)
    if not entry_owns_device(hass, entry_id, device_id):
        return
    remove_device_of_entry(registry, device_id, entry_id)
