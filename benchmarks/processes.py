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
    state: Path, log: Path | None = None, *, network: str = "loopback"
) -> tuple[asyncio.subprocess.Process, str]:
    """The emulator (demo world) on a free port, its stderr to `log`; (process, base URL).
    `network`: its profile (`loopback`, or `wan`: the cloud far away, issue 28)."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "botslab_emulator",
        "--port",
        str(port),
        "--state",
        str(state),
        "--network",
        network,
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
                        break
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        else:
            proc.terminate()
            await proc.wait()
            raise RuntimeError("the emulator did not start")
        # The benchmarks make events far faster than a home does (the soak 7 a second, the
        # event benchmark up to 100): the message list's modelled rate limit is off here. It
        # is tested against the held-back poll in tests/test_never_quiet.py.
        async with http.post(url + "/_emulator/faults", json={"list_rate_per_min": 0}) as resp:
            resp.raise_for_status()
        return proc, url
