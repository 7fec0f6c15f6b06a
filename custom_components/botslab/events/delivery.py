"""Exactly-once delivery in order: the message cursor, coalesced fetches, catch-up after
outages and restarts, the `botslab_event` on the bus and the per-device signals.

Every message becomes exactly one `botslab_event` (and, when fresh, fires the event entities
and binary sensors). The cursor (the ids delivered lately and the newest `ctime`) lives in
Home Assistant's storage."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable
import contextlib
import functools
import logging
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, CoreState, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.storage import Store

from ..api import (
    LOOKBACK,
    AuthExpired,
    BotslabClient,
    BotslabError,
    Event,
    RateLimited,
    SessionConflict,
)
from ..const import (
    CONF_DOWNLOAD_SNAPSHOTS,
    CONF_MAX_EVENT_AGE,
    DEFAULT_DOWNLOAD_SNAPSHOTS,
    DEFAULT_MAX_EVENT_AGE,
    DOMAIN,
    EVENT_BOTSLAB,
)
from ..coordinator import DeviceCoordinator, SessionGuard
from ..devices import device_for_serial
from . import SIGNAL_EVENT, SIGNAL_NEWEST, DeliveredEvent
from .snapshots import SnapshotStore

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 2
RECENT_IDS = 2000
MAX_CATCH_UP = 5000
# delivered ids kept across restarts: all that are remembered (a walk after a start passes
# up to LOOK_BELOW_MAX of them, and an id delivered before it and forgotten looks new: the
# soak fired a burst again after a restart while 200 were kept)
STORED_IDS = RECENT_IDS
FIRST_START_PAGE = 20
FIRST_START_PAGES = 5  # at most, while history is within LOOKBACK of its newest event
LOOK_BELOW = 50  # seen ids a deep walk passes, looking for messages listed late
# at most (a push owed while hundreds were delivered: the walk stays a few pages, a few
# round trips on a far cloud, while fresh pushes wait for it)
LOOK_BELOW_MAX = 300
SHORT_PAGE = 10  # the first page of a walk after a push or two
# a burst's pages (the page size the device list takes, docs/protocol/cloud-api.md#devices)
WIDE_PAGE = 50
PAGES_AT_ONCE = 6  # wide pages asked together by one walk
FAR_LIST_SECONDS = 0.016  # a page of the list takes this long or more: the cloud is far
NEWEST_WAIT = 0.1  # seconds a device's newest event may wait to be shown in a long stream
# a push whose fetch did not find its message (push before list,
# docs/protocol/accepted.md#push-before-list): look again this many seconds later, twice at most
RELOOK_DELAYS = (2.0, 5.0)
RATE_LIMIT_WAIT = 5.0  # after a rate limit that named no time (the gate names one)
RATE_LIMIT_MARGIN = 0.05  # seconds after the named time: the gate has let go by then


class CursorStore(Store[dict[str, Any]]):
    """The message cursor of one entry in Home Assistant's storage. Version 1 kept numeric
    ids (`last_id`, `recent`); version 2 keeps opaque ids (`seen`) and the newest `ctime`
    delivered (`floor`), as docs/protocol/cloud-api.md#messages asks."""

    def __init__(self, hass: HomeAssistant, entry_id: str) -> None:
        super().__init__(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}.events")

    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: dict[str, Any]
    ) -> dict[str, Any]:
        if old_major_version >= 2:
            return old_data
        recent = [str(i) for i in old_data.get("recent", []) if isinstance(i, int)]
        last = old_data.get("last_id")
        if isinstance(last, int) and str(last) not in recent:
            recent.append(str(last))
        latest = old_data.get("latest_ctime")
        latest = latest if isinstance(latest, dict) else {}
        # no ctime stored: nothing older than now is replayed if the old ids are not found
        floor = max(
            (int(v) for v in latest.values() if isinstance(v, int)), default=int(time.time())
        )
        return {"floor": floor, "seen": recent, "latest_ctime": latest}


class EventDelivery:
    """Fetches what is new and delivers each message once, in order, for one config entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        *,
        client: BotslabClient,
        devices: DeviceCoordinator,
        guard: SessionGuard,
        snapshots: SnapshotStore,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.client = client
        self.devices = devices
        self.guard = guard
        self.snapshots = snapshots
        self._store = CursorStore(hass, entry.entry_id)
        # the cursor: ids delivered lately (opaque strings) and the newest ctime delivered
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._delivered_up_to: int | None = None
        self._cursor_ready = False  # loaded, or made from the history: it may be written
        self._newest_ctime: dict[str, int] = {}
        self.newest_event: dict[str, DeliveredEvent] = {}
        self._fetch_task: asyncio.Task[None] | None = None
        self._look_task: asyncio.Task[None] | None = None  # a look again (deep walk)
        self._dirty = False
        self._missed = False
        self._stopping = False
        self._pushes = 0
        self._bursting = False
        self._until_started: CALLBACK_TYPE | None = None
        self._result_listeners: list[Callable[[bool], None]] = []
        self._unshown: dict[str, None] = {}  # devices whose newest event is not shown yet
        self._unshown_since = 0.0
        self._unsubs: list[CALLBACK_TYPE] = []
        self._owed = 0  # pushes heard that no delivered event answered yet
        self._owed_mark = 0  # `delivered` when the oldest of them came
        self._relooks = 0  # looks again made for them
        self._later: CALLBACK_TYPE | None = None  # a look again, or the end of a rate limit
        self._later_deep = False  # whether `_later` is a look again
        self._deep = False  # the next walk looks below the newest delivered id (LOOK_BELOW)
        # after a start that may have cut pushes short (the Home Assistant before this one
        # owed some, or did not stop cleanly): how many ids it delivered on top of the oldest
        # of them, for the looks again after the start's walk (until the last of them
        # starts; written with the cursor meanwhile); None: no looks again owed
        self._owed_at_start: int | None = None
        self._start_looks_planned = False
        self.fetches = 0
        self.rate_limited = 0
        self.delivered = 0
        self.late = 0  # delivered older than the max-age option (fired, entities untouched)
        self.duplicates = 0  # found again after delivery (a walk over a growing list)
        self.last_fetch_ok = True
        self.last_fetch_error: str | None = None

    @property
    def max_age(self) -> int:
        return int(self.entry.options.get(CONF_MAX_EVENT_AGE, DEFAULT_MAX_EVENT_AGE))

    @property
    def download_snapshots(self) -> bool:
        return bool(self.entry.options.get(CONF_DOWNLOAD_SNAPSHOTS, DEFAULT_DOWNLOAD_SNAPSHOTS))

    # --- lifecycle ---------------------------------------------------------------------------
    async def async_start(self) -> None:
        """Load the cursor (or, on the very first start, take the history as delivered)."""
        stored = await self._store.async_load()
        if stored and isinstance(stored.get("seen"), list):
            for msg_id in stored["seen"][-RECENT_IDS:]:
                self._seen[str(msg_id)] = None
            floor = stored.get("floor")
            self._delivered_up_to = int(floor) if isinstance(floor, int) else 0
            self._cursor_ready = True
            latest = stored.get("latest_ctime")
            if isinstance(latest, dict):
                self._newest_ctime = {str(k): int(v) for k, v in latest.items()}
            owed, owed_below = stored.get("owed"), stored.get("owed_below")
            if (isinstance(owed, int) and owed > 0) or stored.get("stopped") is not True:
                self._owed_at_start = max(0, owed_below) if isinstance(owed_below, int) else 0
            # running, not stopped: a kill from here on is told apart from a clean stop
            await self._save()
            try:
                self._show_history((await self.client.messages(page_size=WIDE_PAGE)).events)
            except AuthExpired:
                raise
            except BotslabError as err:  # only what shows the last event waits for a fetch
                _LOGGER.debug("the newest events were not read at start: %s", type(err).__name__)
        else:
            # first start: history is not replayed as events; everything after this point is.
            # History is the newest page, and whatever is within the look below (LOOKBACK)
            # of its newest event, so that no message of the past counts as listed late
            history: list[Event] = []
            for number in range(1, FIRST_START_PAGES + 1):
                page = await self.client.messages(page=number, page_size=FIRST_START_PAGE)
                history.extend(page.events)
                newest = max((e.ctime for e in history), default=0)
                if len(page.events) < FIRST_START_PAGE or any(
                    e.ctime < newest - LOOKBACK for e in page.events
                ):
                    break
            for event in reversed(history):
                self._seen[event.id] = None
            self._delivered_up_to = max((e.ctime for e in history), default=0)
            self._cursor_ready = True
            await self._save()
            self._show_history(history)
        self._deep = True  # the first walk looks below the newest delivered id
        self._unsubs.append(self.devices.async_add_listener(self._on_devices))

    def _show_history(self, history: Iterable[Event]) -> None:
        """Each device's newest listed event for what shows it (the last-event sensors and
        snapshot), at a start: nothing is fired, no automation hears it, it counts as late.
        What the first fetch then delivers is newer and takes its place."""
        for event in history:
            known = self.newest_event.get(event.serial)
            if not event.serial or (known is not None and known.event.ctime >= event.ctime):
                continue
            self.newest_event[event.serial] = self._delivered(event, late=True)
            if not self._unshown:
                self._unshown_since = time.monotonic()
            self._unshown[event.serial] = None  # shown when the first fetch ends
            if self.download_snapshots and event.image is not None:
                self.snapshots.offer(event)

    async def async_stop(self) -> None:
        self._stopping = True
        if self._until_started is not None:
            self._until_started()
            self._until_started = None
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        self._cancel_later()
        for task in (self._fetch_task, self._look_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._fetch_task = self._look_task = None
        if self._cursor_ready:  # a first start that could not read the history wrote none
            await self._store.async_save(self._data())

    @callback
    def _on_started(self, _hass: HomeAssistant) -> None:
        self._until_started = None
        self.request_fetch()

    def add_result_listener(self, listener: Callable[[bool], None]) -> None:
        """Hear whether each fetch reached the cloud (the push link's offline state)."""
        self._result_listeners.append(listener)

    @callback
    def _on_devices(self) -> None:
        """A fetch missed while the cloud was away is made up when the devices come back."""
        if self._missed and self.devices.last_update_success and not self.guard.in_conflict:
            self.request_fetch()

    # --- fetching ---------------------------------------------------------------------------------
    @callback
    def note_push(self) -> None:
        """A push came: the next page is sized for it, and its message is owed until a fetch
        delivers it (or two more looks did not find it)."""
        self._pushes += 1
        if self._owed == 0:
            self._owed_mark = self.delivered  # what came after this push lies above its message
        self._owed += 1
        self._relooks = 0

    def _fetch_later(self, delay: float, *, deep: bool = False) -> None:
        """One fetch `delay` seconds from now (after a rate limit; a look again is `deep`:
        it walks below the newest delivered id)."""
        self._cancel_later()
        self._later_deep = deep

        @callback
        def fetch(_now: Any) -> None:
            self._later = None
            if deep:
                self._look_again()
            else:
                self.request_fetch()

        self._later = async_call_later(self.hass, delay, fetch)

    def _cancel_later(self) -> None:
        if self._later is not None:
            self._later()
            self._later = None

    def _look_below(self) -> int:
        """How many seen ids a deep walk passes: every event delivered since the push whose
        message is owed (they lie above it in the list), and LOOK_BELOW more."""
        since = self.delivered - self._owed_mark if self._owed > 0 else 0
        return min(LOOK_BELOW_MAX, LOOK_BELOW + max(0, since))

    def _settle_pushes(self, delivered: int) -> None:
        """After a fetch: pushes it did not answer are looked for again by a deep walk,
        RELOOK_DELAYS after the fetch that first owed them (twice at most after the last
        push). The cloud may push before its list shows the message
        (docs/protocol/accepted.md#push-before-list), which then lands below messages
        delivered since. Fetches in between (more pushes) stay plain: a look again already
        waiting is not moved, so a steady stream of pushes cannot put it off for good."""
        # Events found beyond the pushes heard stand for no later push: a push cannot be
        # matched to its message (its body is opaque), and an event found without a push
        # (a poll's, or one whose push is still on its way) must not excuse the push of a
        # message listed late. A trailing push costs a look again that finds nothing.
        self._owed = max(0, self._owed - delivered)
        if self._owed == 0:
            self._relooks = 0
            if self._later is not None and self._later_deep:
                self._cancel_later()  # nothing is owed any more: no look again
        elif self._later is not None:
            return  # a look again (or the end of a rate limit) is on its way
        elif self._relooks < len(RELOOK_DELAYS):
            self._fetch_later(RELOOK_DELAYS[self._relooks], deep=True)
            self._relooks += 1
        else:
            _LOGGER.debug("%d pushes were not followed by a new message", self._owed)
            self._owed = self._relooks = 0

    @callback
    def request_fetch(self) -> None:
        """Fetch what is new; a burst of requests while a fetch runs becomes one more fetch.
        While Home Assistant starts, nothing is fetched: what happened meanwhile is fired once
        it has started, when automations listen."""
        if self._stopping:
            return
        if self.hass.state is not CoreState.running:
            if self._until_started is None:
                self._until_started = async_at_started(self.hass, self._on_started)
            return
        if self._fetch_task is not None and not self._fetch_task.done():
            self._dirty = True
            return
        self._fetch_task = self.entry.async_create_background_task(
            self.hass, self._fetch_loop(), "botslab event fetch"
        )

    def _far(self) -> bool:
        """Whether a page of the message list takes long enough (a far cloud) that round
        trips, not the work on either side, decide how fast events come."""
        return self.client.list_seconds >= FAR_LIST_SECONDS

    def _pages_at_once(self) -> int:
        """How many wide pages a walk asks for together: enough for twice the pushes owed
        (more may be on their way), at most PAGES_AT_ONCE. (A deep walk's pages below the
        first seen id are the client's to count, once the list has shown it is longer than a
        page: BELOW_AT_ONCE.)"""
        wanted = 2 * self._owed + 1
        return max(1, min(PAGES_AT_ONCE, -(-wanted // WIDE_PAGE)))

    async def _fetch_loop(self) -> None:
        # at once, even far away: the pushes of a burst that come while the first page is on
        # its way ask for their pages then (the walk's top-up, `pages_at_once`). Waiting to
        # hear more of them first cost every lone event that wait and bought bursts nothing
        # (docs/benchmarks.md#events-on-a-far-cloud)
        self.snapshots.pause()
        try:
            await self._fetch_until_clean()
        finally:
            self._show_newest_events()
            self.snapshots.resume()

    async def _fetch_until_clean(self) -> None:
        while True:
            self._dirty = False
            deep, self._deep = self._deep, False
            ok = await self._fetch_guarded(deep=deep)
            if deep and not ok:
                self._deep = True  # the start's walk is made again by the next fetch
            elif deep:
                self._look_after_start()
            if not ok or not self._dirty:
                return

    def _look_after_start(self) -> None:
        """Pushes the Home Assistant before this one heard and had not found in the list yet
        are owed still (a reload or restart inside a push-before-list window, or a kill):
        look again RELOOK_DELAYS after the start's walk, as it would have, below what it
        delivered on top of them and what this one delivered since."""
        if self._owed_at_start is None or self._start_looks_planned:
            return
        self._start_looks_planned = True
        for n, delay in enumerate(RELOOK_DELAYS):
            last = n == len(RELOOK_DELAYS) - 1
            self._unsubs.append(
                async_call_later(self.hass, delay, functools.partial(self._start_look, last))
            )

    @callback
    def _start_look(self, last: bool, _now: Any = None) -> None:
        owed_below = self._owed_at_start
        if owed_below is None or self._stopping:
            return
        if self._look_task is not None and not self._look_task.done():
            # a look again of this run is walking, perhaps not as deep: this one follows it
            self._unsubs.append(
                async_call_later(self.hass, 1.0, functools.partial(self._start_look, last))
            )
            return
        below = min(LOOK_BELOW_MAX, LOOK_BELOW + owed_below + self.delivered)
        self._look_again(below=max(self._look_below(), below), after_start=True)
        if last:
            self._owed_at_start = None

    async def _fetch_guarded(
        self, *, deep: bool, below: int | None = None, after_start: bool = False
    ) -> bool:
        """One walk and its delivery; whether it reached the cloud and may be followed."""
        if self.guard.in_conflict:
            self._missed = True
            return False
        try:
            await self._fetch_once(deep=deep, below=below, after_start=after_start)
        except AuthExpired:
            self._missed = True
            self.entry.async_start_reauth(self.hass)
            return False
        except SessionConflict:
            self._missed = True
            self.guard.report()  # everything backs off together
            self.devices.async_update_listeners()
            return False
        except RateLimited as err:
            self.last_fetch_error = "RateLimited"
            # not offline: the cloud answers, it asks for a pause. The client's gate
            # (shared with the coordinators, media and live view) refuses every call
            # before the time it named; the next fetch is at that time
            self._missed = True
            self.rate_limited += 1
            wait = err.retry_after if err.retry_after is not None else RATE_LIMIT_WAIT
            self._fetch_later(wait + RATE_LIMIT_MARGIN)
            _LOGGER.debug("event fetch rate limited for %.1f s", wait)
            return False
        except BotslabError as err:
            self.last_fetch_error = type(err).__name__
            self._missed = True
            self._report(ok=False)
            _LOGGER.debug("event fetch failed: %s", type(err).__name__)
            return False
        except Exception:  # a bug must not stop event delivery: the next fetch retries
            self._missed = True
            _LOGGER.exception("BOTSLAB event fetch failed unexpectedly")
            return False
        self._missed = False
        self._report(ok=True)
        return True

    @callback
    def _look_again(self, below: int | None = None, *, after_start: bool = False) -> None:
        """A deep walk for pushes still owed, beside the fetches pushes start: on a far
        cloud it takes a few round trips, and a fresh push must not wait for it. Both
        deliver through the one cursor (what one delivered, the other finds seen), each
        walk's batch in order."""
        if self._stopping or self.hass.state is not CoreState.running:
            return
        if self._look_task is not None and not self._look_task.done():
            return
        self._look_task = self.entry.async_create_background_task(
            self.hass, self._look(below, after_start), "botslab event look again"
        )

    async def _look(self, below: int | None, after_start: bool) -> None:
        try:
            await self._fetch_guarded(deep=True, below=below, after_start=after_start)
        finally:
            self._show_newest_events()

    def _report(self, *, ok: bool) -> None:
        self.last_fetch_ok = ok
        for listener in list(self._result_listeners):
            listener(ok)

    async def _fetch_once(
        self, *, deep: bool, below: int | None = None, after_start: bool = False
    ) -> None:
        """One walk. `below`: how many seen ids a deep walk passes (else `_look_below`), at
        most every id remembered: past them, events delivered before a restart would look
        new. `after_start`: a look again for the pushes of the Home Assistant before this
        one: what it finds answers none of this one's pushes."""
        self.fetches += 1
        # a short first page for one event; wide pages in a burst (pushes came faster than one
        # fetch, or the last walk outgrew its first page)
        burst = self._bursting or self._pushes > 1
        page_size = WIDE_PAGE if burst or deep else SHORT_PAGE
        if not deep:  # a look again leaves the pushes to the fetch they started
            self._pushes = 0
        # after a start, and when a push's message was not found: look below the newest
        # delivered id too (a message the cloud pushed before it listed it sits there)
        if below is None:
            below = self._look_below() if deep else 0
        below = min(below, len(self._seen))
        fresh = [
            e
            async for e in self.client.events_since(
                self._seen,
                self._delivered_up_to,
                page_size=page_size,
                wide_page_size=WIDE_PAGE,
                max_events=MAX_CATCH_UP,
                below=below,
                # on a far cloud, a burst's pages together (near, one by one is cheaper)
                pages_at_once=self._pages_at_once if self._far() else None,
            )
        ]
        if not deep:
            self._bursting = len(fresh) >= page_size
        if len(fresh) >= MAX_CATCH_UP:
            _LOGGER.warning(
                "More than %d BOTSLAB events arrived at once; the oldest were skipped", MAX_CATCH_UP
            )
        delivered_before = self.delivered
        await self._deliver_batch(fresh)
        if not after_start:
            self._settle_pushes(self.delivered - delivered_before)

    async def _deliver_batch(self, fresh: list[Event]) -> None:
        delivered_before = self.delivered
        for event in fresh:
            if event.id not in self._seen:
                self._deliver(event)
            else:
                self.duplicates += 1
        if self._unshown and time.monotonic() - self._unshown_since > NEWEST_WAIT:
            await asyncio.sleep(0)  # automations hear the events first
            self._show_newest_events()
        if self.delivered > delivered_before:
            # the crash guarantee (README): the cursor is written right after each delivered
            # batch, so a kill in between delivers that batch again, and never loses it
            await self._save()

    def _show_newest_events(self) -> None:
        """What shows a device's newest event (the last-event sensors) is written once per
        device when a fetch ends, or every NEWEST_WAIT in a long stream, after the events of
        the device fired: in a burst, not once per event."""
        newest, self._unshown = self._unshown, {}
        for serial in newest:
            async_dispatcher_send(self.hass, SIGNAL_NEWEST.format(self.entry.entry_id, serial))

    def _delivered(self, event: Event, *, late: bool) -> DeliveredEvent:
        device = device_for_serial(self.hass, self.entry.entry_id, event.serial)
        status = (self.devices.data or {}).get(event.serial)
        title = (
            status.device.title
            if status
            else (device.name if device and device.name else event.serial)
        )
        return DeliveredEvent(event, late, device.id if device else None, title)

    def _deliver(self, event: Event) -> None:
        """Fire one event: the bus, the device's event entities and binary sensors. When it is
        its device's newest, the device waits for `_show_newest_events`."""
        self._delivered_up_to = max(self._delivered_up_to or 0, event.ctime)
        self._seen[event.id] = None
        while len(self._seen) > RECENT_IDS:
            self._seen.popitem(last=False)
        self.delivered += 1
        delivered = self._delivered(event, late=time.time() - event.ctime > self.max_age)
        late, title = delivered.late, delivered.device_title
        self.late += late
        if event.ctime >= self._newest_ctime.get(event.serial, 0):
            self._newest_ctime[event.serial] = event.ctime
            self.newest_event[event.serial] = delivered
            if not self._unshown:
                self._unshown_since = time.monotonic()
            self._unshown[event.serial] = None
        self.hass.bus.async_fire(
            EVENT_BOTSLAB,
            {
                "device_id": delivered.device_id,
                "device": title,
                "serial": event.serial,
                "kind": event.kind.value,
                "event_type": event.event_type,
                "title": event.title,
                "message_id": event.id,
                "time": event.time.isoformat(),
                "late": late,
            },
        )
        async_dispatcher_send(
            self.hass, SIGNAL_EVENT.format(self.entry.entry_id, event.serial), delivered
        )
        if self.download_snapshots and event.image is not None:
            self.snapshots.offer(event)

    def cursor(self) -> dict[str, Any]:
        """The message cursor as diagnostics show it: the newest time delivered, how many
        ids are remembered, and the newest id's form (its kind and length, not the id)."""
        newest = next(reversed(self._seen), None)
        return {
            "newest_time": self._delivered_up_to,
            "ids_remembered": len(self._seen),
            "ids_remembered_max": RECENT_IDS,
            "newest_id_form": None if newest is None else id_form(newest),
            "devices_with_a_newest_time": len(self._newest_ctime),
        }

    # --- storage ------------------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        return {
            "floor": self._delivered_up_to,
            "seen": list(self._seen)[-STORED_IDS:],
            "latest_ctime": dict(self._newest_ctime),
            # what the next start must look again for: pushes owed (how many ids lie above
            # the oldest of them), and whether this Home Assistant stopped (a kill does not)
            **self._owed_data(),
            "stopped": self._stopping,
        }

    def _owed_data(self) -> dict[str, int]:
        """The pushes owed, this run's and the looks again still owed for the run before."""
        owed = self._owed
        below = self.delivered - self._owed_mark if owed > 0 else 0
        if self._owed_at_start is not None:
            owed, below = max(owed, 1), max(below, self._owed_at_start + self.delivered)
        return {"owed": owed, "owed_below": below}

    async def _save(self) -> None:
        """One write (the last STORED_IDS ids, the floor, each device's newest time)."""
        await self._store.async_save(self._data())


def id_form(msg_id: str) -> str:
    """What a message id looks like, without the id: `digits`, `hex`, `alphanumeric` or
    `text`, its length, and `derived` for the ids made from a message's content (it had
    none)."""
    if (
        len(msg_id) == 25
        and msg_id.startswith("h")
        and all(c in "0123456789abcdef" for c in msg_id[1:])
    ):
        return "derived (no id sent)"
    if msg_id.isascii() and msg_id.isdigit():
        kind = "digits"
    elif all(c in "0123456789abcdefABCDEF-" for c in msg_id):
        kind = "hex"
    elif msg_id.isascii() and msg_id.replace("-", "").replace("_", "").isalnum():
        kind = "alphanumeric"
    else:
        kind = "text"
    return f"{kind}, {len(msg_id)} characters"
