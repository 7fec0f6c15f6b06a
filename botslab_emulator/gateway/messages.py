"""The events endpoints (docs/protocol/cloud-api.md#messages): the message list in its several wire
forms, the event catalogue, play URLs, the cloud plan."""

from __future__ import annotations

from datetime import date
import math
from typing import Any

from aiohttp import web

from .. import codes
from ..world import (
    EVENT_TITLES,
    EVENT_TYPES,
    Message,
    WorldError,
    kind_of,
)
from .base import Ctx, endpoint

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
    `message_id`, as a string or (numeric ids only) a number, or none; the serial in tdata or
    as `sn`; the type in tdata or at the top as `event_type` or `type`
    (docs/protocol/cloud-api.md#messages); no tdata at all (its fields at the top); ctime in
    milliseconds (docs/protocol/accepted.md#messages)."""
    msg_id: str | int = msg.id
    if faults.message_ids == "number" and msg.id.isdigit():
        msg_id = int(msg.id)
    item: dict[str, Any] = {faults.message_id_key: msg_id, "tname": kind_of(msg.event_type)}
    if faults.message_form == "no_id":
        del item[faults.message_id_key]
    if faults.message_form == "ctime_ms":
        tdata["ctime"] = msg.ctime * 1000 + msg.seq % 1000
    if faults.message_serial == "sn":
        item["sn"] = tdata.pop("device_name")
    if faults.message_type in ("event_type", "type"):
        item[faults.message_type] = tdata.pop("event_type")
    if faults.message_form == "flat":
        item.update(tdata)  # no tdata: its fields at the top of the item
    else:
        item["tdata"] = tdata
    return item


@endpoint("GET", "/v2/message/list")
async def message_list(ctx: Ctx) -> Any:
    wait = ctx.cloud.list_limiter.take(ctx.qid, ctx.cloud.world.now(), ctx.cloud.faults)
    if wait > 0:
        return web.json_response(
            {"code": 429, "msg": "too many requests", "data": None},
            status=429,
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
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
    filtered = not ctx.cloud.faults.list_ignores_filters
    items, more = ctx.cloud.world.messages.list(
        ctx.qid,
        nextid=nextid,
        day=day if filtered else None,
        product_key=(ctx.get("product_key") or None) if filtered else None,
        device_name=(ctx.get("device_name") or None) if filtered else None,
        event_types=types if filtered else None,
        limit=limit,
        page=page,
    )
    return {
        ctx.cloud.faults.message_list_key: [message_json(ctx, m) for m in items],
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
