"""The emulator's TCP media relay (docs/protocol/live-video.md#tcp-relay): LOGIN checked against the
ukeys the scheduler minted, START (idempotent) attaches the viewer, media goes to every viewer of a
stream.

The sources do not know whether the real relay frames TCP raw or inside QTP data headers; the
relay answers in the framing of the LOGIN it accepts. With `live_tcp_framing = "qtp"` it ignores
a raw LOGIN (as a relay speaking only the other framing would), so that a client must fall back
to the QTP-wrapped one: 10-byte data header (flags 0x1D02), u32 length, the app-frame."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
import socket
import struct
from typing import TYPE_CHECKING

from .frames import app_frame, login_result
from .qtp import FLAGS_CLIENT, FLAGS_MEDIA, data_header, read_header

if TYPE_CHECKING:
    from ..network import Lane, Network
    from .faults import LiveFaults, LoginCheck

MAX_BODY = 64 * 1024
LOGIN_TIMEOUT_S = 10.0
REFUSED = 5  # the LOGIN result of `tcp_close: refuse_login`


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0) instead of an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


@dataclass(eq=False)
class TcpViewer:
    writer: asyncio.StreamWriter
    stream_id: str
    video: bool
    frames_sent: int = 0
    conv: int | None = None  # QTP-wrapped framing when set
    sn: int = 0
    lane: Lane | None = None  # the path to the viewer (network.py), None: at once

    def write(self, frame: bytes) -> None:
        if self.conv is not None:
            self.sn = (self.sn + 1) & 0xFFFF
            head = data_header(self.conv, self.sn, 0, FLAGS_MEDIA)
            frame = head + len(frame).to_bytes(4, "big") + frame
        if self.lane is None:
            self.writer.write(frame)
        else:
            self.lane.call(self._write_now, frame)

    def _write_now(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


class RelayServer:
    def __init__(
        self,
        faults: LiveFaults,
        check_login: LoginCheck,
        host: str,
        port: int = 0,
        net: Network | None = None,
    ) -> None:
        from ..network import Network

        self.net = net or Network()
        self.faults = faults
        self.check_login = check_login
        self.host = host
        self.port = port
        self.viewers: dict[str, set[TcpViewer]] = {}  # stream id -> attached viewers
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for viewers in self.viewers.values():
            for viewer in viewers:
                viewer.writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def attached(self, stream_id: str) -> list[TcpViewer]:
        return [v for v in self.viewers.get(stream_id, set()) if not v.writer.is_closing()]

    def send(self, stream_id: str, cls: int, body: bytes) -> int:
        """A frame to every attached viewer of the stream; how many got it."""
        viewers = self.attached(stream_id)
        for viewer in viewers:
            viewer.write(app_frame(cls, body))
        return len(viewers)

    async def _read(
        self, reader: asyncio.StreamReader, wait: float | None
    ) -> tuple[int, bytes, int | None]:
        """(class, body, conv): conv is None for a raw frame, the QTP conv for a wrapped one."""
        head = await asyncio.wait_for(reader.readexactly(10), wait)
        await self.net.lane(("in", id(reader))).wait()  # it crossed the path
        conv = None
        if head[:4] != bytes.fromhex("20141104"):
            conv, _sn, _una, flags = read_header(head)  # else a QTP-wrapped frame
            if flags != FLAGS_CLIENT:
                raise ValueError("neither an app-frame nor a QTP client message")
            size = int.from_bytes(await asyncio.wait_for(reader.readexactly(4), wait), "big")
            if size == 0:
                return 0, b"", conv  # an empty ACK
            head = await asyncio.wait_for(reader.readexactly(10), wait)
        if head[:4] != bytes.fromhex("20141104") or head[4] != 0:
            raise ValueError("not an app-frame")
        size = int.from_bytes(head[6:10], "big")
        if size > MAX_BODY:
            raise ValueError("frame too large")
        return head[5], await asyncio.wait_for(reader.readexactly(size), wait), conv

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        viewer: TcpViewer | None = None
        faults = self.faults
        try:
            if faults.tcp_close == "reset":
                _reset(writer)  # as a host that refuses the connection
                return
            if faults.tcp_close == "at_once":
                return  # EOF before anything is read
            while True:
                cls, body, conv = await self._read(reader, LOGIN_TIMEOUT_S)
                if cls == 0x01 and (conv is not None or faults.tcp_framing != "qtp"):
                    break  # a LOGIN in a framing this relay speaks
            if faults.tcp_close == "after_login":
                return  # EOF once the LOGIN is read
            code, stream_id, video = self.check_login(body)
            if code == 0 and faults.tcp_close == "refuse_login":
                code = REFUSED  # this leg only; QTP accepts the same LOGIN
            if code == 0 and faults.tcp_silent and faults.video_transport == "qtp":
                # the real relay: no answer to LOGIN on TCP (docs/protocol/accepted.md#live-view)
                while True:
                    await self._read(reader, None)
            viewer = TcpViewer(
                writer, stream_id, video, conv=conv, lane=self.net.lane(("out", id(writer)))
            )
            viewer.write(login_result(code))
            await writer.drain()
            if code != 0:
                return
            while True:
                cls, body, _conv = await self._read(reader, None)
                if cls == 0x09:  # START, repeats are fine
                    self.viewers.setdefault(stream_id, set()).add(viewer)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, ValueError):
            pass
        finally:
            if viewer is not None:
                self.viewers.get(viewer.stream_id, set()).discard(viewer)
            self.net.forget(("in", id(reader)))
            self.net.forget(("out", id(writer)))
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)
