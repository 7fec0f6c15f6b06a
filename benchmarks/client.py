"""`scripts/bench client`: push frames parsed per second, message-list round trips.

Runs the emulator in-process on 127.0.0.1; prints one final line
`client frames_per_s=… fetch_ms_p50=… fetch_ms_p99=…`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import aiohttp

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER
from custom_components.botslab.api import BotslabClient, Endpoints, FrameParser, Identity, QucLogin
from custom_components.botslab.api.push import OP_PUSH, encode_frame


def bench_frames(count: int) -> float:
    frames = []
    for i in range(count):
        body = json.dumps(
            {
                "msg_id": 500000 + i,
                "product_key": "pk_doorbell_x3",
                "device_name": "BDX3A1B2C3D4",
                "event_type": "dsl.event.post.DoorbellRing",
                "ctime": 1700000000 + i,
            }
        ).encode()
        frames.append(encode_frame(OP_PUSH, {"ack": f"{i:016x}", "mid": str(500000 + i)}, body))
    stream = b"".join(frames)
    parser = FrameParser()
    started = time.perf_counter()
    parsed = 0
    for pos in range(0, len(stream), 65536):
        parsed += len(parser.feed(stream[pos : pos + 65536]))
    elapsed = time.perf_counter() - started
    assert parsed == count
    return count / elapsed


async def bench_fetch(rounds: int) -> list[float]:
    async with Emulator(demo=True) as emu, aiohttp.ClientSession() as http:
        endpoints = Endpoints.from_emulator_config(emu.config())
        identity = Identity.generate()
        creds = await QucLogin(http, endpoints, identity).login(DEMO_USER, DEMO_PASSWORD)
        client = BotslabClient(http, endpoints, identity, creds)
        await client.messages(page_size=20)
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            page = await client.messages(page_size=20)
            times.append((time.perf_counter() - started) * 1000)
            assert page.events
        return times


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench client")
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    fps = bench_frames(args.frames)
    times = sorted(asyncio.run(bench_fetch(args.rounds)))
    p50 = statistics.median(times)
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"frames: {args.frames} parsed in 64 KiB chunks; fetches: {args.rounds} x 20 messages")
    print(f"client frames_per_s={fps:.0f} fetch_ms_p50={p50:.2f} fetch_ms_p99={p99:.2f}")


if __name__ == "__main__":
    main()
