"""Pure signalling primitives of live view (docs/protocol/live-video.md): RC4 "double base64"
envelopes, the relay and scheduler signatures, the scheduler's junk strip, identities."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
import hashlib
import json
import re
from typing import Any
import uuid

from Crypto.Cipher import ARC4

from .. import safejson
from ..exceptions import ProtocolError

BASE_CAPACITY_KEY = b"a0e^63b2de5eea&a1451@e0c27c54a80"
# published in docs/protocol/live-video.md#constants
URLSIGN_SECRET = "116c46e0b026742bf177b200d31670c3"  # noqa: S105


def rc4(key: bytes, data: bytes) -> bytes:
    """Textbook RC4 (nothing dropped), pycryptodome's; encryption and decryption alike."""
    if not key:
        raise ValueError("empty RC4 key")
    return ARC4.new(key).encrypt(data)


def seal_data(inner: Mapping[str, Any] | str, key: bytes) -> str:
    """`data` of an envelope: Base64(RC4(Base64(inner JSON)))."""
    text = inner if isinstance(inner, str) else json.dumps(inner, separators=(",", ":"))
    first = base64.b64encode(text.encode()).decode("ascii")
    return base64.b64encode(rc4(key, first.encode("ascii"))).decode("ascii")


_B64_SPACE = re.compile(rb"\s+")
_B64_URLSAFE = bytes.maketrans(b"-_", b"+/")


def b64decode_loose(data: str | bytes) -> bytes:
    """Base64 as the working client reads it (docs/protocol/accepted.md#live-view): padding is
    not checked (missing or extra `=`), nor are the unused bits of the last character
    (non-canonical), line breaks or the URL-safe alphabet; any other character is an error
    (binascii.Error)."""
    raw = data.encode("ascii", "replace") if isinstance(data, str) else bytes(data)
    raw = _B64_SPACE.sub(b"", raw).translate(_B64_URLSAFE).rstrip(b"=")
    if len(raw) % 4 == 1:
        raw = raw[:-1]  # a lone trailing character carries no whole byte
    return base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)


def open_data(data: str, key: bytes) -> dict[str, Any]:
    """Inverse of :func:`seal_data`; ProtocolError when it does not open to a JSON object.
    Both Base64 layers are read loosely (:func:`b64decode_loose`)."""
    try:
        first = rc4(key, b64decode_loose(data))
        loaded = safejson.loads(b64decode_loose(first))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ProtocolError("signalling data does not open") from err
    if not isinstance(loaded, dict):
        raise ProtocolError("signalling data is not an object")
    return loaded


def envelope(sn: str, tm_ms: int, inner: Mapping[str, Any], key: bytes, **extra: Any) -> str:
    """The compact JSON envelope carried in XMSG signalling."""
    body = {"model": "netsdk", "sn": sn, "tm": str(tm_ms), "data": seal_data(inner, key), **extra}
    return json.dumps(body, separators=(",", ":"))


def reply_key(message: Mapping[str, Any], secret_keys: Mapping[int, str]) -> bytes:
    """The key of a device reply: algo 0 (default) the fixed key, else secret_keys[index]."""
    if int(message.get("algo", 0) or 0) == 0:
        return BASE_CAPACITY_KEY
    index = int(message.get("index", 0) or 0)
    if index not in secret_keys:
        raise ProtocolError(f"unknown key index {index}")
    return secret_keys[index].encode("ascii")


def signalling_index(indices: Iterable[int]) -> int:
    """The app's pick: the sorted indices' element at position n // 3."""
    ordered = sorted(indices)
    if not ordered:
        raise ProtocolError("no secret keys")
    return ordered[len(ordered) // 3]


def urlsign(product_id: str, sn: str, reg_time: str) -> str:
    """getRelaySign's `urlsign`: sorted k=v pairs, no separator, URLSIGN_SECRET, MD5."""
    params = {"product_id": product_id, "sn": sn, "reg_time": reg_time}
    text = "".join(f"{k}={params[k]}" for k in sorted(params)) + URLSIGN_SECRET
    return hashlib.md5(text.encode()).hexdigest()


def schedule_sign(core: Mapping[str, str]) -> str:
    """`/substream`'s `_sign`: the 7 core params sorted, `k__v` concatenated, MD5, no secret."""
    return hashlib.md5("".join(f"{k}__{core[k]}" for k in sorted(core)).encode()).hexdigest()


def strip_substream(body: str) -> dict[str, Any]:
    """A `/substream` answer: drop the junk at offsets 3..5, re-pad, Base64, JSON."""
    text = body.strip()
    cleaned = text[:3] + text[6:]
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        loaded = safejson.loads(base64.b64decode(cleaned, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ProtocolError("scheduler answer does not decode") from err
    if not isinstance(loaded, dict):
        raise ProtocolError("scheduler answer is not an object")
    return loaded


def machine_id(m2: str) -> str:
    """A stable viewer id the client invents: UUIDv5 (URL namespace) of botslab-machine-id:<m2>."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"botslab-machine-id:{m2}"))


def requester_id(m2: str) -> str:
    return hashlib.md5(f"botslab-requester:{m2}".encode()).hexdigest() + "_1"
