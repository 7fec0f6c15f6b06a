"""The network between a client and the emulated cloud: round-trip time, jitter and UDP loss.

On loopback (the default) nothing is added. The WAN profile (`--network wan`, or the `net_`
knobs of POST /_emulator/faults) puts the cloud far away: every HTTP request, push, tunnel,
relay and QTP datagram is half a round trip late in each direction, each with its own jitter
(an HTTP request reaches the cloud half a round trip after it was sent, and is answered from
what the cloud holds then; its round trip is the sum of two halves, each ± half the jitter, so
it spreads over ± the jitter with most round trips near the middle), and UDP datagrams
(tunnel and QTP, both ways) are lost at random.
TCP loses nothing (it retransmits; what a loss costs it is inside the jitter). Each direction of
each connection or datagram peer is a FIFO lane: jitter never reorders, as on a real path where
packets queue behind each other.

docs/protocol/README.md and docs/protocol/live-video.md give no round-trip time for the real cloud:
the WAN defaults are a far region (120 ms ± 30 ms, 1% UDP loss), as issue 28 suggests; each is a
knob.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
import random
import time
from typing import Any

# the WAN profile: a cloud region far from the home
WAN = {"rtt_ms": 120.0, "jitter_ms": 30.0, "udp_loss_pct": 1.0}
PROFILES: dict[str, dict[str, float]] = {
    "loopback": {"rtt_ms": 0.0, "jitter_ms": 0.0, "udp_loss_pct": 0.0},
    "wan": WAN,
}
MAX_LANES = 1024


@dataclass
class NetworkFaults:
    """Knobs of the path to the cloud (POST /_emulator/faults with the `net_` prefix)."""

    rtt_ms: float = 0.0  # round-trip time added to every exchange
    jitter_ms: float = 0.0  # ± this much on a round trip (half of it on each direction)
    udp_loss_pct: float = 0.0  # percent of UDP datagrams lost, each direction
    seed: int = 0  # 0: a new random sequence per process; N: the same losses and jitter


class Lane:
    """One direction of one flow: calls run in order, each no earlier than its own delay."""

    def __init__(self, net: Network) -> None:
        self._net = net
        self._last = 0.0

    def call(self, fn: Callable[..., Any], *args: Any) -> float:
        """Run `fn(*args)` after a one-way delay, never before an earlier call of this lane;
        the wall-clock time it runs at. At once (and now) when the network adds nothing."""
        if not self._net.active:
            fn(*args)
            return time.time()
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = max(self._last + 1e-6, now + self._net.one_way())  # strictly later: in order
        self._last = due
        self._net.call_at(due, fn, *args)
        return time.time() + (due - now)

    async def drained(self) -> None:
        """Until every call made so far has run."""
        if self._net.active:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, self._last - loop.time()) + 0.001)

    async def wait(self) -> None:
        """For a reader: wait until what it just read has crossed the path (in order)."""
        if not self._net.active:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = max(self._last + 1e-6, now + self._net.one_way())  # strictly later: in order
        self._last = due
        await asyncio.sleep(due - now)


class Network:
    def __init__(self) -> None:
        self.faults = NetworkFaults()
        self._rnd = random.Random()
        self._seeded = 0
        self._lanes: dict[Any, Lane] = {}
        self.udp_lost = 0
        self.udp_passed = 0
        self._timers: set[asyncio.TimerHandle] = set()  # what is on its way

    def call_at(self, due: float, fn: Callable[..., Any], *args: Any) -> None:
        loop = asyncio.get_running_loop()

        def run() -> None:
            self._timers.discard(handle)
            fn(*args)

        handle = loop.call_at(due, run)
        self._timers.add(handle)

    def close(self) -> None:
        """Drop everything still on its way (the emulator stops)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self._lanes.clear()

    def use(self, profile: str) -> None:
        """Set the knobs of a named profile (`loopback`, `wan`)."""
        for key, value in PROFILES[profile].items():
            setattr(self.faults, key, value)

    @property
    def active(self) -> bool:
        f = self.faults
        return f.rtt_ms > 0 or f.jitter_ms > 0 or f.udp_loss_pct > 0

    def _rng(self) -> random.Random:
        if self.faults.seed and self.faults.seed != self._seeded:
            self._seeded = self.faults.seed
            self._rnd.seed(self.faults.seed)
        return self._rnd

    def one_way(self) -> float:
        f = self.faults
        half = f.jitter_ms / 2
        return max(0.0, (f.rtt_ms / 2 + self._rng().uniform(-half, half)) / 1000)

    def lost(self) -> bool:
        """Whether a UDP datagram is lost on its way (counted)."""
        loss = self.faults.udp_loss_pct
        if loss > 0 and self._rng().random() * 100 < loss:
            self.udp_lost += 1
            return True
        self.udp_passed += 1
        return False

    def lane(self, key: Any) -> Lane:
        """The lane of a flow (a connection and direction, or a datagram peer and direction)."""
        lane = self._lanes.get(key)
        if lane is None:
            if len(self._lanes) >= MAX_LANES:
                self._lanes.pop(next(iter(self._lanes)))
            lane = self._lanes[key] = Lane(self)
        return lane

    def forget(self, key: Any) -> None:
        self._lanes.pop(key, None)

    # --- datagrams ------------------------------------------------------------------------------
    def send_datagram(
        self, transport: asyncio.DatagramTransport | None, data: bytes, addr: Any
    ) -> None:
        """sendto across the path: late, in order per peer, or lost."""
        if transport is None or transport.is_closing():
            return
        if not self.active:
            transport.sendto(data, addr)
            return
        if self.lost():
            return

        def send() -> None:
            if not transport.is_closing():
                transport.sendto(data, addr)

        self.lane(("out", id(transport), addr)).call(send)

    def receive_datagram(
        self, handler: Callable[[bytes, Any], None], data: bytes, addr: Any, owner: Any
    ) -> None:
        """A datagram that arrived: handled late, in order per peer, or lost."""
        if not self.active:
            handler(data, addr)
            return
        if self.lost():
            return
        self.lane(("in", id(owner), addr)).call(handler, data, addr)

    def stats(self) -> dict[str, Any]:
        return {"udp_lost": self.udp_lost, "udp_passed": self.udp_passed}
