"""Image entity: the latest event snapshot of each device, downloaded when the event arrived
(signed URLs expire) and kept in memory, one per device."""

from __future__ import annotations

from collections.abc import Iterable

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import DeviceKind
from .coordinator import DeviceCoordinator
from .data import BotslabConfigEntry, DeviceState
from .entity import BotslabEntity, BotslabEntityDescription, async_setup_device_entities
from .events import SIGNAL_IMAGE

PARALLEL_UPDATES = 0
DESCRIPTION = BotslabEntityDescription(
    key="last_event_image", translation_key="last_event_image", available_offline=True
)


class BotslabEventImage(BotslabEntity, ImageEntity):
    _attr_content_type = "image/jpeg"

    def __init__(self, coordinator: DeviceCoordinator, serial: str) -> None:
        BotslabEntity.__init__(self, coordinator, serial, DESCRIPTION)
        ImageEntity.__init__(self, coordinator.hass)
        self._event_id: str | None = None

    @property
    def extra_state_attributes(self) -> dict[str, str | None]:
        return {"message_id": self._event_id}

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.listen(SIGNAL_IMAGE, self._on_image)
        self._on_image(self._serial)

    @callback
    def _on_image(self, serial: str) -> None:
        found = self.runtime.snapshots.get(serial)
        if serial != self._serial or found is None:
            return
        event, _image = found
        if event.id == self._event_id:
            return
        self._event_id = event.id
        self._attr_image_last_updated = event.time
        self.async_write_ha_state()

    async def async_image(self) -> bytes | None:
        found = self.runtime.snapshots.get(self._serial)
        return found[1] if found else None


def _entities(coordinator: DeviceCoordinator, state: DeviceState) -> Iterable[Entity]:
    if state.device.kind is DeviceKind.OTHER:
        return []
    return [BotslabEventImage(coordinator, state.device.serial)]


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(entry, async_add_entities, _entities)
