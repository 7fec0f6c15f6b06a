"""QUC login against the emulator (docs/protocol/cloud-api.md#account-login), through the test
encoder."""

from __future__ import annotations

import base64

import aiohttp
from Crypto.PublicKey import RSA
import pytest

from botslab_emulator import Emulator
from botslab_emulator.crypto import md5_hex

from .conftest import PASSWORD, USER
from .wire import QucCaller, des_cbc, tokens


@pytest.fixture
async def alice(emu: Emulator) -> str:
    emu.world.accounts.add(USER, PASSWORD, "eu1", mobile="4915111111111")
    return USER


def caller(emu: Emulator, region: str = "eu1", **kw: object) -> QucCaller:
    return QucCaller(emu.quc_url(region), emu.world.keypair.public_spki_b64(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"suffix": "73e5dba4"},
        {"key_len": 114},
        {"pad": False},
        {"space": "%20"},
    ],
)
async def test_login_accepts_every_variant(
    emu: Emulator, http: aiohttp.ClientSession, alice: str, variant: dict[str, object]
) -> None:
    quc = caller(emu, **variant)
    outer, inner = await quc.login(
        http, "  " + alice + " ", PASSWORD, mname="Pixel 7 Pro", needDeviceCheck="0"
    )
    assert outer["errno"] == 0 and inner is not None
    assert inner["errno"] == 0 and inner["errmsg"] == outer["errmsg"]
    user = inner["user"]
    assert str(user["qid"]) == emu.world.accounts.find(USER).qid  # type: ignore[union-attr]
    q, t = tokens(inner)
    assert q.startswith("u%3D360H") and "%26" in q and t, "URL-encoded, as the cloud sends them"
    assert "%" in user["q"], "Q travels URL-encoded"
    assert PASSWORD not in str(inner) and md5_hex(PASSWORD) not in str(inner)


async def test_each_login_issues_new_tokens(
    emu: Emulator, http: aiohttp.ClientSession, alice: str
) -> None:
    quc = caller(emu)
    _, first = await quc.login(http, alice, PASSWORD)
    _, second = await quc.login(http, alice, PASSWORD)
    assert first and second and tokens(first) != tokens(second)


async def test_wrong_password_then_captcha(
    emu: Emulator, http: aiohttp.ClientSession, alice: str
) -> None:
    quc = caller(emu)
    for _ in range(3):
        outer, inner = await quc.login(http, alice, "wrong")
        assert outer["errno"] == 220 and inner and inner["errno"] == 220
    outer, inner = await quc.login(http, alice, PASSWORD)
    assert outer["errno"] == 5010 and inner and inner["errdetail"]["captchaType"] == "graph"
    image, sc = await quc.captcha(http)
    assert image.startswith(b"\x89PNG") and sc
    code = (
        await (
            await http.get(f"{emu.base_url}/_emulator/captcha", params={"username": alice})
        ).json()
    )["code"]
    outer, _ = await quc.login(
        http, alice, PASSWORD, sc=sc, uc="XXXX" if code != "XXXX" else "YYYY", captchaType="graph"
    )
    assert outer["errno"] == 5011
    image, sc = await quc.captcha(http)
    code = (await (await http.get(f"{emu.base_url}/_emulator/captcha")).json())["code"]
    outer, inner = await quc.login(
        http, alice, PASSWORD, sc=sc, uc=code.lower(), captchaType="graph"
    )
    assert outer["errno"] == 0 and inner and "user" in inner
    outer, _ = await quc.login(http, alice, PASSWORD)
    assert outer["errno"] == 0, "a solved captcha clears the demand"


async def test_captcha_is_bound_to_the_install_identity(
    emu: Emulator, http: aiohttp.ClientSession, alice: str
) -> None:
    await http.post(f"{emu.base_url}/_emulator/captcha", json={"username": alice, "required": True})
    quc = caller(emu)
    outer, _ = await quc.login(http, alice, PASSWORD)
    assert outer["errno"] == 5010
    _image, sc = await quc.captcha(http)
    code = emu.world.accounts.challenges[sc].code
    stranger = caller(emu)  # another mid
    outer, _ = await stranger.login(http, alice, PASSWORD, sc=sc, uc=code, captchaType="graph")
    assert outer["errno"] == 5011


async def test_new_device_risk_asks_for_captcha(
    emu: Emulator, http: aiohttp.ClientSession, alice: str
) -> None:
    await http.post(
        f"{emu.base_url}/_emulator/captcha", json={"username": alice, "risk_new_device": True}
    )
    quc = caller(emu)
    assert (await quc.login(http, alice, PASSWORD))[0]["errno"] == 5010
    _image, sc = await quc.captcha(http)
    code = emu.world.accounts.challenges[sc].code
    assert (await quc.login(http, alice, PASSWORD, sc=sc, uc=code, captchaType="graph"))[0][
        "errno"
    ] == 0
    assert (await quc.login(http, alice, PASSWORD))[0]["errno"] == 0, "a known identity passes"


async def test_wrong_region_answers_1036(
    emu: Emulator, http: aiohttp.ClientSession, alice: str
) -> None:
    for region in ("na1", "ap1", "eu2"):
        outer, inner = await caller(emu, region).login(http, alice, PASSWORD)
        assert outer["errno"] == 1036 and inner and inner["errno"] == 1036
    outer, _ = await caller(emu).login(http, "nobody@example.com", PASSWORD)
    assert outer["errno"] == 1036


async def test_phone_number_login(emu: Emulator, http: aiohttp.ClientSession, alice: str) -> None:
    outer, _ = await caller(emu).login(http, "4915111111111", PASSWORD)
    assert outer["errno"] == 0


async def test_bad_envelopes(emu: Emulator, http: aiohttp.ClientSession, alice: str) -> None:
    quc = caller(emu)
    good = quc.envelope(quc.login_params(alice, PASSWORD))

    async def post(form: dict[str, str]) -> dict[str, object]:
        async with http.post(emu.quc_url("eu1"), data=form) as resp:
            assert resp.status == 200
            return await resp.json(content_type=None)  # type: ignore[no-any-return]

    assert (await post({**good, "key": "not base64!!"}))["errno"] == 1021001
    assert (await post({**good, "key": "QUJD"}))["errno"] == 1021001
    foreign = base64.b64encode(RSA.generate(1024).publickey().export_key("DER")).decode()
    other_key = QucCaller(emu.quc_url("eu1"), foreign)  # the real cloud's key is not ours
    assert (await post(other_key.envelope(other_key.login_params(alice, PASSWORD))))[
        "errno"
    ] == 1021001
    assert (await post({**good, "parad": good["parad"][:-8]}))["errno"] == 1021001
    assert (await post({"method": "UserIntf.login"}))["errno"] == 1003
    tampered = quc.login_params(alice, PASSWORD)
    form = quc.envelope(tampered)
    # wrong sig: re-encrypt with a broken signature
    params = dict(tampered)
    params["sig"] = "0" * 32
    form["parad"] = base64.b64encode(
        des_cbc("&".join(f"{k}={v}" for k, v in params.items()).encode(), quc.last_key8)
    ).decode()
    outer = await post(form)
    assert outer["errno"] == 1003 and "ret" in outer
    async with http.post(emu.quc_url("eu1"), data=b"\xff\xfe" * 10) as resp:
        assert (await resp.json(content_type=None))["errno"] == 1003
    async with http.post(emu.quc_url("eu1"), data="x=" + "a" * 70000) as resp:
        assert (await resp.json(content_type=None))["errno"] == 1003
