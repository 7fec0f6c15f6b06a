"""The BOTSLAB integration for Home Assistant: cameras and video doorbells."""

from __future__ import annotations

import logging

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.storage import Store
from homeassistant.helpers.typing import ConfigType
import voluptuous as vol

from .api import AuthExpired, BotslabClient, BotslabError
from .const import CONF_EMULATOR_URL, DOMAIN
from .coordinator import (
    BotslabConfigEntry,
    BotslabCoordinator,
    BotslabData,
    async_get_endpoints,
    credentials_from_entry,
    identity_from_entry,
    token_saver,
)
from .push import STORAGE_VERSION, BotslabEventStream
from .services import async_setup_services
from .views import async_register_views

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [
    Platform.BINARY_SENSOR,
    Platform.BUTTON,
    Platform.CAMERA,
    Platform.EVENT,
    Platform.IMAGE,
    Platform.SELECT,
    Platform.SENSOR,
    Platform.SWITCH,
    Platform.UPDATE,
]

CONFIG_SCHEMA = vol.Schema(
    {DOMAIN: vol.Schema({vol.Optional(CONF_EMULATOR_URL): cv.url})},
    extra=vol.ALLOW_EXTRA,
)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """YAML is for development only: `botslab: {emulator_url: …}` offers the local emulator."""
    hass.data.setdefault(DOMAIN, {})
    async_setup_services(hass)
    if DOMAIN in config and config[DOMAIN].get(CONF_EMULATOR_URL):
        hass.data[DOMAIN][CONF_EMULATOR_URL] = config[DOMAIN][CONF_EMULATOR_URL]
    return True


async def async_setup_entry(hass: HomeAssistant, entry: BotslabConfigEntry) -> bool:
    session = async_get_clientsession(hass)
    try:
        endpoints = await async_get_endpoints(session, entry.data)
    except BotslabError as err:
        raise ConfigEntryNotReady(str(err)) from err
    client = BotslabClient(
        session,
        endpoints,
        identity_from_entry(entry.data),
        credentials_from_entry(entry.data),
        on_tokens=token_saver(hass, entry),
        language=hass.config.language or "en",
        timezone=hass.config.time_zone or "UTC",
        country=hass.config.country or "DE",
    )
    try:
        await client.login()
    except AuthExpired as err:
        raise ConfigEntryAuthFailed(str(err)) from err
    except BotslabError as err:
        raise ConfigEntryNotReady(f"BOTSLAB cloud: {err}") from err
    async_register_views(hass)
    coordinator = BotslabCoordinator(hass, entry, client)
    entry.runtime_data = BotslabData(client=client, coordinator=coordinator)
    await coordinator.async_config_entry_first_refresh()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    stream = BotslabEventStream(hass, entry, client, coordinator)
    try:
        await stream.async_start()
    except AuthExpired as err:
        await stream.async_stop()
        await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
        raise ConfigEntryAuthFailed(str(err)) from err
    except BotslabError as err:
        await stream.async_stop()
        await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
        raise ConfigEntryNotReady(f"BOTSLAB cloud: {err}") from err
    entry.runtime_data.events = stream
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    return True


async def _async_options_updated(hass: HomeAssistant, entry: BotslabConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: BotslabConfigEntry) -> bool:
    if entry.runtime_data.events is not None:
        await entry.runtime_data.events.async_stop()
        entry.runtime_data.events = None
    unloaded: bool = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: BotslabConfigEntry) -> None:
    """Forget the stored message cursor of a removed entry."""
    await Store[dict[str, object]](
        hass, STORAGE_VERSION, f"{DOMAIN}.{entry.entry_id}.events"
    ).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: BotslabConfigEntry, device_entry: dr.DeviceEntry
) -> bool:
    """A device may be removed by hand only when the cloud no longer lists it."""
    serials = {ident[1] for ident in device_entry.identifiers if ident[0] == DOMAIN}
    data = entry.runtime_data.coordinator.data or {}
    return not serials & data.keys()
