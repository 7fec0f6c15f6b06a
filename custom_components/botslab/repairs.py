"""Repairs: the one-session rule (a session conflict with the phone app), and a withdrawn
`event_upload` consent that stops a device's events."""

from __future__ import annotations

from typing import Any

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import HomeAssistant

from .api import BotslabError
from .compat import RepairsFlowResult
from .const import ISSUE_EVENT_UPLOAD, ISSUE_SESSION_CONFLICT
from .coordinator import BotslabData


class _ConfirmAndFix(RepairsFlow):
    """Explain, and on confirmation fix through the loaded entry's runtime data."""

    def __init__(self, entry_id: str) -> None:
        self._entry_id = entry_id

    async def async_step_init(self, user_input: dict[str, str] | None = None) -> RepairsFlowResult:
        return await self.async_step_confirm()

    async def async_step_confirm(
        self, user_input: dict[str, str] | None = None
    ) -> RepairsFlowResult:
        if user_input is None:
            return self.async_show_form(step_id="confirm")
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        data: BotslabData | None = getattr(entry, "runtime_data", None) if entry else None
        if data is None:
            return self.async_abort(reason="not_loaded")
        try:
            if not await self.async_fix(data):
                return self.async_abort(reason="not_loaded")
        except BotslabError:
            return self.async_abort(reason="cannot_connect")
        return self.async_create_entry(data={})

    async def async_fix(self, data: BotslabData) -> bool:
        raise NotImplementedError


class SessionConflictRepairFlow(_ConfirmAndFix):
    """Explains the one-session rule; confirming takes the session back now."""

    async def async_fix(self, data: BotslabData) -> bool:
        await data.coordinator.async_retry_after_conflict()
        return True


class EventUploadRepairFlow(_ConfirmAndFix):
    """Grants the device's `event_upload` consent again."""

    def __init__(self, entry_id: str, serial: str) -> None:
        super().__init__(entry_id)
        self._serial = serial

    async def async_fix(self, data: BotslabData) -> bool:
        state = (data.coordinator.data or {}).get(self._serial)
        if state is None:
            return False
        await data.client.set_consent("event_upload", True, state.device)
        await data.coordinator.async_refresh()
        return True


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    if data and "entry_id" in data:
        if issue_id.startswith(ISSUE_SESSION_CONFLICT):
            return SessionConflictRepairFlow(str(data["entry_id"]))
        if issue_id.startswith(ISSUE_EVENT_UPLOAD) and "serial" in data:
            return EventUploadRepairFlow(str(data["entry_id"]), str(data["serial"]))
    return ConfirmRepairFlow()
