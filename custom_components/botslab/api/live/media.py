"""Live media frames (docs/protocol/live-video.md#media-frames): the device frame body, per-frame
keys, slice decryption (the clips' slice decryption: unescape, decrypt from the first RBSP byte at
raw offset >= 0x100, re-escape), keyframes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import struct

from ..crypto import decrypt_access_unit, decrypt_slice, nal_spans
from ..exceptions import ProtocolError

BODY_HEAD = b"\x00\x00\x00\x00\x00\x03"
AU_OFFSET = 0x38


@dataclass(frozen=True, slots=True)
class MediaFrame:
    seq: int
    ts_ms: int
    key_index: int
    au: bytes


def parse_body(body: bytes) -> MediaFrame:
    """The body of a class 0x02/0x03 app-frame (§8.1)."""
    if len(body) < 0x30 or not body.startswith(BODY_HEAD):
        raise ProtocolError("media body too short or without its device header")
    au = body[AU_OFFSET:]
    if not au:
        raise ProtocolError("media body without an access unit")
    (seq,) = struct.unpack_from(">H", body, 0x06)
    (ts_ms,) = struct.unpack_from(">I", body, 0x0C)
    (index,) = struct.unpack_from(">I", body, 0x2C)
    return MediaFrame(seq, ts_ms, index, au)


def frame_key(secret_keys: Mapping[int, str], index: int, fallback: int | None = None) -> bytes:
    """The key string as ASCII bytes, NUL-padded or cut to 32; the fallback index if unknown."""
    key = secret_keys.get(index)
    if key is None and fallback is not None:
        key = secret_keys.get(fallback)
    if key is None:
        raise ProtocolError(f"unknown key index {index}")
    return key.encode("ascii", "replace")[:32].ljust(32, b"\x00")


def decrypt_au(au: bytes, key: bytes) -> bytes:
    """Decrypt every slice (types 1 and 5) of an access unit; other NALs pass untouched."""
    return decrypt_access_unit(au, key, decrypt_slice)


def is_keyframe(au: bytes) -> bool:
    return any(end > start and au[start] & 0x1F == 5 for start, end in nal_spans(au))
