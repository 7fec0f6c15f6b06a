"""QUC account login, `request.php` (docs/protocol/cloud-api.md#account-login)."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from aiohttp import web

from . import codes
from .crypto import (
    EnvelopeError,
    b64decode_loose,
    des_decrypt,
    des_encrypt,
    des_key_of,
    quc_sig_ok,
)
from .media import captcha_png

if TYPE_CHECKING:
    from .cloud import Cloud

MAX_FORM = 64 * 1024
FAILURES_BEFORE_CAPTCHA = 3
ERRMSG = {
    codes.QUC_OK: "OK",
    codes.QUC_WRONG_PASSWORD: "wrong account or password",
    codes.QUC_CAPTCHA_REQUIRED: "please enter the captcha",
    codes.QUC_CAPTCHA_WRONG: "wrong captcha",
    codes.QUC_WRONG_REGION: "account does not exist in this region",
    codes.QUC_RSA_REJECTED: "key rejected",
    codes.QUC_BAD_REQUEST: "bad request",
}


def _plain_error(errno: int) -> web.Response:
    """An error answered before a DES key is known: no `ret` can be made."""
    return web.json_response({"errno": errno, "errmsg": ERRMSG[errno]})


def _answer(key8: bytes, errno: int, extra: dict[str, Any] | None = None) -> web.Response:
    inner: dict[str, Any] = {"errno": errno, "errmsg": ERRMSG.get(errno, "error")}
    inner.update(extra or {})
    ret = base64.b64encode(des_encrypt(json.dumps(inner).encode(), key8)).decode()
    outer: dict[str, Any] = {"errno": errno, "errmsg": inner["errmsg"], "ret": ret}
    if "errdetail" in inner:
        outer["errdetail"] = inner["errdetail"]
    return web.json_response(outer)


def _mask_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) >= 8 else mobile


async def handle_request(request: web.Request, cloud: Cloud) -> web.StreamResponse:
    region = request.match_info["region"]
    if request.content_length is not None and request.content_length > MAX_FORM:
        return _plain_error(codes.QUC_BAD_REQUEST)
    try:
        raw = await request.content.read(MAX_FORM + 1)
        if len(raw) > MAX_FORM:
            return _plain_error(codes.QUC_BAD_REQUEST)
        form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=32))
    except (UnicodeDecodeError, ValueError):
        return _plain_error(codes.QUC_BAD_REQUEST)
    if not {"parad", "key"} <= form.keys():
        return _plain_error(codes.QUC_BAD_REQUEST)
    world = cloud.world
    try:
        key_string = world.keypair.decrypt_key_string(form["key"])
        key8 = des_key_of(key_string)
    except (EnvelopeError, UnicodeEncodeError):
        return _plain_error(codes.QUC_RSA_REJECTED)
    try:
        plain = des_decrypt(b64decode_loose(form["parad"]), key8).decode("utf-8")
        inner = dict(parse_qsl(plain, keep_blank_values=True, max_num_fields=128))
    except (EnvelopeError, UnicodeDecodeError, ValueError):
        return _plain_error(codes.QUC_RSA_REJECTED)
    if not quc_sig_ok(inner):
        return _answer(key8, codes.QUC_BAD_REQUEST)
    method = inner.get("method") or form.get("method", "")
    mid = inner.get("mid", "")
    if method == "UserIntf.getCaptcha":
        username = cloud.captcha_pending.get(mid, "")
        ch = world.accounts.new_challenge(mid, username)
        body = captcha_png(ch.code, seed=hash(ch.sc) & 0xFFFF)
        return web.Response(body=body, content_type="image/png", headers={"sc": quote(ch.sc)})
    if method != "UserIntf.login":
        return _answer(key8, codes.QUC_BAD_REQUEST)
    return _login(cloud, region, inner, key8)


def _login(cloud: Cloud, region: str, inner: dict[str, str], key8: bytes) -> web.Response:
    world = cloud.world
    username = inner.get("username", "").strip()
    mid = inner.get("mid", "")
    acc = world.accounts.find(username)
    if acc is None or acc.region != region:
        return _answer(key8, codes.QUC_WRONG_REGION)
    needs_captcha = (
        acc.captcha_required
        or acc.failed_logins >= FAILURES_BEFORE_CAPTCHA
        or (acc.risk_new_device and mid not in acc.known_mids)
    )
    if needs_captcha:
        sc = inner.get("sc", "")
        if not sc:
            cloud.captcha_pending[mid] = acc.username
            return _answer(
                key8, codes.QUC_CAPTCHA_REQUIRED, {"errdetail": {"captchaType": "graph"}}
            )
        challenge = world.accounts.challenges.pop(sc, None)
        if (
            challenge is None
            or challenge.mid != mid
            or challenge.code.lower() != inner.get("uc", "").strip().lower()
        ):
            cloud.captcha_pending[mid] = acc.username
            return _answer(key8, codes.QUC_CAPTCHA_WRONG, {"errdetail": {"captchaType": "graph"}})
    if inner.get("password", "").lower() != acc.password_md5:
        acc.failed_logins += 1
        return _answer(key8, codes.QUC_WRONG_PASSWORD)
    acc.failed_logins = 0
    acc.captcha_required = False
    if mid and mid not in acc.known_mids:
        acc.known_mids = [*acc.known_mids[-19:], mid]
    cloud.captcha_pending.pop(mid, None)
    tok = world.accounts.issue_tokens(acc)
    user = {
        "qid": int(acc.qid),
        "q": quote(tok.q, safe=""),
        "t": quote(tok.t, safe=""),
        "username": acc.username,
        "nickname": acc.nickname,
        "loginemail": acc.email,
        "head_pic": "",
        "mobile": _mask_mobile(acc.mobile),
    }
    return _answer(key8, codes.QUC_OK, {"user": user})
