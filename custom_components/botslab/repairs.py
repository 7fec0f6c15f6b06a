"""Repairs: the one-session rule (a session conflict with the phone app), a withdrawn
`event_upload` consent that stops a device's events, and a cloud plan that ends soon.

`async_track_issues` keeps the issues in step with the coordinators and the session guard;
the fix flows act through the loaded entry's runtime data."""

from __future__ import annotations

from typing import Any

from homeassistant.components.repairs import ConfirmRepairFlow, RepairsFlow
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir

from .api import BotslabError, ConsentScope
from .compat import RepairsFlowResult
from .const import (
    DOMAIN,
    ISSUE_EVENT_UPLOAD,
    ISSUE_LIVE,
    ISSUE_PLAN_ENDING,
    ISSUE_SESSION_CONFLICT,
    device_issue_id,
)
from .data import BotslabConfigEntry, BotslabData
from .devices import serials_of

PLAN_WARNING_DAYS = 7


@callback
def async_track_issues(hass: HomeAssistant, entry: BotslabConfigEntry) -> CALLBACK_TYPE:
    """Create and delete the entry's repair issues as its data changes; returns the undo."""
    data = entry.runtime_data
    entry_id = entry.entry_id

    @callback
    def conflict() -> None:
        _keep_issue(
            hass,
            f"{ISSUE_SESSION_CONFLICT}_{entry_id}",
            ISSUE_SESSION_CONFLICT,
            active=data.guard.in_conflict,
            fixable=True,
            placeholders={"minutes": str(data.guard.minutes)},
            data={"entry_id": entry_id},
        )

    @callback
    def devices() -> None:
        if data.settings_coordinator.current is None:
            return
        for serial, state in data.states().items():
            # only the owner's account lists a device's consents (a shared account cannot tell
            # why a device stays silent), and the owner may grant it again here
            _keep_issue(
                hass,
                device_issue_id(ISSUE_EVENT_UPLOAD, entry_id, serial),
                ISSUE_EVENT_UPLOAD,
                active=state.device.owner and not state.event_upload,
                fixable=True,
                placeholders={"device": state.device.title},
                data={"entry_id": entry_id, "serial": serial},
            )
            plan = state.plan
            ending = (
                plan is not None and plan.active and plan.seconds_left <= PLAN_WARNING_DAYS * 86400
            )
            _keep_issue(
                hass,
                device_issue_id(ISSUE_PLAN_ENDING, entry_id, serial),
                ISSUE_PLAN_ENDING,
                active=ending,
                fixable=False,
                placeholders={
                    "device": state.device.title,
                    "plan": plan.name if plan else "",
                    "days": str(max(1, -(-plan.seconds_left // 86400))) if plan else "",
                },
            )

    _forget_unscoped_issues(hass, entry)
    devices()
    undo = [
        data.guard.add_listener(conflict),
        data.device_coordinator.async_add_listener(devices),
        data.settings_coordinator.async_add_listener(devices),
    ]

    def unsubscribe() -> None:
        for item in undo:
            item()

    return unsubscribe


def _forget_unscoped_issues(hass: HomeAssistant, entry: BotslabConfigEntry) -> None:
    """Issues of an earlier version were named by serial alone (one account could delete
    another's): they go, and come back scoped when they still hold."""
    serials = {
        serial
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        for serial in serials_of(device)
    } | set(entry.runtime_data.device_coordinator.data or {})
    for serial in serials:
        for kind in (ISSUE_EVENT_UPLOAD, ISSUE_PLAN_ENDING, ISSUE_LIVE):
            ir.async_delete_issue(hass, DOMAIN, f"{kind}_{serial}")


def _keep_issue(
    hass: HomeAssistant,
    issue_id: str,
    translation_key: str,
    *,
    active: bool,
    fixable: bool,
    placeholders: dict[str, str],
    data: dict[str, str | int | float | None] | None = None,
) -> None:
    """A warning issue while `active`, none otherwise."""
    if not active:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=fixable,
        severity=ir.IssueSeverity.WARNING,
        translation_key=translation_key,
        translation_placeholders=placeholders,
        data=data,
    )


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
        await data.guard.async_take_back(data.client)
        await data.device_coordinator.async_refresh()
        return True


class EventUploadRepairFlow(_ConfirmAndFix):
    """Grants the device's `event_upload` consent again."""

    def __init__(self, entry_id: str, serial: str) -> None:
        super().__init__(entry_id)
        self._serial = serial

    async def async_fix(self, data: BotslabData) -> bool:
        state = (data.device_coordinator.data or {}).get(self._serial)
        if state is None:
            return False
        await data.client.set_consent(ConsentScope.EVENT_UPLOAD, True, state.device)
        await data.settings_coordinator.async_refresh()
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
