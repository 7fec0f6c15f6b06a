"""Diagnostics: the entry, devices and their state; every secret and personal value redacted."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_USERNAME
from homeassistant.core import HomeAssistant

from .api import redact
from .const import CONF_EMULATOR_URL, CONF_IDENTITY, CONF_Q, CONF_QID, CONF_T
from .data import BotslabConfigEntry

TO_REDACT = {
    CONF_Q,
    CONF_T,
    CONF_QID,
    CONF_IDENTITY,
    CONF_USERNAME,
    CONF_EMULATOR_URL,
    "title",
    "unique_id",
    "sid",
    "push_alias",
    "m2",
    "mid",
    "androidid",
    "product_logo",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BotslabConfigEntry
) -> dict[str, Any]:
    data = entry.runtime_data
    coordinator = data.coordinator
    devices = []
    for state in data.states().values():
        feed = data.live_feeds.get(state.device.serial)
        session = feed.session if feed is not None else None
        devices.append(
            {
                "device": asdict(state.device),
                "properties": state.properties.raw if state.properties else None,
                "firmware": asdict(state.firmware) if state.firmware else None,
                "live": None
                if feed is None
                else {
                    "streaming": feed.streaming,
                    "viewers": feed.viewers,
                    "sessions": feed.sessions,
                    "last_error": feed.last_error.reason if feed.last_error else None,
                    "stats": asdict(session.stats) if session is not None else None,
                },
            }
        )
    result = {
        "entry": async_redact_data(entry.as_dict(), TO_REDACT),
        "region": data.client.endpoints.region,
        "session": "active" if data.client.session else "none",
        "last_update_success": coordinator.last_update_success,
        "firmware_update_success": data.firmware_coordinator.last_update_success,
        "settings_update_success": data.settings_coordinator.last_update_success,
        "in_session_conflict": data.guard.in_conflict,
        "devices": devices,
        "extra": {
            k: v
            for k, v in data.extra.items()
            if isinstance(v, (str, int, float, bool, dict, list))
        },
    }
    redacted: dict[str, Any] = redact(async_redact_data(result, TO_REDACT))
    return redacted
