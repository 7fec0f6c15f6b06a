"""Every typed call and the session ladder of BotslabClient, against the emulator."""

from __future__ import annotations

import asyncio
import io

import aiohttp
from PIL import Image
import pytest

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_USER, NEIGHBOUR_USER
from custom_components.botslab.api import (
    ApiError,
    AuthExpired,
    BotslabClient,
    BotslabConnectionError,
    BotslabTimeoutError,
    DeviceKind,
    Endpoints,
    EventKind,
    PermissionDenied,
    SessionConflict,
    ShareLevel,
    SnapshotExpired,
    UpgradeState,
)

from .conftest import TokenLog, make_client

DOOR, GARDEN, LIVING, DRIVE = "BDX3A1B2C3D4", "BCC5E5F6A7B8", "BCC2C9D0E1F2", "BCC5A0B1C2D3"


async def device(client: BotslabClient, name: str):  # type: ignore[no-untyped-def]
    return next(d for d in await client.devices() if d.serial == name)


async def test_devices_kinds_and_roles(client: BotslabClient, tokens: TokenLog) -> None:
    devices = {d.serial: d for d in await client.devices()}
    assert set(devices) == {DOOR, GARDEN, LIVING, DRIVE}
    assert devices[DOOR].kind is DeviceKind.DOORBELL and devices[GARDEN].kind is DeviceKind.CAMERA
    assert devices[DOOR].owner and devices[DOOR].can_control
    drive = devices[DRIVE]
    assert not drive.owner and drive.share_level is ShareLevel.CONTROL and drive.can_control
    assert devices[GARDEN].title == "Garden" and devices[GARDEN].product_name == "Outdoor Camera C5"
    assert devices[DOOR].online and devices[DOOR].serial == DOOR
    assert len(tokens.calls) == 1 and tokens.calls[0][1] is not None, "the app login was reported"


async def test_device_paging(client: BotslabClient, emu: Emulator) -> None:
    acc = emu.world.accounts.find(DEMO_USER)
    assert acc is not None
    for i in range(60):
        emu.world.devices.add(
            acc.qid, title=f"Cam {i}", category_key="camera", product_name="Indoor Camera C2"
        )
    await emu.trigger(DOOR, "ring")
    assert len(await client.devices()) == 64
    assert emu.counters.requests["/api/eu1/v1/iot/device/list"] == 2
    await emu.trigger(DOOR, "ring")


async def test_list_key_variant(client: BotslabClient, emu: Emulator) -> None:
    emu.faults.device_list_key = "list"
    assert len(await client.devices()) == 4


async def test_properties_and_commands(client: BotslabClient, emu: Emulator) -> None:
    door = await device(client, DOOR)
    props = await client.properties(door)
    assert props.battery_level == 87 and props.voltage_mv == 3960 and props.on_battery is True
    assert props.sd_card_present is True and props.sd_storage == (
        31914983424,
        4294967296,
        27620016128,
    )
    assert props.raw["ExistingChime"] == 0 and props.wifi_rssi is None
    garden = await device(client, GARDEN)
    await client.set_properties(garden, {"NightVisionMode": 1, "PrivacyMode": 1})
    props = await client.properties(garden)
    assert (
        props.night_vision_mode == 1
        and props.privacy_mode is True
        and props.firmware_version == "2.1.0"
    )
    with pytest.raises(ApiError) as bad:
        await client.set_properties(garden, {"NightVisionMode": 9})
    assert bad.value.code == 200001
    asleep = await client.take_snapshot(door)
    assert not asleep.ok and asleep.error_no == 10
    assert (await client.wake_up(door)).ok
    snap = await client.take_snapshot(door)
    assert snap.ok and snap.url
    image = await client.download(snap.url)
    assert Image.open(io.BytesIO(image)).format == "JPEG"
    assert (await client.reboot(garden)).ok
    with pytest.raises(ApiError) as unknown:
        await client.invoke_service(garden, "SelfDestruct")
    assert unknown.value.code == 201003


async def test_messages_events_and_catalogue(client: BotslabClient, emu: Emulator) -> None:
    page = await client.messages(page_size=5)
    assert len(page.events) == 5 and page.nextid == page.events[-1].id
    ctimes = [e.ctime for e in page.events]
    assert ctimes == sorted(ctimes, reverse=True), "newest first"
    older = await client.messages(page=2, page_size=5)
    assert not {e.id for e in older.events} & {e.id for e in page.events}
    seen = {e.id for e in page.events}
    floor = max(ctimes)
    ring = await emu.trigger(DOOR, "ring")
    odd = await emu.trigger(GARDEN, "dsl.event.post.Teleport")
    fresh = [e async for e in client.events_since(seen, floor)]
    assert [e.id for e in fresh] == [ring["msg_id"], odd["msg_id"]], "oldest first, nothing older"
    first = fresh[0]
    assert first.kind is EventKind.RING and first.serial == DOOR and first.title
    assert first.image is not None and first.video is not None and first.video.encrypted
    assert first.video.url not in repr(first) and first.image.url not in repr(first)
    assert fresh[1].kind is EventKind.OTHER and fresh[1].event_type == "dsl.event.post.Teleport"
    every = [e async for e in client.events_since(set(), 0, page_size=7)]
    assert len(every) == 26 and every[-1].id == odd["msg_id"]
    door = await device(client, DOOR)
    only_door = await client.messages(device=door, page_size=100)
    assert {e.serial for e in only_door.events} == {DOOR}
    catalogue = await client.event_types(door.product_key)
    assert {t.kind for t in catalogue} >= {EventKind.RING, EventKind.PERSON, EventKind.PACKAGE}


async def test_snapshot_download_and_expiry(client: BotslabClient, emu: Emulator) -> None:
    await emu.trigger(DOOR, "ring")
    event = (await client.messages(page_size=1)).events[0]
    data = await client.download_snapshot(event)
    assert Image.open(io.BytesIO(data)).size == (640, 360)
    emu.world.clock_offset += 3700
    with pytest.raises(SnapshotExpired):
        await client.download_snapshot(event)


async def test_clip_decryption_matches_the_plain_clip(
    client: BotslabClient, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    from custom_components.botslab.api import decrypt_clip_segment

    await emu.trigger(DOOR, "person")
    encrypted = (await client.messages(page_size=1)).events[0]
    emu.world.devices[DOOR].clip_encrypt = "none"
    await emu.trigger(DOOR, "person")
    plain = (await client.messages(page_size=1)).events[0]
    assert (
        encrypted.video and encrypted.video.encrypted and plain.video and not plain.video.encrypted
    )

    async def segments(url: str) -> list[bytes]:
        play = await client.play_url(url)
        playlist = (await client.download(play.url)).decode()
        return [
            await client.download(line)
            for line in playlist.splitlines()
            if line and not line.startswith("#")
        ]

    enc_segments = await segments(encrypted.video.url)
    plain_segments = await segments(plain.video.url)
    assert len(enc_segments) == len(plain_segments) >= 2

    def without_counters(ts: bytes) -> bytes:
        """The continuity counters left out: the encrypted clip is packetized on its own
        (escape bytes change slice lengths), so from the second segment on its counters
        start where its own packets left them, not where the plain clip's did; nothing else
        may differ."""
        out = bytearray(ts)
        for off in range(0, len(out) - 187, 188):
            out[off + 3] &= 0xF0
        return bytes(out)

    for enc, clear in zip(enc_segments, plain_segments, strict=True):
        assert enc != clear
        decrypted = decrypt_clip_segment(enc, encrypted.video.secretkey)
        assert without_counters(decrypted) == without_counters(clear)


async def test_play_url_expiry_and_post_refusal(client: BotslabClient, emu: Emulator) -> None:
    await emu.trigger(GARDEN, "motion")
    event = (await client.messages(page_size=1)).events[0]
    assert event.video is not None
    play = await client.play_url(event.video.url)
    assert play.expire_time > 0
    emu.world.clock_offset += 7200
    with pytest.raises(SnapshotExpired):
        await client.download(play.url)
    again = await client.play_url(event.video.url)
    assert await client.download(again.url), "resolving anew gives a working URL"
    from custom_components.botslab.api import paths as ep

    with pytest.raises(ApiError) as post:
        await client._call("POST", ep.PLAY_URL, form={"url": event.video.url})
    assert post.value.code == 300260


async def test_sharing_and_invitations(
    client: BotslabClient, http: aiohttp.ClientSession, endpoints: Endpoints
) -> None:
    garden = await device(client, GARDEN)
    share = await client.share_by_email(garden, NEIGHBOUR_USER, ShareLevel.VIEW)
    assert share.pending and share.level is ShareLevel.VIEW and NEIGHBOUR_USER not in repr(share)
    by_phone = await client.share_by_mobile(garden, "+4917612345678", ShareLevel.FULL)
    assert by_phone.level is ShareLevel.FULL and by_phone.target_masked.startswith("491")
    assert "12345" not in by_phone.target_masked
    assert {s.id for s in await client.shares(garden)} == {share.id, by_phone.id}
    neighbour = await make_client(http, endpoints, NEIGHBOUR_USER, "neighbour-demo")
    invites = await neighbour.invitations()
    assert [(i.serial, i.level) for i in invites] == [(GARDEN, ShareLevel.VIEW)]
    await neighbour.accept_invitation(invites[0].id)
    shared = await device(neighbour, GARDEN)
    assert not shared.owner and not shared.can_control
    with pytest.raises(PermissionDenied):
        await neighbour.set_properties(shared, {"PrivacyMode": 1})
    with pytest.raises(PermissionDenied):
        await neighbour.share_by_mobile(shared, "4917000000000")
    await client.cancel_share(share.id)
    assert GARDEN not in {d.serial for d in await neighbour.devices()}
    with pytest.raises(ApiError) as gone:
        await client.cancel_share(share.id)
    assert gone.value.code == 202103
    again = await client.share_by_email(garden, NEIGHBOUR_USER)
    await neighbour.refuse_invitation(again.id)
    assert await neighbour.invitations() == []
    with pytest.raises(ApiError) as self_share:
        await client.share_by_email(garden, DEMO_USER)
    assert self_share.value.code == 202102


async def test_notifications(client: BotslabClient) -> None:
    dnd = await client.set_do_not_disturb(True, "22:30", "06:45")
    assert dnd.enabled and (dnd.start, dnd.end) == ("22:30", "06:45")
    assert await client.do_not_disturb() == dnd
    garden = await device(client, GARDEN)
    setting = await client.set_device_notifications(
        garden, enabled=True, events={"dsl.event.post.FrameChange": False}
    )
    assert setting.enabled and setting.events == {"dsl.event.post.FrameChange": False}
    assert (await client.device_notifications(garden)).events["dsl.event.post.FrameChange"] is False
    await client.snooze(garden, 900)
    with pytest.raises(ApiError):
        await client.set_do_not_disturb(True, "7pm", "8am")


async def test_privacy_rights(client: BotslabClient, emu: Emulator) -> None:
    consents = await client.consents()
    garden = await device(client, GARDEN)
    assert any(c.scope == "event_upload" and c.serial == GARDEN and c.granted for c in consents)
    after = await client.set_consent("ai_detection", False, garden)
    assert any(c.scope == "ai_detection" and c.serial == GARDEN and not c.granted for c in after)
    await client.set_consent("marketing", True)
    document = await client.export_data()
    assert document["profile"]["username"] == DEMO_USER
    assert {d["device_name"] for d in document["devices"]} == {DOOR, GARDEN, LIVING, DRIVE}
    assert any(c["scope"] == "ai_detection" for c in document["consents"])
    assert await client.restrict_processing(True) is True
    assert await client.restrict_processing(False) is False
    with pytest.raises(ApiError) as mismatch:
        await client.request_erasure("0")
    assert mismatch.value.code == 204001
    request = await client.request_erasure(client.credentials.qid)
    assert request.request_id and request.due_date


async def test_firmware_network_plan(client: BotslabClient, emu: Emulator) -> None:
    garden = await device(client, GARDEN)
    info = await client.firmware(garden)
    assert info.upgrade_available and (info.current_version, info.latest_version) == (
        "2.1.0",
        "2.2.0",
    )
    emu.world.firmware.upgrade_seconds = 10
    await client.upgrade_firmware(garden)
    assert (await client.firmware_progress(garden)).state is UpgradeState.WAITING
    emu.world.clock_offset += 5
    progress = await client.firmware_progress(garden)
    assert progress.state is UpgradeState.UPGRADING and progress.in_progress
    emu.world.clock_offset += 6
    done = await client.firmware_progress(garden)
    assert done.state is UpgradeState.DONE and done.percent == 100
    assert (await client.firmware(garden)).current_version == "2.2.0"
    net = await client.network_test(garden)
    assert net.network_type == "wifi" and net.rssi == -58 and net.latency_ms is not None
    door = await device(client, DOOR)
    plan = await client.cloud_plan(door)
    assert (
        plan.active
        and plan.name == "Cloud Basic 30 days"
        and 9 * 86400 < plan.seconds_left <= 10 * 86400
    )
    assert not (await client.cloud_plan(garden)).active


async def test_sid_expiry_mid_call_logs_in_once_and_retries(
    client: BotslabClient, emu: Emulator, tokens: TokenLog
) -> None:
    await client.devices()
    old = client.session
    await_expire = emu.world.accounts.sessions
    for sess in await_expire.values():
        sess.expired = True
    results = await asyncio.gather(*(client.devices() for _ in range(5)))
    assert all(len(r) == 4 for r in results)
    assert client.session is not None and old is not None and client.session.sid != old.sid
    assert len(tokens.calls) == 2, "concurrent 1015s share one app login"


async def test_qt_expiry_and_timeout_raise_auth_expired(
    client: BotslabClient, emu: Emulator
) -> None:
    await client.devices()
    for tok in emu.world.accounts.tokens.values():
        tok.timed_out = True
    with pytest.raises(AuthExpired) as timed_out:
        await client.devices()
    assert timed_out.value.code == 102008
    for tok in emu.world.accounts.tokens.values():
        tok.timed_out, tok.expired = False, True
    with pytest.raises(AuthExpired) as expired:
        await client.devices()
    assert expired.value.code == 100003


async def test_session_conflict_says_when(
    client: BotslabClient, emu: Emulator, http: aiohttp.ClientSession
) -> None:
    import time

    await client.devices()
    await http.post(f"{emu.base_url}/_emulator/kick", json={"username": DEMO_USER})
    before = time.time()
    with pytest.raises(SessionConflict) as conflict:
        await client.devices()
    assert conflict.value.at >= before - 1
    await client.login()
    assert len(await client.devices()) == 4


async def test_server_errors_and_timeouts(
    http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    client = await make_client(http, endpoints, timeout=0.5)
    await client.devices()
    emu.faults.errors_left, emu.faults.error_path = 1, "/api/"
    with pytest.raises(BotslabConnectionError):
        await client.devices()
    emu.faults.delay_ms, emu.faults.delay_path = 1500, "/api/"
    with pytest.raises(BotslabTimeoutError):
        await client.devices()
    emu.faults.delay_ms = 0
    assert len(await client.devices()) == 4


async def test_unreachable_cloud(http: aiohttp.ClientSession, client: BotslabClient) -> None:
    from custom_components.botslab.api import RegionHosts

    dead = Endpoints(
        region="eu1", regions={"eu1": RegionHosts("http://127.0.0.1:9/q", "http://127.0.0.1:9")}
    )
    other = BotslabClient(http, dead, client.identity, client.credentials)
    with pytest.raises(BotslabConnectionError):
        await other.devices()


async def test_camera_keys_for_live_view(client: BotslabClient, emu: Emulator) -> None:
    """docs/protocol/live-video.md#h2-keys: a license and 15 keys at consecutive indices; the
    signalling pick is the sixth (index 35 for CN's 30..44)."""
    from custom_components.botslab.api.live.signing import signalling_index

    api = client
    door = await device(client, DOOR)
    keys = await api.camera_keys(door)
    first = min(keys.secret_keys)
    assert sorted(keys.secret_keys) == list(range(first, first + 15))
    assert all(len(k) == 32 and k.isprintable() for k in keys.secret_keys.values())
    assert keys.secret_interval == 43200 and keys.license.product_id and keys.license.authorization
    pick = signalling_index(keys.secret_keys)
    assert pick == first + 5
    assert keys.license.authorization not in repr(keys) and keys.secret_keys[pick] not in repr(keys)
    again = await api.camera_keys(door)
    assert again.secret_keys == keys.secret_keys, "stable within the rotation interval"
    emu.world.clock_offset += 43200
    rotated = await api.camera_keys(door)
    assert (
        rotated.secret_keys != keys.secret_keys
        and rotated.license.product_id == keys.license.product_id
    )


async def test_a_burst_walk_asks_its_pages_together(client: BotslabClient, emu: Emulator) -> None:
    """On a far cloud, delivery asks a burst's wide pages together (`pages_at_once`): the
    walk reads them in order as before, and pages it did not need are dropped unread."""
    history = await client.messages(page_size=100)
    seen, floor = {e.id for e in history.events}, max(e.ctime for e in history.events)
    made = [(await emu.trigger(GARDEN, "motion"))["msg_id"] for _ in range(120)]
    path = "/api/eu1/v2/message/list"
    before = emu.counters.requests.get(path, 0)
    walk = client.events_since(seen, floor, page_size=50, pages_at_once=lambda: 5)
    fresh = [e.id async for e in walk]
    assert fresh == made, "every one, oldest first, once"
    # pages 1 to 5 asked at once; the third holds the seen id, the fourth and fifth are dropped
    assert emu.counters.requests.get(path, 0) == before + 5
    seen |= set(made)
    more = (await emu.trigger(GARDEN, "motion"))["msg_id"]
    short = client.events_since(seen, floor, page_size=10, pages_at_once=lambda: 1)
    assert [e.id async for e in short] == [more]
    assert emu.counters.requests.get(path, 0) == before + 6, "a single: one short page"
