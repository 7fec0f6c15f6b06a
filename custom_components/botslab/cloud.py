"""How a config entry reaches the BOTSLAB cloud: its endpoints, its credentials and identity,
and the callback that keeps refreshed tokens in the entry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
import os
from typing import Any

import aiohttp
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant

from .api import BotslabConnectionError, CloudSession, Credentials, Endpoints, Identity
from .const import CONF_IDENTITY, CONF_Q, CONF_QID, CONF_REGION, CONF_T, ENV_EMULATOR_URL


async def async_get_endpoints(
    http_session: aiohttp.ClientSession, data: Mapping[str, Any]
) -> Endpoints:
    """Production endpoints for the entry's region. Development's one switch: with the
    environment variable BOTSLAB_EMULATOR_URL set (scripts/develop, the tests), every region
    is the project's emulator at that address. A user never meets it: nothing in the UI or
    in an entry names the emulator."""
    region = str(data[CONF_REGION])
    url = os.environ.get(ENV_EMULATOR_URL, "").strip()
    if not url:
        return Endpoints.production(region)
    try:
        async with http_session.get(
            f"{str(url).rstrip('/')}/_emulator/config", timeout=aiohttp.ClientTimeout(total=10)
        ) as resp:
            resp.raise_for_status()
            config = await resp.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as err:
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


def token_saver(
    hass: HomeAssistant, entry: ConfigEntry[Any]
) -> Callable[[Credentials, CloudSession | None], None]:
    """Persist Q/T when they change (the sid and alias live only in memory)."""

    def save(credentials: Credentials, _session: CloudSession | None) -> None:
        if entry.data.get(CONF_Q) == credentials.q and entry.data.get(CONF_T) == credentials.t:
            return
        hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_Q: credentials.q, CONF_T: credentials.t}
        )

    return save
