"""The sharing endpoints (docs/protocol/cloud-api.md#sharing): by phone or email, lists,
invitations."""

from __future__ import annotations

from typing import Any

from .. import codes
from ..world import WorldError
from .base import EMAIL_RE, MOBILE_RE, Ctx, endpoint

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
    if not MOBILE_RE.match(mobile):
        raise WorldError(codes.INVALID_PARAM, "mobile must be E.164 digits")
    share = ctx.cloud.world.sharing.share(
        ctx.qid, ctx.get("product_key"), ctx.get("device_name"), mobile=mobile, level=_level(ctx)
    )
    return share_json(share)


@endpoint("POST", "/v1/iot/share/by_email")
async def share_by_email(ctx: Ctx) -> Any:
    email = ctx.get("email").strip()
    if not EMAIL_RE.match(email):
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
