"""The emulator as its own process (the cloud is another machine), for the benchmarks and the
soak."""

from __future__ import annotations

import asyncio
from pathlib import Path
import socket
import sys

import aiohttp

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_emulator(
    state: Path, log: Path | None = None
) -> tuple[asyncio.subprocess.Process, str]:
    """The emulator (demo world) on a free port, its stderr to `log`; (process, base URL)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "botslab_emulator",
        "--port",
        str(port),
        "--state",
        str(state),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log.open("w") if log is not None else asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(400):
            try:
                async with http.get(url + "/_emulator/config") as resp:
                    if resp.status == 200:
                        return proc, url
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
    proc.terminate()
    await proc.wait()
    raise RuntimeError("the emulator did not start")
