"""The virtual device's media frames (liveview.md 8): canonical slice encryption, a per-frame
key index whose ciphertext needs no escape byte, and the 0x38-byte device header."""

from __future__ import annotations

from collections.abc import Mapping
import re

from ..crypto import chacha_xor, iter_annexb_nals, nal_escape, nal_unescape

_ESCAPE_NEEDED = re.compile(b"\x00\x00[\x00-\x03]")


def media_body(seq: int, ts_ms: int, key_index: int, au: bytes) -> bytes:
    """0x00 `00 00 00 00 00 03`, 0x06 seq, 0x0C ts (ms), 0x2C key index, zeros, 0x38 the AU."""
    head = bytearray(0x38)
    head[0:6] = b"\x00\x00\x00\x00\x00\x03"
    head[6:8] = (seq & 0xFFFF).to_bytes(2, "big")
    head[0x0C:0x10] = (ts_ms & 0xFFFFFFFF).to_bytes(4, "big")
    head[0x2C:0x30] = key_index.to_bytes(4, "big")
    return bytes(head) + au


def _encrypt_slice(nal: bytes, key: bytes) -> tuple[bytes, bool]:
    """(encrypted NAL, clean): clean = the ciphertext needs no escape byte, does not end in 00."""
    rbsp = nal_unescape(nal)
    if len(rbsp) <= 0x100:
        return nal, True
    cipher = chacha_xor(key, rbsp[0xF4:0x100], rbsp[0x100:])
    clean = not _ESCAPE_NEEDED.search(rbsp[0xFE:0x100] + cipher) and not cipher.endswith(b"\x00")
    return nal_escape(rbsp[:0x100] + cipher), clean


def encrypt_au(au: bytes, key: bytes) -> tuple[bytes, bool]:
    out = bytearray()
    pos = 0
    clean = True
    for start, end in iter_annexb_nals(au):
        if end > start and au[start] & 0x1F in (1, 5):
            enc, ok = _encrypt_slice(au[start:end], key)
            out += au[pos:start] + enc
            pos = end
            clean = clean and ok
    return bytes(out + au[pos:]), clean


def encrypt_frame(au: bytes, keys: Mapping[int, bytes], first: int) -> tuple[int, bytes]:
    """Choose, from `first` on, a key index whose ciphertext needs no escape byte (so that every
    reading of liveview.md 8.4 decrypts it); (index, encrypted AU)."""
    order = sorted(keys)
    start = order.index(first) if first in order else 0
    for index in order[start:] + order[:start]:
        encrypted, clean = encrypt_au(au, keys[index])
        if clean:
            return index, encrypted
    index = order[start]
    return index, encrypt_au(au, keys[index])[0]
