"""Runtime data and the coordinator that keeps devices and their properties fresh."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .api import (
    ApiError,
    AuthExpired,
    BotslabClient,
    BotslabError,
    CloudPlan,
    Consent,
    Credentials,
    Device,
    DeviceNotifications,
    DoNotDisturb,
    Endpoints,
    FirmwareInfo,
    Identity,
    Properties,
    PropertyValue,
    ProtocolError,
    Session,
    SessionConflict,
    Share,
)
from .api.live.feed import LiveFeed
from .api.live.session import LiveCache
from .const import (
    CONF_EMULATOR_URL,
    CONF_IDENTITY,
    CONF_Q,
    CONF_QID,
    CONF_REGION,
    CONF_T,
    DEVICE_REFRESH_SECONDS,
    DOMAIN,
    FIRMWARE_REFRESH_SECONDS,
    ISSUE_EVENT_UPLOAD,
    ISSUE_PLAN_ENDING,
    ISSUE_SESSION_CONFLICT,
)
from .devices import entry_devices, remove_from_entry, serials_of

if TYPE_CHECKING:
    from .push import BotslabEventStream

_LOGGER = logging.getLogger(__name__)

CONFLICT_BACKOFF = (600.0, 1800.0, 3600.0)
ACCOUNT_PREFIX = "account_"
PLAN_WARNING_DAYS = 7
SLOW_EVERY = 5  # refreshes between reads of notification settings and shares

type BotslabConfigEntry = ConfigEntry[BotslabData]


@dataclass(slots=True)
class DeviceState:
    """What the integration knows of one device."""

    device: Device
    properties: Properties | None = None
    firmware: FirmwareInfo | None = None
    event_upload: bool = True
    notifications: DeviceNotifications | None = None
    shares: list[Share] | None = None
    plan: CloudPlan | None = None


@dataclass(slots=True)
class BotslabData:
    """The entry's runtime data."""

    client: BotslabClient
    coordinator: BotslabCoordinator
    events: BotslabEventStream | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    live_cache: LiveCache = field(default_factory=LiveCache)
    live_feeds: dict[str, LiveFeed] = field(default_factory=dict)  # serial -> camera's feed


async def async_get_endpoints(session: aiohttp.ClientSession, data: Mapping[str, Any]) -> Endpoints:
    """Production endpoints for the entry's region, or the emulator's (development only)."""
    region = str(data[CONF_REGION])
    url = data.get(CONF_EMULATOR_URL)
    if not url:
        return Endpoints.production(region)
    try:
        async with session.get(
            f"{str(url).rstrip('/')}/_emulator/config", timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            resp.raise_for_status()
            config = await resp.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
        from .api import BotslabConnectionError

        raise BotslabConnectionError("the BOTSLAB emulator is not reachable") from err
    return Endpoints.from_emulator_config(config, region)


def credentials_from_entry(data: Mapping[str, Any]) -> Credentials:
    return Credentials(
        q=str(data[CONF_Q]),
        t=str(data[CONF_T]),
        qid=str(data[CONF_QID]),
        region=str(data[CONF_REGION]),
    )


def identity_from_entry(data: Mapping[str, Any]) -> Identity:
    return Identity.from_dict(data[CONF_IDENTITY])


class BotslabCoordinator(DataUpdateCoordinator[dict[str, DeviceState]]):
    """Device list, properties and (every few hours) firmware, by serial."""

    config_entry: BotslabConfigEntry

    def __init__(
        self, hass: HomeAssistant, entry: BotslabConfigEntry, client: BotslabClient
    ) -> None:
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=timedelta(seconds=DEVICE_REFRESH_SECONDS),
        )
        self.client = client
        self._firmware_checked: dict[str, float] = {}
        self._conflict_until = 0.0
        self._conflicts = 0
        self._offline: set[str] = set()
        self.consents: list[Consent] = []
        self.dnd: DoNotDisturb | None = None
        self._refreshes = 0

    # --- session conflict ---------------------------------------------------------------------
    @property
    def in_conflict(self) -> bool:
        return self._conflict_until > time.monotonic()

    def _on_conflict(self) -> None:
        delay = CONFLICT_BACKOFF[min(self._conflicts, len(CONFLICT_BACKOFF) - 1)]
        self._conflicts += 1
        self._conflict_until = time.monotonic() + delay
        _LOGGER.warning(
            "The BOTSLAB account signed in elsewhere (the app allows one session); "
            "waiting %d minutes before taking the session back",
            int(delay // 60),
        )
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            f"{ISSUE_SESSION_CONFLICT}_{self.config_entry.entry_id}",
            is_fixable=True,
            is_persistent=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=ISSUE_SESSION_CONFLICT,
            translation_placeholders={"minutes": str(int(delay // 60))},
            data={"entry_id": self.config_entry.entry_id},
        )

    async def async_retry_after_conflict(self) -> None:
        """The user asked to take the session back now (repair flow)."""
        self._conflict_until = 0.0
        ir.async_delete_issue(
            self.hass, DOMAIN, f"{ISSUE_SESSION_CONFLICT}_{self.config_entry.entry_id}"
        )
        await self.client.login()
        await self.async_refresh()

    # --- updates ------------------------------------------------------------------------------
    async def _async_update_data(self) -> dict[str, DeviceState]:
        if self.in_conflict:
            raise UpdateFailed("waiting after a session conflict")
        try:
            if self._conflict_until:
                self._conflict_until = 0.0
                await self.client.login()
            devices = await self.client.devices()
            states = await self._states(devices)
            await self._consents(states)
            await self._account_settings(states)
        except AuthExpired as err:
            raise ConfigEntryAuthFailed(str(err)) from err
        except SessionConflict as err:
            self._on_conflict()
            raise UpdateFailed("the account signed in elsewhere") from err
        except BotslabError as err:
            raise UpdateFailed(f"BOTSLAB cloud: {err}") from err
        self._conflicts = 0
        self._track_online(states)
        self._sync_registry(states)
        self._sync_consent_issues(states)
        self._sync_plan_issues(states)
        return states

    def force_firmware_check(self, serial: str) -> None:
        """Check the device's firmware at the next refresh (after an update)."""
        self._firmware_checked.pop(serial, None)

    async def _consents(self, states: dict[str, DeviceState]) -> None:
        """Whether each owned device may upload events (its owner's `event_upload` consent)."""
        try:
            consents = await self.client.consents()
        except (ApiError, ProtocolError):
            for serial, state in states.items():
                old = (self.data or {}).get(serial)
                state.event_upload = old.event_upload if old else True
            return
        self.consents = consents
        withdrawn = {c.device_name for c in consents if c.scope == "event_upload" and not c.granted}
        for serial, state in states.items():
            state.event_upload = serial not in withdrawn

    def consent(self, scope: str, serial: str = "") -> bool | None:
        for item in self.consents:
            if item.scope == scope and item.device_name == serial:
                return item.granted
        return None

    async def _account_settings(self, states: dict[str, DeviceState]) -> None:
        """Do-not-disturb each refresh; per-device notifications and shares every few."""
        with contextlib.suppress(ApiError, ProtocolError):
            self.dnd = await self.client.do_not_disturb()
        slow = self._refreshes % SLOW_EVERY == 0
        self._refreshes += 1
        for serial, state in states.items():
            old = (self.data or {}).get(serial)
            state.notifications = old.notifications if old else None
            state.shares = old.shares if old else None
            state.plan = old.plan if old else None
            if not (slow or old is None) or not state.device.owner:
                continue
            with contextlib.suppress(ApiError, ProtocolError):
                state.notifications = await self.client.device_notifications(state.device)
                state.shares = await self.client.shares(state.device)
                state.plan = await self.client.cloud_plan(state.device)

    def refresh_settings_soon(self) -> None:
        """The next refresh reads notifications and shares again (after an action)."""
        self._refreshes = 0

    def _sync_plan_issues(self, states: dict[str, DeviceState]) -> None:
        """A repair shortly before a device's cloud storage plan ends."""
        for serial, state in states.items():
            issue_id = f"{ISSUE_PLAN_ENDING}_{serial}"
            plan = state.plan
            if plan is not None and plan.active and plan.seconds_left <= PLAN_WARNING_DAYS * 86400:
                ir.async_create_issue(
                    self.hass,
                    DOMAIN,
                    issue_id,
                    is_fixable=False,
                    severity=ir.IssueSeverity.WARNING,
                    translation_key=ISSUE_PLAN_ENDING,
                    translation_placeholders={
                        "device": state.device.title,
                        "plan": plan.name,
                        "days": str(max(1, -(-plan.seconds_left // 86400))),
                    },
                )
            else:
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)

    def _sync_consent_issues(self, states: dict[str, DeviceState]) -> None:
        for serial, state in states.items():
            issue_id = f"{ISSUE_EVENT_UPLOAD}_{serial}"
            if state.event_upload:
                ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            else:
                ir.async_create_issue(
                    self.hass,
                    DOMAIN,
                    issue_id,
                    is_fixable=state.device.owner,
                    severity=ir.IssueSeverity.WARNING,
                    translation_key=ISSUE_EVENT_UPLOAD,
                    translation_placeholders={"device": state.device.title},
                    data={"entry_id": self.config_entry.entry_id, "serial": serial},
                )

    def report_conflict(self) -> None:
        """The event side met a session conflict: back off together."""
        if not self.in_conflict:
            self._on_conflict()
            self.async_update_listeners()

    async def _states(self, devices: list[Device]) -> dict[str, DeviceState]:
        previous = self.data or {}
        semaphore = asyncio.Semaphore(4)
        now = time.monotonic()

        async def one(device: Device) -> DeviceState:
            state = DeviceState(device)
            old = previous.get(device.device_name)
            async with semaphore:
                try:
                    state.properties = await self.client.properties(device)
                except (ApiError, ProtocolError):
                    state.properties = old.properties if old else None
                state.firmware = old.firmware if old else None
                due = (
                    now - self._firmware_checked.get(device.device_name, -1e9)
                    > FIRMWARE_REFRESH_SECONDS
                )
                if device.owner and due:
                    try:
                        state.firmware = await self.client.firmware(device)
                        self._firmware_checked[device.device_name] = now
                    except (ApiError, ProtocolError):
                        pass
            return state

        results = await asyncio.gather(*(one(d) for d in devices))
        return {s.device.device_name: s for s in results}

    def apply_properties(self, serial: str, items: Mapping[str, Any]) -> None:
        """Show a property change the cloud accepted now, before the next refresh confirms it."""
        state = (self.data or {}).get(serial)
        if state is None:
            return
        now_ms = int(time.time() * 1000)
        report = dict(state.properties.report) if state.properties else {}
        desired = dict(state.properties.desired) if state.properties else {}
        for identifier, value in items.items():
            report[identifier] = PropertyValue(value, now_ms)
        state.properties = Properties(report, desired)
        self.async_update_listeners()

    def _track_online(self, states: dict[str, DeviceState]) -> None:
        for serial, state in states.items():
            if not state.device.online and serial not in self._offline:
                self._offline.add(serial)
                _LOGGER.info("BOTSLAB device %s is offline", state.device.title)
            elif state.device.online and serial in self._offline:
                self._offline.discard(serial)
                _LOGGER.info("BOTSLAB device %s is back online", state.device.title)

    def _sync_registry(self, states: dict[str, DeviceState]) -> None:
        """Devices gone from the cloud leave the registry (platforms add new ones)."""
        entry_id = self.config_entry.entry_id
        for device_entry in entry_devices(self.hass, entry_id):
            serials = serials_of(device_entry)
            if not serials or any(s.startswith(ACCOUNT_PREFIX) for s in serials):
                continue
            if not serials & states.keys():
                remove_from_entry(self.hass, entry_id, device_entry.id)


def token_saver(
    hass: HomeAssistant, entry: BotslabConfigEntry
) -> Callable[[Credentials, Session | None], None]:
    """Persist Q/T when they change (the sid and alias live only in memory)."""

    def save(credentials: Credentials, _session: Session | None) -> None:
        if entry.data.get(CONF_Q) == credentials.q and entry.data.get(CONF_T) == credentials.t:
            return
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_Q: credentials.q, CONF_T: credentials.t}
        )

    return save
