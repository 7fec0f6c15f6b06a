"""The one error path (errors.py): from an entity command, the update entity, a settings switch
or an action, an expired login gives the same translated error and starts the reauth flow,
and a sign-in elsewhere gives the same translated error and the same repair issue."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_USER
from custom_components.botslab.const import DOMAIN
from tests.ha_helpers import scoped_uid

DOOR, GARDEN = "BDX3A1B2C3D4", "BCC5E5F6A7B8"


def _eid(hass: HomeAssistant, domain: str, unique_id: str) -> str:
    found = er.async_get(hass).async_get_entity_id(domain, DOMAIN, scoped_uid(hass, unique_id))
    assert found, unique_id
    return found


def _calls(hass: HomeAssistant) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """One user path of each kind: (domain, action, data)."""
    return {
        "switch": (
            "switch",
            "turn_on",
            {"entity_id": _eid(hass, "switch", f"{GARDEN}_privacy_mode")},
        ),
        "button": ("button", "press", {"entity_id": _eid(hass, "button", f"{GARDEN}_reboot")}),
        "update": ("update", "install", {"entity_id": _eid(hass, "update", f"{GARDEN}_firmware")}),
        "setting": (
            "switch",
            "turn_off",
            {"entity_id": _eid(hass, "switch", f"{GARDEN}_consent_ai_detection")},
        ),
        "action": ("botslab", "list_consents", {}),
    }


PATHS = ["switch", "button", "update", "setting", "action"]


async def _call(hass: HomeAssistant, path: str) -> HomeAssistantError:
    domain, action, data = _calls(hass)[path]
    with pytest.raises(HomeAssistantError) as caught:
        await hass.services.async_call(
            domain, action, data, blocking=True, return_response=path == "action"
        )
    return caught.value


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("path", PATHS)
async def test_an_expired_login_asks_to_sign_in_again(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, path: str
) -> None:
    for tok in emulator.world.accounts.tokens.values():
        tok.expired = True
    err = await _call(hass, path)
    assert err.translation_domain == DOMAIN and err.translation_key == "auth_expired"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"], path


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("path", PATHS)
async def test_a_sign_in_elsewhere_is_reported_the_same_way(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, path: str
) -> None:
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    emulator.world.accounts.app_login(acc.qid, acc.region, phone_app=True)  # the phone app
    err = await _call(hass, path)
    assert err.translation_domain == DOMAIN and err.translation_key == "session_conflict"
    await hass.async_block_till_done()
    issue = ir.async_get(hass).async_get_issue(DOMAIN, f"session_conflict_{entry.entry_id}")
    assert issue is not None and issue.is_fixable, path
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN), "no reauth for this"


async def test_a_device_the_cloud_no_longer_lists(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """A command to a device that left the account: a translated error, nothing raw."""
    button = _eid(hass, "button", f"{GARDEN}_reboot")
    emulator.world.remove_device(GARDEN)
    await entry.runtime_data.device_coordinator.async_refresh()
    await hass.async_block_till_done()
    entity = hass.data["entity_components"]["button"].get_entity(button)
    assert entity is not None
    with pytest.raises(HomeAssistantError) as caught:
        await entity.async_press()
    assert caught.value.translation_key == "device_gone"
