"""The BOTSLAB integration for Home Assistant: cameras and video doorbells."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_USERNAME, EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import (
    ConfigEntryAuthFailed,
    ConfigEntryError,
    ConfigEntryNotReady,
    HomeAssistantError,
)
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api import AuthExpired, BotslabClient, BotslabError, account_title, encode_token
from .cloud import async_get_endpoints, credentials_from_entry, identity_from_entry, token_saver
from .const import (
    ACCOUNT_PREFIX,
    CONF_Q,
    CONF_QID,
    CONF_SIGNED_IN,
    CONF_T,
    DOMAIN,
)
from .coordinator import (
    DeviceCoordinator,
    FirmwareCoordinator,
    SessionGuard,
    SettingsCoordinator,
)
from .data import BotslabConfigEntry, BotslabData
from .devices import serials_of
from .events.delivery import CursorStore, EventDelivery
from .events.link import PushLink, snooze_store
from .events.snapshots import SnapshotStore
from .media_ref import DATA_KEY as MEDIA_KEY, async_load_key
from .repairs import async_track_issues
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

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


def not_ready(err: BotslabError) -> ConfigEntryNotReady:
    """The cloud cannot be used now: Home Assistant retries the setup later."""
    return ConfigEntryNotReady(
        translation_domain=DOMAIN,
        translation_key="cloud_unreachable",
        translation_placeholders={"error": str(err)},
    )


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """The actions and views of every BOTSLAB entry (set up through the UI only)."""
    hass.data.setdefault(DOMAIN, {})
    hass.data[DOMAIN][MEDIA_KEY] = await async_load_key(hass)
    async_setup_services(hass)
    async_register_views(hass)
    return True


async def async_migrate_entry(hass: HomeAssistant, entry: BotslabConfigEntry) -> bool:
    """1.1 → 1.2: Q/T were stored URL-decoded; the cloud hands them out encoded and the
    client sends them as received, so they are encoded again (the same bytes the login gave:
    no new sign-in). 1.2 → 1.3: the title is masked. 1.3 → 2.1: device entities' unique ids
    are scoped to the account (`{qid}_{serial}_{key}`), so that a camera that comes through
    two accounts is two entities; entity ids, names and history stay. Returns True or raises
    (Home Assistant 2026.11's rule)."""
    if entry.version > 2:
        raise ConfigEntryError(translation_domain=DOMAIN, translation_key="downgrade_unsupported")
    if entry.version == 1 and entry.minor_version < 2:
        data = dict(entry.data)
        for key in (CONF_Q, CONF_T):
            data[key] = encode_token(str(data.get(key, "")))
        hass.config_entries.async_update_entry(entry, data=data, minor_version=2)
        _LOGGER.debug("BOTSLAB entry migrated to version 1.2 (Q/T as the cloud sends them)")
    if entry.version == 1 and entry.minor_version < 3:
        # the title was the sign-in name, a phone number or an email that Home Assistant's
        # own log lines and the media browser show; a title the user chose stays
        username = str(entry.data.get(CONF_USERNAME, ""))
        title = account_title("", username) if entry.title == username else entry.title
        hass.config_entries.async_update_entry(entry, title=title, minor_version=3)
        _LOGGER.debug("BOTSLAB entry migrated to version 1.3 (title masked)")
    if entry.version == 1:
        qid = str(entry.data[CONF_QID])

        @callback
        def scoped(registry_entry: er.RegistryEntry) -> dict[str, Any] | None:
            unique_id = registry_entry.unique_id
            if unique_id.startswith((ACCOUNT_PREFIX, f"{qid}_")):
                return None  # the account's own entities, or already scoped
            return {"new_unique_id": f"{qid}_{unique_id}"}

        await er.async_migrate_entries(hass, entry.entry_id, scoped)
        hass.config_entries.async_update_entry(entry, version=2, minor_version=1)
        _LOGGER.debug("BOTSLAB entry migrated to version 2.1 (account-scoped unique ids)")
    return True


async def async_setup_entry(hass: HomeAssistant, entry: BotslabConfigEntry) -> bool:
    session = async_get_clientsession(hass)
    try:
        endpoints = await async_get_endpoints(session, entry.data)
    except BotslabError as err:
        raise not_ready(err) from err
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
    # the client's own session for media hosts: closed at unload, and after a failed setup
    entry.async_on_unload(client.close)
    try:
        await client.login()
    except AuthExpired as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_expired"
        ) from err
    except BotslabError as err:
        raise not_ready(err) from err
    guard = SessionGuard()
    coordinator = DeviceCoordinator(hass, entry, client, guard)
    firmware = FirmwareCoordinator(hass, entry, client, guard, coordinator)
    settings = SettingsCoordinator(hass, entry, client, guard, coordinator)
    data = entry.runtime_data = BotslabData(
        client=client,
        guard=guard,
        device_coordinator=coordinator,
        firmware_coordinator=firmware,
        settings_coordinator=settings,
        snapshots=SnapshotStore(hass, entry, client),
    )
    await coordinator.async_config_entry_first_refresh()
    # firmware and settings are not needed to start: a failed first read is retried on
    # their own rhythm (an expired sign-in still asks for reauthentication)
    await asyncio.gather(firmware.async_refresh(), settings.async_refresh())
    entry.async_on_unload(firmware.async_watch_devices())
    entry.async_on_unload(settings.async_watch_devices())
    entry.async_on_unload(async_track_issues(hass, entry))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    delivery = EventDelivery(
        hass,
        entry,
        client=client,
        devices=coordinator,
        guard=guard,
        snapshots=data.snapshots,
    )
    try:
        await delivery.async_start()
    except AuthExpired as err:
        await delivery.async_stop()
        await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="auth_expired"
        ) from err
    except BotslabError as err:
        await delivery.async_stop()
        await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
        raise not_ready(err) from err
    data.events = delivery
    data.push = PushLink(hass, entry, client, delivery, settings)
    await data.push.async_start()
    entry.async_on_unload(entry.add_update_listener(_reload_on_new_options(entry)))

    async def on_stop(_event: Event) -> None:
        # Home Assistant does not unload entries when it stops: events that came now would be
        # fired into a stopping Home Assistant (no automation runs) and marked delivered
        await _async_stop_events(data)

    entry.async_on_unload(hass.bus.async_listen(EVENT_HOMEASSISTANT_STOP, on_stop))
    return True


async def _async_stop_events(data: BotslabData) -> None:
    """Push and delivery stop, the message cursor written: what comes later is fetched at the
    next start."""
    if data.push is not None:
        await data.push.async_stop()
        data.push = None
    if data.events is not None:
        await data.events.async_stop()
        data.events = None
    await data.snapshots.async_stop()


def _reload_on_new_options(
    entry: BotslabConfigEntry,
) -> Callable[[HomeAssistant, BotslabConfigEntry], Coroutine[Any, Any, None]]:
    """The update listener, the one place that reloads a loaded entry: when the options
    changed, or a password sign-in (reauth, reconfigure) wrote new credentials. Tokens the
    cloud renews on its own need no reload. (Home Assistant 2026.12 refuses a reload from
    the config flow while an update listener exists.)"""
    options, signed_in = dict(entry.options), entry.data.get(CONF_SIGNED_IN)

    async def listener(hass: HomeAssistant, updated: BotslabConfigEntry) -> None:
        if dict(updated.options) != options or updated.data.get(CONF_SIGNED_IN) != signed_in:
            hass.config_entries.async_schedule_reload(updated.entry_id)

    return listener


async def async_unload_entry(hass: HomeAssistant, entry: BotslabConfigEntry) -> bool:
    """Returns True or raises: Home Assistant 2026.11 turns a False into an error."""
    await _async_stop_events(entry.runtime_data)
    try:
        if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="unload_failed")
    finally:
        # the client's own media session goes even when a platform stays (the unload
        # callbacks do not run then); it is made again if something still fetches
        await entry.runtime_data.client.close()
    return True


async def async_remove_entry(hass: HomeAssistant, entry: BotslabConfigEntry) -> None:
    """Forget the stored message cursor and snoozes of a removed entry."""
    await CursorStore(hass, entry.entry_id).async_remove()
    await snooze_store(hass, entry.entry_id).async_remove()


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: BotslabConfigEntry, device_entry: dr.DeviceEntry
) -> bool:
    """A device may be removed by hand when the cloud no longer lists it (a device still listed
    would come back at the next refresh). The account's own device stays while the entry
    does. With the entry not loaded nothing is known, and the user's word counts."""
    serials = serials_of(device_entry)
    if any(serial.startswith(ACCOUNT_PREFIX) for serial in serials):
        return False
    if entry.state is not ConfigEntryState.LOADED:
        return True
    data = entry.runtime_data.device_coordinator.data or {}
    return not serials & data.keys()
