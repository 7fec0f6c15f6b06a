"""The benchmarks' hands inside Home Assistant (`scripts/bench doorbell|setup`, benchmark only).

Answers the driver on a loopback port, one JSON line per command:
- `add_account`: the demo account through the real config flow (first start only);
- `status`: whether the entry is loaded, its entities, how many are available, and when all of
  them first were (wall time, watched every 5 ms from this component's start);
- `options {json}`: the integration's options through its options flow, as the frontend sends;
- `token`: an administrator and tokens for the browser (made once, kept in memory);
- `state ENTITY_ID`: an entity's state.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.typing import ConfigType

DOMAIN = "botslab_bench"
BOTSLAB = "botslab"


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    conf = config[DOMAIN]
    seen: dict[str, Any] = {"ready_at": None, "loaded_at": None}
    tokens: dict[str, str] = {}

    async def watch() -> None:
        """Until every entity of the account is available: the moment it first is."""
        while seen["ready_at"] is None:
            entry = _entry(hass)
            if entry is not None and entry.state is ConfigEntryState.LOADED:
                if seen["loaded_at"] is None:
                    seen["loaded_at"] = time.time()
                total, available = _availability(hass, entry)
                if total and total == available:
                    seen["ready_at"] = time.time()
            await asyncio.sleep(0.005)

    hass.async_create_background_task(watch(), "botslab_bench watch")

    async def command(line: str) -> dict[str, Any]:
        word, _, rest = line.partition(" ")
        entry = _entry(hass)
        if word == "add_account":
            if entry is None:
                flow = await hass.config_entries.flow.async_init(
                    BOTSLAB, context={"source": SOURCE_USER}
                )
                await hass.config_entries.flow.async_configure(
                    flow["flow_id"],
                    {
                        "region": "eu1",  # every region is the emulator here
                        "username": conf["username"],
                        "password": conf["password"],
                    },
                )
            return {"ok": True}
        if word == "status":
            if entry is None or entry.state is not ConfigEntryState.LOADED:
                return {"loaded": False}
            total, available = _availability(hass, entry)
            push = entry.runtime_data.push
            return {
                "loaded": True,
                "entities": total,
                "available": available,
                "devices": len(entry.runtime_data.device_coordinator.data or {}),
                "ready_at": seen["ready_at"],
                "loaded_at": seen["loaded_at"],
                "push": push.connection if push is not None else None,
            }
        if word == "options" and entry is not None:
            flow = await hass.config_entries.options.async_init(entry.entry_id)
            defaults = {
                key.schema: key.default()
                for key in flow["data_schema"].schema
                if callable(getattr(key, "default", None))
            }
            result = await hass.config_entries.options.async_configure(
                flow["flow_id"], {**defaults, **json.loads(rest)}
            )
            return {"ok": result["type"] == "create_entry"}
        if word == "token":
            if not tokens:
                user = await hass.auth.async_create_user("Bench", group_ids=["system-admin"])
                refresh = await hass.auth.async_create_refresh_token(user, rest)
                tokens["refresh_token"] = refresh.token
                tokens["access_token"] = hass.auth.async_create_access_token(refresh)
            return dict(tokens)
        if word == "state":
            state = hass.states.get(rest)
            return {"state": state.state if state else None}
        return {"error": f"unknown command {line!r}"}

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = (await reader.readline()).decode().strip()
            writer.write((json.dumps(await command(line)) + "\n").encode())
            await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", int(conf["port"]))

    async def stop(_event: Any) -> None:
        server.close()

    hass.bus.async_listen_once("homeassistant_final_write", stop)
    return True


def _entry(hass: HomeAssistant) -> Any:
    entries = hass.config_entries.async_entries(BOTSLAB)
    return entries[0] if entries else None


def _availability(hass: HomeAssistant, entry: Any) -> tuple[int, int]:
    """(enabled entities of the entry, those with a state other than unavailable)."""
    total = available = 0
    for reg in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        if reg.disabled_by is not None:
            continue
        total += 1
        state = hass.states.get(reg.entity_id)
        if state is not None and state.state != "unavailable":
            available += 1
    return total, available
