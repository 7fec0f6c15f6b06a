"""The relay's QTP reliable-UDP leg (docs/protocol/live-video.md#qtp), on the same port number as
the TCP relay: 48-byte handshake, 10-byte data headers, messages `[u32 L][app-frame]` chunked into
datagrams (the first carries L), sequence numbers from 1, no retransmission."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
import secrets
import struct
from typing import TYPE_CHECKING, Any

from .frames import login_result

if TYPE_CHECKING:
    from ..network import Network
    from .faults import LiveFaults, LoginCheck

FLAGS_MEDIA = 0x1D00
FLAGS_CLIENT = 0x1D02
FLAGS_FLOW_ACK = 0x1120
FLAGS_CONTROL = 0x0C00
CMD_SYN, CMD_SYN_ACK, CMD_ACK = 1, 2, 3
CHUNK = 1390  # payload bytes per datagram after the 10-byte header


def checksum(*words: int) -> int:
    """Ones' complement of the end-around-carry sum of the words."""
    total = 0
    for word in words:
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def data_header(conv: int, sn: int, una: int, flags: int) -> bytes:
    return struct.pack(">5H", conv, sn, una, flags, checksum(conv, sn, una, flags))


def read_header(data: bytes) -> tuple[int, int, int, int]:
    """The four words of a 10-byte header (data or control); ValueError on a bad checksum."""
    *words, cksum = struct.unpack_from(">5H", data)
    if cksum != checksum(*words):
        raise ValueError("bad QTP checksum")
    return words[0], words[1], words[2], words[3]


@dataclass
class QtpPeer:
    addr: tuple[str, int]
    conv: int
    relay_ts: int
    established: bool = False
    next_sn: int = 1
    peer_sn: int = 0  # highest client sn seen (our una)
    stream_id: str = ""
    video: bool = False
    attached: bool = False
    frames_sent: int = 0
    dropped: bool = False
    received: list[int] = field(default_factory=list)


class QtpServer(asyncio.DatagramProtocol):
    def __init__(
        self, faults: LiveFaults, check_login: LoginCheck, host: str, net: Network | None = None
    ) -> None:
        from ..network import Network

        self.net = net or Network()
        self.faults = faults
        self.check_login = check_login
        self.host = host
        self.peers: dict[tuple[str, int], QtpPeer] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.bad = 0
        self.flow_acks = 0

    async def start(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.host, port)
        )
        self.transport = transport

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.peers.clear()

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    # --- receiving --------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.net.receive_datagram(self._received, data, addr, self)

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            if len(data) >= 0x26 and struct.unpack_from(">H", data, 6)[0] == FLAGS_CONTROL:
                self._control(data, addr)
            elif len(data) >= 10:
                self._data(data, addr)
            else:
                self.bad += 1
        except (ValueError, struct.error):
            self.bad += 1

    def _control(self, data: bytes, addr: tuple[str, int]) -> None:
        conv, _zero, cmd, _flags = read_header(data)
        if cmd == CMD_SYN:
            own_id = struct.unpack_from(">H", data, 0x1A)[0]
            peer = self.peers.get(addr)
            if peer is None or peer.established:
                new_conv = secrets.randbelow(0xFFFE) + 1
                peer = QtpPeer(addr, new_conv, secrets.randbits(32))
                self.peers[addr] = peer
            self._send(self._syn_ack(peer, own_id), addr)
        elif cmd == CMD_ACK:
            peer = self.peers.get(addr)
            if peer is None or conv != peer.conv:
                raise ValueError("ACK for an unknown conversation")
            if struct.unpack_from(">I", data, 0x22)[0] != peer.relay_ts:
                raise ValueError("ACK does not echo the relay's timestamp")
            peer.established = True

    def _syn_ack(self, peer: QtpPeer, own_id: int) -> bytes:
        out = bytearray(0x30)
        flags = self.faults.synack_flags  # 0x0C00, or other flags (the knob)
        struct.pack_into(">5H", out, 0, peer.conv, 0, CMD_SYN_ACK, flags, 0)
        struct.pack_into(">H", out, 8, checksum(peer.conv, 0, CMD_SYN_ACK, flags))
        host = bytes(int(p) for p in self.host.split("."))
        port = self.transport.get_extra_info("sockname")[1] if self.transport else 0
        out[0x0A:0x1A] = struct.pack("<H", 2) + struct.pack(">H", port) + host + bytes(8)
        struct.pack_into("<H", out, 0x1A, peer.conv)  # the client byte-swaps it back
        struct.pack_into(">H", out, 0x1C, own_id)
        struct.pack_into(">I", out, 0x1E, 0x55667788)
        struct.pack_into(">I", out, 0x22, peer.relay_ts)
        out[0x26] = 0x01
        return bytes(out)

    def _data(self, data: bytes, addr: tuple[str, int]) -> None:
        conv, sn, _una, flags = read_header(data)
        peer = self.peers.get(addr)
        if peer is None or not peer.established or conv != peer.conv:
            raise ValueError("data outside a conversation")
        if flags == FLAGS_FLOW_ACK:
            self.flow_acks += 1
            return
        if flags != FLAGS_CLIENT or len(data) < 14:
            raise ValueError("unexpected data flags")
        if sn:
            peer.peer_sn = max(peer.peer_sn, sn)
        (size,) = struct.unpack_from(">I", data, 10)
        if size == 0:
            return  # an empty ACK
        frame = data[14 : 14 + size]
        if len(frame) != size or frame[:4] != bytes.fromhex("20141104"):
            raise ValueError("client message is not one app-frame")
        cls = frame[5]
        if cls == 0x01:
            code, stream_id, video = self.check_login(frame[10:])
            peer.stream_id, peer.video = stream_id, video
            self.send_frame(peer, login_result(code))
        elif cls == 0x09 and peer.stream_id:
            peer.attached = True  # START, repeats are fine

    # --- sending ----------------------------------------------------------------------------
    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        self.net.send_datagram(self.transport, data, addr)

    def send_frame(self, peer: QtpPeer, frame: bytes) -> None:
        message = struct.pack(">I", len(frame)) + frame
        for pos in range(0, len(message), CHUNK):
            head = data_header(peer.conv, peer.next_sn, peer.peer_sn, FLAGS_MEDIA)
            peer.next_sn = (peer.next_sn + 1) & 0xFFFF
            self._send(head + message[pos : pos + CHUNK], peer.addr)

    def viewers(self, stream_id: str) -> list[QtpPeer]:
        return [
            p
            for p in self.peers.values()
            if p.attached and not p.dropped and p.stream_id == stream_id
        ]
