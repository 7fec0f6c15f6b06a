"""Snapshots and clips: real JPEGs behind expiring signed URLs, real HLS, ChaCha20 variant."""

from __future__ import annotations

import io
import itertools

import aiohttp
import av
from Crypto.Cipher import ChaCha20
from PIL import Image
import pytest

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_USER

from ..conftest import new_world
from .conftest import World


def chacha(key: bytes, iv: bytes, data: bytes) -> bytes:
    cipher = ChaCha20.new(key=key, nonce=iv[:8])
    cipher.seek(int.from_bytes(iv[4:12], "little") * 64)
    return cipher.decrypt(data)


def decrypt_access_unit(au: bytes, key: bytes) -> bytes:
    """The test's own slice decryption (docs/protocol/media.md#clip-encryption,
    docs/protocol/live-video.md#escape-bytes's v0.2 rule): drop the escape bytes, decrypt from the
    first RBSP byte at raw position >= 0x100 (IV = the 12 before it), escape again."""
    starts = [i + 3 for i in range(len(au) - 2) if au[i : i + 3] == b"\x00\x00\x01"]
    out = bytearray()
    done = 0
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(au)
        while n + 1 < len(starts) and au[end - 1] == 0:
            end -= 1
        if au[start] & 0x1F not in (1, 5) or end - start <= 0x100:
            continue
        nal = au[start:end]
        rbsp, raw_of = bytearray(), []
        for i, byte in enumerate(nal):
            if byte == 3 and rbsp[-2:] == b"\x00\x00" and raw_of[-1] == i - 1:
                continue  # an escape byte (03 right after two RBSP zeros)
            rbsp.append(byte)
            raw_of.append(i)
        b = next(k for k, raw in enumerate(raw_of) if raw >= 0x100)
        plain = bytes(rbsp[:b]) + chacha(key, bytes(rbsp[b - 12 : b]), bytes(rbsp[b:]))
        escaped = bytearray()
        for byte in plain:
            if escaped[-2:] == b"\x00\x00" and byte <= 3:
                escaped.append(3)
            escaped.append(byte)
        out += au[done:start] + escaped
        done = end
    return bytes(out + au[done:])


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


@pytest.mark.parametrize("media", ["real", "canonical"])
async def test_encrypted_clip_decrypts_to_the_plain_frames(
    world: World, http: aiohttp.ClientSession, media: str
) -> None:
    emu = world.emu
    await http.post(f"{emu.base_url}/_emulator/faults", json={"clip_media": media})
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
    if media == "canonical":
        assert [len(e) for e in enc_segments] == [len(c) for c in plain_segments]
    else:  # what real clips have
        assert len(plain_segments[-1]) % 188, "the last segment ends in part of a packet"
        assert b"\x00\x00\x03" in b"".join(plain_segments), "slices carry escape bytes"
        pids = {
            ((s[i + 1] & 0x1F) << 8) | s[i + 2]
            for s in plain_segments[1:2]
            for i in range(0, len(s) - 187, 188)
        }
        assert 0 not in pids, "the second segment carries no PAT"
    changed = 0
    enc_packets, clear_packets = packets_of(enc_segments), packets_of(plain_segments)
    assert len(clear_packets) > 60
    for (kind, e), (kind2, c) in zip(enc_packets, clear_packets, strict=True):
        assert kind == kind2
        d = decrypt_access_unit(e, key) if kind == "video" else decrypt_adts(e, key)
        assert d == c
        changed += e != c
    assert changed > 10
    # and the plain frames decode
    with av.open(io.BytesIO(plain_segments[0])) as container:
        assert sum(1 for _ in container.decode(video=0)) > 10


def packets_of(segments: list[bytes]) -> list[tuple[str, bytes]]:
    """The packets of consecutive segments, demuxed as one stream (whole TS packets)."""
    return packets(b"".join(seg[: len(seg) - len(seg) % 188] for seg in segments))


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


def timestamps(ts: bytes) -> dict[str, list[int]]:
    """Each stream's DTS in order (whole packets of one segment)."""
    found: dict[str, list[int]] = {}
    with av.open(io.BytesIO(ts[: len(ts) - len(ts) % 188]), format="mpegts") as container:
        for packet in container.demux():
            if packet.size and packet.dts is not None:
                found.setdefault(packet.stream.type, []).append(packet.dts)
    return found


@pytest.mark.parametrize("encrypted", [False, True])
async def test_real_clip_segments_restart_their_timestamps(
    world: World, http: aiohttp.ClientSession, encrypted: bool
) -> None:
    """docs/protocol/media.md#clip-timestamps: real segments each start their PTS/DTS anew; the
    canonical form keeps one timeline."""
    await world.emu.trigger(world.door if encrypted else world.cam, "person")
    segments = await fetch_segments(world, http, (await latest(world, http))["video"]["url"])
    first, second = timestamps(segments[0]), timestamps(segments[1])
    assert second["video"][0] < first["video"][-1], "the second segment starts again"
    assert abs(second["video"][0] - first["video"][0]) < 90000 // 10
    await http.post(f"{world.emu.base_url}/_emulator/faults", json={"clip_media": "canonical"})
    await world.emu.trigger(world.door if encrypted else world.cam, "person")
    segments = await fetch_segments(world, http, (await latest(world, http))["video"]["url"])
    first, second = timestamps(segments[0]), timestamps(segments[1])
    assert second["video"][0] == first["video"][-1] + 6000, "one timeline, 15 fps"


async def test_media_behind_redirects(world: World, http: aiohttp.ClientSession) -> None:
    """`media_redirects: N`: every media object is N redirects away, each hop another path,
    on another host when `media_redirect_url` names one (here: the emulator by name)."""
    emu = world.emu
    await http.post(f"{emu.base_url}/_emulator/faults", json={"media_redirects": 2})
    await emu.trigger(world.door, "ring")
    url = (await latest(world, http))["image"]["url"]
    async with http.get(url, allow_redirects=False) as resp:
        assert resp.status == 302
        location = resp.headers["Location"]
    assert location.startswith("/oss-hop/1/") and "Signature=" in location, "relative"
    async with http.get(url) as resp:  # followed
        assert resp.status == 200 and resp.content_type == "image/jpeg"
        assert [str(h.url.path).split("/")[1:3] for h in resp.history] == [
            ["oss", url.split("/")[4]],
            ["oss-hop", "1"],
        ]
    other = f"http://localhost:{emu.port}"
    await http.post(f"{emu.base_url}/_emulator/faults", json={"media_redirect_url": other})
    async with http.get(url, allow_redirects=False) as resp:
        assert resp.headers["Location"].startswith(f"{other}/oss-hop/1/")
    async with http.get(url.replace("Signature=", "Signature=x"), allow_redirects=False) as resp:
        assert resp.status == 403, "a bad signature is refused before any redirect"


@pytest.mark.parametrize("encrypted", [False, True])
async def test_play_url_can_name_one_ts_file(
    world: World, http: aiohttp.ClientSession, encrypted: bool
) -> None:
    """`play_url_form: "ts"`: get_play_url names the whole clip as one MPEG-TS file, with one
    timeline, encrypted as the segments are."""
    emu = world.emu
    await emu.trigger(world.door if encrypted else world.cam, "person")
    video = (await latest(world, http))["video"]
    segments = await fetch_segments(world, http, video["url"])
    await http.post(f"{emu.base_url}/_emulator/faults", json={"play_url_form": "ts"})
    play = (await world.alice.get(http, "/v1/oss/get_play_url", {"url": video["url"]}))["data"]
    assert play["url"].split("?")[0].endswith(".ts")
    async with http.get(play["url"]) as resp:
        assert resp.status == 200 and resp.content_type == "video/mp2t"
        whole = await resp.read()
    assert packets(whole) == packets_of(segments), "the same frames, as they were encrypted"
    dts = timestamps(whole)["video"]
    assert all(b - a == 6000 for a, b in itertools.pairwise(dts)), "one timeline"


def test_the_camera_view_has_no_wrapped_pixels() -> None:
    """The sky's grain is added without wrapping: 254 + 2 stays 255 (in uint8 it became 0,
    dark dots down the right edge that looked like broken decryption)."""
    import numpy as np

    from botslab_emulator.media import camera_view

    for seed in range(5):
        view = camera_view((320, 240), np.random.default_rng(seed), textured=False, grain=40)
        sky = view[:120].astype(int)
        assert sky[:, -8:, 0].min() >= 240, "the right edge stays bright"
        assert (np.abs(np.diff(sky[..., 0], axis=1)) <= 4).all(), "no jump along the gradient"


async def test_clip_keys_are_found_once_per_process_and_never_repeat_within_an_emulator() -> None:
    """Finding a clean clip key encrypts a whole clip: the emulators of one process share
    the keys found, in order (the second one here draws the first one's), and one emulator
    never gives two messages one key."""

    def keys(emu: Emulator) -> list[str]:  # one per event: the owner's messages
        owner = emu.world.accounts.find(DEMO_USER)
        assert owner is not None
        return [m.secretkey for m in emu.world.messages.of(owner.qid) if m.secretkey]

    async with Emulator(new_world(), demo=True) as first:
        before = keys(first)
    async with Emulator(new_world(), demo=True) as second:
        for _ in range(30):  # past what the first one found: new keys are found too
            await second.trigger("BDX3A1B2C3D4", "ring")
        after = keys(second)
    assert before and len(after) >= len(before) + 30
    assert len(after) == len(set(after)), "a key given to two messages of one emulator"
    assert set(before) & set(after), "the second emulator found every key again"
