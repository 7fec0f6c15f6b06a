"""Clip timestamps made continuous (api/cliptime.py, docs/protocol/media.md#clip-timestamps),
checked with PyAV on the emulator's real clips, whose segments start their timestamps anew."""

from __future__ import annotations

import io
from itertools import pairwise

import av
from hypothesis import given, settings, strategies as st
import pytest

from botslab_emulator.media import Clip, make_clip, make_real_clip
from custom_components.botslab.api import ProtocolError
from custom_components.botslab.api.cliptime import (
    ANCHOR,
    TICKS,
    extinf_duration,
    retime_segment,
    segment_starts,
)

_CLIPS: dict[str, Clip] = {}


def clip(kind: str) -> Clip:
    if kind not in _CLIPS:
        _CLIPS[kind] = make_real_clip() if kind == "real" else make_clip()
    return _CLIPS[kind]


def demux(segments: list[bytes]) -> list[tuple[str, int | None, int | None]]:
    """(stream type, PTS, DTS) of every packet of consecutive segments (whole TS packets)."""
    data = b"".join(seg[: len(seg) - len(seg) % 188] for seg in segments)
    with av.open(io.BytesIO(data), format="mpegts") as container:
        return [(p.stream.type, p.pts, p.dts) for p in container.demux() if p.size]


def pcrs(ts: bytes) -> list[int]:
    """The PCR bases of a segment, in order."""
    found = []
    for off in range(0, len(ts) - 187, 188):
        if (ts[off + 3] >> 4) & 2 and ts[off + 4] >= 7 and ts[off + 5] & 0x10:
            p = ts[off + 6 : off + 11]
            found.append(p[0] << 25 | p[1] << 17 | p[2] << 9 | p[3] << 1 | p[4] >> 7)
    return found


def segments_of(kind: str) -> list[bytes]:
    found = clip(kind).segments
    return [found[name] for name in sorted(found)]


@pytest.mark.parametrize("kind", ["real", "canonical"])
def test_segments_come_out_on_one_timeline(kind: str) -> None:
    """Real segments restart their timestamps; canonical ones do not: both come out with
    every frame one frame after the one before, across the boundaries, twice over."""
    plain = segments_of(kind) * 2
    out = [
        retime_segment(seg, at)
        for seg, at in zip(plain, segment_starts([2.0] * len(plain)), strict=True)
    ]
    packets = demux(out)
    video = [dts for kind_, _pts, dts in packets if kind_ == "video"]
    assert video[0] == ANCHOR
    assert {b - a for a, b in pairwise(video)} == {TICKS // 15}
    if kind == "real":
        restarted = demux(plain)
        assert any(b < a for a, b in pairwise(d for k, _p, d in restarted if k == "video"))
    # the streams keep their offsets to each other within each segment
    for before, after in zip(plain, out, strict=True):
        old, new = demux([before]), demux([after])
        shift = {(n[1] or 0) - (o[1] or 0) for o, n in zip(old, new, strict=True)}
        assert len(shift) == 1
        assert pcrs(before), "segments carry PCRs"
        assert {n - o for o, n in zip(pcrs(before), pcrs(after), strict=True)} == shift


def test_a_cut_last_packet_passes_and_lengths_stay() -> None:
    last = segments_of("real")[-1]
    assert len(last) % 188, "the real last segment ends in part of a packet"
    out = retime_segment(last, 7 * TICKS)
    assert len(out) == len(last)
    cut = len(last) - len(last) % 188
    assert out[cut:] == last[cut:]


def test_segments_without_timestamps_pass_as_they_are() -> None:
    null = b"\x47\x1f\xff\x10" + b"\xff" * 184
    assert retime_segment(null * 3, 90000) == null * 3
    assert retime_segment(b"", 0) == b""


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=188 * 4), start=st.integers(0, 10**9))
def test_any_bytes_give_a_segment_of_the_same_length_or_a_protocol_error(
    data: bytes, start: int
) -> None:
    try:
        out = retime_segment(data, start)
    except ProtocolError:
        return
    assert len(out) == len(data)


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.binary(min_size=4, max_size=4),
    body=st.binary(min_size=184, max_size=184),
    count=st.integers(1, 4),
    start=st.integers(0, 10**9),
)
def test_any_packets_with_sync_bytes_are_rewritten_in_place(
    prefix: bytes, body: bytes, count: int, start: int
) -> None:
    """Packets that keep their sync byte: never an error, never a length change."""
    packet = b"\x47" + prefix[1:] + body
    data = packet * count
    assert len(retime_segment(data, start)) == len(data)


@pytest.mark.parametrize(
    ("line", "seconds"),
    [
        ("#EXTINF:2.000000,", 2.0),
        ("#EXTINF:4,title", 4.0),
        ("#EXTINF: 1.5 ,", 1.5),
        ("#EXTINF:,", 9.0),
        ("#EXTINF:nan,", 9.0),
        ("#EXTINF:inf,", 9.0),
        ("#EXTINF:-1,", 9.0),
        ("#EXTINF:1e400,", 9.0),
        ("#EXTINF:４,", 9.0),  # fullwidth digit: float() would take it
        ("#EXTINF:99999,", 9.0),
    ],
)
def test_extinf_durations(line: str, seconds: float) -> None:
    assert extinf_duration(line, 9.0) == seconds


def test_segment_starts_add_up() -> None:
    assert segment_starts([2.0, 2.5, 0.1]) == [0, 180000, 405000]
    assert segment_starts([]) == []
