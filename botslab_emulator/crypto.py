"""Server-side cryptography of the BOTSLAB cloud (docs/protocol/cloud-api.md,
docs/protocol/media.md).

An independent implementation of the server's half: it decrypts what clients encrypt and
encrypts what clients decrypt. It must never import the client package.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
import hashlib
import re
import secrets
import string

from Crypto.Cipher import DES, ChaCha20, PKCS1_v1_5
from Crypto.PublicKey import RSA
from Crypto.Util.Padding import pad, unpad

QUC_SIG_SUFFIXES: tuple[str, ...] = ("73e5dba4", "")
APP_SECRET = "qihu_adr_3afg139513ksgnlah1951365saa351a9z_360"  # noqa: S105 - app-wide, public
ALNUM = string.ascii_letters + string.digits


class EnvelopeError(ValueError):
    """The QUC envelope could not be opened (bad Base64, wrong key, bad padding)."""


def md5_hex(text: str | bytes) -> str:
    """Lowercase hex MD5 of a string (UTF-8) or bytes."""
    data = text.encode() if isinstance(text, str) else text
    return hashlib.md5(data).hexdigest()


def quc_sig(params: Mapping[str, str], suffix: str) -> str:
    """The QUC `sig`: sorted `name=value` pairs (except `sig`), raw values, plus a suffix."""
    body = "".join(f"{name}={params[name]}" for name in sorted(params) if name != "sig")
    return md5_hex(body + suffix)


def quc_sig_ok(params: Mapping[str, str]) -> bool:
    """Whether `params['sig']` matches under any tenant suffix the sources report."""
    sig = params.get("sig", "")
    return any(secrets.compare_digest(sig, quc_sig(params, s)) for s in QUC_SIG_SUFFIXES)


def api_sign(appkey: str, m2: str, sign_ts: str, sign_no: str) -> str:
    """The sapp-api `sign`: MD5 of appkey + m2 + sign_ts + sign_no + APP_SECRET."""
    return md5_hex(appkey + m2 + sign_ts + sign_no + APP_SECRET)


def b64decode_loose(text: str) -> bytes:
    """Base64 with or without padding; standard alphabet, also URL-safe. Strict otherwise."""
    cleaned = text.strip().replace("-", "+").replace("_", "/").replace(" ", "+")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as err:
        raise EnvelopeError("bad base64") from err


def des_encrypt(plaintext: bytes, key8: bytes) -> bytes:
    """Single DES-CBC, key = IV = the 8 key bytes, PKCS#7."""
    return DES.new(key8, DES.MODE_CBC, iv=key8).encrypt(pad(plaintext, 8))


def des_decrypt(ciphertext: bytes, key8: bytes) -> bytes:
    """Inverse of :func:`des_encrypt`; raises EnvelopeError on bad length or padding."""
    if not ciphertext or len(ciphertext) % 8:
        raise EnvelopeError("bad ciphertext length")
    try:
        return unpad(DES.new(key8, DES.MODE_CBC, iv=key8).decrypt(ciphertext), 8)
    except ValueError as err:
        raise EnvelopeError("bad padding") from err


def des_key_of(key_string: str) -> bytes:
    """The DES key is the last 8 characters of the random key string."""
    if len(key_string) < 8:
        raise EnvelopeError("key string too short")
    return key_string[-8:].encode("ascii", "strict")


class QucKeyPair:
    """The emulator's own RSA pair standing in for the QUC key (nobody has the real one)."""

    def __init__(self, key: RSA.RsaKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> QucKeyPair:
        return cls(RSA.generate(1024))

    @classmethod
    def from_pem(cls, pem: str) -> QucKeyPair:
        return cls(RSA.import_key(pem))

    def private_pem(self) -> str:
        pem: bytes = self._key.export_key("PEM")
        return pem.decode()

    def public_spki_b64(self) -> str:
        """SubjectPublicKeyInfo, Base64 (DER), as docs/protocol/README.md writes the real key."""
        der: bytes = self._key.publickey().export_key("DER")  # type: ignore[no-untyped-call]
        return base64.b64encode(der).decode()

    def decrypt_key_string(self, key_b64: str) -> str:
        """RSA PKCS#1 v1.5 decryption of the `key` field to the random key string."""
        raw = b64decode_loose(key_b64)
        if len(raw) != self._key.size_in_bytes():
            raise EnvelopeError("wrong RSA block size")
        sentinel = secrets.token_bytes(16)
        try:
            plain = PKCS1_v1_5.new(self._key).decrypt(raw, sentinel)
        except ValueError as err:  # e.g. a ciphertext larger than our modulus (another key)
            raise EnvelopeError("RSA decryption failed") from err
        if plain == sentinel or not plain:
            raise EnvelopeError("RSA decryption failed")
        try:
            text = plain.decode("ascii")
        except UnicodeDecodeError as err:
            raise EnvelopeError("key string is not ASCII") from err
        if not 8 <= len(text) <= 117:
            raise EnvelopeError("key string length")
        return text


def random_alnum(n: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(n))


# --- ChaCha20 for clips (docs/protocol/media.md#clip-encryption,
# docs/protocol/live-video.md#cipher, docs/protocol/live-video.md#escape-bytes)
# ---------------------------------

H264_BOUNDARY = 0x100
AAC_IV_OFFSET = 0x14
AAC_DATA_OFFSET = 0x20


def chacha_xor(key32: bytes, iv12: bytes, data: bytes) -> bytes:
    """Standard ChaCha20, 8-byte nonce = IV[0:8], initial block = little-endian u64 of IV[4:12]."""
    cipher = ChaCha20.new(key=key32, nonce=iv12[:8])
    cipher.seek(int.from_bytes(iv12[4:12], "little") * 64)
    return cipher.encrypt(data)


_NEEDS_ESCAPE = re.compile(b"\x00\x00[\x00-\x03]")


def nal_unescape(nal: bytes) -> bytes:
    """Remove emulation-prevention bytes (a 03 after 00 00)."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def nal_escape(rbsp: bytes) -> bytes:
    """Standard escape: 03 after 00 00 before any byte <= 03, and after a trailing 00."""
    if not _NEEDS_ESCAPE.search(rbsp) and not rbsp.endswith(b"\x00"):
        return rbsp
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if out and out[-1] == 0:
        out.append(3)
    return bytes(out)


def encrypt_slice_nal(nal: bytes, key32: bytes) -> bytes:
    """Canonical slice encryption (docs/protocol/media.md#clip-encryption,
    docs/protocol/live-video.md#escape-bytes's v0.2 rule): the clear part is the first 0x100 bytes
    in raw positions, so the boundary b is the first RBSP byte whose raw position is >= 0x100;
    ChaCha over RBSP[b:] (IV = RBSP[b-12:b]), then the standard escape. `nal` starts at the NAL
    header byte; slices of 0x100 bytes or less stay clear."""
    rbsp = nal_unescape(nal)
    if len(nal) <= H264_BOUNDARY:
        return nal
    # the RBSP index of the first byte at raw position >= 0x100
    zeros = 0
    boundary = len(rbsp)
    index = 0
    for raw_pos, byte in enumerate(nal):
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        if raw_pos >= H264_BOUNDARY:
            boundary = index
            break
        index += 1
        zeros = zeros + 1 if byte == 0 else 0
    if boundary < 12 or boundary >= len(rbsp):
        return nal
    cipher = chacha_xor(key32, rbsp[boundary - 12 : boundary], rbsp[boundary:])
    return nal_escape(rbsp[:boundary] + cipher)


def iter_annexb_nals(es: bytes) -> Iterable[tuple[int, int]]:
    """(start, end) of each NAL payload in an Annex-B byte stream (start codes excluded)."""
    starts: list[int] = []
    i = 0
    n = len(es)
    while i + 3 <= n:
        if es[i] == 0 and es[i + 1] == 0 and es[i + 2] == 1:
            starts.append(i + 3)
            i += 3
        else:
            i += 1
    for idx, start in enumerate(starts):
        end = starts[idx + 1] - 3 if idx + 1 < len(starts) else n
        # a zero before the next start code belongs to a 4-byte start code
        while idx + 1 < len(starts) and end > start and es[end - 1] == 0:
            end -= 1
        yield start, end
