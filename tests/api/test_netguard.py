"""The address guard (docs/protocol/accepted.md#address-guard): hosts the cloud names are connected
to only at public addresses, unless the emulator's address is trusted."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from custom_components.botslab.api import Endpoints
from custom_components.botslab.api.exceptions import AddressRefused
from custom_components.botslab.api.netguard import GuardedResolver, NetGuard, is_public, parse_ip

REFUSED = [
    "127.0.0.1",
    "127.5.6.7",
    "10.0.0.8",
    "172.16.3.4",
    "192.168.1.10",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "0.0.0.0",
    "224.0.0.251",  # mDNS multicast
    "239.255.255.250",
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::fb",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:192.168.1.1",
    "2002:c0a8:0101::1",  # 6to4 around 192.168.1.1
    "2001:db8::1",  # documentation
]
PUBLIC = ["8.8.8.8", "47.254.1.2", "1.1.1.1", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address: str) -> None:
    ip = parse_ip(address)
    assert ip is not None
    assert not is_public(ip)
    assert not NetGuard().allowed(address)
    with pytest.raises(AddressRefused):
        NetGuard().check(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert NetGuard().allowed(address)


def test_only_the_trusted_address_itself_is_trusted() -> None:
    guard = NetGuard.trusting(["127.0.0.1", "emulator.local"])
    assert guard.trusted == frozenset({"127.0.0.1"})  # a name is never trusted
    assert guard.allowed("127.0.0.1")
    assert guard.allowed("::ffff:127.0.0.1")
    assert not guard.allowed("127.0.0.2")
    assert not guard.allowed("10.0.0.1")


def test_production_trusts_nothing_and_the_emulator_its_own_address() -> None:
    assert Endpoints.production("eu1").trusted_hosts == ()
    assert not Endpoints.production("eu1").guard.allowed("127.0.0.1")
    config = {
        "quc_url": "http://127.0.0.1:9/quc/{region}/request.php",
        "api_url": "http://127.0.0.1:9/api/{region}",
        "dispatcher_url": "http://127.0.0.1:9/v1/list/ip",
        "push_host": "127.0.0.1",
        "rsa_public_key": "x",
    }
    endpoints = Endpoints.from_emulator_config(config)
    assert endpoints.guard.allowed("127.0.0.1")
    assert not endpoints.guard.allowed("192.168.0.1")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.jpg",
        "https://[::1]:8443/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "ftp://8.8.8.8/x",
        "file:///etc/passwd",
        "http://user:pw@8.8.8.8/x",
        "http://8.8.8.8:99999/x",
        "http:///nohost",
    ],
)
def test_urls_refused_before_any_connection(url: str) -> None:
    with pytest.raises(AddressRefused):
        NetGuard().check_url(url)


def test_urls_with_public_literals_or_names_pass_the_first_check() -> None:
    assert NetGuard().check_url("http://8.8.8.8/x.ts") == "8.8.8.8"
    assert NetGuard().check_url("https://media.example.com/a.m3u8") == "media.example.com"


def test_the_peer_is_checked() -> None:
    guard = NetGuard()
    guard.check_peer(("8.8.8.8", 443))
    for peer in (("10.1.2.3", 80), ("::1", 80, 0, 0), None, ()):
        with pytest.raises(AddressRefused):
            guard.check_peer(peer)


class _FakeDns:
    """getaddrinfo answers that change between calls, as a rebinding DNS does."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = answers
        self.calls = 0

    async def __call__(self, host: str, port: int, **_kw: Any) -> list[Any]:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port),
            )
            for a in answer
        ]


async def test_names_resolve_to_allowed_addresses_only(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    dns = _FakeDns([["10.0.0.1", "8.8.4.4", "fe80::2"]])
    monkeypatch.setattr(loop, "getaddrinfo", dns)
    assert await NetGuard().resolve("mixed.example", 80) == [(socket.AF_INET, "8.8.4.4")]
    dns.answers = [["192.168.1.1"]]
    with pytest.raises(AddressRefused):
        await NetGuard().resolve("lan.example", 80)


async def test_unresolvable_names_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def fail(*_a: Any, **_k: Any) -> Any:
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fail)
    with pytest.raises(AddressRefused) as err:
        await NetGuard().resolve("nowhere.example", 80)
    assert err.value.resolved is False


async def test_the_resolver_answers_the_checked_addresses(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp connects to what the resolver answered: a name whose second answer is private
    (rebinding) is only ever resolved once per connection, by the guard."""
    dns = _FakeDns([["8.8.8.8"], ["127.0.0.1"]])
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", dns)
    resolver = GuardedResolver(NetGuard())
    first = await resolver.resolve("rebind.example", 443, socket.AF_UNSPEC)
    assert [r["host"] for r in first] == ["8.8.8.8"]
    with pytest.raises(AddressRefused):
        await resolver.resolve("rebind.example", 443, socket.AF_UNSPEC)
    await resolver.close()


async def test_open_connection_checks_the_address_before_connecting() -> None:
    with pytest.raises(AddressRefused):
        await NetGuard().open_connection("127.0.0.1", 9, connect_timeout=1)
