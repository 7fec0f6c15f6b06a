"""Fixtures of the benchmarks: the tests' socket rule, and the emulator as its own process
(the cloud is another machine)."""

from __future__ import annotations

from collections.abc import AsyncIterator
import os
from pathlib import Path

import pytest

from benchmarks.processes import start_emulator
from tests.conftest import _loopback_sockets  # noqa: F401


@pytest.fixture
async def emulator_url(tmp_path: Path) -> AsyncIterator[str]:
    # BENCH_NETWORK=wan (scripts/bench events --network wan): the cloud far away
    network = os.environ.get("BENCH_NETWORK", "loopback")
    proc, url = await start_emulator(tmp_path / "w.json", network=network)
    try:
        yield url
    finally:
        proc.terminate()
        await proc.wait()
