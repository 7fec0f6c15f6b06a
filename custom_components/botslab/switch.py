"""Switches: privacy mode, motion detection, status light."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchDeviceClass, SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import BotslabConfigEntry, BotslabCoordinator, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_set_properties,
    async_setup_device_entities,
    exists,
    has_prop,
)

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class BotslabSwitchDescription(BotslabEntityDescription, SwitchEntityDescription):
    identifier: str


DESCRIPTIONS: tuple[BotslabSwitchDescription, ...] = (
    BotslabSwitchDescription(
        key="privacy_mode",
        translation_key="privacy_mode",
        device_class=SwitchDeviceClass.SWITCH,
        identifier="PrivacyMode",
        writes=True,
        exists_fn=has_prop("PrivacyMode"),
    ),
    BotslabSwitchDescription(
        key="motion_detection",
        translation_key="motion_detection",
        device_class=SwitchDeviceClass.SWITCH,
        identifier="MotionDetectSwitch",
        writes=True,
        exists_fn=has_prop("MotionDetectSwitch"),
    ),
    BotslabSwitchDescription(
        key="status_light",
        translation_key="status_light",
        device_class=SwitchDeviceClass.SWITCH,
        entity_category=EntityCategory.CONFIG,
        identifier="StatusLight",
        writes=True,
        exists_fn=has_prop("StatusLight"),
    ),
)


class BotslabSwitch(BotslabEntity, SwitchEntity):
    entity_description: BotslabSwitchDescription

    @property
    def is_on(self) -> bool | None:
        state = self.state_data
        if state is None or state.properties is None:
            return None
        value = state.properties.get(self.entity_description.identifier)
        return None if value is None else bool(int(value))

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._set(1)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._set(0)

    async def _set(self, value: int) -> None:
        await async_set_properties(self, {self.entity_description.identifier: value})


def _entities(coordinator: BotslabCoordinator, state: DeviceState) -> Iterable[Entity]:
    return [
        BotslabSwitch(coordinator, state.device.device_name, d)
        for d in DESCRIPTIONS
        if exists(d, state)
    ]


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(entry, async_add_entities, _entities)
