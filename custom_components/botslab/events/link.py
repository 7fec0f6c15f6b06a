"""The push connection of one entry: start, stop, and polling whenever push may not say
everything.

A push only says that something is new; delivery fetches it. The message list is also polled:

- while the push connection is down (or silent, see api/push.py): every `poll_interval`
  seconds (the option);
- while the account's settings say the cloud holds pushes back
  (docs/protocol/cloud-api.md#notifications: a device snoozed, do-not-disturb on now, a device's
  notifications off, or the `push` consent withdrawn): every HELD_BACK_POLL seconds, so that a
  doorbell still rings in Home Assistant within seconds (the cloud lists what it does not push);
- while push is up: every `poll_interval` seconds too, a safety net for what nobody can see
  held back (a snooze set in the phone app) or lost.

The entry's event-connection sensor shows `push`, `polling` (with the reason) or `offline`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time as dt_time, timedelta
import logging
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..api import (
    BotslabClient,
    ConnectionState,
    ConsentScope,
    DoNotDisturb,
    PushClient,
    PushMessage,
)
from ..const import CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL, DOMAIN
from ..coordinator import AccountSettings, SettingsCoordinator
from . import CONNECTION_OFFLINE, CONNECTION_POLLING, CONNECTION_PUSH, SIGNAL_CONNECTION
from .delivery import EventDelivery

_LOGGER = logging.getLogger(__name__)

PUSH_HEARTBEAT_S = 60.0  # docs/protocol/push.md
PUSH_TIMEOUT_S = 180  # the `t` the bind announces
# Polling while the cloud holds pushes back. A visitor gives up after 20-30 s at a door, so a
# ring must show within a few seconds: every 5 s is 2.5 s late on average, and 12 requests a
# minute stay well inside the message list's rate limit that the emulator enforces (60 a
# minute, bursts of 30: docs/emulator.md), leaving room for the fetches pushes still cause.
HELD_BACK_POLL = 5.0
MAX_WAIT = 24 * 3600.0

# why events come by polling (the event-connection sensor's `reason` attribute)
REASON_PUSH_DOWN = "push_unavailable"
REASON_CONSENT = "push_consent_withdrawn"
REASON_DND = "do_not_disturb"
REASON_SNOOZE = "snoozed"
REASON_NOTIFICATIONS = "notifications_off"
REASONS = (REASON_PUSH_DOWN, REASON_CONSENT, REASON_DND, REASON_SNOOZE, REASON_NOTIFICATIONS)

SNOOZE_STORE_VERSION = 1


def _minutes(value: str) -> int | None:
    """'HH:MM' (or 'HH:MM:SS') as minutes after midnight; None when it is not a time."""
    parts = value.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    hours, minutes = int(parts[0]), int(parts[1])
    return hours * 60 + minutes if hours < 24 and minutes < 60 else None


def dnd_window(dnd: DoNotDisturb | None, now: datetime) -> tuple[bool, float]:
    """Whether do-not-disturb holds pushes back at `now` (a local time: the cloud counts in
    the time zone the client sends, Home Assistant's), and the seconds until that changes."""
    if dnd is None or not dnd.enabled:
        return False, MAX_WAIT
    start, end = _minutes(dnd.start), _minutes(dnd.end)
    if start is None or end is None or start == end:
        return False, MAX_WAIT
    minute = now.hour * 60 + now.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    boundary = end if inside else start
    at = datetime.combine(now.date(), dt_time(boundary // 60, boundary % 60), now.tzinfo)
    if at <= now:
        at += timedelta(days=1)
    return inside, (at - now).total_seconds()


def snooze_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, float]]:
    """Where the snoozes set from Home Assistant are kept across restarts."""
    return Store(hass, SNOOZE_STORE_VERSION, f"{DOMAIN}.{entry_id}.snoozes")


@dataclass(frozen=True, slots=True)
class PollPlan:
    """Why events come by polling now (None: push says everything), and when that changes."""

    reason: str | None
    changes_in: float = MAX_WAIT


def held_back(
    settings: AccountSettings | None, snoozed: dict[str, float], now: datetime
) -> PollPlan:
    """Whether the account's settings hold pushes back now
    (docs/protocol/cloud-api.md#notifications), and for how long. `snoozed` maps serials to the end
    of their snooze (Unix time)."""
    wall = now.timestamp()
    snooze_ends = [until - wall for serial, until in snoozed.items() if until > wall]
    dnd_on, dnd_change = dnd_window(settings.dnd if settings else None, now)
    changes_in = min([dnd_change, *snooze_ends, MAX_WAIT])
    if settings is not None and settings.consent(ConsentScope.PUSH) is False:
        return PollPlan(REASON_CONSENT, changes_in)
    if dnd_on:
        return PollPlan(REASON_DND, changes_in)
    if snooze_ends:
        return PollPlan(REASON_SNOOZE, changes_in)
    if settings is not None:
        for device in settings.devices.values():
            notes = device.notifications
            if notes is not None and (not notes.enabled or not all(notes.events.values())):
                return PollPlan(REASON_NOTIFICATIONS, changes_in)
    return PollPlan(None, changes_in)


class PushLink:
    """Keeps the push connection up and asks delivery to fetch on each push or poll."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: BotslabClient,
        delivery: EventDelivery,
        settings: SettingsCoordinator,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.client = client
        self.delivery = delivery
        self.settings = settings
        self.push = PushClient(
            async_get_clientsession(hass),
            client.endpoints,
            client.identity,
            self._alias,
            heartbeat=PUSH_HEARTBEAT_S,
            timeout_s=PUSH_TIMEOUT_S,
            device_label="Home Assistant",
        )
        self._unsubs: list[CALLBACK_TYPE] = []
        self._poll_unsub: CALLBACK_TYPE | None = None
        self._stopping = False
        self._push_up = False
        self._fetch_ok = True
        self._snooze_store = snooze_store(hass, entry.entry_id)
        self.snoozed: dict[str, float] = {}  # serial -> end of the snooze set here (Unix time)
        self.plan = PollPlan(REASON_PUSH_DOWN)
        self.connection = CONNECTION_POLLING
        self._shown_reason: str | None = REASON_PUSH_DOWN
        self._due: float | None = None  # when the next poll runs (monotonic)
        delivery.add_result_listener(self._on_fetch_result)

    @property
    def poll_interval(self) -> int:
        return int(self.entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL))

    @property
    def interval(self) -> float:
        """Seconds between two polls now."""
        if self.plan.reason not in (None, REASON_PUSH_DOWN):
            return HELD_BACK_POLL
        return float(self.poll_interval)

    async def _alias(self) -> str:
        session = self.client.session or await self.client.login()
        return session.push_alias

    async def async_start(self) -> None:
        stored = await self._snooze_store.async_load() or {}
        now = time.time()
        self.snoozed = {
            str(k): float(v) for k, v in stored.items() if isinstance(v, int | float) and v > now
        }
        self._unsubs.append(self.push.subscribe(self._on_push))
        self._unsubs.append(self.push.subscribe_state(self._on_push_state))
        self._unsubs.append(self.settings.async_add_listener(self._replan))
        self._replan()
        self.push.start()
        self.delivery.request_fetch()  # what happened while Home Assistant was not listening

    async def async_stop(self) -> None:
        self._stopping = True
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        self._cancel_poll()
        await self.push.stop()

    async def async_note_snooze(self, serial: str, seconds: float) -> None:
        """A device's pushes are snoozed (the snooze action): poll until the snooze ends."""
        now = time.time()
        self.snoozed = {s: t for s, t in self.snoozed.items() if t > now}
        self.snoozed[serial] = now + seconds
        await self._snooze_store.async_save(self.snoozed)
        self._replan()

    @callback
    def _on_push(self, _message: PushMessage) -> None:
        self.delivery.note_push()
        self.delivery.request_fetch()

    @callback
    def _on_push_state(self, state: ConnectionState) -> None:
        if state is ConnectionState.CONNECTED:
            if self.push.connects > 1:
                _LOGGER.info("BOTSLAB push channel is back")
            self._push_up = True
            self._replan()
            self.delivery.request_fetch()  # catch up on the outage
        elif self._push_up and state in (ConnectionState.DISCONNECTED, ConnectionState.BACKOFF):
            _LOGGER.info(
                "BOTSLAB push channel lost; polling every %d s until it is back", self.poll_interval
            )
            self._push_up = False
            self._replan()

    @callback
    def _on_fetch_result(self, ok: bool) -> None:
        if ok != self._fetch_ok:
            self._fetch_ok = ok
            self._show()

    @callback
    def _replan(self) -> None:
        """Work out why (and how often) to poll now, and set the next poll."""
        if self._stopping:
            return
        plan = held_back(self.settings.current, self.snoozed, dt_util.now())
        if plan.reason is None and not self._push_up:
            plan = PollPlan(REASON_PUSH_DOWN, plan.changes_in)
        if plan.reason != self.plan.reason and plan.reason not in (None, REASON_PUSH_DOWN):
            _LOGGER.info(
                "BOTSLAB holds pushes back (%s); polling every %d s meanwhile",
                plan.reason.replace("_", " "),
                HELD_BACK_POLL,
            )
        self.plan = plan
        self._schedule(min(self.interval, plan.changes_in + 0.5))
        self._show()

    def _schedule(self, delay: float) -> None:
        """The next poll in `delay` seconds, unless one is due sooner already."""
        delay = max(0.5, delay)
        due = time.monotonic() + delay
        if self._poll_unsub is not None and self._due is not None and self._due <= due:
            return
        self._cancel_poll()
        self._due = due
        self._poll_unsub = async_call_later(self.hass, delay, self._poll)

    def _cancel_poll(self) -> None:
        if self._poll_unsub is not None:
            self._poll_unsub()
            self._poll_unsub = None
        self._due = None

    @callback
    def _poll(self, _now: Any) -> None:
        self._poll_unsub = None
        self._due = None
        self.delivery.request_fetch()
        self._replan()  # the next poll, at the interval that holds then

    def _show(self) -> None:
        if not self._fetch_ok and self.plan.reason is not None:
            value = CONNECTION_OFFLINE
        elif self.plan.reason is None:
            value = CONNECTION_PUSH
        else:
            value = CONNECTION_POLLING
        if value != self.connection or self._shown_reason != self.plan.reason:
            self.connection = value
            self._shown_reason = self.plan.reason
            async_dispatcher_send(self.hass, SIGNAL_CONNECTION.format(self.entry.entry_id))
