"""Fixtures for the client tests: the in-process emulator with the demo world, and clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER
from custom_components.botslab.api import (
    BotslabClient,
    CloudSession,
    Credentials,
    Endpoints,
    Identity,
    QucLogin,
)

from ..conftest import new_world, quick_device, remember_personal


@pytest.fixture
async def emu(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    async with Emulator(new_world(), demo=True) as emulator:
        quick_device(request, emulator)
        yield emulator
        remember_personal(request, emulator.world)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def endpoints(emu: Emulator) -> Endpoints:
    return Endpoints.from_emulator_config(emu.config())


@dataclass
class TokenLog:
    calls: list[tuple[Credentials, CloudSession | None]] = field(default_factory=list)

    def __call__(self, credentials: Credentials, session: CloudSession | None) -> None:
        self.calls.append((credentials, session))


async def make_client(
    http: aiohttp.ClientSession,
    endpoints: Endpoints,
    user: str = DEMO_USER,
    password: str = DEMO_PASSWORD,
    *,
    tokens: TokenLog | None = None,
    timeout: float = 20.0,
) -> BotslabClient:
    identity = Identity.generate()
    credentials = await QucLogin(http, endpoints, identity).login(user, password)
    return BotslabClient(http, endpoints, identity, credentials, on_tokens=tokens, timeout=timeout)


@pytest.fixture
def tokens() -> TokenLog:
    return TokenLog()


@pytest.fixture
async def client(
    http: aiohttp.ClientSession, endpoints: Endpoints, tokens: TokenLog
) -> AsyncIterator[BotslabClient]:
    made = await make_client(http, endpoints, tokens=tokens)
    yield made
    await made.close()  # its own session for media hosts
