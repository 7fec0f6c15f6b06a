"""Guard by address (docs/protocol/accepted.md#address-guard): every host the cloud names (media
links and their redirects, the push server, live relays and the tunnel) is resolved, and only public
addresses are connected to. Loopback, private, shared, link-local, multicast, reserved and
unspecified addresses are refused, in IPv4 and IPv6 (IPv4-mapped and 6to4 addresses by the IPv4
address inside), unless the address is one the endpoints trust: the emulator's, when it is
configured.

Names are never the guard: the cloud may keep media on any host (the working client fetches
from any), and a hostile or spoofed answer must still not point Home Assistant into the user's
network. A name is resolved once and the connection goes to the checked address itself, so a
second answer of the DNS (rebinding) is never asked; the connected peer is checked again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ClientRequest
from aiohttp.connector import Connection
from aiohttp.tracing import Trace

from .exceptions import AddressRefused

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

RESOLVE_TIMEOUT = 10.0


def _inner_v4(ip: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 address carries (mapped `::ffff:a.b.c.d`, 6to4 `2002::/16`),
    or the address itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return inner
    return ip


def is_public(ip: IPAddress) -> bool:
    """Whether an address may be connected to when the cloud names it."""
    ip = _inner_v4(ip)
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global  # shared address space (100.64/10), documentation nets, ...
    )


def parse_ip(text: str) -> IPAddress | None:
    """An IP address literal (IPv6 with or without brackets or a zone), or None for a name."""
    text = text.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class NetGuard:
    """Which addresses the client may connect to when the cloud names them.

    `trusted` holds addresses allowed although they are not public: the emulator's, in tests
    and the demo. Production trusts none."""

    trusted: frozenset[str] = frozenset()

    @classmethod
    def trusting(cls, hosts: Iterable[str]) -> NetGuard:
        """A guard that trusts the given IP literals (names are ignored: never trusted)."""
        found = {str(_inner_v4(ip)) for host in hosts if (ip := parse_ip(host)) is not None}
        return cls(frozenset(found))

    def allowed(self, ip: IPAddress | str) -> bool:
        address = parse_ip(ip) if isinstance(ip, str) else ip
        if address is None:
            return False
        return is_public(address) or str(_inner_v4(address)) in self.trusted

    def check(self, ip: IPAddress | str, host: str = "") -> None:
        """Raise AddressRefused unless the address is allowed."""
        if not self.allowed(ip):
            raise AddressRefused(host or str(ip))

    def check_peer(self, peername: Any, host: str = "") -> None:
        """The connected socket's peer (`get_extra_info("peername")`) must be allowed too."""
        if not isinstance(peername, tuple | list) or not peername:
            raise AddressRefused(host or "?")
        self.check(str(peername[0]), host)

    def check_url(self, url: str) -> str:
        """The host of an http(s) URL, refused at once when it is an address literal the
        guard does not allow, or when the URL is not http(s) or carries credentials."""
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            _ = parts.port  # a malformed port raises here
        except ValueError as err:
            raise AddressRefused("?") from err
        if parts.scheme not in ("http", "https") or not host or parts.username is not None:
            raise AddressRefused(shown_host(host))
        literal = parse_ip(host)
        if literal is not None:
            self.check(literal, host)
        return host

    async def resolve(
        self, host: str, port: int, *, kind: socket.SocketKind = socket.SOCK_STREAM
    ) -> list[tuple[socket.AddressFamily, str]]:
        """The allowed addresses of a host (a literal is checked as it is), in the resolver's
        order; AddressRefused when there is none."""
        literal = parse_ip(host)
        if literal is not None:
            self.check(literal, host)
            family = socket.AF_INET6 if literal.version == 6 else socket.AF_INET
            return [(family, str(literal))]
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=kind), RESOLVE_TIMEOUT)
        except (OSError, UnicodeError) as err:
            raise AddressRefused(shown_host(host), resolved=False) from err
        out: list[tuple[socket.AddressFamily, str]] = []
        for family, _type, _proto, _canon, sockaddr in infos:
            address = str(sockaddr[0])
            if self.allowed(address) and (family, address) not in out:
                out.append((family, address))
        if not out:
            raise AddressRefused(shown_host(host))
        return out

    async def open_connection(
        self, host: str, port: int, *, connect_timeout: float
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to an allowed address of `host` (each address tried within
        `connect_timeout` seconds), its peer checked."""
        addresses = await self.resolve(host, port)
        last: Exception | None = None
        for _family, address in addresses:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(address, port), connect_timeout
                )
            except (OSError, TimeoutError) as err:
                last = err
                continue
            try:
                self.check_peer(writer.get_extra_info("peername"), host)
            except AddressRefused:
                writer.close()
                raise
            return reader, writer
        assert last is not None
        raise last

    async def datagram_address(self, host: str, port: int) -> tuple[str, int]:
        """Where to send UDP datagrams for `host`: its first allowed address."""
        addresses = await self.resolve(host, port, kind=socket.SOCK_DGRAM)
        return addresses[0][1], port


def shown_host(host: str) -> str:
    """A host as it may appear in a log line: printable and short."""
    return host[:80] if host.isprintable() else "?"


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver for connections to hosts the cloud names: only allowed addresses.
    aiohttp connects to what the resolver answered, so the name is never resolved again
    between the check and the connection."""

    def __init__(self, guard: NetGuard) -> None:
        self._guard = guard

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._guard.resolve(host, port)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=fam,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for fam, address in found
            if family in (socket.AF_UNSPEC, fam)
        ]

    async def close(self) -> None:
        return None


class GuardedConnector(aiohttp.TCPConnector):
    """aiohttp's connector for hosts the cloud names: names resolved by the guard, and the
    peer of every connection it hands out (new or kept alive) checked before a request is
    written on it. An address literal skips aiohttp's resolver: the peer check covers it.

    The peer is checked here and not on the response: aiohttp lets go of the connection as
    soon as a short body has arrived, before the caller sees the response, so the response
    often has no peer left to ask (`peer_of` answers None then)."""

    def __init__(self, guard: NetGuard, **kwargs: Any) -> None:
        super().__init__(resolver=GuardedResolver(guard), **kwargs)
        self._guard = guard

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's own signature
    ) -> Connection:
        connection = await super().connect(req, traces, timeout)
        transport = connection.transport
        try:
            self._guard.check_peer(
                transport.get_extra_info("peername") if transport is not None else None,
                shown_host(req.url.host or ""),
            )
        except AddressRefused:
            connection.close()
            raise
        return connection


def guarded_session(guard: NetGuard, **kwargs: Any) -> aiohttp.ClientSession:
    """An aiohttp session whose every connection goes through the guard: names resolved to
    allowed addresses only, each connection's peer checked (for hosts the cloud names; the
    caller closes it). Check a URL with `guard.check_url` first all the same: a literal
    address is refused then without a connection attempt."""
    connector = GuardedConnector(guard, limit_per_host=8)
    return aiohttp.ClientSession(connector=connector, trust_env=False, **kwargs)


def peer_of(response: aiohttp.ClientResponse) -> Any:
    """The connected peer of a response still being read (None when unknown: aiohttp lets
    go of the connection once a short body has arrived; `GuardedConnector` checks peers)."""
    connection = response.connection
    transport = connection.transport if connection is not None else None
    return transport.get_extra_info("peername") if transport is not None else None


__all__: Sequence[str] = (
    "GuardedConnector",
    "GuardedResolver",
    "NetGuard",
    "guarded_session",
    "is_public",
    "parse_ip",
    "peer_of",
    "shown_host",
)
