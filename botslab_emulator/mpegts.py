"""Just enough MPEG-TS to encrypt clip payloads in place (emulator side).

The encrypted clip keeps every TS and PES header byte of the plain clip: only H.264 slice data
beyond 0x100 bytes and AAC frame data beyond 0x20 bytes change
(docs/protocol/media.md#clip-encryption).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re

from .crypto import (
    AAC_DATA_OFFSET,
    AAC_IV_OFFSET,
    H264_BOUNDARY,
    chacha_xor,
    encrypt_slice_nal,
    iter_annexb_nals,
)

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


# --- real-media clips (docs/protocol/media.md#escape-bytes): what real encoders and the cloud
# produce ------------


@dataclass
class _Unit:
    """A run of packets in a segment: one PES of one PID, or one other packet (PSI, …)."""

    pid: int
    packets: list[bytes]
    pes: bool


def _units(ts: bytes, es_pids: set[int]) -> list[_Unit]:
    units: list[_Unit] = []
    open_pes: dict[int, _Unit] = {}
    for off in range(0, len(ts) - TS_PACKET + 1, TS_PACKET):
        packet = ts[off : off + TS_PACKET]
        _start, _length, pusi, pid = _payload_span(ts, off)
        if pid not in es_pids:
            units.append(_Unit(pid, [packet], False))
            continue
        if pusi or pid not in open_pes:
            open_pes[pid] = _Unit(pid, [], True)
            units.append(open_pes[pid])
        open_pes[pid].packets.append(packet)
    return units


def _pes_bytes(unit: _Unit) -> bytes:
    data = bytearray()
    for packet in unit.packets:
        start, length, _pusi, _pid = _payload_span(packet, 0)
        data += packet[start : start + length]
    return bytes(data)


def _packetize(pid: int, pes: bytes, adaptation: bytes, cc: int) -> tuple[list[bytes], int]:
    """TS packets of one PES: the first carries `adaptation` (its PCR, if any) and the unit
    start flag; the last is padded with adaptation stuffing. Returns (packets, next cc)."""
    packets: list[bytes] = []
    pos = 0
    while pos < len(pes) or not packets:
        first = not packets
        field = bytearray(adaptation if first else b"")
        room = TS_PACKET - 4 - len(field)
        chunk = pes[pos : pos + room]
        pos += len(chunk)
        short = room - len(chunk)
        if short:
            if field:
                field[0] += short
                field += b"\xff" * short
            elif short == 1:
                field = bytearray(b"\x00")
            else:
                field = bytearray([short - 1, 0x00]) + b"\xff" * (short - 2)
        head = bytes([0x47, (0x40 if first else 0) | (pid >> 8), pid & 0xFF])
        control = (0x30 if field else 0x10) | (cc & 0x0F)
        packets.append(head + bytes([control]) + bytes(field) + chunk)
        cc += 1
    return packets, cc


def _adaptation(packet: bytes) -> bytes:
    afc = (packet[3] >> 4) & 3
    if afc not in (2, 3):
        return b""
    length = packet[4]
    body = packet[5 : 5 + length]
    # keep the flags and a PCR, drop any stuffing
    keep = 1 + (6 if body and body[0] & 0x10 else 0)
    return bytes([keep]) + body[:keep]


def _pts(pes: bytes) -> int | None:
    if len(pes) < 14 or not pes[7] & 0x80:
        return None
    p = pes[9:14]
    return ((p[0] >> 1) & 7) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7 | p[4] >> 1


def _pes_header(stream_id: int, pts: int | None) -> bytes:
    if pts is None:
        return bytes([0, 0, 1, stream_id, 0, 0, 0x80, 0x00, 0x00])
    field = bytes(
        [
            0x21 | ((pts >> 29) & 0x0E),
            (pts >> 22) & 0xFF,
            0x01 | ((pts >> 14) & 0xFE),
            (pts >> 7) & 0xFF,
            0x01 | ((pts << 1) & 0xFE),
        ]
    )
    return bytes([0, 0, 1, stream_id, 0, 0, 0x80, 0x80, 0x05]) + field


_ADTS_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)


def _adts_frames(es: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each ADTS frame of a clean audio stream."""
    frames = []
    pos = 0
    while pos + 7 <= len(es):
        if es[pos] != 0xFF or es[pos + 1] & 0xF0 != 0xF0:
            raise TsError("bad ADTS sync")
        length = ((es[pos + 3] & 0x03) << 11) | (es[pos + 4] << 3) | (es[pos + 5] >> 5)
        if length < 7:
            raise TsError("bad ADTS length")
        frames.append((pos, length))
        pos += length
    return frames


def realistic_segments(
    segments: dict[str, bytes], audio_chunk: int = 500, *, restart: bool = True
) -> dict[str, bytes]:
    """The plain clip as real cloud clips come (docs/protocol/media.md#clip-encryption): audio PES
    packets of a fixed size whatever the ADTS frames (frames span PES packets), PAT/PMT in the first
    segment only, timestamps (PTS, DTS, PCR) that start anew in every segment (`restart`), and a
    last segment that ends in part of a packet."""
    names = sorted(segments, key=segment_number)
    out: dict[str, bytes] = {}
    for index, name in enumerate(names):
        ts = segments[name]
        streams = _stream_pids(ts)
        audio = {pid for pid, st in streams.items() if st == STREAM_AAC}
        pmt_pids = _pmt_pids(ts)
        units = _units(ts, set(streams))
        result = bytearray()
        counters: dict[int, int] = {}
        audio_done: set[int] = set()
        for unit in units:
            if not unit.pes:
                if index > 0 and (unit.pid == 0 or unit.pid in pmt_pids):
                    continue  # only the first segment carries the tables
                result += unit.packets[0]
                continue
            if unit.pid in audio:
                if unit.pid not in audio_done:  # all of the segment's audio, re-cut
                    audio_done.add(unit.pid)
                    result += _recut_audio(units, unit.pid, audio_chunk, counters)
                continue
            for packet in unit.packets:
                cc = counters.get(unit.pid, packet[3] & 0x0F)
                result += packet[:3] + bytes([(packet[3] & 0xF0) | cc]) + packet[4:]
                counters[unit.pid] = (cc + 1) & 0x0F
        if index == len(names) - 1:
            result += b"\x47\x1f\xff\x10" + b"\xff" * 96  # a null packet cut short
        out[name] = bytes(result)
    return restart_timestamps(out) if restart else out


def segment_number(name: str) -> tuple[int, str]:
    """A sort key: segments by the number in their name (seg2 before seg10)."""
    digits = "".join(c for c in name if c.isdigit())
    return (int(digits) if digits else 0, name)


# --- timestamps ---------------------------------------------------------------------------

_WRAP = 1 << 33  # PTS, DTS and the PCR base count 90 kHz ticks modulo 2^33
_NO_PES_HEADER = {0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF}


def _read_ts(field: bytes | bytearray) -> int:
    """A 33-bit PES timestamp from its 5 bytes (marker bits dropped)."""
    return (
        ((field[0] >> 1) & 7) << 30
        | field[1] << 22
        | (field[2] >> 1) << 15
        | field[3] << 7
        | field[4] >> 1
    )


def _write_ts(out: bytearray, at: int, value: int) -> None:
    """Write a 33-bit PES timestamp at `at`, keeping its 4-bit prefix."""
    value %= _WRAP
    out[at] = (out[at] & 0xF0) | ((value >> 29) & 0x0E) | 1
    out[at + 1] = (value >> 22) & 0xFF
    out[at + 2] = ((value >> 14) & 0xFE) | 1
    out[at + 3] = (value >> 7) & 0xFF
    out[at + 4] = ((value << 1) & 0xFE) | 1


def _timestamp_places(ts: bytes | bytearray) -> list[tuple[str, int]]:
    """("pcr" | "pes", offset) of every PCR and every PTS/DTS field of whole packets."""
    places: list[tuple[str, int]] = []
    for off in range(0, len(ts) - TS_PACKET + 1, TS_PACKET):
        if ts[off] != 0x47:
            raise TsError(f"lost sync at {off}")
        afc = (ts[off + 3] >> 4) & 3
        if afc in (2, 3) and ts[off + 4] >= 7 and ts[off + 5] & 0x10:
            places.append(("pcr", off + 6))
        start, length, pusi, _pid = _payload_span(ts, off)
        if not pusi or length < 14 or ts[start : start + 3] != b"\x00\x00\x01":
            continue
        if ts[start + 3] in _NO_PES_HEADER:
            continue
        flags = ts[start + 7] >> 6
        if flags & 2:
            places.append(("pes", start + 9))
        if flags == 3 and length >= 19:
            places.append(("pes", start + 14))
    return places


def _pcr_base(ts: bytes | bytearray, at: int) -> int:
    return ts[at] << 25 | ts[at + 1] << 17 | ts[at + 2] << 9 | ts[at + 3] << 1 | ts[at + 4] >> 7


def first_timestamp(ts: bytes | bytearray) -> int | None:
    """The earliest PTS, DTS or PCR base of a segment (90 kHz ticks), or None."""
    values = [
        _pcr_base(ts, at) if kind == "pcr" else _read_ts(ts[at : at + 5])
        for kind, at in _timestamp_places(ts)
    ]
    return min(values) if values else None


def shift_timestamps(ts: bytes, delta: int) -> bytes:
    """The segment with every PTS, DTS and PCR moved by `delta` 90 kHz ticks (modulo 2^33);
    a cut last packet is kept as it is."""
    out = bytearray(ts)
    whole = len(ts) - len(ts) % TS_PACKET
    for kind, at in _timestamp_places(out[:whole]):
        if kind == "pes":
            _write_ts(out, at, _read_ts(out[at : at + 5]) + delta)
        else:
            base = (_pcr_base(out, at) + delta) % _WRAP
            out[at : at + 4] = (base >> 1).to_bytes(4, "big")
            out[at + 4] = (out[at + 4] & 0x7F) | ((base & 1) << 7)
    return bytes(out)


def restart_timestamps(segments: dict[str, bytes]) -> dict[str, bytes]:
    """Every segment's timestamps moved to start where the first segment's start, as real
    clip segments do (docs/protocol/media.md#clip-timestamps: each segment's PTS/DTS start anew)."""
    names = sorted(segments, key=segment_number)
    if not names:
        return {}
    first = first_timestamp(segments[names[0]][: len(segments[names[0]]) // TS_PACKET * TS_PACKET])
    out: dict[str, bytes] = {}
    for name in names:
        ts = segments[name]
        start = first_timestamp(ts[: len(ts) - len(ts) % TS_PACKET])
        if first is None or start is None:
            out[name] = ts
        else:
            out[name] = shift_timestamps(ts, first - start)
    return out


def _pmt_pids(ts: bytes) -> set[int]:
    for off in range(0, len(ts) - TS_PACKET + 1, TS_PACKET):
        start, length, pusi, pid = _payload_span(ts, off)
        if pid == 0 and pusi and length:
            section = ts[start + 1 + ts[start] : start + length]
            return {((section[10] & 0x1F) << 8) | section[11]}
    return set()


def _recut_audio(units: list[_Unit], pid: int, chunk: int, counters: dict[int, int]) -> bytes:
    pes_list = [_pes_bytes(u) for u in units if u.pes and u.pid == pid]
    es = bytearray()
    starts: list[tuple[int, int]] = []  # (offset in es, pts) of each frame
    stream_id = pes_list[0][3]
    rate = 16000
    for pes in pes_list:
        body = pes[_es_offset(pes) :]
        pts = _pts(pes)
        frames = _adts_frames(body)
        if frames:
            rate = _ADTS_RATES[(body[2] >> 2) & 0x0F]
        for n, (offset, _length) in enumerate(frames):
            if pts is not None:
                starts.append((len(es) + offset, pts + n * 1024 * 90000 // rate))
        es += body
    out = bytearray()
    first_adaptation = _adaptation(units[[u.pid for u in units].index(pid)].packets[0])
    cc = counters.get(pid, 0)
    for pos in range(0, len(es), chunk):
        pts = next((p for o, p in starts if pos <= o < pos + chunk), None)
        pes = _pes_header(stream_id, pts) + bytes(es[pos : pos + chunk])
        length = len(pes) - 6
        pes = pes[:4] + bytes([length >> 8, length & 0xFF]) + pes[6:]
        packets, cc = _packetize(pid, pes, first_adaptation if pos == 0 else b"", cc)
        for packet in packets:
            out += packet
    counters[pid] = cc & 0x0F
    return bytes(out)


def encrypt_real_segment(ts: bytes, key32: bytes) -> bytes | None:
    """A real-media segment encrypted as the cloud does (docs/protocol/media.md#escape-bytes):
    slices by the raw 0x100 rule with standard escaping (lengths may change: the video PES are
    packetized anew), ADTS frames over the segment's joined audio. None when a slice's ciphertext
    would end in 00 (no H.264 stream can carry that unambiguously: choose another key)."""
    whole = len(ts) - len(ts) % TS_PACKET
    tail = ts[whole:]
    ts = ts[:whole]
    streams = _stream_pids_or_guess(ts)
    video = {pid for pid, st in streams.items() if st == STREAM_H264}
    audio = {pid for pid, st in streams.items() if st == STREAM_AAC}
    units = _units(ts, video | audio)
    audio_plain: dict[int, list[tuple[_Unit, bytes]]] = {}
    for unit in units:
        if unit.pes and unit.pid in audio:
            audio_plain.setdefault(unit.pid, []).append((unit, _pes_bytes(unit)))
    audio_out = _encrypt_audio_units(audio_plain, key32)
    result = bytearray()
    counters: dict[int, int] = {}
    for unit in units:
        if not unit.pes:
            result += unit.packets[0]
            continue
        if unit.pid in audio:
            for packet in audio_out[id(unit)]:
                result += packet
            continue
        pes = _pes_bytes(unit)
        es_off = _es_offset(pes)
        es = pes[es_off:]
        new_es = bytearray()
        pos = 0
        for start, end in iter_annexb_nals(es):
            if end > start and es[start] & 0x1F in (1, 5):
                encrypted = encrypt_slice_nal(es[start:end], key32)
                if encrypted.endswith(b"\x00\x03") and not encrypted.endswith(b"\x00\x00\x03"):
                    return None
                new_es += es[pos:start] + encrypted
                pos = end
        new_es += es[pos:]
        new = bytearray(pes[:es_off] + bytes(new_es))
        if pes[4] or pes[5]:
            length = len(new) - 6
            new[4:6] = bytes([(length >> 8) & 0xFF, length & 0xFF])
        cc = counters.get(unit.pid, unit.packets[0][3] & 0x0F)
        packets, cc = _packetize(unit.pid, bytes(new), _adaptation(unit.packets[0]), cc)
        counters[unit.pid] = cc & 0x0F
        for packet in packets:
            result += packet
    return bytes(result) + tail


def _stream_pids_or_guess(ts: bytes) -> dict[int, int]:
    """PID → stream type from PAT/PMT, or from the PES stream ids where the tables are not
    in this segment."""
    try:
        return _stream_pids(ts)
    except TsError:
        pass
    found: dict[int, int] = {}
    for off in range(0, len(ts) - TS_PACKET + 1, TS_PACKET):
        start, length, pusi, pid = _payload_span(ts, off)
        if pusi and length > 3 and ts[start : start + 3] == b"\x00\x00\x01":
            sid = ts[start + 3]
            if 0xE0 <= sid <= 0xEF:
                found[pid] = STREAM_H264
            elif 0xC0 <= sid <= 0xDF:
                found[pid] = STREAM_AAC
    return found


def _encrypt_audio_units(
    audio: dict[int, list[tuple[_Unit, bytes]]], key32: bytes
) -> dict[int, list[bytes]]:
    """Each PID's audio joined over its PES packets, the ADTS frames encrypted, put back
    packet by packet (lengths stay)."""
    out: dict[int, list[bytes]] = {}
    for pes_list in audio.values():
        joined = bytearray()
        cuts = []
        for _unit, pes in pes_list:
            es_off = _es_offset(pes)
            cuts.append((len(joined), es_off))
            joined += pes[es_off:]
        encrypted = bytearray(joined)
        pos = 0
        while pos + 7 <= len(joined):
            if joined[pos] != 0xFF or joined[pos + 1] & 0xF0 != 0xF0:
                pos += 1  # the segment may begin inside a frame
                continue
            header = 7 if joined[pos + 1] & 0x01 else 9
            high, mid, low = joined[pos + 3] & 0x03, joined[pos + 4], joined[pos + 5] >> 5
            length = (high << 11) | (mid << 3) | low
            end = min(pos + length, len(joined))
            payload = pos + header
            if length >= header and end - payload > AAC_DATA_OFFSET:
                iv = bytes(joined[payload + AAC_IV_OFFSET : payload + AAC_DATA_OFFSET])
                encrypted[payload + AAC_DATA_OFFSET : end] = chacha_xor(
                    key32, iv, bytes(joined[payload + AAC_DATA_OFFSET : end])
                )
            pos += max(length, 7)
        for n, (unit, pes) in enumerate(pes_list):
            start, es_off = cuts[n]
            body = encrypted[start : start + len(pes) - es_off]
            new = pes[:es_off] + bytes(body)
            packets = []
            pos = 0
            for packet in unit.packets:
                s, length, _pusi, _pid = _payload_span(packet, 0)
                packets.append(packet[:s] + new[pos : pos + length])
                pos += length
            out[id(unit)] = packets
    return out
