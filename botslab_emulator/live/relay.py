"""The emulator's TCP media relay (liveview.md 7.1): raw LOGIN checked against the ukeys the
scheduler minted, START (idempotent) attaches the viewer, media goes to every viewer of a stream."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from .frames import app_frame, login_result, read_tlvs

if TYPE_CHECKING:
    from ..server import Emulator

MAX_BODY = 64 * 1024
LOGIN_TIMEOUT_S = 10.0


class RelayServer:
    def __init__(self, emu: Emulator, host: str, port: int = 0) -> None:
        self.emu = emu
        self.host = host
        self.port = port
        self.viewers: dict[str, set[asyncio.StreamWriter]] = {}  # stream id -> writers
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writers in self.viewers.values():
            for writer in writers:
                writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def send(self, stream_id: str, cls: int, body: bytes) -> int:
        """A frame to every attached viewer of the stream; how many got it."""
        writers = [w for w in self.viewers.get(stream_id, set()) if not w.is_closing()]
        for writer in writers:
            writer.write(app_frame(cls, body))
        return len(writers)

    async def _read(self, reader: asyncio.StreamReader, wait: float | None) -> tuple[int, bytes]:
        head = await asyncio.wait_for(reader.readexactly(10), wait)
        if head[:4] != bytes.fromhex("20141104") or head[4] != 0:
            raise ValueError("not an app-frame")
        size = int.from_bytes(head[6:10], "big")
        if size > MAX_BODY:
            raise ValueError("frame too large")
        return head[5], await asyncio.wait_for(reader.readexactly(size), wait)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        stream_id = ""
        try:
            cls, body = await self._read(reader, LOGIN_TIMEOUT_S)
            fields = read_tlvs(body) if cls == 0x01 else {}
            ukey = fields.get(0x0002, b"").decode(errors="replace")
            stream_id = fields.get(0x0001, b"").decode(errors="replace")
            minted = self.emu.live_ukeys.get(ukey)
            if minted is None or stream_id != f"{minted['sn']}_01_01":
                writer.write(login_result(1))
                await writer.drain()
                return
            writer.write(login_result(0))
            while True:
                cls, body = await self._read(reader, None)
                if cls == 0x09:  # START, repeats are fine
                    self.viewers.setdefault(stream_id, set()).add(writer)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError, ValueError):
            pass
        finally:
            self.viewers.get(stream_id, set()).discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            self._tasks.discard(task)
