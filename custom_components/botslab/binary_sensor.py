"""Binary sensors: connectivity, low power mode, SD card; motion, person and ring after events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.event import async_call_later

from .api import DeviceKind, EventKind
from .const import CONF_MOTION_SECONDS, DEFAULT_MOTION_SECONDS
from .coordinator import DeviceCoordinator
from .data import BotslabConfigEntry, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    exists,
    has_prop,
)
from .events import SIGNAL_EVENT, DeliveredEvent

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BotslabBinarySensorDescription(BotslabEntityDescription, BinarySensorEntityDescription):
    value_fn: Callable[[DeviceState], bool | None]


DESCRIPTIONS: tuple[BotslabBinarySensorDescription, ...] = (
    BotslabBinarySensorDescription(
        key="connectivity",
        translation_key="connectivity",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        available_offline=True,
        value_fn=lambda s: s.device.online,
    ),
    BotslabBinarySensorDescription(
        key="low_power_mode",
        translation_key="low_power_mode",
        entity_category=EntityCategory.DIAGNOSTIC,
        exists_fn=has_prop("LowPowerMode"),
        value_fn=lambda s: s.properties.low_power_mode if s.properties else None,
    ),
    BotslabBinarySensorDescription(
        key="sd_card",
        translation_key="sd_card",
        entity_category=EntityCategory.DIAGNOSTIC,
        exists_fn=has_prop("SdState"),
        value_fn=lambda s: s.properties.sd_card_present if s.properties else None,
    ),
)


@dataclass(frozen=True, kw_only=True)
class BotslabEventSensorDescription(BotslabEntityDescription, BinarySensorEntityDescription):
    """On for a while after a fresh event of one of `kinds`."""

    kinds: frozenset[EventKind]


EVENT_DESCRIPTIONS: tuple[BotslabEventSensorDescription, ...] = (
    BotslabEventSensorDescription(
        key="motion",
        needs_events=True,
        device_class=BinarySensorDeviceClass.MOTION,
        kinds=frozenset({EventKind.MOTION, EventKind.PERSON, EventKind.PET, EventKind.VEHICLE}),
    ),
    BotslabEventSensorDescription(
        key="person",
        needs_events=True,
        translation_key="person",
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        kinds=frozenset({EventKind.PERSON}),
    ),
    BotslabEventSensorDescription(
        key="ring",
        needs_events=True,
        translation_key="ring",
        device_class=BinarySensorDeviceClass.OCCUPANCY,
        kinds=frozenset({EventKind.RING}),
        exists_fn=lambda s: s.device.kind is DeviceKind.DOORBELL,
    ),
)


class BotslabEventBinarySensor(BotslabEntity, BinarySensorEntity):
    """Turns on with a fresh event, off after the option's seconds."""

    entity_description: BotslabEventSensorDescription
    _attr_is_on = False

    def __init__(
        self,
        coordinator: DeviceCoordinator,
        serial: str,
        description: BotslabEventSensorDescription,
    ) -> None:
        super().__init__(coordinator, serial, description)
        self._off: CALLBACK_TYPE | None = None

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.listen(SIGNAL_EVENT, self._on_event)
        self.async_on_remove(self._cancel)

    @callback
    def _cancel(self) -> None:
        if self._off is not None:
            self._off()
            self._off = None

    @callback
    def _on_event(self, delivered: DeliveredEvent) -> None:
        event = delivered.event
        if (
            event.serial != self._serial
            or delivered.late
            or event.kind not in self.entity_description.kinds
        ):
            return
        self._cancel()
        seconds = int(
            self.coordinator.config_entry.options.get(CONF_MOTION_SECONDS, DEFAULT_MOTION_SECONDS)
        )
        self._off = async_call_later(self.hass, seconds, self._turn_off)
        if not self._attr_is_on:  # already on: only the timer moves
            self._attr_is_on = True
            self.async_write_ha_state()

    @callback
    def _turn_off(self, _now: object) -> None:
        self._off = None
        self._attr_is_on = False
        self.async_write_ha_state()


class BotslabBinarySensor(BotslabEntity, BinarySensorEntity):
    entity_description: BotslabBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        state = self.state_data
        return None if state is None else self.entity_description.value_fn(state)


def _entities(coordinator: DeviceCoordinator, state: DeviceState) -> Iterable[Entity]:
    serial = state.device.serial
    entities: list[Entity] = [
        BotslabBinarySensor(coordinator, serial, d) for d in DESCRIPTIONS if exists(d, state)
    ]
    if state.device.kind is not DeviceKind.OTHER:
        entities += [
            BotslabEventBinarySensor(coordinator, serial, d)
            for d in EVENT_DESCRIPTIONS
            if exists(d, state)
        ]
    return entities


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(entry, async_add_entities, _entities)
