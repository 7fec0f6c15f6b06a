"""Live media frames (docs/protocol/live-video.md#media-frames): the keystream vector, the device
header, and frames encrypted by the virtual device decrypting to the source access units."""

from __future__ import annotations

import io

import av

from botslab_emulator.live import media as device
from botslab_emulator.media import make_clip
from custom_components.botslab.api.crypto import chacha20
from custom_components.botslab.api.live import media as client

KEYS = {index: bytes((index * 7 + i) % 94 + 33 for i in range(32)) for index in range(30, 45)}


def test_keystream_vector() -> None:
    stream = chacha20(b"K" * 32, bytes(range(12)), bytes(32))
    assert stream.hex() == "3c060a621a2e7fea0ae419e4e2ee80ab56508ff2b9b4a9e69d00692e92f0dc6d"


def test_device_header_roundtrip() -> None:
    body = device.media_body(0x1234, 1_700_000_123, 35, b"\x00\x00\x00\x01\x65" + bytes(10))
    frame = client.parse_body(body)
    assert (frame.seq, frame.ts_ms, frame.key_index) == (0x1234, 1_700_000_123, 35)
    assert frame.au.startswith(b"\x00\x00\x00\x01\x65")


def test_frames_decrypt_to_the_source_access_units() -> None:
    clip = make_clip()
    aus = []
    with av.open(io.BytesIO(clip.segments["seg0.ts"])) as container:
        aus = [bytes(p) for p in container.demux(video=0) if p.size]
    assert len(aus) > 20
    keyframes = 0
    changed = 0
    secret = {i: k.decode() for i, k in KEYS.items()}
    for n, au in enumerate(aus):
        index, encrypted = device.encrypt_frame(au, KEYS, 35)
        frame = client.parse_body(device.media_body(n, n * 66, index, encrypted))
        key = client.frame_key(secret, frame.key_index)
        assert client.decrypt_au(frame.au, key) == au
        keyframes += client.is_keyframe(frame.au)
        changed += encrypted != au
    assert keyframes >= 1 and changed > len(aus) // 2
