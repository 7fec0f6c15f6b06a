"""Base entity, entity descriptions, the command helper and dynamic device discovery."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity, DataUpdateCoordinator

from .api import Device
from .const import ACCOUNT_PREFIX, CONF_QID, DOMAIN, MANUFACTURER
from .coordinator import DeviceCoordinator
from .data import BotslabConfigEntry, BotslabData, DeviceState
from .devices import device_for_serial
from .errors import cloud_command, translated


@dataclass(frozen=True, kw_only=True)
class BotslabEntityDescription(EntityDescription):
    """Shared fields: whether the entity exists for a device, and whether it writes."""

    exists_fn: Callable[[DeviceState], bool] = lambda _state: True
    writes: bool = False
    available_offline: bool = False
    needs_events: bool = False  # unavailable while the device's event_upload consent is withdrawn
    # what the entity shows besides the device list: it hears that coordinator too (the device
    # coordinator, for availability, always); needs_events reads the settings' consents
    reads_firmware: bool = False
    reads_settings: bool = False


def device_info(state: DeviceState) -> DeviceInfo:
    """The registry device of a BOTSLAB camera or doorbell."""
    device = state.device
    firmware = state.properties.firmware_version if state.properties else None
    info = DeviceInfo(
        identifiers={(DOMAIN, device.serial)},
        manufacturer=MANUFACTURER,
        model=device.product_name or device.category_name or "BOTSLAB device",
        name=device.title,
        serial_number=device.serial,
    )
    # keywords only, never written to afterwards (Home Assistant's rule); no version known
    # leaves the registry's as it was
    return DeviceInfo(**info, sw_version=str(firmware)) if firmware else info


def account_device_info(entry: BotslabConfigEntry) -> DeviceInfo:
    """The account's own device: account-wide settings and the event connection."""
    qid = entry.runtime_data.client.credentials.qid
    # named after the entry's title (masked, as the integrations page shows it), so that two
    # accounts side by side are two distinct devices with distinct entity ids
    return DeviceInfo(
        identifiers={(DOMAIN, f"{ACCOUNT_PREFIX}{qid}")},
        manufacturer=MANUFACTURER,
        model="Cloud account",
        translation_key="account",
        translation_placeholders={"account": entry.title},
        entry_type=DeviceEntryType.SERVICE,
    )


def device_unique_id(entry: ConfigEntry, serial: str, key: str) -> str:
    """A device entity's unique id, scoped to the account: one camera that comes through two
    accounts (the owner's and a shared one) is two entities, one per config entry."""
    return f"{entry.data[CONF_QID]}_{serial}_{key}"


class BotslabEntity(CoordinatorEntity[DeviceCoordinator]):
    """An entity of one BOTSLAB device. It follows the device coordinator (its availability)
    and hears the firmware or settings coordinator only when its description reads them."""

    _attr_has_entity_name = True
    entity_description: BotslabEntityDescription

    def __init__(
        self, coordinator: DeviceCoordinator, serial: str, description: BotslabEntityDescription
    ) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        self._serial = serial
        self._attr_unique_id = device_unique_id(coordinator.config_entry, serial, description.key)
        state = self.runtime.state(serial)
        self._attr_device_info = (
            device_info(state) if state is not None else DeviceInfo(identifiers={(DOMAIN, serial)})
        )

    @property
    def runtime(self) -> BotslabData:
        data: BotslabData = self.coordinator.config_entry.runtime_data
        return data

    @property
    def state_data(self) -> DeviceState | None:
        return self.runtime.state(self._serial)

    @cloud_command
    async def async_write_properties(self, items: dict[str, Any]) -> None:
        """Write properties of the device (switches, selects), and show them at once."""
        device = self.listed_device()
        await self.coordinator.client.set_properties(device, items)
        self.coordinator.apply_properties(device.serial, items)
        await self.coordinator.async_request_refresh()

    def listed_device(self) -> Device:
        """The device, for a command; a translated error when the cloud no longer lists it."""
        state = self.state_data
        if state is None:
            raise translated("device_gone")
        return state.device

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        description = self.entity_description
        others: list[DataUpdateCoordinator[Any]] = []
        if description.reads_firmware:
            others.append(self.runtime.firmware_coordinator)
        if description.reads_settings or description.needs_events:
            others.append(self.runtime.settings_coordinator)
        for other in others:
            self.async_on_remove(other.async_add_listener(self._handle_coordinator_update))

    @property
    def available(self) -> bool:
        state = self.state_data
        if not super().available or state is None:
            return False
        if self.entity_description.needs_events and not state.event_upload:
            return False
        return self.entity_description.available_offline or state.device.online

    @callback
    def listen(self, template: str, target: Callable[..., None]) -> None:
        """Hear this device's signals (events, snapshots) for as long as the entity exists."""
        signal = template.format(self.coordinator.config_entry.entry_id, self._serial)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, target))


def exists(description: BotslabEntityDescription, state: DeviceState) -> bool:
    """Whether a device gets this entity: it has the data, and may write if the entity writes."""
    if description.writes and not state.device.can_control:
        return False
    return description.exists_fn(state)


def entities_for(
    cls: Callable[[DeviceCoordinator, str, Any], Entity],
    descriptions: Iterable[BotslabEntityDescription],
) -> Callable[[DeviceCoordinator, DeviceState], list[Entity]]:
    """The usual platform factory: one entity per description the device has."""
    kept = tuple(descriptions)

    def factory(coordinator: DeviceCoordinator, state: DeviceState) -> list[Entity]:
        return [cls(coordinator, state.device.serial, d) for d in kept if exists(d, state)]

    return factory


def has_prop(identifier: str) -> Callable[[DeviceState], bool]:
    return lambda state: state.properties is not None and state.properties.has(identifier)


@callback
def async_setup_device_entities(
    entry: BotslabConfigEntry,
    async_add_entities: AddEntitiesCallback,
    factory: Callable[[DeviceCoordinator, DeviceState], Iterable[Entity]],
) -> None:
    """Add entities for every device now, and for devices and data that appear later (firmware
    and settings come on their own rhythm; a property-gated entity comes with its property).
    A device that left the registry (stale, or removed by hand) and comes back gets its
    entities again."""
    data = entry.runtime_data
    coordinator = data.device_coordinator
    known: dict[str, set[str | None]] = {}  # serial -> unique ids added

    @callback
    def add_new() -> None:
        states = data.states()
        for serial in [s for s in known if s not in states]:
            if device_for_serial(coordinator.hass, entry.entry_id, serial) is None:
                del known[serial]  # its device and entities are gone; it may come back
        new: list[Entity] = []
        for serial, state in states.items():
            seen = known.setdefault(serial, set())
            for entity in factory(coordinator, state):
                if entity.unique_id not in seen:
                    seen.add(entity.unique_id)
                    new.append(entity)
        if new:
            async_add_entities(new)

    add_new()
    for source in (coordinator, data.firmware_coordinator, data.settings_coordinator):
        entry.async_on_unload(source.async_add_listener(add_new))
