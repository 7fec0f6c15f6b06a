"""Retry-After, honoured by the client: after a 429 nothing is sent to that host before the
time it named, whichever call asks (the gateway, the dispatcher, live setup, media), and each
gets RateLimited with the time left. Two fake servers on 127.0.0.1 count what reaches them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
import time

import aiohttp
from aiohttp import web
import pytest

from custom_components.botslab.api import (
    BotslabClient,
    Credentials,
    Endpoints,
    Identity,
    RateLimited,
    RegionHosts,
)
from custom_components.botslab.api.live import setup as live_setup
from custom_components.botslab.api.ratelimit import (
    RETRY_AFTER_DEFAULT,
    RETRY_AFTER_MAX,
    RateGate,
    retry_after_seconds,
)


class Counting:
    """A host that answers 429 (with `retry_after`, if any) while `limited`, else a JSON
    envelope; counts requests."""

    def __init__(self) -> None:
        self.limited = True
        self.retry_after: str | None = "30"
        self.hits = 0
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _any(self, _request: web.Request) -> web.Response:
        self.hits += 1
        if self.limited:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return web.json_response({"code": 429}, status=429, headers=headers)
        return web.json_response({"code": 0, "data": {"sid": "s", "devices": []}})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def hosts() -> AsyncIterator[tuple[Counting, Counting]]:
    api, media = Counting(), Counting()
    await api.start()
    await media.start()
    yield api, media
    await api.stop()
    await media.stop()


class Clock:
    def __init__(self) -> None:
        self.moved = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.moved


def _client(http: aiohttp.ClientSession, api: Counting) -> tuple[BotslabClient, Clock]:
    hosts = RegionHosts(f"{api.url}/quc", f"{api.url}/api", f"{api.url}/iot", "", api.url)
    endpoints = Endpoints(
        region="eu1",
        regions={"eu1": hosts},
        dispatcher_url=f"{api.url}/dispatch",
        trusted_hosts=("127.0.0.1",),
    )
    clock = Clock()
    endpoints.gate.clock = clock
    credentials = Credentials(q="u%3D1", t="s%3D1", qid="1", region="eu1")
    return BotslabClient(http, endpoints, Identity.generate(), credentials, timeout=5), clock


async def test_nothing_reaches_a_host_before_the_time_it_named(
    hosts: tuple[Counting, Counting],
) -> None:
    api, media = hosts
    media.limited = False
    async with aiohttp.ClientSession() as http:
        client, clock = _client(http, api)
        try:
            with pytest.raises(RateLimited) as first:
                await client.login()
            assert api.hits == 1 and first.value.retry_after is not None
            assert 29 < first.value.retry_after <= 30
            assert first.value.not_before is not None
            assert abs(first.value.not_before - (time.time() + 30)) < 2
            # every kind of call to that host, many times: none is sent
            for _ in range(5):
                for call in (
                    client.login,
                    client.devices,
                    lambda: live_setup.cloud_control(http, client.endpoints),
                    lambda: client.download(f"{api.url}/oss/x.jpg"),
                ):
                    with pytest.raises(RateLimited) as later:
                        await call()
                    assert later.value.retry_after is not None
                    assert 0 < later.value.retry_after <= 30
            assert api.hits == 1, "nothing sent before the time named"
            # another host is not held back
            assert await client.download(f"{media.url}/oss/x.jpg")
            assert media.hits == 1
            clock.moved = 29.5
            with pytest.raises(RateLimited):
                await client.devices()
            assert api.hits == 1
            clock.moved = 30.1
            api.limited = False
            assert await client.devices() == []
            assert api.hits == 3  # the app login, then the device list
            assert client.endpoints.gate.holds == 1 and client.endpoints.gate.refused == 21
        finally:
            await client.close()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        ("0", 1.0),  # at least a second
        (None, RETRY_AFTER_DEFAULT),
        ("soon", RETRY_AFTER_DEFAULT),
        ("-5", RETRY_AFTER_DEFAULT),
        ("99999999", RETRY_AFTER_MAX),  # a hostile answer cannot silence us for longer
        ("date+45", 45.0),
        ("date-45", 1.0),  # a date in the past
    ],
)
async def test_the_wait_is_the_headers_within_bounds(
    hosts: tuple[Counting, Counting], header: str | None, expected: float
) -> None:
    api, _media = hosts
    if header is not None and header.startswith("date"):
        when = datetime.now(UTC) + timedelta(seconds=int(header.removeprefix("date")))
        header = format_datetime(when, usegmt=True)
    api.retry_after = header
    async with aiohttp.ClientSession() as http:
        client, _clock = _client(http, api)
        try:
            with pytest.raises(RateLimited) as met:
                await client.login()
        finally:
            await client.close()
    assert met.value.retry_after == pytest.approx(expected, abs=1.5)
    assert client.endpoints.gate.remaining() == pytest.approx(expected, abs=1.5)


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 15 Nov 2023 00:00:00 GMT", now) == pytest.approx(
        datetime(2023, 11, 15, tzinfo=UTC).timestamp() - now
    )
    for bad in ("", None, "1.5", "١٢", "Wed, 99 Foo 2023", "12 apples"):
        assert retry_after_seconds(bad) is None, bad


async def test_the_gate_is_shared_by_other_regions_and_not_by_other_accounts() -> None:
    """One set of endpoints (a client, its push and live view) shares one gate, also after
    `with_region`; endpoints made for another entry have their own."""
    endpoints = Endpoints.production("eu1")
    gate = endpoints.gate
    assert endpoints.with_region("na1").gate is gate
    assert Endpoints.production("eu1").gate is not gate
    assert isinstance(gate, RateGate)
    gate.hold("https://eu1-sapp-api.botslab.com/v1/x", "10", "test")
    assert gate.remaining("https://eu1-sapp-api.botslab.com/other") > 9
    assert gate.remaining("https://eu1-video-iotext.botslab.com/sdk") == 0
    await asyncio.sleep(0)
