"""`scripts/bench live`: opening a live view and keeping it running, against the emulator as its
own process (the cloud is another machine) over QTP, as in the faithful mode.

Prints one final line `live open_ms=… first_frame_ms=… fps=… cpu_pct=…`:
- open_ms: LiveSession.start() (setup H2-H7, tunnel open, relay login, wake call), cold;
- first_frame_ms: from the start of opening to the first access unit decoded by PyAV, cold;
- fps: access units per second over the sustained window;
- cpu_pct: this process's CPU time over that window (session, decryption, MPEG-TS muxing, as
  the camera entity's feed does) as a share of one core.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
import tempfile
import time

import aiohttp
import av

from benchmarks.processes import start_emulator
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER
from custom_components.botslab.api import BotslabClient, Device, Endpoints, Identity, QucLogin
from custom_components.botslab.api.live.session import LiveSession
from custom_components.botslab.api.live.tsmux import TsMuxer

DOOR = "BDX3A1B2C3D4"


async def bench(seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = await start_emulator(Path(tmp) / "w.json")
        try:
            async with aiohttp.ClientSession() as http:
                async with http.get(url + "/_emulator/config") as resp:
                    endpoints = Endpoints.from_emulator_config(await resp.json())
                identity = Identity.generate()
                creds = await QucLogin(http, endpoints, identity).login(DEMO_USER, DEMO_PASSWORD)
                client = BotslabClient(http, endpoints, identity, creds)
                await client.login()
                door = next(d for d in await client.devices() if d.serial == DOOR)
                return await _measure(client, door, seconds)
        finally:
            proc.terminate()
            await proc.wait()


async def _measure(client: BotslabClient, door: Device, seconds: float) -> dict[str, float]:
    session = LiveSession(client, door)
    decoder = av.CodecContext.create("h264", "r")
    muxer = TsMuxer()
    opened = time.perf_counter()
    await session.start()
    open_ms = (time.perf_counter() - opened) * 1000
    first_frame_ms = 0.0
    frames = 0
    window_start = cpu_start = 0.0
    try:
        async for frame in session:
            if not first_frame_ms:
                if not decoder.decode(av.Packet(frame.au)):
                    continue
                first_frame_ms = (time.perf_counter() - opened) * 1000
                window_start, cpu_start = time.perf_counter(), time.process_time()
                continue
            muxer.mux(frame.au, frame.ts_ms * 90, keyframe=frame.keyframe)
            frames += 1
            if time.perf_counter() - window_start >= seconds:
                break
    finally:
        await session.stop()
    wall = time.perf_counter() - window_start
    cpu = time.process_time() - cpu_start
    return {
        "open_ms": open_ms,
        "first_frame_ms": first_frame_ms,
        "fps": frames / wall,
        "cpu_pct": 100 * cpu / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench live")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    result = asyncio.run(bench(args.seconds))
    print(f"one cold live view of the demo doorbell over QTP, {args.seconds:.0f} s sustained")
    print(
        f"live open_ms={result['open_ms']:.0f} first_frame_ms={result['first_frame_ms']:.0f} "
        f"fps={result['fps']:.1f} cpu_pct={result['cpu_pct']:.1f}"
    )


if __name__ == "__main__":
    main()
