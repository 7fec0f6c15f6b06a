"""`scripts/bench mux`: the live feed's MPEG-TS muxing, ours (`api/live/tsmux.py`) against
PyAV's (FFmpeg's mpegts muxer, which Home Assistant's stream component brings), on the same
access units of the emulator's real-media live clip at 15 fps.

What the feed needs from a muxer: each frame's packets at once (they are written to the viewers
as the frame comes), and PAT/PMT on their own (a viewer that joins mid-group gets the tables and
the current group). Prints one final line
`mux frames=… ours_us=… pyav_us=… ours_overhead_pct=… pyav_overhead_pct=… pyav_at_once_pct=…
valid=…`:
- ours_us / pyav_us: median CPU time to mux one access unit (microseconds);
- *_overhead_pct: TS bytes over access-unit bytes, minus 100;
- pyav_at_once_pct: the share of frames whose packets PyAV had written when mux() returned
  (ours: always 100);
- valid: 1 when PyAV demuxes both outputs to every frame and decodes the keyframes.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
import io
import statistics
import time
from typing import Any

import av

from botslab_emulator.live.clip import live_clip
from custom_components.botslab.api.live.media import is_keyframe
from custom_components.botslab.api.live.tsmux import TsMuxer

STEP = 6000  # 90 kHz ticks per frame at 15 fps


def ours(aus: list[bytes]) -> tuple[bytes, list[float]]:
    muxer = TsMuxer()
    out = bytearray()
    times = []
    for n, au in enumerate(aus):
        start = time.perf_counter_ns()
        out += muxer.mux(au, 90000 + n * STEP, keyframe=is_keyframe(au))
        times.append((time.perf_counter_ns() - start) / 1000)
    return bytes(out), times


def pyav(aus: list[bytes], width: int, height: int) -> tuple[bytes, list[float], float]:
    buffer = io.BytesIO()
    container = av.open(buffer, "w", format="mpegts")
    stream = container.add_stream("h264", rate=15)
    stream.width, stream.height = width, height
    stream.time_base = Fraction(1, 90000)
    times = []
    at_once = 0
    for n, au in enumerate(aus):
        start = time.perf_counter_ns()
        before = buffer.tell()
        packet = av.Packet(au)
        packet.stream = stream
        packet.pts = packet.dts = 90000 + n * STEP
        packet.time_base = stream.time_base
        packet.is_keyframe = is_keyframe(au)
        container.mux(packet)
        times.append((time.perf_counter_ns() - start) / 1000)
        at_once += buffer.tell() - before >= len(au)
    container.close()
    return buffer.getvalue(), times, 100 * at_once / len(aus)


def valid(ts: bytes, count: int) -> bool:
    with av.open(io.BytesIO(ts), format="mpegts") as container:
        packets = [p for p in container.demux(video=0) if p.size]
        decoded = 0
        codec = av.CodecContext.create("h264", "r")
        for packet in packets[:60]:
            decoded += len(codec.decode(packet))
    return len(packets) == count and decoded > 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=3000)
    args = parser.parse_args()
    clip = live_clip(real=True)
    aus = [clip.aus[n % len(clip.aus)] for n in range(args.frames)]
    probe: Any = av.open(io.BytesIO(ours(list(clip.aus[:30]))[0]), format="mpegts")
    with probe:
        first = next(probe.decode(video=0))
        width, height = first.width, first.height
    ours_ts, ours_times = ours(aus)
    pyav_ts, pyav_times, at_once = pyav(aus, width, height)
    payload = sum(map(len, aus))
    print(
        f"mux frames={len(aus)} ours_us={statistics.median(ours_times):.1f} "
        f"pyav_us={statistics.median(pyav_times):.1f} "
        f"ours_overhead_pct={100 * len(ours_ts) / payload - 100:.1f} "
        f"pyav_overhead_pct={100 * len(pyav_ts) / payload - 100:.1f} "
        f"pyav_at_once_pct={at_once:.0f} "
        f"valid={int(valid(ours_ts, len(aus)) and valid(pyav_ts, len(aus)))}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
