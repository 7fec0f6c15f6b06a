"""The one error path of commands and actions: every call a user starts (an entity command, an
action) runs inside `cloud_errors`. Library errors become translated Home Assistant errors; an
expired login starts the reauth flow from whichever path met it; the one-session conflict is
reported to the entry's session guard (which repairs shows) the same way everywhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .api import (
    ApiError,
    AuthExpired,
    BotslabConnectionError,
    BotslabError,
    PermissionDenied,
    SessionConflict,
)
from .const import DOMAIN


def translated(key: str, **placeholders: str) -> HomeAssistantError:
    """A Home Assistant error that the UI shows in the user's language."""
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def translate_error(err: BotslabError) -> HomeAssistantError:
    """A library error as the translated error a user sees."""
    if isinstance(err, PermissionDenied):
        return translated("permission_denied")
    if isinstance(err, AuthExpired):
        return translated("auth_expired")
    if isinstance(err, SessionConflict):
        return translated("session_conflict")
    if isinstance(err, BotslabConnectionError):
        return translated("cannot_connect")
    if isinstance(err, ApiError):
        return translated("api_error", code=str(err.code))
    return translated("unknown_error")


@contextmanager
def cloud_errors(hass: HomeAssistant, entry: ConfigEntry[Any]) -> Iterator[None]:
    """Around a cloud call a user started: raises only translated HomeAssistantErrors."""
    try:
        yield
    except AuthExpired as err:
        entry.async_start_reauth(hass)
        raise translate_error(err) from err
    except SessionConflict as err:
        data = getattr(entry, "runtime_data", None)
        if data is not None:
            data.guard.report()
        raise translate_error(err) from err
    except BotslabError as err:
        raise translate_error(err) from err
