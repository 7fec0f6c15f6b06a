"""Events, in three rooms:

- `link.py`: the push connection's lifecycle, and fallback polling while it is down;
- `delivery.py`: the message cursor, exactly-once delivery in order, the bus event and the
  per-device signals that event entities and sensors hear;
- `snapshots.py`: the newest event snapshot of each device, downloaded after delivery, with
  the small API that the camera, image entity and views use.

The signal names and what a delivered event carries are here, for the platforms."""

from __future__ import annotations

from dataclasses import dataclass

from ..api import Event

# per entry and device: only that device's entities hear its events
SIGNAL_EVENT = "botslab_event_{}_{}"
# per entry and device, when a fetch ends (or every 0.1 s in a long stream): the device's
# newest event changed
SIGNAL_NEWEST = "botslab_newest_{}_{}"
SIGNAL_IMAGE = "botslab_image_{}_{}"
SIGNAL_CONNECTION = "botslab_connection_{}"

CONNECTION_PUSH = "push"
CONNECTION_POLLING = "polling"
CONNECTION_OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class DeliveredEvent:
    """A message delivered once: the event, whether it came late, its HA device."""

    event: Event
    late: bool
    device_id: str | None
    device_title: str
