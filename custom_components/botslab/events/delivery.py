"""Exactly-once delivery in order: the message cursor, coalesced fetches, catch-up after
outages and restarts, the `botslab_event` on the bus and the per-device signals.

Every message becomes exactly one `botslab_event` (and, when fresh, fires the event entities
and binary sensors). The cursor (the ids delivered lately and the newest `ctime`) lives in
Home Assistant's storage."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
import contextlib
import logging
import time
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, CoreState, HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.storage import Store

from ..api import AuthExpired, BotslabClient, BotslabError, Event, SessionConflict
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
from . import SIGNAL_EVENT, SIGNAL_LATEST, DeliveredEvent
from .snapshots import SnapshotStore

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 2
RECENT_IDS = 2000
MAX_CATCH_UP = 5000
STORED_IDS = 200  # delivered ids kept across restarts
FIRST_START_PAGE = 20
SHORT_PAGE = 10  # the first page of a walk after a push or two
WIDE_PAGE = 50  # a burst's pages (the most the device list is seen to take, protocol.md 3.1)
NEWEST_WAIT = 0.1  # seconds a device's newest event may wait to be shown in a long stream


class CursorStore(Store[dict[str, Any]]):
    """The message cursor of one entry in Home Assistant's storage. Version 1 kept numeric
    ids (`last_id`, `recent`); version 2 keeps opaque ids (`seen`) and the newest `ctime`
    delivered (`floor`), as protocol.md 3.3 asks."""

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
        self._floor: int | None = None
        self._latest_ctime: dict[str, int] = {}
        self.latest: dict[str, DeliveredEvent] = {}
        self._fetch_task: asyncio.Task[None] | None = None
        self._dirty = False
        self._missed = False
        self._stopping = False
        self._pushes = 0
        self._bursting = False
        self._until_started: CALLBACK_TYPE | None = None
        self._result_listeners: list[Callable[[bool], None]] = []
        self._newest: dict[str, None] = {}  # devices whose newest event is not shown yet
        self._newest_since = 0.0
        self._unsubs: list[CALLBACK_TYPE] = []
        self.fetches = 0
        self.delivered = 0
        self.last_fetch_ok = True

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
            self._floor = int(floor) if isinstance(floor, int) else 0
            latest = stored.get("latest_ctime")
            if isinstance(latest, dict):
                self._latest_ctime = {str(k): int(v) for k, v in latest.items()}
        else:
            # first start: history is not replayed as events; everything after this point is
            page = await self.client.messages(page_size=FIRST_START_PAGE)
            for event in reversed(page.events):
                self._seen[event.id] = None
            self._floor = max((e.ctime for e in page.events), default=0)
            await self._save()
        self._unsubs.append(self.devices.async_add_listener(self._on_devices))

    async def async_stop(self) -> None:
        self._stopping = True
        if self._until_started is not None:
            self._until_started()
            self._until_started = None
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        task, self._fetch_task = self._fetch_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
        """A push came: the next page is sized for it."""
        self._pushes += 1

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

    async def _fetch_loop(self) -> None:
        self.snapshots.pause()
        try:
            await self._fetch_until_clean()
        finally:
            self._show_newest()
            self.snapshots.resume()

    async def _fetch_until_clean(self) -> None:
        while True:
            self._dirty = False
            if self.guard.in_conflict:
                self._missed = True
                return
            try:
                await self._fetch_once()
            except AuthExpired:
                self._missed = True
                self.entry.async_start_reauth(self.hass)
                return
            except SessionConflict:
                self._missed = True
                self.guard.report()  # everything backs off together
                self.devices.async_update_listeners()
                return
            except BotslabError as err:
                self._missed = True
                self._report(ok=False)
                _LOGGER.debug("event fetch failed: %s", type(err).__name__)
                return
            except Exception:  # a bug must not stop event delivery: the next fetch retries
                self._missed = True
                _LOGGER.exception("BOTSLAB event fetch failed unexpectedly")
                return
            self._missed = False
            self._report(ok=True)
            if not self._dirty:
                return

    def _report(self, *, ok: bool) -> None:
        self.last_fetch_ok = ok
        for listener in list(self._result_listeners):
            listener(ok)

    async def _fetch_once(self) -> None:
        self.fetches += 1
        # a short first page for one event; wide pages in a burst (pushes came faster than one
        # fetch, or the last walk outgrew its first page)
        burst = self._bursting or self._pushes > 1
        page_size = WIDE_PAGE if burst else SHORT_PAGE
        self._pushes = 0
        fresh = [
            e
            async for e in self.client.events_since(
                self._seen,
                self._floor,
                page_size=page_size,
                wide_page_size=WIDE_PAGE,
                max_events=MAX_CATCH_UP,
            )
        ]
        self._bursting = len(fresh) >= page_size
        if len(fresh) >= MAX_CATCH_UP:
            _LOGGER.warning(
                "More than %d BOTSLAB events arrived at once; the oldest were skipped", MAX_CATCH_UP
            )
        await self._deliver_batch(fresh)

    async def _deliver_batch(self, fresh: list[Event]) -> None:
        delivered_before = self.delivered
        for event in fresh:
            if event.id not in self._seen:
                self._deliver(event)
        if self._newest and time.monotonic() - self._newest_since > NEWEST_WAIT:
            await asyncio.sleep(0)  # automations hear the events first
            self._show_newest()
        if self.delivered > delivered_before:
            # the crash guarantee (README): the cursor is written right after each delivered
            # batch, so a kill in between delivers that batch again, and never loses it
            await self._save()

    def _show_newest(self) -> None:
        """What shows a device's newest event (the last-event sensors) is written once per
        device when a fetch ends, or every NEWEST_WAIT in a long stream, after the events of
        the device fired: in a burst, not once per event."""
        newest, self._newest = self._newest, {}
        for serial in newest:
            async_dispatcher_send(self.hass, SIGNAL_LATEST.format(self.entry.entry_id, serial))

    def _deliver(self, event: Event) -> None:
        """Fire one event: the bus, the device's event entities and binary sensors. When it is
        its device's newest, the device waits for `_show_newest`."""
        self._floor = max(self._floor or 0, event.ctime)
        self._seen[event.id] = None
        while len(self._seen) > RECENT_IDS:
            self._seen.popitem(last=False)
        self.delivered += 1
        device = device_for_serial(self.hass, self.entry.entry_id, event.serial)
        status = (self.devices.data or {}).get(event.serial)
        title = (
            status.device.title
            if status
            else (device.name if device and device.name else event.serial)
        )
        late = time.time() - event.ctime > self.max_age
        delivered = DeliveredEvent(event, late, device.id if device else None, title)
        if event.ctime >= self._latest_ctime.get(event.serial, 0):
            self._latest_ctime[event.serial] = event.ctime
            self.latest[event.serial] = delivered
            if not self._newest:
                self._newest_since = time.monotonic()
            self._newest[event.serial] = None
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

    # --- storage ------------------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        return {
            "floor": self._floor,
            "seen": list(self._seen)[-STORED_IDS:],
            "latest_ctime": dict(self._latest_ctime),
        }

    async def _save(self) -> None:
        """One small write (the last STORED_IDS ids, the floor, each device's newest time)."""
        await self._store.async_save(self._data())
