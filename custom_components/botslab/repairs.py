"""Repairs: the one-session rule (a session conflict with the phone app)."""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant

from .api import BotslabError
from .const import ISSUE_EVENT_UPLOAD, ISSUE_SESSION_CONFLICT


class SessionConflictRepairFlow(RepairsFlow):
    """Explains the one-session rule; confirming takes the session back now."""

    def __init__(self, entry_id: str) -> None:
        self._entry_id = entry_id

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        if user_input is None:
            return self.async_show_form(step_id="confirm")
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is not None and getattr(entry, "runtime_data", None) is not None:
            try:
                await entry.runtime_data.coordinator.async_retry_after_conflict()
            except BotslabError:
                return self.async_abort(reason="cannot_connect")
        return self.async_create_entry(data={})


class EventUploadRepairFlow(RepairsFlow):
    """Grants the device's `event_upload` consent again."""

    def __init__(self, entry_id: str, serial: str) -> None:
        self._entry_id = entry_id
        self._serial = serial

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        if user_input is None:
            return self.async_show_form(step_id="confirm")
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or getattr(entry, "runtime_data", None) is None:
            return self.async_abort(reason="not_loaded")
        coordinator = entry.runtime_data.coordinator
        state = (coordinator.data or {}).get(self._serial)
        if state is None:
            return self.async_abort(reason="not_loaded")
        try:
            await entry.runtime_data.client.set_consent("event_upload", True, state.device)
        except BotslabError:
            return self.async_abort(reason="cannot_connect")
        await coordinator.async_refresh()
        return self.async_create_entry(data={})


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    if issue_id.startswith(ISSUE_SESSION_CONFLICT) and data and "entry_id" in data:
        return SessionConflictRepairFlow(str(data["entry_id"]))
    if issue_id.startswith(ISSUE_EVENT_UPLOAD) and data and "serial" in data:
        return EventUploadRepairFlow(str(data["entry_id"]), str(data["serial"]))
    return ConfirmRepairFlow()
