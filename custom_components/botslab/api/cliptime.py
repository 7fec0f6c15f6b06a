"""Clip timestamps made continuous (docs/protocol/media.md#clip-timestamps): real clip segments each
start their PTS/DTS anew, so a player that expects one timeline stalls, jumps or loses the sound.

Each segment is placed on the clip's timeline by the playlist alone, so that any segment can
be served on its own, in any order, always with the same bytes: the segment's first video DTS
(the first timestamp of any stream when it has no video) goes to `ANCHOR` plus the sum of the
`#EXTINF` durations before it, and every PTS, DTS and PCR of the segment moves by the same
amount (the streams keep their offsets to each other). Continuous segments come out
continuous too. Lengths do not change: the bytes are rewritten in place.

Measured in Chromium with the hls.js of Home Assistant's frontend (the report of issue 24):
with restarting timestamps and nothing done, the picture plays on but the sound of every
segment after the first is lost; `#EXT-X-DISCONTINUITY` tags alone make hls.js reset its
demuxer at each boundary, and real segments after the first carry no PAT/PMT, so it finds no
media and stops; continuous timestamps play through with the sound.
"""

from __future__ import annotations

from collections.abc import Iterable
import math

from .exceptions import ProtocolError

TS = 188
TICKS = 90_000  # PTS/DTS and the PCR base count 90 kHz ticks
WRAP = 1 << 33
# where a clip's timeline starts: late enough that audio or a PCR ahead of the first video
# frame never goes below zero (muxers put them at most a second or two ahead)
ANCHOR = 10 * TICKS
MAX_SEGMENT_SECONDS = 3600.0
_NO_PES_HEADER = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xF2, 0xF8, 0xFF})


def segment_starts(durations: Iterable[float]) -> list[int]:
    """Where each segment starts on the clip's timeline (90 kHz ticks from the first)."""
    starts: list[int] = []
    at = 0.0
    for duration in durations:
        starts.append(round(at * TICKS))
        at += duration
    return starts


def extinf_duration(line: str, fallback: float) -> float:
    """The duration of an `#EXTINF:<seconds>,<title>` line; `fallback` when it is missing,
    not a number, negative or absurd."""
    value = line.removeprefix("#EXTINF:").split(",", 1)[0].strip()
    try:
        seconds = float(value) if value.isascii() else math.nan
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_SEGMENT_SECONDS:
        return fallback
    return seconds


def _read_ts(data: bytes | bytearray, at: tuple[int, ...]) -> int:
    b = [data[i] for i in at]
    return ((b[0] >> 1) & 7) << 30 | b[1] << 22 | (b[2] >> 1) << 15 | b[3] << 7 | b[4] >> 1


def _write_ts(out: bytearray, at: tuple[int, ...], value: int) -> None:
    value %= WRAP
    out[at[0]] = (out[at[0]] & 0xF0) | ((value >> 29) & 0x0E) | 1
    out[at[1]] = (value >> 22) & 0xFF
    out[at[2]] = ((value >> 14) & 0xFE) | 1
    out[at[3]] = (value >> 7) & 0xFF
    out[at[4]] = ((value << 1) & 0xFE) | 1


def _pcr(data: bytes | bytearray, at: int) -> int:
    return (
        data[at] << 25
        | data[at + 1] << 17
        | data[at + 2] << 9
        | data[at + 3] << 1
        | data[at + 4] >> 7
    )


def _write_pcr(out: bytearray, at: int, value: int) -> None:
    value %= WRAP
    out[at : at + 4] = (value >> 1).to_bytes(4, "big")
    out[at + 4] = (out[at + 4] & 0x7F) | ((value & 1) << 7)


class _Fields:
    """Where the timestamps of a segment's whole packets are: PCRs, and each PES header's
    PTS/DTS (as byte positions, since a PES header may run on into the PID's next packet)."""

    def __init__(self, ts: bytes | bytearray, whole: int) -> None:
        self.pcrs: list[int] = []
        # (stream id, PTS, DTS or None): the positions of each timestamp's 5 bytes
        self.pes: list[tuple[int, tuple[int, ...], tuple[int, ...] | None]] = []
        payloads: dict[int, list[tuple[int, int]]] = {}  # pid -> payload spans, in order
        starts: list[tuple[int, int]] = []  # (pid, index into payloads[pid]) of PES starts
        for off in range(0, whole - TS + 1, TS):
            if ts[off] != 0x47:
                raise ProtocolError("MPEG-TS sync byte missing")
            pid = ((ts[off + 1] & 0x1F) << 8) | ts[off + 2]
            afc = (ts[off + 3] >> 4) & 3
            start = off + 4
            if afc in (2, 3):
                length = ts[off + 4]
                if length >= 7 and ts[off + 5] & 0x10:
                    self.pcrs.append(off + 6)
                start += 1 + length
            if afc in (0, 2) or start >= off + TS:
                continue
            spans = payloads.setdefault(pid, [])
            if ts[off + 1] & 0x40:
                starts.append((pid, len(spans)))
            spans.append((start, off + TS))
        for pid, index in starts:
            header = _positions(payloads[pid][index : index + 4], 19)
            if len(header) < 9 or [ts[p] for p in header[:3]] != [0, 0, 1]:
                continue
            stream_id = ts[header[3]]
            if stream_id in _NO_PES_HEADER:
                continue
            flags = ts[header[7]] >> 6
            if flags & 2 and len(header) >= 14:
                dts = tuple(header[14:19]) if flags == 3 and len(header) >= 19 else None
                self.pes.append((stream_id, tuple(header[9:14]), dts))

    def places(self) -> list[tuple[int, ...]]:
        """Every PTS and DTS."""
        return [at for _sid, pts, dts in self.pes for at in (pts, dts) if at is not None]

    def reference(self, ts: bytes | bytearray) -> int | None:
        """The segment's first video timestamp (its DTS, or PTS without one), else the
        earliest timestamp of any kind."""
        for stream_id, pts, dts in self.pes:
            if 0xE0 <= stream_id <= 0xEF:
                return _read_ts(ts, dts or pts)
        values = [_read_ts(ts, at) for at in self.places()] + [_pcr(ts, at) for at in self.pcrs]
        return min(values) if values else None


def _positions(spans: list[tuple[int, int]], count: int) -> list[int]:
    """The byte positions of the first `count` payload bytes over consecutive spans."""
    out: list[int] = []
    for start, end in spans:
        out.extend(range(start, min(end, start + count - len(out))))
        if len(out) >= count:
            break
    return out


def retime_segment(ts: bytes, start: int) -> bytes:
    """The segment with its timestamps moved so that it starts at `ANCHOR + start` (90 kHz
    ticks) on the clip's timeline; a segment without timestamps is returned as it is, and a
    cut last packet passes through."""
    whole = len(ts) - len(ts) % TS
    fields = _Fields(ts, whole)
    reference = fields.reference(ts)
    if reference is None:
        return ts
    delta = (ANCHOR + start - reference) % WRAP
    if delta == 0:
        return ts
    out = bytearray(ts)
    for at in fields.places():
        _write_ts(out, at, _read_ts(out, at) + delta)
    for pcr in fields.pcrs:
        _write_pcr(out, pcr, _pcr(out, pcr) + delta)
    return bytes(out)
