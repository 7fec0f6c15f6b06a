"""Binary sensors: connectivity, low power mode, SD card; motion, person and ring after events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
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
    entities_for,
    has_prop,
)
from .events import SIGNAL_EVENT, DeliveredEvent

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class BotslabBinarySensorDescription(BotslabEntityDescription, BinarySensorEntityDescription):
    """A binary sensor read from the device's state (`value_fn`), or, with `kinds`, one that is
    on for a while (the motion option's seconds) after a fresh event of one of those kinds."""

    value_fn: Callable[[DeviceState], bool | None] = lambda _state: None
    kinds: frozenset[EventKind] = frozenset()


def _has_events(state: DeviceState) -> bool:
    return state.device.kind is not DeviceKind.OTHER


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
        entity_registry_enabled_default=False,
        exists_fn=has_prop("SdState"),
        value_fn=lambda s: s.properties.sd_card_present if s.properties else None,
    ),
    BotslabBinarySensorDescription(
        key="motion",
        needs_events=True,
        device_class=BinarySensorDeviceClass.MOTION,
        kinds=frozenset({EventKind.MOTION, EventKind.PERSON, EventKind.PET, EventKind.VEHICLE}),
        exists_fn=_has_events,
    ),
    BotslabBinarySensorDescription(
        key="person",
        needs_events=True,
        translation_key="person",  # no device class: occupancy would show a house
        kinds=frozenset({EventKind.PERSON}),
        exists_fn=_has_events,
    ),
    BotslabBinarySensorDescription(
        key="ring",
        needs_events=True,
        translation_key="ring",
        # the doorbell's event entity says each ring (as Home Assistant's own doorbells do):
        # this one only doubles the logbook's lines, and waits to be enabled by who wants it
        entity_registry_enabled_default=False,
        kinds=frozenset({EventKind.RING}),
        exists_fn=lambda s: s.device.kind is DeviceKind.DOORBELL,
    ),
)


class BotslabBinarySensor(BotslabEntity, BinarySensorEntity):
    entity_description: BotslabBinarySensorDescription

    def __init__(
        self,
        coordinator: DeviceCoordinator,
        serial: str,
        description: BotslabBinarySensorDescription,
    ) -> None:
        super().__init__(coordinator, serial, description)
        self._event_on = False
        self._off: CALLBACK_TYPE | None = None

    @property
    def is_on(self) -> bool | None:
        if self.entity_description.kinds:
            return self._event_on
        state = self.state_data
        return None if state is None else self.entity_description.value_fn(state)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        if self.entity_description.kinds:
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
        if not self._event_on:  # already on: only the timer moves
            self._event_on = True
            self.async_write_ha_state()

    @callback
    def _turn_off(self, _now: object) -> None:
        self._off = None
        self._event_on = False
        self.async_write_ha_state()


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(
        entry, async_add_entities, entities_for(BotslabBinarySensor, DESCRIPTIONS)
    )
