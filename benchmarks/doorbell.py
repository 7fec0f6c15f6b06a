"""`scripts/bench doorbell [--network loopback|wan]`: the doorbell moment as a person sees it.

Home Assistant (with its frontend, stream component and this integration) and the emulator run
as their own processes; Debian's Chromium, driven by Playwright, plays Home Assistant's own
player in the camera's more-info dialog. The emulator stamps every video frame with its index
in the clip and logs when it sent it (GET /_emulator/live), and the page reads the stamp of
every frame it paints (requestVideoFrameCallback, the frame drawn to a canvas), so that a
painted frame is matched with the moment the device sent it.

Each run measures, on one profile:
- ring, prepared: the doorbell rings, the ring reaches Home Assistant, the person taps
  `--tap-after` seconds later (picks up the phone); ring_to_video_ms is that tap to the first
  painted frame (ring_at_tap_ms says how long after the ring the tap came);
- the same with the prepared session turned off (the device is awake after its ring: a warm
  open);
- a cold click: the doorbell asleep, a tap, the first painted frame;
- live delay: while the prepared ring's video plays (`--watch` seconds), the median of paint
  time minus the device's send time of the painted frame;
- battery: after each view the dialog is closed; the time until the camera stops streaming.

Prints the spread of three runs (lowest-highest), the details, then one line:
`doorbell network=… ring_to_video_ms=… prepared=1 cold_click_to_video_ms=… live_delay_ms=…
runs=3` (medians).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Any

import aiohttp

from benchmarks.haproc import HaProcess
from benchmarks.processes import start_emulator
from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path

DOOR_SN, DOOR = "BDX3A1B2C3D4", "camera.front_door"
STREAM = f"{DOOR_SN}_01_01"
RING_ENTITY = "event.front_door_doorbell"

# every painted frame of the first <video> in the page (through shadow roots), with the index
# stamped in its bottom edge (botslab_emulator/live/clip.py: 8 squares of 16 px, bit 0 left)
PAINT_WATCH = """
(() => {
  const find = (root) => {
    for (const el of root.querySelectorAll("*")) {
      if (el.tagName === "VIDEO") return el;
      if (el.shadowRoot) { const found = find(el.shadowRoot); if (found) return found; }
    }
    return null;
  };
  const b = (window.__bench = { armed: false, first: null, samples: [], video: null, tap: 0 });
  window.__benchArm = () => {
    b.armed = true; b.first = null; b.samples = []; b.video = null;
    b.tap = performance.timeOrigin + performance.now();
    return b.tap;
  };
  const canvas = document.createElement("canvas");
  canvas.width = 320; canvas.height = 240;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  setInterval(() => {
    if (!b.armed) return;
    const v = find(document);
    if (!v || v === b.video) return;
    b.video = v;
    const onFrame = (now, meta) => {
      if (b.video !== v || !b.armed) return;
      const wall = performance.timeOrigin + meta.expectedDisplayTime;
      if (v.videoWidth) {
        if (b.first === null) b.first = wall;
        ctx.drawImage(v, 0, 0, 320, 240);
        const row = ctx.getImageData(0, 232, 320, 1).data;
        let index = 0;
        for (let bit = 0; bit < 8; bit++) if (row[(bit * 16 + 8) * 4] > 128) index |= 1 << bit;
        if (b.samples.length < 2000) b.samples.push([wall, index]);
      }
      v.requestVideoFrameCallback(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  }, 10);
})();
"""
OPEN = """(entityId) => {
  const tap = window.__benchArm();
  document.querySelector("home-assistant").dispatchEvent(
    new CustomEvent("hass-more-info", {detail: {entityId}, bubbles: true, composed: true}));
  return tap;
}"""
CLOSE = """() => { window.__bench.armed = false; document.querySelector("home-assistant").dispatchEvent(
    new CustomEvent("hass-more-info", {detail: {entityId: ""}, bubbles: true, composed: true})); }"""


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.emulator: asyncio.subprocess.Process | None = None
        self.emulator_url = ""
        self.ha: HaProcess | None = None
        self.http: aiohttp.ClientSession | None = None
        self.page: Any = None
        self.log: list[str] = []
        self.views = 0

    def say(self, msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self.http is not None
        if body is None and method != "GET":
            body = {}
        async with self.http.request(
            method, f"{self.emulator_url}/_emulator/{path}", json=body
        ) as resp:
            resp.raise_for_status()
            return await resp.json()

    # --- set-up ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.emulator, self.emulator_url = await start_emulator(
            self.workdir / "emulator.json",
            self.workdir / "emulator.log",
            network=self.args.network,
        )
        self.http = aiohttp.ClientSession()
        stream: dict[str, float] = {}
        if self.args.segment:
            stream["segment_duration"] = self.args.segment
        if self.args.part:
            stream["part_duration"] = self.args.part
        self.ha = HaProcess(self.workdir, self.emulator_url, stream=stream)
        await self.ha.start()

    async def stop(self) -> None:
        if self.ha is not None:
            await self.ha.stop()
        if self.emulator is not None:
            self.emulator.terminate()
            await self.emulator.wait()
        if self.http is not None:
            await self.http.close()

    async def browser(self, playwright: Any) -> Any:
        assert self.ha is not None
        client_id = self.ha.url + "/"
        tokens = await self.ha.ask(f"token {client_id}")
        assert tokens is not None
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1280, "height": 1000})
        stored = {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "token_type": "Bearer",
            "expires_in": 1800,
            "expires": int(time.time() * 1000) + 1_800_000,
            "hassUrl": self.ha.url,
            "clientId": client_id,
            "ha_auth_provider": "homeassistant",
        }
        await context.add_init_script(
            "localStorage.setItem('hassTokens', " + repr(json.dumps(stored)) + ");"
        )
        await context.add_init_script(PAINT_WATCH)
        page = await context.new_page()
        page.set_default_timeout(60_000)
        await page.goto(self.ha.url + "/config/devices/dashboard")
        await page.wait_for_function(
            "() => { const ha = document.querySelector('home-assistant');"
            " return !!(ha && ha.hass && ha.hass.states && ha.hass.states['camera.front_door']); }"
        )
        self.page = page
        return browser

    # --- one view -------------------------------------------------------------------------
    async def wait_for(self, check: Any, within: float, what: str) -> None:
        end = time.monotonic() + within
        while time.monotonic() < end:
            if await check():
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {what}")

    async def quiet(self) -> None:
        """The camera idle and the device no longer publishing."""
        assert self.ha is not None
        ha = self.ha

        async def idle() -> bool:
            return await ha.state(DOOR) == "idle"

        async def silent() -> bool:
            return STREAM not in (await self.control("GET", "live"))["publishing"]

        await self.wait_for(idle, 90, "the camera to stop streaming")
        await self.wait_for(silent, 60, "the device to stop publishing")

    async def view(self, *, watch: float) -> dict[str, Any]:
        """Tap the camera, wait for the first painted frame, watch, close; the figures."""
        tap = await self.page.evaluate(OPEN, DOOR)
        end = time.monotonic() + 60
        first = None
        while time.monotonic() < end:
            first = await self.page.evaluate("() => window.__bench.first")
            if first is not None:
                break
            await asyncio.sleep(0.02)
        if first is None:
            await self.page.screenshot(path=str(self.workdir / "no-video.png"))
            state = await self.page.evaluate(
                "() => { const b = window.__bench; return [b.armed, !!b.video, b.samples.length,"
                " b.video ? [b.video.currentTime, b.video.readyState, b.video.videoWidth] : null]; }"
            )
            raise RuntimeError(f"no painted frame within 60 s: {state}")
        await asyncio.sleep(watch)
        samples = await self.page.evaluate("() => window.__bench.samples")
        await self.page.evaluate(CLOSE)
        closed = time.time()
        sent = (await self.control("GET", f"live?since={tap / 1000 - 30}"))["frames"]
        # the first picture may be held as a still while the player reaches the live edge
        # (the feed's backfill): the video moves from the first painted frame of another index
        moving = next((at for at, index in samples if index != samples[0][1]), float("nan"))
        delays = _delays([x for x in samples if x[0] >= moving], sent)
        if self.args.keep:  # every painted frame, for a look at the player's timeline
            self.views += 1
            dump = {"tap": tap, "samples": samples, "sent": [f for f in sent if f[1] == STREAM]}
            (self.workdir / f"view-{self.views}.json").write_text(json.dumps(dump))
        assert self.ha is not None
        ha = self.ha

        async def idle() -> bool:
            return await ha.state(DOOR) == "idle"

        await self.wait_for(idle, 90, "the camera to stop streaming")
        return {
            "tap": tap / 1000,
            "to_video_ms": first - tap,
            "to_moving_ms": moving - tap,
            "live_delay_ms": statistics.median(delays) if delays else float("nan"),
            "painted": len(samples),
            "stop_s": time.time() - closed,
        }

    async def ring(self) -> float:
        """A ring; when it reached Home Assistant's event entity."""
        assert self.ha is not None
        before = await self.ha.state(RING_ENTITY)
        made = time.time()
        await self.control("POST", "trigger", {"device_name": DOOR_SN, "event_type": "ring"})
        ha = self.ha

        async def shown() -> bool:
            return await ha.state(RING_ENTITY) != before

        await self.wait_for(shown, 30, "the ring to reach Home Assistant")
        return made

    async def one_run(self, n: int) -> dict[str, float]:
        assert self.ha is not None
        out: dict[str, float] = {}
        # a ring with the prepared session
        await self.ha.ask('options {"live_prepare_seconds": 30}')
        await self.quiet()
        rang = await self.ring()
        await asyncio.sleep(self.args.tap_after)
        seen = await self.view(watch=self.args.watch)
        out["ring_to_video_ms"] = seen["to_video_ms"]
        out["ring_to_moving_ms"] = seen["to_moving_ms"]
        out["ring_at_tap_ms"] = (seen["tap"] - rang) * 1000
        out["live_delay_ms"] = seen["live_delay_ms"]
        out["stop_s"] = seen["stop_s"]
        # the same ring without it: a warm open after the tap
        await self.ha.ask('options {"live_prepare_seconds": 0}')
        await self.quiet()
        await self.ring()
        await asyncio.sleep(self.args.tap_after)
        seen = await self.view(watch=self.args.watch)
        out["ring_unprepared_ms"] = seen["to_video_ms"]
        out["ring_unprepared_moving_ms"] = seen["to_moving_ms"]
        # a cold click: the doorbell asleep
        await self.quiet()
        await self.control("POST", f"devices/{DOOR_SN}", {"awake": False})
        seen = await self.view(watch=self.args.watch)
        out["cold_click_to_video_ms"] = seen["to_video_ms"]
        out["cold_click_moving_ms"] = seen["to_moving_ms"]
        await self.ha.ask('options {"live_prepare_seconds": 30}')
        self.say(f"run {n}: " + " ".join(f"{k}={v:.0f}" for k, v in out.items()))
        return out


def _delays(samples: list[list[float]], sent: list[list[Any]]) -> list[float]:
    """Paint time minus the send time of the painted frame: the latest send of the stamped
    index before the paint (the real-media clip loops every 16 s; a delay past that would
    alias)."""
    by_index: dict[int, list[float]] = {}
    for at, stream, index in sent:
        if stream == STREAM:
            by_index.setdefault(int(index), []).append(float(at) * 1000)
    out = []
    for painted, index in samples:
        before = [t for t in by_index.get(int(index), []) if t <= painted]
        if before:
            out.append(painted - max(before))
    return out


async def amain(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    if chromium_path() is None:
        print("doorbell benchmark: Chromium is not installed (apt-get install chromium)")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        bench = Bench(args, workdir)
        try:
            await bench.start()
            async with async_playwright() as playwright:
                browser = await bench.browser(playwright)
                try:
                    runs = [await bench.one_run(n + 1) for n in range(args.runs)]
                finally:
                    await browser.close()
        finally:
            await bench.stop()
    keys = [
        "ring_to_video_ms",
        "ring_to_moving_ms",
        "ring_unprepared_ms",
        "ring_unprepared_moving_ms",
        "cold_click_to_video_ms",
        "cold_click_moving_ms",
        "live_delay_ms",
        "ring_at_tap_ms",
        "stop_s",
    ]
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    spread = " ".join(
        f"{k}={min(r[k] for r in runs):.0f}-{max(r[k] for r in runs):.0f}" for k in keys
    )
    stream = f"segment_s={args.segment or 6:g} part_s={args.part or 1:g}"
    print(f"spread of {args.runs} runs: {spread}")
    print(
        f"details: prepared=0 ring_to_video_ms={med['ring_unprepared_ms']:.0f} "
        f"(moving {med['ring_unprepared_moving_ms']:.0f}) prepared=1 moving "
        f"{med['ring_to_moving_ms']:.0f} cold_click moving {med['cold_click_moving_ms']:.0f} "
        f"ring_at_tap_ms={med['ring_at_tap_ms']:.0f} stop_after_close_s={med['stop_s']:.1f} "
        f"device_wake_ms={args.device_wake_ms:.0f} {stream} tap_after_s={args.tap_after:g}"
    )
    print(
        f"doorbell network={args.network} ring_to_video_ms={med['ring_to_video_ms']:.0f} "
        f"prepared=1 cold_click_to_video_ms={med['cold_click_to_video_ms']:.0f} "
        f"live_delay_ms={med['live_delay_ms']:.0f} runs={args.runs}"
    )
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench doorbell", description=__doc__)
    parser.add_argument("--network", choices=("loopback", "wan"), default="loopback")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", default="", help="a directory for the logs (kept)")
    parser.add_argument("--tap-after", type=float, default=3.0, help="seconds after the ring")
    parser.add_argument("--watch", type=float, default=8.0, help="seconds of video watched")
    parser.add_argument(
        "--segment", type=float, default=0, help="stream: segment_duration (HA default 6)"
    )
    parser.add_argument("--part", type=float, default=0, help="stream: part_duration (default 1)")
    args = parser.parse_args(argv)
    from botslab_emulator.live.faults import LiveFaults

    faults = LiveFaults()  # the emulator's device: its boot and its encoder's start
    args.device_wake_ms = (faults.wake_s + faults.publish_delay_s) * 1000
    return args


def main() -> int:
    return asyncio.run(amain(parse_args(sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
