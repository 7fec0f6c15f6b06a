"""Account settings: shares and invitations, consents, do-not-disturb, per-device
notifications, erasure requests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .values import (
    mask,
    number,
    obj_field,
    str_field,
)
from .vocab import (
    ShareLevel,
)


@dataclass(frozen=True, slots=True)
class Share:  # fields [sdk], paths [modelled] (docs/protocol/cloud-api.md#sharing)
    id: int
    level: ShareLevel
    pending: bool
    ctime: int
    nickname: str = field(default="", repr=False)
    mobile: str = field(default="", repr=False)
    email: str = field(default="", repr=False)

    @property
    def target_masked(self) -> str:
        return mask(self.mobile or self.email)

    @classmethod
    def from_api(cls, raw: Any) -> Share:
        data = obj_field(raw, "share")
        return cls(
            id=number(data.get("id")),
            level=ShareLevel.from_number(data.get("level")),
            pending=number(data.get("status"), 1) == 1,
            ctime=number(data.get("ctime")),
            nickname=str_field(data.get("nickname")),
            mobile=str_field(data.get("mobile")),
            email=str_field(data.get("email")),
        )


@dataclass(frozen=True, slots=True)
class Invitation:  # fields [sdk], paths [modelled] (docs/protocol/cloud-api.md#sharing)
    id: int
    product_key: str
    serial: str
    device_title: str
    from_nickname: str = field(repr=False)
    level: ShareLevel

    @classmethod
    def from_api(cls, raw: Any) -> Invitation:
        data = obj_field(raw, "invitation")
        return cls(
            number(data.get("id")),
            str_field(data.get("product_key")),
            str_field(data.get("device_name")),
            str_field(data.get("device_title")),
            str_field(data.get("from_nickname")),
            ShareLevel.from_number(data.get("level")),
        )


@dataclass(frozen=True, slots=True)
class Consent:  # [modelled] (docs/protocol/cloud-api.md#privacy-and-consent)
    scope: str
    granted: bool
    product_key: str = ""
    serial: str = ""
    mtime: int = 0

    @classmethod
    def from_api(cls, raw: Any) -> Consent:
        data = obj_field(raw, "consent")
        return cls(
            str_field(data.get("scope")),
            bool(number(data.get("granted"))),
            str_field(data.get("product_key")),
            str_field(data.get("device_name")),
            number(data.get("mtime")),
        )


@dataclass(frozen=True, slots=True)
class DoNotDisturb:  # fields [sdk], path [modelled] (docs/protocol/cloud-api.md#notifications)
    enabled: bool
    start: str
    end: str

    @classmethod
    def from_api(cls, raw: Any) -> DoNotDisturb:
        data = obj_field(raw, "dnd")
        return cls(
            bool(number(data.get("is_open"))),
            str_field(data.get("start_time")),
            str_field(data.get("end_time")),
        )


@dataclass(frozen=True, slots=True)
# fields [sdk], path [modelled] (docs/protocol/cloud-api.md#notifications)
class DeviceNotifications:
    enabled: bool
    events: Mapping[str, bool]

    @classmethod
    def from_api(cls, raw: Any) -> DeviceNotifications:
        data = obj_field(raw, "device setting")
        raw_events = data.get("event")
        events: Mapping[str, Any] = raw_events if isinstance(raw_events, Mapping) else {}
        return cls(
            bool(number(data.get("is_open"), 1)),
            {
                str(k): bool(number(v.get("is_open"), 1))
                for k, v in events.items()
                if isinstance(v, Mapping)
            },
        )


@dataclass(frozen=True, slots=True)
class ErasureRequest:  # [modelled] (docs/protocol/cloud-api.md#privacy-and-consent)
    request_id: str
    due_date: str

    @classmethod
    def from_api(cls, raw: Any) -> ErasureRequest:
        data = obj_field(raw, "erasure")
        return cls(str_field(data.get("request_id")), str_field(data.get("due_date")))
