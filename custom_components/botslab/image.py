"""Image entity: the latest event snapshot of each device, downloaded when the event arrived
(signed URLs expire) and kept in memory, one per device."""

from __future__ import annotations

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import DeviceKind
from .coordinator import DeviceCoordinator
from .data import BotslabConfigEntry
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    entities_for,
)
from .events import SIGNAL_IMAGE

PARALLEL_UPDATES = 0
DESCRIPTION = BotslabEntityDescription(
    key="last_event_image",
    translation_key="last_event_image",
    available_offline=True,
    exists_fn=lambda s: s.device.kind is not DeviceKind.OTHER,
)


class BotslabEventImage(BotslabEntity, ImageEntity):
    _attr_content_type = "image/jpeg"

    def __init__(
        self, coordinator: DeviceCoordinator, serial: str, description: BotslabEntityDescription
    ) -> None:
        BotslabEntity.__init__(self, coordinator, serial, description)
        ImageEntity.__init__(self, coordinator.hass)
        self._event_id: str | None = None

    @property
    def extra_state_attributes(self) -> dict[str, str | None]:
        return {"message_id": self._event_id}

    @property
    def entity_picture(self) -> str | None:
        """No picture before there is a snapshot: the frontend shows the icon, not a broken
        image."""
        return super().entity_picture if self._event_id is not None else None

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


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(
        entry, async_add_entities, entities_for(BotslabEventImage, (DESCRIPTION,))
    )
