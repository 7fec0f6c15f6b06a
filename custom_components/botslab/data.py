"""The entry's runtime data, and the per-device view that entities read.

Three coordinators keep what the cloud says at their own rhythm (coordinator.py); the event
rooms deliver what happens (events/). `BotslabData.state(serial)` puts a device's pieces
together for an entity. This module imports no platform."""

from __future__ import annotations

from dataclasses import dataclass, field

from homeassistant.config_entries import ConfigEntry

from .api import (
    BotslabClient,
    CloudPlan,
    Device,
    DeviceNotifications,
    Event,
    FirmwareInfo,
    Properties,
    Share,
)
from .api.live.feed import LiveFeed
from .api.live.session import LiveCache
from .coordinator import (
    DeviceCoordinator,
    FirmwareCoordinator,
    SessionGuard,
    SettingsCoordinator,
)
from .events.delivery import EventDelivery
from .events.link import PushLink
from .events.snapshots import SnapshotStore

type BotslabConfigEntry = ConfigEntry[BotslabData]


@dataclass(frozen=True, slots=True)
class DeviceState:
    """What the integration knows of one device, gathered from the three coordinators."""

    device: Device
    properties: Properties | None = None
    firmware: FirmwareInfo | None = None
    event_upload: bool = True
    notifications: DeviceNotifications | None = None
    shares: list[Share] | None = None
    plan: CloudPlan | None = None
    last_event: Event | None = None  # the newest by its time (late deliveries do not win)


@dataclass(slots=True)
class BotslabData:
    """The entry's runtime data."""

    client: BotslabClient
    guard: SessionGuard
    device_coordinator: DeviceCoordinator
    firmware_coordinator: FirmwareCoordinator
    settings_coordinator: SettingsCoordinator
    snapshots: SnapshotStore
    events: EventDelivery | None = None
    push: PushLink | None = None
    live_cache: LiveCache = field(default_factory=LiveCache)
    live_feeds: dict[str, LiveFeed] = field(default_factory=dict)  # serial -> camera's feed

    def state(self, serial: str) -> DeviceState | None:
        """One device as entities see it, or None when the cloud does not list it."""
        status = (self.device_coordinator.data or {}).get(serial)
        if status is None:
            return None
        settings = self.settings_coordinator.data
        firmware = (self.firmware_coordinator.data or {}).get(serial)
        latest = self.events.newest_event.get(serial) if self.events is not None else None
        device_settings = settings.devices.get(serial) if settings is not None else None
        return DeviceState(
            device=status.device,
            properties=status.properties,
            firmware=firmware,
            event_upload=settings.event_upload(serial) if settings is not None else True,
            notifications=device_settings.notifications if device_settings else None,
            shares=device_settings.shares if device_settings else None,
            plan=device_settings.plan if device_settings else None,
            last_event=latest.event if latest is not None else None,
        )

    def states(self) -> dict[str, DeviceState]:
        """Every device the cloud lists, by serial."""
        return {
            serial: state
            for serial in (self.device_coordinator.data or {})
            if (state := self.state(serial)) is not None
        }
