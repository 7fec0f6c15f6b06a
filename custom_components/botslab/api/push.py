"""QPush, the cloud's push channel (docs/protocol/push.md): dispatcher, TCP framing, bind,
alias, heartbeat, acks, and reconnection with jittered, capped exponential backoff.

A push means "something happened": subscribers get a PushMessage and fetch the message list.
The body is not public; when it is the emulator's JSON it is parsed, otherwise left opaque.

Never stricter than the working public client (docs/protocol/accepted.md#push): an alias echo with
any `r` and a frame of another version are logged and skipped, a dispatcher `p` of 0 means the
default port. The push server the dispatcher names is connected to only through the address
guard (api/netguard.py). Backoff grows until a connection has lived a healthy minute, and
`stop()` ends the task from any state within a bounded time.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
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
from .exceptions import AddressRefused, BotslabConnectionError, BotslabError, ProtocolError
from .http import DEFAULT_TIMEOUT, check_status, parse_json, read_limited, request
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
HEALTHY_AFTER = 60.0  # s a connection must live before the backoff starts again from its base
CLOSE_TIMEOUT = 2.0  # s a teardown waits for the heartbeat task and the socket to close


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
    version: int = VERSION  # another version is read with the same layout, then skipped


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
    body. Opcode 1 (the server's heartbeat reply) comes either way (docs/protocol/push.md): it is
    passed on at once, and the bytes after it tell whether a property block follows (not
    the header of a next frame: a version from 1 to 255, 5 or another, and an opcode below
    256) to be skipped. Absurd
    lengths raise ProtocolError before anything is buffered for them.

    A frame of another version than 5 is not an error: the working client skips it
    (docs/protocol/accepted.md#push). Where such a frame ends is not documented anywhere; it is read
    with version 5's layout (the 2-byte opcode; for opcodes other than 0 and 1 a 2-byte property
    length and the block; for opcode 3 a 4-byte body length and the body; opcode 1 either
    way, as above), which is what the working client's reader does for every frame whatever
    its version. The frame comes back with its `version` for the caller to skip; the same
    size bounds apply, so a huge length is still a ProtocolError.
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
        # a next frame's version (5, or another from 1 to 255), or a block of 1-255 bytes
        if buf[0] == 0 and buf[1] != 0:
            if len(buf) < 3:
                return False
            if buf[2] == 0:  # the high byte of an opcode (a block is text): a next frame
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
        if opcode == OP_HEARTBEAT_REPLY:
            del buf[:4]
            self._after_op1 = True
            return Frame(opcode, version=version)
        if opcode in BARE_OPCODES:
            del buf[:4]
            return Frame(opcode, version=version)
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
        return Frame(opcode, props, body, version)


def parse_body(body: bytes) -> Mapping[str, Any] | None:
    """The push body as JSON, with or without a 16-byte message header; None if opaque.
    The JSON form is [modelled] (docs/protocol/push.md): nothing depends on it."""
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
    """Keeps one QPush connection up while started; tells subscribers about pushes and state.

    `stop()` ends the task from any state (a dispatcher request, a TCP connect, the bind,
    reading, a heartbeat being sent, a dropped connection being torn down, a backoff sleep)
    in at most about `2 * (close_timeout + 1)` seconds, and no connection is made after it.
    """

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
        healthy_after: float = HEALTHY_AFTER,
        close_timeout: float = CLOSE_TIMEOUT,
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
        self._healthy_after = healthy_after
        self._close_timeout = close_timeout
        self._label = device_label
        self._state = ConnectionState.DISCONNECTED
        self._listeners: list[Callable[[PushMessage], None]] = []
        self._state_listeners: list[Callable[[ConnectionState], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._children: set[asyncio.Task[None]] = set()  # heartbeat tasks
        self._stopping = False
        self._writer: asyncio.StreamWriter | None = None
        self._seen_acks: OrderedDict[str, None] = OrderedDict()
        self._noted: set[str] = set()  # what this connection has logged once already
        self._refusal_logged = False
        self.duplicates = 0
        self.silent_drops = 0
        self.failures = 0  # in a row: back to 0 after a healthy minute (drives the backoff)
        self.failures_total = 0  # since the client started
        self.connects = 0
        self.frames_parsed = 0  # by connections that ended
        self._parser: FrameParser | None = None  # the open connection's
        self.skipped_frames = 0  # frames of another version than 5, read and skipped
        self.last_error: str | None = None
        self.last_error_at: float | None = None  # when (Unix time)

    @property
    def state(self) -> ConnectionState:
        return self._state

    @property
    def frames_seen(self) -> int:
        """Frames parsed so far, the open connection's included."""
        parser = self._parser
        return self.frames_parsed + (parser.frames_parsed if parser is not None else 0)

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
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="botslab-push")

    async def stop(self) -> None:
        """Cancel the push task and wait for it and its heartbeat, whatever they are doing.

        Bounded: the task's teardown waits at most `close_timeout`; a cancel that something
        underneath swallows is repeated once, and the task makes no new connection once
        stopping. The caller's own cancellation is never swallowed here."""
        self._stopping = True  # no new connection, whatever becomes of the cancel below
        task, self._task = self._task, None
        try:
            if task is not None and task is not asyncio.current_task():
                await self._end(task)
            await self._end_children()
        finally:
            self._set_state(ConnectionState.STOPPED)

    async def _end(self, task: asyncio.Task[None]) -> None:
        for _ in range(2):
            task.cancel()
            # asyncio.wait, unlike awaiting the task, neither passes our own cancellation on
            # to the task nor swallows it
            await asyncio.wait({task}, timeout=self._close_timeout + 1.0)
            if task.done():
                break
        else:
            _LOGGER.warning("BOTSLAB push task did not stop in time")
            return
        if not task.cancelled() and (err := task.exception()) is not None:
            _LOGGER.debug("push task ended with %s", type(err).__name__)

    async def _end_children(self) -> None:
        children = set(self._children)
        for child in children:
            child.cancel()
        if children:
            _done, pending = await asyncio.wait(children, timeout=self._close_timeout)
            if pending:
                _LOGGER.debug("push heartbeat did not stop in time")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._children.add(task)
        task.add_done_callback(self._child_done)
        return task

    def _child_done(self, task: asyncio.Task[None]) -> None:
        self._children.discard(task)
        if not task.cancelled() and (err := task.exception()) is not None:
            # a heartbeat that could not be written: the read loop sees the connection go
            _LOGGER.debug("push heartbeat ended: %s", type(err).__name__)

    def _check_cancel(self) -> None:
        """A cancel that something underneath swallowed (a callback, a library) still ends
        the task: while stopping, or while this task has a cancel it has not seen raised
        (`Task.cancelling()`; asyncio.timeout and wait_for take theirs back with uncancel)."""
        task = asyncio.current_task()
        if self._stopping or (task is not None and task.cancelling()):
            raise asyncio.CancelledError

    def backoff_delay(self, failures: int) -> float:
        """Full-jitter exponential backoff, capped."""
        ceiling = min(self._backoff_max, self._backoff_base * (2 ** min(failures, 16)))
        return random.uniform(ceiling / 2, ceiling)

    async def _run(self) -> None:
        while not self._stopping:
            self._set_state(ConnectionState.CONNECTING)
            try:
                await self._connect_and_serve()
                self.last_error = "connection closed"
            except asyncio.CancelledError:
                raise
            except AddressRefused as err:
                self.last_error = type(err).__name__
                self._log_refusal(err)
            except (BotslabError, OSError, TimeoutError) as err:
                self.last_error = _error_name(err)
                _LOGGER.debug("push connection failed: %s", type(err).__name__)
            except Exception as err:
                self.last_error = type(err).__name__
                _LOGGER.warning("push connection failed unexpectedly: %s", type(err).__name__)
            self.last_error_at = time.time()
            self._check_cancel()
            # `failures` goes back to 0 only once a connection has lived `healthy_after`
            # seconds (_healthy): a server that binds and drops at once gets a growing delay
            self.failures += 1
            self.failures_total += 1
            self._set_state(ConnectionState.BACKOFF)
            await asyncio.sleep(self.backoff_delay(self.failures - 1))

    def _log_refusal(self, err: AddressRefused) -> None:
        """Once until a connection succeeds: the host is no secret, and the address guard's
        verdict is worth a line (docs/protocol/accepted.md#address-guard). A name that does not
        resolve is an ordinary connection failure."""
        if not err.resolved:
            _LOGGER.debug("push server %s does not resolve", err.host)
        elif self._refusal_logged:
            _LOGGER.debug("push server %s refused again", err.host)
        else:
            self._refusal_logged = True
            _LOGGER.warning(
                "BOTSLAB push server %s refused: not a public address; retrying with backoff",
                err.host,
            )

    async def _dispatch(self) -> tuple[str, int]:
        return await dispatch(self._http, self._endpoints, self._identity)

    async def _connect_and_serve(self) -> None:
        host, port = await self._dispatch()
        alias = await self._alias()
        self._check_cancel()
        # the push server is a host the cloud names: connected to only through the address
        # guard (resolved once, the checked address connected to, the peer checked again)
        reader, writer = await self._endpoints.guard.open_connection(
            host, port, connect_timeout=self._bind_timeout
        )
        self._writer = writer
        self._noted.clear()
        parser = self._parser = FrameParser()
        heartbeat: asyncio.Task[None] | None = None
        healthy: asyncio.TimerHandle | None = None
        try:
            self._check_cancel()
            async with asyncio.timeout(self._bind_timeout):
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
            # absence is no error (docs/protocol/push.md): connected as soon as the alias is sent
            self.connects += 1
            self._refusal_logged = False
            self._set_state(ConnectionState.CONNECTED)
            healthy = asyncio.get_running_loop().call_later(self._healthy_after, self._healthy)
            heartbeat = self._spawn(self._heartbeats(writer), "botslab-push-heartbeat")
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
            self._parser = None
            if healthy is not None:
                healthy.cancel()
            await self._teardown(writer, heartbeat)

    def _healthy(self) -> None:
        """The connection has lived `healthy_after` seconds: the next backoff starts from
        its base again."""
        self.failures = 0

    async def _teardown(
        self, writer: asyncio.StreamWriter, heartbeat: asyncio.Task[None] | None
    ) -> None:
        """Close a connection. What cannot wait comes first, so that a cancel arriving during
        the waits leaves nothing open; the waits are bounded by `close_timeout`, and neither
        asyncio.wait nor asyncio.timeout swallows a cancel of this task (a stop)."""
        self._writer = None
        if heartbeat is not None:
            heartbeat.cancel()
        writer.close()
        self._set_state(ConnectionState.DISCONNECTED)
        try:
            async with asyncio.timeout(self._close_timeout):
                if heartbeat is not None:
                    await asyncio.wait({heartbeat})
                await writer.wait_closed()
        except TimeoutError:
            writer.transport.abort()
        except asyncio.CancelledError:
            writer.transport.abort()
            raise
        except Exception:  # noqa: S110 - the socket's own error on closing: closed all the same
            pass

    async def _expect(
        self, reader: asyncio.StreamReader, parser: FrameParser, opcode: int, later: list[Frame]
    ) -> Frame:
        """Read until a version-5 frame of `opcode`; frames after it in the same read go to
        `later`."""
        deadline = time.monotonic() + self._bind_timeout
        pending: list[Frame] = []
        while True:
            for idx, frame in enumerate(pending):
                self._endpoints.answers.frame(frame.version, frame.opcode, frame.props, None)
                if frame.opcode == opcode and frame.version == VERSION:
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

    def _note(self, key: str, message: str, *args: object) -> None:
        """Log `message` at debug level once per connection."""
        if key not in self._noted:
            self._noted.add(key)
            _LOGGER.debug(message, *args)

    def _handle(self, writer: asyncio.StreamWriter, frame: Frame) -> None:
        payload = parse_body(frame.body) if frame.opcode == OP_PUSH and frame.body else None
        # what frames come (opcodes, property keys, the body's shape), for diagnostics
        self._endpoints.answers.frame(frame.version, frame.opcode, frame.props, payload)
        if frame.version != VERSION:
            # the working client skips it (docs/protocol/accepted.md#push); read with version 5's
            # layout
            self.skipped_frames += 1
            self._note(
                "version",
                "push frame of version %d (opcode %d) skipped",
                frame.version,
                frame.opcode,
            )
            return
        if frame.opcode == OP_ALIAS:
            # an echo of the alias: the working client only logs it, whatever its `r`
            # (docs/protocol/accepted.md#push). Its other properties (the alias) are not logged
            result = frame.props.get("r", "0")
            if result != "0":
                self._note(
                    "alias",
                    "push alias echo with r=%s: only logged, as the working client does",
                    result[:16] if result.isprintable() else "?",
                )
            return
        if frame.opcode != OP_PUSH:
            return  # heartbeat replies and unknown opcodes are ignored
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
        message = PushMessage(ack, dict(frame.props), frame.body, payload)
        for callback in list(self._listeners):
            try:
                callback(message)
            except Exception:  # a listener's bug must not stop the channel
                _LOGGER.exception("push listener failed")


async def dispatch(
    session: aiohttp.ClientSession, endpoints: Endpoints, identity: Identity
) -> tuple[str, int]:
    """Ask the push dispatcher for the push server (docs/protocol/push.md): its host and port. A
    read only; the answer's codes and shape go to the endpoints' answer log."""
    params = {
        "appId": PUSH_APP_ID,
        "source": "",
        "user": "",
        "version": PUSH_VERSION,
        "retry": "0",
        "device_id": identity.m2,
    }
    answers = endpoints.answers  # codes and shapes, for diagnostics
    try:
        async with request(
            session,
            "GET",
            endpoints.dispatcher_url,
            "push dispatcher",
            gate=endpoints.gate,
            params=params,
            timeout=DEFAULT_TIMEOUT,
        ) as resp:
            check_status(resp, "push dispatcher")
            answer = parse_json(await read_limited(resp, "push dispatcher"), "push dispatcher")
    except BotslabError as err:
        answers.failed("push dispatcher", err)
        raise
    answers.answered("push dispatcher", resp.status, answer)
    servers = answer.get("data")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], Mapping):
        raise BotslabConnectionError("push dispatcher offered no server")
    first = servers[0]
    host = first.get("ip")
    port = dispatcher_port(first.get("p"), endpoints.push_default_port)
    if not isinstance(host, str) or not host:
        raise ProtocolError("push dispatcher answer without ip/port")
    if port is None:
        raise ProtocolError("push dispatcher answer with a port out of range")
    return host, port


def _error_name(err: BaseException) -> str:
    """How a push failure is named in diagnostics: its kind, and what it says when that is
    one of this module's own fixed texts (never a host or a value)."""
    text = str(err)
    if isinstance(err, BotslabError) and text.startswith("push "):
        return f"{type(err).__name__}: {text[:60]}"
    return type(err).__name__


def dispatcher_port(value: Any, default: int) -> int | None:
    """The push server's port from the dispatcher's `p`: missing, empty or 0 mean the
    default port (docs/protocol/push.md, docs/protocol/accepted.md#push: 80 on the real cloud, as
    the working client's `int(p or 80)` reads it); an integer, a string of ASCII digits or an
    integral float otherwise; None when it is no port at all."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return default
        if not (text.isascii() and text.isdigit()):
            return None
        value = int(text)
    if value is None or value == 0:
        return default
    if not isinstance(value, int):
        return None
    return value if 0 < value < 65536 else None
