"""Actions: sharing, consents, notifications, data rights; entities for consents and shares."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from homeassistant.auth.const import GROUP_ID_USER
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError, Unauthorized
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockUser
import yaml

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_USER, NEIGHBOUR_USER
from custom_components.botslab.const import DOMAIN
from tests.ha_helpers import scoped_uid

from .conftest import find_device

DOOR, GARDEN, DRIVE = "BDX3A1B2C3D4", "BCC5E5F6A7B8", "BCC5A0B1C2D3"


def device_id(hass: HomeAssistant, serial: str) -> str:
    found = find_device(hass, serial)
    assert found is not None
    return found.id


async def call(
    hass: HomeAssistant,
    service: str,
    data: dict[str, Any],
    *,
    response: bool = False,
    context: Context | None = None,
) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=response, context=context
    )


def switch_free_eid(hass: HomeAssistant, platform: str, unique_id: str) -> str:
    found = er.async_get(hass).async_get_entity_id(platform, DOMAIN, scoped_uid(hass, unique_id))
    assert found, unique_id
    return found


def switch(hass: HomeAssistant, unique_id: str) -> str:
    found = er.async_get(hass).async_get_entity_id("switch", DOMAIN, scoped_uid(hass, unique_id))
    assert found, unique_id
    return found


async def test_share_list_unshare(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    hass.config.country = "DE"
    garden = device_id(hass, GARDEN)
    result = await call(
        hass,
        "share_device",
        {"device_id": garden, "phone": "0176 1234 5678", "level": "control"},
        response=True,
    )
    share = result["share"]
    assert (
        share["level"] == "control"
        and share["status"] == "pending"
        and "5678" not in share["shared_with"]
    )
    stored = [s for s in emulator.world.sharing.shares.values() if s.device_name == GARDEN]
    assert [(s.mobile, s.level) for s in stored] == [("4917612345678", 2)], "normalised to E.164"
    # the "Shares" sensor counts it while it is pending (the user just made it)
    await entry.runtime_data.settings_coordinator.async_refresh()
    await hass.async_block_till_done()
    shares = hass.states.get(switch_free_eid(hass, "sensor", f"{GARDEN}_shares"))
    assert shares.state == "1" and shares.attributes["pending"] == 1
    assert shares.attributes["sharing"] == 0
    await call(hass, "share_device", {"device_id": garden, "email": NEIGHBOUR_USER})
    listed = await call(hass, "list_shares", {"device_id": garden}, response=True)
    assert {s["level"] for s in listed["shares"]} == {"control", "view"}
    assert all("@example" not in s["shared_with"] for s in listed["shares"])
    assert NEIGHBOUR_USER not in json.dumps(listed) and "4917612345678" not in json.dumps(listed)
    await call(hass, "unshare_device", {"device_id": garden, "phone": "+49 176 12345678"})
    await call(
        hass, "unshare_device", {"device_id": garden, "share_id": listed["shares"][1]["share_id"]}
    )
    assert not [s for s in emulator.world.sharing.shares.values() if s.device_name == GARDEN]
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "unshare_device", {"device_id": garden, "email": "nobody@example.com"})
    assert err.value.translation_key == "unknown_share"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"phone": "12"}, "invalid_phone"),
        ({"phone": "+49 0000"}, "invalid_phone"),
        ({"email": "not-an-email"}, "invalid_email"),
        ({"email": "a@b.c", "phone": "+4917612345678"}, "phone_or_email"),
        ({}, "phone_or_email"),
    ],
)
async def test_share_rejects_bad_input_and_changes_nothing(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, data: dict[str, str], key: str
) -> None:
    before = len(emulator.world.sharing.shares)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "share_device", {"device_id": device_id(hass, GARDEN), **data})
    assert err.value.translation_key == key
    assert len(emulator.world.sharing.shares) == before


async def test_share_errors(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "share_device", {"device_id": device_id(hass, DRIVE), "email": "x@example.com"}
        )
    assert err.value.translation_key == "not_owner"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "share_device", {"device_id": "no-such-device", "email": "x@example.com"})
    assert err.value.translation_key == "unknown_device"
    with pytest.raises(HomeAssistantError) as cloud:
        await call(hass, "share_device", {"device_id": device_id(hass, GARDEN), "email": DEMO_USER})
    assert cloud.value.translation_key == "api_error" and cloud.value.translation_placeholders == {
        "code": "202102"
    }
    await hass.config_entries.async_unload(entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass, "share_device", {"device_id": device_id(hass, GARDEN), "email": "x@example.com"}
        )
    assert err.value.translation_key == "account_not_loaded"


async def test_invitations(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    neighbour = emulator.world.accounts.find(NEIGHBOUR_USER)
    assert neighbour is not None
    other = emulator.world.devices.add(
        neighbour.qid, title="Shed", category_key="camera", product_name="Outdoor Camera C5"
    )
    share = emulator.world.sharing.share(
        neighbour.qid, other.product_key, other.device_name, email=DEMO_USER, level=1
    )
    invitations = await call(hass, "list_invitations", {}, response=True)
    assert invitations == {
        "invitations": [
            {
                "invitation_id": share.id,
                "device": "Shed",
                "serial": other.device_name,
                "level": "view",
                "from": "Neighbour",
            }
        ]
    }
    with pytest.raises(ServiceValidationError):
        await call(hass, "accept_invitation", {"invitation_id": 99})
    await call(hass, "accept_invitation", {"invitation_id": share.id})
    await entry.runtime_data.device_coordinator.async_refresh()
    await hass.async_block_till_done()
    assert find_device(hass, other.device_name) is not None
    second = emulator.world.sharing.share(
        neighbour.qid, other.product_key, other.device_name, mobile="4915123456789"
    )
    # the demo account's phone: an invitation to refuse
    assert second.target_qid
    await call(hass, "refuse_invitation", {"invitation_id": second.id})
    assert second.id not in emulator.world.sharing.shares


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_consents_actions_and_switches(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    qid = entry.runtime_data.client.credentials.qid
    marketing = switch(hass, f"account_{qid}_consent_marketing")
    assert hass.states.get(marketing).state == STATE_OFF
    await hass.services.async_call("switch", "turn_on", {"entity_id": marketing}, blocking=True)
    assert hass.states.get(marketing).state == STATE_ON
    assert emulator.world.consents.granted(qid, "marketing")
    await call(hass, "set_consent", {"scope": "marketing", "granted": False})
    await hass.async_block_till_done()
    assert hass.states.get(marketing).state == STATE_OFF
    # device consents: the switch follows the cloud
    recording = switch(hass, f"{GARDEN}_consent_cloud_recording")
    await hass.services.async_call("switch", "turn_off", {"entity_id": recording}, blocking=True)
    dev = emulator.world.devices[GARDEN]
    assert not emulator.world.consents.device_granted(dev, "cloud_recording")
    assert hass.states.get(recording).state == STATE_OFF
    consents = await call(hass, "list_consents", {}, response=True)
    entry_ = next(
        c for c in consents["consents"] if c["scope"] == "cloud_recording" and c["serial"] == GARDEN
    )
    assert entry_["granted"] is False and entry_["device"] == "Garden"
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "set_consent", {"scope": "event_upload", "granted": False})
    assert err.value.translation_key == "device_scope_needs_device"
    with pytest.raises(ServiceValidationError) as err:
        await call(
            hass,
            "set_consent",
            {"scope": "push", "granted": False, "device_id": device_id(hass, GARDEN)},
        )
    assert err.value.translation_key == "account_scope_no_device"
    assert (
        er.async_get(hass).async_get_entity_id(
            "switch", DOMAIN, scoped_uid(hass, f"{DRIVE}_consent_event_upload")
        )
        is None
    )


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_withdrawn_event_upload_stops_events(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    await call(
        hass,
        "set_consent",
        {"scope": "event_upload", "granted": False, "device_id": device_id(hass, GARDEN)},
    )
    await hass.async_block_till_done()
    motion = er.async_get(hass).async_get_entity_id(
        "event", DOMAIN, scoped_uid(hass, f"{GARDEN}_motion")
    )
    assert hass.states.get(motion).state == STATE_UNAVAILABLE
    assert (await emulator.trigger(GARDEN, "person"))["msg_id"] is None
    assert hass.states.get(switch(hass, f"{GARDEN}_consent_event_upload")).state == STATE_OFF


async def test_notifications(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    qid = entry.runtime_data.client.credentials.qid
    acc = emulator.world.accounts[qid]
    await call(hass, "set_do_not_disturb", {"enabled": True, "start": "22:30", "end": "06:45"})
    assert acc.dnd == {"is_open": 1, "start_time": "22:30", "end_time": "06:45"}
    assert hass.states.get(switch(hass, f"account_{qid}_do_not_disturb")).state == STATE_ON
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "set_do_not_disturb", {"enabled": True, "start": "25:00"})
    assert err.value.translation_key == "invalid_time"
    garden = device_id(hass, GARDEN)
    await call(
        hass,
        "set_device_notifications",
        {"device_id": garden, "enabled": True, "kinds": ["person", "ring"]},
    )
    setting = acc.device_settings[f"pk_camera_c5_{GARDEN}"]
    assert setting["event"]["dsl.event.post.HumanPass"] == {"is_open": 1}
    assert setting["event"]["dsl.event.post.FrameChange"] == {"is_open": 0}
    notifications = switch(hass, f"{GARDEN}_notifications")
    await hass.services.async_call(
        "switch", "turn_off", {"entity_id": notifications}, blocking=True
    )
    assert acc.device_settings[f"pk_camera_c5_{GARDEN}"]["is_open"] == 0
    assert hass.states.get(notifications).state == STATE_OFF
    await call(hass, "snooze_notifications", {"device_id": garden, "duration": {"minutes": 30}})
    assert acc.snoozes[f"pk_camera_c5_{GARDEN}"] > emulator.world.now() + 1700


async def test_data_rights(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    qid = entry.runtime_data.client.credentials.qid
    emulator.world.sharing.share(qid, "pk_camera_c5", GARDEN, email=NEIGHBOUR_USER)
    exported = await call(hass, "export_data", {"write_file": True}, response=True)
    document = exported["document"]
    assert {d["device_name"] for d in document["devices"]} == {DOOR, GARDEN, "BCC2C9D0E1F2", DRIVE}
    assert any(s["device_name"] == GARDEN for s in document["shares"])
    assert any(c["scope"] == "event_upload" for c in document["consents"])
    path = Path(exported["file"])
    assert path.parent == Path(hass.config.config_dir) and json.loads(path.read_text()) == document
    await call(hass, "restrict_processing", {"restricted": True})
    assert emulator.world.accounts[qid].restricted
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "request_erasure", {"confirm": "yes please"}, response=True)
    assert err.value.translation_key == "erasure_confirm"
    assert err.value.translation_placeholders == {"account": entry.title}
    with pytest.raises(ServiceValidationError):  # the hidden account id is not what is asked
        await call(hass, "request_erasure", {"confirm": qid}, response=True)
    assert emulator.world.accounts[qid].erasure is None
    # what the user sees on the integrations page, as they would type it
    shown = hass.config_entries.async_get_entry(entry.entry_id).title
    erased = await call(hass, "request_erasure", {"confirm": f" {shown.lower()} "}, response=True)
    assert erased["request_id"] and len(erased["due_date"]) == 10


async def test_network_test(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    result = await call(
        hass, "run_network_test", {"device_id": device_id(hass, GARDEN)}, response=True
    )
    assert (
        result["network_type"] == "wifi"
        and result["signal_dbm"] == -58
        and result["latency_ms"] == 38
    )
    await call(hass, "set_consent", {"scope": "network_test", "granted": False})
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "run_network_test", {"device_id": device_id(hass, GARDEN)}, response=True)
    assert err.value.translation_placeholders == {"code": "202105"}


async def test_shares_sensor(hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator) -> None:
    qid = entry.runtime_data.client.credentials.qid
    share = emulator.world.sharing.share(
        qid, "pk_camera_c5", GARDEN, mobile="4917699999999", level=2
    )
    share.status = 2
    await entry.runtime_data.settings_coordinator.async_refresh()
    await hass.async_block_till_done()
    sensor = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, scoped_uid(hass, f"{GARDEN}_shares")
    )
    state = hass.states.get(sensor)
    assert state.state == "1"
    assert state.attributes["shares"] == [
        {"level": "control", "status": "sharing", "shared_with": "491*******999"}
    ]


async def test_admin_only_actions(
    hass: HomeAssistant, entry: ConfigEntry, hass_read_only_user: Any, hass_admin_user: Any
) -> None:
    user = Context(user_id=hass_read_only_user.id)
    for service, data in (
        ("share_device", {"device_id": device_id(hass, GARDEN), "email": "x@example.com"}),
        ("set_consent", {"scope": "push", "granted": False}),
        ("restrict_processing", {"restricted": True}),
    ):
        with pytest.raises(Unauthorized):
            await call(hass, service, data, context=user)
    with pytest.raises(Unauthorized):
        await call(hass, "export_data", {}, response=True, context=user)
    # a normal user may use the rest
    listed = await call(hass, "list_consents", {}, response=True, context=user)
    assert listed["consents"]
    await call(hass, "set_do_not_disturb", {"enabled": False}, context=user)
    # and an admin everything
    assert (
        await call(
            hass, "export_data", {}, response=True, context=Context(user_id=hass_admin_user.id)
        )
    )["document"]


async def test_no_phone_or_email_in_logs(
    hass: HomeAssistant, entry: ConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    garden = device_id(hass, GARDEN)
    await call(hass, "share_device", {"device_id": garden, "phone": "+4917612345678"})
    await call(hass, "share_device", {"device_id": garden, "email": "carol@example.org"})
    await call(hass, "list_shares", {"device_id": garden}, response=True)
    await call(hass, "unshare_device", {"device_id": garden, "email": "carol@example.org"})
    with pytest.raises(ServiceValidationError):
        await call(hass, "share_device", {"device_id": garden, "phone": "+4917612"})
    for record in caplog.records:
        if record.name == "homeassistant.core" and record.getMessage().startswith("Bus:"):
            # Home Assistant's own DEBUG trace of the event bus (2026.x) echoes every action
            # call's data as the caller typed it; nothing of this integration's making
            continue
        text = record.getMessage() + repr(record.args)
        for secret in ("4917612345678", "17612345678", "carol@example.org", DEMO_USER):
            assert secret not in text, record.getMessage()


CONSENT_SWITCHES = [
    ("account", "marketing"),
    ("account", "push"),
    ("account", "analytics"),
    ("account", "network_test"),
    (GARDEN, "event_upload"),
    (GARDEN, "cloud_recording"),
    (GARDEN, "ai_detection"),
]


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize(("owner", "scope"), CONSENT_SWITCHES)
async def test_consent_switches_are_admin_only(  # noqa: PLR0917 (fixtures)
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: Emulator,
    hass_admin_user: Any,
    local_auth: Any,
    owner: str,
    scope: str,
) -> None:
    """set_consent is admin-only; the consent switches change the same thing, so a user who
    is not an administrator gets the same translated Unauthorized, and the cloud is left as
    it was. An administrator, and an automation (no user), may."""
    prefix = f"account_{entry.runtime_data.client.credentials.qid}" if owner == "account" else owner
    switch = er.async_get(hass).async_get_entity_id(
        "switch", DOMAIN, scoped_uid(hass, f"{prefix}_consent_{scope}")
    )
    assert switch is not None
    acc = emulator.world.accounts.find(DEMO_USER)
    assert acc is not None
    dev = emulator.world.devices.get(owner)

    def granted() -> bool:
        if dev is None:
            return emulator.world.consents.granted(acc.qid, scope)
        return emulator.world.consents.device_granted(dev, scope)

    # a user of the "Users" group: may control every entity, is no administrator
    users = await hass.auth.async_get_group(GROUP_ID_USER)
    member = MockUser(groups=[users]).add_to_hass(hass)
    assert not member.is_admin
    before = granted()
    service = "turn_off" if before else "turn_on"
    with pytest.raises(Unauthorized) as err:
        await hass.services.async_call(
            "switch",
            service,
            {"entity_id": switch},
            blocking=True,
            context=Context(user_id=member.id),
        )
    assert err.value.translation_key == "admin_only"
    assert granted() == before, "the cloud did not change"
    await hass.services.async_call(
        "switch",
        service,
        {"entity_id": switch},
        blocking=True,
        context=Context(user_id=hass_admin_user.id),
    )
    assert granted() != before
    await hass.services.async_call("switch", "toggle", {"entity_id": switch}, blocking=True)
    assert granted() == before, "an automation may"


async def test_unshare_only_cancels_a_share_of_that_device(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """A share id of another device, or of a share made to this account, is refused and
    every share stays."""
    qid = entry.runtime_data.client.credentials.qid
    living = emulator.world.sharing.share(qid, "pk_camera_c2", "BCC2C9D0E1F2", email=NEIGHBOUR_USER)
    incoming = next(s for s in emulator.world.sharing.shares.values() if s.device_name == DRIVE)
    before = set(emulator.world.sharing.shares)
    for share_id in (living.id, incoming.id, 10**40):
        with pytest.raises(ServiceValidationError) as err:
            await call(
                hass, "unshare_device", {"device_id": device_id(hass, GARDEN), "share_id": share_id}
            )
        assert err.value.translation_key == "unknown_share"
    assert set(emulator.world.sharing.shares) == before
    # the right device still works by id
    await call(
        hass,
        "unshare_device",
        {"device_id": device_id(hass, "BCC2C9D0E1F2"), "share_id": living.id},
    )
    assert living.id not in emulator.world.sharing.shares


@pytest.mark.parametrize(
    "value",
    [
        "12:30 and then some",
        "١٢:٣٠",
        "1٢:٣0",
        "0٩:3٠",
        "１２:３０",
        "12:3",
        "7:30",
        "24:00",
        " ",
        "12:30:60",
        "12:30:00:00",
    ],
)
async def test_do_not_disturb_times_are_anchored_ascii(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, value: str
) -> None:
    acc = emulator.world.accounts[entry.runtime_data.client.credentials.qid]
    before = dict(acc.dnd)
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "set_do_not_disturb", {"enabled": True, "start": value, "end": "06:00"})
    assert err.value.translation_key == "invalid_time"
    assert acc.dnd == before


@pytest.mark.parametrize(
    "duration",
    [10**30, "1e300", {"days": 10**12}, "99999999999:00:00", {"days": 8}, 0, "-00:10:00"],
)
async def test_snooze_durations_are_bounded(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, duration: Any
) -> None:
    acc = emulator.world.accounts[entry.runtime_data.client.credentials.qid]
    with pytest.raises(vol_invalid()):
        await call(
            hass,
            "snooze_notifications",
            {"device_id": device_id(hass, GARDEN), "duration": duration},
        )
    assert not acc.snoozes


def vol_invalid() -> type[Exception]:
    """The schema error type of the running Home Assistant (voluptuous or probatio)."""
    from custom_components.botslab.compat import vol

    invalid: type[Exception] = vol.Invalid
    return invalid


async def test_network_test_of_a_shared_camera_hides_the_owners_network(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    own = await call(
        hass, "run_network_test", {"device_id": device_id(hass, GARDEN)}, response=True
    )
    assert own["ip"] == "192.0.2.17" and own["isp"] == "Emulated ISP"
    shared = await call(
        hass, "run_network_test", {"device_id": device_id(hass, DRIVE)}, response=True
    )
    assert shared["ip"] is None and shared["isp"] is None
    assert shared["network_type"] == "wifi" and shared["result"] == "good"
    assert "192.0.2.17" not in json.dumps(shared)


async def test_nicknames_that_are_phone_numbers_or_emails_are_masked(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """Accounts registered by phone have the number as nickname: it is masked like one."""
    world = emulator.world
    world.accounts.add("4917655501234", "pw-1", "eu1", nickname="4917655501234")
    world.accounts.add("dora@example.net", "pw-2", "eu1", nickname="dora@example.net")
    friend = world.accounts.add("friend@example.net", "pw-3", "eu1", nickname="+49 176 555 0999")
    cam = world.devices.add(
        friend.qid,
        title="Friend's Porch",
        category_key="camera",
        product_name="Outdoor Camera C5",
        product_key="pk_camera_c5",
        device_name="BCC5F0F1F2F3",
    )
    world.sharing.share(friend.qid, cam.product_key, cam.device_name, email=DEMO_USER)
    garden = device_id(hass, GARDEN)
    shared = await call(
        hass, "share_device", {"device_id": garden, "phone": "+4917655501234"}, response=True
    )
    await call(hass, "share_device", {"device_id": garden, "email": "dora@example.net"})
    listed = await call(hass, "list_shares", {"device_id": garden}, response=True)
    invitations = await call(hass, "list_invitations", {}, response=True)
    text = json.dumps([shared, listed, invitations])
    for personal in ("4917655501234", "dora@example.net", "555 0999", "0999"):
        assert personal not in text, personal
    assert shared["share"]["nickname"].startswith("491") and "*" in shared["share"]["nickname"]
    assert {s["nickname"] for s in listed["shares"]} >= {"d***@example.net"}
    assert [i["from"] for i in invitations["invitations"]] == ["+49" + "*" * 10 + "999"]


async def test_do_not_disturb_as_the_time_selector_sends_it(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """The action's form has time selectors, which send `HH:MM:SS`; the cloud keeps `HH:MM`,
    and the switch shows the hours."""
    acc = emulator.world.accounts[entry.runtime_data.client.credentials.qid]
    await call(
        hass, "set_do_not_disturb", {"enabled": True, "start": "22:00:00", "end": "07:30:00"}
    )
    assert acc.dnd == {"is_open": 1, "start_time": "22:00", "end_time": "07:30"}
    qid = entry.runtime_data.client.credentials.qid
    state = hass.states.get(switch(hass, f"account_{qid}_do_not_disturb"))
    assert state.state == STATE_ON
    assert state.attributes["start"] == "22:00" and state.attributes["end"] == "07:30"


def _offered(hass: HomeAssistant, device: Any, selector: dict[str, Any]) -> bool:
    """Whether the frontend's device selector offers a device of the integration's entry:
    one of its entities matches an entity filter (integration, domain and any of the
    supported features)."""
    from homeassistant.components import camera

    for entity in er.async_entries_for_device(er.async_get(hass), device.id):
        state = hass.states.get(entity.entity_id)
        have = state.attributes.get("supported_features", 0) if state else 0
        for wanted in selector["entity"]:
            if entity.platform != wanted["integration"] or entity.domain != wanted["domain"]:
                continue
            features = [
                getattr(camera.CameraEntityFeature, name.rsplit(".", 1)[1])
                for name in wanted.get("supported_features", [])
            ]
            if not features or any(have & feature for feature in features):
                return True
    return False


async def test_the_share_pickers_offer_only_the_account_s_own_cameras(
    hass: HomeAssistant, entry: ConfigEntry
) -> None:
    """share_device, unshare_device and list_shares pick a device as services.yaml's
    selector filters them in the frontend: the cameras the account owns, not the account
    device and not Driveway, shared with it (only its owner may share it)."""
    from homeassistant.helpers import device_registry as dr

    services = yaml.safe_load(
        (Path(__file__).parents[1] / "custom_components/botslab/services.yaml").read_text()
    )
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    names = {device.name for device in devices}
    assert {"Front Door", "Driveway"} <= names and len(names) == 5, names
    for action in ("share_device", "unshare_device", "list_shares"):
        selector = services[action]["fields"]["device_id"]["selector"]["device"]
        assert selector["integration"] == entry.domain
        offered = {d.name for d in devices if _offered(hass, d, selector)}
        assert offered == {"Front Door", "Garden", "Living Room"}, action
