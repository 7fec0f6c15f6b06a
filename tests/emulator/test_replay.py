"""The emulator answering in a field report's recorded shapes (botslab_emulator/replay.py):
its own answer reshaped (a renamed key keeps its content, a missing one goes, another type is
converted), loaded from the command line, the control API or a test."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
import signal
import sys
from typing import Any

import aiohttp
import pytest

from botslab_emulator import Emulator
from botslab_emulator.replay import make, reshape, shapes_from_report
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER

from .conftest import logged_in
from .test_cli import ROOT, free_port, read_config


def test_reshape_follows_the_recorded_keys_and_types() -> None:
    answer = {
        "code": 0,
        "msg": "success",
        "data": {
            "items": [{"id": "a1-7", "tdata": {"ctime": 1700000000, "title": "Ring"}}],
            "has_more": 0,
        },
    }
    shape = {
        "code": "int",
        "message": "str",
        "data": {
            # `items` recorded as `list`, its items with one key more, one less, one other type
            "list": [{"id": "int", "tdata": {"ctime": "str:time", "mood": "str"}}],
            "nextid": "str:empty",
        },
    }
    assert reshape(answer, shape) == {
        "code": 0,
        "message": "success",  # renamed: the value of the key the recording lacks
        "data": {
            # `mood` takes the value of `title`, which the recording lacks (a renamed key)
            "list": [{"id": 1, "tdata": {"ctime": "2023-11-14 22:13:20", "mood": "Ring"}}],
            "nextid": "",
        },
    }


def test_reshape_keeps_json_text_indices_and_unions() -> None:
    answer = {"result": '{"ErrorNO": 0}', "keys": [{"31": "k1"}, {"32": "k2"}], "n": "12"}
    shape = {
        "result": {"$json": {"ErrorNO": "str:digits", "url": "str:url"}},
        "keys": [{"#": "str"}],
        "n": "int|str",
    }
    out = reshape(answer, shape)
    assert json.loads(out["result"]) == {"ErrorNO": "0", "url": "https://example.invalid/x"}
    assert out["keys"] == [{"31": "k1"}, {"32": "k2"}]
    assert out["n"] == "12", "a type the recording allows stays as it is"
    # an object recorded as JSON text, and the other way round
    assert reshape({"t": {"a": 1}}, {"t": {"$json": {"a": "int"}}}) == {"t": '{"a": 1}'}
    assert reshape({"t": '{"a": 1}'}, {"t": {"a": "str"}}) == {"t": {"a": "x"}}


def test_made_up_answers_say_success() -> None:
    assert make({"code": "int", "errno": "str:digits", "data": [{"#": "float"}]}) == {
        "code": 0,
        "errno": "0",
        "data": [{"1": 1.5}],
    }


def test_a_report_is_read_as_home_assistant_downloads_it() -> None:
    endpoints = {
        "/v1/push/dnd": {"shape": {"code": "int"}},
        "push dispatcher": {"shape": {"data": []}},
        "live scheduler": {"shape": {"errcode": "int"}},  # not replayed (yet)
        "/v1/never/answered": {"shape": None},
    }
    wrapped = {"home_assistant": {}, "data": {"cloud_answers": {"endpoints": endpoints}}}
    assert shapes_from_report(wrapped) == {
        "/v1/push/dnd": {"code": "int"},
        "push dispatcher": {"data": []},
    }
    assert shapes_from_report(wrapped["data"]) == shapes_from_report(wrapped)
    for bad in ([], {"data": {}}, {"cloud_answers": {"endpoints": {}}}):
        with pytest.raises((TypeError, ValueError)):
            shapes_from_report(bad)


async def test_the_control_api_loads_and_clears_a_report(http: aiohttp.ClientSession) -> None:
    async with Emulator(demo=True) as emu:
        api = await logged_in(emu, http, DEMO_USER, DEMO_PASSWORD)
        shape = {"code": "int", "msg": "str", "data": {"is_open": "bool", "start": "str"}}
        report = {"data": {"cloud_answers": {"endpoints": {"/v1/push/dnd": {"shape": shape}}}}}
        url = f"{emu.base_url}/_emulator/replay"
        async with http.post(url, json=report) as resp:
            assert resp.status == 200 and await resp.json() == {"paths": ["/v1/push/dnd"]}
        answer = await api.get(http, "/v1/push/dnd")
        # `start_time` recorded as `start`: its value carried over; `end_time` left out
        assert answer["data"] == {"is_open": False, "start": "22:00"}
        async with http.get(url) as resp:
            assert (await resp.json())["shapes"] == {"/v1/push/dnd": shape}
        async with http.post(url, json={}) as resp:
            assert await resp.json() == {"paths": []}
        assert set((await api.get(http, "/v1/push/dnd"))["data"]) >= {"is_open", "start_time"}
        async with http.post(url, json={"data": {"nothing": 1}}) as resp:
            assert resp.status == 400


async def test_the_command_line_replays_a_file(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    report: dict[str, Any] = {
        "data": {
            "cloud_answers": {
                "endpoints": {
                    # the dispatcher's port as text, its address under another key as well
                    "push dispatcher": {
                        "shape": {"code": "int", "data": [{"ip": "str", "p": "str:digits"}]}
                    }
                }
            }
        }
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report))
    port = free_port()
    args = [sys.executable, "-m", "botslab_emulator", "--port", str(port)]
    proc = await asyncio.create_subprocess_exec(
        *args, "--from-diagnostics", str(path), cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        config = await read_config(proc)
        async with http.get(
            config["dispatcher_url"], params={"appId": "venqoyon9hcc", "device_id": "x"}
        ) as resp:
            answer = await resp.json()
        assert answer == {"code": 0, "data": [{"ip": "127.0.0.1", "p": str(config["push_port"])}]}
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    # a file that is no BOTSLAB diagnostics file: said so, nothing started
    path.write_text('{"data": {}}')
    proc = await asyncio.create_subprocess_exec(
        *args, "--from-diagnostics", str(path), cwd=ROOT, stderr=asyncio.subprocess.PIPE
    )
    _out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"cannot replay" in err
