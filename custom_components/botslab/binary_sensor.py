"""Binary sensors: connectivity, low power mode, SD card."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import BotslabConfigEntry, BotslabCoordinator, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    exists,
    has_prop,
)

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


class BotslabBinarySensor(BotslabEntity, BinarySensorEntity):
    entity_description: BotslabBinarySensorDescription

    @property
    def is_on(self) -> bool | None:
        state = self.state_data
        return None if state is None else self.entity_description.value_fn(state)


def _entities(coordinator: BotslabCoordinator, state: DeviceState) -> Iterable[Entity]:
    return [
        BotslabBinarySensor(coordinator, state.device.device_name, d)
        for d in DESCRIPTIONS
        if exists(d, state)
    ]


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(entry, async_add_entities, _entities)
