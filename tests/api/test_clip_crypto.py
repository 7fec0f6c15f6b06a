"""Clip decryption as a pure function: escape bytes, re-packetization, AAC, bad input."""

from __future__ import annotations

import contextlib
from fractions import Fraction
import io
import os

import av
from hypothesis import given, settings, strategies as st
import pytest

from botslab_emulator import crypto as server_crypto
from custom_components.botslab.api import ProtocolError, decrypt_clip_segment
from custom_components.botslab.api.crypto import decrypt_slice, escape, unescape

KEY = "0123456789abcdefghijklmnopqrstuv"


def mux_h264(access_units: list[bytes]) -> bytes:
    """A real MPEG-TS (PyAV's muxer) carrying the given Annex-B access units."""
    out = io.BytesIO()
    with av.open(out, "w", format="mpegts") as container:
        stream = container.add_stream("h264", rate=15)
        stream.width, stream.height = 320, 240  # type: ignore[attr-defined]
        for idx, au in enumerate(access_units):
            packet = av.Packet(au)
            packet.stream = stream
            packet.pts = packet.dts = idx * 6000
            packet.time_base = Fraction(1, 90000)
            packet.is_keyframe = idx == 0
            container.mux(packet)
    return out.getvalue()


def demux(ts: bytes) -> list[bytes]:
    with av.open(io.BytesIO(ts)) as container:
        return [bytes(p) for p in container.demux() if p.size]


def slice_with_zero_runs(seed: int) -> bytes:
    """A slice RBSP whose plaintext needs escape bytes beyond the 0x100 boundary."""
    rnd = os.urandom(700) if seed < 0 else bytes((seed * 31 + i * 7) % 251 + 1 for i in range(700))
    rbsp = bytearray(b"\x65" + rnd)
    rbsp[400:404] = b"\x00\x00\x01\x00"
    rbsp[600:603] = b"\x00\x00\x02"
    return bytes(rbsp)


def test_escape_bytes_change_length_and_the_segment_is_packetized_anew() -> None:
    key = KEY.encode()
    plain_aus, enc_aus = [], []
    for seed in range(3):
        rbsp = slice_with_zero_runs(seed)
        plain_nal = escape(rbsp)
        enc_nal = server_crypto.encrypt_slice_nal(plain_nal, key)
        assert len(enc_nal) != len(plain_nal), "the length changes: the re-packetizing path"
        plain_aus.append(b"\x00\x00\x00\x01\x09\xf0" + b"\x00\x00\x00\x01" + plain_nal)
        enc_aus.append(b"\x00\x00\x00\x01\x09\xf0" + b"\x00\x00\x00\x01" + enc_nal)
    encrypted_ts = mux_h264(enc_aus)
    decrypted = decrypt_clip_segment(encrypted_ts, KEY)
    assert len(decrypted) % 188 == 0
    assert demux(decrypted) == plain_aus
    # continuity counters count without gaps per PID
    counters: dict[int, int] = {}
    for off in range(0, len(decrypted), 188):
        pkt = decrypted[off : off + 188]
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        if pkt[3] & 0x10:
            if pid in counters:
                assert pkt[3] & 0x0F == (counters[pid] + 1) & 0x0F
            counters[pid] = pkt[3] & 0x0F


def test_short_slices_stay_clear() -> None:
    nal = b"\x41" + bytes(range(1, 200))
    assert decrypt_slice(nal, KEY.encode()) == nal


@pytest.mark.parametrize("data", [b"x" * 187, b"\x00" * 188 * 3, b"\x47" + b"\x00" * 187])
def test_bad_segments_raise_protocol_error(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        decrypt_clip_segment(data, KEY)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=188 * 6))
def test_random_segments_raise_only_protocol_errors(data: bytes) -> None:
    data = data[: len(data) - len(data) % 188]
    if data:
        data = b"\x47" + data[1:]
    with contextlib.suppress(ProtocolError):
        decrypt_clip_segment(data, KEY)


@given(st.binary(max_size=2000))
def test_escape_roundtrip(rbsp: bytes) -> None:
    escaped = escape(rbsp)
    assert (
        b"\x00\x00\x00" not in escaped
        and b"\x00\x00\x01" not in escaped
        and b"\x00\x00\x02" not in escaped
    )
    if not rbsp.endswith(b"\x00") or rbsp.endswith(b"\x00\x00"):
        assert unescape(escaped) == rbsp
