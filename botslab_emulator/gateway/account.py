"""The account endpoints: the app login (docs/protocol/cloud-api.md#app-login), privacy consents and
data rights, firmware and the network test (section 8)."""

from __future__ import annotations

from typing import Any

from .. import codes
from ..world import (
    ACCOUNT_SCOPES,
    DEVICE_SCOPES,
    WorldError,
)
from .base import Ctx, endpoint

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
