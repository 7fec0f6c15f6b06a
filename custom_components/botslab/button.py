"""Buttons: reboot, wake up (battery doorbells)."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.components.button import ButtonDeviceClass, ButtonEntity, ButtonEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import DeviceKind
from .const import DOMAIN
from .data import BotslabConfigEntry, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_run_command,
    async_setup_device_entities,
    entities_for,
)

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class BotslabButtonDescription(BotslabEntityDescription, ButtonEntityDescription):
    service: str


def _battery_powered(state: DeviceState) -> bool:
    return bool(state.properties and state.properties.on_battery)


DESCRIPTIONS: tuple[BotslabButtonDescription, ...] = (
    BotslabButtonDescription(
        key="reboot",
        device_class=ButtonDeviceClass.RESTART,
        entity_category=EntityCategory.CONFIG,
        service="Reboot",
        writes=True,
    ),
    BotslabButtonDescription(
        key="wake_up",
        translation_key="wake_up",
        entity_category=EntityCategory.CONFIG,
        service="WakeUp",
        writes=True,
        exists_fn=lambda s: s.device.kind is DeviceKind.DOORBELL or _battery_powered(s),
    ),
)


class BotslabButton(BotslabEntity, ButtonEntity):
    entity_description: BotslabButtonDescription

    async def async_press(self) -> None:
        device = self.listed_device()
        service = self.entity_description.service
        client = self.coordinator.client
        result = await async_run_command(self, lambda: client.invoke_service(device, service))
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
