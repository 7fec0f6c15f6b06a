"""The cloud's vocabulary as enums: event kinds (and the raw types behind each), consent scopes,
device kinds, share levels."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .values import (
    number,
)


class EventKind(StrEnum):
    """What an event means, whatever raw type the cloud used for it."""

    RING = "ring"
    MOTION = "motion"
    PERSON = "person"
    PET = "pet"
    PACKAGE = "package"
    VEHICLE = "vehicle"
    SOUND = "sound"
    OTHER = "other"


RAW_EVENT_TYPES: Mapping[EventKind, tuple[str, ...]] = {
    EventKind.RING: ("app.event.post.Answer", "dsl.event.post.DoorbellRing"),
    EventKind.MOTION: (
        "dsl.event.post.FrameChange",
        "dsl.event.post.PictureChange",
        "dsl.event.post.Pass",
    ),
    EventKind.PERSON: (
        "dsl.event.post.HumanPass",
        "dsl.event.post.HumanMotion",
        "dsl.event.post.HumanStay",
        "dsl.event.post.HumanMove",
        "dsl.event.post.HumanMove2",
    ),
    EventKind.PET: ("dsl.event.post.Pet",),
    EventKind.PACKAGE: ("dsl.event.post.Parcel",),
    EventKind.VEHICLE: ("dsl.event.post.VehicleDetect", "dsl.event.post.CarPlate"),
    EventKind.SOUND: ("dsl.event.post.Sound",),  # [modelled]
}


_KIND_BY_RAW = {raw: kind for kind, raws in RAW_EVENT_TYPES.items() for raw in raws}


def event_kind(event_type: str) -> EventKind:
    """The kind of a raw `event_type`; unknown types are OTHER."""
    return _KIND_BY_RAW.get(event_type, EventKind.OTHER)


class ConsentScope(StrEnum):
    """Privacy consents (docs/protocol/cloud-api.md#privacy-and-consent): three per device, four for
    the account."""

    EVENT_UPLOAD = "event_upload"
    CLOUD_RECORDING = "cloud_recording"
    AI_DETECTION = "ai_detection"
    MARKETING = "marketing"
    PUSH = "push"
    ANALYTICS = "analytics"
    NETWORK_TEST = "network_test"

    @property
    def per_device(self) -> bool:
        """Given per device (else for the whole account)."""
        return self in _DEVICE_SCOPES


_DEVICE_SCOPES = frozenset(
    {ConsentScope.EVENT_UPLOAD, ConsentScope.CLOUD_RECORDING, ConsentScope.AI_DETECTION}
)


class DeviceKind(StrEnum):
    CAMERA = "camera"
    DOORBELL = "doorbell"
    OTHER = "other"


class ShareLevel(StrEnum):
    """Share permission levels (docs/protocol/cloud-api.md#sharing)."""

    VIEW = "view"  # 1
    CONTROL = "control"  # 2
    FULL = "full"  # 3

    @property
    def number(self) -> int:
        return {"view": 1, "control": 2, "full": 3}[self.value]

    @classmethod
    def from_number(cls, value: Any) -> ShareLevel:
        return {1: cls.VIEW, 2: cls.CONTROL, 3: cls.FULL}.get(number(value, 1), cls.VIEW)
