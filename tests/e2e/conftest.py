"""The end-to-end pair: scripts/develop (emulator + Home Assistant) in a fresh directory, and
Debian's Chromium driven by Playwright. Skipped, with the reason, where Chromium is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
import json
import os
from pathlib import Path
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
import pytest_socket

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Pair:
    ha_url: str
    emulator_url: str
    config_dir: Path
    ha_version: str = ""

    @property
    def serves_brand_images(self) -> bool:
        """Home Assistant 2026.3 and newer serve an integration's own brand/ images."""
        found = re.match(r"(\d+)\.(\d+)", self.ha_version)
        return bool(found) and (int(found[1]), int(found[2])) >= (2026, 3)

    @property
    def artifacts(self) -> Path:
        """Screenshots of this run, one folder per Home Assistant version."""
        path = ARTIFACTS / (self.ha_version or "unknown")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def control(self, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.emulator_url + "/_emulator/" + path,
            data=data,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            loaded: dict[str, object] = json.loads(resp.read())
            return loaded


def _wait_http(url: str, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.5)
    return False


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    if chromium_path() is None:
        pytest.skip(
            "Chromium is not installed and could not be installed here (scripts/test tries apt-get)"
        )
    # module-scoped: runs before the per-test fixture that allows loopback sockets
    pytest_socket.enable_socket()
    config_dir = tmp_path_factory.mktemp("ha-config")
    emulator_port, ha_port = free_port(), free_port()
    env = {
        **os.environ,
        "DEVELOP_CONFIG": str(config_dir),
        "EMULATOR_PORT": str(emulator_port),
        "HA_PORT": str(ha_port),
    }
    # BOTSLAB_E2E_HA=2026.11.0: that Home Assistant release in its own venv (scripts/develop's
    # HA_VERSION), for releases the test harness cannot load; by default the lane's own
    if os.environ.get("BOTSLAB_E2E_HA"):
        env["HA_VERSION"] = os.environ["BOTSLAB_E2E_HA"]
    log = (config_dir / "develop.out").open("w")
    proc = subprocess.Popen(
        ["bash", str(ROOT / "scripts" / "develop")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pair = Pair(f"http://127.0.0.1:{ha_port}", f"http://127.0.0.1:{emulator_port}", config_dir)
    try:
        # a first run with BOTSLAB_E2E_HA installs that release first (a few minutes)
        if not _wait_http(pair.ha_url + "/manifest.json", time.monotonic() + 600):
            raise RuntimeError(
                "Home Assistant did not start: " + (config_dir / "develop.out").read_text()[-2000:]
            )
        found = re.search(
            r"^Home Assistant (\S+) with", (config_dir / "develop.out").read_text(), re.M
        )
        pair.ha_version = found.group(1) if found else ""
        yield pair
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


@pytest.fixture
async def page(pair: Pair) -> AsyncIterator[object]:
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(
            viewport={"width": 1280, "height": 1400}, locale="en-US"
        )
        page = await context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            await context.close()
            await browser.close()
