"""The control API under /_emulator/ (loopback only): what tests, benchmarks and the demo drive.

Only the machine's own programs may drive it: requests from a loopback address, naming a
loopback host with the emulator's port in `Host` (a page that rebinds its name to 127.0.0.1
still sends its own name: 403), and POST/DELETE bodies declared `application/json` (a
cross-site form or a no-cors fetch cannot declare it without a CORS preflight, which is never
answered: 415). Documented in docs/emulator.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, fields
import ipaddress
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .network import PROFILES
from .world import WorldError

if TYPE_CHECKING:
    from .cloud import Cloud

ControlHandler = Callable[["Cloud", dict[str, Any], web.Request], Awaitable[Any]]
_CONTROL: list[tuple[str, str, ControlHandler]] = []


class BadControl(Exception):
    """A control request the emulator cannot act on (answered 400)."""


def control(method: str, path: str) -> Callable[[ControlHandler], ControlHandler]:
    def wrap(func: ControlHandler) -> ControlHandler:
        _CONTROL.append((method, path, func))
        return func

    return wrap


def add_control_routes(app: web.Application, cloud: Cloud) -> None:
    for method, path, func in _CONTROL:
        app.router.add_route(method, "/_emulator" + path, _wrap(cloud, func))


def _wrap(
    cloud: Cloud, func: ControlHandler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        if not cloud.loopback_only(request):
            return web.json_response({"error": "control API is loopback only"}, status=403)
        if not _loopback_host(request.headers.get("Host", ""), cloud):
            return web.json_response(
                {"error": "control API answers only a loopback Host with its port"}, status=403
            )
        if request.method in ("POST", "DELETE") and request.content_type != "application/json":
            return web.json_response(
                {"error": "control API takes only application/json bodies"}, status=415
            )
        body: dict[str, Any] = {}
        if request.method in ("POST", "DELETE") and request.can_read_body:
            try:
                loaded = await request.json()
            except (ValueError, UnicodeDecodeError):
                return web.json_response({"error": "body must be JSON"}, status=400)
            if not isinstance(loaded, dict):
                return web.json_response({"error": "body must be a JSON object"}, status=400)
            body = loaded
        body.update({k: v for k, v in request.query.items() if k not in body})
        try:
            result = await func(cloud, body, request)
        except WorldError as err:
            return web.json_response({"error": err.msg, "code": err.code}, status=400)
        except (BadControl, KeyError, TypeError, ValueError) as err:
            return web.json_response({"error": f"bad control request: {err}"}, status=400)
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result)

    return handle


def _loopback_host(header: str, cloud: Cloud) -> bool:
    """Whether a Host header names this emulator on loopback: `127.0.0.1`, `localhost`,
    `[::1]` (any loopback address, or the emulator's own host) with the emulator's port
    (no port: 80)."""
    host, port = header.strip().lower(), ""
    if host.startswith("["):
        inside, _, rest = host[1:].partition("]")
        host, port = inside, rest.removeprefix(":")
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not (port.isascii() and port.isdigit()) and port:
        return False
    if int(port or 80) != cloud.port:
        return False
    if host in ("localhost", cloud.host.lower()):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _account(cloud: Cloud, body: dict[str, Any]) -> Any:
    username = body.get("username")
    if not isinstance(username, str):
        raise BadControl("username is required")
    acc = cloud.world.accounts.find(username)
    if acc is None:
        raise BadControl(f"no account {username}")
    return acc


def _device(cloud: Cloud, name: Any) -> Any:
    dev = cloud.world.devices.get(str(name))
    if dev is None:
        raise BadControl(f"no device {name}")
    return dev


@control("GET", "/config")
async def get_config(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    return cloud.config()


@control("GET", "/state")
async def get_state(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    world = cloud.world
    return {
        **cloud.snapshot_state(),
        "accounts": [
            {
                "qid": a.qid,
                "username": a.username,
                "region": a.region,
                "restricted": a.restricted,
                "captcha_required": a.captcha_required,
                "erasure": a.erasure,
            }
            for a in world.accounts.values()
        ],
        "devices": [
            {
                "device_name": d.device_name,
                "product_key": d.product_key,
                "title": d.title,
                "category_key": d.category_key,
                "owner_qid": d.owner_qid,
                "online": d.online,
                "report": {k: v[0] for k, v in d.report.items()},
                "desired": {k: v[0] for k, v in d.desired.items()},
            }
            for d in world.devices.values()
        ],
        "shares": [asdict(s) for s in world.sharing.shares.values()],
        "messages": {qid: len(box) for qid, box in world.messages.boxes.items()},
        "sessions": {qid: sid[:6] for qid, sid in world.accounts.active_sid.items()},
        "clock": world.now(),
    }


@control("POST", "/trigger")
async def post_trigger(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    return await cloud.trigger(
        str(body["device_name"]),
        str(body["event_type"]),
        ctime=body.get("ctime"),
        title=body.get("title"),
        push=bool(body.get("push", True)),
    )


@control("POST", "/burst")
async def post_burst(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    """Many events at once, as a busy cloud sends them: {"events": [{device_name, event_type}]}."""
    events = body.get("events")
    if not isinstance(events, list) or not 0 < len(events) <= 1000:
        raise BadControl("events must be a list of 1 to 1000 {device_name, event_type}")
    results = []
    for item in events:
        results.append(
            await cloud.trigger(
                str(item["device_name"]), str(item["event_type"]), title=item.get("title")
            )
        )
        await asyncio.sleep(0)  # a cloud keeps serving other requests while events stream in
    return {"results": results}


@control("POST", "/accounts")
async def post_account(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    acc = cloud.world.accounts.add(
        str(body["username"]),
        str(body["password"]),
        str(body.get("region", "eu1")),
        nickname=str(body.get("nickname", "")),
        email=str(body.get("email", "")),
        mobile=str(body.get("mobile", "")),
        captcha=bool(body.get("captcha", False)),
    )
    acc.risk_new_device = bool(body.get("risk_new_device", False))
    return {"qid": acc.qid, "push_alias": acc.push_alias}


@control("POST", "/devices")
async def post_device(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    owner = _account(cloud, {"username": body.get("owner")})
    dev = cloud.world.devices.add(
        owner.qid,
        title=str(body.get("title", "Camera")),
        category_key=str(body.get("category_key", "camera")),
        product_name=str(body.get("product_name", "Indoor Camera C2")),
        product_key=body.get("product_key"),
        device_name=body.get("device_name"),
        battery=bool(body.get("battery", False)),
        properties=body.get("properties") or {},
        clip_encrypt=str(body.get("clip_encrypt", "none")),
        plan=body.get("plan"),
    )
    return {"device_name": dev.device_name, "product_key": dev.product_key}


@control("POST", "/devices/{device_name}")
async def update_device(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    dev = _device(cloud, request.match_info["device_name"])
    world = cloud.world
    if "online" in body:
        dev.online = bool(body["online"])
    if "title" in body:
        dev.title = str(body["title"])
    if "awake" in body:
        dev.awake_until = world.now() + 60 if body["awake"] else 0.0
    if "clip_encrypt" in body:
        dev.clip_encrypt = str(body["clip_encrypt"])
    if "latest_firmware" in body:
        dev.latest_firmware = str(body["latest_firmware"])
    if "plan" in body:
        dev.plan = body["plan"]
    for ident, value in (body.get("properties") or {}).items():
        world.devices.report_property(dev, ident, value)
    return {"device_name": dev.device_name, "online": dev.online}


@control("DELETE", "/devices/{device_name}")
async def delete_device(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    cloud.world.remove_device(request.match_info["device_name"])
    return {"removed": request.match_info["device_name"]}


@control("POST", "/shares")
async def post_share(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    dev = _device(cloud, body["device_name"])
    target = _account(cloud, {"username": body.get("to")})
    share = cloud.world.sharing.share(
        dev.owner_qid,
        dev.product_key,
        dev.device_name,
        email=target.email,
        mobile="" if target.email else target.mobile,
        level=int(body.get("level", 1)),
    )
    if body.get("accepted", True):
        share.status = 2
    return asdict(share)


@control("POST", "/expire")
async def post_expire(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    acc = _account(cloud, body)
    what = body.get("what", "sid")
    world = cloud.world
    if what == "sid":
        for sess in world.accounts.sessions.values():
            if sess.qid == acc.qid:
                sess.expired = True
    elif what in ("qt", "timeout"):
        for tok in world.accounts.tokens.values():
            if tok.qid == acc.qid:
                if what == "qt":
                    tok.expired = True
                else:
                    tok.timed_out = True
    else:
        raise BadControl("what must be sid, qt or timeout")
    return {"expired": what}


@control("POST", "/kick")
async def post_kick(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    """The phone app logs in: the integration's session becomes 'stolen' (102003)."""
    acc = _account(cloud, body)
    sess = cloud.world.accounts.app_login(acc.qid, acc.region, phone_app=True)
    return {"kicked": True, "at": sess.created}


@control("POST", "/captcha")
async def post_captcha(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    acc = _account(cloud, body)
    if "required" in body:
        acc.captcha_required = bool(body["required"])
    if "risk_new_device" in body:
        acc.risk_new_device = bool(body["risk_new_device"])
    return {"captcha_required": acc.captcha_required, "risk_new_device": acc.risk_new_device}


@control("GET", "/captcha")
async def get_captcha(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    ch = cloud.world.accounts.latest_challenge(body.get("username"))
    if ch is None:
        return web.json_response({"error": "no captcha issued"}, status=404)
    return {"sc": ch.sc, "code": ch.code, "mid": ch.mid}


@control("POST", "/faults")
async def post_faults(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    http_names = {f.name for f in fields(cloud.faults)}
    push_names = {f.name for f in fields(cloud.push.faults)}
    live_names = {f.name for f in fields(cloud.live.faults)}
    net_names = {f.name for f in fields(cloud.net.faults)}
    for key, value in body.items():
        if key in http_names:
            setattr(cloud.faults, key, type(getattr(cloud.faults, key))(value))
        elif key.startswith("push_") and key[5:] in push_names:
            name = key[5:]
            setattr(cloud.push.faults, name, type(getattr(cloud.push.faults, name))(value))
        elif key.startswith("live_") and key[5:] in live_names:
            name = key[5:]
            setattr(cloud.live.faults, name, type(getattr(cloud.live.faults, name))(value))
        elif key.startswith("net_") and key[4:] in net_names:
            name = key[4:]
            setattr(cloud.net.faults, name, type(getattr(cloud.net.faults, name))(value))
        elif key == "network" and value in PROFILES:
            cloud.net.use(str(value))
        elif key == "upgrade_fail":
            cloud.world.firmware.upgrade_fail = bool(value)
        elif key == "upgrade_seconds":
            cloud.world.firmware.upgrade_seconds = float(value)
        elif key == "url_ttl":
            cloud.world.url_ttl = int(value)
        else:
            raise BadControl(f"unknown fault {key}")
    return {
        "http": asdict(cloud.faults),
        "push": asdict(cloud.push.faults),
        "live": asdict(cloud.live.faults),
        "net": asdict(cloud.net.faults),
    }


@control("POST", "/push/drop")
async def push_drop(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    return {"dropped": cloud.push.drop_all()}


@control("POST", "/push/malformed")
async def push_malformed(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    return {"sent": cloud.push.malformed(str(body.get("kind", "garbage")))}


@control("GET", "/push")
async def push_stats(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    return {
        **asdict(cloud.push.stats),
        "connections_now": len(cloud.push.conns),
        "bound_aliases": len(cloud.push.by_alias),
    }


@control("GET", "/live")
async def live_stats(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    """Live view's counters, the streams publishing, the network's, and the video frames
    sent lately: [wall time (s), stream id, clip index] (the index is stamped in the
    picture, so a benchmark can tell when a browser paints which frame)."""
    since = float(request.query.get("since", "0") or 0)
    return {
        **asdict(cloud.live.stats),
        "publishing": sorted(s for s, p in cloud.live.publishers.items() if p.running),
        "network": cloud.net.stats(),
        "frames": [list(f) for f in cloud.live.sent if f[0] >= since],
    }


@control("POST", "/clock")
async def post_clock(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    if "advance" in body:
        cloud.world.clock_offset += float(body["advance"])
    if "offset" in body:
        cloud.world.clock_offset = float(body["offset"])
    return {"now": cloud.world.now(), "offset": cloud.world.clock_offset}


@control("POST", "/consent")
async def post_consent(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    acc = _account(cloud, body)
    pk = dn = ""
    if body.get("device_name"):
        dev = _device(cloud, body["device_name"])
        pk, dn = dev.product_key, dev.device_name
    cloud.world.consents.set(acc.qid, str(body["scope"]), int(body["granted"]), pk, dn)
    return {"items": cloud.world.consents.items_of(acc.qid)}


@control("POST", "/save")
async def post_save(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    cloud.save()
    return {"saved": cloud.state_path is not None}


@control("POST", "/replay")
async def post_replay(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    """Answer in the shapes a diagnostics file recorded (the file's JSON as the body); `{}`
    goes back to the emulator's own shapes (docs/diagnostics.md)."""
    return {"paths": cloud.load_report(body)}


@control("GET", "/replay")
async def get_replay(cloud: Cloud, body: dict[str, Any], request: web.Request) -> Any:
    return {"shapes": cloud.replay}
