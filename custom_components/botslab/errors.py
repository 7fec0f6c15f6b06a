"""The one error path of commands and actions: every cloud call a user starts runs inside
`cloud_errors`, an entity's command through the `cloud_command` decorator on its own method
(as Home Assistant's model integrations do), an action's in a `with cloud_errors(...)` block.
Library errors become translated Home Assistant errors; an expired login starts the reauth
flow from whichever path met it; the one-session conflict is reported to the entry's session
guard (which repairs shows) the same way everywhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
import functools
import math
from typing import Any, cast

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from .api import (
    ApiError,
    AuthExpired,
    BotslabConnectionError,
    BotslabError,
    FeatureUnavailable,
    PermissionDenied,
    RateLimited,
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


def pause_placeholders(seconds: float | None) -> dict[str, str]:
    """When the cloud may be asked again, for a message: the local time and the seconds."""
    left = max(1, math.ceil(seconds or 0))
    when = dt_util.as_local(dt_util.utcnow() + timedelta(seconds=left))
    return {"time": when.strftime("%H:%M:%S"), "seconds": str(left)}


def translate_error(err: BotslabError) -> HomeAssistantError:
    """A library error as the translated error a user sees."""
    if isinstance(err, RateLimited):
        return translated("rate_limited", **pause_placeholders(err.retry_after))
    if isinstance(err, PermissionDenied):
        return translated("permission_denied")
    if isinstance(err, AuthExpired):
        return translated("auth_expired")
    if isinstance(err, SessionConflict):
        return translated("session_conflict")
    if isinstance(err, FeatureUnavailable):
        return translated("feature_unavailable", code=str(err.code))
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


def cloud_command[F: Callable[..., Awaitable[Any]]](method: F) -> F:
    """An entity method that calls the cloud, through the one error path (the entity's entry
    is its coordinator's)."""

    @functools.wraps(method)
    async def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        with cloud_errors(self.hass, self.coordinator.config_entry):
            return await method(self, *args, **kwargs)

    return cast("F", command)
