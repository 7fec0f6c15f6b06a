"""Camera entity: the latest snapshot (live view comes later).

Battery devices show their latest event image, so that opening a dashboard never wakes them;
mains-powered cameras take a fresh snapshot (at most every 30 seconds).
"""

from __future__ import annotations

from collections.abc import Iterable
import logging
import time

from homeassistant.components.camera import Camera
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import BotslabError, DeviceKind, Event
from .coordinator import BotslabConfigEntry, BotslabCoordinator, DeviceState
from .entity import BotslabEntity, BotslabEntityDescription, async_setup_device_entities
from .push import SIGNAL_IMAGE

_LOGGER = logging.getLogger(__name__)
PARALLEL_UPDATES = 0
SNAPSHOT_MIN_SECONDS = 30.0

DESCRIPTION = BotslabEntityDescription(key="camera", translation_key="camera", name=None)


class BotslabCamera(BotslabEntity, Camera):
    _attr_name = None

    def __init__(self, coordinator: BotslabCoordinator, serial: str) -> None:
        BotslabEntity.__init__(self, coordinator, serial, DESCRIPTION)
        Camera.__init__(self)
        self._image: bytes | None = None
        self._image_at = 0.0
        self._image_event: int | None = None
        self.content_type = "image/jpeg"

    def _sleeps(self, state: DeviceState) -> bool:
        props = state.properties
        return bool(props and props.on_battery) or state.device.kind is DeviceKind.DOORBELL

    @property
    def extra_state_attributes(self) -> dict[str, int | None]:
        return {"event_id": self._image_event}

    def set_event_image(self, event: Event, image: bytes) -> None:
        """The push side hands over a freshly downloaded event snapshot."""
        self._image, self._image_event, self._image_at = image, event.id, time.monotonic()

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.listen(SIGNAL_IMAGE, self._on_image)

    @callback
    def _on_image(self, serial: str) -> None:
        stream = self.coordinator.config_entry.runtime_data.events
        if serial == self._serial and stream is not None and serial in stream.images:
            # the image changes, the state does not: frontends fetch the new image on their own
            self.set_event_image(*stream.images[serial])

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        state = self.state_data
        if state is None:
            return self._image
        client = self.coordinator.client
        fresh = time.monotonic() - self._image_at < SNAPSHOT_MIN_SECONDS
        if self._image is not None and fresh:
            return self._image
        try:
            if state.device.online and not self._sleeps(state) and state.device.can_control:
                result = await client.take_snapshot(state.device)
                if result.ok and result.url:
                    self._image = await client.download(result.url)
                    self._image_at = time.monotonic()
                    return self._image
            page = await client.messages(device=state.device, page_size=1)
            if (
                page.events
                and page.events[0].image is not None
                and page.events[0].id != self._image_event
            ):
                event = page.events[0]
                self._image = await client.download_snapshot(event)
                self._image_event = event.id
            self._image_at = time.monotonic()
        except BotslabError as err:
            _LOGGER.debug("no camera image for %s: %s", state.device.title, type(err).__name__)
        return self._image


def _entities(coordinator: BotslabCoordinator, state: DeviceState) -> Iterable[Entity]:
    if state.device.kind is DeviceKind.OTHER:
        return []
    return [BotslabCamera(coordinator, state.device.device_name)]


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(entry, async_add_entities, _entities)
