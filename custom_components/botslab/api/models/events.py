"""Events: messages and their pages, snapshot and clip references, the event catalogue, play
URLs, the cloud plan that keeps the clips."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


MAX_CTIME = 2**33  # Unix seconds: until the year 2242


def message_id(value: Any) -> str:
    """A message id as an opaque string: the cloud sends a string or a number (protocol.md
    3.3), and nothing may assume it is numeric or increasing. '' when it is missing."""
    if value is None or isinstance(value, bool | Mapping | list):
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < INT_LIMIT else ""
    text = str(value).strip()
    return text if len(text) <= 128 else ""


def item_id(raw: Any) -> str:
    """The id of a message list item, under any of its field names ('' when it has none)."""
    if not isinstance(raw, Mapping):
        return ""
    return next((i for k in ("id", "msg_id", "message_id") if (i := message_id(raw.get(k)))), "")


@dataclass(frozen=True, slots=True)
class Event:
    """One message of the message list (protocol.md 3.3). `id` is opaque."""

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
        tdata = item.get("tdata")
        if isinstance(tdata, str):
            try:
                tdata = safejson.loads(tdata)
            except (ValueError, RecursionError) as err:
                raise ProtocolError("tdata is not JSON") from err
        tdata = obj_field(tdata, "tdata")
        # the field variants the working public client takes (protocol.md 3.3)
        msg_id = item_id(item)
        if not msg_id:
            raise ProtocolError("message without id")
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
        raw_ctime = tdata.get("ctime", item.get("ctime"))
        ctime = 0 if raw_ctime in (None, "") else number(raw_ctime, default=-1)
        if not 0 <= ctime < MAX_CTIME:  # NaN, infinities, 10**15, "²": this message is skipped
            raise ProtocolError("message time out of range")
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
    sent them (opaque: their meaning is not seen, protocol.md 3.3); nothing here uses them."""

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
class CloudPlan:  # fields [sdk], path [modelled] (protocol.md 3.3)
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
