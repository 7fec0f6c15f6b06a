"""The client's cryptography (docs/protocol/cloud-api.md, docs/protocol/media.md).

Pure functions: MD5 signatures, the QUC DES/RSA envelope, the sapp-api `sign`, and the
ChaCha20 decryption of clip segments (MPEG-TS in, MPEG-TS out).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
import hashlib
import re
import secrets
import string
from urllib.parse import quote_plus

from Crypto.Cipher import DES, ChaCha20, PKCS1_v1_5
from Crypto.PublicKey import RSA
from Crypto.Util.Padding import pad, unpad

from .endpoints import APP_SECRET
from .exceptions import ProtocolError

_ALNUM = string.ascii_letters + string.digits
KEY_STRING_LENGTH = 117


def md5_hex(text: str | bytes) -> str:
    """Lowercase hex MD5 of a string (UTF-8) or bytes."""
    return hashlib.md5(text.encode() if isinstance(text, str) else text).hexdigest()


def quc_sig(params: Mapping[str, str], suffix: str) -> str:
    """QUC `sig`: names sorted by code point (except `sig`), `name=value` with raw values,
    no separator, the tenant suffix appended, MD5."""
    return md5_hex("".join(f"{k}={params[k]}" for k in sorted(params) if k != "sig") + suffix)


def api_sign(appkey: str, m2: str, sign_ts: str, sign_no: str) -> str:
    """sapp-api `sign` = MD5(appkey + m2 + sign_ts + sign_no + APP_SECRET)."""
    return md5_hex(appkey + m2 + sign_ts + sign_no + APP_SECRET)


def random_alnum(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def des_encrypt(plain: bytes, key8: bytes) -> bytes:
    """Single DES-CBC with key = IV, PKCS#7 padding."""
    return DES.new(key8, DES.MODE_CBC, iv=key8).encrypt(pad(plain, 8))


def des_decrypt(data: bytes, key8: bytes) -> bytes:
    """Inverse of :func:`des_encrypt`; ProtocolError on bad length or padding."""
    if not data or len(data) % 8:
        raise ProtocolError("DES data length is not a multiple of 8")
    try:
        return unpad(DES.new(key8, DES.MODE_CBC, iv=key8).decrypt(data), 8)
    except ValueError as err:
        raise ProtocolError("bad DES padding") from err


def b64decode(text: str) -> bytes:
    """Base64, padded or not; ProtocolError otherwise."""
    cleaned = text.strip()
    try:
        return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError) as err:
        raise ProtocolError("bad base64") from err


@dataclass(frozen=True, slots=True)
class Envelope:
    """An encrypted QUC request: `parad`, `key`, and the DES key that opens the answer."""

    parad: str
    key: str
    des_key: bytes


def seal(params: Mapping[str, str], rsa_public_key_b64: str) -> Envelope:
    """Encrypt the inner parameters (docs/protocol/cloud-api.md#account-login, "Envelope")."""
    plaintext = "&".join(f"{k}={quote_plus(v, safe='')}" for k, v in params.items())
    key_string = random_alnum(KEY_STRING_LENGTH)
    des_key = key_string[-8:].encode()
    try:
        rsa = RSA.import_key(base64.b64decode(rsa_public_key_b64))
    except (ValueError, IndexError, TypeError, binascii.Error) as err:
        raise ProtocolError("bad QUC public key") from err
    parad = base64.b64encode(des_encrypt(plaintext.encode(), des_key)).decode()
    key = base64.b64encode(PKCS1_v1_5.new(rsa).encrypt(key_string.encode())).decode()
    return Envelope(parad, key, des_key)


def open_ret(ret: str, des_key: bytes) -> bytes:
    """Decrypt a QUC answer's `ret`."""
    return des_decrypt(b64decode(ret), des_key)


# --- clip decryption ---------------------------------------------------------------------------

H264_BOUNDARY = 0x100
AAC_IV = 0x14
AAC_DATA = 0x20
TS = 188
_NEEDS_ESCAPE = re.compile(b"\x00\x00[\x00-\x03]")


def chacha20(key: bytes, iv12: bytes, data: bytes) -> bytes:
    """ChaCha20 with an 8-byte nonce = IV[0:8] and initial block = u64 LE of IV[4:12]."""
    cipher = ChaCha20.new(key=key, nonce=iv12[:8])
    cipher.seek(int.from_bytes(iv12[4:12], "little") * 64)
    return cipher.decrypt(data)


def clip_key(secretkey: str) -> bytes:
    """The 32 ASCII bytes of a message's `secretkey`, NUL-padded or cut to 32."""
    return secretkey.encode("ascii", "replace")[:32].ljust(32, b"\x00")


def unescape(nal: bytes) -> bytes:
    """Drop emulation-prevention bytes (03 after 00 00)."""
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


def escape(rbsp: bytes) -> bytes:
    """Insert 03 after 00 00 before any byte <= 03 (and after a trailing 00)."""
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


def decrypt_slice(nal: bytes, key: bytes) -> bytes:
    """One H.264 slice NAL (from its header byte): drop the escape bytes, decrypt the RBSP
    from the first byte whose *raw* position is >= 0x100 (IV = the 12 RBSP bytes before it),
    escape again. The clear 0x100 bytes count in raw positions, for clips as for live video
    (docs/protocol/media.md#escape-bytes, docs/protocol/live-video.md#escape-bytes): a slice with
    escape bytes early on is decrypted from the right place."""
    rbsp = bytearray()
    boundary = None
    zeros = 0
    for raw_pos, byte in enumerate(nal):
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        if boundary is None and raw_pos >= H264_BOUNDARY:
            boundary = len(rbsp)
        rbsp.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if boundary is None or boundary < 12:
        return nal  # 0x100 bytes or less: clear
    plain = bytes(rbsp[:boundary]) + chacha20(
        key, bytes(rbsp[boundary - 12 : boundary]), bytes(rbsp[boundary:])
    )
    return escape(plain)


def nal_spans(es: bytes) -> Iterator[tuple[int, int]]:
    """(start, end) of each NAL of an Annex-B stream; zeros before a start code belong to it."""
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", es)]
    for idx, start in enumerate(starts):
        end = starts[idx + 1] - 3 if idx + 1 < len(starts) else len(es)
        while idx + 1 < len(starts) and end > start and es[end - 1] == 0:
            end -= 1
        yield start, end


def decrypt_access_unit(
    es: bytes, key: bytes, slice_decrypt: Callable[[bytes, bytes], bytes] | None = None
) -> bytes:
    """Decrypt every slice (NAL types 1 and 5) of an Annex-B byte stream; other NALs pass
    untouched. `slice_decrypt` defaults to the clips' reading (:func:`decrypt_slice`)."""
    slice_decrypt = slice_decrypt or decrypt_slice
    out = bytearray()
    pos = 0
    for start, end in nal_spans(es):
        if end > start and es[start] & 0x1F in (1, 5):
            out += es[pos:start]
            out += slice_decrypt(es[start:end], key)
            pos = end
    out += es[pos:]
    return bytes(out)


def _adts_frame(es: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(header size, frame length) of an ADTS frame starting at `pos`, or None."""
    if pos + 7 > len(es) or es[pos] != 0xFF or es[pos + 1] & 0xF6 != 0xF0:
        return None
    header = 7 if es[pos + 1] & 1 else 9
    length = ((es[pos + 3] & 3) << 11) | (es[pos + 4] << 3) | (es[pos + 5] >> 5)
    return (header, length) if length >= header else None


def decrypt_adts(es: bytes, key: bytes) -> bytes:
    """Decrypt each ADTS frame's payload from 0x20 (IV at 0x14), over an audio stream joined
    from its PES packets (a frame may span them, docs/protocol/media.md#clip-encryption). Bytes
    before the first frame, or between frames that do not follow each other, pass through as they
    are; a frame cut off at the end is decrypted as far as it goes."""
    out = bytearray(es)
    pos = 0
    synced = False
    while pos + 7 <= len(es):
        frame = _adts_frame(es, pos)
        if frame is not None and not synced:
            # searching: a header counts when the next one follows it (or the data ends)
            after = pos + frame[1]
            synced = after + 7 > len(es) or _adts_frame(es, after) is not None
        if frame is None or not synced:
            synced = False
            pos += 1  # resync on the next frame header
            continue
        header, length = frame
        payload = pos + header
        end = min(pos + length, len(es))
        if end - payload > AAC_DATA:
            iv = es[payload + AAC_IV : payload + AAC_DATA]
            out[payload + AAC_DATA : end] = chacha20(key, iv, es[payload + AAC_DATA : end])
        pos += length
    return bytes(out)


def _payload(ts: bytes, off: int) -> tuple[int, int, bool, int, int]:
    """(payload start, payload end, unit start, pid, adaptation control) of one TS packet."""
    if ts[off] != 0x47:
        raise ProtocolError("MPEG-TS sync byte missing")
    pusi = bool(ts[off + 1] & 0x40)
    pid = ((ts[off + 1] & 0x1F) << 8) | ts[off + 2]
    afc = (ts[off + 3] >> 4) & 3
    start = off + 4 + (1 + ts[off + 4] if afc in (2, 3) else 0)
    end = off + TS
    if afc in (0, 2) or start > end:
        start = end
    return start, end, pusi, pid, afc


def _elementary_pids(ts: bytes) -> dict[int, int]:
    """PID → stream type, from the segment's PAT/PMT; a segment without them (real clips
    carry them in the first segment only) by its PES stream ids: video 0xE0-0xEF is taken
    for H.264, audio 0xC0-0xDF for AAC in ADTS, the two types clips are seen with."""
    pmt = None
    guessed: dict[int, int] = {}
    for off in range(0, len(ts), TS):
        start, end, pusi, pid, _afc = _payload(ts, off)
        if not pusi or start >= end:
            continue
        if ts[start : start + 3] == b"\x00\x00\x01" and end - start > 3 and pid not in guessed:
            stream_id = ts[start + 3]
            if 0xE0 <= stream_id <= 0xEF:
                guessed[pid] = 0x1B
            elif 0xC0 <= stream_id <= 0xDF:
                guessed[pid] = 0x0F
            continue
        sec = ts[start + 1 + ts[start] : end]
        if pid == 0 and pmt is None and len(sec) >= 12:
            pmt = ((sec[10] & 0x1F) << 8) | sec[11]
        elif pmt is not None and pid == pmt and len(sec) >= 12:
            end_sec = 3 + (((sec[1] & 0x0F) << 8) | sec[2]) - 4
            pos = 12 + (((sec[10] & 0x0F) << 8) | sec[11])
            found: dict[int, int] = {}
            while pos + 5 <= min(end_sec, len(sec)):
                found[((sec[pos + 1] & 0x1F) << 8) | sec[pos + 2]] = sec[pos]
                pos += 5 + (((sec[pos + 3] & 0x0F) << 8) | sec[pos + 4])
            return found
    if not guessed:
        raise ProtocolError("no PAT/PMT and no audio or video in segment")
    return guessed


def _packetize(pid: int, data: bytes, first_header: bytes) -> list[bytes]:
    """TS packets carrying `data` (one PES), the first keeping its original adaptation field."""
    packets = []
    pos = 0
    first = True
    while pos < len(data) or first:
        if first:
            afc = (first_header[3] >> 4) & 3
            adapt = first_header[4 : 5 + first_header[4]] if afc in (2, 3) else b""
            head = bytes([0x47, 0x40 | (pid >> 8), pid & 0xFF])
        else:
            adapt = b""
            head = bytes([0x47, pid >> 8, pid & 0xFF])
        room = TS - 4 - len(adapt)
        chunk = data[pos : pos + room]
        pos += len(chunk)
        if len(chunk) < room:  # stuff the rest with an adaptation field
            need = room - len(chunk)
            if adapt:
                adapt = bytes([adapt[0] + need]) + adapt[1:] + b"\xff" * need
            elif need == 1:
                adapt = b"\x00"
            else:
                adapt = bytes([need - 1, 0x00]) + b"\xff" * (need - 2)
        packets.append(head + bytes([0x30 if adapt else 0x10]) + adapt + chunk)
        first = False
    return packets


def decrypt_clip_segment(ts: bytes, secretkey: str) -> bytes:
    """Decrypt a `chacha2` clip segment (docs/protocol/media.md#clip-encryption): MPEG-TS bytes in,
    MPEG-TS bytes out.

    TS and PES headers stay as they are. H.264 slices are decrypted per PES (the clear 0x100
    bytes counted in raw positions); where a slice changes length (escape bytes), its PES is
    packetized anew and continuity counters are renumbered. AAC frames are decrypted over
    the segment's audio joined from all its PES packets, as a frame may span them. A segment
    without its own PAT/PMT, or ending in part of a packet (real last segments), is taken:
    the partial packet passes through.
    """
    whole = len(ts) - len(ts) % TS
    tail = ts[whole:]
    ts = ts[:whole]
    key = clip_key(secretkey)
    streams = _elementary_pids(ts)
    video = {pid for pid, st in streams.items() if st == 0x1B}
    audio = {pid for pid, st in streams.items() if st == 0x0F}
    # the packets of each PES, in order
    groups: dict[int, list[int]] = {}
    pes_list: list[tuple[int, list[int]]] = []
    for off in range(0, len(ts), TS):
        start, end, pusi, pid, _afc = _payload(ts, off)
        if pid not in video | audio or start >= end:
            continue
        if pusi or pid not in groups:
            groups[pid] = []
            pes_list.append((pid, groups[pid]))
        groups[pid].append(off)
    out = bytearray(ts)
    _decrypt_audio(ts, out, [(p, o) for p, o in pes_list if p in audio], key)
    replaced: dict[int, list[bytes]] = {}
    skip: set[int] = set()
    for pid, offs in pes_list:
        if pid not in video:
            continue
        spans = [_payload(ts, o)[:2] for o in offs]
        data = b"".join(ts[s:e] for s, e in spans)
        if len(data) < 9 or data[:3] != b"\x00\x00\x01":
            continue
        es_off = 9 + data[8]
        new = data[:es_off] + decrypt_access_unit(data[es_off:], key)
        if len(new) == len(data):
            pos = 0
            for s, e in spans:
                out[s:e] = new[pos : pos + e - s]
                pos += e - s
            continue
        if data[4] or data[5]:  # PES_packet_length is set: correct it
            length = len(new) - 6
            new = new[:4] + bytes([(length >> 8) & 0xFF, length & 0xFF]) + new[6:]
        replaced[offs[0]] = _packetize(pid, new, ts[offs[0] : offs[0] + TS])
        skip.update(offs[1:])
    if not replaced:
        return bytes(out) + tail
    result = bytearray()
    counters: dict[int, int] = {}
    for off in range(0, len(ts), TS):
        if off in skip:
            continue
        for packet in replaced.get(off, [bytes(out[off : off + TS])]):
            pid = ((packet[1] & 0x1F) << 8) | packet[2]
            if pid in video and packet[3] & 0x10:
                cc = (counters.get(pid, (packet[3] & 0x0F) - 1) + 1) & 0x0F
                counters[pid] = cc
                result += packet[:3] + bytes([(packet[3] & 0xF0) | cc]) + packet[4:]
            else:
                result += packet
    return bytes(result) + tail


def _decrypt_audio(
    ts: bytes, out: bytearray, pes_list: list[tuple[int, list[int]]], key: bytes
) -> None:
    """Each audio PID's elementary stream joined over the segment, its ADTS frames
    decrypted, the bytes written back where they came from (lengths do not change)."""
    places: dict[int, list[tuple[int, int]]] = {}  # pid -> (ts offset, length) of ES bytes
    for pid, offs in pes_list:
        spans = [_payload(ts, o)[:2] for o in offs]
        data = b"".join(ts[s:e] for s, e in spans)
        skip = 9 + data[8] if len(data) >= 9 and data[:3] == b"\x00\x00\x01" else len(data)
        for s, e in spans:  # drop the PES header from the first spans
            cut = min(skip, e - s)
            skip -= cut
            if e - s - cut > 0:
                places.setdefault(pid, []).append((s + cut, e - s - cut))
    for spans in places.values():
        es = b"".join(ts[s : s + n] for s, n in spans)
        plain = decrypt_adts(es, key)
        pos = 0
        for s, n in spans:
            out[s : s + n] = plain[pos : pos + n]
            pos += n
