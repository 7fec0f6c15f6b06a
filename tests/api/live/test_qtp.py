"""QTP (docs/protocol/live-video.md#qtp): checksums and headers against the captured vectors, the
client's reassembly (order, duplicates, gaps, wrap-around) and the emulator's chunking, each
apart."""

from __future__ import annotations

import functools
import random
import struct
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from botslab_emulator.live import qtp as server_qtp
from custom_components.botslab.api.live import qtp
from custom_components.botslab.api.live.frames import FrameReader, frame


@pytest.mark.parametrize("checksum", [qtp.checksum, server_qtp.checksum])
def test_checksum_vectors(checksum) -> None:  # type: ignore[no-untyped-def]
    assert checksum(0xFFFF, 0xFFFF, 0, 0) == 0x0000
    assert checksum(0, 0, 0, 0) == 0xFFFF
    assert checksum(0xC804, 0x0004, 0x0002, 0x1D00) == 0x1AF5
    assert checksum(0xC804, 0x0014, 0x0011, 0x1D00) == 0x1AD6


def test_captured_heads() -> None:
    key = bytes.fromhex("c804000400021d001af5000049ec201411040002000049e2")
    assert key[:10] == qtp.data_header(0xC804, 4, 2, qtp.FLAGS_MEDIA)
    assert key[:10] == server_qtp.data_header(0xC804, 4, 2, server_qtp.FLAGS_MEDIA)
    (size,) = struct.unpack_from(">I", key, 10)
    assert size == 0x49EC and key[14:18] == bytes.fromhex("20141104") and key[19] == 0x02
    assert int.from_bytes(key[20:24], "big") + 10 == size  # L counts the app header
    p_frame = bytes.fromhex("c804001400111d001ad6000024172014110400030000240d")
    assert p_frame[:10] == qtp.data_header(0xC804, 0x14, 0x11, qtp.FLAGS_MEDIA)


def test_control_and_flow_ack_layout() -> None:
    syn = qtp.control_packet(0, qtp.CMD_SYN, ("127.0.0.1", 8000), 0x1234)
    assert len(syn) == 0x30
    assert struct.unpack_from(">5H", syn) == (0, 0, 1, 0x0C00, qtp.checksum(0, 0, 1, 0x0C00))
    assert syn[0x0A:0x0C] == b"\x02\x00" and syn[0x0C:0x0E] == b"\x1f\x40"
    assert syn[0x0E:0x12] == bytes([127, 0, 0, 1]) and syn[0x1A:0x1C] == b"\x12\x34"
    assert syn[0x1E:0x22] == bytes.fromhex("11223344") and syn[0x26] == 1
    ack = qtp.flow_ack(0xC804, 0x0014, 0x0011)
    assert len(ack) == 16 and ack[6:8] == b"\x11\x20" and ack[10:14] == b"\x11\x00\x00\x00"


def _datagrams(frames: list[bytes], chunk: int, first_sn: int) -> list[tuple[int, bytes]]:
    """The emulator's chunking, applied to a list of app-frames."""
    out = []
    sn = first_sn
    for item in frames:
        message = struct.pack(">I", len(item)) + item
        for pos in range(0, len(message), chunk):
            out.append((sn & 0xFFFF, message[pos : pos + chunk]))
            sn += 1
    return out


def _media(cls: int, n: int, size: int) -> bytes:
    body = b"\x00\x00\x00\x00\x00\x03" + n.to_bytes(2, "big") + bytes(0x30) + bytes([n]) * size
    return frame(cls, body)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=12),
    first=st.integers(0, 0xFFFF),
    seed=st.integers(0, 2**32),
)
def test_reassembly_in_any_order_with_duplicates(sizes: list[int], first: int, seed: int) -> None:
    frames = [_media(0x02 if i % 4 == 0 else 0x03, i, s) for i, s in enumerate(sizes)]
    grams = _datagrams(frames, server_qtp.CHUNK, first)
    rnd = random.Random(seed)
    # a little reordering (within a window, as UDP does) and some duplicates
    shuffled = list(grams)
    for i in range(len(shuffled) - 1):
        if rnd.random() < 0.3:
            shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    shuffled[1:1] = [g for g in grams[1:] if rnd.random() < 0.2]
    # the first datagram received is the lowest: the reassembler starts there
    shuffled.remove(grams[0])
    shuffled.insert(0, grams[0])
    reasm = qtp.Reassembler()
    got = [f for sn, payload in shuffled for f in reasm.feed(sn, payload)]
    expected = [f for item in frames for f in FrameReader().feed(item)]
    assert got == expected


def test_gap_skips_to_the_next_keyframe() -> None:
    frames = [_media(0x02 if i % 3 == 0 else 0x03, i, 3000) for i in range(30)]
    grams = _datagrams(frames, server_qtp.CHUNK, 65000)  # wraps past 0xFFFF
    lost = grams[5]  # a datagram of frame 1 (frames 0..: 3 datagrams each)
    reasm = qtp.Reassembler()
    got = [f for g in grams if g is not lost for f in reasm.feed(*g)]
    seqs = [int.from_bytes(f.body[6:8], "big") for f in got]
    assert reasm.skipped == 1
    assert seqs[0] == 0 and 1 not in seqs and 2 not in seqs
    assert got[1].cls == 0x02  # resynced on a keyframe head
    assert seqs[1:] == list(range(seqs[1], 30))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=1500), max_size=8))
def test_garbage_never_raises(datagrams: list[bytes]) -> None:
    """Malformed datagrams are dropped by both sides' protocol callbacks, never raised."""
    from botslab_emulator.live.faults import LiveFaults

    server = server_qtp.QtpServer(LiveFaults(), lambda _body: (1, "", False), "127.0.0.1")
    leg = qtp.QtpLeg(lambda _frame: None)
    leg.connected, leg.conv = True, 0xC804
    for sn, data in enumerate(datagrams, start=1):
        server.datagram_received(data, ("127.0.0.1", 1))
        leg.datagram_received(data, ("127.0.0.1", 2))
        # the same bytes behind a valid media header reach the reassembler
        leg.datagram_received(qtp.data_header(0xC804, sn, 0, qtp.FLAGS_MEDIA) + data, ("", 0))


@functools.cache
def _tunnel() -> Any:
    from botslab_emulator import Emulator

    return Emulator().live.tunnel  # never started: datagram_received alone


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([0x30, 0x04, 0x01, 0x31]))
def test_tunnel_garbage_never_raises(payload: bytes, kind: int) -> None:
    """The emulator's tunnel drops malformed datagrams, XMSGs with bad JSON or envelopes too."""
    from botslab_emulator.live.tunnel import header

    tunnel = _tunnel()
    datagram = header(0x02, kind, 1, len(payload)) + payload
    tunnel.datagram_received(datagram, ("127.0.0.1", 1))
    tunnel.datagram_received(payload, ("127.0.0.1", 1))
    assert tunnel.hub.stats.bad_datagrams >= 1
