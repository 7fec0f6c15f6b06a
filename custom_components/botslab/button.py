"""Buttons: reboot, wake up (battery doorbells)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from homeassistant.components.button import ButtonDeviceClass, ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import BotslabClient, Device, DeviceKind, ServiceResult
from .const import DOMAIN
from .data import BotslabConfigEntry, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    entities_for,
)
from .errors import cloud_command

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class BotslabButtonDescription(BotslabEntityDescription, ButtonEntityDescription):
    press_fn: Callable[[BotslabClient, Device], Awaitable[ServiceResult]]


def _battery_powered(state: DeviceState) -> bool:
    return bool(state.properties and state.properties.on_battery)


DESCRIPTIONS: tuple[BotslabButtonDescription, ...] = (
    BotslabButtonDescription(
        key="reboot",
        device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda client, device: client.reboot(device),
        writes=True,
    ),
    BotslabButtonDescription(
        key="wake_up",
        translation_key="wake_up",
        entity_category=EntityCategory.CONFIG,
        press_fn=lambda client, device: client.wake_up(device),
        writes=True,
        exists_fn=lambda s: s.device.kind is DeviceKind.DOORBELL or _battery_powered(s),
    ),
)


class BotslabButton(BotslabEntity, ButtonEntity):
    entity_description: BotslabButtonDescription

    @cloud_command
    async def async_press(self) -> None:
        result = await self.entity_description.press_fn(
            self.coordinator.client, self.listed_device()
        )
        await self.coordinator.async_request_refresh()
        if not result.ok:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="service_failed",
                translation_placeholders={"code": str(result.error_no)},
            )


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(
        entry, async_add_entities, entities_for(BotslabButton, DESCRIPTIONS)
    )
