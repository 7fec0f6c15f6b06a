"""`scripts/bench media`: time to first byte and throughput of the decrypting clip view.

Home Assistant (the test harness' real core) with the integration, the emulator as its own
process; an encrypted doorbell clip played through the view, again and again.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from homeassistant.components import media_source
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))


def unseal_id(hass: HomeAssistant, entry_id: str, item: Any) -> str | None:
    """The message id an event item's sealed reference carries."""
    from custom_components.botslab.media_ref import unseal

    ref = unseal(
        hass.data["botslab"]["media_key"], entry_id, item.media_content_id.rsplit("/", 1)[1]
    )
    return ref.msg_id if ref else None


async def test_media_benchmark(
    hass: HomeAssistant, enable_custom_integrations: None, emulator_url: str, hass_client: Any
) -> None:
    from custom_components.botslab.const import DOMAIN
    from tests.conftest import add_entry

    asyncio.get_running_loop().set_debug(False)
    os.environ["BOTSLAB_EMULATOR_URL"] = emulator_url  # development's switch (cloud.py)
    assert await async_setup_component(hass, DOMAIN, {})
    assert await async_setup_component(hass, "media_source", {})
    entry = await add_entry(hass)
    await hass.async_block_till_done()
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator_url}/_emulator/trigger",
            json={"device_name": "BDX3A1B2C3D4", "event_type": "ring"},
        ) as resp,
    ):
        msg_id = (await resp.json())["msg_id"]
    # the event's item in the media browser (its identifier carries the sealed reference)
    root = await media_source.async_browse_media(
        hass, f"media-source://{DOMAIN}/{entry.entry_id}/BDX3A1B2C3D4"
    )
    day = await media_source.async_browse_media(hass, root.children[0].media_content_id)
    item = next(c for c in day.children if unseal_id(hass, entry.entry_id, c) == msg_id)
    client = await hass_client()
    ttfbs: list[float] = []
    total_bytes = 0
    total_time = 0.0
    for _ in range(ROUNDS):
        resolved = await media_source.async_resolve_media(hass, item.media_content_id, None)
        assert resolved.url.startswith(f"/api/botslab/clip/{entry.entry_id}/")
        started = time.perf_counter()
        resp = await client.get(resolved.url)
        playlist = await resp.text()
        segments = [line for line in playlist.splitlines() if line and not line.startswith("#")]
        first = True
        for link in segments:
            parts = urlsplit(link)
            resp = await client.get(f"{parts.path}?{parts.query}")
            assert resp.status == 200
            async for chunk in resp.content.iter_chunked(65536):
                if first:
                    ttfbs.append((time.perf_counter() - started) * 1000)
                    first = False
                total_bytes += len(chunk)
        total_time += time.perf_counter() - started
    mbit_s = total_bytes * 8 / total_time / 1e6
    detail = f"rounds={ROUNDS} segments_per_clip={len(segments)} bytes={total_bytes} ttfb_p95_ms={sorted(ttfbs)[int(len(ttfbs) * 0.95) - 1]:.1f}"
    line = f"media ttfb_ms={statistics.median(ttfbs):.1f} mbit_s={mbit_s:.1f}"
    out = os.environ.get("BOTSLAB_BENCH_OUT")
    if out:
        Path(out).write_text(detail + "\n" + line + "\n")  # noqa: ASYNC240
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
