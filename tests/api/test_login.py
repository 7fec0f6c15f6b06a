"""Account login through the client (docs/protocol/cloud-api.md#account-login) against the
emulator."""

from __future__ import annotations

import base64
import dataclasses
import json
from urllib.parse import quote, unquote

import aiohttp
import pytest

from botslab_emulator import Emulator
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER, TRAVELLER_USER
from custom_components.botslab.api import (
    AccountNotFound,
    AuthExpired,
    BotslabClient,
    CaptchaRequired,
    Endpoints,
    Identity,
    InvalidCredentials,
    ProtocolError,
    QucLogin,
    WrongCaptcha,
)

from .conftest import make_client


async def test_login_returns_tokens_not_the_password(
    http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    creds = await QucLogin(http, endpoints, Identity.generate()).login(DEMO_USER, DEMO_PASSWORD)
    acc = emu.world.accounts.find(DEMO_USER)
    assert acc is not None
    assert creds.qid == acc.qid and creds.region == "eu1"
    # Q/T kept exactly as the login handed them out: URL-encoded
    # (docs/protocol/cloud-api.md#account-login)
    issued = emu.world.accounts.tokens[unquote(creds.q)]
    assert creds.q == quote(issued.q, safe="") and creds.t == quote(issued.t, safe="")
    assert "%3D" in creds.q and "=" not in creds.q
    text = repr(creds)
    assert DEMO_PASSWORD not in text and creds.q not in text and creds.t not in text


async def test_wrong_password(http: aiohttp.ClientSession, endpoints: Endpoints) -> None:
    with pytest.raises(InvalidCredentials) as err:
        await QucLogin(http, endpoints, Identity.generate()).login(DEMO_USER, "nope")
    assert err.value.errno == 220 and not isinstance(err.value, AccountNotFound)


async def test_region_fallback_finds_the_account(
    http: aiohttp.ClientSession, endpoints: Endpoints
) -> None:
    creds = await QucLogin(http, endpoints, Identity.generate()).login(
        TRAVELLER_USER, "traveller-demo"
    )
    assert creds.region == "na1"


async def test_unknown_account_everywhere(
    http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    with pytest.raises(AccountNotFound):
        await QucLogin(http, endpoints, Identity.generate()).login("ghost@example.com", "x")
    assert all(
        emu.counters.requests.get(f"/quc/{r}/request.php") == 1
        for r in ("eu1", "eu2", "na1", "ap1")
    )
    with pytest.raises(AccountNotFound):
        await QucLogin(http, endpoints, Identity.generate()).login(
            "ghost@example.com", "x", fallback=False
        )


async def test_captcha_flow(
    http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    await http.post(
        f"{emu.base_url}/_emulator/captcha", json={"username": DEMO_USER, "required": True}
    )
    identity = Identity.generate()
    quc = QucLogin(http, endpoints, identity)
    with pytest.raises(CaptchaRequired) as asked:
        await quc.login(DEMO_USER, DEMO_PASSWORD)
    first = asked.value
    assert first.image.startswith(b"\x89PNG") and first.challenge and first.region == "eu1"
    assert not isinstance(first, WrongCaptcha) and "bytes" in repr(first)
    with pytest.raises(WrongCaptcha) as wrong:
        await quc.login(
            DEMO_USER, DEMO_PASSWORD, captcha=(first.challenge, "0000"), region=first.region
        )
    second = wrong.value
    assert second.image.startswith(b"\x89PNG") and second.challenge != first.challenge
    code = (await (await http.get(f"{emu.base_url}/_emulator/captcha")).json())["code"]
    # the same identity continues (a fresh QucLogin object with the same identity works too)
    creds = await QucLogin(http, endpoints, identity).login(
        DEMO_USER, DEMO_PASSWORD, captcha=(second.challenge, code), region=second.region
    )
    assert creds.qid


async def test_wrong_password_three_times_asks_for_a_captcha(
    http: aiohttp.ClientSession, endpoints: Endpoints
) -> None:
    quc = QucLogin(http, endpoints, Identity.generate())
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await quc.login(DEMO_USER, "bad")
    with pytest.raises(CaptchaRequired):
        await quc.login(DEMO_USER, DEMO_PASSWORD)


async def test_wrong_public_key_is_a_protocol_error(
    http: aiohttp.ClientSession, emu: Emulator
) -> None:
    production_key = Endpoints.production().rsa_public_key
    config = {**emu.config(), "rsa_public_key": production_key}
    with pytest.raises(ProtocolError):
        await QucLogin(http, Endpoints.from_emulator_config(config), Identity.generate()).login(
            DEMO_USER, DEMO_PASSWORD
        )


def test_production_endpoints() -> None:
    prod = Endpoints.production("na1")
    assert prod.quc_url == "https://na1-sapp-login.botslab.com/request.php"
    assert prod.api_url == "https://na1-sapp-api.botslab.com"
    assert prod.with_region("ap1").api_url == "https://ap1-sapp-api.botslab.com"
    assert prod.dispatcher_url == "https://dp.push.dc.360.cn/v1/list/ip"
    assert prod.rsa_public_key.startswith("MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC9oNZH")
    with pytest.raises(ValueError, match="region"):
        Endpoints.production("mars")


async def test_the_wire_bytes_of_the_working_client(
    http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    """jws JSON with a space after "," and ":", Q/T as received, Accept: application/json,
    and the app login's empty body as application/octet-stream
    (docs/protocol/cloud-api.md#gateway)."""
    client = await make_client(http, endpoints)
    await client.devices()
    login = emu.counters.last_headers["/v1/app/login"]
    assert login["Content-Type"] == "application/octet-stream" and login["Content-Length"] == "0"
    listed = emu.counters.last_headers["/v1/iot/device/list"]
    assert listed["Accept"] == "application/json"
    text = base64.b64decode(listed["Authorization"].removeprefix("jws ")).decode()
    assert text == json.dumps(
        {"Q": client.credentials.q, "T": client.credentials.t, "sid": client.session.sid}
    )
    assert text.startswith('{"Q": "') and '", "T": "' in text


async def test_decoded_tokens_are_refused_unless_the_knob_allows_them(
    http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    client = await make_client(http, endpoints)
    decoded = dataclasses.replace(
        client.credentials, q=unquote(client.credentials.q), t=unquote(client.credentials.t)
    )
    stale = BotslabClient(http, endpoints, client.identity, decoded)
    with pytest.raises(AuthExpired):
        await stale.login()
    emu.faults.qt_decoded_ok = True
    assert (await stale.login()).sid
