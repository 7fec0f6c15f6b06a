"""The devices endpoints (docs/protocol/cloud-api.md#devices): the list, properties, camera keys,
services."""

from __future__ import annotations

import json
from typing import Any

from .. import codes
from ..world import (
    SERVICES,
    Device,
    WorldError,
)
from .base import Ctx, endpoint

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
    if not chunk and ctx.cloud.faults.empty_device_list == "omitted":
        return {"total": len(devices), "page": page}
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
    """Live view's media keys and license (docs/protocol/live-video.md#h2-keys); `sn` repeats
    device_name."""
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
        # cold (it boots first) or warm, docs/protocol/live-video.md#timers
        ctx.cloud.live.wake(dev)
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
