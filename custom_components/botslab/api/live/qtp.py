"""QTP, the relay's reliable-UDP leg (docs/protocol/live-video.md#qtp), on the client: the 48-byte
handshake, data headers with their checksum, LOGIN/START, flow ACKs and the in-order reassembly of
`[u32 L][app-frame]` messages (gap skip and resync on the next keyframe).

Loss: the relay does not retransmit (docs/protocol/live-video.md#qtp,
docs/protocol/live-video.md#open-questions: the working client assumes none, and the emulator sends
none), so a lost datagram loses its frame and the frames that depend on it. The reassembler waits
GAP_WAIT_S for a late datagram (UDP may reorder), or until 48 segments wait, then drops the broken
message and resumes at the next keyframe: the picture freezes until then (at most a keyframe
interval) and never shows a damaged frame."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
import random
import struct
import time

from ..exceptions import BotslabConnectionError, ProtocolError
from ..netguard import NetGuard, parse_ip
from .frames import HEADER, MAGIC, MAX_BODY, AppFrame, FrameReader, start_frame

FLAGS_MEDIA = 0x1D00
FLAGS_CLIENT = 0x1D02
FLAGS_FLOW_ACK = 0x1120
FLAGS_CONTROL = 0x0C00
CMD_SYN, CMD_ACK = 1, 3
MY_TS = 0x11223344
GAP_SKIP = 48
# how long a hole in the sequence may wait for its datagram once later ones are there: longer
# than any reordering on a path, far shorter than the 48 segments (about a second of video)
GAP_WAIT_S = 0.25
MAX_PENDING = 8192
# one message is one app-frame: a length past the largest frame is a damaged (or hostile)
# message, never buffered; reading resumes at the next keyframe head
MAX_MESSAGE = HEADER + MAX_BODY


def checksum(*words: int) -> int:
    """Ones' complement of the end-around-carry sum of the 16-bit words."""
    total = 0
    for word in words:
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def data_header(conv: int, sn: int, una: int, flags: int) -> bytes:
    return struct.pack(">5H", conv, sn, una, flags, checksum(conv, sn, una, flags))


def message(conv: int, sn: int, una: int, frame: bytes) -> bytes:
    """A client data packet carrying one app-frame: header (flags 0x1D02), u32 L, the frame."""
    return data_header(conv, sn, una, FLAGS_CLIENT) + struct.pack(">I", len(frame)) + frame


def control_packet(
    conv: int, cmd: int, relay: tuple[str, int], ident: int, ts_echo: int = 0
) -> bytes:
    """The 48-byte handshake packet (SYN with conv 0, or ACK)."""
    out = bytearray(0x30)
    struct.pack_into(
        ">5H", out, 0, conv, 0, cmd, FLAGS_CONTROL, checksum(conv, 0, cmd, FLAGS_CONTROL)
    )
    host, port = relay
    ip = parse_ip(host)
    # the relay's IPv4 address (docs/protocol/live-video.md#qtp); zeros for another form
    address = ip.packed if ip is not None and ip.version == 4 else bytes(4)
    out[0x0A:0x1A] = struct.pack("<H", 2) + struct.pack(">H", port) + address + bytes(8)
    struct.pack_into(">H", out, 0x1A, ident)
    struct.pack_into(">II", out, 0x1E, MY_TS, ts_echo)
    out[0x26] = 0x01
    return bytes(out)


def flow_ack(conv: int, highest: int, una: int) -> bytes:
    """16 bytes: header with flags 0x1120, then una as u32 little-endian, then two zero bytes."""
    return data_header(conv, highest, una, FLAGS_FLOW_ACK) + struct.pack("<I", una) + bytes(2)


def _keyframe_head(chunk: bytes) -> bool:
    """A datagram that opens a message with a keyframe: [u32 L][magic][0][class 2]."""
    return chunk[4:8] == MAGIC and len(chunk) > 9 and chunk[9] == 0x02


class Reassembler:
    """Relay datagrams (flags 0x1D00) in sn order to app-frames. The relay does not
    retransmit: more than 48 waiting segments skip the gap and resync on the next keyframe
    head. Sequence numbers are 16-bit and wrap; they are unwrapped to a running count."""

    def __init__(self) -> None:
        self.pending: dict[int, bytes] = {}
        self.cursor: int | None = None  # next extended sn to consume
        self.highest = 0  # highest raw sn received
        self.skipped = 0
        self._last_ext: int | None = None
        self._need = 0  # bytes still missing of the current message, 0 at a boundary
        self._message = bytearray()
        self._resync = False  # after an absurd length or a gap: wait for a keyframe head
        self._gap_since = 0.0  # monotonic time since when the cursor's datagram is missing
        self.clock: Callable[[], float] = time.monotonic

    def _extend(self, sn: int) -> int:
        if self._last_ext is None:
            ext = sn
        else:
            delta = (sn - self._last_ext) & 0xFFFF
            ext = self._last_ext + (delta - 0x10000 if delta >= 0x8000 else delta)
        if self._last_ext is None or ext > self._last_ext:
            self._last_ext = ext
        return ext

    @property
    def una(self) -> int:
        return (self.cursor or 0) & 0xFFFF

    def feed(self, sn: int, payload: bytes) -> list[AppFrame]:
        self.highest = sn
        ext = self._extend(sn)
        if self.cursor is None:
            self.cursor = ext
        if ext < self.cursor or ext in self.pending:
            return []  # a duplicate
        self.pending[ext] = payload
        if len(self.pending) > MAX_PENDING:
            self.pending.clear()
            self.cursor = None
            self._reset()
            return []
        out: list[AppFrame] = []
        while True:
            out.extend(self._drain())
            if not self.pending:
                self._gap_since = 0.0
                return out
            now = self.clock()
            if not self._gap_since:
                self._gap_since = now  # a hole: later datagrams are here, the next is not
            if len(self.pending) <= GAP_SKIP and now - self._gap_since < GAP_WAIT_S:
                return out
            self._skip_gap()
            self._gap_since = now if self.pending else 0.0

    def _reset(self) -> None:
        self._need = 0
        self._message.clear()

    def _skip_gap(self) -> None:
        """Drop the partial message; resume at the next datagram that opens a keyframe."""
        self._reset()
        assert self.cursor is not None
        heads = sorted(s for s, p in self.pending.items() if s > self.cursor and _keyframe_head(p))
        self.skipped += 1
        if not heads:
            self.pending.clear()
            self.cursor = None
            self._resync = True  # whatever comes next may be the middle of a message
            return
        for sn in [s for s in self.pending if s < heads[0]]:
            del self.pending[sn]
        self.cursor = heads[0]

    def _drain(self) -> list[AppFrame]:
        out: list[AppFrame] = []
        while self.cursor is not None and self.cursor in self.pending:
            chunk = self.pending.pop(self.cursor)
            self.cursor += 1
            if self._need == 0:
                if len(chunk) < 4:
                    continue  # an empty packet
                if self._resync and not _keyframe_head(chunk):
                    continue
                self._resync = False
                (size,) = struct.unpack_from(">I", chunk)
                if size == 0:
                    continue
                if size > MAX_MESSAGE:
                    self.skipped += 1
                    self._resync = True
                    continue
                self._message = bytearray(chunk[4:])
                self._need = size
            else:
                self._message += chunk
            if len(self._message) >= self._need:
                data = bytes(self._message[: self._need])
                self._reset()
                try:
                    out.extend(FrameReader().feed(data))
                except ProtocolError:
                    continue  # a damaged message is dropped, the stream goes on
        return out


class QtpLeg(asyncio.DatagramProtocol):
    """One QTP session with the relay: dial, LOGIN, START, then frames to `on_frame`."""

    def __init__(self, on_frame: Callable[[AppFrame], None]) -> None:
        self.on_frame = on_frame
        self.transport: asyncio.DatagramTransport | None = None
        self.conv = 0
        self.sn = 0
        self.reasm = Reassembler()
        self.error: Exception | None = None
        self.datagrams = 0
        self._handshake: asyncio.Future[bytes] | None = None
        self._login: asyncio.Future[AppFrame] | None = None
        self.connected = False

    # --- asyncio callbacks ----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.DatagramTransport)
        self.transport = transport

    def error_received(self, exc: Exception) -> None:
        self.error = exc
        for fut in (self._handshake, self._login):
            if fut is not None and not fut.done():
                fut.set_exception(BotslabConnectionError("QTP relay unreachable"))

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.datagrams += 1
        handshaking = self._handshake is not None and not self._handshake.done()
        if handshaking and not self.connected and len(data) >= 0x26:
            # the SYN-ACK is taken by its length, whatever its flags
            # (docs/protocol/accepted.md#live-view)
            assert self._handshake is not None
            self._handshake.set_result(data)
            return
        if len(data) >= 0x26 and struct.unpack_from(">H", data, 6)[0] == FLAGS_CONTROL:
            return  # a repeated SYN-ACK
        if not self.connected or len(data) < 10:
            return
        conv, sn, una, flags, cksum = struct.unpack_from(">5H", data)
        if conv != self.conv or cksum != checksum(conv, sn, una, flags) or flags != FLAGS_MEDIA:
            return
        frames = self.reasm.feed(sn, data[10:])
        self._send(flow_ack(self.conv, self.reasm.highest, self.reasm.una))
        for frame in frames:
            waiting = self._login is not None and not self._login.done()
            if waiting and (frame.login_ok is not None or frame.cls == 0x02):
                assert self._login is not None
                self._login.set_result(frame)
                if frame.cls != 0x02:
                    continue
            self.on_frame(frame)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data)

    def send_message(self, frame: bytes) -> None:
        self.sn = (self.sn + 1) & 0xFFFF
        self._send(message(self.conv, self.sn, self.reasm.highest, frame))

    def send_empty_ack(self) -> None:
        head = data_header(self.conv, self.sn, self.reasm.highest, FLAGS_CLIENT)
        self._send(head + bytes(4))

    # --- steps ----------------------------------------------------------------------------
    async def dial(
        self,
        host: str,
        port: int,
        *,
        tries: int = 3,
        wait: float = 1.0,
        guard: NetGuard | None = None,
    ) -> None:
        """SYN (up to `tries`, `wait` s each), SYN-ACK, ACK. `host` is an address the guard
        allowed; with `guard`, the connected socket's peer is checked too."""
        loop = asyncio.get_running_loop()
        if self.transport is None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: self, remote_addr=(host, port)
            )
            if guard is not None:
                guard.check_peer(transport.get_extra_info("peername"), host)
        own_id = random.randrange(1, 0xFFFF)
        for _ in range(tries):
            self._handshake = loop.create_future()
            self._send(control_packet(0, CMD_SYN, (host, port), own_id))
            try:
                reply = await asyncio.wait_for(self._handshake, wait)
            except TimeoutError:
                continue
            if len(reply) < 0x26:
                continue
            self.conv = struct.unpack_from("<H", reply, 0x1A)[0]  # written little-endian
            (relay_ts,) = struct.unpack_from(">I", reply, 0x22)
            swapped = int.from_bytes(own_id.to_bytes(2, "big"), "little")
            self._send(control_packet(self.conv, CMD_ACK, (host, port), swapped, relay_ts))
            self.connected = True
            return
        raise BotslabConnectionError("QTP relay does not answer")

    async def login(self, login: bytes, *, attempts: int = 3, wait: float = 6.0) -> AppFrame:
        """LOGIN until a result (0x69, an echoed LOGIN, or video) arrives; then START."""
        loop = asyncio.get_running_loop()
        for _ in range(attempts):
            self._login = loop.create_future()
            self.send_message(login)
            try:
                result = await asyncio.wait_for(self._login, wait)
            except TimeoutError:
                continue
            self.send_empty_ack()
            if result.login_ok is False:
                return result
            self.start()
            return result
        raise BotslabConnectionError("no login result over QTP")

    def start(self) -> None:
        self.send_message(start_frame())
        self.send_empty_ack()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
