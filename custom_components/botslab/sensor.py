"""Sensors: battery, voltage, Wi-Fi signal, SD card space, firmware version, access level,
the latest event's time and kind, and the account's event connection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    RestoreSensor,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfElectricPotential,
    UnitOfInformation,
    UnitOfTime,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.util import dt as dt_util

from .api import DeviceKind, EventKind, ShareLevel
from .const import ACCOUNT_PREFIX
from .data import BotslabConfigEntry, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    account_device_info,
    async_setup_device_entities,
    entities_for,
    has_prop,
)
from .events import (
    CONNECTION_OFFLINE,
    CONNECTION_POLLING,
    CONNECTION_PUSH,
    SIGNAL_CONNECTION,
    SIGNAL_NEWEST,
)

PARALLEL_UPDATES = 0
ACCESS_LEVELS = ["owner", *(level.value for level in ShareLevel)]


@dataclass(frozen=True, kw_only=True)
class BotslabSensorDescription(BotslabEntityDescription, SensorEntityDescription):
    """A device sensor: its value (and attributes) from the device's state. `on_event`: the
    value also changes when an event of the device is delivered; `restore`: the last value is
    kept while the state has none (after a restart, the events' latest is not known until the
    next one)."""

    value_fn: Callable[[DeviceState], str | int | float | datetime | None]
    attrs_fn: Callable[[DeviceState], dict[str, Any]] | None = None
    on_event: bool = False
    restore: bool = False


def _plan_end(state: DeviceState) -> datetime | None:
    plan = state.plan
    return dt_util.utc_from_timestamp(plan.end) if plan and plan.end else None


def _has_plan(state: DeviceState) -> bool:
    return state.plan is not None and bool(state.plan.name)


def _sd(index: int) -> Callable[[DeviceState], int | None]:
    def value(state: DeviceState) -> int | None:
        storage = state.properties.sd_storage if state.properties else None
        return None if storage is None else storage[index]

    return value


def _share_count(state: DeviceState) -> int | None:
    """Every share of an owned device, the pending ones too: right after a share the number
    moves (the attributes tell pending from accepted)."""
    return None if state.shares is None else len(state.shares)


def _share_list(state: DeviceState) -> dict[str, Any]:
    """Every share of an owned device, numbers and addresses masked."""
    shares = state.shares or []
    return {
        "pending": sum(1 for share in shares if share.pending),
        "sharing": sum(1 for share in shares if not share.pending),
        "shares": [
            {
                "level": share.level.value,
                "status": "pending" if share.pending else "sharing",
                "shared_with": share.target_masked,
            }
            for share in state.shares or []
        ],
    }


def _has_events(state: DeviceState) -> bool:
    return state.device.kind is not DeviceKind.OTHER


DESCRIPTIONS: tuple[BotslabSensorDescription, ...] = (
    BotslabSensorDescription(
        key="battery",
        device_class=SensorDeviceClass.BATTERY,
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        exists_fn=has_prop("BatteryLevel"),
        value_fn=lambda s: s.properties.battery_level if s.properties else None,
    ),
    BotslabSensorDescription(
        key="voltage",
        device_class=SensorDeviceClass.VOLTAGE,
        native_unit_of_measurement=UnitOfElectricPotential.MILLIVOLT,
        suggested_unit_of_measurement=UnitOfElectricPotential.VOLT,
        suggested_display_precision=2,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=has_prop("DoorbellVoltage"),
        value_fn=lambda s: s.properties.voltage_mv if s.properties else None,
    ),
    BotslabSensorDescription(
        key="wifi_signal",
        translation_key="wifi_signal",
        device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=has_prop("WifiRssi"),
        value_fn=lambda s: s.properties.wifi_rssi if s.properties else None,
    ),
    BotslabSensorDescription(
        key="sd_free",
        translation_key="sd_free",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        suggested_unit_of_measurement=UnitOfInformation.GIGABYTES,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=has_prop("SdStorage"),
        value_fn=_sd(2),
    ),
    BotslabSensorDescription(
        key="sd_used",
        translation_key="sd_used",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.BYTES,
        suggested_unit_of_measurement=UnitOfInformation.GIGABYTES,
        suggested_display_precision=1,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=has_prop("SdStorage"),
        value_fn=_sd(1),
    ),
    BotslabSensorDescription(
        key="firmware_version",
        translation_key="firmware_version",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        exists_fn=has_prop("FirmwareVersion"),
        value_fn=lambda s: s.properties.firmware_version if s.properties else None,
    ),
    BotslabSensorDescription(
        key="cloud_plan",
        reads_settings=True,
        translation_key="cloud_plan",
        entity_category=EntityCategory.DIAGNOSTIC,
        available_offline=True,
        exists_fn=_has_plan,
        value_fn=lambda s: s.plan.name if s.plan else None,
    ),
    BotslabSensorDescription(
        key="cloud_plan_days_left",
        reads_settings=True,
        translation_key="cloud_plan_days_left",
        native_unit_of_measurement=UnitOfTime.DAYS,
        device_class=SensorDeviceClass.DURATION,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        available_offline=True,
        exists_fn=_has_plan,
        value_fn=lambda s: s.plan.seconds_left // 86400 if s.plan else None,
    ),
    BotslabSensorDescription(
        key="cloud_plan_expires",
        reads_settings=True,
        translation_key="cloud_plan_expires",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        available_offline=True,
        exists_fn=_has_plan,
        value_fn=_plan_end,
    ),
    BotslabSensorDescription(
        key="access",
        translation_key="access",
        device_class=SensorDeviceClass.ENUM,
        options=ACCESS_LEVELS,
        entity_category=EntityCategory.DIAGNOSTIC,
        available_offline=True,
        value_fn=lambda s: "owner" if s.device.owner else s.device.share_level.value,
    ),
    BotslabSensorDescription(
        # on the device page: a shared camera's live view is its sound only
        # (docs/protocol/live-video.md)
        key="live_view",
        translation_key="live_view",
        device_class=SensorDeviceClass.ENUM,
        options=["sound_only_shared"],
        entity_category=EntityCategory.DIAGNOSTIC,
        available_offline=True,
        exists_fn=lambda s: not s.device.owner and s.device.kind is not DeviceKind.OTHER,
        value_fn=lambda s: "sound_only_shared",
    ),
    BotslabSensorDescription(
        key="shares",
        reads_settings=True,
        translation_key="shares",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        available_offline=True,
        exists_fn=lambda s: s.device.owner,
        value_fn=_share_count,
        attrs_fn=_share_list,
    ),
    BotslabSensorDescription(
        key="last_event_time",
        translation_key="last_event_time",
        device_class=SensorDeviceClass.TIMESTAMP,
        # "Last event" shows when it changed, and each event entity its time: a second
        # logbook line per event is noise, so this one waits to be enabled
        entity_registry_enabled_default=False,
        available_offline=True,
        exists_fn=_has_events,
        value_fn=lambda s: s.last_event.time if s.last_event else None,
        on_event=True,
        restore=True,
    ),
    BotslabSensorDescription(
        key="last_event_kind",
        translation_key="last_event_kind",
        device_class=SensorDeviceClass.ENUM,
        options=[kind.value for kind in EventKind],
        available_offline=True,
        exists_fn=_has_events,
        value_fn=lambda s: s.last_event.kind.value if s.last_event else None,
        on_event=True,
        restore=True,
    ),
)


class BotslabSensor(BotslabEntity, RestoreSensor):
    entity_description: BotslabSensorDescription
    _kept: str | int | float | datetime | None = None  # the last value, where `restore`

    @property
    def native_value(self) -> str | int | float | datetime | None:
        state = self.state_data
        value = None if state is None else self.entity_description.value_fn(state)
        if value is None:
            return self._kept
        if self.entity_description.restore:
            self._kept = value
        return value

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        attrs_fn = self.entity_description.attrs_fn
        state = self.state_data
        return None if attrs_fn is None or state is None else attrs_fn(state)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        description = self.entity_description
        if description.restore:
            last = await self.async_get_last_sensor_data()
            if last is not None and isinstance(last.native_value, (datetime, str)):
                self._kept = last.native_value
        if description.on_event:
            # once per fetch (not per event), when this device's newest event changed
            self.listen(SIGNAL_NEWEST, self.async_write_ha_state)


class BotslabConnectionSensor(SensorEntity):
    """How events reach Home Assistant: push, polling, or offline (account device)."""

    _attr_has_entity_name = True
    _attr_translation_key = "event_connection"
    _attr_device_class = SensorDeviceClass.ENUM
    _attr_options = [CONNECTION_PUSH, CONNECTION_POLLING, CONNECTION_OFFLINE]  # noqa: RUF012
    _attr_entity_category = EntityCategory.DIAGNOSTIC
    _attr_should_poll = False

    def __init__(self, entry: BotslabConfigEntry) -> None:
        self._entry = entry
        qid = entry.runtime_data.client.credentials.qid
        self._attr_unique_id = f"{ACCOUNT_PREFIX}{qid}_event_connection"
        self._attr_device_info = account_device_info(entry)

    @property
    def native_value(self) -> str:
        push = self._entry.runtime_data.push
        return push.connection if push is not None else CONNECTION_OFFLINE

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        """Why events come by polling (None while push says everything), and how often the
        message list is read now (a safety net while push is up)."""
        push = self._entry.runtime_data.push
        if push is None:
            return {"reason": None, "poll_interval": None}
        return {"reason": push.plan.reason, "poll_interval": round(push.interval)}

    async def async_added_to_hass(self) -> None:
        signal = SIGNAL_CONNECTION.format(self._entry.entry_id)
        self.async_on_remove(async_dispatcher_connect(self.hass, signal, self.async_write_ha_state))


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_add_entities([BotslabConnectionSensor(entry)])
    async_setup_device_entities(
        entry, async_add_entities, entities_for(BotslabSensor, DESCRIPTIONS)
    )
