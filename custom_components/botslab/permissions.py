"""Who may change what: the writes that only administrators may make, through an action or an
entity alike (who sees the cameras and what the cloud keeps: sharing, consents, data rights).
A call without a user (an automation, a script) is allowed, as in Home Assistant's own
admin-only actions."""

from __future__ import annotations

from homeassistant.auth.permissions.const import POLICY_CONTROL
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, Unauthorized

from .const import DOMAIN


class AdminRequired(Unauthorized):
    """A user who is not an administrator asked for an admin-only change (translated)."""

    def __init__(self, context: Context | None, user_id: str | None = None) -> None:
        Unauthorized.__init__(self, context=context, user_id=user_id, permission=POLICY_CONTROL)
        HomeAssistantError.__init__(self, translation_domain=DOMAIN, translation_key="admin_only")


async def async_require_admin(hass: HomeAssistant, context: Context | None) -> None:
    """Raise AdminRequired unless the call comes from an administrator or from no user."""
    if context is None or context.user_id is None:
        return
    user = await hass.auth.async_get_user(context.user_id)
    if user is None or not user.is_admin:
        raise AdminRequired(context, None if user is None else user.id)
