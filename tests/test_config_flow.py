"""The config flow against the emulator: every path."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    SOURCE_RECONFIGURE,
    SOURCE_USER,
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowResult,
)
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from botslab_emulator import Emulator
from botslab_emulator.crypto import md5_hex
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER, NEIGHBOUR_USER, TRAVELLER_USER
from custom_components.botslab.const import (
    CONF_CAPTCHA,
    CONF_DOWNLOAD_SNAPSHOTS,
    CONF_IDENTITY,
    CONF_MAX_EVENT_AGE,
    CONF_MOTION_SECONDS,
    CONF_POLL_INTERVAL,
    CONF_Q,
    CONF_QID,
    CONF_REGION,
    DOMAIN,
)

from .conftest import add_entry, start_flow


async def reauth(hass: HomeAssistant, entry: ConfigEntry) -> ConfigFlowResult:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_REAUTH, "entry_id": entry.entry_id}, data=entry.data
    )


async def reconfigure(hass: HomeAssistant, entry: ConfigEntry) -> ConfigFlowResult:
    return await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )


async def test_user_form_defaults_region_from_country(ha: HomeAssistant) -> None:
    for country, region in (
        ("US", "na1"),
        ("SG", "ap1"),
        ("DE", "eu1"),
        ("NG", "eu1"),
        ("AU", "ap1"),
    ):
        ha.config.country = country
        result = await ha.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
        schema = result["data_schema"].schema
        default = next(k.default() for k in schema if k == CONF_REGION)
        assert default == region
        ha.config_entries.flow.async_abort(result["flow_id"])


async def test_the_user_s_path_names_no_emulator(
    hass: HomeAssistant, enable_custom_integrations: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The regions are BOTSLAB's four, whatever development's switch says; without it every
    region is the real cloud's (the emulator is reached only through BOTSLAB_EMULATOR_URL)."""
    from homeassistant.setup import async_setup_component

    from custom_components.botslab.api import REGIONS
    from custom_components.botslab.cloud import async_get_endpoints

    monkeypatch.delenv("BOTSLAB_EMULATOR_URL", raising=False)
    assert await async_setup_component(hass, DOMAIN, {})
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    selector = next(v for k, v in result["data_schema"].schema.items() if k == CONF_REGION)
    assert selector.config["options"] == list(REGIONS)
    endpoints = await async_get_endpoints(None, {CONF_REGION: "na1"})  # type: ignore[arg-type]
    assert endpoints.api_url == "https://na1-sapp-api.botslab.com"
    assert endpoints.trusted_hosts == ()


async def test_happy_path_stores_no_password(ha: HomeAssistant, emulator: Emulator) -> None:
    entry = await add_entry(ha)
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    assert entry.unique_id == acc.qid and entry.title == acc.nickname == "Demo"
    assert entry.data[CONF_REGION] == "eu1" and entry.data[CONF_QID] == acc.qid
    assert unquote(entry.data[CONF_Q]) in emulator.world.accounts.tokens, (
        "kept as the login sent it"
    )
    assert "%3D" in entry.data[CONF_Q]
    assert set(entry.data[CONF_IDENTITY]) == {"m2", "mid", "androidid"}
    assert "emulator_url" not in entry.data, "no development seam in a user's entry"
    flat = repr(entry.as_dict())
    assert DEMO_PASSWORD not in flat and md5_hex(DEMO_PASSWORD) not in flat
    assert CONF_PASSWORD not in entry.data
    assert entry.state is ConfigEntryState.LOADED
    await ha.config_entries.async_unload(entry.entry_id)


async def recover(hass: HomeAssistant, result: dict[str, Any]) -> ConfigEntry:
    """From an error form, the user types the right sign-in and gets the entry."""
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
    done = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_REGION: "eu1", CONF_USERNAME: DEMO_USER, CONF_PASSWORD: DEMO_PASSWORD},
    )
    assert done["type"] is FlowResultType.CREATE_ENTRY, done
    await hass.async_block_till_done()
    entry: ConfigEntry = done["result"]
    assert entry.state is ConfigEntryState.LOADED and entry.title == "Demo"
    assert await hass.config_entries.async_unload(entry.entry_id)
    return entry


async def test_wrong_password(ha: HomeAssistant) -> None:
    result = await start_flow(ha, DEMO_USER, "wrong")
    assert result["type"] is FlowResultType.FORM and result["errors"] == {"base": "invalid_auth"}
    result = await start_flow(ha, "nobody@example.com", "x")
    assert result["errors"] == {"base": "invalid_auth"}
    await recover(ha, result)


async def test_cannot_connect(ha: HomeAssistant, emulator: Emulator) -> None:
    emulator.faults.errors_left, emulator.faults.error_path = 10, "/quc/"
    result = await start_flow(ha, DEMO_USER, DEMO_PASSWORD)
    assert result["errors"] == {"base": "cannot_connect"}
    emulator.faults.errors_left = 0  # the cloud is back
    await recover(ha, result)


async def test_captcha_wrong_then_right(ha: HomeAssistant, emulator: Emulator) -> None:
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    acc.captcha_required = True
    result = await start_flow(ha, DEMO_USER, DEMO_PASSWORD)
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "captcha"
    first_image = result["description_placeholders"]["captcha"]
    assert first_image.startswith("![captcha](data:image/png;base64,")
    result = await ha.config_entries.flow.async_configure(result["flow_id"], {CONF_CAPTCHA: "0000"})
    assert result["step_id"] == "captcha" and result["errors"] == {"base": "invalid_captcha"}
    assert result["description_placeholders"]["captcha"] != first_image, "a new image"
    challenge = emulator.world.accounts.latest_challenge()
    assert challenge is not None
    result = await ha.config_entries.flow.async_configure(
        result["flow_id"], {CONF_CAPTCHA: challenge.code}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await ha.async_block_till_done()
    assert (
        challenge.mid in acc.known_mids
        and result["result"].data[CONF_IDENTITY]["mid"] == challenge.mid
    )
    await ha.config_entries.async_unload(result["result"].entry_id)


async def test_region_fallback(ha: HomeAssistant) -> None:
    result = await start_flow(ha, TRAVELLER_USER, "traveller-demo")
    assert result["type"] is FlowResultType.CREATE_ENTRY and result["data"][CONF_REGION] == "na1"
    await ha.async_block_till_done()
    await ha.config_entries.async_unload(result["result"].entry_id)


async def test_malformed_cloud_answer_is_unknown(ha: HomeAssistant, emulator: Emulator) -> None:
    emulator.faults.errors_left, emulator.faults.error_path, emulator.faults.error_status = (
        1,
        "/quc/",
        200,
    )
    result = await start_flow(ha, DEMO_USER, DEMO_PASSWORD)
    assert result["type"] is FlowResultType.FORM and result["errors"] == {"base": "unknown"}
    await recover(ha, result)


async def test_the_captcha_step_without_a_challenge(ha: HomeAssistant, emulator: Emulator) -> None:
    """The captcha step only follows a challenge; reached otherwise it aborts, and shown
    again without input it shows the same picture."""
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    acc.captcha_required = True
    result = await start_flow(ha, DEMO_USER, DEMO_PASSWORD)
    assert result["step_id"] == "captcha"
    flow = ha.config_entries.flow._progress[result["flow_id"]]
    again = await flow.async_step_captcha(None)
    assert again["type"] is FlowResultType.FORM and again["step_id"] == "captcha"
    assert again["description_placeholders"] == result["description_placeholders"]
    flow._captcha = None
    gone = await flow.async_step_captcha({CONF_CAPTCHA: "0000"})
    assert gone["type"] is FlowResultType.ABORT and gone["reason"] == "unknown"
    ha.config_entries.flow.async_abort(result["flow_id"])


async def test_duplicate_account_aborts(ha: HomeAssistant) -> None:
    entry = await add_entry(ha)
    result = await start_flow(ha, DEMO_USER, DEMO_PASSWORD)
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "already_configured"
    await ha.config_entries.async_unload(entry.entry_id)


def requests_since(emulator: Emulator, before: dict[str, int]) -> dict[str, int]:
    """Password logins, app logins and device-list reads since `before`."""
    now = emulator.counters.requests

    def count(match: str) -> int:
        return sum(n - before.get(path, 0) for path, n in now.items() if match in path)

    return {
        "quc": count("/request.php"),
        "app_login": count("/v1/app/login"),
        "device_list": count("/v1/iot/device/list"),
    }


async def test_reauth(ha: HomeAssistant, emulator: Emulator) -> None:
    entry = await add_entry(ha)
    old_q = entry.data[CONF_Q]
    result = await reauth(ha, entry)
    assert result["step_id"] == "reauth_confirm"
    result = await ha.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    before = dict(emulator.counters.requests)
    result = await ha.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: DEMO_PASSWORD}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reauth_successful"
    await ha.async_block_till_done()
    assert entry.data[CONF_Q] != old_q and entry.state is ConfigEntryState.LOADED
    # one password login in the flow, one reload (one app login, one device list)
    assert requests_since(emulator, before) == {"quc": 1, "app_login": 1, "device_list": 1}
    assert DEMO_PASSWORD not in repr(entry.as_dict())
    await ha.config_entries.async_unload(entry.entry_id)


async def test_reauth_with_another_account_aborts(ha: HomeAssistant, emulator: Emulator) -> None:
    entry = await add_entry(ha)
    await ha.config_entries.async_unload(entry.entry_id)
    # the stored sign-in now belongs to a different account than the entry's
    ha.config_entries.async_update_entry(entry, unique_id="424242")
    result = await reauth(ha, entry)
    result = await ha.config_entries.flow.async_configure(
        result["flow_id"], {CONF_PASSWORD: DEMO_PASSWORD}
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "wrong_account"


async def test_reconfigure(ha: HomeAssistant, emulator: Emulator) -> None:
    entry = await add_entry(ha)
    result = await reconfigure(ha, entry)
    assert result["step_id"] == "reconfigure"
    result = await ha.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_REGION: "eu1",
            CONF_USERNAME: NEIGHBOUR_USER,
            CONF_PASSWORD: "neighbour-demo",
        },
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "wrong_account"
    result = await reconfigure(ha, entry)
    wrong = await ha.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_REGION: "eu1", CONF_USERNAME: DEMO_USER, CONF_PASSWORD: "wrong"},
    )
    assert wrong["type"] is FlowResultType.FORM and wrong["errors"] == {"base": "invalid_auth"}
    before = dict(emulator.counters.requests)
    result = await ha.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_REGION: "eu1",
            CONF_USERNAME: "4915123456789",
            CONF_PASSWORD: DEMO_PASSWORD,
        },
    )
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
    await ha.async_block_till_done()
    assert entry.data[CONF_USERNAME] == "4915123456789" and entry.state is ConfigEntryState.LOADED
    assert requests_since(emulator, before) == {"quc": 1, "app_login": 1, "device_list": 1}
    await ha.config_entries.async_unload(entry.entry_id)


async def test_options(ha: HomeAssistant, emulator: Emulator) -> None:
    entry = await add_entry(ha)
    result = await ha.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "init"
    result = await ha.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_POLL_INTERVAL: 120,
            CONF_MOTION_SECONDS: 45,
            CONF_DOWNLOAD_SNAPSHOTS: False,
            CONF_MAX_EVENT_AGE: 300,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await ha.async_block_till_done()
    assert entry.options == {
        CONF_POLL_INTERVAL: 120,
        CONF_MOTION_SECONDS: 45,
        CONF_DOWNLOAD_SNAPSHOTS: False,
        CONF_MAX_EVENT_AGE: 300,
        # live view prepared on a ring: the defaults (30 s, not on a person, 20% battery)
        "live_prepare_seconds": 30,
        "live_prepare_person": False,
        "live_prepare_min_battery": 20,
    }
    assert entry.state is ConfigEntryState.LOADED, "reloaded with the new options"
    assert entry.runtime_data.push.poll_interval == 120
    # new tokens (or any data change) are saved without a reload
    before = dict(emulator.counters.requests)
    ha.config_entries.async_update_entry(entry, data={**entry.data, CONF_Q: "u%3D1%26n%3D2"})
    await ha.async_block_till_done()
    assert requests_since(emulator, before)["device_list"] == 0
    await ha.config_entries.async_unload(entry.entry_id)


@pytest.mark.parametrize(
    ("username", "nickname", "title"),
    [
        ("4915700001234", "4915700001234", "491*******234"),
        ("erika@example.net", "erika@example.net", "e***@example.net"),
        ("4915700005678", "Erika", "Erika"),
        ("4915700009999", "", "491*******999"),
    ],
)
async def test_the_entry_title_never_shows_a_phone_number_or_email(
    ha: HomeAssistant, emulator: Emulator, username: str, nickname: str, title: str
) -> None:
    """Home Assistant's own log lines and the media browser show the entry title."""
    acc = emulator.world.accounts.add(username, "pw-title", "eu1", nickname=nickname)
    acc.nickname = nickname  # an account without any nickname, as the cloud may have
    entry = await add_entry(ha, username, "pw-title")
    assert entry.title == title
    await ha.config_entries.async_unload(entry.entry_id)
