"""Snapshots and clips: real JPEGs behind expiring signed URLs, real HLS, ChaCha20 variant."""

from __future__ import annotations

import io

import aiohttp
import av
from Crypto.Cipher import ChaCha20
from PIL import Image

from .conftest import World


def chacha(key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = ChaCha20.new(key=key, nonce=iv[:8])
    cipher.seek(int.from_bytes(iv[4:12], "little") * 64)
    return cipher.decrypt(data)


def decrypt_access_unit(au: bytes, key: bytes) -> bytes:
    """The test's own slice decryption (protocol.md 3.3): IV = nal[0xF4:0x100], data from 0x100."""
    out = bytearray(au)
    starts = [i + 3 for i in range(len(au) - 2) if au[i : i + 3] == b"\x00\x00\x01"]
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(au)
        while n + 1 < len(starts) and au[end - 1] == 0:
            end -= 1
        if au[start] & 0x1F in (1, 5) and end - start > 0x100:
            nal = au[start:end]
            assert b"\x00\x00\x03" not in nal
            out[start + 0x100 : end] = chacha(key, nal[0xF4:0x100], nal[0x100:])
    return bytes(out)


def decrypt_adts(frame: bytes, key: bytes) -> bytes:
    header = 7 if frame[1] & 1 else 9
    payload = frame[header:]
    if len(payload) <= 0x20:
        return frame
    return frame[:header] + payload[:0x20] + chacha(key, payload[0x14:0x20], payload[0x20:])


def packets(ts: bytes) -> list[tuple[str, bytes]]:
    with av.open(io.BytesIO(ts)) as container:
        return [(p.stream.type, bytes(p)) for p in container.demux() if p.size]


async def latest(world: World, http: aiohttp.ClientSession) -> dict:  # type: ignore[type-arg]
    return (await world.alice.get(http, "/v2/message/list"))["data"]["items"][0]["tdata"]  # type: ignore[no-any-return]


async def fetch_segments(world: World, http: aiohttp.ClientSession, video_url: str) -> list[bytes]:
    play = (await world.alice.get(http, "/v1/oss/get_play_url", {"url": video_url}))["data"]["url"]
    async with http.get(play) as resp:
        assert resp.status == 200
        playlist = await resp.text()
    assert playlist.startswith("#EXTM3U") and "#EXT-X-ENDLIST" in playlist
    segments = []
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            async with http.get(line) as resp:
                assert resp.status == 200 and resp.content_type == "video/mp2t"
                segments.append(await resp.read())
    return segments


async def test_snapshot_is_a_jpeg_behind_an_expiring_url(
    world: World, http: aiohttp.ClientSession
) -> None:
    emu = world.emu
    await emu.trigger(world.door, "ring")
    image = (await latest(world, http))["image"]
    async with http.get(image["url"]) as resp:
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        img = Image.open(io.BytesIO(await resp.read()))
        img.load()
    assert img.format == "JPEG" and img.size == (640, 360)
    async with http.get(image["url"].replace("Signature=", "Signature=x")) as resp:
        assert resp.status == 403
    await http.post(f"{emu.base_url}/_emulator/clock", json={"advance": 3700})
    async with http.get(image["url"]) as resp:
        assert resp.status == 403 and "expired" in await resp.text()
    fresh = (await latest(world, http))["image"]
    async with http.get(fresh["url"]) as resp:
        assert resp.status == 200, "a fresh listing signs anew"


async def test_plain_clip_is_real_hls(world: World, http: aiohttp.ClientSession) -> None:
    await world.emu.trigger(world.cam, "person")
    video = (await latest(world, http))["video"]
    assert video["encrypt"] == "none" and video["duration"] > 0
    segments = await fetch_segments(world, http, video["url"])
    assert len(segments) >= 2
    decoded = 0
    for seg in segments:
        with av.open(io.BytesIO(seg)) as container:
            assert {s.type for s in container.streams} == {"video", "audio"}
            decoded += sum(1 for _ in container.decode(video=0))
    assert decoded >= 30


async def test_encrypted_clip_decrypts_to_the_plain_frames(
    world: World, http: aiohttp.ClientSession
) -> None:
    emu = world.emu
    await emu.trigger(world.door, "person")
    encrypted = (await latest(world, http))["video"]
    assert encrypted["encrypt"] == "chacha2" and len(encrypted["secretkey"]) == 32
    await http.post(f"{emu.base_url}/_emulator/devices/{world.door}", json={"clip_encrypt": "none"})
    await emu.trigger(world.door, "person")
    plain = (await latest(world, http))["video"]
    assert plain["encrypt"] == "none"
    key = encrypted["secretkey"].encode()
    enc_segments = await fetch_segments(world, http, encrypted["url"])
    plain_segments = await fetch_segments(world, http, plain["url"])
    changed = 0
    for enc, clear in zip(enc_segments, plain_segments, strict=True):
        assert len(enc) == len(clear) and enc != clear
        for (kind, e), (kind2, c) in zip(packets(enc), packets(clear), strict=True):
            assert kind == kind2
            d = decrypt_access_unit(e, key) if kind == "video" else decrypt_adts(e, key)
            assert d == c
            changed += e != c
    assert changed > 10
    # and the plain frames decode
    with av.open(io.BytesIO(plain_segments[0])) as container:
        assert sum(1 for _ in container.decode(video=0)) > 10


async def test_clip_urls_are_checked(world: World, http: aiohttp.ClientSession) -> None:
    await world.emu.trigger(world.cam, "motion")
    video = (await latest(world, http))["video"]
    play = (await world.alice.get(http, "/v1/oss/get_play_url", {"url": video["url"]}))["data"][
        "url"
    ]
    async with http.get(play.replace("m3u8", "m3u9")) as resp:
        assert resp.status == 403
    async with http.get(play.split("?")[0]) as resp:
        assert resp.status == 403
