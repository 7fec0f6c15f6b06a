"""Live view's HTTP steps on the client (docs/protocol/live-video.md#setup-calls): cloud control,
relay sign and the three scheduler calls. The tunnel, relays and the session object come next."""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import time
from typing import Any

import aiohttp
from Crypto.Cipher import AES

from .. import safejson
from ..endpoints import Endpoints
from ..exceptions import ApiError, BotslabError, ProtocolError
from ..http import DEFAULT_TIMEOUT, check_status, parse_json, read_limited, request
from ..models import LiveLicense, as_list, code_of
from .signing import schedule_sign, strip_substream, urlsign

CLOUD_CONTROL_KEY = b"livecloud0123456"
CLOUD_CONTROL_BODY = "app_name=super_app&version=1.0.1&platform=android"
DALVIK_UA = "Dalvik/2.1.0 (Linux; U; Android 11; SM-T545 Build/RP1A.200720.012)"
NETSDK_UA = "netsdk"


@dataclass(frozen=True, slots=True)
class TunnelServers:
    hosts: tuple[str, ...]
    port: int


@dataclass(frozen=True, slots=True)
class RelaySign:
    sign: str = field(repr=False)
    sname: str


@dataclass(frozen=True, slots=True)
class Schedule:
    servers: tuple[str, ...]
    ukey: str = field(repr=False)
    cluster_id: str = ""
    stream_id: str = ""


@asynccontextmanager
async def _recorded(endpoints: Endpoints, name: str) -> AsyncIterator[None]:
    """A step that failed before its answer parsed is recorded (diagnostics)."""
    try:
        yield
    except BotslabError as err:
        endpoints.answers.failed(name, err)
        raise


def host_port(server: str) -> tuple[str, int] | None:
    """A relay's "host:port" (a bare host means port 80), or None when it is not one."""
    host, colon, port_text = server.strip().rpartition(":")
    if not colon:
        host, port_text = server.strip(), "80"
    port = code_of(port_text) if port_text.isascii() else None
    if not host or any(c.isspace() for c in host) or port is None or not 0 < port < 65536:
        return None
    return host, port


async def cloud_control(session: aiohttp.ClientSession, endpoints: Endpoints) -> TunnelServers:
    """H3: the tunnel servers, from AES-128-ECB `ccdata`."""
    url = endpoints.regions[endpoints.region].iotext_url + "/sdk"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": DALVIK_UA}
    async with _recorded(endpoints, "live cloud control"):
        async with request(
            session,
            "POST",
            url,
            "cloud control",
            gate=endpoints.gate,
            data=CLOUD_CONTROL_BODY,
            headers=headers,
            timeout=DEFAULT_TIMEOUT,
        ) as resp:
            check_status(resp, "cloud control")
            answer = parse_json(await read_limited(resp, "cloud control"), "cloud control")
        endpoints.answers.answered("live cloud control", resp.status, answer)
    if answer.get("errno") not in (0, "0"):
        code = code_of(answer.get("errno"))
        raise ApiError(-1 if code is None else code, str(answer.get("errmsg") or "")[:200])
    try:
        data = answer["data"]
        plain = AES.new(CLOUD_CONTROL_KEY, AES.MODE_ECB).decrypt(base64.b64decode(data["ccdata"]))
        if plain and 1 <= plain[-1] <= 16:
            plain = plain[: -plain[-1]]
        net = safejson.loads(plain.decode("utf-8"))["net"]
        hosts = tuple(h.strip() for h in str(net["p2p_tunnel_servers"]).split(",") if h.strip())
        port = code_of(net.get("p2p_tunnel_port") or 8080) or 0
    except (
        KeyError,
        TypeError,
        ValueError,
        binascii.Error,
        UnicodeDecodeError,
        RecursionError,
    ) as err:
        raise ProtocolError("cloud control answer does not parse") from err
    if not 0 < port < 65536:
        raise ProtocolError("cloud control names no usable tunnel port")
    if not hosts:
        raise ProtocolError("cloud control offered no tunnel server")
    return TunnelServers(hosts, port)


async def relay_sign(
    session: aiohttp.ClientSession, endpoints: Endpoints, license_: LiveLicense, sn: str
) -> RelaySign:
    """H4: the relay signature (uSign) and the channel name (sname)."""
    reg_time = str(int(time.time()))
    url = endpoints.regions[endpoints.region].license_url + "/Device/getRelaySign"
    headers = {
        "auth-time": license_.auth_time,
        "rand-num": license_.rand_num,
        "authorization": license_.authorization,
        "User-Agent": NETSDK_UA,
    }
    form = {"product_id": license_.product_id, "sn": sn, "reg_time": reg_time}
    params = {"urlsign": urlsign(license_.product_id, sn, reg_time)}
    async with _recorded(endpoints, "live relay sign"):
        async with request(
            session,
            "POST",
            url,
            "relay sign",
            gate=endpoints.gate,
            params=params,
            data=form,
            headers=headers,
            timeout=DEFAULT_TIMEOUT,
        ) as resp:
            check_status(resp, "relay sign")
            answer = parse_json(await read_limited(resp, "relay sign"), "relay sign")
        endpoints.answers.answered("live relay sign", resp.status, answer)
    data = answer.get("data")
    if not isinstance(data, dict) or not data.get("sign"):
        code = code_of(answer.get("errno"))
        raise ApiError(code or -1, str(answer.get("errmsg") or "relay sign refused")[:200])
    return RelaySign(str(data["sign"]), str(data.get("sname") or ""))


async def schedule(
    session: aiohttp.ClientSession,
    endpoints: Endpoints,
    *,
    kind: int | str,
    product_id: str,
    sn: str,
    usign: str,
    sname: str,
    uid: str,
    machine_id: str,
    stream_id: str = "",
) -> Schedule:
    """H5 (kind 1), H6 (kind 2) and H7 (kind "bf") of `/substream`."""
    tms = str(int(time.time() * 1000))
    if kind == 1:
        sid, stream_sn = f"shedule_1_{product_id}_{sn}_{tms}_1", f"{sn}_01_01"
    elif kind == 2:
        sid, stream_sn = f"shedule_2_{product_id}_{sn}_{tms}_1", f"{sn}_01_{machine_id}"
    else:
        sid, stream_sn = f"{stream_id or sn + '_01_01'}_bf", f"{sn}_01_01"
    core = {
        "channel": sname,
        "dtype": "non",
        "sid": sid,
        "sn": stream_sn,
        "stype": "auto",
        "ts": tms,
        "userid": uid or "10010",
    }
    extra = {
        "_deviceid": sn,
        "_ostype": "2",
        "_ver": "2",
        "_streamtype": "all",
        "_sdk_ver": "2",
        "_delay": "0",
        "_usign": usign,
        "_sign": schedule_sign(core),
    }
    # built by hand, unescaped, in this order (docs/protocol/live-video.md#h5-h7-scheduler)
    query = "&".join(f"{k}={v}" for k, v in (*core.items(), *extra.items()))
    url = f"{endpoints.regions[endpoints.region].schedule_url}/substream?{query}"
    async with _recorded(endpoints, "live scheduler"):
        async with request(
            session,
            "GET",
            url,
            "scheduler",
            gate=endpoints.gate,
            headers={"User-Agent": NETSDK_UA},
            timeout=DEFAULT_TIMEOUT,
        ) as resp:
            check_status(resp, "scheduler")
            body = await read_limited(resp, "scheduler")
            answer: dict[str, Any] = strip_substream(body.decode("utf-8", "replace"))
        endpoints.answers.answered("live scheduler", resp.status, answer)
    if answer.get("errcode") not in (0, "0"):
        code = code_of(answer.get("errcode"))
        raise ApiError(-1 if code is None else code, str(answer.get("errmsg") or "refused")[:200])
    # "host:port" (or a bare host: port 80); anything else is dropped, never dialled
    servers = tuple(
        s for s in as_list(answer.get("servers")) if isinstance(s, str) and host_port(s)
    )
    if kind == 1 and (not servers or not answer.get("auth_key")):
        raise ProtocolError("schedule without servers or key")
    return Schedule(
        servers,
        str(answer.get("auth_key") or ""),
        str(answer.get("cluster_id") or ""),
        str(answer.get("sn") or ""),
    )
