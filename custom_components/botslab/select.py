"""Selects: night vision mode, motion sensitivity."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .data import BotslabConfigEntry
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    entities_for,
    has_prop,
)

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class BotslabSelectDescription(BotslabEntityDescription, SelectEntityDescription):
    identifier: str
    values: Mapping[str, int]


DESCRIPTIONS: tuple[BotslabSelectDescription, ...] = (
    BotslabSelectDescription(
        key="night_vision",
        translation_key="night_vision",
        entity_category=EntityCategory.CONFIG,
        identifier="NightVisionMode",
        values={"auto": 0, "on": 1, "off": 2},
        options=["auto", "on", "off"],
        writes=True,
        exists_fn=has_prop("NightVisionMode"),
    ),
    BotslabSelectDescription(
        key="motion_sensitivity",
        translation_key="motion_sensitivity",
        entity_category=EntityCategory.CONFIG,
        identifier="MotionSensitivity",
        values={"low": 1, "medium": 2, "high": 3},
        options=["low", "medium", "high"],
        writes=True,
        exists_fn=has_prop("MotionSensitivity"),
    ),
)


class BotslabSelect(BotslabEntity, SelectEntity):
    entity_description: BotslabSelectDescription

    @property
    def current_option(self) -> str | None:
        state = self.state_data
        if state is None or state.properties is None:
            return None
        raw = state.properties.get(self.entity_description.identifier)
        for option, value in self.entity_description.values.items():
            if raw is not None and str(raw) == str(value):
                return option
        return None

    async def async_select_option(self, option: str) -> None:
        value = self.entity_description.values[option]
        await self.async_write_properties({self.entity_description.identifier: value})


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(
        entry, async_add_entities, entities_for(BotslabSelect, DESCRIPTIONS)
    )
