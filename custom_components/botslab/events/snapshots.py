"""The newest event snapshot of each device.

Delivery offers every event with an image; downloads wait until delivery is quiet (events
first), run one per device and a few at once, and in a burst skip the older snapshots of a
device. Entities and views read through `get`, `find` and `values`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_send

from ..api import BotslabClient, BotslabError, Event, RateLimited, SnapshotExpired
from . import SIGNAL_IMAGE

_LOGGER = logging.getLogger(__name__)

SNAPSHOT_DOWNLOADS = 4


class SnapshotStore:
    """Downloads and keeps the newest event snapshot of each device of one entry."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[Any], client: BotslabClient) -> None:
        self.hass = hass
        self.entry = entry
        self.client = client
        self._images: dict[str, tuple[Event, bytes]] = {}
        self._next: dict[str, Event] = {}
        self._busy: set[str] = set()
        self._slots = asyncio.Semaphore(SNAPSHOT_DOWNLOADS)
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    # --- what entities and views read ------------------------------------------------------
    def get(self, serial: str) -> tuple[Event, bytes] | None:
        """The device's newest snapshot and its event, if one was downloaded."""
        return self._images.get(serial)

    def find(self, message_id: str) -> bytes | None:
        """The snapshot of one message, while it is a device's newest."""
        for event, image in self._images.values():
            if event.id == message_id:
                return image
        return None

    def values(self) -> Iterator[tuple[Event, bytes]]:
        return iter(list(self._images.values()))

    def clear(self) -> None:
        """Forget every snapshot (views then fetch from the cloud)."""
        self._images.clear()

    # --- what delivery does ------------------------------------------------------------------
    @callback
    def pause(self) -> None:
        """Delivery is busy: downloads wait."""
        self._quiet.clear()

    @callback
    def resume(self) -> None:
        self._quiet.set()

    @callback
    def offer(self, event: Event) -> None:
        """Download this event's snapshot unless a newer one of its device comes first."""
        serial = event.serial
        waiting = self._next.get(serial)
        if waiting is None or waiting.ctime <= event.ctime:
            self._next[serial] = event
        if serial not in self._busy and not self._stopped:
            self._busy.add(serial)
            task = self.entry.async_create_background_task(
                self.hass, self._run(serial), f"botslab snapshot {serial}"
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def async_stop(self) -> None:
        """No more downloads: the ones running end before the client closes its session."""
        self._stopped = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    async def _run(self, serial: str) -> None:
        try:
            while (event := self._next.pop(serial, None)) is not None:
                await self._quiet.wait()
                async with self._slots:
                    await self._download(event)
        finally:
            self._busy.discard(serial)

    async def _download(self, event: Event) -> None:
        try:
            try:
                image = await self.client.download_snapshot(event)
            except RateLimited as err:
                # the media host asked for a pause: download once it is over (the link
                # lives about an hour, the pause at most ten minutes)
                await asyncio.sleep(err.retry_after or 0)
                image = await self.client.download_snapshot(event)
        except SnapshotExpired:
            _LOGGER.debug("snapshot of message %s expired before download", event.id)
            return
        except BotslabError as err:
            _LOGGER.debug("snapshot of message %s not downloaded: %s", event.id, type(err).__name__)
            return
        current = self._images.get(event.serial)
        if current is not None and current[0].ctime > event.ctime:
            return  # a newer snapshot is already there
        self._images[event.serial] = (event, image)
        async_dispatcher_send(
            self.hass, SIGNAL_IMAGE.format(self.entry.entry_id, event.serial), event.serial
        )
