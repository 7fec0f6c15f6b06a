"""Account login on QUC `request.php` (docs/protocol/cloud-api.md#account-login): envelope,
signature, captcha, region fallback. Gives Q, T and the account id; the password never leaves this
module in plain text and is never kept."""

from __future__ import annotations

from collections.abc import Mapping
import json
import logging
import re
import time
from typing import Any
from urllib.parse import quote, unquote

import aiohttp

from .crypto import md5_hex, open_ret, quc_sig, seal
from .endpoints import (
    APP_VERSION,
    QUC_FROM,
    QUC_SIG_SUFFIX,
    REGION_FALLBACK_ORDER,
    USER_AGENT,
    Endpoints,
)
from .exceptions import (
    AccountNotFound,
    ApiError,
    BotslabAuthError,
    CaptchaRequired,
    InvalidCredentials,
    ProtocolError,
    WrongCaptcha,
)
from .http import DEFAULT_TIMEOUT, check_status, parse_json, read_limited, request
from .models import Credentials, Identity, code_of

_LOGGER = logging.getLogger(__name__)

WRONG_PASSWORD = {220, 222, 5000}
CAPTCHA_REQUIRED = 5010
CAPTCHA_WRONG = 5011
WRONG_REGION = 1036
RSA_REJECTED = 1021001
_QID_IN_Q = re.compile(r"(?:^|&)u=(?:360H)?(\d+)")


def _errno(value: Any) -> int | None:
    return code_of(value)


class QucLogin:
    """Password login. Reuse one instance (and one Identity) for a login and its captcha."""

    def __init__(
        self, session: aiohttp.ClientSession, endpoints: Endpoints, identity: Identity
    ) -> None:
        self._session = session
        self._endpoints = endpoints
        self._identity = identity

    def _base_params(self) -> dict[str, str]:
        return {
            "os_sdk_version": "android_30",
            "mid": self._identity.mid,
            "quc_sdk_version": "v3.2.7",
            "mname": "Home Assistant",
            "ua": "Dalvik/2.1.0 (Linux; U; Android 11; Home Assistant)",
            "os_manufacturer": "HomeAssistant",
            "mSystemVersion": "11",
            "os_board": "ha",
            "os_model": "Home Assistant",
            "quc_lang": "en",
            "sh": "1920",
            "sw": "1080",
            "sdpi": "320",
            "from": QUC_FROM,
            "oaid": "",
            "app": "Botslab",
            "ui_ver": "1",
            "res_mode": "1",
            "format": "json",
            "qh_id": "",
            "device_os": "android",
            "device_lang": "zh-CN",
            "v": APP_VERSION,
            "androidid": self._identity.androidid,
        }

    async def _post(
        self, region: str, params: dict[str, str]
    ) -> tuple[aiohttp.ClientResponse, bytes, bytes]:
        params["sig"] = quc_sig(params, QUC_SIG_SUFFIX)
        envelope = seal(params, self._endpoints.rsa_public_key)
        form = {
            "method": params["method"],
            "from": QUC_FROM,
            "device_lang": "zh-CN",
            "quc_lang": "en",
            "trace_id": params["trace_id"],
            "parad": envelope.parad,
            "key": envelope.key,
        }
        url = self._endpoints.with_region(region).quc_url
        async with request(
            self._session,
            "POST",
            url,
            "QUC",
            gate=self._endpoints.gate,
            data=form,
            headers={"User-Agent": USER_AGENT},
            timeout=DEFAULT_TIMEOUT,
        ) as resp:
            check_status(resp, "QUC")
            return resp, await read_limited(resp, "QUC"), envelope.des_key

    async def login(
        self,
        username: str,
        password: str,
        *,
        captcha: tuple[str, str] | None = None,
        region: str | None = None,
        fallback: bool = True,
    ) -> Credentials:
        """Log in; on 1036 try the other regions (na1, eu1, ap1, eu2) unless `fallback` is off.

        `captcha` is (challenge, code) after a CaptchaRequired; pass that error's `region`.
        The returned Credentials say which region holds the account.
        """
        first = region or self._endpoints.region
        order = [first]
        if fallback and captcha is None:
            order += [
                r for r in REGION_FALLBACK_ORDER if r != first and r in self._endpoints.regions
            ]
        hashed = md5_hex(password)
        for candidate in order:
            try:
                return await self._login_once(candidate, username.strip(), hashed, captcha)
            except _WrongRegion:
                _LOGGER.debug("QUC: the account is not in region %s", candidate)
                continue
        raise AccountNotFound("no region knows this account", errno=WRONG_REGION)

    async def _login_once(
        self, region: str, username: str, password_md5: str, captcha: tuple[str, str] | None
    ) -> Credentials:
        now_ms = str(int(time.time() * 1000))
        params = self._base_params()
        params.update(
            loginType="801",
            vt_guid=now_ms,
            is_keep_alive="1",
            needDeviceCheck="1",
            trace_id=f"src_and_1217_{now_ms}",
            method="UserIntf.login",
            head_type="q",
            sec_type="bool",
            fields="qid,username,nickname,loginemail,head_pic,mobile",
            username=username,
            password=password_md5,
        )
        if captcha is not None:
            params.update(sc=captcha[0], uc=captcha[1].strip(), captchaType="graph")
        _LOGGER.debug("QUC login in region %s", region)
        _resp, body, des_key = await self._post(region, params)
        outer = parse_json(body, "QUC")
        inner: Mapping[str, Any] = {}
        if isinstance(outer.get("ret"), str) and outer["ret"]:
            try:
                inner = parse_json(open_ret(outer["ret"], des_key), "QUC ret")
            except ProtocolError:
                inner = {}
        errno = _errno(inner.get("errno"))
        if errno is None:
            errno = _errno(outer.get("errno"))
        if errno is None:
            raise ProtocolError("QUC answer without errno")
        if errno == 0:
            return self._credentials(inner or outer, region)
        if errno in (CAPTCHA_REQUIRED, CAPTCHA_WRONG):
            image, challenge, ctype = await self.fetch_captcha(region)
            cls = WrongCaptcha if errno == CAPTCHA_WRONG else CaptchaRequired
            raise cls(image, challenge, content_type=ctype, region=region)
        if errno in WRONG_PASSWORD:
            raise InvalidCredentials("wrong account or password", errno=errno)
        if errno == WRONG_REGION:
            raise _WrongRegion
        if errno == RSA_REJECTED:
            raise ProtocolError("QUC rejected the RSA envelope (wrong public key?)")
        message = str(inner.get("errmsg") or outer.get("errmsg") or "")
        raise ApiError(errno, message)

    def _credentials(self, answer: Mapping[str, Any], region: str) -> Credentials:
        user = answer.get("user")
        if not isinstance(user, Mapping):
            raise ProtocolError("QUC success without user")
        # Q and T arrive URL-encoded and go into the jws header exactly as received, as the
        # public client that works against the live cloud sends them
        # (docs/protocol/cloud-api.md#account-login)
        q = str(user.get("q") or user.get("Q") or "")
        t = str(user.get("t") or user.get("T") or "")
        if not q or not t:
            raise ProtocolError("QUC success without Q/T")
        qid = str(user.get("qid") or "")
        if not (qid.isascii() and qid.isdigit()):
            match = _QID_IN_Q.search(unquote(q))  # a decoded copy, only to read a field
            if not match:
                raise ProtocolError("QUC success without an account id")
            qid = match.group(1)
        return Credentials(
            q=q,
            t=t,
            qid=qid,
            region=region,
            username=str(user.get("username") or ""),
            nickname=str(user.get("nickname") or ""),
        )

    async def fetch_captcha(self, region: str | None = None) -> tuple[bytes, str, str]:
        """A new graphic captcha: (image bytes, challenge token, content type)."""
        now_ms = str(int(time.time() * 1000))
        params = self._base_params()
        params.update(
            vt_guid=now_ms, trace_id=f"src_and_1217_{now_ms}", method="UserIntf.getCaptcha"
        )
        resp, body, _key = await self._post(region or self._endpoints.region, params)
        challenge = unquote(resp.headers.get("sc", ""))
        if not challenge or not body:
            raise ProtocolError("captcha answer without image or challenge")
        if body[:1] == b"{":
            try:
                detail = json.loads(body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                detail = {}
            if not isinstance(detail, dict):
                detail = {}
            raise BotslabAuthError(f"captcha refused: {detail.get('errno', '?')}")
        return body, challenge, resp.headers.get("Content-Type", "image/png").split(";")[0]


def encode_token(value: str) -> str:
    """Q or T in the form the cloud hands them out: URL-encoded (`u%3D…%26n%3D…`). A value
    stored decoded (`u=…&n=…`, as versions before 0.2 kept them) is encoded again the way
    the login encodes it; an encoded one is returned as it is."""
    if "=" in value or "&" in value:
        return quote(value, safe="")
    return value


class _WrongRegion(Exception):
    """1036: try the next region."""
