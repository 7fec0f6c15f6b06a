"""Actions: sharing, privacy consents, notifications and the data rights of the policy.

Registered once in async_setup. Everything that changes who can see the cameras or what the
cloud keeps is admin-only (checked here, so that actions with responses work on every
supported Home Assistant version); the rest needs a signed-in user.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import time, timedelta
import json
import re
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util
import phonenumbers

from .api import ConsentScope, Device, EventKind, ShareLevel, mask_personal
from .api.check import first_contact
from .api.models import RAW_EVENT_TYPES
from .compat import vol
from .const import ACCOUNT_PREFIX, DOMAIN
from .data import BotslabConfigEntry
from .devices import entry_owns_device, serials_of
from .errors import cloud_errors
from .permissions import async_require_admin

ATTR_DEVICE_ID = "device_id"
ATTR_ENTRY = "config_entry_id"
ATTR_PHONE = "phone"
ATTR_EMAIL = "email"
ATTR_LEVEL = "level"
ATTR_SHARE_ID = "share_id"
ATTR_INVITATION_ID = "invitation_id"
ATTR_SCOPE = "scope"
ATTR_GRANTED = "granted"
ATTR_ENABLED = "enabled"
ATTR_START = "start"
ATTR_END = "end"
ATTR_KINDS = "kinds"
ATTR_DURATION = "duration"
ATTR_WRITE_FILE = "write_file"
ATTR_RESTRICTED = "restricted"
ATTR_CONFIRM = "confirm"

LEVELS = [level.value for level in ShareLevel]
NOTIFY_KINDS = [k.value for k in EventKind if k is not EventKind.OTHER]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# anchored and ASCII only: "12:30 and then some" and Arabic-Indic digits are refused; the
# seconds that Home Assistant's time selector adds ("22:00:00") are taken and dropped
_HHMM = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?", re.ASCII)
MAX_SNOOZE = timedelta(days=7)


def _snooze_duration(value: Any) -> timedelta:
    """A snooze duration: positive and at most a week; absurd sizes are invalid, not raw
    OverflowErrors from timedelta."""
    try:
        period: timedelta = cv.time_period(value)
    except OverflowError as err:
        raise vol.Invalid("duration too large") from err
    if not timedelta(0) < period <= MAX_SNOOZE:
        raise vol.Invalid("duration must be positive and at most 7 days")
    return period


DEVICE_SCHEMA: dict[vol.Marker, Any] = {vol.Required(ATTR_DEVICE_ID): cv.string}
ENTRY_SCHEMA: dict[vol.Marker, Any] = {vol.Optional(ATTR_ENTRY): cv.string}


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _loaded_entries(hass: HomeAssistant) -> list[BotslabConfigEntry]:
    return [
        e for e in hass.config_entries.async_entries(DOMAIN) if e.state is ConfigEntryState.LOADED
    ]


def _entry(hass: HomeAssistant, call: ServiceCall) -> BotslabConfigEntry:
    """The account an account-wide action is for: named, or the only one loaded."""
    entry_id = call.data.get(ATTR_ENTRY)
    if entry_id:
        entry = hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN:
            raise _invalid("unknown_account")
        if entry.state is not ConfigEntryState.LOADED:
            raise _invalid("account_not_loaded")
        return entry
    loaded = _loaded_entries(hass)
    if not loaded:
        raise _invalid("account_not_loaded")
    if len(loaded) > 1:
        raise _invalid("account_ambiguous")
    return loaded[0]


def _device(hass: HomeAssistant, device_id: str) -> tuple[BotslabConfigEntry, Device]:
    """The BOTSLAB device behind a Home Assistant device id, with the loaded entry that can
    do most with it: a camera that comes through the owner's account and a shared one is
    one device of two entries, and only the owner's may share it or change its consents."""
    device_entry = dr.async_get(hass).async_get(device_id)
    serials = serials_of(device_entry) if device_entry else set()
    if device_entry is None or not serials:
        raise _invalid("unknown_device")
    if any(s.startswith(ACCOUNT_PREFIX) for s in serials):
        raise _invalid("account_device")
    # every loaded account that lists the camera, whichever one's registry device was picked
    # (from Home Assistant 2026.8 each account has a device of its own for one camera)
    found: list[tuple[BotslabConfigEntry, Device]] = []
    not_loaded = False
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is not ConfigEntryState.LOADED:
            not_loaded = not_loaded or entry_owns_device(hass, entry.entry_id, device_id)
            continue
        data = entry.runtime_data.device_coordinator.data or {}
        found.extend((entry, data[s].device) for s in serials if s in data)
    if not found:
        raise _invalid("account_not_loaded" if not_loaded else "unknown_device")
    found.sort(key=lambda pair: not pair[1].owner)  # the owner's first
    return found[0]


def normalize_phone(hass: HomeAssistant, raw: str) -> str:
    """E.164 (with '+'), HA's country as the default prefix; ServiceValidationError if invalid."""
    try:
        number = phonenumbers.parse(raw, hass.config.country or None)
    except phonenumbers.NumberParseException as err:
        raise _invalid("invalid_phone") from err
    if not phonenumbers.is_valid_number(number):
        raise _invalid("invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    email = raw.strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise _invalid("invalid_email")
    return email


def _target(hass: HomeAssistant, call: ServiceCall, *, required: bool) -> tuple[str, str]:
    phone, email = call.data.get(ATTR_PHONE), call.data.get(ATTR_EMAIL)
    if (phone and email) or (required and not phone and not email):
        raise _invalid("phone_or_email")
    return (normalize_phone(hass, phone) if phone else ""), (
        normalize_email(email) if email else ""
    )


def _share_json(share: Any) -> dict[str, Any]:
    return {
        "share_id": share.id,
        "level": share.level.value,
        "status": "pending" if share.pending else "sharing",
        "shared_with": share.target_masked,
        "nickname": mask_personal(share.nickname),
        "since": dt_util.utc_from_timestamp(share.ctime).isoformat() if share.ctime else None,
    }


# --- handlers ---------------------------------------------------------------------------------


async def _share_device(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry, device = _device(hass, call.data[ATTR_DEVICE_ID])
    if not device.owner:
        raise _invalid("not_owner", device=device.title)
    phone, email = _target(hass, call, required=True)
    level = ShareLevel(call.data[ATTR_LEVEL])
    client = entry.runtime_data.client
    if phone:
        with cloud_errors(hass, entry):
            share = await client.share_by_mobile(device, phone, level)
    else:
        with cloud_errors(hass, entry):
            share = await client.share_by_email(device, email, level)
    await entry.runtime_data.settings_coordinator.async_request_refresh()
    return {"share": _share_json(share)}


async def _unshare_device(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry, device = _device(hass, call.data[ATTR_DEVICE_ID])
    if not device.owner:
        raise _invalid("not_owner", device=device.title)
    client = entry.runtime_data.client
    share_id = call.data.get(ATTR_SHARE_ID)
    if share_id is None:
        phone, email = _target(hass, call, required=True)
        with cloud_errors(hass, entry):
            shares = await client.shares(device)
        wanted = phone.lstrip("+") if phone else email.lower()
        matches = [
            s for s in shares if (s.mobile.lstrip("+") if phone else s.email.lower()) == wanted
        ]
        if not matches:
            raise _invalid("unknown_share")
        share_id = matches[0].id
    else:
        # the cloud cancels any share id it is given, even one of another device or an
        # incoming share: only a share of this device may be cancelled through it
        with cloud_errors(hass, entry):
            shares = await client.shares(device)
        if int(share_id) not in {s.id for s in shares}:
            raise _invalid("unknown_share")
    with cloud_errors(hass, entry):
        await client.cancel_share(int(share_id))
    await entry.runtime_data.settings_coordinator.async_request_refresh()
    return None


async def _list_shares(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry, device = _device(hass, call.data[ATTR_DEVICE_ID])
    if not device.owner:
        raise _invalid("not_owner", device=device.title)
    with cloud_errors(hass, entry):
        shares = await entry.runtime_data.client.shares(device)
    return {"shares": [_share_json(s) for s in shares]}


async def _list_invitations(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry(hass, call)
    with cloud_errors(hass, entry):
        invitations = await entry.runtime_data.client.invitations()
    return {
        "invitations": [
            {
                "invitation_id": i.id,
                "device": i.device_title,
                "serial": i.serial,
                "level": i.level.value,
                "from": mask_personal(i.from_nickname),
            }
            for i in invitations
        ]
    }


async def _answer_invitation(
    hass: HomeAssistant, call: ServiceCall, accept: bool
) -> ServiceResponse:
    entry = _entry(hass, call)
    client = entry.runtime_data.client
    invitation_id = int(call.data[ATTR_INVITATION_ID])
    with cloud_errors(hass, entry):
        pending = await client.invitations()
    if invitation_id not in {i.id for i in pending}:
        raise _invalid("unknown_invitation")
    if accept:
        with cloud_errors(hass, entry):
            await client.accept_invitation(invitation_id)
    else:
        with cloud_errors(hass, entry):
            await client.refuse_invitation(invitation_id)
    await entry.runtime_data.device_coordinator.async_request_refresh()
    return None


async def _set_consent(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    scope = ConsentScope(call.data[ATTR_SCOPE])
    granted = bool(call.data[ATTR_GRANTED])
    if scope.per_device:
        if not call.data.get(ATTR_DEVICE_ID):
            raise _invalid("device_scope_needs_device", scope=scope)
        entry, device = _device(hass, call.data[ATTR_DEVICE_ID])
        if not device.owner:
            raise _invalid("not_owner", device=device.title)
        with cloud_errors(hass, entry):
            await entry.runtime_data.client.set_consent(scope, granted, device)
    else:
        if call.data.get(ATTR_DEVICE_ID):
            raise _invalid("account_scope_no_device", scope=scope)
        entry = _entry(hass, call)
        with cloud_errors(hass, entry):
            await entry.runtime_data.client.set_consent(scope, granted)
    await entry.runtime_data.settings_coordinator.async_refresh()
    return None


async def _list_consents(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry(hass, call)
    with cloud_errors(hass, entry):
        consents = await entry.runtime_data.client.consents()
    titles = {
        s: st.device.title for s, st in (entry.runtime_data.device_coordinator.data or {}).items()
    }
    return {
        "consents": [
            {
                "scope": c.scope,
                "granted": c.granted,
                "device": titles.get(c.serial) if c.serial else None,
                "serial": c.serial or None,
                "changed": dt_util.utc_from_timestamp(c.mtime).isoformat() if c.mtime else None,
            }
            for c in consents
        ]
    }


def _hhmm(value: str | time | None) -> str | None:
    """A time of day as the cloud takes it, `HH:MM` (docs/protocol/cloud-api.md#notifications), from
    what the time selector sends (`HH:MM:SS`), what YAML users write (`HH:MM`) or a time object."""
    if value is None:
        return None
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if not isinstance(value, str) or not _HHMM.fullmatch(value.strip()):
        raise _invalid("invalid_time", value=str(value))
    return value.strip()[:5]


async def _set_dnd(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry(hass, call)
    start, end = _hhmm(call.data.get(ATTR_START)), _hhmm(call.data.get(ATTR_END))
    with cloud_errors(hass, entry):
        await entry.runtime_data.client.set_do_not_disturb(call.data[ATTR_ENABLED], start, end)
    await entry.runtime_data.settings_coordinator.async_refresh()
    return None


async def _set_device_notifications(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry, device = _device(hass, call.data[ATTR_DEVICE_ID])
    kinds = call.data.get(ATTR_KINDS)
    events = None
    if kinds is not None:
        events = {
            raw: kind.value in kinds for kind, raws in RAW_EVENT_TYPES.items() for raw in raws
        }
    client = entry.runtime_data.client
    with cloud_errors(hass, entry):
        await client.set_device_notifications(
            device, enabled=call.data[ATTR_ENABLED], events=events
        )
    await entry.runtime_data.settings_coordinator.async_refresh()
    return None


async def _snooze(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry, device = _device(hass, call.data[ATTR_DEVICE_ID])
    seconds = int(call.data[ATTR_DURATION].total_seconds())
    if not 0 < seconds <= MAX_SNOOZE.total_seconds():
        raise _invalid("invalid_duration")
    with cloud_errors(hass, entry):
        await entry.runtime_data.client.snooze(device, seconds)
    if entry.runtime_data.push is not None:
        # the cloud holds this device's pushes back now: its events come by polling
        await entry.runtime_data.push.async_note_snooze(device.serial, seconds)
    return None


async def _export(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry(hass, call)
    with cloud_errors(hass, entry):
        document = await entry.runtime_data.client.export_data()
    response: dict[str, Any] = {"document": document}
    if call.data.get(ATTR_WRITE_FILE):
        stamp = dt_util.utcnow().strftime("%Y%m%dT%H%M%SZ")
        path = hass.config.path(
            f"botslab_export_{entry.runtime_data.client.credentials.qid}_{stamp}.json"
        )
        text = json.dumps(document, indent=2, ensure_ascii=False)

        def write() -> None:
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)

        await hass.async_add_executor_job(write)
        response["file"] = path
    return response


async def _restrict(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry(hass, call)
    with cloud_errors(hass, entry):
        await entry.runtime_data.client.restrict_processing(call.data[ATTR_RESTRICTED])
    return None


async def _erase(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry = _entry(hass, call)
    client = entry.runtime_data.client
    # the confirmation is the account's name as Settings → Devices & services shows it (the
    # entry's title, masked where it is an email or a phone number): what the user sees
    if call.data[ATTR_CONFIRM].strip().casefold() != entry.title.strip().casefold():
        raise _invalid("erasure_confirm", account=entry.title)
    with cloud_errors(hass, entry):
        request = await client.request_erasure(client.credentials.qid)
    return {"request_id": request.request_id, "due_date": request.due_date}


async def _network_test(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    entry, device = _device(hass, call.data[ATTR_DEVICE_ID])
    with cloud_errors(hass, entry):
        result = await entry.runtime_data.client.network_test(device)
    # a shared camera stands in someone else's home: its address and provider are theirs
    own = device.owner
    return {
        "network_type": result.network_type,
        "isp": result.isp if own else None,
        "ip": result.ip if own else None,
        "signal_dbm": result.rssi,
        "latency_ms": result.latency_ms,
        "loss_percent": result.loss_pct,
        "result": result.result,
    }


async def _check_cloud(hass: HomeAssistant, call: ServiceCall) -> ServiceResponse:
    """The first-contact check (api/check.py): every read-only endpoint once; its report,
    which diagnostics show too."""
    entry = _entry(hass, call)
    with cloud_errors(hass, entry):
        report = await first_contact(entry.runtime_data.client)
    return dict(report)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action: its name, its schema, its handler, whether only admins may call it (it
    changes who can see the cameras or what is kept), and whether it answers."""

    name: str
    schema: vol.Schema
    handler: Callable[[HomeAssistant, ServiceCall], Awaitable[ServiceResponse]]
    admin: bool = False
    response: SupportsResponse = SupportsResponse.NONE


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "share_device",
        vol.Schema(
            {
                **DEVICE_SCHEMA,
                vol.Optional(ATTR_PHONE): cv.string,
                vol.Optional(ATTR_EMAIL): cv.string,
                vol.Optional(ATTR_LEVEL, default="view"): vol.In(LEVELS),
            }
        ),
        _share_device,
        admin=True,
        response=SupportsResponse.OPTIONAL,
    ),
    ActionSpec(
        "unshare_device",
        vol.Schema(
            {
                **DEVICE_SCHEMA,
                vol.Optional(ATTR_SHARE_ID): vol.Coerce(int),
                vol.Optional(ATTR_PHONE): cv.string,
                vol.Optional(ATTR_EMAIL): cv.string,
            }
        ),
        _unshare_device,
        admin=True,
    ),
    ActionSpec(
        "list_shares",
        vol.Schema(DEVICE_SCHEMA),
        _list_shares,
        response=SupportsResponse.ONLY,
    ),
    ActionSpec(
        "list_invitations",
        vol.Schema(ENTRY_SCHEMA),
        _list_invitations,
        response=SupportsResponse.ONLY,
    ),
    ActionSpec(
        "accept_invitation",
        vol.Schema({**ENTRY_SCHEMA, vol.Required(ATTR_INVITATION_ID): vol.Coerce(int)}),
        lambda hass, call: _answer_invitation(hass, call, True),
        admin=True,
    ),
    ActionSpec(
        "refuse_invitation",
        vol.Schema({**ENTRY_SCHEMA, vol.Required(ATTR_INVITATION_ID): vol.Coerce(int)}),
        lambda hass, call: _answer_invitation(hass, call, False),
        admin=True,
    ),
    ActionSpec(
        "set_consent",
        vol.Schema(
            {
                **ENTRY_SCHEMA,
                vol.Required(ATTR_SCOPE): vol.In([scope.value for scope in ConsentScope]),
                vol.Required(ATTR_GRANTED): cv.boolean,
                vol.Optional(ATTR_DEVICE_ID): cv.string,
            }
        ),
        _set_consent,
        admin=True,
    ),
    ActionSpec(
        "list_consents",
        vol.Schema(ENTRY_SCHEMA),
        _list_consents,
        response=SupportsResponse.ONLY,
    ),
    ActionSpec(
        "set_do_not_disturb",
        vol.Schema(
            {
                **ENTRY_SCHEMA,
                vol.Required(ATTR_ENABLED): cv.boolean,
                vol.Optional(ATTR_START): vol.Any(time, cv.string),
                vol.Optional(ATTR_END): vol.Any(time, cv.string),
            }
        ),
        _set_dnd,
    ),
    ActionSpec(
        "set_device_notifications",
        vol.Schema(
            {
                **DEVICE_SCHEMA,
                vol.Required(ATTR_ENABLED): cv.boolean,
                vol.Optional(ATTR_KINDS): vol.All(cv.ensure_list, [vol.In(NOTIFY_KINDS)]),
            }
        ),
        _set_device_notifications,
    ),
    ActionSpec(
        "snooze_notifications",
        vol.Schema(
            {
                **DEVICE_SCHEMA,
                vol.Required(ATTR_DURATION): _snooze_duration,
            }
        ),
        _snooze,
    ),
    ActionSpec(
        "export_data",
        vol.Schema({**ENTRY_SCHEMA, vol.Optional(ATTR_WRITE_FILE, default=False): cv.boolean}),
        _export,
        admin=True,
        response=SupportsResponse.ONLY,
    ),
    ActionSpec(
        "restrict_processing",
        vol.Schema({**ENTRY_SCHEMA, vol.Required(ATTR_RESTRICTED): cv.boolean}),
        _restrict,
        admin=True,
    ),
    ActionSpec(
        "request_erasure",
        vol.Schema({**ENTRY_SCHEMA, vol.Required(ATTR_CONFIRM): cv.string}),
        _erase,
        admin=True,
        response=SupportsResponse.OPTIONAL,
    ),
    ActionSpec(
        "run_network_test",
        vol.Schema(DEVICE_SCHEMA),
        _network_test,
        response=SupportsResponse.ONLY,
    ),
    ActionSpec(
        # admin: it reads every part of the account (shares, consents) in one go
        "check_cloud",
        vol.Schema(ENTRY_SCHEMA),
        _check_cloud,
        admin=True,
        response=SupportsResponse.ONLY,
    ),
)


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register every action once (async_setup)."""

    for spec in ACTIONS:

        async def run(call: ServiceCall, spec: ActionSpec = spec) -> ServiceResponse:
            if spec.admin:
                await async_require_admin(hass, call.context)
            result = await spec.handler(hass, call)
            if spec.response is SupportsResponse.NONE or not call.return_response:
                return None
            return result

        hass.services.async_register(
            DOMAIN, spec.name, run, schema=spec.schema, supports_response=spec.response
        )
