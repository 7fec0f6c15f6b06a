"""`python -m botslab_emulator`: prints its config, serves the demo, stops cleanly, keeps state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import signal
import socket
import sys

import aiohttp

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER

from .conftest import logged_in
from .wire import ApiCaller

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def read_config(proc: asyncio.subprocess.Process) -> dict:  # type: ignore[type-arg]
    assert proc.stdout is not None
    lines = []
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line, "emulator exited early"
        if line.startswith("Ctrl-C"):
            break
        lines.append(line)
    text = "".join(lines)
    return json.loads(text[text.index("{") :])  # type: ignore[no-any-return]


async def test_cli_runs_and_keeps_state(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    state = tmp_path / "world.json"
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "botslab_emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--state",
        str(state),
    ]
    proc = await asyncio.create_subprocess_exec(*args, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    try:
        config = await read_config(proc)
        assert config["api_url"] == f"http://127.0.0.1:{port}/api/{{region}}"
        assert {
            "quc_url",
            "dispatcher_url",
            "push_host",
            "push_port",
            "rsa_public_key",
            "accounts",
        } <= config.keys()
        assert {"username": DEMO_USER, "password": DEMO_PASSWORD} in [
            {k: a[k] for k in ("username", "password")} for a in config["accounts"]
        ]
        async with http.post(
            f"http://127.0.0.1:{port}/_emulator/trigger",
            json={"device_name": "BDX3A1B2C3D4", "event_type": "ring"},
        ) as resp:
            msg_id = (await resp.json())["msg_id"]
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    saved = json.loads(state.read_text())
    assert any(m["id"] == msg_id for m in saved["messages"])
    # a restart keeps the RSA key and the events
    proc = await asyncio.create_subprocess_exec(*args, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    try:
        again = await read_config(proc)
        assert again["rsa_public_key"] == config["rsa_public_key"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_demo_world(http: aiohttp.ClientSession) -> None:
    async with Emulator(demo=True) as emu:
        api = await logged_in(emu, http, DEMO_USER, DEMO_PASSWORD)
        devices = (await api.get(http, "/v1/iot/device/list"))["data"]["devices"]
        kinds = sorted((d["category_key"], d["roles"] == "owner") for d in devices)
        assert kinds == [("camera", False), ("camera", True), ("camera", True), ("doorbell", True)]
        events = (await api.get(http, "/v2/message/list", {"page_size": 100}))["data"]["items"]
        assert len(events) >= 10
        span = events[0]["tdata"]["ctime"] - events[-1]["tdata"]["ctime"]
        assert span > 3600, "a few hours of events"
        assert {"ring", "person", "motion"} <= {e["tname"] for e in events}


async def test_in_process_state_file_roundtrip(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    path = tmp_path / "state.json"
    async with Emulator(demo=True, state_path=path) as emu:
        key = emu.world.keypair.public_spki_b64()
        api = await logged_in(emu, http, DEMO_USER, DEMO_PASSWORD)
        before = (await api.get(http, "/v2/message/list"))["data"]["items"][0]["id"]
    async with Emulator(state_path=path) as emu:
        assert emu.world.keypair.public_spki_b64() == key
        api2 = ApiCaller(emu.api_url("eu1"), api.q, api.t, m2=api.m2)
        api2.sid = api.sid
        answer = await api2.get(http, "/v2/message/list")
        assert answer["code"] == 0 and answer["data"]["items"][0]["id"] == before, (
            "sessions survive a restart"
        )
