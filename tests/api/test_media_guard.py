"""Media wherever the cloud keeps it, and never inside the user's network
(docs/protocol/cloud-api.md#hosts-and-regions, docs/protocol/accepted.md#media): snapshots,
playlists and segments are fetched from any host over http or https, through up to three redirects,
and refused when a host (or a hop, or the connected peer) is not a public address. The emulator's
address is trusted; names are mapped to addresses by a fake DNS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import io
import logging
import socket
from typing import Any

from aiohttp import web
from PIL import Image
import pytest

from botslab_emulator import Emulator
from custom_components.botslab.api import BotslabClient, MediaHostRefused, ProtocolError
from custom_components.botslab.api.netguard import GuardedResolver

DOOR = "BDX3A1B2C3D4"


class FakeDns:
    """getaddrinfo for made-up names: each maps to a list of answers, one per lookup (the
    last repeats), as a rebinding DNS answers; other names do not resolve."""

    def __init__(self) -> None:
        self.names: dict[str, list[list[str]]] = {}
        self.lookups: dict[str, int] = {}

    async def __call__(self, host: str, port: int, **_kw: Any) -> list[Any]:
        answers = self.names.get(host)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        count = self.lookups.get(host, 0)
        self.lookups[host] = count + 1
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[min(count, len(answers) - 1)]
        ]


@pytest.fixture
async def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    fake = FakeDns()
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake)
    return fake


class LanServer:
    """Something on the user's network (here 127.0.0.2, outside the trusted 127.0.0.1) that
    counts every request reaching it."""

    def __init__(self) -> None:
        self.hits = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _any(self, _request: web.Request) -> web.Response:
        self.hits += 1
        return web.Response(body=b"\xff\xd8 router admin page", content_type="image/jpeg")

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.2", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def lan(emu: Emulator) -> AsyncIterator[LanServer]:
    """A LAN server on 127.0.0.2, on the emulator's own port number (so that a name could
    point either way with the same URL)."""
    server = LanServer()
    await server.start(emu.port)
    yield server
    await server.stop()


def hops(emu: Emulator) -> list[int]:
    """The redirect hops the emulator's object store answered, by number."""
    return sorted(
        int(path.split("/")[2])
        for path, n in emu.counters.requests.items()
        if path.startswith("/oss-hop/")
        for _ in range(n)
    )


async def snapshot(client: BotslabClient, emu: Emulator) -> bytes:
    await emu.trigger(DOOR, "ring")
    event = (await client.messages(page_size=1)).events[0]
    return await client.download_snapshot(event)


def is_jpeg(data: bytes) -> bool:
    return Image.open(io.BytesIO(data)).size == (640, 360)


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("elsewhere", [False, True])
async def test_redirects_are_followed_up_to_three(
    client: BotslabClient, emu: Emulator, dns: FakeDns, count: int, elsewhere: bool
) -> None:
    """Relative Locations on the same host, or absolute ones to another host (a name whose
    address is the emulator's)."""
    dns.names["media-cdn.example"] = [["127.0.0.1"]]
    emu.faults.media_redirects = count
    if elsewhere:
        emu.faults.media_redirect_url = f"http://media-cdn.example:{emu.port}"
    assert is_jpeg(await snapshot(client, emu))
    assert hops(emu) == list(range(1, count + 1))
    assert dns.lookups.get("media-cdn.example", 0) == (1 if elsewhere else 0)


async def test_a_fourth_redirect_is_refused(client: BotslabClient, emu: Emulator) -> None:
    emu.faults.media_redirects = 4
    with pytest.raises(ProtocolError, match="redirects"):
        await snapshot(client, emu)
    assert hops(emu) == [1, 2, 3], "the fourth hop is never asked"


@pytest.mark.parametrize(
    "target", ["http://10.0.0.1:{port}", "http://169.254.169.254", "http://lan.example:{port}"]
)
async def test_a_redirect_into_the_network_is_refused(  # noqa: PLR0917 (fixtures)
    client: BotslabClient,
    emu: Emulator,
    dns: FakeDns,
    lan: LanServer,
    caplog: pytest.LogCaptureFixture,
    target: str,
) -> None:
    dns.names["lan.example"] = [["127.0.0.2"]]  # where the LAN server listens
    emu.faults.media_redirects = 2
    emu.faults.media_redirect_url = target.format(port=emu.port)
    for _ in range(2):
        with pytest.raises(MediaHostRefused):
            await snapshot(client, emu)
    assert hops(emu) == [], "the first answer was the redirect; no hop was followed"
    assert lan.hits == 0
    reports = [r for r in caplog.records if "as a media host" in r.getMessage()]
    assert len(reports) == 1 and reports[0].levelno == logging.WARNING, "once per host"
    assert "Signature" not in caplog.text and "Expires=" not in caplog.text, "no signed URL"


async def test_media_on_any_named_host_over_http(
    client: BotslabClient, emu: Emulator, dns: FakeDns
) -> None:
    """The working client fetches from any host (docs/protocol/cloud-api.md#hosts-and-regions: the
    media host is not known), over http as well: a name that is not Aliyun OSS, on a public address
    (here the trusted emulator's), is fetched."""
    dns.names["hls-proxy.example"] = [["127.0.0.1"]]
    emu.faults.media_base_url = f"http://hls-proxy.example:{emu.port}"
    assert is_jpeg(await snapshot(client, emu))
    assert dns.lookups["hls-proxy.example"] == 1


@pytest.mark.parametrize(
    "answers", [["10.1.2.3"], ["192.168.0.4", "fd00::4"], ["127.0.0.2"], ["100.64.0.9"]]
)
async def test_a_name_on_a_private_address_is_refused(
    client: BotslabClient, emu: Emulator, dns: FakeDns, lan: LanServer, answers: list[str]
) -> None:
    dns.names["cam-media.example"] = [answers]
    emu.faults.media_base_url = f"http://cam-media.example:{emu.port}"
    with pytest.raises(MediaHostRefused) as refused:
        await snapshot(client, emu)
    assert refused.value.host == "cam-media.example" and lan.hits == 0


async def test_a_rebinding_name_never_reaches_the_private_address(
    client: BotslabClient, emu: Emulator, dns: FakeDns, lan: LanServer
) -> None:
    """The name answers the emulator's address first, a LAN address after: the guard's
    answer is the one connected to, and the second answer is refused, never connected."""
    dns.names["rebind.example"] = [["127.0.0.1"], ["127.0.0.2"]]
    emu.faults.media_base_url = f"http://rebind.example:{emu.port}"
    assert is_jpeg(await snapshot(client, emu))
    await client.close()  # a new media session: no cached answer, the name is asked again
    with pytest.raises(MediaHostRefused):
        await snapshot(client, emu)
    assert dns.lookups["rebind.example"] == 2 and lan.hits == 0


async def test_the_connected_peer_is_checked(
    client: BotslabClient, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Should a name ever reach a connection unchecked (here the guard's resolver is made to
    answer without asking the guard, and the emulator is not trusted), the connection's peer
    is checked before a request is written on it."""
    untrusted = type(client.endpoints)(
        region=client.endpoints.region, regions=client.endpoints.regions
    )
    monkeypatch.setattr(client, "_endpoints", untrusted)

    async def unchecked(self: GuardedResolver, host: str, port: int = 0, family: Any = 0) -> Any:
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    monkeypatch.setattr(GuardedResolver, "resolve", unchecked)
    emu.faults.media_base_url = f"http://trusted-by-nobody.example:{emu.port}"
    await emu.trigger(DOOR, "ring")
    event = (await client.messages(page_size=1)).events[0]
    before = sum(n for p, n in emu.counters.requests.items() if p.startswith("/oss/"))
    with pytest.raises(MediaHostRefused):
        await client.download_snapshot(event)
    after = sum(n for p, n in emu.counters.requests.items() if p.startswith("/oss/"))
    assert after == before, "no request was written to the refused peer"
