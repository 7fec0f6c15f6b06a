"""The connection half of BotslabClient: the account's state (identity, credentials, the app
session), signed requests with the envelope checked and errors translated, and the login that
renews the session when the cloud says it expired (docs/protocol/cloud-api.md#account-login,
docs/protocol/cloud-api.md#app-login).

The caller owns the aiohttp session it passes (it is never closed here) and persists the
Identity and the Credentials; `on_tokens` tells it when they change. Hosts the cloud names
(media links and their redirects) are fetched through a second session that the connection
owns, made on first use with the address guard (`netguard.guarded_session`): `close()` closes
it.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Mapping
import json
import logging
import time
from typing import Any

import aiohttp

from . import paths as ep
from .crypto import api_sign, random_alnum
from .endpoints import APP_KEY, APP_VERSION, USER_AGENT, Endpoints
from .exceptions import (
    ApiError,
    AuthExpired,
    BotslabError,
    FeatureUnavailable,
    PermissionDenied,
    ProtocolError,
    SessionConflict,
)
from .http import check_status, parse_json, read_limited, request
from .models import (
    CloudSession,
    Credentials,
    Identity,
    code_of,
)
from .netguard import guarded_session

_LOGGER = logging.getLogger(__name__)

OK = 0
BAD_SIGN = 1001
SID_EXPIRED = 1015
QT_EXPIRED = 100003
SESSION_STOLEN = 102003
SESSION_TIMEOUT = 102008
NOT_OWNER = 202101  # [modelled] (docs/protocol/cloud-api.md#sharing)
NOT_FOUND = 404
DEVICE_PAGE = 50
MAX_PAGES = 200
MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
FIRST_PAGE = 10


class CloudConnection:
    """One account's connection to the BOTSLAB cloud: requests and sessions."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoints: Endpoints,
        identity: Identity,
        credentials: Credentials,
        *,
        on_tokens: Callable[[Credentials, CloudSession | None], None] | None = None,
        language: str = "en-US",
        timezone: str = "UTC",
        country: str = "DE",
        timeout: float = 20.0,
    ) -> None:
        self._http = session
        self._endpoints = endpoints.with_region(credentials.region)
        self._identity = identity
        self._credentials = credentials
        self._session: CloudSession | None = None
        self._on_tokens = on_tokens
        self._login_lock = asyncio.Lock()
        self._lang, self._tz, self._country = language, timezone, country
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        self.skipped = 0  # malformed items (devices, messages) skipped in the cloud's answers
        self.list_seconds = 0.0  # how long a page of the message list takes (a moving average)
        self._refused_hosts: set[str] = set()  # media hosts refused (reported once each)
        self._media: aiohttp.ClientSession | None = None  # for hosts the cloud names

    def __repr__(self) -> str:
        region, qid = self._endpoints.region, self._credentials.qid
        return f"{type(self).__name__}(region={region!r}, qid={qid!r})"

    # --- state ----------------------------------------------------------------------------
    @property
    def endpoints(self) -> Endpoints:
        return self._endpoints

    @property
    def http_session(self) -> aiohttp.ClientSession:
        """The shared aiohttp session (live view's steps go through it too)."""
        return self._http

    @property
    def media_session(self) -> aiohttp.ClientSession:
        """The session for hosts the cloud names (media, redirects): every connection goes to
        an address the guard allowed, its peer checked. Made on first use; `close()` ends it."""
        if self._media is None or self._media.closed:
            self._media = guarded_session(self._endpoints.guard)
        return self._media

    async def close(self) -> None:
        """Close what the connection owns (the media session); the caller's session stays."""
        media, self._media = self._media, None
        if media is not None and not media.closed:
            await media.close()

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def credentials(self) -> Credentials:
        return self._credentials

    @property
    def session(self) -> CloudSession | None:
        return self._session

    # --- plumbing -------------------------------------------------------------------------
    def _query(self) -> dict[str, str]:
        sign_ts = str(int(time.time()))
        sign_no = random_alnum(20)
        return {
            "m2": self._identity.m2,
            "appkey": APP_KEY,
            "appver": APP_VERSION,
            "sign": api_sign(APP_KEY, self._identity.m2, sign_ts, sign_no),
            "sign_ts": sign_ts,
            "sign_no": sign_no,
            "ci_brand": "HomeAssistant",
            "ci_model": "Home Assistant",
            "ci_net": "wifi",
            "ci_osver": "11",
            "appch": APP_KEY,
            "ci_lang": self._lang,
            "ci_tz": self._tz,
            "app_type_id": "1",
            "ci_cy": self._country,
            "appflag": "botslab",
        }

    def _headers(self, with_sid: bool) -> dict[str, str]:
        auth: dict[str, str] = {"Q": self._credentials.q, "T": self._credentials.t}
        if with_sid and self._session is not None:
            auth["sid"] = self._session.sid
        # the bytes the working public client sends: json.dumps' default ", " and ": "
        token = base64.b64encode(json.dumps(auth).encode()).decode()
        return {
            "Authorization": f"jws {token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    async def _raw(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        form: Mapping[str, Any] | None,
        with_sid: bool,
    ) -> Mapping[str, Any]:
        query = self._query()
        if method == "GET" and params:
            query.update({k: str(v) for k, v in params.items() if v is not None})
        data: dict[str, str] | bytes | None = None
        headers = self._headers(with_sid)
        if method == "POST" and form is None:
            # an empty body, as the public client's app login sends it
            # (docs/protocol/cloud-api.md#gateway)
            data = b""
            headers["Content-Type"] = "application/octet-stream"
        elif form is not None:
            data = {
                k: v
                if isinstance(v, str)
                else json.dumps(v, separators=(",", ":"))
                if isinstance(v, (dict, list))
                else str(v)
                for k, v in form.items()
                if v is not None
            }
        what = f"{method} {path}"
        answers = self._endpoints.answers  # codes and shapes, for diagnostics
        try:
            async with request(
                self._http,
                method,
                self._endpoints.api_url + path,
                what,
                gate=self._endpoints.gate,
                params=query,
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as resp:
                check_status(resp, what)
                body = await read_limited(resp, what)
            if resp.status == 404 and not body.startswith(b"{"):
                if path in ep.MODELLED_FEATURES:
                    raise FeatureUnavailable(ep.MODELLED_FEATURES[path], 404)
                raise ApiError(404, f"{what}: not found")
            answer = parse_json(body, what)
        except BotslabError as err:
            answers.failed(path, err)
            raise
        answers.answered(path, resp.status, answer)
        return answer

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        *,
        with_sid: bool = True,
    ) -> Any:
        if with_sid and self._session is None:
            await self.login()
        for attempt in range(2):
            sid_used = self._session
            answer = await self._raw(
                method, path, params, form if method == "POST" else None, with_sid
            )
            code = code_of(answer.get("code"))
            if code is None:
                raise ProtocolError(f"{method} {path}: answer without code")
            message = str(answer.get("msg") or answer.get("message") or "")
            if code == OK:
                return answer["data"] if "data" in answer else answer.get("result")
            if code == SID_EXPIRED and with_sid and attempt == 0:
                _LOGGER.debug("sid expired during %s %s: app login and one retry", method, path)
                await self._relogin(sid_used)
                continue
            feature = ep.MODELLED_FEATURES.get(path)
            if feature is not None and code in (QT_EXPIRED, SESSION_TIMEOUT, NOT_FOUND):
                if code != NOT_FOUND:
                    # a guessed endpoint says "sign in again": only a [seen] one may say so
                    # for the account (docs/protocol/accepted.md#guessed-endpoints). Ask the device
                    # list (no side effect): an expired login raises AuthExpired there
                    await self._call("GET", ep.DEVICE_LIST, {"page": 1, "page_size": 1})
                raise FeatureUnavailable(feature, code)
            raise _error_for(code, message, f"{method} {path}")
        raise ApiError(SID_EXPIRED, "sid refused right after an app login")

    async def _relogin(self, stale: CloudSession | None) -> None:
        async with self._login_lock:
            if self._session is not stale and self._session is not None:
                return  # someone else logged in meanwhile
            await self._app_login_locked()

    # --- 3.1 ------------------------------------------------------------------------------
    async def login(self) -> CloudSession:
        """App login: a sid (the one session of the account), the push alias and the user id."""
        async with self._login_lock:
            return await self._app_login_locked()

    async def _app_login_locked(self) -> CloudSession:
        data = await self._call("POST", ep.APP_LOGIN, with_sid=False)
        if not isinstance(data, Mapping):
            raise ProtocolError("app login without data")
        sid = str(data.get("sid") or data.get("home_sid") or "")
        if not sid:
            raise ProtocolError("app login without sid")
        user_id = str(
            next((data[k] for k in ("uid", "userid", "user_id", "qid") if data.get(k)), "")
        )
        session = CloudSession(
            sid=sid,
            push_alias=str(data.get("push_alias") or ""),
            user_id=user_id.removeprefix("botslab_"),
        )
        self._session = session
        if self._on_tokens is not None:
            self._on_tokens(self._credentials, session)
        return session


def _error_for(code: int, message: str, what: str) -> Exception:
    if code in (QT_EXPIRED, SESSION_TIMEOUT):
        return AuthExpired(f"{what}: {message or 'login expired'}", code=code)
    if code == SESSION_STOLEN:
        return SessionConflict(f"{what}: the account logged in elsewhere")
    if code == NOT_OWNER:
        return PermissionDenied(code, message)
    if code == BAD_SIGN:
        return ApiError(code, "bad signature (clock skew or a client bug)")
    return ApiError(code, message)
