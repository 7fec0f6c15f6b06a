"""Live view's HTTP steps on the emulator (docs/protocol/live-video.md#setup-calls): cloud control,
relay sign, scheduler (schedule_2 registers a viewer's machineId for its account)."""

from __future__ import annotations

import base64
import json
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web
from Crypto.Cipher import AES

from .signing import relay_urlsign, substream_body, substream_sign

if TYPE_CHECKING:
    from ..world import World
    from .hub import LiveHub

CLOUD_CONTROL_KEY = b"livecloud0123456"
CORE = ("channel", "dtype", "sid", "sn", "stype", "ts", "userid")


def add_live_routes(app: web.Application, hub: LiveHub, world: World) -> None:
    async def cloud_control(request: web.Request) -> web.Response:
        net = {
            "p2p_tunnel_servers": hub.faults.tunnel_host or hub.host,
            "p2p_tunnel_port": str(hub.tunnel.port),
            "enable_p2p": "1",
            "tcp_tracker_dispatch_server": f"{hub.host}:80",
        }
        plain = json.dumps({"net": net}).encode()
        pad = 16 - len(plain) % 16
        ccdata = AES.new(CLOUD_CONTROL_KEY, AES.MODE_ECB).encrypt(plain + bytes([pad]) * pad)
        return web.json_response(
            {"errno": 0, "data": {"encrypt": "1", "ccdata": base64.b64encode(ccdata).decode()}}
        )

    async def relay_sign(request: web.Request) -> web.Response:
        form = await request.post()
        product_id, sn, reg_time = (str(form.get(k, "")) for k in ("product_id", "sn", "reg_time"))
        if hub.faults.bad_sign or request.query.get("urlsign", "") != relay_urlsign(
            product_id, sn, reg_time
        ):
            return web.json_response({"errno": 1001, "errmsg": "urlsign error"})
        dev = world.devices.get(sn)
        lic = (dev.live or {}).get("license") if dev is not None else None
        if (
            lic is None
            or lic["product_id"] != product_id
            or any(
                request.headers.get(h, "") != lic[k]
                for h, k in (
                    ("auth-time", "auth_time"),
                    ("rand-num", "rand_num"),
                    ("authorization", "authorization"),
                )
            )
        ):
            return web.json_response({"errno": 1002, "errmsg": "license rejected"})
        sign = {"sign": secrets.token_hex(16), "sname": secrets.token_hex(6), "sn": sn}
        hub.signs[sign["sign"]] = sign
        return web.json_response(
            {"errno": 0, "errmsg": "", "data": {"sign": sign["sign"], "sname": sign["sname"]}}
        )

    async def substream(request: web.Request) -> web.Response:
        query = dict(request.query)
        core = {k: query.get(k, "") for k in CORE}
        issued = hub.signs.get(query.get("_usign", ""))
        if query.get("_sign") != substream_sign(core) or issued is None:
            return web.Response(text=substream_body({"errcode": 1001, "errmsg": "sign error"}))
        device_sn = query.get("_deviceid", "")
        sid = core["sid"]
        video = sid.endswith("_bf")
        if not (sid.startswith(("shedule_1_", "shedule_2_")) or video) or issued["sn"] != device_sn:
            return web.Response(text=substream_body({"errcode": 1002, "errmsg": "bad session"}))
        if hub.faults.substream_errcode:
            code = hub.faults.substream_errcode
            return web.Response(text=substream_body({"errcode": code, "errmsg": "refused"}))
        if sid.startswith("shedule_2_"):
            # the viewer's registration: `sn` is <sn>_01_<machineId>, userid its account
            machine = core["sn"].removeprefix(f"{device_sn}_01_")
            hub.registered[(device_sn, machine)] = core["userid"]
        ukey = secrets.token_hex(8)
        hub.ukeys[ukey] = {"sn": device_sn, "video": video}
        stream_id = f"{device_sn}_01_01"
        answer: dict[str, Any] = {
            "errcode": 0,
            "servers": [f"{hub.faults.relay_host or hub.host}:{hub.relay.port}"],
            "auth_key": ukey,
            "cluster_id": "EU_relay",
            "sn": stream_id,
        }
        return web.Response(text=substream_body(answer))

    for region_path in ("/live/{region}",):
        app.router.add_post(region_path + "/iotext/sdk", cloud_control)
        app.router.add_post(region_path + "/licenseext/Device/getRelaySign", relay_sign)
        app.router.add_get(region_path + "/schedule/substream", substream)
