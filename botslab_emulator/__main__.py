"""`python -m botslab_emulator --host 127.0.0.1 --port 8720 [--push-port N] [--state FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from pathlib import Path
import signal
import sys

from .network import PROFILES
from .replay import shapes_from_report
from .server import Emulator


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m botslab_emulator", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8720, help="HTTP port for every host (default 8720)"
    )
    parser.add_argument(
        "--push-port", type=int, default=0, help="QPush TCP port (default: a free one)"
    )
    parser.add_argument("--state", type=Path, help="JSON file that keeps the world across restarts")
    parser.add_argument("--empty", action="store_true", help="start without the demo world")
    parser.add_argument(
        "--from-diagnostics",
        type=Path,
        metavar="FILE",
        help="answer in the shapes this BOTSLAB diagnostics file recorded (docs/diagnostics.md)",
    )
    parser.add_argument(
        "--network",
        choices=sorted(PROFILES),
        default="loopback",
        help="the path to the cloud: loopback (nothing added) or wan (120 ms round trips "
        "± 30 ms, 1%% UDP loss; each a knob: net_rtt_ms, net_jitter_ms, net_udp_loss_pct)",
    )
    parser.add_argument("--verbose", action="store_true")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    emu = Emulator(
        host=args.host,
        port=args.port,
        push_port=args.push_port,
        state_path=args.state,
        demo=not args.empty,
    )
    if args.report is not None:
        paths = emu.load_report(args.report)
        print(f"Answering in the recorded shapes of: {', '.join(paths)}", flush=True)
    emu.net.use(args.network)
    await emu.start()
    config = emu.config()
    print(
        f"BOTSLAB emulator: HTTP on {emu.base_url}, push on {emu.push.host}:{emu.push.port}",
        flush=True,
    )
    print(json.dumps(config, indent=2), flush=True)
    print("Ctrl-C stops it.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    saver = asyncio.create_task(_autosave(emu))
    try:
        await stop.wait()
    finally:
        saver.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await saver
        await emu.stop()
        print("BOTSLAB emulator stopped.", flush=True)


async def _autosave(emu: Emulator) -> None:
    while True:
        await asyncio.sleep(30)
        emu.save()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.report = None
    if args.from_diagnostics is not None:
        try:
            args.report = json.loads(args.from_diagnostics.read_text(encoding="utf-8"))
            shapes_from_report(args.report)
        except (OSError, TypeError, ValueError) as err:
            print(f"cannot replay {args.from_diagnostics}: {err}", file=sys.stderr)
            return 2
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
