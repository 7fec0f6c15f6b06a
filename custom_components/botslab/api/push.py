"""QPush, the cloud's push channel (protocol.md section 4): dispatcher, TCP framing, bind,
alias, heartbeat, acks, and reconnection with jittered, capped exponential backoff.

A push means "something happened": subscribers get a PushMessage and fetch the message list.
The body is not public; when it is the emulator's JSON it is parsed, otherwise left opaque.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass, field
from enum import StrEnum
import logging
import random
import struct
import time
from typing import Any

import aiohttp

from . import safejson
from .endpoints import PUSH_APP_ID, PUSH_VERSION, Endpoints
from .exceptions import BotslabConnectionError, BotslabError, ProtocolError
from .http import DEFAULT_TIMEOUT, check_status, parse_json, read_limited, translated_errors
from .models import Identity, message_id

_LOGGER = logging.getLogger(__name__)

VERSION = 5
OP_HEARTBEAT = 0
OP_HEARTBEAT_REPLY = 1
OP_BIND = 2
OP_PUSH = 3
OP_ACK = 4
OP_BIND_REPLY = 6
OP_ALIAS = 17
BARE_OPCODES = frozenset({OP_HEARTBEAT, OP_HEARTBEAT_REPLY})
MAX_PROPS = 8 * 1024
MAX_BODY = 1024 * 1024
MESSAGE_HEADER = 16
SEEN_ACKS = 512


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Frame:
    opcode: int
    props: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


def encode_frame(
    opcode: int, props: Mapping[str, str] | None = None, body: bytes | None = None
) -> bytes:
    head = struct.pack(">HH", VERSION, opcode)
    if opcode in BARE_OPCODES:
        return head
    block = "\n".join(f"{k}:{v}" for k, v in (props or {}).items()).encode()
    out = head + struct.pack(">H", len(block)) + block
    if opcode == OP_PUSH:
        out += struct.pack(">I", len(body or b"")) + (body or b"")
    return out


def parse_props(block: bytes) -> dict[str, str]:
    """`key:value` lines; undecodable bytes are replaced, lines without ':' ignored."""
    props: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").split("\n"):
        key, sep, value = line.partition(":")
        if sep and key:
            props[key.strip()] = value.strip()
    return props


class FrameParser:
    """Incremental QPush frame parser. `feed()` bytes as they arrive, get whole frames back.

    Opcode 0 is a bare 4-byte frame; every other opcode has a property block; opcode 3 a
    body. Opcode 1 (the server's heartbeat reply) comes either way (protocol.md 4): it is
    passed on at once, and the bytes after it tell whether a property block follows (not
    the header of a next frame: version 5 and an opcode below 256) to be skipped. Absurd
    lengths raise ProtocolError before anything is buffered for them.
    """

    def __init__(self, *, max_props: int = MAX_PROPS, max_body: int = MAX_BODY) -> None:
        self._buf = bytearray()
        self._max_props = max_props
        self._max_body = max_body
        self._after_op1 = False
        self.frames_parsed = 0

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)
            self.frames_parsed += 1

    def _skip_op1_props(self) -> bool:
        """After an opcode 1: drop its property block if one follows; False while the bytes
        there cannot tell yet."""
        buf = self._buf
        if len(buf) < 2:
            return False
        if buf[0:2] == b"\x00\x05":  # a next frame's version, or a block of 5 bytes
            if len(buf) < 3:
                return False
            if buf[2] == 0:  # the high byte of an opcode: a next frame
                self._after_op1 = False
                return True
        (plen,) = struct.unpack_from(">H", buf)
        if plen > self._max_props:
            raise ProtocolError("push property block too large")
        if len(buf) < 2 + plen:
            return False
        del buf[: 2 + plen]
        self._after_op1 = False
        return True

    def _next(self) -> Frame | None:
        buf = self._buf
        if self._after_op1 and not self._skip_op1_props():
            return None
        if len(buf) < 4:
            return None
        version, opcode = struct.unpack_from(">HH", buf)
        if version != VERSION:
            raise ProtocolError(f"push frame version {version}")
        if opcode == OP_HEARTBEAT_REPLY:
            del buf[:4]
            self._after_op1 = True
            return Frame(opcode)
        if opcode in BARE_OPCODES:
            del buf[:4]
            return Frame(opcode)
        if len(buf) < 6:
            return None
        (plen,) = struct.unpack_from(">H", buf, 4)
        if plen > self._max_props:
            raise ProtocolError("push property block too large")
        end = 6 + plen
        if len(buf) < end:
            return None
        body = b""
        if opcode == OP_PUSH:
            if len(buf) < end + 4:
                return None
            (blen,) = struct.unpack_from(">I", buf, end)
            if blen > self._max_body:
                raise ProtocolError("push body too large")
            if len(buf) < end + 4 + blen:
                return None
            body = bytes(buf[end + 4 : end + 4 + blen])
            end += 4 + blen
        props = parse_props(bytes(buf[6 : 6 + plen]))
        del buf[:end]
        return Frame(opcode, props, body)


def parse_body(body: bytes) -> Mapping[str, Any] | None:
    """The push body as JSON, with or without a 16-byte message header; None if opaque.
    The JSON form is [modelled] (protocol.md 4): nothing depends on it."""
    for start in (0, MESSAGE_HEADER):
        chunk = body[start:].strip()
        if chunk[:1] == b"{":
            try:
                loaded = safejson.loads(chunk)
            except (ValueError, UnicodeDecodeError, RecursionError):
                continue
            if isinstance(loaded, Mapping):
                return loaded
    return None


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One op-3 push. `payload` is the parsed body when it is JSON, else None."""

    ack: str
    props: Mapping[str, str]
    body: bytes = field(repr=False)
    payload: Mapping[str, Any] | None = field(default=None, repr=False)
    received: float = field(default_factory=time.monotonic)

    @property
    def msg_id(self) -> str | None:
        """The message id the body names, as an opaque string (the body is [modelled])."""
        return message_id((self.payload or {}).get("msg_id", self.props.get("mid"))) or None

    @property
    def serial(self) -> str | None:
        value = (self.payload or {}).get("device_name")  # [modelled] body
        return str(value) if value else None


class PushClient:
    """Keeps one QPush connection up while started; tells subscribers about pushes and state."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoints: Endpoints,
        identity: Identity,
        alias: Callable[[], Awaitable[str]],
        *,
        heartbeat: float = 60.0,
        timeout_s: int = 180,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        bind_timeout: float = 10.0,
        device_label: str = "Home Assistant",
    ) -> None:
        self._http = session
        self._endpoints = endpoints
        self._identity = identity
        self._alias = alias
        self._heartbeat = heartbeat
        self._t = timeout_s
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._bind_timeout = bind_timeout
        self._label = device_label
        self._state = ConnectionState.DISCONNECTED
        self._listeners: list[Callable[[PushMessage], None]] = []
        self._state_listeners: list[Callable[[ConnectionState], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._seen_acks: OrderedDict[str, None] = OrderedDict()
        self.duplicates = 0
        self.silent_drops = 0
        self.failures = 0
        self.connects = 0
        self.frames_parsed = 0
        self.last_error: str | None = None

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def subscribe(self, callback: Callable[[PushMessage], None]) -> Callable[[], None]:
        """Call `callback` for every push; returns the function that unsubscribes."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def subscribe_state(self, callback: Callable[[ConnectionState], None]) -> Callable[[], None]:
        self._state_listeners.append(callback)
        return lambda: (
            self._state_listeners.remove(callback) if callback in self._state_listeners else None
        )

    def _set_state(self, state: ConnectionState) -> None:
        if state is self._state:
            return
        self._state = state
        for callback in list(self._state_listeners):
            try:
                callback(state)
            except Exception:  # a listener's bug must not stop the channel
                _LOGGER.exception("push state listener failed")

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name="botslab-push")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._set_state(ConnectionState.STOPPED)

    def backoff_delay(self, failures: int) -> float:
        """Full-jitter exponential backoff, capped."""
        ceiling = min(self._backoff_max, self._backoff_base * (2 ** min(failures, 16)))
        return random.uniform(ceiling / 2, ceiling)

    async def _run(self) -> None:
        while True:
            self._set_state(ConnectionState.CONNECTING)
            try:
                await self._connect_and_serve()
                self.last_error = "connection closed"
            except asyncio.CancelledError:
                raise
            except (BotslabError, OSError, TimeoutError) as err:
                self.last_error = type(err).__name__
                _LOGGER.debug("push connection failed: %s", type(err).__name__)
            except Exception as err:
                self.last_error = type(err).__name__
                _LOGGER.warning("push connection failed unexpectedly: %s", type(err).__name__)
            self.failures += 1
            self._set_state(ConnectionState.BACKOFF)
            await asyncio.sleep(self.backoff_delay(self.failures - 1))

    async def _dispatch(self) -> tuple[str, int]:
        params = {
            "appId": PUSH_APP_ID,
            "source": "",
            "user": "",
            "version": PUSH_VERSION,
            "retry": "0",
            "device_id": self._identity.m2,
        }
        async with (
            translated_errors("push dispatcher"),
            self._http.get(
                self._endpoints.dispatcher_url, params=params, timeout=DEFAULT_TIMEOUT
            ) as resp,
        ):
            check_status(resp, "push dispatcher")
            answer = parse_json(await read_limited(resp, "push dispatcher"), "push dispatcher")
        servers = answer.get("data")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], Mapping):
            raise BotslabConnectionError("push dispatcher offered no server")
        first = servers[0]
        host, port = first.get("ip"), first.get("p")
        if port is None or port == "":
            port = self._endpoints.push_default_port  # no port: 80 (protocol.md 4)
        if isinstance(port, str) and port.isascii() and port.isdigit():
            port = int(port)
        if (
            not isinstance(host, str)
            or not host
            or not isinstance(port, int)
            or isinstance(port, bool)
        ):
            raise ProtocolError("push dispatcher answer without ip/port")
        if not 0 < port < 65536:
            raise ProtocolError("push dispatcher answer with a port out of range")
        return host, port

    async def _connect_and_serve(self) -> None:
        host, port = await self._dispatch()
        alias = await self._alias()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), self._bind_timeout
        )
        self._writer = writer
        parser = FrameParser()
        heartbeat: asyncio.Task[None] | None = None
        try:
            writer.write(
                encode_frame(
                    OP_BIND,
                    {
                        "u": f"{self._identity.m2}@{PUSH_APP_ID}",
                        "ts": str(int(time.time() * 1000)),
                        "t": str(self._t),
                        "di": self._label,
                        "db": "HomeAssistant",
                        "net": "1",
                    },
                )
            )
            await writer.drain()
            later: list[Frame] = []
            reply = await self._expect(reader, parser, OP_BIND_REPLY, later)
            if reply.props.get("r") != "0":
                raise BotslabConnectionError("push bind rejected")
            writer.write(encode_frame(OP_ALIAS, {"sa": alias}))
            await writer.drain()
            # the server may echo opcode 17; the working client only logs the echo, and its
            # absence is no error (protocol.md 4): connected as soon as the alias is sent
            self.connects += 1
            self.failures = 0
            self._set_state(ConnectionState.CONNECTED)
            heartbeat = asyncio.create_task(self._heartbeats(writer), name="botslab-push-heartbeat")
            for frame in later:
                self._handle(writer, frame)
            replies = False  # has the server answered a heartbeat on this connection?
            while True:
                # silent past the budget: the connection is dead even if TCP does not say so
                budget = 3 * self._heartbeat + 5 if replies else self._t + self._heartbeat
                try:
                    data = await asyncio.wait_for(reader.read(65536), budget)
                except TimeoutError as err:
                    self.silent_drops += 1
                    raise BotslabConnectionError("push connection silent") from err
                if not data:
                    raise BotslabConnectionError("push connection closed by the server")
                for frame in parser.feed(data):
                    replies = replies or frame.opcode == OP_HEARTBEAT_REPLY
                    self._handle(writer, frame)
        finally:
            self.frames_parsed += parser.frames_parsed
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
            self._writer = None
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._set_state(ConnectionState.DISCONNECTED)

    async def _expect(
        self, reader: asyncio.StreamReader, parser: FrameParser, opcode: int, later: list[Frame]
    ) -> Frame:
        """Read until a frame of `opcode`; frames after it in the same read go to `later`."""
        deadline = time.monotonic() + self._bind_timeout
        pending: list[Frame] = []
        while True:
            for idx, frame in enumerate(pending):
                if frame.opcode == opcode:
                    later.extend(pending[idx + 1 :])
                    return frame
            pending = []
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            data = await asyncio.wait_for(reader.read(65536), left)
            if not data:
                raise BotslabConnectionError("push connection closed during bind")
            pending = parser.feed(data)

    async def _heartbeats(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            writer.write(encode_frame(OP_HEARTBEAT))
            await writer.drain()

    def _handle(self, writer: asyncio.StreamWriter, frame: Frame) -> None:
        if frame.opcode == OP_ALIAS and frame.props.get("r", "0") != "0":
            raise BotslabConnectionError("push alias rejected")
        if frame.opcode != OP_PUSH:
            return  # heartbeat replies, alias echoes and unknown opcodes are ignored
        ack = frame.props.get("ack", "")
        if ack:
            # one ack per frame, even if the body is bad
            writer.write(encode_frame(OP_ACK, {"ack": ack}))
            if ack in self._seen_acks:  # a resend of a push already delivered (ack lost on the way)
                self.duplicates += 1
                return
            self._seen_acks[ack] = None
            while len(self._seen_acks) > SEEN_ACKS:
                self._seen_acks.popitem(last=False)
        message = PushMessage(ack, dict(frame.props), frame.body, parse_body(frame.body))
        for callback in list(self._listeners):
            try:
                callback(message)
            except Exception:  # a listener's bug must not stop the channel
                _LOGGER.exception("push listener failed")
