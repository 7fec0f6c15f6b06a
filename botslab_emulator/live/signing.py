"""Server-side signalling primitives of live view, written apart from the client's."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from Crypto.Cipher import ARC4

BOOT_KEY = b"a0e^63b2de5eea&a1451@e0c27c54a80"
# published in docs/protocol/live-video.md#constants
RELAY_SECRET = "116c46e0b026742bf177b200d31670c3"  # noqa: S105


def rc4(key: bytes, data: bytes) -> bytes:
    """RC4 with nothing dropped (pycryptodome's ARC4)."""
    return ARC4.new(key).encrypt(data)


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64(data: bytes, form: str = "padded") -> str:
    """Base64 in one of the forms a device may write: "padded" (standard), "unpadded" (no
    `=`), "loose" (unpadded, and the unused bits of a last partial group set: a decoder
    that checks canonical form refuses it)."""
    text = base64.b64encode(data).decode()
    if form == "padded":
        return text
    text = text.rstrip("=")
    unused = {1: 0x0F, 2: 0x03}.get(len(data) % 3, 0)  # low bits of the last character
    if form == "loose" and unused:
        text = text[:-1] + _ALPHABET[_ALPHABET.index(text[-1]) | unused]
    return text


def double_b64_encrypt(inner_json: str, key: bytes, form: str = "padded") -> str:
    return b64(rc4(key, b64(inner_json.encode(), form).encode()), form)


def double_b64_decrypt(data: str, key: bytes) -> Any:
    return json.loads(base64.b64decode(rc4(key, base64.b64decode(data))))


def relay_urlsign(product_id: str, sn: str, reg_time: str) -> str:
    fields = sorted({"sn": sn, "product_id": product_id, "reg_time": reg_time}.items())
    return hashlib.md5(("".join(f"{k}={v}" for k, v in fields) + RELAY_SECRET).encode()).hexdigest()


def substream_sign(core: dict[str, str]) -> str:
    return hashlib.md5("".join(f"{k}__{v}" for k, v in sorted(core.items())).encode()).hexdigest()


def substream_body(answer: dict[str, Any], junk: str = "XXX") -> str:
    """The scheduler's answer: Base64 JSON with three junk characters inserted at offset 3."""
    text = base64.b64encode(json.dumps(answer, separators=(",", ":")).encode()).decode().rstrip("=")
    return text[:3] + junk + text[3:]
