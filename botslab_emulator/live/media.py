"""The virtual device's media frames (docs/protocol/live-video.md#media-frames): slice encryption by
the raw 0x100 rule (8.4), a per-frame key index whose ciphertext a stream can carry, and the
0x38-byte device header."""

from __future__ import annotations

from collections.abc import Mapping
import re

from ..crypto import encrypt_slice_nal, iter_annexb_nals

_START = re.compile(b"\x00\x00\x01")


def media_body(seq: int, ts_ms: int, key_index: int, au: bytes) -> bytes:
    """0x00 `00 00 00 00 00 03`, 0x06 seq, 0x0C ts (ms), 0x2C key index, zeros, 0x38 the AU."""
    head = bytearray(0x38)
    head[0:6] = b"\x00\x00\x00\x00\x00\x03"
    head[6:8] = (seq & 0xFFFF).to_bytes(2, "big")
    head[0x0C:0x10] = (ts_ms & 0xFFFFFFFF).to_bytes(4, "big")
    head[0x2C:0x30] = key_index.to_bytes(4, "big")
    return bytes(head) + au


def _encrypt_slice(nal: bytes, key: bytes, real: bool) -> tuple[bytes, bool]:
    """(encrypted NAL, usable). Canonical: usable when the ciphertext needs no escape byte
    and does not end in 00 (every reading of docs/protocol/live-video.md#escape-bytes then agrees).
    Real: escape bytes are what real devices send; only a ciphertext ending in a lone 00 is refused,
    as no H.264 stream can carry it unambiguously."""
    encrypted = encrypt_slice_nal(nal, key)
    lone_zero = encrypted.endswith(b"\x00\x03") and not encrypted.endswith(b"\x00\x00\x03")
    if real:
        return encrypted, not lone_zero
    # the canonical clip's slices hold no escape byte: the same length means none was needed
    return encrypted, len(encrypted) == len(nal) and not lone_zero


def encrypt_au(au: bytes, key: bytes, real: bool = False) -> tuple[bytes, bool]:
    out = bytearray()
    pos = 0
    clean = True
    for start, end in iter_annexb_nals(au):
        if end > start and au[start] & 0x1F in (1, 5):
            enc, ok = _encrypt_slice(au[start:end], key, real)
            out += au[pos:start] + enc
            pos = end
            clean = clean and ok
    return bytes(out + au[pos:]), clean


def encrypt_frame(
    au: bytes, keys: Mapping[int, bytes], first: int, *, real: bool = False
) -> tuple[int, bytes]:
    """Choose, from `first` on, a key index whose ciphertext is usable (see _encrypt_slice);
    (index, encrypted AU)."""
    order = sorted(keys)
    start = order.index(first) if first in order else 0
    for index in order[start:] + order[:start]:
        encrypted, clean = encrypt_au(au, keys[index], real)
        if clean:
            return index, encrypted
    index = order[start]
    return index, encrypt_au(au, keys[index], real)[0]


def _units(au: bytes) -> list[bytes]:
    """The NAL units of an access unit, each with its start code (three or four bytes)."""
    begins = [m.start() - (m.start() > 0 and au[m.start() - 1] == 0) for m in _START.finditer(au)]
    return [au[b:e] for b, e in zip(begins, [*begins[1:], len(au)], strict=True)]


def _nal_type(unit: bytes) -> int:
    return unit[unit.index(b"\x00\x00\x01") + 3] & 0x1F


def without_parameter_sets(au: bytes) -> bytes:
    """The access unit without its SPS (7) and PPS (8) NAL units."""
    return b"".join(u for u in _units(au) if _nal_type(u) not in (7, 8))


def damage_slices(au: bytes, count: int) -> bytes:
    """The first `count` slices with one coded byte changed halfway through (never to or
    from a byte an escape sequence involves), so that a decoder reports an error there."""
    out: list[bytes] = []
    for unit in _units(au):
        changed = bytearray(unit)
        if count and _nal_type(unit) in (1, 5) and len(unit) > 64:
            for pos in range(len(unit) // 2, len(unit) - 1):
                new = changed[pos] ^ 0x5A
                if min(changed[pos], new, changed[pos - 1], changed[pos + 1]) > 3:
                    changed[pos] = new
                    count -= 1
                    break
        out.append(bytes(changed))
    return b"".join(out)
