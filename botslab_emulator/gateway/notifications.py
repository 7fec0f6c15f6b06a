"""The notification endpoints (docs/protocol/cloud-api.md#notifications): do-not-disturb, per-device
settings, snooze."""

from __future__ import annotations

import json
from typing import Any

from .. import codes
from ..world import (
    Device,
    WorldError,
    valid_hhmm,
)
from .base import Ctx, endpoint

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
