"""Describe BOTSLAB events in the logbook: "Front Door: someone rang"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback

from .const import DOMAIN, EVENT_BOTSLAB

# the keys of a logbook description (homeassistant.components.logbook.LOGBOOK_ENTRY_*)
LOGBOOK_ENTRY_NAME = "name"
LOGBOOK_ENTRY_MESSAGE = "message"

MESSAGES = {
    "ring": "someone rang",
    "motion": "detected motion",
    "person": "detected a person",
    "pet": "detected a pet",
    "package": "detected a package",
    "vehicle": "detected a vehicle",
    "sound": "detected a sound",
}


def describe(data: dict[str, Any]) -> dict[str, str]:
    kind = str(data.get("kind", "other"))
    message = MESSAGES.get(kind) or f"reported {data.get('event_type') or 'an event'}"
    if data.get("late"):
        message += " (delivered late)"
    return {
        LOGBOOK_ENTRY_NAME: str(data.get("device") or "BOTSLAB"),
        LOGBOOK_ENTRY_MESSAGE: message,
    }


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    @callback
    def describe_event(event: Event) -> dict[str, str]:
        return describe(dict(event.data))

    async_describe_event(DOMAIN, EVENT_BOTSLAB, describe_event)
