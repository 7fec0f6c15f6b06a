"""The sapp-api gateway's machinery (docs/protocol/cloud-api.md#gateway): the request checks
(signature, replay, Q/T, sid), the envelope, the route table the endpoint modules fill, and the
handler that runs them."""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from .. import codes
from ..crypto import api_sign
from ..replay import reshape
from ..world import (
    Account,
    Device,
    Session,
    WorldError,
)

if TYPE_CHECKING:
    from ..cloud import Cloud

SIGN_WINDOW_S = 300
MAX_BODY = 64 * 1024
_M2 = re.compile(r"^([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_SIGN_NO = re.compile(r"^([A-Za-z0-9]{20}|[0-9a-f]{32})$")
MOBILE_RE = re.compile(r"^[1-9][0-9]{6,14}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Ctx:
    cloud: Cloud
    region: str
    params: dict[str, str]
    account: Account
    session: Session | None

    @property
    def qid(self) -> str:
        return self.account.qid

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)

    def num(self, name: str, default: int | None = None, lo: int = 0, hi: int = 2**31) -> int:
        raw = self.params.get(name)
        if raw is None or raw == "":
            if default is None:
                raise WorldError(codes.INVALID_PARAM, f"{name} is required")
            return default
        try:
            value = int(raw)
        except ValueError as err:
            raise WorldError(codes.INVALID_PARAM, f"{name} must be a number") from err
        if not lo <= value <= hi:
            raise WorldError(codes.INVALID_PARAM, f"{name} out of range")
        return value

    def device(self, level: int = 1) -> Device:
        pk, dn = self.get("product_key"), self.get("device_name")
        if not pk or not dn:
            raise WorldError(codes.INVALID_PARAM, "product_key and device_name are required")
        return self.cloud.world.sharing.device_for(self.qid, pk, dn, level=level)


Handler = Callable[[Ctx], Awaitable[Any]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    needs_sid: bool = True
    data_key: str = "data"
    msg_key: str = "msg"


ROUTES: list[Route] = []


def endpoint(
    method: str, path: str, *, needs_sid: bool = True, data_key: str = "data", msg_key: str = "msg"
) -> Callable[[Handler], Handler]:
    def wrap(func: Handler) -> Handler:
        ROUTES.append(Route(method, path, func, needs_sid, data_key, msg_key))
        return func

    return wrap


class NonceCache:
    """Remembers `sign_no` values for the signature window: a reused one is a replay."""

    def __init__(self, limit: int = 200_000) -> None:
        self._seen: set[str] = set()
        self._order: deque[tuple[float, str]] = deque()
        self._limit = limit

    def use(self, nonce: str, now: float) -> bool:
        while self._order and (
            self._order[0][0] < now - 2 * SIGN_WINDOW_S or len(self._order) >= self._limit
        ):
            self._seen.discard(self._order.popleft()[1])
        if nonce in self._seen:
            return False
        self._seen.add(nonce)
        self._order.append((now, nonce))
        return True


def envelope(
    code: int, data: Any = None, *, msg: str | None = None, route: Route | None = None
) -> web.Response:
    data_key = route.data_key if route else "data"
    msg_key = route.msg_key if route else "msg"
    body = {"code": code, msg_key: msg or codes.MESSAGES.get(code, "error"), data_key: data}
    return web.json_response(body)


async def _params(request: web.Request) -> dict[str, str]:
    params = dict(request.query)
    if request.method == "POST":
        raw = await request.content.read(MAX_BODY + 1)
        if len(raw) > MAX_BODY:
            raise WorldError(codes.INVALID_PARAM, "body too large")
        if raw:
            ctype = request.content_type
            try:
                if ctype == "application/json":
                    loaded = json.loads(raw)
                    if not isinstance(loaded, dict):
                        raise WorldError(codes.INVALID_PARAM, "body must be an object")
                    params.update(
                        {k: v if isinstance(v, str) else json.dumps(v) for k, v in loaded.items()}
                    )
                else:
                    params.update(
                        parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
                    )
            except (UnicodeDecodeError, ValueError) as err:
                raise WorldError(codes.INVALID_PARAM, "malformed body") from err
    return params


def _check_sign(nonces: NonceCache, query: dict[str, str]) -> bool:
    m2, sign_ts, sign_no = query.get("m2", ""), query.get("sign_ts", ""), query.get("sign_no", "")
    appkey = query.get("appkey", "")
    if not (_M2.match(m2) and sign_ts.isdigit() and _SIGN_NO.match(sign_no) and appkey):
        return False
    if query.get("sign", "") != api_sign(appkey, m2, sign_ts, sign_no):
        return False
    real_now = time.time()
    if abs(int(sign_ts) - real_now) > SIGN_WINDOW_S:
        return False
    return nonces.use(f"{m2}:{sign_no}", real_now)


def _parse_jws(header: str) -> dict[str, Any] | None:
    if not header.startswith("jws "):
        return None
    try:
        decoded = base64.b64decode(header[4:].strip() + "==", validate=False)
        obj = json.loads(decoded)
    except (binascii.Error, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def add_gateway_routes(app: web.Application, cloud: Cloud) -> None:
    """Every endpoint under /api/{region}, sharing one replay cache."""
    nonces = NonceCache()
    for route in ROUTES:
        app.router.add_route(
            route.method, "/api/{region}" + route.path, _make_handler(cloud, route, nonces)
        )


def _make_handler(
    cloud: Cloud, route: Route, nonces: NonceCache
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        region = request.match_info["region"]
        cloud.counters.last_headers[route.path] = {
            k: request.headers.get(k, "")
            for k in ("Authorization", "Accept", "Content-Type", "Content-Length", "User-Agent")
        }
        if not _check_sign(nonces, dict(request.query)):
            return envelope(codes.BAD_SIGN, route=route)
        auth = _parse_jws(request.headers.get("Authorization", ""))
        world = cloud.world
        try:
            if auth is None or not isinstance(auth.get("Q"), str):
                raise WorldError(codes.QT_EXPIRED)
            sid = auth.get("sid")
            # T is not checked while the session id is valid (docs/protocol/accepted.md#sessions:
            # the working client's live engine sends T={} and works), unless `check_t_with_sid`
            t_unchecked = (
                route.needs_sid
                and not cloud.faults.check_t_with_sid
                and isinstance(sid, str)
                and world.accounts.session_valid(sid)
            )
            t_value = auth.get("T")
            if not isinstance(t_value, str) and not t_unchecked:
                raise WorldError(codes.QT_EXPIRED)
            tok = world.accounts.check_tokens(
                auth["Q"],
                t_value if isinstance(t_value, str) else "",
                region,
                decoded_ok=cloud.faults.qt_decoded_ok,
                check_t=not t_unchecked,
            )
            account = world.accounts.require(tok.qid)
            session = None
            if route.needs_sid:
                if not isinstance(sid, str) or not sid:
                    raise WorldError(codes.SID_EXPIRED)
                session = world.accounts.check_session(sid, account.qid)
            if tz := request.query.get("ci_tz"):
                account.tz = tz
            params = await _params(request)
            ctx = Ctx(cloud, region, params, account, session)
            data = await route.handler(ctx)
        except WorldError as err:
            return envelope(err.code, msg=err.msg, route=route)
        if isinstance(data, web.StreamResponse):
            return data
        shape = cloud.replay.get(route.path)
        if shape is not None:  # a field report's shape (replay.py)
            body = {"code": codes.OK, route.msg_key: codes.MESSAGES[codes.OK], route.data_key: data}
            return web.json_response(reshape(body, shape))
        return envelope(codes.OK, data, route=route)

    return handle
