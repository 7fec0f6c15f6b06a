"""The world's vocabulary: regions, event types, scopes, property specs and the records every
store keeps (accounts, devices, shares, messages, tokens, sessions, challenges)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC
import time
from typing import Any
from zoneinfo import ZoneInfo

from .. import codes

REGIONS = ("eu1", "eu2", "na1", "ap1")
MAX_MESSAGES_PER_ACCOUNT = 10_000

# docs/protocol/cloud-api.md#messages: kind -> raw event types (first = what a trigger by kind
# produces)
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "ring": ("dsl.event.post.DoorbellRing", "app.event.post.Answer"),
    "motion": ("dsl.event.post.FrameChange", "dsl.event.post.PictureChange", "dsl.event.post.Pass"),
    "person": (
        "dsl.event.post.HumanPass",
        "dsl.event.post.HumanMotion",
        "dsl.event.post.HumanStay",
        "dsl.event.post.HumanMove",
        "dsl.event.post.HumanMove2",
    ),
    "pet": ("dsl.event.post.Pet",),
    "package": ("dsl.event.post.Parcel",),
    "vehicle": ("dsl.event.post.VehicleDetect", "dsl.event.post.CarPlate"),
    "sound": ("dsl.event.post.Sound",),
}
KIND_OF_TYPE = {raw: kind for kind, raws in EVENT_TYPES.items() for raw in raws}
AI_KINDS = {"person", "pet", "vehicle", "package"}
EVENT_TITLES = {
    "ring": "Someone rang the doorbell",
    "motion": "Motion detected",
    "person": "Person detected",
    "pet": "Pet detected",
    "package": "Package detected",
    "vehicle": "Vehicle detected",
    "sound": "Sound detected",
}

ACCOUNT_SCOPES = ("marketing", "push", "analytics", "network_test")
DEVICE_SCOPES = ("event_upload", "cloud_recording", "ai_detection")

# Identifiers: (type, writable). Doorbell ones are [seen]; camera ones are [modelled].
DOORBELL_PROPS: dict[str, tuple[type, bool]] = {
    "BatteryLevel": (int, False),
    "DoorbellVoltage": (int, False),
    "LowPowerMode": (int, True),
    "DoorbellOnlineState": (int, False),
    "SdState": (int, False),
    "SdStorage": (str, False),
    "DoorbellAdcCurrent": (int, False),
    "Power_Supply": (int, False),
    "BatteryPack_Install_Status": (int, False),
    "ExistingChime": (int, True),
    "MotionDetectSwitch": (int, True),
    "FirmwareVersion": (str, False),
}
CAMERA_PROPS: dict[str, tuple[type, bool]] = {
    "SdState": (int, False),
    "SdStorage": (str, False),
    "WifiRssi": (int, False),
    "NightVisionMode": (int, True),
    "MotionDetectSwitch": (int, True),
    "MotionSensitivity": (int, True),
    "PrivacyMode": (int, True),
    "StatusLight": (int, True),
    "FirmwareVersion": (str, False),
}
PROP_RANGES: dict[str, tuple[int, int]] = {
    "NightVisionMode": (0, 2),
    "MotionSensitivity": (1, 3),
    "PrivacyMode": (0, 1),
    "StatusLight": (0, 1),
    "MotionDetectSwitch": (0, 1),
    "LowPowerMode": (0, 1),
    "ExistingChime": (0, 1),
}
SERVICES = {"WakeUp", "Reboot", "TakeSnapshot", "SirenOn", "SirenOff"}


class WorldError(Exception):
    """A rule of the cloud refused the request; `code` is what the API answers."""

    def __init__(self, code: int, msg: str | None = None) -> None:
        super().__init__(msg or codes.MESSAGES.get(code, "error"))
        self.code = code
        self.msg = msg or codes.MESSAGES.get(code, "error")


def kind_of(event_type: str) -> str:
    return KIND_OF_TYPE.get(event_type, "other")


LIVE_KEY_INTERVAL = 43200  # seconds between key rotations (CN's secret_interval)


@dataclass
class Account:
    qid: str
    username: str
    password_md5: str
    region: str
    password: str = ""  # the emulator keeps it to print the demo credentials
    nickname: str = ""
    email: str = ""
    mobile: str = ""
    push_alias: str = ""
    captcha_required: bool = False
    risk_new_device: bool = False
    known_mids: list[str] = field(default_factory=list)
    failed_logins: int = 0
    restricted: bool = False
    erasure: dict[str, Any] | None = None
    dnd: dict[str, Any] = field(
        default_factory=lambda: {"is_open": 0, "start_time": "22:00", "end_time": "07:00"}
    )
    device_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    snoozes: dict[str, float] = field(default_factory=dict)
    consents: dict[str, dict[str, Any]] = field(default_factory=dict)  # key scope|pk|dn
    orders: list[dict[str, Any]] = field(default_factory=list)
    tz: str = "UTC"


@dataclass
class Device:
    product_key: str
    device_name: str
    title: str
    product_name: str
    category_key: str
    owner_qid: str
    category_name: str = ""
    online: bool = True
    bind_ts: int = 0
    battery: bool = False
    awake_until: float = 0.0
    report: dict[str, list[Any]] = field(default_factory=dict)  # id -> [value, ts_ms]
    desired: dict[str, list[Any]] = field(default_factory=dict)
    clip_encrypt: str = "none"
    latest_firmware: str = ""
    upgrade: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    product_logo: str = ""
    # live view license and keys (docs/protocol/live-video.md#h2-keys)
    live: dict[str, Any] | None = None

    @property
    def key(self) -> str:
        return f"{self.product_key}_{self.device_name}"

    @property
    def props(self) -> dict[str, tuple[type, bool]]:
        return DOORBELL_PROPS if self.category_key == "doorbell" else CAMERA_PROPS


@dataclass
class Share:
    id: int
    product_key: str
    device_name: str
    owner_qid: str
    level: int
    status: int  # 1 pending, 2 sharing
    ctime: int
    mobile: str = ""
    email: str = ""
    target_qid: str = ""
    nickname: str = ""


@dataclass
class Message:
    id: str  # the wire id: opaque (docs/protocol/cloud-api.md#messages), unique across accounts
    qid: str
    product_key: str
    device_name: str
    event_type: str
    title: str
    ctime: int
    image_object: str = ""
    video_object: str = ""
    secretkey: str = ""
    encrypt: str = "none"
    extend: str = ""
    seq: int = 0  # the emulator's own order of messages (the list is newest first by it)
    clip_media: str = "canonical"  # which synthetic clip it shows: "real" or "canonical"
    listed_at: float = 0.0  # the list shows it from this time on (push before list)


@dataclass
class Tokens:
    qid: str
    region: str
    q: str
    t: str
    issued: float
    expired: bool = False
    timed_out: bool = False


@dataclass
class Session:
    sid: str
    qid: str
    region: str
    created: float
    expired: bool = False
    stolen_at: float | None = None
    phone_app: bool = False


@dataclass
class Challenge:
    sc: str
    code: str
    mid: str
    created: float
    username: str = ""


def hhmm(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def valid_hhmm(value: str) -> bool:
    parts = value.split(":")
    return (
        len(parts) == 2
        and all(p.isdigit() and len(p) == 2 for p in parts)
        and int(parts[0]) < 24
        and int(parts[1]) < 60
    )


def account_zone(acc: Account | None) -> Any:
    """An account's time zone (its ci_tz), UTC when it names none Python knows."""
    try:
        return ZoneInfo(acc.tz) if acc else UTC
    except (ValueError, KeyError, OSError):
        return UTC


class Clock:
    """The emulator's clock (an offset from real time that tests move) and its id counter."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.next_id = 1000

    def now(self) -> float:
        return time.time() + self.offset

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id
