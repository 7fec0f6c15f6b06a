"""Fixtures: an emulator on free loopback ports, an HTTP session, logged-in callers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from botslab_emulator import Emulator

from ..conftest import new_world
from .wire import ApiCaller, QucCaller, tokens

USER, PASSWORD = "alice@example.com", "correct horse"
OTHER, OTHER_PASSWORD = "bob@example.com", "battery staple"


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(new_world()) as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@dataclass
class World:
    emu: Emulator
    alice: ApiCaller
    bob: ApiCaller
    cam: str
    door: str
    cam_pk: str
    door_pk: str


async def logged_in(
    emu: Emulator, http: aiohttp.ClientSession, user: str, password: str
) -> ApiCaller:
    acc = emu.world.accounts.find(user)
    assert acc is not None
    cfg = emu.config()["regions"][acc.region]
    quc = QucCaller(cfg["quc_url"], emu.world.keypair.public_spki_b64())
    _outer, inner = await quc.login(http, user, password)
    assert inner is not None and inner["errno"] == 0, inner
    q, t = tokens(inner)
    api = ApiCaller(cfg["api_url"], q, t)
    assert (await api.app_login(http))["code"] == 0
    return api


@pytest.fixture
async def world(emu: Emulator, http: aiohttp.ClientSession) -> World:
    alice = emu.world.accounts.add(USER, PASSWORD, "eu1", mobile="4915111111111")
    emu.world.accounts.add(OTHER, OTHER_PASSWORD, "eu1", mobile="4915222222222")
    cam = emu.world.devices.add(
        alice.qid, title="Garden", category_key="camera", product_name="Outdoor Camera C5"
    )
    door = emu.world.devices.add(
        alice.qid,
        title="Front Door",
        category_key="doorbell",
        product_name="Video Doorbell X3",
        battery=True,
        clip_encrypt="chacha2",
    )
    return World(
        emu,
        await logged_in(emu, http, USER, PASSWORD),
        await logged_in(emu, http, OTHER, OTHER_PASSWORD),
        cam.device_name,
        door.device_name,
        cam.product_key,
        door.product_key,
    )
