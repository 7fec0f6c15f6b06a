"""Switches: privacy mode, motion detection, status light; the account's and each camera's
privacy consents, do-not-disturb and notifications (config switches)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.switch import SwitchDeviceClass, SwitchEntity, SwitchEntityDescription
from homeassistant.const import EntityCategory
from homeassistant.core import Context, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api import BotslabClient, ConsentScope, Device, DeviceKind
from .const import ACCOUNT_PREFIX, DOMAIN
from .coordinator import AccountSettings, DeviceCoordinator, SettingsCoordinator
from .data import BotslabConfigEntry, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    account_device_info,
    async_setup_device_entities,
    device_info,
    device_unique_id,
    entities_for,
    has_prop,
)
from .errors import cloud_command
from .permissions import async_require_admin

PARALLEL_UPDATES = 1


@dataclass(frozen=True, kw_only=True)
class BotslabSwitchDescription(BotslabEntityDescription, SwitchEntityDescription):
    identifier: str


DESCRIPTIONS: tuple[BotslabSwitchDescription, ...] = (
    BotslabSwitchDescription(
        key="privacy_mode",
        translation_key="privacy_mode",
        device_class=SwitchDeviceClass.SWITCH,
        identifier="PrivacyMode",
        writes=True,
        exists_fn=has_prop("PrivacyMode"),
    ),
    BotslabSwitchDescription(
        key="motion_detection",
        translation_key="motion_detection",
        device_class=SwitchDeviceClass.SWITCH,
        identifier="MotionDetectSwitch",
        writes=True,
        exists_fn=has_prop("MotionDetectSwitch"),
    ),
    BotslabSwitchDescription(
        key="status_light",
        translation_key="status_light",
        device_class=SwitchDeviceClass.SWITCH,
        entity_category=EntityCategory.CONFIG,
        identifier="StatusLight",
        writes=True,
        exists_fn=has_prop("StatusLight"),
    ),
)


class BotslabSwitch(BotslabEntity, SwitchEntity):
    entity_description: BotslabSwitchDescription

    @property
    def is_on(self) -> bool | None:
        state = self.state_data
        if state is None or state.properties is None:
            return None
        value = state.properties.get(self.entity_description.identifier)
        return None if value is None else bool(int(value))

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._set(1)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._set(0)

    async def _set(self, value: int) -> None:
        await self.async_write_properties({self.entity_description.identifier: value})


_device_switches = entities_for(BotslabSwitch, DESCRIPTIONS)


def _all_entities(coordinator: DeviceCoordinator, state: DeviceState) -> list[Entity]:
    return [*_device_switches(coordinator, state), *_setting_switches(coordinator, state)]


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    settings = entry.runtime_data.settings_coordinator
    account = f"{ACCOUNT_PREFIX}{entry.runtime_data.client.credentials.qid}"
    async_add_entities(
        BotslabSettingSwitch(settings, d, "", account_device_info(entry), f"{account}_{d.key}")
        for d in ACCOUNT_SWITCHES
    )
    async_setup_device_entities(entry, async_add_entities, _all_entities)


# --- privacy and notification switches (docs/protocol/cloud-api.md#notifications,
# docs/protocol/cloud-api.md#privacy-and-consent) ----------------------


@dataclass(frozen=True, kw_only=True)
class BotslabSettingDescription(SwitchEntityDescription):
    """A switch whose state is a cloud setting: a consent, do-not-disturb, notifications."""

    is_on_fn: Callable[[AccountSettings, str], bool | None]
    set_fn: Callable[[BotslabClient, Device | None, bool], Awaitable[Any]]
    admin_only: bool = False  # as the action that makes the same change (services.py)
    attrs_fn: Callable[[AccountSettings], dict[str, Any]] | None = None


def _consent_switch(scope: ConsentScope) -> BotslabSettingDescription:
    async def set_consent(client: BotslabClient, device: Device | None, on: bool) -> Any:
        return await client.set_consent(scope, on, device if scope.per_device else None)

    return BotslabSettingDescription(
        key=f"consent_{scope}",
        translation_key=f"consent_{scope}",
        entity_category=EntityCategory.CONFIG,
        # one switch per privacy scope: detail most users never change; the actions, the
        # event-upload repair and the entity settings reach them
        entity_registry_enabled_default=False,
        is_on_fn=lambda s, serial: s.consent(scope, serial if scope.per_device else ""),
        set_fn=set_consent,
        admin_only=True,  # set_consent is admin-only: so is its switch
    )


async def _set_dnd(client: BotslabClient, _device: Device | None, on: bool) -> Any:
    return await client.set_do_not_disturb(on)


async def _set_notifications(client: BotslabClient, device: Device | None, on: bool) -> Any:
    if device is None:  # the device left the account since the switch was made
        raise HomeAssistantError(translation_domain=DOMAIN, translation_key="unknown_device")
    return await client.set_device_notifications(device, enabled=on)


def _notifications_on(settings: AccountSettings, serial: str) -> bool | None:
    device = settings.devices.get(serial)
    return device.notifications.enabled if device and device.notifications else None


ACCOUNT_SWITCHES: tuple[BotslabSettingDescription, ...] = (
    *(_consent_switch(scope) for scope in ConsentScope if not scope.per_device),
    BotslabSettingDescription(
        key="do_not_disturb",
        translation_key="do_not_disturb",
        entity_category=EntityCategory.CONFIG,
        is_on_fn=lambda s, _serial: s.dnd.enabled if s.dnd else None,
        set_fn=_set_dnd,
        # its hours, as the cloud keeps them (in Home Assistant's time zone)
        attrs_fn=lambda s: {"start": s.dnd.start, "end": s.dnd.end} if s.dnd else {},
    ),
)
DEVICE_SWITCHES: tuple[BotslabSettingDescription, ...] = (
    *(_consent_switch(scope) for scope in ConsentScope if scope.per_device),
    BotslabSettingDescription(
        key="notifications",
        translation_key="notifications",
        entity_category=EntityCategory.CONFIG,
        is_on_fn=_notifications_on,
        set_fn=_set_notifications,
    ),
)


class BotslabSettingSwitch(CoordinatorEntity[SettingsCoordinator], SwitchEntity):
    """A cloud setting as a config switch: changing it calls the cloud, its state follows it."""

    _attr_has_entity_name = True
    entity_description: BotslabSettingDescription

    def __init__(
        self,
        coordinator: SettingsCoordinator,
        description: BotslabSettingDescription,
        serial: str,
        device_info: DeviceInfo,
        unique_id: str,
    ) -> None:
        super().__init__(coordinator)
        self.entity_description = description
        self._caller: Context | None = None
        self._serial = serial
        self._attr_unique_id = unique_id
        self._attr_device_info = device_info

    @property
    def is_on(self) -> bool | None:
        settings = self.coordinator.current
        if settings is None:
            return None
        return self.entity_description.is_on_fn(settings, self._serial)

    @property
    def available(self) -> bool:
        return super().available and self.is_on is not None

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        settings = self.coordinator.current
        attrs_fn = self.entity_description.attrs_fn
        return attrs_fn(settings) if attrs_fn is not None and settings is not None else None

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._set(False)

    @callback
    def async_set_context(self, context: Context) -> None:
        """The context of the action that is about to change this switch: who asked, for
        the admin-only consents (Home Assistant sets it before it turns the switch)."""
        super().async_set_context(context)
        self._caller = context

    @cloud_command
    async def _set(self, on: bool) -> None:
        if self.entity_description.admin_only:
            await async_require_admin(self.hass, self._caller)
        status = (self.coordinator.devices.data or {}).get(self._serial)
        device = status.device if status else None
        await self.entity_description.set_fn(self.coordinator.client, device, on)
        await self.coordinator.async_refresh()


def _setting_switches(coordinator: DeviceCoordinator, state: DeviceState) -> Iterable[Entity]:
    if not state.device.owner or state.device.kind is DeviceKind.OTHER:
        return []
    settings = coordinator.config_entry.runtime_data.settings_coordinator
    serial = state.device.serial
    return [
        BotslabSettingSwitch(
            settings,
            d,
            serial,
            device_info(state),
            device_unique_id(coordinator.config_entry, serial, d.key),
        )
        for d in DEVICE_SWITCHES
    ]
