"""Events: messages and their pages, snapshot and clip references, the event catalogue, play
URLs, the cloud plan that keeps the clips."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
import hashlib
import time
from typing import Any

from .. import safejson
from ..exceptions import ProtocolError
from .values import (
    INT_LIMIT,
    number,
    obj_field,
    str_field,
)
from .vocab import (
    EventKind,
    event_kind,
)


@dataclass(frozen=True, slots=True)
class ImageRef:
    url: str = field(repr=False)
    encrypt: str = "none"
    expire_time: int = 0


@dataclass(frozen=True, slots=True)
class VideoRef:
    url: str = field(repr=False)
    secretkey: str = field(default="", repr=False)
    encrypt: str = "none"
    duration: int = 0

    @property
    def encrypted(self) -> bool:
        return self.encrypt not in ("", "none")


MS_CTIME = 10**11  # a ctime from here on counts milliseconds (10**11 s is the year 5138)
FUTURE_SLACK = 600  # seconds a ctime may run ahead of this clock before it counts as "now"


def message_id(value: Any) -> str:
    """A message id as an opaque string: the cloud sends a string or a number
    (docs/protocol/cloud-api.md#messages), and nothing may assume it is numeric or increasing. ''
    when it is missing."""
    if value is None or isinstance(value, bool | Mapping | list):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < INT_LIMIT else ""
    text = str(value).strip()
    return text if len(text) <= 128 else ""


def item_id(raw: Any) -> str:
    """The id of a message list item, under any of its field names; for an item without one
    (the working client keeps those, docs/protocol/accepted.md#messages), an id derived from its
    content that stays the same however often it is listed. '' for what is not an item at all."""
    if not isinstance(raw, Mapping):
        return ""
    declared = next(
        (i for k in ("id", "msg_id", "message_id") if (i := message_id(raw.get(k)))), ""
    )
    if declared or any(raw.get(k) not in (None, "") for k in ("id", "msg_id", "message_id")):
        return declared  # an id that is there but unusable (an object, 200 characters) is not
    try:
        return content_id(raw, _tdata(raw))
    except ProtocolError:
        return ""


def _tdata(item: Mapping[str, Any]) -> Mapping[str, Any]:
    """The item's `tdata` (an object or a JSON string), or the item itself when it has none:
    the working client also reads a message whose fields stand at the top
    (docs/protocol/accepted.md#messages)."""
    tdata = item.get("tdata")
    if tdata is None:
        return item
    if isinstance(tdata, str):
        try:
            tdata = safejson.loads(tdata)
        except (ValueError, RecursionError) as err:
            raise ProtocolError("tdata is not JSON") from err
    return obj_field(tdata, "tdata")


def _link_without_query(media: Any) -> str:
    url = media.get("url") if isinstance(media, Mapping) else None
    return str(url).split("?", 1)[0] if isinstance(url, str) else ""


def content_id(item: Mapping[str, Any], tdata: Mapping[str, Any]) -> str:
    """A stable id for a message without one: a digest of what does not change between two
    listings of it (device, type, time as sent, title, the media links without their
    signatures)."""
    parts = [
        tdata.get("device_name") or tdata.get("sn") or item.get("sn"),
        tdata.get("product_key") or item.get("product_key"),
        tdata.get("event_type") or item.get("event_type") or item.get("type"),
        tdata.get("ctime", item.get("ctime")),
        tdata.get("title"),
        _link_without_query(tdata.get("image")),
        _link_without_query(tdata.get("video")),
    ]
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return "h" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:24]


def event_time(raw: Any, now: float | None = None) -> int:
    """A message's `ctime` as Unix seconds: milliseconds are converted, and a time far ahead of
    this clock (one message dated 2242 would freeze a device's last event for good) counts as
    now. A missing time is 0; NaN, infinities, negative or non-numeric times raise."""
    ctime = 0 if raw in (None, "") else number(raw, default=-1)
    if ctime < 0:
        raise ProtocolError("message time out of range")
    if ctime >= MS_CTIME:
        ctime //= 1000
    clock = time.time() if now is None else now
    if ctime > clock + FUTURE_SLACK:
        ctime = int(clock)
    return ctime


@dataclass(frozen=True, slots=True)
class Event:
    """One message of the message list (docs/protocol/cloud-api.md#messages). `id` is opaque."""

    id: str
    serial: str
    product_key: str
    kind: EventKind
    event_type: str
    title: str
    ctime: int
    image: ImageRef | None = None
    video: VideoRef | None = None
    extend: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.ctime, UTC)

    @classmethod
    def from_api(cls, raw: Any) -> Event:
        item = obj_field(raw, "message")
        tdata = _tdata(item)
        # the field variants the working public client takes (docs/protocol/cloud-api.md#messages,
        # docs/protocol/accepted.md#messages)
        msg_id = item_id(item)
        if not msg_id:
            raise ProtocolError("message with an unusable id")
        event_type = str_field(
            tdata.get("event_type") or item.get("event_type") or item.get("type")
        )
        serial = str_field(tdata.get("device_name") or tdata.get("sn") or item.get("sn"))
        image = video = None
        img = tdata.get("image")
        if isinstance(img, Mapping) and img.get("url"):
            image = ImageRef(
                str_field(img["url"]),
                str_field(img.get("encrypt") or "none"),
                number(img.get("expire_time")),
            )
        vid = tdata.get("video")
        if isinstance(vid, Mapping) and vid.get("url"):
            video = VideoRef(
                str_field(vid["url"]),
                str_field(vid.get("secretkey")),
                str_field(vid.get("encrypt") or "none"),
                number(vid.get("duration")),
            )
        extend: Any = tdata.get("extend") or {}
        if isinstance(extend, str):
            try:
                extend = safejson.loads(extend) if extend.strip() else {}
            except (ValueError, RecursionError):
                extend = {"raw": extend}
        ctime = event_time(tdata.get("ctime", item.get("ctime")))
        return cls(
            id=msg_id,
            serial=serial,
            product_key=str_field(tdata.get("product_key") or item.get("product_key")),
            kind=event_kind(event_type),
            event_type=event_type,
            title=str_field(tdata.get("title")),
            ctime=ctime,
            image=image,
            video=video,
            extend=extend if isinstance(extend, Mapping) else {"raw": extend},
        )


@dataclass(frozen=True, slots=True)
class MessagePage:
    """One page of the message list, newest first. `nextid`/`previd` are kept as the cloud
    sent them (opaque: their meaning is not seen, docs/protocol/cloud-api.md#messages); nothing here
    uses them."""

    events: tuple[Event, ...]
    nextid: str = ""
    previd: str = ""


@dataclass(frozen=True, slots=True)
class EventTypeInfo:
    event_type: str
    name: str
    icon: str = field(default="", repr=False)

    @property
    def kind(self) -> EventKind:
        return event_kind(self.event_type)


@dataclass(frozen=True, slots=True)
class PlayUrl:
    url: str = field(repr=False)
    expire_time: int


@dataclass(frozen=True, slots=True)
class CloudPlan:  # fields [sdk], path [modelled] (docs/protocol/cloud-api.md#cloud-plan)
    name: str
    start: int
    end: int
    service_days: int
    storage_days: int
    seconds_left: int

    @property
    def active(self) -> bool:
        return bool(self.name) and self.seconds_left > 0

    @classmethod
    def from_api(cls, raw: Any) -> CloudPlan:
        data = obj_field(raw or {}, "cloud plan")
        return cls(
            str_field(data.get("commodity_name")),
            number(data.get("start_timestamp")),
            number(data.get("end_timestamp")),
            number(data.get("service_day_num")),
            number(data.get("storage_day_num")),
            number(data.get("surplus_second")),
        )
