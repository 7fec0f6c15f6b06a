"""Event entities: a doorbell (ring) on doorbells, and motion-type events on every device.

Only fresh events fire them (younger than the "oldest event" option); every event still
reaches the bus, the logbook and the last-event sensors.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from homeassistant.components.event import EventDeviceClass, EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import DeviceKind, EventKind
from .coordinator import DeviceCoordinator
from .data import BotslabConfigEntry
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    entities_for,
)
from .events import SIGNAL_EVENT, DeliveredEvent

PARALLEL_UPDATES = 0
# every kind but a ring is something the camera saw or heard
MOTION_TYPES = [kind.value for kind in EventKind if kind is not EventKind.RING]
# An event entity's state is the time it fired, to the millisecond. Home Assistant 2026.8 and
# newer keep those times strictly increasing, so that two events of one device in one
# millisecond are two state changes; before, they are one state with new attributes. The
# integration leaves that to Home Assistant (it would take a private attribute of EventEntity).


@dataclass(frozen=True, kw_only=True)
class BotslabEventDescription(BotslabEntityDescription, EventEntityDescription):
    """An event entity of one family of event kinds."""


DESCRIPTIONS: tuple[BotslabEventDescription, ...] = (
    BotslabEventDescription(
        key="doorbell",
        translation_key="doorbell",
        device_class=EventDeviceClass.DOORBELL,
        needs_events=True,
        event_types=[EventKind.RING.value],
        exists_fn=lambda s: s.device.kind is DeviceKind.DOORBELL,
    ),
    BotslabEventDescription(
        key="motion",
        translation_key="motion",
        device_class=EventDeviceClass.MOTION,
        needs_events=True,
        event_types=MOTION_TYPES,
    ),
)


class BotslabEvent(BotslabEntity, EventEntity):
    entity_description: BotslabEventDescription

    def __init__(
        self, coordinator: DeviceCoordinator, serial: str, description: BotslabEventDescription
    ) -> None:
        super().__init__(coordinator, serial, description)
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.listen(SIGNAL_EVENT, self._on_event)

    @callback
    def _on_event(self, delivered: DeliveredEvent) -> None:
        event = delivered.event
        if event.serial != self._serial or delivered.late:
            return
        kind = event.kind.value
        if kind not in (self.entity_description.event_types or []) or event.id in self._seen:
            return
        self._seen[event.id] = None
        while len(self._seen) > 100:
            self._seen.popitem(last=False)
        self._trigger_event(
            kind, {"message_id": event.id, "title": event.title, "raw_type": event.event_type}
        )
        self.async_write_ha_state()


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(entry, async_add_entities, entities_for(BotslabEvent, DESCRIPTIONS))
