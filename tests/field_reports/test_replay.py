"""The replay path (issue 27): a recorded shape with an extra key, a missing key or another
type, loaded into the emulator. The client survives each (it reads what it can, skips what it
cannot and says so), and its answer log, which diagnostics show, names the difference."""

from __future__ import annotations

from collections.abc import Callable
import copy
from typing import Any

import aiohttp
import pytest

from botslab_emulator import Emulator
from custom_components.botslab.api import (
    BotslabClient,
    Endpoints,
    EventKind,
    ProtocolError,
    paths as ep,
)

from ..api.conftest import make_client

DOOR = "BDX3A1B2C3D4"


async def recorded(client: BotslabClient) -> dict[str, Any]:
    """A report as the integration's diagnostics write it, from a client's calls."""
    await client.devices()
    await client.messages(page_size=5)
    return {"data": {"cloud_answers": client.endpoints.answers.as_dict()}}


def tdata(shape: Any) -> dict[str, Any]:
    item: dict[str, Any] = shape["data"]["items"][0]
    return item["tdata"]  # type: ignore[no-any-return]


def extra_key(shape: Any) -> None:
    tdata(shape)["mood"] = "str"


def missing_key(shape: Any) -> None:
    del tdata(shape)["title"]


def other_type(shape: Any) -> None:
    tdata(shape)["event_type"] = "int"


def other_container(shape: Any) -> None:
    shape["data"]["items"] = "object"


def device_without_serial(shape: Any) -> None:
    del shape["data"]["devices"][0]["device_name"]


async def _ring(client: BotslabClient, emu: Emulator) -> list[Any]:
    floor = int(emu.world.now()) - 1
    await emu.trigger(DOOR, "ring")
    return [e async for e in client.events_since(set(), floor, page_size=10)]


@pytest.mark.parametrize(
    ("path", "change", "kind", "named"),
    [
        (ep.MESSAGE_LIST, extra_key, "unknown", "data.items[].tdata.mood (str)"),
        (ep.MESSAGE_LIST, missing_key, "missing", "data.items[].tdata.title"),
        (
            ep.MESSAGE_LIST,
            other_type,
            "types",
            "data.items[].tdata.event_type: str expected, int found",
        ),
        (ep.MESSAGE_LIST, other_container, "types", "data.items: list expected, object found"),
        (ep.DEVICE_LIST, device_without_serial, "missing", "data.devices[].device_name"),
    ],
    ids=["extra_key", "missing_key", "other_type", "other_container", "device_without_serial"],
)
async def test_a_recorded_difference_is_survived_and_named(
    client: BotslabClient,
    emu: Emulator,
    http: aiohttp.ClientSession,
    *,
    path: str,
    change: Callable[[Any], None],
    kind: str,
    named: str,
) -> None:
    report = await recorded(client)
    record = report["data"]["cloud_answers"]["endpoints"][path]
    assert record["differences"] == {"unknown": [], "missing": [], "types": []}
    record["shape"] = shape = copy.deepcopy(record["shape"])
    change(shape)
    emu.load_report(report)
    # a user's client meets the recorded shape (a client of its own: a fresh answer log)
    user = await make_client(http, Endpoints.from_emulator_config(emu.config()))
    try:
        if path == ep.DEVICE_LIST:
            assert await user.devices() == [], "the devices it cannot read are skipped"
            assert user.skipped == len(emu.world.sharing.visible_devices(user.credentials.qid))
            skipped = user.endpoints.answers.skipped[-1]
            assert "device_name" not in skipped["shape"] and "product_key" in skipped["shape"]
        elif change is other_container:
            with pytest.raises(ProtocolError):  # the library's own error, nothing else
                await _ring(user, emu)
        else:
            (event,) = await _ring(user, emu)
            assert event.serial == DOOR
            if change is other_type:
                assert event.kind is EventKind.OTHER, "an unknown type passes as other"
            else:
                assert event.kind is EventKind.RING
            if change is missing_key:
                assert event.title == ""
        differences = user.endpoints.answers.as_dict()["differences"]
        (found,) = [d for d in differences if d["endpoint"] == path]
        assert named in found[kind], found
        assert found["evidence"] == "seen"
    finally:
        await user.close()


async def test_an_endpoint_the_emulator_does_not_serve_is_made_up(
    emu: Emulator, http: aiohttp.ClientSession
) -> None:
    """A path a report recorded that the emulator has no handler for answers in the recorded
    shape, with made-up values."""
    shape = {"code": "int", "data": {"level": "int", "name": "str", "tags": ["str"]}, "msg": "str"}
    emu.load_report({"cloud_answers": {"endpoints": {"/v9/new/thing": {"shape": shape}}}})
    async with http.get(f"{emu.base_url}/api/eu1/v9/new/thing") as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "code": 0,
            "data": {"level": 1, "name": "x", "tags": ["x"]},
            "msg": "x",
        }
