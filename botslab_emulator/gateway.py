"""The sapp-api gateway (protocol.md sections 3, 6, 7, 8): checks, then every endpoint."""

from __future__ import annotations

import base64
import binascii
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
import json
import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from . import codes
from .crypto import api_sign
from .world import (
    ACCOUNT_SCOPES,
    DEVICE_SCOPES,
    EVENT_TITLES,
    EVENT_TYPES,
    SERVICES,
    Account,
    Device,
    Message,
    Session,
    WorldError,
    kind_of,
    valid_hhmm,
)

if TYPE_CHECKING:
    from .cloud import Cloud

SIGN_WINDOW_S = 300
MAX_BODY = 64 * 1024
_M2 = re.compile(r"^([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")
_SIGN_NO = re.compile(r"^([A-Za-z0-9]{20}|[0-9a-f]{32})$")
_MOBILE = re.compile(r"^[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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
            if (
                auth is None
                or not isinstance(auth.get("Q"), str)
                or not isinstance(auth.get("T"), str)
            ):
                raise WorldError(codes.QT_EXPIRED)
            tok = world.accounts.check_tokens(
                auth["Q"], auth["T"], region, decoded_ok=cloud.faults.qt_decoded_ok
            )
            account = world.accounts.require(tok.qid)
            session = None
            if route.needs_sid:
                sid = auth.get("sid")
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
        return envelope(codes.OK, data, route=route)

    return handle


# --- 3.1 app login ------------------------------------------------------------------------


@endpoint("POST", "/v1/app/login", needs_sid=False)
async def app_login(ctx: Ctx) -> Any:
    sess = ctx.cloud.world.accounts.app_login(ctx.qid, ctx.region)
    return {
        "sid": sess.sid,
        "push_alias": ctx.account.push_alias,
        "uid": f"botslab_{ctx.qid}",
        "nickname": ctx.account.nickname,
    }


# --- 3.2 devices -----------------------------------------------------------------------------


def device_json(dev: Device, role: str, level: int) -> dict[str, Any]:
    return {
        "product_key": dev.product_key,
        "device_name": dev.device_name,
        "device_title": dev.title,
        "product_name": dev.product_name,
        "online_status": "online" if dev.online else "offline",
        "category_key": dev.category_key,
        "category_name": dev.category_name,
        "roles": role if role == "owner" else f"share_{level}",
        "share_level": level,
        "bind_ts": dev.bind_ts,
        "product_logo": dev.product_logo,
    }


@endpoint("GET", "/v1/iot/device/list")
async def device_list(ctx: Ctx) -> Any:
    page = ctx.num("page", 1, 1)
    size = ctx.num("page_size", 50, 1, 50)
    devices = sorted(ctx.cloud.world.sharing.visible_devices(ctx.qid), key=lambda x: x[0].bind_ts)
    chunk = devices[(page - 1) * size : page * size]
    key = ctx.cloud.faults.device_list_key
    return {key: [device_json(*d) for d in chunk], "total": len(devices), "page": page}


@endpoint("GET", "/v1/iot/device/get_desired_property")
async def get_desired_property(ctx: Ctx) -> Any:
    dev = ctx.device()

    def items(src: dict[str, list[Any]]) -> list[dict[str, Any]]:
        return [{"identifier": k, "value": v[0], "timestamp": v[1]} for k, v in src.items()]

    return {"report": items(dev.report), "desired": items(dev.desired)}


@endpoint("POST", "/v1/iot/device/set_property")
async def set_property(ctx: Ctx) -> Any:
    dev = ctx.device(level=2)
    try:
        items = json.loads(ctx.get("items"))
    except ValueError as err:
        raise WorldError(codes.INVALID_PARAM, "items must be a JSON object") from err
    if not isinstance(items, dict) or not items:
        raise WorldError(codes.INVALID_PARAM, "items must be a JSON object")
    ctx.cloud.world.devices.set_properties(dev, items)
    return None


@endpoint("GET", "/v1/iot/camera/get_keys")
async def camera_get_keys(ctx: Ctx) -> Any:
    """Live view's media keys and license (liveview.md H2); `sn` repeats device_name."""
    dev = ctx.device()
    if ctx.get("sn") and ctx.get("sn") != dev.device_name:
        raise WorldError(codes.INVALID_PARAM, "sn does not match device_name")
    return ctx.cloud.world.devices.live_keys(dev)


@endpoint("POST", "/v1/iot/device/invoke_service")
async def invoke_service(ctx: Ctx) -> Any:
    dev = ctx.device(level=2)
    ident = ctx.get("identifier")
    try:
        args = json.loads(ctx.get("input") or "{}")
    except ValueError as err:
        raise WorldError(codes.INVALID_PARAM, "input must be JSON") from err
    if not isinstance(args, dict):
        raise WorldError(codes.INVALID_PARAM, "input must be a JSON object")
    if ident not in SERVICES:
        raise WorldError(codes.UNKNOWN_IDENTIFIER, f"unknown service {ident}")
    world = ctx.cloud.world
    if not dev.online:
        raise WorldError(codes.DEVICE_OFFLINE)
    result: dict[str, Any] = {"ErrorNO": 0}
    if ident == "WakeUp":
        dev.awake_until = world.now() + 60
    elif ident == "Reboot":
        world.devices.report_property(dev, "LastReboot", int(world.now()))
    elif ident == "TakeSnapshot":
        if not world.devices.is_awake(dev):
            result = {"ErrorNO": 10, "ErrorMsg": "device is sleeping"}
        else:
            result["url"] = await ctx.cloud.oss.take_snapshot(dev)
    elif ident in ("SirenOn", "SirenOff"):
        world.devices.report_property(dev, "Siren", int(ident == "SirenOn"))
    return {"result": json.dumps(result)}


# --- 3.3 events --------------------------------------------------------------------------------


def message_json(ctx: Ctx, msg: Message) -> dict[str, Any]:
    cloud = ctx.cloud
    expires = int(cloud.world.now()) + cloud.world.url_ttl
    tdata: dict[str, Any] = {
        "event_type": msg.event_type,
        "device_name": msg.device_name,
        "product_key": msg.product_key,
        "title": msg.title,
        "ctime": msg.ctime,
        "image": {
            "url": cloud.oss.url(msg.image_object, expires),
            "encrypt": "none",
            "expire_time": expires,
        },
        "extend": msg.extend,
    }
    if msg.video_object:
        tdata["video"] = {
            "url": cloud.oss.aliyun_url(msg.video_object),
            "secretkey": msg.secretkey,
            # an unknown `encrypt` value in place of chacha2: the clip_encrypt knob
            "encrypt": cloud.faults.clip_encrypt
            if cloud.faults.clip_encrypt and msg.encrypt == "chacha2"
            else msg.encrypt,
            "duration": cloud.clip_duration,
        }
    return message_forms(ctx.cloud.faults, msg, tdata)


def message_forms(faults: Any, msg: Message, tdata: dict[str, Any]) -> dict[str, Any]:
    """The message in the field forms the knobs choose: the id under `id`, `msg_id` or
    `message_id`, as a string or (numeric ids only) a number; the serial in tdata or as
    `sn`; the type in tdata or at the top as `event_type` or `type` (protocol.md 3.3)."""
    msg_id: str | int = msg.id
    if faults.message_ids == "number" and msg.id.isdigit():
        msg_id = int(msg.id)
    item: dict[str, Any] = {faults.message_id_key: msg_id, "tname": kind_of(msg.event_type)}
    if faults.message_serial == "sn":
        item["sn"] = tdata.pop("device_name")
    if faults.message_type in ("event_type", "type"):
        item[faults.message_type] = tdata.pop("event_type")
    item["tdata"] = tdata
    return item


@endpoint("GET", "/v2/message/list")
async def message_list(ctx: Ctx) -> Any:
    limit = ctx.num("limit", None, 1, 100) if ctx.get("limit") else ctx.num("page_size", 20, 1, 100)
    page = ctx.num("page", 1, 1)
    nextid = ctx.get("nextid") or None
    day = None
    if ctx.get("date"):
        try:
            day = date.fromisoformat(ctx.get("date"))
        except ValueError as err:
            raise WorldError(codes.INVALID_PARAM, "date must be YYYY-MM-DD") from err
    types = {t for t in ctx.get("event_type").split(",") if t} or None
    items, more = ctx.cloud.world.messages.list(
        ctx.qid,
        nextid=nextid,
        day=day,
        product_key=ctx.get("product_key") or None,
        device_name=ctx.get("device_name") or None,
        event_types=types,
        limit=limit,
        page=page,
    )
    return {
        "items": [message_json(ctx, m) for m in items],
        "nextid": items[-1].id if items and more else "",
        "previd": items[0].id if items else "",
        "has_more": int(more),
    }


@endpoint("GET", "/v2/config/event_type", data_key="result", msg_key="message")
async def event_type_catalogue(ctx: Ctx) -> Any:
    pk = ctx.get("product_key")
    is_doorbell = any(
        d.category_key == "doorbell" and d.product_key == pk
        for d in ctx.cloud.world.devices.values()
    )
    select: list[dict[str, str]] = []
    for kind, raws in EVENT_TYPES.items():
        if kind == "ring" and pk and not is_doorbell:
            continue
        select.extend(
            {
                "event_type": raw,
                "name": EVENT_TITLES[kind],
                "icon": f"https://static.botslab.com/event/{kind}.png",
            }
            for raw in raws
        )
    return {"select": select}


@endpoint("GET", "/v1/oss/get_play_url")
async def get_play_url(ctx: Ctx) -> Any:
    url = ctx.get("url")
    resolved = ctx.cloud.oss.resolve_aliyun(url, ctx.qid)
    if resolved is None:
        raise WorldError(codes.INVALID_PARAM, "unknown or badly signed url")
    return resolved


@endpoint("POST", "/v1/oss/get_play_url")
async def get_play_url_post(ctx: Ctx) -> Any:
    raise WorldError(codes.PLAY_URL_NEEDS_GET)


@endpoint("GET", "/v1/cloud/service/status", data_key="result", msg_key="message")
async def cloud_service(ctx: Ctx) -> Any:
    dev = ctx.device()
    plan = dev.plan
    now = ctx.cloud.world.now()
    if not plan:
        return {
            "commodity_name": "",
            "start_timestamp": 0,
            "end_timestamp": 0,
            "service_day_num": 0,
            "storage_day_num": 0,
            "surplus_second": 0,
            "status": 0,
        }
    left = max(0, int(plan["end_timestamp"] - now))
    return {**plan, "surplus_second": left, "status": int(left > 0)}


# --- section 6: sharing -----------------------------------------------------------------------


def share_json(share: Any) -> dict[str, Any]:
    out = {
        "id": share.id,
        "nickname": share.nickname,
        "level": share.level,
        "status": share.status,
        "ctime": share.ctime,
    }
    if share.mobile:
        out["mobile"] = share.mobile
    if share.email:
        out["email"] = share.email
    return out


def _level(ctx: Ctx) -> int:
    return ctx.num("level", 1, 1, 3)


@endpoint("POST", "/v1/iot/share/by_mobile")
async def share_by_mobile(ctx: Ctx) -> Any:
    mobile = ctx.get("mobile").lstrip("+")
    if not _MOBILE.match(mobile):
        raise WorldError(codes.INVALID_PARAM, "mobile must be E.164 digits")
    share = ctx.cloud.world.sharing.share(
        ctx.qid, ctx.get("product_key"), ctx.get("device_name"), mobile=mobile, level=_level(ctx)
    )
    return share_json(share)


@endpoint("POST", "/v1/iot/share/by_email")
async def share_by_email(ctx: Ctx) -> Any:
    email = ctx.get("email").strip()
    if not _EMAIL.match(email):
        raise WorldError(codes.INVALID_PARAM, "invalid email")
    share = ctx.cloud.world.sharing.share(
        ctx.qid, ctx.get("product_key"), ctx.get("device_name"), email=email, level=_level(ctx)
    )
    return share_json(share)


@endpoint("GET", "/v1/iot/share/list")
async def share_list(ctx: Ctx) -> Any:
    shares = ctx.cloud.world.sharing.device_shares(
        ctx.qid, ctx.get("product_key"), ctx.get("device_name")
    )
    return {"items": [share_json(s) for s in shares]}


@endpoint("POST", "/v1/iot/share/cancel")
async def share_cancel(ctx: Ctx) -> Any:
    ctx.cloud.world.sharing.cancel_share(ctx.qid, ctx.num("id"))
    return None


@endpoint("GET", "/v1/iot/share/pending")
async def share_pending(ctx: Ctx) -> Any:
    world = ctx.cloud.world
    items = []
    for s in world.sharing.pending_for(ctx.qid):
        dev = world.devices.get(s.device_name)
        owner = world.accounts.get(s.owner_qid)
        items.append(
            {
                "id": s.id,
                "product_key": s.product_key,
                "device_name": s.device_name,
                "device_title": dev.title if dev else "",
                "from_nickname": owner.nickname if owner else "",
                "level": s.level,
            }
        )
    return {"items": items}


@endpoint("POST", "/v1/iot/share/accept")
async def share_accept(ctx: Ctx) -> Any:
    ctx.cloud.world.sharing.answer_invitation(ctx.qid, ctx.num("id"), True)
    return None


@endpoint("POST", "/v1/iot/share/refuse")
async def share_refuse(ctx: Ctx) -> Any:
    ctx.cloud.world.sharing.answer_invitation(ctx.qid, ctx.num("id"), False)
    return None


# --- section 7: notifications --------------------------------------------------------------


@endpoint("GET", "/v1/push/dnd")
async def dnd_get(ctx: Ctx) -> Any:
    return dict(ctx.account.dnd)


@endpoint("POST", "/v1/push/dnd")
async def dnd_set(ctx: Ctx) -> Any:
    dnd = dict(ctx.account.dnd)
    dnd["is_open"] = ctx.num("is_open", None, 0, 1)
    for name in ("start_time", "end_time"):
        if ctx.get(name):
            if not valid_hhmm(ctx.get(name)):
                raise WorldError(codes.INVALID_PARAM, f"{name} must be HH:MM")
            dnd[name] = ctx.get(name)
    ctx.account.dnd = dnd
    return dict(dnd)


def _setting_key(ctx: Ctx) -> tuple[str, Device]:
    key = ctx.get("key")
    if key and not ctx.get("device_name"):
        pk, _, dn = key.rpartition("_")
        ctx.params.update(product_key=pk, device_name=dn)
    dev = ctx.device()
    return dev.key, dev


@endpoint("GET", "/v1/push/device_setting")
async def device_setting_get(ctx: Ctx) -> Any:
    key, _dev = _setting_key(ctx)
    setting = ctx.account.device_settings.get(key, {"is_open": 1, "event": {}})
    return {"key": key, **setting}


@endpoint("POST", "/v1/push/device_setting")
async def device_setting_set(ctx: Ctx) -> Any:
    key, _dev = _setting_key(ctx)
    setting = dict(ctx.account.device_settings.get(key, {"is_open": 1, "event": {}}))
    if ctx.get("is_open"):
        setting["is_open"] = ctx.num("is_open", None, 0, 1)
    if ctx.get("event"):
        try:
            event = json.loads(ctx.get("event"))
        except ValueError as err:
            raise WorldError(codes.INVALID_PARAM, "event must be JSON") from err
        if not isinstance(event, dict) or not all(
            isinstance(v, dict) and v.get("is_open") in (0, 1, "0", "1") for v in event.values()
        ):
            raise WorldError(codes.INVALID_PARAM, "event must map event types to {is_open}")
        merged = dict(setting.get("event", {}))
        merged.update({k: {"is_open": int(v["is_open"])} for k, v in event.items()})
        setting["event"] = merged
    ctx.account.device_settings[key] = setting
    return {"key": key, **setting}


@endpoint("POST", "/v1/push/snooze")
async def snooze(ctx: Ctx) -> Any:
    dev = ctx.device()
    seconds = ctx.num("second", None, 0, 7 * 86400)
    until = ctx.cloud.world.now() + seconds
    if seconds:
        ctx.account.snoozes[dev.key] = until
    else:
        ctx.account.snoozes.pop(dev.key, None)
    return {"key": dev.key, "second": seconds, "until": int(until)}


# --- section 8: privacy, firmware, network test -----------------------------------------------


@endpoint("GET", "/v1/user/privacy/consent")
async def consent_list(ctx: Ctx) -> Any:
    return {"items": ctx.cloud.world.consents.items_of(ctx.qid)}


@endpoint("POST", "/v1/user/privacy/consent")
async def consent_set(ctx: Ctx) -> Any:
    scope = ctx.get("scope")
    if scope not in ACCOUNT_SCOPES + DEVICE_SCOPES:
        raise WorldError(codes.INVALID_PARAM, f"unknown scope {scope}")
    ctx.cloud.world.consents.set(
        ctx.qid,
        scope,
        ctx.num("granted", None, 0, 1),
        ctx.get("product_key"),
        ctx.get("device_name"),
    )
    return {"items": ctx.cloud.world.consents.items_of(ctx.qid)}


@endpoint("GET", "/v1/user/privacy/export")
async def privacy_export(ctx: Ctx) -> Any:
    return ctx.cloud.world.rights.export(ctx.qid)


@endpoint("POST", "/v1/user/privacy/restrict")
async def privacy_restrict(ctx: Ctx) -> Any:
    ctx.account.restricted = bool(ctx.num("restricted", None, 0, 1))
    return {"restricted": int(ctx.account.restricted)}


@endpoint("POST", "/v1/user/privacy/erase")
async def privacy_erase(ctx: Ctx) -> Any:
    return ctx.cloud.world.rights.request_erasure(ctx.qid, ctx.get("confirm"))


@endpoint("GET", "/v1/iot/ota/check_upgrade_version")
async def ota_check(ctx: Ctx) -> Any:
    state = ctx.cloud.world.firmware.state(ctx.device())
    return {
        k: state[k]
        for k in ("current_version", "upgrade", "version", "descriptions", "size", "is_upgrading")
    }


@endpoint("POST", "/v1/iot/ota/upgrade")
async def ota_upgrade(ctx: Ctx) -> Any:
    dev = ctx.cloud.world.sharing.owned_device(
        ctx.qid, ctx.get("product_key"), ctx.get("device_name")
    )
    ctx.cloud.world.firmware.start_upgrade(dev)
    return None


@endpoint("GET", "/v1/iot/ota/progress")
async def ota_progress(ctx: Ctx) -> Any:
    state = ctx.cloud.world.firmware.state(ctx.device())
    return {"percent": state["percent"], "progress": state["progress"]}


@endpoint("POST", "/v1/iot/device/network_test")
async def network_test(ctx: Ctx) -> Any:
    dev = ctx.device()
    world = ctx.cloud.world
    if not world.consents.granted(ctx.qid, "network_test"):
        raise WorldError(codes.CONSENT_REQUIRED, "network_test consent is withdrawn")
    if not dev.online:
        raise WorldError(codes.DEVICE_OFFLINE)
    rssi = dev.report.get("WifiRssi", [-61, ""])[0]
    return {
        "network_type": "wifi",
        "isp": "Emulated ISP",
        "ip": "192.0.2.17",
        "rssi": rssi,
        "latency_ms": 38,
        "loss_pct": 0.0,
        "result": "good",
    }
