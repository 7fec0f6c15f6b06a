"""Diagnostics: what a user sends when the real cloud differs from the emulator (issue 27).

Sections (docs/diagnostics.md says what each holds and how to read it):

- `entry`, `account`: the entry (redacted), the session, the coordinators, the cloud's pauses;
- `event_path`: the push connection, delivery (cursor, fetches, delivered, late, duplicates,
  skipped items with their reason and shape), the poll mode and why;
- `cloud_answers`: per endpoint the last codes and the shape of the last good answer next to
  the shape the parser expects, differences first; the push frames seen;
- `first_contact`: the last first-contact check (`botslab.check_cloud`);
- `devices`: each device as the integration sees it, its serial masked; for a camera that was
  watched, its live view with the last five sessions as timelines.

Nothing carries a token, a phone number, an email, a signed URL, a serial in clear, or a value
of an answer: everything but the shapes goes through the redactor, and the shapes (types and
keys only) are checked to be nothing else (`api.shapes.clean`).
"""

from __future__ import annotations

from dataclasses import asdict
import re
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .api import redact, redact_texts
from .api.live.feed import LiveFeed
from .api.shapes import clean
from .const import CONF_EMULATOR_URL, CONF_IDENTITY, CONF_Q, CONF_QID, CONF_T
from .data import BotslabConfigEntry

TO_REDACT = {
    CONF_Q,
    CONF_T,
    CONF_QID,
    CONF_IDENTITY,
    CONF_USERNAME,
    CONF_EMULATOR_URL,
    "title",
    "unique_id",
    "sid",
    "push_alias",
    "m2",
    "mid",
    "androidid",
    "product_logo",
}


def mask_serial(serial: str) -> str:
    """A serial as diagnostics show it: its first four characters (the model's prefix) and
    its last two, the rest hidden."""
    if len(serial) <= 6:
        return "*" * len(serial)
    return serial[:4] + "*" * (len(serial) - 6) + serial[-2:]


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: BotslabConfigEntry
) -> dict[str, Any]:
    data = entry.runtime_data
    client = data.client
    answers = client.endpoints.answers
    result: dict[str, Any] = {
        "entry": _to_the_second(async_redact_data(entry.as_dict(), TO_REDACT)),
        "account": _account(entry),
        "event_path": _event_path(entry),
        "first_contact": None,  # filled below, after the redactor
        "devices": _devices(entry),
    }
    # every field, new ones too, goes through the redactor: keys of any spelling, and the
    # free-text forms of secrets (JSON, headers, URL-encoded pairs, Q and T whole)
    redacted: dict[str, Any] = redact(async_redact_data(result, TO_REDACT))
    # the shapes hold types and keys only: checked to be nothing else; the check's report is
    # made of the integration's own words, endpoint paths, codes and shape paths. Both get
    # the free-text redaction all the same, not the redaction by key name (which would take
    # `url`, `email`, `title` keys' types for values)
    redacted["cloud_answers"] = redact_texts(_cloud_answers(answers.as_dict()))
    redacted["event_path"]["skipped"] = redact_texts(_skipped(entry))
    redacted["first_contact"] = redact_texts(answers.last_check)
    return redacted


def _account(entry: BotslabConfigEntry) -> dict[str, Any]:
    data = entry.runtime_data
    gate = data.client.endpoints.gate
    return {
        "region": data.client.endpoints.region,
        "session": "active" if data.client.session else "none",
        "last_update_success": data.device_coordinator.last_update_success,
        "firmware_update_success": data.firmware_coordinator.last_update_success,
        "settings_update_success": data.settings_coordinator.last_update_success,
        "in_session_conflict": data.guard.in_conflict,
        "cloud_pause": {  # what the cloud's Retry-After held back
            "until": _iso(gate.not_before),
            "rate_limits_met": gate.holds,
            "requests_held_back": gate.refused,
        },
    }


def _event_path(entry: BotslabConfigEntry) -> dict[str, Any]:
    data = entry.runtime_data
    link, delivery = data.push, data.events
    push = link.push if link is not None else None
    out: dict[str, Any] = {
        "push": None
        if push is None
        else {
            "state": push.state.value,
            "connects": push.connects,
            "failures": push.failures,
            "failures_total": push.failures_total,
            "silent_drops": push.silent_drops,
            "duplicates": push.duplicates,
            "frames_parsed": push.frames_seen,
            "skipped_frames": push.skipped_frames,
            "last_error": push.last_error,
            "last_error_at": _iso(push.last_error_at),
        },
        "delivery": None
        if delivery is None
        else {
            "fetches": delivery.fetches,
            "delivered": delivery.delivered,
            "late": delivery.late,
            "duplicates_dropped": delivery.duplicates,
            "rate_limited": delivery.rate_limited,
            "last_fetch_ok": delivery.last_fetch_ok,
            "last_fetch_error": delivery.last_fetch_error,
            "cursor": _cursor(delivery.cursor()),
        },
        "polling": None
        if link is None
        else {
            "connection": link.connection,
            "reason": link.plan.reason,
            "interval_s": link.interval,
            "option_interval_s": link.poll_interval,
            "snoozed_devices": len(link.snoozed),
        },
        "skipped": None,  # filled after the redactor: the items' shapes
    }
    return out


def _cursor(cursor: dict[str, Any]) -> dict[str, Any]:
    newest = cursor["newest_time"]
    return {**cursor, "newest_time": _iso(newest) if newest else None}


def _skipped(entry: BotslabConfigEntry) -> dict[str, Any]:
    client = entry.runtime_data.client
    answers = client.endpoints.answers
    return {
        "count": client.skipped,
        "by_reason": redact(dict(answers.skip_reasons)),
        "last": [
            {
                "reason": redact(item["reason"]),
                "shape": clean(item["shape"]),
                "times": item["times"],
                "at": _iso(item["at"]),
            }
            for item in answers.skipped
        ],
    }


def _cloud_answers(log: dict[str, Any]) -> dict[str, Any]:
    """The answer log with every recorded shape checked (`clean`): the expected shapes are
    the integration's own; the differences name paths and types only."""
    for record in log["endpoints"].values():
        record["shape"] = None if record["shape"] is None else clean(record["shape"])
    for frame in log["push_frames"]:
        frame["body"] = None if frame["body"] is None else clean(frame["body"])
    return log


def _live(feed: LiveFeed | None) -> dict[str, Any] | None:
    """A camera's live view: the feed, and its last sessions as timelines."""
    if feed is None:
        return None
    session = feed.session
    return {
        "streaming": feed.streaming,
        "viewers": feed.viewers,
        "sessions": feed.sessions,
        "refused": feed.refused,
        "last_error": feed.last_error.reason if feed.last_error else None,
        "stats": asdict(session.stats) if session is not None else None,
        "timelines": [timeline.as_dict() for timeline in feed.history],
    }


def _devices(entry: BotslabConfigEntry) -> list[dict[str, Any]]:
    data = entry.runtime_data
    devices = []
    for state in data.states().values():
        device = asdict(state.device)
        device["serial"] = mask_serial(state.device.serial)
        devices.append(
            {
                "device": device,
                "properties": state.properties.raw if state.properties else None,
                "firmware": asdict(state.firmware) if state.firmware else None,
                "live": _live(data.live_feeds.get(state.device.serial)),
            }
        )
    return devices


_FRACTION = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.\d+")


def _to_the_second(data: Any) -> Any:
    """ISO times of the entry (created, modified, signed in) to the second: the redactor
    takes the digits of a fraction of a second for a phone number."""
    if isinstance(data, dict):
        return {k: _to_the_second(v) for k, v in data.items()}
    if isinstance(data, str):
        return _FRACTION.sub(r"\1", data)
    return data


def _iso(timestamp: float | None) -> str | None:
    """A time to the second (a fraction of a second reads as a phone number to the
    redactor)."""
    if timestamp is None:
        return None
    return dt_util.utc_from_timestamp(timestamp).replace(microsecond=0).isoformat()
