"""Media references: what playing an event's clip or showing its snapshot needs, carried in the
media browser's identifiers and the views' paths, sealed.

A message id is opaque (docs/protocol/cloud-api.md#messages), so a clip cannot be found again by id
arithmetic on the message list. The reference carries the device, the message id, its `ctime`, the
clip's `aliyun://` URL, key and `encrypt`, and the snapshot's signed URL; the list is asked only
when a link expired. It is sealed with ChaCha20-Poly1305 under a key of this Home Assistant
(kept in its storage), bound to the config entry: nobody can make Home Assistant fetch a URL
of their choosing through it, and the clip key never shows in a URL, a log or the frontend.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
import json
import secrets
from typing import Any

from Crypto.Cipher import ChaCha20_Poly1305
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .api import Event

STORAGE_KEY = "botslab.media_key"
STORAGE_VERSION = 1
DATA_KEY = "media_key"


@dataclass(frozen=True, slots=True)
class MediaRef:
    """One event's media, as the message list gave it."""

    serial: str
    msg_id: str
    ctime: int
    video_url: str = field(default="", repr=False)
    secretkey: str = field(default="", repr=False)
    encrypt: str = "none"
    image_url: str = field(default="", repr=False)

    @classmethod
    def of(cls, event: Event) -> MediaRef:
        return cls(
            event.serial,
            event.id,
            event.ctime,
            event.video.url if event.video else "",
            event.video.secretkey if event.video else "",
            event.video.encrypt if event.video else "none",
            event.image.url if event.image else "",
        )

    @property
    def has_clip(self) -> bool:
        return bool(self.video_url)

    @property
    def has_image(self) -> bool:
        return bool(self.image_url)

    @property
    def encrypted(self) -> bool:
        return self.encrypt not in ("", "none")

    def _fields(self) -> list[Any]:
        return [
            self.serial,
            self.msg_id,
            self.ctime,
            self.video_url,
            self.secretkey,
            self.encrypt,
            self.image_url,
        ]


async def async_load_key(hass: HomeAssistant) -> bytes:
    """This Home Assistant's sealing key: made once, kept in its storage."""
    store: Store[dict[str, str]] = Store(hass, STORAGE_VERSION, STORAGE_KEY, private=True)
    stored = await store.async_load()
    try:
        key = bytes.fromhex(stored["key"]) if stored else b""
    except (KeyError, TypeError, ValueError):
        key = b""
    if len(key) != 32:
        key = secrets.token_bytes(32)
        await store.async_save({"key": key.hex()})
    return key


def seal(key: bytes, entry_id: str, ref: MediaRef) -> str:
    """The reference as a URL-safe token, for one config entry."""
    nonce = secrets.token_bytes(12)
    cipher = ChaCha20_Poly1305.new(key=key, nonce=nonce)
    cipher.update(entry_id.encode())
    plain = json.dumps(ref._fields(), separators=(",", ":")).encode()
    sealed, tag = cipher.encrypt_and_digest(plain)
    return base64.urlsafe_b64encode(nonce + sealed + tag).rstrip(b"=").decode()


def unseal(key: bytes, entry_id: str, token: str) -> MediaRef | None:
    """The reference a token carries, or None when it is not one of ours for this entry."""
    if not 40 <= len(token) <= 4096:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) < 12 + 16 + 2:
        return None
    cipher = ChaCha20_Poly1305.new(key=key, nonce=raw[:12])
    cipher.update(entry_id.encode())
    try:
        plain = cipher.decrypt_and_verify(raw[12:-16], raw[-16:])
        values = json.loads(plain)
    except (ValueError, KeyError):
        return None
    if not isinstance(values, list) or len(values) != 7:
        return None
    serial, msg_id, ctime, video_url, secretkey, encrypt, image_url = values
    if not all(isinstance(v, str) for v in (serial, msg_id, video_url, secretkey, encrypt)):
        return None
    if not isinstance(ctime, int) or not isinstance(image_url, str):
        return None
    return MediaRef(serial, msg_id, ctime, video_url, secretkey, encrypt, image_url)
