"""Firmware update entity: check, install, progress."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from homeassistant.components.update import (
    UpdateDeviceClass,
    UpdateEntity,
    UpdateEntityDescription,
    UpdateEntityFeature,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import BotslabError, UpgradeState
from .coordinator import DeviceCoordinator
from .data import BotslabConfigEntry
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    entities_for,
)
from .errors import cloud_command

PARALLEL_UPDATES = 1
PROGRESS_POLL_SECONDS = 3.0


@dataclass(frozen=True, kw_only=True)
class BotslabUpdateDescription(BotslabEntityDescription, UpdateEntityDescription):
    """The firmware update entity's description."""


DESCRIPTION = BotslabUpdateDescription(
    key="firmware",
    translation_key="firmware",
    entity_category=EntityCategory.CONFIG,
    exists_fn=lambda s: s.device.owner and s.firmware is not None,
    reads_firmware=True,
)


class BotslabUpdate(BotslabEntity, UpdateEntity):
    entity_description: BotslabUpdateDescription
    _attr_device_class = UpdateDeviceClass.FIRMWARE
    _attr_supported_features = UpdateEntityFeature.INSTALL | UpdateEntityFeature.PROGRESS

    def __init__(
        self, coordinator: DeviceCoordinator, serial: str, description: BotslabUpdateDescription
    ) -> None:
        super().__init__(coordinator, serial, description)
        self._watch: asyncio.Task[None] | None = None
        self._percent: int | None = None

    @property
    def installed_version(self) -> str | None:
        state = self.state_data
        if state is None:
            return None
        if state.properties and state.properties.firmware_version:
            return state.properties.firmware_version
        return state.firmware.current_version if state.firmware else None

    @property
    def latest_version(self) -> str | None:
        state = self.state_data
        if state is None or state.firmware is None:
            return None
        if not state.firmware.upgrade_available and not self._watch:
            return self.installed_version
        return state.firmware.latest_version or self.installed_version

    @property
    def release_summary(self) -> str | None:
        state = self.state_data
        return (
            state.firmware.description[:255]
            if state and state.firmware and state.firmware.description
            else None
        )

    @property
    def in_progress(self) -> bool:
        return self._watch is not None

    @property
    def update_percentage(self) -> int | None:
        return self._percent if self._watch is not None else None

    @cloud_command
    async def async_install(self, version: str | None, backup: bool, **kwargs: Any) -> None:
        device = self.listed_device()
        await self.coordinator.client.upgrade_firmware(device)
        self._percent = 0
        self._watch = self.coordinator.config_entry.async_create_background_task(
            self.hass, self._follow(), f"botslab firmware {self._serial}"
        )
        self.async_write_ha_state()

    async def _follow(self) -> None:
        state = self.state_data
        if state is None:
            return
        try:
            while True:
                await asyncio.sleep(PROGRESS_POLL_SECONDS)
                with contextlib.suppress(BotslabError):
                    progress = await self.coordinator.client.firmware_progress(state.device)
                    self._percent = progress.percent
                    self.async_write_ha_state()
                    if not progress.in_progress:
                        if progress.state is not UpgradeState.DONE:
                            self.coordinator.logger.warning(
                                "Firmware update of %s ended: %s",
                                state.device.title,
                                progress.state.value,
                            )
                        break
        finally:
            self._watch = None
            self._percent = None
            self.coordinator.async_update_listeners()
        # the new version: the properties now, the firmware check at once
        await self.coordinator.async_request_refresh()
        await self.runtime.firmware_coordinator.async_check([self._serial])

    async def async_will_remove_from_hass(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        await super().async_will_remove_from_hass()


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(
        entry, async_add_entities, entities_for(BotslabUpdate, (DESCRIPTION,))
    )
