"""`scripts/bench setup [--network loopback|wan]`: Home Assistant starting with the integration
configured and 50 devices, until every one of its entities is available.

Home Assistant and the emulator run as their own processes. A first start adds the demo account
(46 more cameras in it: 50 devices with the demo's four) through the config flow; then each run
restarts Home Assistant and measures:
- ready_ms: from Home Assistant setting up the integration ("Setting up botslab" in its log) to
  the moment every enabled entity of the account has a state other than unavailable (watched
  every 5 ms inside Home Assistant by benchmarks/bench_component): the integration's share, the
  figure Home Assistant warns about at 10 s;
- boot_ms: from the process start to the same moment (Home Assistant's own start included).

Prints the spread of the runs, then `setup network=… devices=50 ready_ms=… boot_ms=… runs=3`
(medians).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import statistics
import sys
import tempfile

import aiohttp

from benchmarks.haproc import HaProcess
from benchmarks.processes import start_emulator
from botslab_emulator.seed import DEMO_USER

EXTRA_DEVICES = 46  # with the demo account's four: 50


async def amain(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.keep) if args.keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        emulator, url = await start_emulator(
            workdir / "emulator.json", workdir / "emulator.log", network=args.network
        )
        ha = HaProcess(workdir, url)
        try:
            async with aiohttp.ClientSession() as http:
                for i in range(EXTRA_DEVICES):
                    body = {"owner": DEMO_USER, "title": f"Camera {i:02d}"}
                    async with http.post(url + "/_emulator/devices", json=body) as resp:
                        resp.raise_for_status()
            await ha.start()  # the first start adds the account
            first = await ha.ask("status")
            assert first is not None
            await _ready(ha)
            devices = int((await ha.ask("status") or {}).get("devices", 0))
            await ha.stop()
            runs = []
            for n in range(args.runs):
                await ha.start()
                status = await _ready(ha)
                started = ha.setup_started()
                if started is None:
                    raise RuntimeError("no 'Setting up botslab' in Home Assistant's log")
                ready = float(status["ready_at"])
                result = {
                    "ready_ms": (ready - started) * 1000,
                    "boot_ms": (ready - ha.started) * 1000,
                    "entities": status["entities"],
                }
                print(
                    f"run {n + 1}: ready_ms={result['ready_ms']:.0f} "
                    f"boot_ms={result['boot_ms']:.0f} entities={result['entities']}",
                    file=sys.stderr,
                    flush=True,
                )
                runs.append(result)
                await ha.stop()
        finally:
            await ha.stop()
            emulator.terminate()
            await emulator.wait()
    spread = " ".join(
        f"{k}={min(r[k] for r in runs):.0f}-{max(r[k] for r in runs):.0f}"
        for k in ("ready_ms", "boot_ms")
    )
    print(f"spread of {args.runs} runs: {spread} entities={runs[0]['entities']}")
    print(
        f"setup network={args.network} devices={devices} "
        f"ready_ms={statistics.median(r['ready_ms'] for r in runs):.0f} "
        f"boot_ms={statistics.median(r['boot_ms'] for r in runs):.0f} runs={args.runs}"
    )
    return 0


async def _ready(ha: HaProcess) -> dict[str, object]:
    for _ in range(1200):
        status = await ha.ask("status")
        if status and status.get("ready_at"):
            return status
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the entities never were all available: {await ha.ask('status')}")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench setup", description=__doc__)
    parser.add_argument("--network", choices=("loopback", "wan"), default="loopback")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", default="", help="a directory for the logs (kept)")
    return parser.parse_args(argv)


def main() -> int:
    return asyncio.run(amain(parse_args(sys.argv[1:])))


if __name__ == "__main__":
    sys.exit(main())
