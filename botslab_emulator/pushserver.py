"""The QPush TCP server (docs/protocol/push.md): bind, alias, heartbeats, pushes, acks, resends."""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
from dataclasses import dataclass, field
import json
import logging
import os
import secrets
import struct
import time
from typing import Any

from .network import Lane, Network

_LOGGER = logging.getLogger(__name__)

VERSION = 5
OP_HEARTBEAT = 0
OP_HEARTBEAT_REPLY = 1
OP_BIND = 2
OP_PUSH = 3
OP_ACK = 4
OP_BIND_REPLY = 6
OP_ALIAS = 17
APP_IDS = {"venqoyon9hcc", "gqrwex6nq54m"}
MAX_PROPS = 4096
BIND_TIMEOUT_S = 10.0
MAX_PENDING = 256
STASH_TTL_S = 300.0


class FrameError(Exception):
    """The peer sent something that is not a QPush frame: the connection is closed."""


def encode_props(props: dict[str, str]) -> bytes:
    return "\n".join(f"{k}:{v}" for k, v in props.items()).encode()


def parse_props(block: bytes) -> dict[str, str]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FrameError("properties are not UTF-8") from err
    props: dict[str, str] = {}
    for line in text.split("\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise FrameError("property line without ':'")
        props[key] = value
    return props


def frame(opcode: int, props: dict[str, str] | None = None, body: bytes | None = None) -> bytes:
    head = struct.pack(">HH", VERSION, opcode)
    if opcode == OP_HEARTBEAT:
        return head  # opcode 1 has a property block here; its bare form is written apart
    block = encode_props(props or {})
    out = head + struct.pack(">H", len(block)) + block
    if opcode == OP_PUSH:
        out += struct.pack(">I", len(body or b"")) + (body or b"")
    return out


def other_version(version: int, data: bytes) -> bytes:
    """A version-5 frame relabelled with another version."""
    return struct.pack(">H", version) + data[2:]


@dataclass
class Pending:
    ack: str
    data: bytes
    sent: float
    tries: int = 1


@dataclass(eq=False)
class Conn:
    writer: asyncio.StreamWriter
    m2: str = ""
    alias: str = ""
    timeout: float = 180.0
    pending: dict[str, Pending] = field(default_factory=dict)

    split: bool = False
    replies: int = 0
    _held: bytearray | None = None  # bytes that wait for the next turn of the loop, in order
    lane: Lane | None = None  # the path to the client (network.py); None: at once
    lane_in: Lane | None = None  # ... and back

    def send(self, data: bytes) -> float:
        """Write a frame across the path; the wall time it is written."""
        if self.lane is None:
            self._send_now(data)
            return time.time()
        return self.lane.call(self._send_now, data)

    def _send_now(self, data: bytes) -> None:
        if self.writer.is_closing():
            return
        if self._held is not None:  # after a cut frame's rest, in order
            self._held += data
            return
        if not self.split or data[2:4] != b"\x00\x03":  # only pushes are cut
            self.writer.write(data)
            return
        # the rest on the next turn of the loop: the client reads the frame in two pieces
        cut = 6 + (len(data) - 6) // 2
        self.writer.write(data[:cut])
        self._held = bytearray(data[cut:])
        asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held and not self.writer.is_closing():
            self.writer.write(bytes(held))


@dataclass
class PushFaults:
    refuse: bool = False
    # the server's heartbeat reply, opcode 1: "mixed" alternates the two forms docs/protocol/push.md
    # leaves open, a bare 4-byte frame and one with a property block; "bare", "props"; "none"
    heartbeat_reply: str = "mixed"
    alias_echo: bool = False  # echo opcode 17 after an accepted alias (the server "may")
    # the `r` of that echo: "0", or anything else (the working client only logs the echo,
    # whatever its `r`: docs/protocol/accepted.md#push)
    alias_echo_r: str = "0"
    # write each frame in two pieces (the property block cut in two), as TCP may deliver it
    split_frames: bool = True
    resend_after: float = 5.0
    max_tries: int = 5
    bind_reject: bool = False
    # after the bind, nothing more: no heartbeat reply, no push (a dead connection TCP does
    # not report)
    silent: bool = False


@dataclass
class PushStats:
    connections: int = 0
    binds: int = 0
    aliases: int = 0
    heartbeats: int = 0
    pushes: int = 0
    acks: int = 0
    resends: int = 0
    undelivered: int = 0
    refused: int = 0
    closed_bad_frames: int = 0
    timeouts: int = 0


class PushServer:
    def __init__(self, host: str, port: int, known_alias: Any, net: Network | None = None) -> None:
        self.net = net or Network()
        self.host = host
        self.port = port
        self._known_alias = known_alias
        self.faults = PushFaults()
        self.stats = PushStats()
        self.conns: set[Conn] = set()
        self.by_alias: dict[str, set[Conn]] = {}
        self._stash: dict[str, deque[tuple[float, Pending]]] = {}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._resender: asyncio.Task[None] | None = None
        self.last_push_write: dict[str, float] = {}

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._on_connect, self.host, self.port, limit=MAX_PROPS * 2
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._resender = asyncio.create_task(self._resend_loop(), name="botslab-emulator-resend")

    async def stop(self) -> None:
        if self._resender:
            self._resender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._resender
        if self._server:
            self._server.close()
        self.drop_all()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server:
            await self._server.wait_closed()

    # --- control ----------------------------------------------------------------------------
    def drop_all(self) -> int:
        count = len(self.conns)
        for conn in list(self.conns):
            conn.writer.close()
        return count

    def send_raw(self, data: bytes, *, close: bool = False) -> int:
        """Write arbitrary bytes to every bound connection (malformed-frame faults)."""
        count = 0
        for conn in list(self.conns):
            if conn.alias:
                conn.send(data)
                count += 1
                if close:
                    conn.writer.close()
        return count

    def malformed(self, kind: str) -> int:
        frames = {
            "garbage": (os.urandom(64), True),
            # a frame of version 9, then the connection closed (the client reconnects)
            "bad_version": (
                struct.pack(">HH", 9, OP_PUSH) + b"\x00\x00" + b"\x00\x00\x00\x00",
                True,
            ),
            # frames of other versions mid-stream, in version 5's layout
            # (docs/protocol/accepted.md#push: the working client skips them), the connection kept:
            # a push with a body (written in two pieces like every push), a bare frame, an alias
            # echo
            "other_version": (
                other_version(6, frame(OP_PUSH, {"ack": "v6-" + secrets.token_hex(3)}, b"{}"))
                + other_version(4, frame(OP_HEARTBEAT))
                + other_version(7, frame(OP_ALIAS, {"r": "0"})),
                False,
            ),
            "huge_length": (
                struct.pack(">HHH", VERSION, OP_PUSH, 5) + b"ack:x" + struct.pack(">I", 0xFFFFFFF0),
                True,
            ),
            "truncated": (frame(OP_PUSH, {"ack": "trunc"}, b'{"msg_id":1}')[:9], True),
            "unknown_opcode": (frame(9, {"x": "1"}), False),
            "heartbeat_reply": (struct.pack(">HH", VERSION, OP_HEARTBEAT_REPLY), False),
            "heartbeat_reply_props": (frame(OP_HEARTBEAT_REPLY, {"t": "1700000000000"}), False),
            "empty_body": (frame(OP_PUSH, {"ack": "empty-" + secrets.token_hex(3)}, b""), False),
            "opaque_body": (
                frame(OP_PUSH, {"ack": "opaque-" + secrets.token_hex(3)}, os.urandom(24)),
                False,
            ),
            "header_body": (
                frame(OP_PUSH, {"ack": "hdr-" + secrets.token_hex(3)}, bytes(16) + b'{"msg_id":0}'),
                False,
            ),
            "bad_props": (
                struct.pack(">HHH", VERSION, OP_PUSH, 4)
                + b"\xff\xfe\xfd\xfc"
                + struct.pack(">I", 0),
                False,
            ),
        }
        if kind not in frames:
            raise KeyError(kind)
        data, close = frames[kind]
        return self.send_raw(data, close=close)

    # --- publishing -------------------------------------------------------------------------
    def publish(self, alias: str, body: dict[str, Any]) -> int:
        payload = json.dumps(body, separators=(",", ":")).encode()
        conns = set() if self.faults.silent else self.by_alias.get(alias, set())
        if not conns:
            self.stats.undelivered += 1
            return 0
        for conn in conns:
            ack = secrets.token_hex(8)
            data = frame(OP_PUSH, {"ack": ack, "mid": str(body.get("msg_id", ""))}, payload)
            self._track(conn, Pending(ack, data, time.monotonic()))
            written = conn.send(data)
            self.stats.pushes += 1
            self.last_push_write[str(body.get("msg_id", ""))] = written
            if len(self.last_push_write) > 10_000:
                self.last_push_write.pop(next(iter(self.last_push_write)))
        return len(conns)

    def _track(self, conn: Conn, pending: Pending) -> None:
        conn.pending[pending.ack] = pending
        while len(conn.pending) > MAX_PENDING:
            conn.pending.pop(next(iter(conn.pending)))

    async def _resend_loop(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            now = time.monotonic()
            for conn in list(self.conns):
                for pending in list(conn.pending.values()):
                    if now - pending.sent < self.faults.resend_after:
                        continue
                    if pending.tries >= self.faults.max_tries:
                        conn.pending.pop(pending.ack, None)
                        continue
                    pending.tries += 1
                    pending.sent = now
                    self.stats.resends += 1
                    conn.send(pending.data)

    # --- connections ------------------------------------------------------------------------
    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.stats.connections += 1
        if self.faults.refuse:
            self.stats.refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = Conn(writer, lane=self.net.lane(("out", id(writer))))
        conn.lane_in = self.net.lane(("in", id(writer)))
        self.conns.add(conn)
        try:
            await self._serve(conn, reader)
        except FrameError as err:
            self.stats.closed_bad_frames += 1
            _LOGGER.debug("closing push connection: %s", err)
        except TimeoutError:
            self.stats.timeouts += 1
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._forget(conn)
            self.net.forget(("out", id(writer)))
            self.net.forget(("in", id(writer)))
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)

    def _forget(self, conn: Conn) -> None:
        self.conns.discard(conn)
        if conn.alias:
            peers = self.by_alias.get(conn.alias)
            if peers is not None:
                peers.discard(conn)
                if not peers:
                    del self.by_alias[conn.alias]
            if conn.pending:
                stash = self._stash.setdefault(conn.alias, deque(maxlen=100))
                now = time.monotonic()
                for pending in conn.pending.values():
                    stash.append((now, pending))

    async def _read_frame(
        self, reader: asyncio.StreamReader, wait: float, conn: Conn | None = None
    ) -> tuple[int, dict[str, str]]:
        head = await asyncio.wait_for(reader.readexactly(4), wait)
        if conn is not None and conn.lane_in is not None:
            await conn.lane_in.wait()  # it crossed the path
        version, opcode = struct.unpack(">HH", head)
        if version != VERSION:
            raise FrameError(f"version {version}")
        if opcode == OP_HEARTBEAT:
            return opcode, {}
        if opcode not in (OP_BIND, OP_ACK, OP_ALIAS):
            raise FrameError(f"unexpected opcode {opcode}")
        (length,) = struct.unpack(">H", await asyncio.wait_for(reader.readexactly(2), wait))
        if length > MAX_PROPS:
            raise FrameError("property block too large")
        block = await asyncio.wait_for(reader.readexactly(length), wait)
        return opcode, parse_props(block)

    async def _serve(self, conn: Conn, reader: asyncio.StreamReader) -> None:
        opcode, props = await self._read_frame(reader, BIND_TIMEOUT_S, conn)
        if opcode != OP_BIND:
            raise FrameError("first frame must be a bind")
        user = props.get("u", "")
        m2, _, app_id = user.partition("@")
        if self.faults.bind_reject or not m2 or app_id not in APP_IDS:
            conn.send(frame(OP_BIND_REPLY, {"r": "1"}))
            if conn.lane is not None:
                await conn.lane.drained()
            await conn.writer.drain()
            return
        try:
            conn.timeout = float(min(max(int(props.get("t", "180")), 1), 600))
        except ValueError as err:
            raise FrameError("bad t") from err
        conn.m2 = m2
        conn.split = self.faults.split_frames
        self.stats.binds += 1
        conn.send(frame(OP_BIND_REPLY, {"r": "0"}))
        while True:
            opcode, props = await self._read_frame(reader, conn.timeout, conn)
            if self.faults.silent:
                continue
            if opcode == OP_HEARTBEAT:
                self.stats.heartbeats += 1
                form = self.faults.heartbeat_reply
                if form == "mixed":
                    form = ("bare", "props")[conn.replies % 2]
                conn.replies += 1
                if form == "bare":
                    conn.send(struct.pack(">HH", VERSION, OP_HEARTBEAT_REPLY))
                elif form == "props":
                    conn.send(frame(OP_HEARTBEAT_REPLY, {"t": str(int(time.time() * 1000))}))
            elif opcode == OP_ALIAS:
                alias = props.get("sa", "")
                if not self._known_alias(alias):
                    conn.send(frame(OP_ALIAS, {"sa": alias, "r": "1"}))
                    if conn.lane is not None:
                        await conn.lane.drained()
                    await conn.writer.drain()
                    return
                if conn.alias and conn.alias != alias:
                    raise FrameError("alias changed")
                conn.alias = alias
                self.by_alias.setdefault(alias, set()).add(conn)
                self.stats.aliases += 1
                if self.faults.alias_echo:
                    conn.send(frame(OP_ALIAS, {"sa": alias, "r": self.faults.alias_echo_r}))
                self._deliver_stash(conn)
            elif opcode == OP_ACK:
                ack = props.get("ack", "")
                if conn.pending.pop(ack, None) is not None:
                    self.stats.acks += 1
            else:
                raise FrameError("bind twice")

    def _deliver_stash(self, conn: Conn) -> None:
        stash = self._stash.pop(conn.alias, None)
        if not stash:
            return
        now = time.monotonic()
        for stamp, pending in stash:
            if now - stamp <= STASH_TTL_S:
                pending.sent = now
                self._track(conn, pending)
                conn.send(pending.data)
                self.stats.resends += 1
