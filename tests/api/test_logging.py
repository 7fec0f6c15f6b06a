"""No secret or personal value reaches a log record at DEBUG level, across a full session."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import pytest

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER
from custom_components.botslab.api import (
    BotslabClient,
    CaptchaRequired,
    ConnectionState,
    Endpoints,
    Identity,
    PushClient,
    QucLogin,
    ShareLevel,
    SnapshotExpired,
)
from custom_components.botslab.api.crypto import md5_hex


async def test_full_session_logs_no_secret(
    http: aiohttp.ClientSession,
    endpoints: Endpoints,
    emu: Emulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await http.post(
        f"{emu.base_url}/_emulator/captcha", json={"username": DEMO_USER, "required": True}
    )
    identity = Identity.generate()
    quc = QucLogin(http, endpoints, identity)
    with pytest.raises(CaptchaRequired) as asked:
        await quc.login(DEMO_USER, DEMO_PASSWORD)
    code = emu.world.accounts.challenges[asked.value.challenge].code
    creds = await quc.login(DEMO_USER, DEMO_PASSWORD, captcha=(asked.value.challenge, code))
    client = BotslabClient(http, endpoints, identity, creds)
    devices = await client.devices()
    for sess in emu.world.accounts.sessions.values():
        sess.expired = True
    await client.devices()  # 1015 → app login → retry
    session = client.session
    assert session is not None
    door = next(d for d in devices if d.kind.value == "doorbell")
    share = await client.share_by_mobile(door, "+4917612345678", ShareLevel.VIEW)
    await client.share_by_email(door, "carol@example.org")
    await client.cancel_share(share.id)
    await emu.trigger(door.serial, "ring")
    event = (await client.messages(page_size=1)).events[0]
    assert event.image is not None and event.video is not None
    await client.download_snapshot(event)
    play = await client.play_url(event.video.url)
    emu.world.clock_offset += 7200
    with pytest.raises(SnapshotExpired):
        await client.download(play.url)
    await client.export_data()
    await client.close()

    async def alias() -> str:
        return session.push_alias

    pusher = PushClient(http, endpoints, identity, alias, heartbeat=0.1, backoff_base=0.05)
    states: list[ConnectionState] = []
    pusher.subscribe_state(states.append)
    pusher.start()
    async with asyncio.timeout(5):
        while pusher.state is not ConnectionState.CONNECTED:
            await asyncio.sleep(0.02)
    emu.push.malformed("garbage")
    await emu.trigger(door.serial, "person")
    async with asyncio.timeout(5):
        while pusher.connects < 2:
            await asyncio.sleep(0.02)
    await pusher.stop()
    await client.close()  # its own session for media hosts

    secrets_ = {
        "password": DEMO_PASSWORD,
        "password md5": md5_hex(DEMO_PASSWORD),
        "Q": creds.q,
        "T": creds.t,
        "sid": session.sid,
        "push alias": session.push_alias,
        "m2": identity.m2,
        "mid": identity.mid,
        "androidid": identity.androidid,
        "email": DEMO_USER,
        "phone": "4917612345678",
        "other email": "carol@example.org",
        "snapshot url": event.image.url.split("?")[1],
        "clip url": event.video.url,
        "play url": play.url.split("?")[1],
        "clip key": event.video.secretkey,
    }
    records = [r for r in caplog.records if r.name.startswith("custom_components.botslab")]
    assert len(records) >= 3, "the client does log at DEBUG"
    for record in caplog.records:
        text = record.getMessage() + " " + repr(record.args)
        for name, value in secrets_.items():
            assert value not in text, (
                f"{name} leaked in a {record.name} record: {record.getMessage()}"
            )


async def test_reprs_hide_secrets(http: aiohttp.ClientSession, endpoints: Endpoints) -> None:
    identity = Identity.generate()
    creds = await QucLogin(http, endpoints, identity).login(DEMO_USER, DEMO_PASSWORD)
    client = BotslabClient(http, endpoints, identity, creds)
    session = await client.login()
    text = " ".join(repr(x) for x in (identity, creds, session, client, endpoints))
    for value in (
        identity.m2,
        identity.mid,
        identity.androidid,
        creds.q,
        creds.t,
        session.sid,
        session.push_alias,
        DEMO_USER,
        DEMO_PASSWORD,
    ):
        assert value not in text
