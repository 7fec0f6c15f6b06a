"""`scripts/bench events`: push write → event entity state change, in Home Assistant.

Home Assistant (the test harness' real core) with the integration, against the emulator running
as its own process on loopback (as the cloud is another machine), 50 devices, single events and
bursts. Writes its result lines to $BOTSLAB_BENCH_OUT.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
from pathlib import Path
import pstats
import random
import statistics
import sys
import time
from typing import Any

import aiohttp
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.setup import async_setup_component

from botslab_emulator.seed import DEMO_USER

SINGLES = int(os.environ.get("BENCH_SINGLES", "500"))
BURSTS = int(os.environ.get("BENCH_BURSTS", "5"))
BURST_SIZE = int(os.environ.get("BENCH_BURST_SIZE", "100"))
ROOT = Path(__file__).resolve().parents[1]


class _Trace:
    """BENCH_TRACE=1: each burst's timeline on stderr, in ms from its first push (the
    emulator's clock): page requests (start, round trip, items), batches (the push times of
    their events and the worst latency), the time in `_deliver` and the cursor writes.
    BENCH_TRACE=profile: also a cProfile of Home Assistant's loop over each burst."""

    def __init__(self, entry: Any) -> None:
        self.marks: list[tuple[float, str]] = []
        self.batches: list[tuple[float, list[str]]] = []
        self.profile = cProfile.Profile() if os.environ.get("BENCH_TRACE") == "profile" else None
        delivery, client = entry.runtime_data.events, entry.runtime_data.client
        items, deliver_batch = client._message_items, delivery._deliver_batch
        deliver, save = delivery._deliver, delivery._save
        spent = [0.0, 0.0]  # in _deliver since the last cursor write: wall, CPU

        async def traced_items(params: dict[str, Any]) -> Any:
            start = time.time()
            page = await items(params)
            took = (time.time() - start) * 1000
            text = f"page {params['page']}x{params['page_size']} ({took:.1f} ms, {len(page[0])})"
            self.marks.append((start, text))
            return page

        async def traced_batch(fresh: list[Any]) -> None:
            self.batches.append((time.time(), [e.id for e in fresh]))
            self.marks.append((time.time(), f"batch of {len(fresh)} begins"))
            await deliver_batch(fresh)

        def traced_deliver(event: Any) -> None:
            wall, cpu = time.perf_counter(), time.thread_time()
            deliver(event)
            spent[0] += time.perf_counter() - wall
            spent[1] += time.thread_time() - cpu

        async def traced_save() -> None:
            text = f"fired ({spent[0] * 1000:.1f} ms in _deliver, {spent[1] * 1000:.1f} on the CPU)"
            self.marks.append((time.time(), text))
            spent[:] = [0.0, 0.0]
            await save()
            self.marks.append((time.time(), "cursor written"))

        client._message_items = traced_items
        delivery._deliver_batch, delivery._deliver = traced_batch, traced_deliver
        delivery._save = traced_save

    def start(self) -> None:
        if self.profile is not None:
            self.profile.enable()

    def show(self, ids: list[str], pushed: dict[str, float], changed: dict[str, float]) -> None:
        if self.profile is not None:
            self.profile.disable()
        t0 = min(pushed[i] for i in ids)
        for begun, batch in self.batches:
            done = [i for i in batch if i in pushed and i in changed]
            if done:
                worst = max(done, key=lambda i: changed[i] - pushed[i])
                self.marks.append(
                    (
                        begun + 1e-6,
                        f"  pushed {(min(pushed[i] for i in done) - t0) * 1000:.1f}-"
                        f"{(max(pushed[i] for i in done) - t0) * 1000:.1f}, worst "
                        f"{(changed[worst] - pushed[worst]) * 1000:.1f} ms (#{batch.index(worst) + 1})",
                    )
                )
        latency = sorted((changed[i] - pushed[i]) * 1000 for i in ids if i in changed)
        lines = [f"{(t - t0) * 1000:7.1f} {text}" for t, text in sorted(self.marks) if t >= t0]
        print(
            f"burst: latency p50 {latency[len(latency) // 2]:.1f} max {latency[-1]:.1f} ms",
            *lines,
            sep="\n",
            file=sys.stderr,
        )
        self.marks.clear()
        self.batches.clear()
        if self.profile is not None:
            pstats.Stats(self.profile, stream=sys.stderr).sort_stats("cumulative").print_stats(60)
            self.profile = cProfile.Profile()


async def test_events_benchmark(
    hass: HomeAssistant, enable_custom_integrations: None, emulator_url: str
) -> None:
    from custom_components.botslab.const import DOMAIN
    from tests.conftest import add_entry

    # the test harness runs the loop in debug mode (a traceback for every callback): not here
    asyncio.get_running_loop().set_debug(False)

    async with aiohttp.ClientSession() as http:

        async def control(path: str, body: dict[str, Any]) -> Any:
            async with http.post(f"{emulator_url}/_emulator/{path}", json=body) as resp:
                assert resp.status == 200, await resp.text()
                return await resp.json()

        devices = [
            (await control("devices", {"owner": DEMO_USER, "title": f"Camera {i:02d}"}))[
                "device_name"
            ]
            for i in range(47)
        ]
        devices += ["BDX3A1B2C3D4", "BCC5E5F6A7B8", "BCC2C9D0E1F2"]
        os.environ["BOTSLAB_EMULATOR_URL"] = emulator_url  # development's switch (cloud.py)
        assert await async_setup_component(hass, DOMAIN, {})
        entry = await add_entry(hass)
        from custom_components.botslab.const import (
            CONF_DOWNLOAD_SNAPSHOTS,
            CONF_LIVE_PREPARE_SECONDS,
        )

        options: dict[str, Any] = {}
        if os.environ.get("BENCH_NO_SNAPSHOTS"):
            options[CONF_DOWNLOAD_SNAPSHOTS] = False
        if os.environ.get("BENCH_NO_PREPARE"):  # a ring's prepared live view streams meanwhile
            options[CONF_LIVE_PREPARE_SECONDS] = 0
        if options:
            hass.config_entries.async_update_entry(entry, options=options)
            await hass.async_block_till_done()
        stream = entry.runtime_data.push
        assert stream is not None
        deadline = time.monotonic() + 20
        while stream.connection != "push":
            assert time.monotonic() < deadline, "push did not connect"
            await asyncio.sleep(0.01)
        while True:  # far away, the alias reaches the server half a round trip later
            async with http.get(f"{emulator_url}/_emulator/push") as resp:
                if (await resp.json())["bound_aliases"]:
                    break
            assert time.monotonic() < deadline, "the push alias was not bound"
            await asyncio.sleep(0.01)
        assert len(devices) == 50

        changed: dict[str, float] = {}
        bus_count: dict[str, int] = {}

        @callback
        def on_state(event: Event) -> None:
            new = event.data.get("new_state")
            if new is None or not new.entity_id.startswith("event."):
                return
            msg_id = new.attributes.get("message_id")
            if isinstance(msg_id, str) and msg_id not in changed:
                changed[msg_id] = time.time()

        @callback
        def on_bus(event: Event) -> None:
            msg_id = str(event.data["message_id"])
            bus_count[msg_id] = bus_count.get(msg_id, 0) + 1

        # each page of the message list as the client waits for it: far away, its round trip
        # is the floor under an event's latency (the push is opaque, docs/protocol/cloud-api.md)
        page_ms: list[float] = []
        fetch_items = entry.runtime_data.client._message_items

        async def timed_items(params: dict[str, Any]) -> Any:
            start = time.perf_counter()
            page = await fetch_items(params)
            page_ms.append((time.perf_counter() - start) * 1000)
            return page

        entry.runtime_data.client._message_items = timed_items
        trace = _Trace(entry) if os.environ.get("BENCH_TRACE") else None
        hass.bus.async_listen("state_changed", on_state)
        hass.bus.async_listen("botslab_event", on_bus)
        rnd = random.Random(7)
        pushed_at: dict[str, float] = {}

        def one() -> dict[str, str]:
            name = rnd.choice(devices)
            kinds = ["motion", "person", "pet", "vehicle", "package", "sound"]
            kind = "ring" if name.startswith("BD") and rnd.random() < 0.5 else rnd.choice(kinds)
            return {"device_name": name, "event_type": kind}

        def record(result: dict[str, Any]) -> str:
            msg_id = str(result["msg_id"])
            pushed_at[msg_id] = float(result["pushed_at"])
            return msg_id

        async def settle(ids: list[str], wait: float = 10.0) -> None:
            end = time.monotonic() + wait
            while not all(i in changed for i in ids) and time.monotonic() < end:
                await asyncio.sleep(0.002)

        async def quiet() -> None:
            """Until no fetch is on its way: a single is a lone event, its push the one that
            starts its fetch (far away, a fetch the last push started may still be reading the
            list when the next event is made, and find it before its own push arrives)."""
            delivery = entry.runtime_data.events
            end = time.monotonic() + 5.0
            while time.monotonic() < end and (
                delivery._fetch_task is not None and not delivery._fetch_task.done()
            ):
                await asyncio.sleep(0.002)

        single_ids: list[str] = []
        for _ in range(SINGLES):
            msg_id = record(await control("trigger", one()))
            single_ids.append(msg_id)
            await settle([msg_id], 5.0)
            await quiet()
            await asyncio.sleep(0.005)
        burst_ids: list[str] = []
        burst_fetches = 0
        spans: list[float] = []
        tails: list[float] = []
        for _ in range(BURSTS):
            await asyncio.sleep(0.3)
            before = entry.runtime_data.events.fetches
            if trace is not None:
                trace.start()
            results = (await control("burst", {"events": [one() for _ in range(BURST_SIZE)]}))[
                "results"
            ]
            ids = [record(r) for r in results]
            await settle(ids)
            if trace is not None:
                trace.show(ids, pushed_at, changed)
            await asyncio.sleep(0.2)
            burst_fetches += entry.runtime_data.events.fetches - before
            burst_ids.extend(ids)
            spans.append((max(pushed_at[i] for i in ids) - min(pushed_at[i] for i in ids)) * 1000)
            tails.append(
                (max(changed.get(i, 0) for i in ids) - max(pushed_at[i] for i in ids)) * 1000
            )
        await asyncio.sleep(0.5)

        def latencies(ids: list[str]) -> list[float]:
            return sorted((changed[i] - pushed_at[i]) * 1000 for i in ids if i in changed)

        def pct(values: list[float], p: float) -> float:
            return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")

        all_ids = single_ids + burst_ids
        values = latencies(all_ids)
        lost = sum(1 for i in all_ids if i not in changed or bus_count.get(i, 0) == 0)
        duplicated = sum(1 for i in all_ids if bus_count.get(i, 0) > 1)
        singles, bursts = latencies(single_ids), latencies(burst_ids)
        detail = (
            f"devices={len(devices)} singles={len(single_ids)} "
            f"(p50={statistics.median(singles) if singles else float('nan'):.2f} "
            f"p99={pct(singles, 0.99):.2f}) bursts={BURSTS}x{BURST_SIZE} "
            f"(p50={statistics.median(bursts) if bursts else float('nan'):.2f} p99={pct(bursts, 0.99):.2f}) "
            f"burst_fetches={burst_fetches} burst_push_span_ms={statistics.mean(spans) if spans else 0:.0f} "
            f"burst_tail_ms={statistics.mean(tails) if tails else 0:.0f} "
            f"page_ms=(p50={statistics.median(page_ms) if page_ms else float('nan'):.1f} "
            f"p99={pct(sorted(page_ms), 0.99):.1f} n={len(page_ms)})"
        )
        line = (
            f"events n={len(all_ids)} p50_ms={statistics.median(values):.2f} p95_ms={pct(values, 0.95):.2f} "
            f"p99_ms={pct(values, 0.99):.2f} fetches_per_event={burst_fetches / max(1, len(burst_ids)):.3f} "
            f"lost={lost} duplicated={duplicated}"
        )
        async with http.post(f"{emulator_url}/_emulator/faults", json={}) as resp:
            net = (await resp.json())["net"]
        line += f" rtt_ms={net['rtt_ms']:g} jitter_ms={net['jitter_ms']:g}"
        out = os.environ.get("BOTSLAB_BENCH_OUT")
        if out:
            Path(out).write_text(detail + "\n" + line + "\n")  # noqa: ASYNC240
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
