"""Helpers of the Home Assistant tests."""

from __future__ import annotations

from homeassistant.core import HomeAssistant

from custom_components.botslab.const import ACCOUNT_PREFIX, CONF_QID, DOMAIN


def scoped_uid(hass: HomeAssistant, unique_id: str) -> str:
    """A device entity's unique id as the integration writes it, scoped to the account of the
    one BOTSLAB entry: `{qid}_{serial}_{key}` for `{serial}_{key}`. The account's own
    entities (`account_…`) are already scoped."""
    if unique_id.startswith(ACCOUNT_PREFIX):
        return unique_id
    entries = hass.config_entries.async_entries(DOMAIN)
    assert len(entries) == 1, "scoped_uid needs exactly one BOTSLAB entry"
    return f"{entries[0].data[CONF_QID]}_{unique_id}"
