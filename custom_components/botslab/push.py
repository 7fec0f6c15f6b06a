"""The Home Assistant side of the push channel: listener lifecycle, coalesced fetches,
exactly-once delivery in order, catch-up after outages and restarts, fallback polling.

Every message becomes exactly one `botslab_event` on the bus (and, when fresh, fires the event
entities and binary sensors). The last delivered message id lives in HA's storage.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
import contextlib
from dataclasses import dataclass
from datetime import timedelta
import logging
import time
from typing import Any

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.helpers.storage import Store

from .api import (
    AuthExpired,
    BotslabClient,
    BotslabError,
    ConnectionState,
    Event,
    PushClient,
    PushMessage,
    SessionConflict,
    SnapshotExpired,
)
from .const import (
    CONF_DOWNLOAD_SNAPSHOTS,
    CONF_MAX_EVENT_AGE,
    CONF_POLL_INTERVAL,
    DEFAULT_DOWNLOAD_SNAPSHOTS,
    DEFAULT_MAX_EVENT_AGE,
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
    EVENT_BOTSLAB,
)
from .coordinator import BotslabConfigEntry, BotslabCoordinator
from .devices import device_for_serial

_LOGGER = logging.getLogger(__name__)

STORAGE_VERSION = 2
RECENT_IDS = 2000
MAX_CATCH_UP = 5000
SAVE_DELAY = 0.5
STORED_IDS = 200  # delivered ids kept across restarts
FIRST_START_PAGE = 20
SNAPSHOT_DOWNLOADS = 4
SAME_DEVICE_GAP = 0.0015  # seconds between two events of one device
PUSH_HEARTBEAT_S = 60.0  # protocol.md 4
PUSH_TIMEOUT_S = 180  # the `t` the bind announces

# per entry and device: only that device's entities hear its events
SIGNAL_EVENT = "botslab_event_{}_{}"
SIGNAL_IMAGE = "botslab_image_{}_{}"
SIGNAL_CONNECTION = "botslab_connection_{}"

CONNECTION_PUSH = "push"
CONNECTION_POLLING = "polling"
CONNECTION_OFFLINE = "offline"


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


@dataclass(frozen=True, slots=True)
class DeliveredEvent:
    """A message delivered once: the event, whether it came late, its HA device."""

    event: Event
    late: bool
    device_id: str | None
    device_title: str


class BotslabEventStream:
    """Owns the push connection and the message cursor of one config entry."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: BotslabConfigEntry,
        client: BotslabClient,
        coordinator: BotslabCoordinator,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.client = client
        self.coordinator = coordinator
        self._store = CursorStore(hass, entry.entry_id)
        # the cursor: ids delivered lately (opaque strings) and the newest ctime delivered
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._floor: int | None = None
        self._push = PushClient(
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
        self._fetch_task: asyncio.Task[None] | None = None
        self._dirty = False
        self._missed = False
        self._last_fetch_ok = True
        self._stopping = False
        self.connection = CONNECTION_POLLING
        self.fetches = 0
        self.delivered = 0
        self._pushes = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.images: dict[str, tuple[Event, bytes]] = {}
        self._snapshot_next: dict[str, Event] = {}
        self._snapshot_busy: set[str] = set()
        self._snapshot_slots = asyncio.Semaphore(SNAPSHOT_DOWNLOADS)
        self.latest: dict[str, DeliveredEvent] = {}
        self._latest_ctime: dict[str, int] = {}
        self._last_fired: dict[str, float] = {}

    # --- options -------------------------------------------------------------------------------
    @property
    def max_age(self) -> int:
        return int(self.entry.options.get(CONF_MAX_EVENT_AGE, DEFAULT_MAX_EVENT_AGE))

    @property
    def poll_interval(self) -> int:
        return int(self.entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL))

    @property
    def download_snapshots(self) -> bool:
        return bool(self.entry.options.get(CONF_DOWNLOAD_SNAPSHOTS, DEFAULT_DOWNLOAD_SNAPSHOTS))

    # --- lifecycle ---------------------------------------------------------------------------
    async def _alias(self) -> str:
        session = self.client.session or await self.client.login()
        return session.push_alias

    async def async_start(self) -> None:
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
            self._save()
        self._unsubs.append(self._push.subscribe(self._on_push))
        self._unsubs.append(self._push.subscribe_state(self._on_push_state))
        self._unsubs.append(self.coordinator.async_add_listener(self._on_coordinator))
        self._start_polling()
        self._push.start()
        self.request_fetch()  # what happened while Home Assistant was not listening

    async def async_stop(self) -> None:
        self._stopping = True
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        self._stop_polling()
        await self._push.stop()
        task, self._fetch_task = self._fetch_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._store.async_save(self._data())

    # --- push and polling -----------------------------------------------------------------------
    @callback
    def _on_push(self, message: PushMessage) -> None:
        self._pushes += 1
        self.request_fetch()

    @callback
    def _on_push_state(self, state: ConnectionState) -> None:
        if state is ConnectionState.CONNECTED:
            self._stop_polling()
            self._set_connection(CONNECTION_PUSH)
            if self._push.connects > 1:
                _LOGGER.info("BOTSLAB push channel is back")
            self.request_fetch()  # catch up on the outage
        elif self.connection == CONNECTION_PUSH and state in (
            ConnectionState.DISCONNECTED,
            ConnectionState.BACKOFF,
        ):
            _LOGGER.info(
                "BOTSLAB push channel lost; polling every %d s until it is back", self.poll_interval
            )
            self._start_polling()
            self._set_connection(CONNECTION_POLLING if self._last_fetch_ok else CONNECTION_OFFLINE)

    def _start_polling(self) -> None:
        if self._poll_unsub is None and not self._stopping:
            self._poll_unsub = async_track_time_interval(
                self.hass,
                self._poll,
                timedelta(seconds=self.poll_interval),
                name="botslab fallback poll",
            )

    def _stop_polling(self) -> None:
        if self._poll_unsub is not None:
            self._poll_unsub()
            self._poll_unsub = None

    @callback
    def _poll(self, _now: Any) -> None:
        self.request_fetch()

    @callback
    def _on_coordinator(self) -> None:
        if (
            self._missed
            and self.coordinator.last_update_success
            and not self.coordinator.in_conflict
        ):
            self.request_fetch()

    def _set_connection(self, value: str) -> None:
        if value != self.connection:
            self.connection = value
            async_dispatcher_send(self.hass, SIGNAL_CONNECTION.format(self.entry.entry_id))

    # --- fetching ---------------------------------------------------------------------------------
    @callback
    def request_fetch(self) -> None:
        """Fetch what is new; a burst of requests while a fetch runs becomes one more fetch."""
        if self._stopping:
            return
        if self._fetch_task is not None and not self._fetch_task.done():
            self._dirty = True
            return
        self._fetch_task = self.entry.async_create_background_task(
            self.hass, self._fetch_loop(), "botslab event fetch"
        )

    async def _fetch_loop(self) -> None:
        self._idle.clear()
        try:
            await self._fetch_until_clean()
        finally:
            self._idle.set()

    async def _fetch_until_clean(self) -> None:
        while True:
            self._dirty = False
            if self.coordinator.in_conflict:
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
                self.coordinator.report_conflict()
                return
            except BotslabError as err:
                self._missed = True
                self._last_fetch_ok = False
                if self.connection != CONNECTION_PUSH:
                    self._set_connection(CONNECTION_OFFLINE)
                _LOGGER.debug("event fetch failed: %s", type(err).__name__)
                return
            except Exception:  # a bug must not stop event delivery: the next fetch retries
                self._missed = True
                _LOGGER.exception("BOTSLAB event fetch failed unexpectedly")
                return
            self._missed = False
            self._last_fetch_ok = True
            if self.connection == CONNECTION_OFFLINE:
                self._set_connection(CONNECTION_POLLING)
            if not self._dirty:
                return

    async def _fetch_once(self) -> None:
        self.fetches += 1
        # pages of as many messages as pushes came since the last fetch, and a few more
        page_size = min(50, max(10, self._pushes + 5))
        self._pushes = 0
        fresh = [
            e
            async for e in self.client.events_since(
                self._seen, self._floor, page_size=page_size, max_events=MAX_CATCH_UP
            )
        ]
        if len(fresh) >= MAX_CATCH_UP:
            _LOGGER.warning(
                "More than %d BOTSLAB events arrived at once; the oldest were skipped", MAX_CATCH_UP
            )
        delivered = False
        for event in fresh:
            if event.id in self._seen:
                continue
            # An event entity's state is its time in milliseconds: two events of one device
            # in the same millisecond would read as one to state triggers and the bridges.
            since = time.monotonic() - self._last_fired.get(event.device_name, 0.0)
            if since < SAME_DEVICE_GAP:
                await asyncio.sleep(SAME_DEVICE_GAP - since)
            self._deliver(event)
            self._last_fired[event.device_name] = time.monotonic()
            delivered = True
        if delivered:
            self._save()

    def _deliver(self, event: Event) -> None:
        self._floor = max(self._floor or 0, event.ctime)
        self._seen[event.id] = None
        while len(self._seen) > RECENT_IDS:
            self._seen.popitem(last=False)
        self.delivered += 1
        device = device_for_serial(self.hass, self.entry.entry_id, event.device_name)
        state = (self.coordinator.data or {}).get(event.device_name)
        title = (
            state.device.title
            if state
            else (device.name if device and device.name else event.device_name)
        )
        late = time.time() - event.ctime > self.max_age
        delivered = DeliveredEvent(event, late, device.id if device else None, title)
        if event.ctime >= self._latest_ctime.get(event.device_name, 0):
            self._latest_ctime[event.device_name] = event.ctime
            self.latest[event.device_name] = delivered
        self.hass.bus.async_fire(
            EVENT_BOTSLAB,
            {
                "device_id": delivered.device_id,
                "device": title,
                "serial": event.device_name,
                "kind": event.kind.value,
                "event_type": event.event_type,
                "title": event.title,
                "message_id": event.id,
                "time": event.time.isoformat(),
                "late": late,
            },
        )
        async_dispatcher_send(
            self.hass, SIGNAL_EVENT.format(self.entry.entry_id, event.device_name), delivered
        )
        if self.download_snapshots and event.image is not None:
            self._queue_snapshot(event)

    def _queue_snapshot(self, event: Event) -> None:
        """Download a device's newest event snapshot: one download per device at a time, a
        few at once overall; in a burst, older snapshots of the same device are skipped."""
        serial = event.device_name
        waiting = self._snapshot_next.get(serial)
        if waiting is None or waiting.ctime <= event.ctime:
            self._snapshot_next[serial] = event
        if serial not in self._snapshot_busy:
            self._snapshot_busy.add(serial)
            self.entry.async_create_background_task(
                self.hass, self._snapshots(serial), f"botslab snapshot {serial}"
            )

    async def _snapshots(self, serial: str) -> None:
        try:
            while (event := self._snapshot_next.pop(serial, None)) is not None:
                await self._idle.wait()  # events first: snapshots wait for a quiet moment
                async with self._snapshot_slots:
                    await self._download(event)
        finally:
            self._snapshot_busy.discard(serial)

    async def _download(self, event: Event) -> None:
        try:
            image = await self.client.download_snapshot(event)
        except SnapshotExpired:
            _LOGGER.debug("snapshot of message %s expired before download", event.id)
            return
        except BotslabError as err:
            _LOGGER.debug("snapshot of message %s not downloaded: %s", event.id, type(err).__name__)
            return
        current = self.images.get(event.device_name)
        if current is not None and current[0].ctime > event.ctime:
            return  # a newer snapshot is already there
        self.images[event.device_name] = (event, image)
        async_dispatcher_send(
            self.hass,
            SIGNAL_IMAGE.format(self.entry.entry_id, event.device_name),
            event.device_name,
        )

    # --- storage ------------------------------------------------------------------------------
    def _data(self) -> dict[str, Any]:
        return {
            "floor": self._floor,
            "seen": list(self._seen)[-STORED_IDS:],
            "latest_ctime": dict(self._latest_ctime),
        }

    def _save(self) -> None:
        self._store.async_delay_save(self._data, SAVE_DELAY)

    async def async_remove(self) -> None:
        await self._store.async_remove()


def subscribe(hass: HomeAssistant, signal: str, target: Callable[..., None]) -> CALLBACK_TYPE:
    from homeassistant.helpers.dispatcher import async_dispatcher_connect

    return async_dispatcher_connect(hass, signal, target)
