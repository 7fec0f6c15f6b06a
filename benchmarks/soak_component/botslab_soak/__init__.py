"""The soak's ears inside Home Assistant (`scripts/bench soak`, benchmark only).

Writes one line per `botslab_event` and per first event-entity state of a message to a file
(flushed at once, so a SIGKILL leaves exactly what was fired), adds the demo account through
the real config flow on the first start, and answers the soak driver on a loopback port:
`status`, `reload`, `snooze`, `dnd`, `dnd_off`, `mem_start`, `mem_report`."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import time
import tracemalloc
from typing import Any, TextIO

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers.typing import ConfigType

DOMAIN = "botslab_soak"
BOTSLAB = "botslab"


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    conf = config[DOMAIN]
    out = await hass.async_add_executor_job(_open, Path(conf["out"]))
    pid = os.getpid()
    entity_seen: set[str] = set()

    def write(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    @callback
    def on_botslab_event(event: Event) -> None:
        delivery = _delivery(hass)
        fetch = delivery.fetches if delivery is not None else -1
        data = event.data
        write(f"E {pid} {fetch} {data['message_id']} {int(bool(data['late']))} {time.time():.6f}")

    @callback
    def on_state(event: Event) -> None:
        new = event.data.get("new_state")
        if new is None or not new.entity_id.startswith("event."):
            return
        msg_id = new.attributes.get("message_id")
        if isinstance(msg_id, str) and msg_id not in entity_seen:
            entity_seen.add(msg_id)
            if len(entity_seen) > 50_000:
                entity_seen.clear()
            write(f"S {pid} {msg_id} {time.time():.6f}")

    hass.bus.async_listen("botslab_event", on_botslab_event)
    hass.bus.async_listen("state_changed", on_state)
    write(f"START {pid} {time.time():.6f}")

    async def add_account() -> None:
        if hass.config_entries.async_entries(BOTSLAB):
            return
        flow = await hass.config_entries.flow.async_init(BOTSLAB, context={"source": SOURCE_USER})
        await hass.config_entries.flow.async_configure(
            flow["flow_id"],
            {"region": "eu1", "username": conf["username"], "password": conf["password"]},
        )

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            command = (await reader.readline()).decode().strip()
            answer = await _command(hass, command, add_account)
            writer.write((json.dumps(answer) + "\n").encode())
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", int(conf["port"]))

    async def stop(_event: Event) -> None:
        server.close()
        out.close()

    hass.bus.async_listen_once("homeassistant_final_write", stop)
    return True


def _open(path: Path) -> TextIO:
    return path.open("a", encoding="utf-8")


def _entry(hass: HomeAssistant) -> Any:
    entries = hass.config_entries.async_entries(BOTSLAB)
    return entries[0] if entries else None


def _delivery(hass: HomeAssistant) -> Any:
    entry = _entry(hass)
    if entry is None or entry.state is not ConfigEntryState.LOADED:
        return None
    return entry.runtime_data.events


async def _command(hass: HomeAssistant, command: str, add_account: Any) -> dict[str, Any]:
    entry = _entry(hass)
    if command == "add_account":
        await add_account()
        return {"ok": True}
    if command == "status":
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            return {"loaded": False}
        data = entry.runtime_data
        delivery = data.events
        return {
            "loaded": True,
            "connection": data.push.connection if data.push is not None else None,
            "reason": data.push.plan.reason if data.push is not None else None,
            "push_state": data.push.push.state.value if data.push is not None else None,
            # connection attempts failed in a row (the backoff grows with them)
            "push_failures": data.push.push.failures if data.push is not None else None,
            "delivered": delivery.delivered,
            "fetches": delivery.fetches,
            # the bounded structures: they must stay within their limits however long it runs
            "recent_ids": len(delivery._seen),
            "newest_events": len(delivery.newest_event),
            "snapshots": len(list(data.snapshots.values())),
            "devices": len(data.device_coordinator.data or {}),
            "push_acks": len(data.push.push._seen_acks) if data.push else 0,
        }
    if command.startswith(("snooze ", "dnd ")) or command == "dnd_off":
        return await _hold_back(hass, entry, command)
    if command == "reload":
        if entry is None:
            return {"ok": False}
        return {"ok": await hass.config_entries.async_reload(entry.entry_id)}
    if command == "mem_start":
        tracemalloc.start(1)
        tracemalloc.clear_traces()
        hass.data[DOMAIN] = tracemalloc.take_snapshot()
        return {"ok": True}
    if command == "mem_report":
        return _memory_report(hass.data.get(DOMAIN))
    return {"error": f"unknown command {command!r}"}


async def _hold_back(hass: HomeAssistant, entry: Any, command: str) -> dict[str, Any]:
    """The settings that make the cloud hold pushes back, set as a user does, through the
    integration's actions: `snooze SERIAL SECONDS`, `dnd MINUTES` (from now), `dnd_off`."""
    from datetime import timedelta

    from homeassistant.util import dt as dt_util

    from custom_components.botslab.devices import device_for_serial

    if entry is None or entry.state is not ConfigEntryState.LOADED:
        return {"ok": False}
    words = command.split()
    if words[0] == "snooze":
        device = device_for_serial(hass, entry.entry_id, words[1])
        if device is None:
            return {"ok": False}
        data: dict[str, Any] = {"device_id": device.id, "duration": {"seconds": int(words[2])}}
        await hass.services.async_call(BOTSLAB, "snooze_notifications", data, blocking=True)
    elif words[0] == "dnd":
        now = dt_util.now()
        end = now + timedelta(minutes=int(words[1]))
        data = {"enabled": True, "start": now.strftime("%H:%M"), "end": end.strftime("%H:%M")}
        await hass.services.async_call(BOTSLAB, "set_do_not_disturb", data, blocking=True)
    else:
        await hass.services.async_call(
            BOTSLAB, "set_do_not_disturb", {"enabled": False}, blocking=True
        )
    return {"ok": True}


def _memory_report(start: Any) -> dict[str, Any]:
    """Memory that Python code allocated since `mem_start` and still holds: all of it, and
    the part allocated by the integration's own files."""
    if start is None or not tracemalloc.is_tracing():
        return {"error": "mem_start first"}
    end = tracemalloc.take_snapshot()
    ours = tracemalloc.Filter(True, "*custom_components/botslab/*")
    diff = end.filter_traces([ours]).compare_to(start.filter_traces([ours]), "lineno")
    total = sum(s.size_diff for s in end.compare_to(start, "filename"))
    top = [
        f"{s.traceback[0].filename.split('custom_components/')[-1]}:{s.traceback[0].lineno} "
        f"{s.size_diff / 1024:+.1f} KiB"
        for s in sorted(diff, key=lambda s: -s.size_diff)[:5]
    ]
    tracemalloc.stop()
    return {
        "integration_kib": round(sum(s.size_diff for s in diff) / 1024, 1),
        "all_kib": round(total / 1024, 1),
        "top": top,
    }
