"""The emulator's UDP tunnel over a real socket, driven by hand-built datagrams
(docs/protocol/live-video.md#tunnel): what it answers to OPEN, PROBE, CONNECT and garbage."""

from __future__ import annotations

import asyncio
import struct

from botslab_emulator import Emulator

MAGIC = bytes.fromhex("8009000020160518")


def datagram(path: int, kind: int, conv: int, payload: bytes) -> bytes:
    return MAGIC + bytes(8) + struct.pack(">HBBI", 8 + len(payload), path, kind, conv) + payload


class Catcher(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.got: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.got.put_nowait(data)


async def test_open_probe_and_connect_answers(emu: Emulator) -> None:
    loop = asyncio.get_running_loop()
    transport, catcher = await loop.create_datagram_endpoint(
        Catcher, remote_addr=("127.0.0.1", emu.tunnel_port)
    )
    try:
        port = transport.get_extra_info("sockname")[1]
        uuid = b"m_3".ljust(40, b"\0")
        transport.sendto(
            datagram(0x03, 0x01, 0x9595FEE3, bytes.fromhex("07000000010000271900") + uuid)
        )
        login = await asyncio.wait_for(catcher.got.get(), 5)
        # the captured 02/01 reply's shape: 20-byte body, the same conv, our address first
        assert login[0x12:0x14] == b"\x02\x01" and len(login) - 0x18 == 20
        assert login[0x14:0x18] == bytes.fromhex("9595fee3")
        assert login[0x18:0x1E] == bytes([127, 0, 0, 1]) + port.to_bytes(2, "big")
        transport.sendto(datagram(0x02, 0x03, 0x9595FEE5, uuid + bytes(8)))
        probe = await asyncio.wait_for(catcher.got.get(), 5)
        assert probe[0x12:0x14] == b"\x02\x03" and len(probe) - 0x18 == 11
        connect = uuid + b"pid/sn".ljust(40, b"\0") + bytes.fromhex("0000010000000000")
        transport.sendto(datagram(0x02, 0x04, 5, connect))
        echo = await asyncio.wait_for(catcher.got.get(), 5)
        assert echo[0x13] == 0x04 and len(echo) > 0x18 and echo[0x18:] == connect
        # garbage is counted and ignored, keepalives are silent
        transport.sendto(b"not a tunnel datagram")
        transport.sendto(datagram(0x02, 0x20, 6, uuid))
        await asyncio.sleep(0.2)
        assert catcher.got.empty()
        assert emu.live.stats.bad_datagrams == 1
    finally:
        transport.close()
