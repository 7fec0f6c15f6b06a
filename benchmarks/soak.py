"""`scripts/bench soak`: events under fire, with restarts, counted against the emulator.

Home Assistant runs as its own process (`python -m homeassistant`, a configuration directory
of its own, the integration and a small recorder, benchmarks/soak_component) against the
emulator as another process. A seeded schedule sends single events and bursts on 50 devices
while faults come at random moments: push drops, refused push connections, malformed push
frames, unsolicited heartbeat replies of both opcode-1 forms, 5xx bursts and delays on the
message list, an expired session and failed snapshot downloads. The config entry is reloaded
and Home Assistant restarted with the same storage, once gracefully and once by SIGKILL in
the middle of a burst.

What the emulator made (the message id of every trigger, checked against the size of the
account's message box) is compared with the `botslab_event`s the recorder wrote:

- `lost`: made and never fired; `duplicated`: fired more than once. Both must be 0.
- `kill_dup` / `kill_lost`: the same, for what a SIGKILL catches between firing a batch and
  writing the cursor. The integration takes the at-least-once side (README), so a kill may fire
  the batch it interrupted again (at most that one batch) and loses nothing.
- `late`: fired as late (older than the entry's maximum event age, no entity fires).
- `p99_ms`: push write to event-entity state, for events made while push was healthy (outside
  every fault, reload and restart window, and a few seconds after) and before tracemalloc
  started (it slows every allocation down); the details line gives it with them as well.
- Memory: tracemalloc snapshots in the last Home Assistant process, at its start and at the
  end; the bounded structures (recent ids, snapshots, device views) are checked.

`scripts/bench soak [--seed N] [--minutes M] [--events N] [--faults N] [--short] [--keep]`
prints the seed first, so
that a failing schedule can be replayed; the result line last. Exit status 1 when an event
was lost or doubled beyond the stated guarantee.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
import json
import os
from pathlib import Path
import random
import signal
import sys
import tempfile
import time
from typing import Any

import aiohttp

from benchmarks.haproc import ask_helper, http_settings, link_components, spawn_ha
from benchmarks.processes import free_port, start_emulator
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER

ROOT = Path(__file__).resolve().parents[1]
COMPONENT = ROOT / "benchmarks" / "soak_component" / "botslab_soak"
KINDS = ["motion", "person", "pet", "vehicle", "package", "sound"]
MALFORMED = [
    "garbage",
    "bad_version",
    "huge_length",
    "truncated",
    "unknown_opcode",
    "empty_body",
    "opaque_body",
    "header_body",
    "bad_props",
]
FAULT_KINDS = [
    "push_drop",
    "push_refuse",
    "malformed",
    "op1_bare",
    "op1_props",
    "list_5xx",
    "list_delay",
    "sid_expired",
    "snapshot_fail",
    "push_before_list",
    "snooze",
    "do_not_disturb",
]
LIFECYCLE = ("reload", "restart", "kill")
# the message list of the demo account's region (the emulator's faults match a path's start:
# "/v2/message/list" alone matched nothing, and the 5xx and delay faults were never made)
LIST_PATH = "/api/eu1/v2/message/list"
SETTLE = 3.0  # seconds after a fault or restart before latency counts again
HELD_BACK_POLL = 5.0  # events/link.py: how often the list is read while pushes are held back
RECENT_IDS_LIMIT = 2000  # events/delivery.py RECENT_IDS
PUSH_ACKS_LIMIT = 512  # api/push.py SEEN_ACKS


@dataclass
class SoakPlan:
    seed: int
    minutes: float = 5.5
    events: int = 2200
    reloads: int = 2
    graceful_restarts: int = 1
    kills: int = 1
    faults: int = 60
    burst_min: int = 20
    burst_max: int = 100

    @classmethod
    def short(cls, seed: int) -> SoakPlan:
        """The suite's soak (tests/test_soak.py; `--short`): 45 s, every fault kind once, a
        reload, a graceful restart and a SIGKILL."""
        return cls(
            seed=seed,
            minutes=0.75,
            events=240,
            reloads=1,
            graceful_restarts=1,
            kills=1,
            faults=len(FAULT_KINDS),
            burst_max=60,
        )


@dataclass
class SoakResult:
    made: int = 0
    lost: int = 0
    duplicated: int = 0
    kill_lost: int = 0
    kill_dup: int = 0
    late: int = 0
    faults: int = 0
    fault_kinds: set[str] = field(default_factory=set)
    reloads: int = 0
    restarts: int = 0
    healthy: int = 0  # events made while push was healthy, before tracemalloc started
    p99_ms: float = float("nan")  # over those
    healthy_traced: int = 0  # with the healthy events while tracemalloc ran
    p99_traced_ms: float = float("nan")
    seconds: float = 0.0
    memory: dict[str, Any] = field(default_factory=dict)
    bounds: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"soak n={self.made} lost={self.lost} duplicated={self.duplicated} "
            f"kill_lost={self.kill_lost} kill_dup={self.kill_dup} late={self.late} "
            f"faults={self.faults} restarts={self.restarts} p99_ms={self.p99_ms:.1f}"
        )


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


class Soak:
    """One soak run in `workdir`: the emulator, Home Assistant, the schedule, the count."""

    def __init__(self, plan: SoakPlan, workdir: Path, *, log: Any = None) -> None:
        self.plan = plan
        self.rnd = random.Random(plan.seed)
        self.workdir = workdir
        self.config = workdir / "config"
        self.out = workdir / "events.txt"
        self.port = free_port()  # the recorder's control port
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.result = SoakResult()
        self.emulator: asyncio.subprocess.Process | None = None
        self.ha: asyncio.subprocess.Process | None = None
        self.emulator_url = ""
        self.http: aiohttp.ClientSession | None = None
        self.devices: list[str] = []
        self.qid = ""
        self.made: dict[str, float | None] = {}  # message id -> push write time (None: no push)
        self.made_at: dict[str, float] = {}  # message id -> when the trigger answered
        self.unhealthy: list[tuple[float, float]] = []  # windows where latency does not count
        self.kills: list[tuple[int, float, float]] = []  # (pid killed, when, when back)
        self.pids: list[int] = []
        self._stop_events = asyncio.Event()
        self.memory_from = float("inf")  # tracemalloc runs from here (it slows Python down)

    # --- processes -------------------------------------------------------------------------
    async def start_emulator(self) -> None:
        self.emulator, self.emulator_url = await start_emulator(
            self.workdir / "emulator.json", self.workdir / "emulator.log"
        )

    def write_config(self) -> None:
        link_components(self.config, "botslab_soak", COMPONENT)
        (self.config / "configuration.yaml").write_text(
            "homeassistant:\n  name: soak\n  time_zone: UTC\n  country: DE\n"
            "  unit_system: metric\n  currency: EUR\n"
            f"{http_settings(self.config, free_port())}"
            "logger:\n  default: warning\n"
            f"botslab_soak:\n  out: {self.out}\n  port: {self.port}\n"
            f"  username: {DEMO_USER}\n  password: {DEMO_PASSWORD}\n"
        )

    async def start_ha(self) -> None:
        started = time.time()
        self.ha = await spawn_ha(
            self.config, self.workdir, self.emulator_url, self.workdir / f"ha-{len(self.pids)}.log"
        )
        self.pids.append(self.ha.pid)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.ha.returncode is not None:
                raise RuntimeError(f"Home Assistant exited ({self.ha.returncode})")
            status = await self.ask("status")
            if status is not None and not status.get("loaded") and len(self.pids) == 1:
                await self.ask("add_account")
            if status and status.get("loaded") and status.get("push_state") == "connected":
                self.log(f"Home Assistant {self.ha.pid} ready in {time.time() - started:.1f} s")
                return
            await asyncio.sleep(0.2)
        raise RuntimeError("Home Assistant did not get ready")

    async def stop_ha(self, sig: int = signal.SIGTERM) -> None:
        ha, self.ha = self.ha, None
        if ha is None or ha.returncode is not None:
            return
        ha.send_signal(sig)
        try:
            await asyncio.wait_for(ha.wait(), 90)
        except TimeoutError:
            ha.kill()
            await ha.wait()

    async def ask(self, command: str) -> dict[str, Any] | None:
        """A command to the recorder in Home Assistant; None while it is not listening."""
        return await ask_helper(self.port, command, 120)

    async def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        assert self.http is not None
        if body is None and method != "GET":
            body = {}  # the control API takes only JSON bodies
        async with self.http.request(
            method, f"{self.emulator_url}/_emulator/{path}", json=body
        ) as resp:
            if resp.status != 200:
                raise RuntimeError(f"emulator {path}: {resp.status} {await resp.text()}")
            return await resp.json()

    # --- events ----------------------------------------------------------------------------
    def one(self) -> dict[str, str]:
        name = self.rnd.choice(self.devices)
        kind = "ring" if name.startswith("BD") and self.rnd.random() < 0.5 else None
        return {"device_name": name, "event_type": kind or self.rnd.choice(KINDS)}

    def record(self, result: dict[str, Any]) -> None:
        msg_id = (result.get("msg_ids") or {}).get(self.qid) or result.get("msg_id")
        if msg_id is None:
            return
        pushed = result.get("pushed_at") if result.get("msg_id") == msg_id else None
        self.made[str(msg_id)] = float(pushed) if pushed else None
        self.made_at[str(msg_id)] = time.time()

    async def burst(self, size: int) -> None:
        answer = await self.control("POST", "burst", {"events": [self.one() for _ in range(size)]})
        for result in answer["results"]:
            self.record(result)

    async def events(self, until: float, rate: float, burst_every: float) -> None:
        """Singles at `rate` a second and a burst every `burst_every` seconds, until `until`."""
        next_burst = time.monotonic() + self.rnd.uniform(0.3, 1.0) * burst_every
        while time.monotonic() < until and not self._stop_events.is_set():
            if time.monotonic() >= next_burst:
                await self.burst(self.rnd.randint(self.plan.burst_min, self.plan.burst_max))
                next_burst = time.monotonic() + self.rnd.uniform(0.5, 1.5) * burst_every
            else:
                self.record(await self.control("POST", "trigger", self.one()))
            await asyncio.sleep(self.rnd.expovariate(rate))

    # --- chaos -----------------------------------------------------------------------------
    async def fault(self, kind: str) -> None:
        start = time.time()
        faults = self.set_faults
        if kind == "push_drop":
            await self.control("POST", "push/drop")
        elif kind == "push_refuse":
            await faults(push_refuse=True)
            await self.control("POST", "push/drop")
            await asyncio.sleep(self.rnd.uniform(1.0, 4.0))
            await faults(push_refuse=False)
        elif kind == "malformed":
            await self.control("POST", "push/malformed", {"kind": self.rnd.choice(MALFORMED)})
        elif kind in ("op1_bare", "op1_props"):
            form = "heartbeat_reply" if kind == "op1_bare" else "heartbeat_reply_props"
            await faults(push_heartbeat_reply=kind.removeprefix("op1_"))
            await self.control("POST", "push/malformed", {"kind": form})
            await faults(push_heartbeat_reply="mixed")
        elif kind == "list_5xx":
            await faults(
                errors_left=self.rnd.randint(1, 5),
                error_status=self.rnd.choice([500, 502, 503]),
                error_path=LIST_PATH,
            )
            await asyncio.sleep(self.rnd.uniform(1.0, 3.0))
            await faults(errors_left=0)
        elif kind == "list_delay":
            await faults(delay_ms=self.rnd.randint(200, 2000), delay_path=LIST_PATH)
            await asyncio.sleep(self.rnd.uniform(1.0, 4.0))
            await faults(delay_ms=0)
        elif kind == "sid_expired":
            await self.control("POST", "expire", {"username": DEMO_USER, "what": "sid"})
        elif kind == "snapshot_fail":
            await faults(errors_left=self.rnd.randint(1, 4), error_status=503, error_path="/oss/")
            await asyncio.sleep(self.rnd.uniform(1.0, 3.0))
            await faults(errors_left=0)
        elif kind == "push_before_list":
            # a push comes before the list shows its message: the look again finds it
            await faults(push_before_list_ms=self.rnd.randint(300, 3000))
            await asyncio.sleep(self.rnd.uniform(1.0, 4.0))
            await faults(push_before_list_ms=0)
        elif kind == "snooze":
            # a doorbell snoozed from Home Assistant: its events are not pushed, only listed
            seconds = self.rnd.randint(8, 30)
            doorbells = [d for d in self.devices if d.startswith("BD")] or self.devices
            await self.ask(f"snooze {self.rnd.choice(doorbells)} {seconds}")
            self.unhealthy.append((start, time.time() + seconds + SETTLE + HELD_BACK_POLL))
        elif kind == "do_not_disturb":
            # do-not-disturb now, for the whole account: nothing is pushed, all is listed
            await self.ask("dnd 2")
            await asyncio.sleep(self.rnd.uniform(4.0, 12.0))
            await self.ask("dnd_off")
        self.result.faults += 1
        self.result.fault_kinds.add(kind)
        self.unhealthy.append((start, time.time() + SETTLE))

    async def set_faults(self, **knobs: Any) -> None:
        await self.control("POST", "faults", knobs)

    async def reload(self) -> None:
        start = time.time()
        answer = await self.ask("reload")
        if not answer or not answer.get("ok"):
            self.result.problems.append(f"reload failed: {answer}")
        await self.wait_push()
        self.result.reloads += 1
        self.unhealthy.append((start, time.time() + SETTLE))

    async def wait_push_back(self) -> None:
        """A push fault late in the run may leave the client in its backoff: its failures in
        a row reset only after a healthy minute, and its next wait is at most 2^(failures - 1)
        seconds (capped at 300). Push must be back within that and a connection's time, or
        it is a problem (a backoff that never resets would show here)."""
        status = await self.ask("status") or {}
        failures = int(status.get("push_failures") or 0)
        within = min(300, 2 ** max(0, failures - 1)) + 15
        began = time.monotonic()
        await self.wait_push(within=within)
        if (waited := time.monotonic() - began) > 1:
            self.log(f"push came back {waited:.1f} s after the run ({failures} failures)")

    async def wait_push(self, within: float = 120) -> None:
        deadline = time.monotonic() + within
        status = None
        while time.monotonic() < deadline:
            status = await self.ask("status")
            if status and status.get("loaded") and status.get("push_state") == "connected":
                return
            await asyncio.sleep(0.2)
        self.result.problems.append(f"push did not come back within {within:.0f} s: {status}")

    async def restart(self, *, kill: bool) -> None:
        start = time.time()
        assert self.ha is not None
        pid = self.ha.pid
        if kill:
            # SIGKILL in the middle of a burst: once its first events were fired
            before = self._fired_by(pid)
            burst = asyncio.create_task(self.burst(100))
            deadline = time.monotonic() + 5
            while self._fired_by(pid) < before + 5 and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
            await asyncio.sleep(self.rnd.uniform(0, 0.01))
            await self.stop_ha(signal.SIGKILL)
            killed_at = time.time()
            await burst
        else:
            await self.stop_ha(signal.SIGTERM)
            killed_at = time.time()
        await self.start_ha()
        if kill:
            self.kills.append((pid, killed_at, time.time()))
        self.result.restarts += 1
        self.unhealthy.append((start, time.time() + SETTLE))

    def _fired_by(self, pid: int) -> int:
        try:
            text = self.out.read_text()
        except FileNotFoundError:
            return 0
        return text.count(f"E {pid} ")

    def schedule(self, seconds: float) -> list[tuple[float, str]]:
        """When each chaos action comes (seconds from the start): every fault kind at least
        once, then at random; reloads and restarts in the first half, so that the last Home
        Assistant runs long enough to show its memory."""
        plan = self.plan
        kinds = FAULT_KINDS + [
            self.rnd.choice(FAULT_KINDS) for _ in range(max(0, plan.faults - len(FAULT_KINDS)))
        ]
        self.rnd.shuffle(kinds)
        actions = [(self.rnd.uniform(0.03, 0.95) * seconds, kind) for kind in kinds]
        lifecycle = (
            ["reload"] * plan.reloads + ["restart"] * plan.graceful_restarts + ["kill"] * plan.kills
        )
        self.rnd.shuffle(lifecycle)
        for n, action in enumerate(lifecycle):
            share = (n + 1) / (len(lifecycle) + 1) * 0.5
            actions.append((share * seconds + self.rnd.uniform(-2, 2), action))
        return sorted(actions)

    async def chaos(self, started: float, seconds: float) -> None:
        for at, action in self.schedule(seconds):
            delay = started + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.log(f"{time.monotonic() - started:6.1f} s  {action}")
            if action == "reload":
                await self.reload()
            elif action in ("restart", "kill"):
                await self.restart(kill=action == "kill")
            else:
                await self.fault(action)
            lifecycle = self.plan.reloads + self.plan.graceful_restarts + self.plan.kills
            if action in LIFECYCLE and self.result.reloads + self.result.restarts == lifecycle:
                await self.start_memory()  # the last setup of the entry: memory from here

    async def start_memory(self) -> None:
        if not os.environ.get("SOAK_NO_MEMORY"):
            await self.ask("mem_start")
            self.memory_from = time.time()

    # --- the run ---------------------------------------------------------------------------
    async def run(self) -> SoakResult:
        plan = self.plan
        began = time.monotonic()
        self.http = aiohttp.ClientSession()
        try:
            await self.start_emulator()
            self.devices = [
                (
                    await self.control(
                        "POST", "devices", {"owner": DEMO_USER, "title": f"Cam {i:02d}"}
                    )
                )["device_name"]
                for i in range(47)
            ] + ["BDX3A1B2C3D4", "BCC5E5F6A7B8", "BCC2C9D0E1F2"]
            state = await self.control("GET", "state")
            self.qid = next(a["qid"] for a in state["accounts"] if a["username"] == DEMO_USER)
            self.write_config()
            await self.start_ha()
            if not plan.reloads + plan.graceful_restarts + plan.kills:
                await self.start_memory()
            box_before = (await self.control("GET", "state"))["messages"].get(self.qid, 0)
            seconds = plan.minutes * 60
            started = time.monotonic()
            until = started + seconds
            # singles and bursts that together make about plan.events in plan.minutes
            burst_every = max(5.0, seconds / max(1, plan.events // 300 + 3))
            bursts = seconds / burst_every
            mean_burst = (plan.burst_min + plan.burst_max) / 2
            rate = max(0.5, (plan.events - bursts * mean_burst) / seconds)
            chaos = asyncio.create_task(self.chaos(started, seconds))
            await self.events(until, rate, burst_every)
            await chaos
            await self.control(
                "POST",
                "faults",
                {"errors_left": 0, "delay_ms": 0, "push_refuse": False},
            )
            box_after = (await self.control("GET", "state"))["messages"].get(self.qid, 0)
            if box_after - box_before != len(self.made):
                self.result.problems.append(
                    f"the emulator made {box_after - box_before} messages, the soak saw {len(self.made)}"
                )
            await self.drain()
            self.result.memory = await self.ask("mem_report") or {}
            await self.wait_push_back()
            self.result.bounds = await self.ask("status") or {}
            await self.stop_ha()
        finally:
            await self.stop_ha(signal.SIGKILL)
            if self.emulator is not None and self.emulator.returncode is None:
                self.emulator.terminate()
                await self.emulator.wait()
            await self.http.close()
        self.result.seconds = time.monotonic() - began
        (self.workdir / "made.json").write_text(json.dumps(self.made))
        self.count()
        return self.result

    async def drain(self, within: float = 120) -> None:
        """Wait until every message made was fired (push catches up, or the poll does)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            fired = {line.split()[3] for line in self._lines() if line.startswith("E ")}
            if not set(self.made) - fired:
                await asyncio.sleep(1.0)  # a doubled event would show by now
                return
            await asyncio.sleep(0.5)

    def _lines(self) -> list[str]:
        try:
            return self.out.read_text().splitlines()
        except FileNotFoundError:
            return []

    def count(self) -> None:
        """lost, duplicated, the kill window, late, latency, bounds."""
        result = self.result
        result.made = len(self.made)
        fired: dict[str, list[tuple[int, int, bool]]] = {}  # id -> [(pid, fetch, late)]
        shown: dict[str, float] = {}
        # the last batch each process fired (the trailing run of one fetch: a reload starts
        # the count anew): what a kill may fire again
        last_batch: dict[int, tuple[int, set[str]]] = {}
        for line in self._lines():
            parts = line.split()
            if parts[0] == "E" and len(parts) == 6:
                pid, fetch, msg_id = int(parts[1]), int(parts[2]), parts[3]
                fired.setdefault(msg_id, []).append((pid, fetch, parts[4] == "1"))
                batch = last_batch.get(pid)
                if batch is None or batch[0] != fetch:
                    batch = last_batch[pid] = (fetch, set())
                batch[1].add(msg_id)
            elif parts[0] == "S" and len(parts) == 4:
                shown.setdefault(parts[2], float(parts[3]))
        killed = {pid for pid, _at, _back in self.kills}
        kill_windows = [(at, back) for _pid, at, back in self.kills]
        for msg_id in self.made:
            firings = fired.get(msg_id, [])
            if not firings:
                made_at = self.made_at.get(msg_id, 0.0)
                if any(at - 5 <= made_at <= back for at, back in kill_windows):
                    result.kill_lost += 1
                else:
                    result.lost += 1
                continue
            if any(late for _pid, _fetch, late in firings):
                result.late += 1
            if len(firings) > 1:
                first, *again = firings
                in_kill = (
                    len(again) == 1
                    and first[0] in killed
                    and msg_id in last_batch[first[0]][1]
                    and again[0][0] != first[0]
                )
                if in_kill:
                    result.kill_dup += 1
                else:
                    result.duplicated += 1
        unknown = sum(1 for msg_id in fired if msg_id not in self.made)
        if unknown:
            result.problems.append(f"{unknown} events fired that the emulator did not make")
        healthy = [
            (pushed, (shown[m] - pushed) * 1000)
            for m, pushed in self.made.items()
            if pushed is not None
            and m in shown
            and not any(a <= pushed <= b for a, b in self.unhealthy)
        ]
        traced = sorted(ms for _at, ms in healthy)
        untraced = sorted(ms for at, ms in healthy if at < self.memory_from)
        result.healthy_traced, result.p99_traced_ms = len(traced), _pct(traced, 0.99)
        result.healthy, result.p99_ms = len(untraced), _pct(untraced, 0.99)
        bounds = result.bounds
        devices = int(bounds.get("devices", len(self.devices)))
        for key, limit in (
            ("recent_ids", RECENT_IDS_LIMIT),
            ("newest_events", devices),
            ("snapshots", devices),
            ("push_acks", PUSH_ACKS_LIMIT),
        ):
            if key in bounds and bounds[key] > limit:
                result.problems.append(f"{key} grew to {bounds[key]} (bound {limit})")

    def ok(self) -> bool:
        r = self.result
        return not (r.lost or r.duplicated or r.kill_lost or r.problems)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench soak", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="replay a schedule")
    parser.add_argument("--minutes", type=float, default=5.5)
    parser.add_argument("--events", type=int, default=2200)
    parser.add_argument("--faults", type=int, default=60)
    parser.add_argument("--short", action="store_true", help="the suite's 45-second soak")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    if args.short:
        plan, shape = SoakPlan.short(seed), "--short "
    else:
        plan = SoakPlan(seed=seed, minutes=args.minutes, events=args.events, faults=args.faults)
        shape = f"--minutes {plan.minutes:g} --events {plan.events} --faults {plan.faults} "
    print(f"soak seed={seed} (replay: scripts/bench soak {shape}--seed {seed})", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="soak"))
    soak = Soak(plan, workdir)
    result = await soak.run()
    mem = result.memory
    print(
        f"soak details: seconds={result.seconds:.0f} reloads={result.reloads} "
        f"healthy={result.healthy} p99_traced_ms={result.p99_traced_ms:.1f} "
        f"(n={result.healthy_traced}, with the events while tracemalloc ran) "
        f"fault_kinds={len(result.fault_kinds)} mem_integration_kib={mem.get('integration_kib')} "
        f"mem_all_kib={mem.get('all_kib')} bounds={json.dumps(result.bounds, sort_keys=True)}",
        flush=True,
    )
    for top in mem.get("top", []):
        print(f"  grew: {top}", flush=True)
    for problem in result.problems:
        print(f"  problem: {problem}", flush=True)
    print(result.line(), flush=True)
    if args.keep or not soak.ok():
        print(f"work directory: {workdir}", file=sys.stderr)
    else:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if soak.ok() else 1


def main() -> int:
    return asyncio.run(amain(parse_args(sys.argv[1:])))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
