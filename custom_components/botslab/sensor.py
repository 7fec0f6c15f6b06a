"""Sensors: battery, voltage, Wi-Fi signal, SD card space, firmware version, access level."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from homeassistant.components.sensor import (
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
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .coordinator import BotslabConfigEntry, BotslabCoordinator, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    exists,
    has_prop,
)

PARALLEL_UPDATES = 0
ACCESS_LEVELS = ["owner", "view", "control", "full"]


@dataclass(frozen=True, kw_only=True)
class BotslabSensorDescription(BotslabEntityDescription, SensorEntityDescription):
    value_fn: Callable[[DeviceState], str | int | float | None]


def _sd(index: int) -> Callable[[DeviceState], int | None]:
    def value(state: DeviceState) -> int | None:
        storage = state.properties.sd_storage if state.properties else None
        return None if storage is None else storage[index]

    return value


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
        exists_fn=has_prop("SdStorage"),
        value_fn=_sd(1),
    ),
    BotslabSensorDescription(
        key="firmware_version",
        translation_key="firmware_version",
        entity_category=EntityCategory.DIAGNOSTIC,
        exists_fn=has_prop("FirmwareVersion"),
        value_fn=lambda s: s.properties.firmware_version if s.properties else None,
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
)


class BotslabSensor(BotslabEntity, SensorEntity):
    entity_description: BotslabSensorDescription

    @property
    def native_value(self) -> str | int | float | None:
        state = self.state_data
        return None if state is None else self.entity_description.value_fn(state)


def _entities(coordinator: BotslabCoordinator, state: DeviceState) -> Iterable[Entity]:
    return [
        BotslabSensor(coordinator, state.device.device_name, d)
        for d in DESCRIPTIONS
        if exists(d, state)
    ]


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(entry, async_add_entities, _entities)
