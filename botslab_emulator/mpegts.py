"""Just enough MPEG-TS to encrypt clip payloads in place (emulator side).

The encrypted clip keeps every TS and PES header byte of the plain clip: only H.264 slice data
beyond 0x100 bytes and AAC frame data beyond 0x20 bytes change (protocol.md 3.3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re

from .crypto import AAC_DATA_OFFSET, AAC_IV_OFFSET, H264_BOUNDARY, chacha_xor, iter_annexb_nals

TS_PACKET = 188
_NEEDS_ESCAPE = re.compile(b"\x00\x00[\x00-\x03]")
STREAM_H264 = 0x1B
STREAM_AAC = 0x0F


class TsError(ValueError):
    """Not a transport stream this module understands."""


@dataclass
class _Pes:
    pid: int
    spans: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) in the TS


def _payload_span(ts: bytes | bytearray, off: int) -> tuple[int, int, bool, int]:
    """(payload offset, payload length, unit start, pid) of the packet at `off`."""
    if ts[off] != 0x47:
        raise TsError(f"lost sync at {off}")
    pusi = bool(ts[off + 1] & 0x40)
    pid = ((ts[off + 1] & 0x1F) << 8) | ts[off + 2]
    afc = (ts[off + 3] >> 4) & 0x3
    start = off + 4
    if afc in (2, 3):
        start += 1 + ts[off + 4]
    if afc in (0, 2) or start > off + TS_PACKET:
        return off + TS_PACKET, 0, pusi, pid
    return start, off + TS_PACKET - start, pusi, pid


def _stream_pids(ts: bytes | bytearray) -> dict[int, int]:
    """PID → stream type from the first PAT and PMT."""
    pmt_pid = None
    for off in range(0, len(ts) - TS_PACKET + 1, TS_PACKET):
        start, length, pusi, pid = _payload_span(ts, off)
        if not pusi or length == 0:
            continue
        section = bytes(ts[start + 1 + ts[start] : start + length])
        if pid == 0 and pmt_pid is None and len(section) >= 12:
            pmt_pid = ((section[10] & 0x1F) << 8) | section[11]
        elif pmt_pid is not None and pid == pmt_pid and len(section) >= 12:
            section_len = ((section[1] & 0x0F) << 8) | section[2]
            info_len = ((section[10] & 0x0F) << 8) | section[11]
            pos, end = 12 + info_len, 3 + section_len - 4
            streams: dict[int, int] = {}
            while pos + 5 <= end:
                stype = section[pos]
                epid = ((section[pos + 1] & 0x1F) << 8) | section[pos + 2]
                es_info = ((section[pos + 3] & 0x0F) << 8) | section[pos + 4]
                streams[epid] = stype
                pos += 5 + es_info
            return streams
    raise TsError("no PAT/PMT")


def _collect_pes(ts: bytes | bytearray, pids: set[int]) -> list[_Pes]:
    open_pes: dict[int, _Pes] = {}
    done: list[_Pes] = []
    for off in range(0, len(ts) - TS_PACKET + 1, TS_PACKET):
        start, length, pusi, pid = _payload_span(ts, off)
        if pid not in pids or length == 0:
            continue
        if pusi:
            if pid in open_pes:
                done.append(open_pes.pop(pid))
            open_pes[pid] = _Pes(pid)
        if pid in open_pes:
            open_pes[pid].spans.append((start, length))
    done.extend(open_pes.values())
    return done


def _es_offset(pes: bytes) -> int:
    if len(pes) < 9 or pes[:3] != b"\x00\x00\x01":
        raise TsError("bad PES header")
    return 9 + pes[8]


@dataclass(frozen=True)
class _Op:
    start: int  # in the reassembled PES
    end: int
    iv: bytes
    video: bool


@dataclass
class _PesPlan:
    spans: list[tuple[int, int]]
    data: bytes
    ops: list[_Op]


class TsLayout:
    """A parsed segment: where each encrypted region lies. Parse once, encrypt per key."""

    def __init__(self, ts: bytes) -> None:
        if len(ts) % TS_PACKET:
            raise TsError("length is not a multiple of 188")
        self.ts = ts
        streams = _stream_pids(ts)
        video = {pid for pid, st in streams.items() if st == STREAM_H264}
        audio = {pid for pid, st in streams.items() if st == STREAM_AAC}
        self.plans: list[_PesPlan] = []
        for pes in _collect_pes(ts, video | audio):
            data = b"".join(bytes(ts[o : o + n]) for o, n in pes.spans)
            es_off = _es_offset(data)
            ops = _video_ops(data, es_off) if pes.pid in video else _audio_ops(data, es_off)
            if ops:
                self.plans.append(_PesPlan(pes.spans, data, ops))

    def encrypt(self, key32: bytes) -> bytes | None:
        """The encrypted segment, or None when its ciphertext would need escape bytes."""
        out = bytearray(self.ts)
        for plan in self.plans:
            new = bytearray(plan.data)
            for op in plan.ops:
                ct = chacha_xor(key32, op.iv, plan.data[op.start : op.end])
                if op.video:
                    context = plan.data[op.start - 2 : op.start] + ct
                    if _NEEDS_ESCAPE.search(context) or ct.endswith(b"\x00"):
                        return None
                new[op.start : op.end] = ct
            pos = 0
            for o, n in plan.spans:
                out[o : o + n] = new[pos : pos + n]
                pos += n
        return bytes(out)


def _video_ops(data: bytes, es_off: int) -> list[_Op]:
    es = data[es_off:]
    ops = []
    for start, end in iter_annexb_nals(es):
        if end <= start or es[start] & 0x1F not in (1, 5):
            continue
        if b"\x00\x00\x03" in es[start:end]:
            raise TsError("slice holds an escape byte: not a canonical emulator clip")
        if end - start <= H264_BOUNDARY:
            continue
        b = es_off + start + H264_BOUNDARY
        ops.append(_Op(b, es_off + end, data[b - 12 : b], True))
    return ops


def _audio_ops(data: bytes, es_off: int) -> list[_Op]:
    ops = []
    pos = es_off
    while pos + 7 <= len(data):
        if data[pos] != 0xFF or data[pos + 1] & 0xF0 != 0xF0:
            raise TsError("bad ADTS sync")
        header = 7 if data[pos + 1] & 0x01 else 9
        frame_len = ((data[pos + 3] & 0x03) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        if frame_len < header or pos + frame_len > len(data):
            raise TsError("bad ADTS length")
        payload = pos + header
        if frame_len - header > AAC_DATA_OFFSET:
            ops.append(
                _Op(
                    payload + AAC_DATA_OFFSET,
                    pos + frame_len,
                    data[payload + AAC_IV_OFFSET : payload + AAC_DATA_OFFSET],
                    False,
                )
            )
        pos += frame_len
    return ops


def slice_nals(ts: bytes) -> list[bytes]:
    """Every H.264 slice NAL (types 1 and 5) of a segment, for checks."""
    streams = _stream_pids(ts)
    pids = {pid for pid, st in streams.items() if st == STREAM_H264}
    nals: list[bytes] = []
    for pes in _collect_pes(ts, pids):
        data = b"".join(bytes(ts[o : o + n]) for o, n in pes.spans)
        es = data[_es_offset(data) :]
        nals.extend(es[s:e] for s, e in iter_annexb_nals(es) if e > s and es[s] & 0x1F in (1, 5))
    return nals
