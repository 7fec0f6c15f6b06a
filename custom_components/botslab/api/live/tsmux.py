"""A small MPEG-TS muxer for one H.264 video stream: what Home Assistant's stream component reads
from the live feed (no ffmpeg binary needed). PAT and PMT before every keyframe, a PES per access
unit with PTS = DTS (the devices send no B-frames), PCR on every PES start."""

from __future__ import annotations

import struct

PACKET = 188
PMT_PID = 0x1000
VIDEO_PID = 0x0100
STREAM_TYPE_H264 = 0x1B


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) ^ byte) & 0xFF]
    return crc


def _section_packet(pid: int, table: bytes, counter: int) -> bytes:
    section = table + struct.pack(">I", crc32_mpeg2(table))
    head = struct.pack(">BHB", 0x47, 0x4000 | pid, 0x10 | (counter & 0x0F))
    return (head + b"\x00" + section).ljust(PACKET, b"\xff")


def _timestamp(prefix: int, value: int) -> bytes:
    value &= (1 << 33) - 1
    return bytes(
        [
            (prefix << 4) | ((value >> 29) & 0x0E) | 1,
            (value >> 22) & 0xFF,
            ((value >> 14) & 0xFE) | 1,
            (value >> 7) & 0xFF,
            ((value << 1) & 0xFE) | 1,
        ]
    )


class TsMuxer:
    """Access units in, 188-byte packets out. `pts` is in 90 kHz units."""

    def __init__(self) -> None:
        self._cc: dict[int, int] = {}

    def _counter(self, pid: int) -> int:
        value = self._cc.get(pid, -1) + 1 & 0x0F
        self._cc[pid] = value
        return value

    def tables(self) -> bytes:
        pat = bytes([0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00]) + struct.pack(
            ">HH", 1, 0xE000 | PMT_PID
        )
        pmt = (
            bytes([0x02, 0xB0, 0x12, 0x00, 0x01, 0xC1, 0x00, 0x00])
            + struct.pack(">HH", 0xE000 | VIDEO_PID, 0xF000)
            + bytes([STREAM_TYPE_H264])
            + struct.pack(">HH", 0xE000 | VIDEO_PID, 0xF000)
        )
        return _section_packet(0, pat, self._counter(0)) + _section_packet(
            PMT_PID, pmt, self._counter(PMT_PID)
        )

    def mux(self, au: bytes, pts: int, *, keyframe: bool) -> bytes:
        """One access unit as PES packets (tables first when it is a keyframe)."""
        pes_header = b"\x00\x00\x01\xe0\x00\x00" + bytes([0x84, 0x80, 5]) + _timestamp(2, pts)
        payload = pes_header + au
        out = bytearray(self.tables() if keyframe else b"")
        pos = 0
        while pos < len(payload):
            field: bytes | None = None  # adaptation field content (after its length byte)
            if pos == 0:
                pcr = pts & ((1 << 33) - 1)
                flags = 0x10 | (0x40 if keyframe else 0)  # PCR, random access
                field = bytes([flags]) + struct.pack(">IH", pcr >> 1, ((pcr & 1) << 15) | 0x7E00)
            room = PACKET - 4 - (1 + len(field) if field is not None else 0)
            left = len(payload) - pos
            if left < room:  # the last packet: stuff through the adaptation field
                gap = room - left
                if field is None:
                    field = b"" if gap == 1 else b"\x00" + b"\xff" * (gap - 2)
                else:
                    field += b"\xff" * gap
                room = left
            control = 0x30 if field is not None else 0x10
            head = struct.pack(
                ">BHB",
                0x47,
                (0x4000 if pos == 0 else 0) | VIDEO_PID,
                control | self._counter(VIDEO_PID),
            )
            adaptation = bytes([len(field)]) + field if field is not None else b""
            out += head + adaptation + payload[pos : pos + room]
            pos += room
        return bytes(out)
