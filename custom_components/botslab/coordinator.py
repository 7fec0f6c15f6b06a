"""Three coordinators, one per rhythm of the cloud, as Reolink and TP-Link keep them:

- `DeviceCoordinator` (every 2 minutes): the device list and each device's properties;
- `FirmwareCoordinator` (every 6 hours, and at once for a new device or after an update);
- `SettingsCoordinator` (every 10 minutes, and at once after an action): consents,
  do-not-disturb, and per owned device its notifications, shares and cloud plan.

Each builds new data on every refresh (nothing is changed in place) and backs off together
with the others through one `SessionGuard` when the phone app takes the account's one
session. Repair issues are kept by repairs.py, which listens to all of them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import logging
import time
from typing import Any, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    ApiError,
    AuthExpired,
    BotslabClient,
    BotslabError,
    CloudPlan,
    Consent,
    ConsentScope,
    Device,
    DeviceNotifications,
    DoNotDisturb,
    FirmwareInfo,
    Properties,
    PropertyValue,
    ProtocolError,
    RateLimited,
    SessionConflict,
    Share,
)
from .const import (
    ACCOUNT_PREFIX,
    DEVICE_REFRESH_SECONDS,
    DOMAIN,
    FIRMWARE_REFRESH_SECONDS,
    SETTINGS_REFRESH_SECONDS,
    STALE_AFTER,
    STALE_MISSES,
)
from .devices import entry_devices, remove_from_entry, serials_of
from .errors import pause_placeholders

_LOGGER = logging.getLogger(__name__)

CONFLICT_BACKOFF = (600.0, 1800.0, 3600.0)
PARALLEL_READS = 8  # devices read at once (each read is a round trip to the cloud)
_PARTIAL = (ApiError, ProtocolError)  # one read failed: keep what was known of it


class SessionGuard:
    """The one-session rule: when the phone app takes the session, every part of the entry
    waits (10, 30, then 60 minutes) before taking it back."""

    def __init__(self) -> None:
        self._until = 0.0
        self._conflicts = 0
        self.minutes = 0
        self._listeners: list[Callable[[], None]] = []

    @property
    def in_conflict(self) -> bool:
        return self._until > time.monotonic()

    @property
    def waiting(self) -> bool:
        """A conflict was met and the session was not taken back yet."""
        return self._until > 0.0

    def report(self) -> None:
        """A conflict was met; starts the back-off unless one is running."""
        if self.in_conflict:
            return
        delay = CONFLICT_BACKOFF[min(self._conflicts, len(CONFLICT_BACKOFF) - 1)]
        self._conflicts += 1
        self._until = time.monotonic() + delay
        self.minutes = int(delay // 60)
        _LOGGER.warning(
            "The BOTSLAB account signed in elsewhere (the app allows one session); "
            "waiting %d minutes before taking the session back",
            self.minutes,
        )
        self._notify()

    def resolved(self) -> None:
        """The session is ours again."""
        if self._until or self._conflicts:
            self._until = 0.0
            self._conflicts = 0
            self._notify()

    async def async_take_back(self, client: BotslabClient) -> None:
        """Sign in again now (the repair flow, or the end of the back-off)."""
        self._until = 0.0
        await client.login()
        self.resolved()

    def add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


class _CloudCoordinator[T](DataUpdateCoordinator[T]):
    """What the three share: the client, the session guard, one way to treat errors. Each
    names itself and its rhythm in NAME and SECONDS."""

    config_entry: ConfigEntry[Any]
    NAME = ""
    SECONDS = 0.0

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: BotslabClient,
        guard: SessionGuard,
    ) -> None:
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {self.NAME}",
            update_interval=timedelta(seconds=self.SECONDS),
        )
        self.client = client
        self.guard = guard

    @property
    def current(self) -> T | None:
        """The data, or None before the first successful refresh."""
        return cast("T | None", self.data)

    async def _async_update_data(self) -> T:
        if self.guard.in_conflict:
            raise UpdateFailed(translation_domain=DOMAIN, translation_key="session_conflict_wait")
        try:
            if self.guard.waiting:
                await self.guard.async_take_back(self.client)
            return await self._read()
        except AuthExpired as err:
            raise ConfigEntryAuthFailed(
                translation_domain=DOMAIN, translation_key="auth_expired"
            ) from err
        except SessionConflict as err:
            self.guard.report()
            raise UpdateFailed(
                translation_domain=DOMAIN, translation_key="session_conflict"
            ) from err
        except RateLimited as err:
            # the cloud asked for a pause: the client's gate keeps every caller (the other
            # coordinators, delivery, media, live view) from asking it before the time named
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="rate_limited",
                translation_placeholders=pause_placeholders(err.retry_after),
            ) from err
        except BotslabError as err:
            raise UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="cloud_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err

    async def _read(self) -> T:
        raise NotImplementedError


async def _each[R](items: Iterable[Device], read: Callable[[Device], Awaitable[R]]) -> list[R]:
    """`read` for every device, a few at a time."""
    slots = asyncio.Semaphore(PARALLEL_READS)

    async def one(device: Device) -> R:
        async with slots:
            return await read(device)

    return list(await asyncio.gather(*(one(d) for d in items)))


# --- device state (fast) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """A device as the cloud lists it, and its properties (None until first read)."""

    device: Device
    properties: Properties | None = None


class DeviceCoordinator(_CloudCoordinator[dict[str, DeviceStatus]]):
    """The device list and each device's properties, by serial."""

    NAME, SECONDS = "devices", DEVICE_REFRESH_SECONDS

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: BotslabClient,
        guard: SessionGuard,
    ) -> None:
        super().__init__(hass, entry, client, guard)
        self._offline: set[str] = set()
        self._missing: dict[str, tuple[int, datetime]] = {}  # device id -> (misses, since)

    async def _read(self) -> dict[str, DeviceStatus]:
        previous = self.data or {}
        devices = await self.client.devices()

        async def status(device: Device) -> DeviceStatus:
            properties: Properties | None
            try:
                properties = await self.client.properties(device)
            except _PARTIAL:
                old = previous.get(device.serial)
                properties = old.properties if old else None
            return DeviceStatus(device, properties)

        statuses = {s.device.serial: s for s in await _each(devices, status)}
        self.guard.resolved()
        self._track_online(statuses)
        self._prune_registry(statuses)
        return statuses

    @callback
    def apply_properties(self, serial: str, items: Mapping[str, Any]) -> None:
        """Show a property change the cloud accepted now, before the next refresh confirms it."""
        status = (self.data or {}).get(serial)
        if status is None:
            return
        now_ms = int(time.time() * 1000)
        report = dict(status.properties.report) if status.properties else {}
        desired = dict(status.properties.desired) if status.properties else {}
        for identifier, value in items.items():
            report[identifier] = PropertyValue(value, now_ms)
        self.data = {**self.data, serial: replace(status, properties=Properties(report, desired))}
        self.async_update_listeners()

    def _track_online(self, statuses: dict[str, DeviceStatus]) -> None:
        for serial, status in statuses.items():
            if not status.device.online and serial not in self._offline:
                self._offline.add(serial)
                _LOGGER.info("BOTSLAB device %s is offline", status.device.title)
            elif status.device.online and serial in self._offline:
                self._offline.discard(serial)
                _LOGGER.info("BOTSLAB device %s is back online", status.device.title)

    def _prune_registry(self, statuses: dict[str, DeviceStatus]) -> None:
        """Devices gone from the cloud leave the registry, after a grace: missing from
        STALE_MISSES successful lists in a row, over STALE_AFTER at least (a cloud that lists
        a device late, or a share taken back and given again, costs nothing). Their entities
        are unavailable meanwhile."""
        entry_id = self.config_entry.entry_id
        now = dt_util.utcnow()
        present: set[str] = set()
        for device_entry in entry_devices(self.hass, entry_id):
            serials = serials_of(device_entry)
            if not serials or any(s.startswith(ACCOUNT_PREFIX) for s in serials):
                continue
            present.add(device_entry.id)
            if serials & statuses.keys():
                self._missing.pop(device_entry.id, None)
                continue
            misses, since = self._missing.get(device_entry.id, (0, now))
            misses += 1
            if misses >= STALE_MISSES and now - since >= STALE_AFTER:
                self._missing.pop(device_entry.id, None)
                _LOGGER.info("BOTSLAB device %s is gone from the account", device_entry.name)
                remove_from_entry(self.hass, entry_id, device_entry.id)
            else:
                self._missing[device_entry.id] = (misses, since)
        for gone in self._missing.keys() - present:
            del self._missing[gone]  # removed by hand meanwhile


def _reason(err: BotslabError) -> str:
    """Why a read failed, for a log line: a code or a kind, never an answer's values."""
    return f"code {err.code}" if isinstance(err, ApiError) else type(err).__name__


def _owned(devices: DeviceCoordinator) -> list[Device]:
    return [s.device for s in (devices.data or {}).values() if s.device.owner]


class _FollowerCoordinator[T](_CloudCoordinator[T]):
    """A coordinator of the owned devices that the device coordinator lists."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: BotslabClient,
        guard: SessionGuard,
        devices: DeviceCoordinator,
    ) -> None:
        super().__init__(hass, entry, client, guard)
        self.devices = devices


# --- firmware (hours) ---------------------------------------------------------------------------


class FirmwareCoordinator(_FollowerCoordinator[dict[str, FirmwareInfo]]):
    """Firmware of the owned devices, by serial. A device that appears is checked at once."""

    NAME, SECONDS = "firmware", FIRMWARE_REFRESH_SECONDS

    async def _read(self) -> dict[str, FirmwareInfo]:
        return await self._firmware(_owned(self.devices), dict(self.data or {}))

    async def _firmware(
        self, devices: list[Device], known: dict[str, FirmwareInfo]
    ) -> dict[str, FirmwareInfo]:
        async def one(device: Device) -> tuple[str, FirmwareInfo | None]:
            try:
                return device.serial, await self.client.firmware(device)
            except _PARTIAL:
                return device.serial, known.get(device.serial)

        listed = {d.serial for d in _owned(self.devices)}
        found = dict(await _each(devices, one))
        return {
            serial: info
            for serial, info in {**known, **found}.items()
            if info is not None and serial in listed
        }

    async def async_check(self, serials: Iterable[str]) -> None:
        """Read these devices' firmware now (a new device, or after an update)."""
        wanted = set(serials)
        devices = [d for d in _owned(self.devices) if d.serial in wanted]
        if not devices or self.guard.in_conflict:
            return
        try:
            data = await self._firmware(devices, dict(self.data or {}))
        except BotslabError:
            return  # the next scheduled refresh tries again, and reports
        self.async_set_updated_data(data)

    @callback
    def async_watch_devices(self) -> CALLBACK_TYPE:
        """Check devices that appear in the device list, without waiting hours."""

        @callback
        def new_devices() -> None:
            known = (self.data or {}).keys()
            new = [d.serial for d in _owned(self.devices) if d.serial not in known]
            if new and self.current is not None:
                self.config_entry.async_create_background_task(
                    self.hass, self.async_check(new), "botslab firmware of new devices"
                )

        return self.devices.async_add_listener(new_devices)


# --- account settings (slow) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeviceSettings:
    """An owned device's settings (None where the cloud did not answer yet)."""

    notifications: DeviceNotifications | None = None
    shares: list[Share] | None = None
    plan: CloudPlan | None = None


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """The account's consents and do-not-disturb, and its owned devices' settings."""

    consents: tuple[Consent, ...] = ()
    dnd: DoNotDisturb | None = None
    devices: dict[str, DeviceSettings] = field(default_factory=dict)

    _index: dict[tuple[str, str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[tuple[str, str], bool] = {}
        for item in self.consents:
            index.setdefault((item.scope, item.serial), item.granted)  # the first one counts
        object.__setattr__(self, "_index", index)

    def consent(self, scope: ConsentScope, serial: str = "") -> bool | None:
        return self._index.get((scope, serial))

    def event_upload(self, serial: str) -> bool:
        """Whether the device's events reach the cloud (not withdrawn by its owner)."""
        return self.consent(ConsentScope.EVENT_UPLOAD, serial) is not False


class SettingsCoordinator(_FollowerCoordinator[AccountSettings]):
    """Consents, do-not-disturb, notifications, shares and plans: what changes by hand."""

    NAME, SECONDS = "settings", SETTINGS_REFRESH_SECONDS

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: BotslabClient,
        guard: SessionGuard,
        devices: DeviceCoordinator,
    ) -> None:
        super().__init__(hass, entry, client, guard, devices)
        self.unavailable: dict[str, str] = {}  # feature -> why, while it does not answer

    async def _read(self) -> AccountSettings:
        failed: dict[str, str] = {}

        async def read[R](feature: str, call: Awaitable[R]) -> R | None:
            """One setting's read. Every one of these endpoints is [modelled]: an answer
            that is not what the project modelled makes this feature unavailable (its
            entities too), never the entry, and never starts a reauth
            (docs/protocol/accepted.md#guessed-endpoints)."""
            try:
                return await call
            except _PARTIAL as err:
                failed.setdefault(feature, _reason(err))
                return None

        # each read costs a round trip to a cloud that may be far away: at once, not in turn
        consents, dnd = await asyncio.gather(
            read("consents", self.client.consents()),
            read("do_not_disturb", self.client.do_not_disturb()),
        )

        async def one(device: Device) -> tuple[str, DeviceSettings]:
            notifications, shares, plan = await asyncio.gather(
                read("notifications", self.client.device_notifications(device)),
                read("sharing", self.client.shares(device)),
                read("cloud_plan", self.client.cloud_plan(device)),
            )
            return device.serial, DeviceSettings(
                notifications=notifications, shares=shares, plan=plan
            )

        devices = dict(await _each(_owned(self.devices), one))
        self._note_features(failed)
        return AccountSettings(consents=tuple(consents or ()), dnd=dnd, devices=devices)

    def _note_features(self, failed: dict[str, str]) -> None:
        """One log line when a feature stops answering as modelled, one when it is back."""
        for feature, why in failed.items():
            if feature not in self.unavailable:
                _LOGGER.warning(
                    "The BOTSLAB cloud does not answer %s as expected (%s); it is unavailable "
                    "in Home Assistant until it does",
                    feature.replace("_", " "),
                    why,
                )
        for feature in self.unavailable.keys() - failed.keys():
            _LOGGER.info("The BOTSLAB cloud answers %s again", feature.replace("_", " "))
        self.unavailable = failed

    @callback
    def async_watch_devices(self) -> CALLBACK_TYPE:
        """Read the settings of devices that appear, without waiting for the slow rhythm."""

        @callback
        def new_devices() -> None:
            current = self.current
            if current is None:
                return
            if any(d.serial not in current.devices for d in _owned(self.devices)):
                self.config_entry.async_create_background_task(
                    self.hass, self.async_request_refresh(), "botslab settings of new devices"
                )

        return self.devices.async_add_listener(new_devices)
