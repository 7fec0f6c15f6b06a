"""Home Assistant as its own process for the benchmarks of what a person sees (`scripts/bench
doorbell|setup`): a fresh configuration directory with the integration, the benchmark helper
(benchmarks/bench_component) and onboarding marked done, so that a browser given the helper's
tokens opens straight into the frontend."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
import sys
import time
from typing import Any

from benchmarks.processes import ROOT, free_port
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER

COMPONENT = Path(__file__).resolve().parent / "bench_component" / "botslab_bench"


def http_settings(config: Path, port: int) -> str:
    """Home Assistant's HTTP port (on 127.0.0.1): YAML before Home Assistant 2026.10; from
    2026.10 its own storage, as scripts/develop writes it (YAML there becomes a trial that
    Home Assistant reverts, with a restart, after five minutes unless an admin confirms it)."""
    try:
        from homeassistant.components.http import (  # type: ignore[attr-defined,unused-ignore]
            config as http_config,
        )
        from homeassistant.util import dt as dt_util

        schema = http_config.HTTP_STORAGE_SCHEMA  # type: ignore[attr-defined,unused-ignore]
    except (ImportError, AttributeError):
        return f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
    stable = dict(schema({"server_host": ["127.0.0.1"], "server_port": port}))
    stable.update(created_at=dt_util.utcnow().isoformat(), error=None, error_message=None)
    storage = config / ".storage"
    storage.mkdir(parents=True, exist_ok=True)
    (storage / "http").write_text(
        json.dumps(
            {
                "version": http_config.STORAGE_VERSION,  # type: ignore[attr-defined,unused-ignore]
                "minor_version": http_config.STORAGE_MINOR_VERSION,  # type: ignore[attr-defined,unused-ignore]
                "key": http_config.STORAGE_KEY,  # type: ignore[attr-defined,unused-ignore]
                "data": {"stable": stable, "pending": None, "yaml_migration_done": True},
            }
        )
    )
    return ""


def link_components(config: Path, helper: str, target: Path) -> None:
    """The integration and a helper component (the benchmark's, the soak's recorder) in the
    configuration's custom_components, as symlinks to this checkout."""
    components = config / "custom_components"
    components.mkdir(parents=True, exist_ok=True)
    for name, source in (("botslab", ROOT / "custom_components" / "botslab"), (helper, target)):
        link = components / name
        if not link.exists():
            link.symlink_to(source)


async def spawn_ha(
    config: Path, workdir: Path, emulator_url: str, stderr: Path, **env: str
) -> asyncio.subprocess.Process:
    """`python -m homeassistant` on `config`, the cloud being the emulator at `emulator_url`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "homeassistant",
        "--config",
        str(config),
        "--skip-pip",
        cwd=workdir,
        # this checkout on PYTHONPATH would shadow the configuration's custom_components
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        | env
        | {"BOTSLAB_EMULATOR_URL": emulator_url},  # development's switch (cloud.py)
        stdout=asyncio.subprocess.DEVNULL,
        stderr=stderr.open("w"),
    )


async def ask_helper(port: int, command: str, wait: float) -> dict[str, Any] | None:
    """One line to a helper component's control port and its JSON answer; None while it is
    not listening (or it did not answer)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(command.encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), wait)
        answer: dict[str, Any] = json.loads(line) if line else {}
        return answer
    except (OSError, ValueError, TimeoutError):
        return None
    finally:
        writer.close()


class HaProcess:
    def __init__(
        self, workdir: Path, emulator_url: str, *, stream: dict[str, float] | None = None
    ) -> None:
        self.workdir = workdir
        self.config = workdir / "config"
        self.emulator_url = emulator_url
        self.stream = stream or {}
        self.port = free_port()
        self.helper_port = free_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.started = 0.0
        self.runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.config / "home-assistant.log"

    def write_config(self) -> None:
        link_components(self.config, "botslab_bench", COMPONENT)
        stream = "".join(f"  {key}: {value}\n" for key, value in self.stream.items())
        (self.config / "configuration.yaml").write_text(
            "homeassistant:\n  name: bench\n  time_zone: UTC\n  country: DE\n"
            "  unit_system: metric\n  currency: EUR\n  language: en\n"
            "frontend:\nconfig:\n"
            f"stream:\n{stream}"
            f"{http_settings(self.config, self.port)}"
            "logger:\n  default: warning\n  logs:\n    homeassistant.setup: debug\n"
            f"botslab_bench:\n  port: {self.helper_port}\n"
            f"  username: {DEMO_USER}\n  password: {DEMO_PASSWORD}\n"
        )
        storage = self.config / ".storage"
        storage.mkdir(exist_ok=True)
        onboarding = storage / "onboarding"
        if not onboarding.exists():
            onboarding.write_text(
                json.dumps(
                    {
                        "version": 4,
                        "minor_version": 1,
                        "key": "onboarding",
                        "data": {"done": ["user", "core_config", "analytics", "integration"]},
                    }
                )
            )

    async def start(self, within: float = 240) -> None:
        """Start it and wait until the helper answers and the account is loaded (added
        through the config flow on the first start)."""
        self.write_config()
        self.runs += 1
        self.started = time.time()
        self.proc = await spawn_ha(
            self.config,
            self.workdir,
            self.emulator_url,
            self.workdir / f"ha-{self.runs}.err",
            TZ="UTC",
        )
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError(f"Home Assistant exited ({self.proc.returncode})")
            status = await self.ask("status")
            if status is not None and not status.get("loaded"):
                await self.ask("add_account")
            if status and status.get("loaded"):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError("Home Assistant did not get ready")

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 90)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def ask(self, command: str) -> dict[str, Any] | None:
        """A command to the helper in Home Assistant; None while it is not listening."""
        return await ask_helper(self.helper_port, command, 60)

    async def state(self, entity_id: str) -> str | None:
        answer = await self.ask(f"state {entity_id}")
        return None if answer is None else answer.get("state")

    def setup_started(self) -> float | None:
        """When Home Assistant began setting up the integration (its log, in UTC)."""
        from datetime import UTC, datetime

        if not self.log_path.exists():
            return None
        found = None
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.endswith("[homeassistant.setup] Setting up botslab"):
                stamp = line[:23]
                found = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        return found.timestamp() if found is not None else None
