"""Frozen data classes of the BOTSLAB cloud, each with `from_api()`.

Nothing secret or personal appears in a `repr`: signed URLs, clip keys, phone numbers and
emails are kept out of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
import math
import re
import secrets
from typing import Any

from . import safejson
from .exceptions import ProtocolError


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
    """Privacy consents (protocol.md 8): three per device, four for the account."""

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
    """Share permission levels (protocol.md section 6)."""

    VIEW = "view"  # 1
    CONTROL = "control"  # 2
    FULL = "full"  # 3

    @property
    def number(self) -> int:
        return {"view": 1, "control": 2, "full": 3}[self.value]

    @classmethod
    def from_number(cls, value: Any) -> ShareLevel:
        return {1: cls.VIEW, 2: cls.CONTROL, 3: cls.FULL}.get(_int(value, 1), cls.VIEW)


_INT_TEXT = re.compile(r"-?[0-9]{1,19}")
_FLOAT_TEXT = re.compile(r"-?[0-9]{1,19}(\.[0-9]{0,12})?([eE][-+]?[0-9]{1,3})?")
INT_LIMIT = 2**63


def number(value: Any, default: int = 0) -> int:
    """An integer from what a hostile or sloppy cloud may send: ints, finite floats, ASCII
    digit strings. NaN, infinities, values past 2**63, Unicode digits ("²", "٣"), huge texts
    and other types give `default`; nothing here raises."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -INT_LIMIT < value < INT_LIMIT else default
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and abs(value) < INT_LIMIT else default
    if isinstance(value, str) and len(value) <= 64:
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            return int(text)
        if _FLOAT_TEXT.fullmatch(text):
            return number(float(text), default)
    return default


def plain(value: Any) -> Any:
    """A JSON value as it may go on (a response, diagnostics): NaN and infinities become
    None, everything else is kept."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def code_of(value: Any) -> int | None:
    """A result code (`code`, `errno`, `ErrorNO`): an int or an ASCII digit string, else None."""
    if isinstance(value, bool) or value is None:
        return None
    parsed = number(value, default=-(2**62))
    return None if parsed == -(2**62) or isinstance(value, float) else parsed


_int = number


def as_list(value: Any) -> list[Any]:
    """A JSON value that should be a list: itself when it is one, else empty (a `true`, a
    number or an object where a list belongs carries nothing to read)."""
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{what} is not an object")
    return value


def looks_personal(value: str) -> bool:
    """Whether a free text (a nickname) is a phone number or an email: accounts registered
    by phone have the number as their nickname."""
    digits = sum(c.isdigit() for c in value)
    return "@" in value or digits >= 6


def mask_personal(value: str) -> str:
    """A nickname as it may be shown: masked when it is a phone number or an email."""
    return mask(value) if looks_personal(value) else value


def account_title(nickname: str, username: str) -> str:
    """How an account is named where everyone sees it (entry title, media browser root, Home
    Assistant's own log lines): its nickname, unless that is a phone number or an email;
    otherwise the sign-in name, masked."""
    shown = nickname.strip()
    if shown and not looks_personal(shown):
        return shown
    return mask(username.strip()) or "BOTSLAB"


def mask(value: str) -> str:
    """A phone number or email with most of it hidden: '+49******789', 'a***@example.com'."""
    if not value:
        return ""
    if "@" in value:
        name, _, domain = value.partition("@")
        return f"{name[:1]}***@{domain}"
    return value[:3] + "*" * max(0, len(value) - 6) + value[-3:] if len(value) > 6 else "***"


@dataclass(frozen=True, slots=True)
class Identity:
    """The install identity: generated once, persisted, reused (a new one triggers captchas)."""

    m2: str = field(repr=False)
    mid: str = field(repr=False)
    androidid: str = field(repr=False)

    @classmethod
    def generate(cls) -> Identity:
        return cls(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(8))

    def as_dict(self) -> dict[str, str]:
        return {"m2": self.m2, "mid": self.mid, "androidid": self.androidid}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        return cls(str(data["m2"]), str(data["mid"]), str(data["androidid"]))


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a password login gives: Q/T (long-lived), the account id and its region."""

    q: str = field(repr=False)
    t: str = field(repr=False)
    qid: str
    region: str
    username: str = field(default="", repr=False)
    nickname: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class CloudSession:
    """What the app login gives: the sid, the push alias and the user id."""

    sid: str = field(repr=False)
    push_alias: str = field(repr=False)
    user_id: str


@dataclass(frozen=True, slots=True)
class Device:
    product_key: str
    serial: str
    title: str
    product_name: str
    kind: DeviceKind
    category_key: str
    online: bool
    owner: bool
    share_level: ShareLevel
    bind_ts: int = 0
    category_name: str = ""
    product_logo: str = field(default="", repr=False)

    @property
    def can_control(self) -> bool:
        return self.owner or self.share_level in (ShareLevel.CONTROL, ShareLevel.FULL)

    @classmethod
    def from_api(cls, raw: Any) -> Device:
        data = _obj(raw, "device")
        category = _str(data.get("category_key")).lower()
        kind = (
            DeviceKind.DOORBELL
            if "doorbell" in category
            else (
                DeviceKind.CAMERA if "camera" in category or "ipc" in category else DeviceKind.OTHER
            )
        )
        roles = data.get("roles")
        role_text = ",".join(map(str, roles)) if isinstance(roles, list) else _str(roles)
        owner = "owner" in role_text.lower()
        level = (
            ShareLevel.FULL
            if owner
            else ShareLevel.from_number(
                data.get("share_level") or (role_text.rsplit("_", 1)[-1] if "_" in role_text else 1)
            )
        )
        if not data.get("device_name") or not data.get("product_key"):
            raise ProtocolError("device without product_key/device_name")
        return cls(
            product_key=_str(data["product_key"]),
            serial=_str(data["device_name"]),
            title=_str(data.get("device_title"))
            or _str(data.get("product_name"))
            or _str(data["device_name"]),
            product_name=_str(data.get("product_name")),
            kind=kind,
            category_key=category,
            online=_str(data.get("online_status")).lower() == "online",
            owner=owner,
            share_level=level,
            bind_ts=_int(data.get("bind_ts")),
            category_name=_str(data.get("category_name")),
            product_logo=_str(data.get("product_logo")),
        )


@dataclass(frozen=True, slots=True)
class PropertyValue:
    value: Any
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Properties:
    """A device's reported and desired properties, with typed accessors for known identifiers."""

    report: Mapping[str, PropertyValue]
    desired: Mapping[str, PropertyValue]

    @classmethod
    def from_api(cls, raw: Any) -> Properties:
        data = _obj(raw, "properties")

        def table(items: Any) -> dict[str, PropertyValue]:
            out: dict[str, PropertyValue] = {}
            for item in items if isinstance(items, list) else []:
                if isinstance(item, Mapping) and item.get("identifier"):
                    value = item.get("value")
                    if isinstance(value, float) and not math.isfinite(value):
                        value = None  # NaN or an infinity reported: nothing known
                    out[str(item["identifier"])] = PropertyValue(value, _int(item.get("timestamp")))
            return out

        return cls(table(data.get("report")), table(data.get("desired")))

    @property
    def raw(self) -> dict[str, Any]:
        """Reported values by identifier (desired ones where nothing was reported)."""
        merged = {k: v.value for k, v in self.desired.items()}
        merged.update({k: v.value for k, v in self.report.items()})
        return merged

    def get(self, identifier: str) -> Any:
        return self.raw.get(identifier)

    def _int(self, identifier: str) -> int | None:
        value = self.get(identifier)
        return None if value is None or value == "" else _int(value, 0)

    def has(self, identifier: str) -> bool:
        return identifier in self.report or identifier in self.desired

    @property
    def battery_level(self) -> int | None:
        return self._int("BatteryLevel")

    @property
    def voltage_mv(self) -> int | None:
        return self._int("DoorbellVoltage")

    @property
    def current_ma(self) -> int | None:
        return self._int("DoorbellAdcCurrent")

    @property
    def low_power_mode(self) -> bool | None:
        value = self._int("LowPowerMode")
        return None if value is None else bool(value)

    @property
    def on_battery(self) -> bool | None:
        value = self._int("Power_Supply")
        return None if value is None else value == 0

    @property
    def sd_card_present(self) -> bool | None:
        value = self._int("SdState")
        return None if value is None else value == 1

    @property
    def sd_storage(self) -> tuple[int, int, int] | None:
        """(total, used, free) bytes."""
        value = self.get("SdStorage")
        if not isinstance(value, str) or len(value) > 80:
            return None
        parts = value.split(",")
        if len(parts) != 3 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
            return None
        total, used, free = (int(p) for p in parts)
        return total, used, free

    @property
    def wifi_rssi(self) -> int | None:
        return self._int("WifiRssi")  # [modelled] camera identifier

    @property
    def night_vision_mode(self) -> int | None:
        return self._int("NightVisionMode")  # [modelled] camera identifier

    @property
    def motion_detection(self) -> bool | None:
        value = self._int("MotionDetectSwitch")  # [modelled] camera identifier
        return None if value is None else bool(value)

    @property
    def motion_sensitivity(self) -> int | None:
        return self._int("MotionSensitivity")  # [modelled] camera identifier

    @property
    def privacy_mode(self) -> bool | None:
        value = self._int("PrivacyMode")  # [modelled] camera identifier
        return None if value is None else bool(value)

    @property
    def status_light(self) -> bool | None:
        value = self._int("StatusLight")  # [modelled] camera identifier
        return None if value is None else bool(value)

    @property
    def firmware_version(self) -> str | None:
        value = self.get("FirmwareVersion")  # [modelled] camera identifier
        return None if value is None else str(value)


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
        item = _obj(raw, "message")
        tdata = item.get("tdata")
        if isinstance(tdata, str):
            try:
                tdata = safejson.loads(tdata)
            except (ValueError, RecursionError) as err:
                raise ProtocolError("tdata is not JSON") from err
        tdata = _obj(tdata, "tdata")
        # the field variants the working public client takes (protocol.md 3.3)
        msg_id = next(
            (i for k in ("id", "msg_id", "message_id") if (i := message_id(item.get(k)))), ""
        )
        if not msg_id:
            raise ProtocolError("message without id")
        event_type = _str(tdata.get("event_type") or item.get("event_type") or item.get("type"))
        serial = _str(tdata.get("device_name") or tdata.get("sn") or item.get("sn"))
        image = video = None
        img = tdata.get("image")
        if isinstance(img, Mapping) and img.get("url"):
            image = ImageRef(
                _str(img["url"]), _str(img.get("encrypt") or "none"), _int(img.get("expire_time"))
            )
        vid = tdata.get("video")
        if isinstance(vid, Mapping) and vid.get("url"):
            video = VideoRef(
                _str(vid["url"]),
                _str(vid.get("secretkey")),
                _str(vid.get("encrypt") or "none"),
                _int(vid.get("duration")),
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
            product_key=_str(tdata.get("product_key") or item.get("product_key")),
            kind=event_kind(event_type),
            event_type=event_type,
            title=_str(tdata.get("title")),
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
class ServiceResult:
    error_no: int
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.error_no == 0

    @property
    def url(self) -> str | None:
        value = self.raw.get("url")
        return str(value) if value else None


@dataclass(frozen=True, slots=True)
class Share:  # fields [sdk], paths [modelled] (protocol.md 6)
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
        data = _obj(raw, "share")
        return cls(
            id=_int(data.get("id")),
            level=ShareLevel.from_number(data.get("level")),
            pending=_int(data.get("status"), 1) == 1,
            ctime=_int(data.get("ctime")),
            nickname=_str(data.get("nickname")),
            mobile=_str(data.get("mobile")),
            email=_str(data.get("email")),
        )


@dataclass(frozen=True, slots=True)
class Invitation:  # fields [sdk], paths [modelled] (protocol.md 6)
    id: int
    product_key: str
    serial: str
    device_title: str
    from_nickname: str = field(repr=False)
    level: ShareLevel

    @classmethod
    def from_api(cls, raw: Any) -> Invitation:
        data = _obj(raw, "invitation")
        return cls(
            _int(data.get("id")),
            _str(data.get("product_key")),
            _str(data.get("device_name")),
            _str(data.get("device_title")),
            _str(data.get("from_nickname")),
            ShareLevel.from_number(data.get("level")),
        )


@dataclass(frozen=True, slots=True)
class Consent:  # [modelled] (protocol.md 8)
    scope: str
    granted: bool
    product_key: str = ""
    serial: str = ""
    mtime: int = 0

    @classmethod
    def from_api(cls, raw: Any) -> Consent:
        data = _obj(raw, "consent")
        return cls(
            _str(data.get("scope")),
            bool(_int(data.get("granted"))),
            _str(data.get("product_key")),
            _str(data.get("device_name")),
            _int(data.get("mtime")),
        )


@dataclass(frozen=True, slots=True)
class DoNotDisturb:  # fields [sdk], path [modelled] (protocol.md 7)
    enabled: bool
    start: str
    end: str

    @classmethod
    def from_api(cls, raw: Any) -> DoNotDisturb:
        data = _obj(raw, "dnd")
        return cls(
            bool(_int(data.get("is_open"))),
            _str(data.get("start_time")),
            _str(data.get("end_time")),
        )


@dataclass(frozen=True, slots=True)
class DeviceNotifications:  # fields [sdk], path [modelled] (protocol.md 7)
    enabled: bool
    events: Mapping[str, bool]

    @classmethod
    def from_api(cls, raw: Any) -> DeviceNotifications:
        data = _obj(raw, "device setting")
        raw_events = data.get("event")
        events: Mapping[str, Any] = raw_events if isinstance(raw_events, Mapping) else {}
        return cls(
            bool(_int(data.get("is_open"), 1)),
            {
                str(k): bool(_int(v.get("is_open"), 1))
                for k, v in events.items()
                if isinstance(v, Mapping)
            },
        )


@dataclass(frozen=True, slots=True)
class FirmwareInfo:
    current_version: str
    latest_version: str
    upgrade_available: bool
    upgrading: bool
    description: str = ""
    size: int = 0

    @classmethod
    def from_api(cls, raw: Any) -> FirmwareInfo:
        data = _obj(raw, "firmware")
        return cls(
            _str(data.get("current_version")),
            _str(data.get("version")),
            bool(_int(data.get("upgrade"))),
            bool(_int(data.get("is_upgrading"))),
            _str(data.get("descriptions")),
            _int(data.get("size")),
        )


class UpgradeState(StrEnum):  # progress codes [sdk], OTA paths [modelled] (protocol.md 8)
    DONE = "done"  # 0
    WAITING = "waiting"  # 1, waiting for the device
    PULLED = "pulled"  # 2
    DOWNLOAD_FAILED = "download_failed"  # 3
    UPGRADING = "upgrading"  # 4
    FAILED = "failed"  # 5


@dataclass(frozen=True, slots=True)
class FirmwareProgress:
    percent: int
    state: UpgradeState

    @property
    def in_progress(self) -> bool:
        return self.state in (UpgradeState.WAITING, UpgradeState.PULLED, UpgradeState.UPGRADING)

    @classmethod
    def from_api(cls, raw: Any) -> FirmwareProgress:
        data = _obj(raw, "progress")
        states = list(UpgradeState)
        code = _int(data.get("progress"))
        return cls(
            _int(data.get("percent")),
            states[code] if 0 <= code < len(states) else UpgradeState.FAILED,
        )


@dataclass(frozen=True, slots=True)
class NetworkTest:  # [modelled] (protocol.md 8)
    network_type: str
    isp: str
    ip: str = field(repr=False)
    rssi: int | None
    latency_ms: float | None
    loss_pct: float | None
    result: str

    @classmethod
    def from_api(cls, raw: Any) -> NetworkTest:
        data = _obj(raw, "network test")

        def num(key: str) -> float | None:
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return None
            try:
                result = float(value) if not isinstance(value, str) or value.isascii() else None
            except (ValueError, OverflowError):
                return None
            return result if result is not None and math.isfinite(result) else None

        rssi = num("rssi")
        return cls(
            _str(data.get("network_type")),
            _str(data.get("isp")),
            _str(data.get("ip")),
            None if rssi is None else int(rssi),
            num("latency_ms"),
            num("loss_pct"),
            _str(data.get("result")),
        )


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
        data = _obj(raw or {}, "cloud plan")
        return cls(
            _str(data.get("commodity_name")),
            _int(data.get("start_timestamp")),
            _int(data.get("end_timestamp")),
            _int(data.get("service_day_num")),
            _int(data.get("storage_day_num")),
            _int(data.get("surplus_second")),
        )


@dataclass(frozen=True, slots=True)
class ErasureRequest:  # [modelled] (protocol.md 8)
    request_id: str
    due_date: str

    @classmethod
    def from_api(cls, raw: Any) -> ErasureRequest:
        data = _obj(raw, "erasure")
        return cls(_str(data.get("request_id")), _str(data.get("due_date")))


@dataclass(frozen=True, slots=True)
class LiveLicense:
    """The live view license (liveview.md H2): headers of the relay sign call."""

    product_id: str
    authorization: str = field(repr=False)
    auth_time: str = ""
    rand_num: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class CameraKeys:
    """A device's rotating media keys by index, and its license (liveview.md H2)."""

    license: LiveLicense
    secret_interval: int
    secret_keys: Mapping[int, str] = field(repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> CameraKeys:
        data = _obj(raw, "camera keys")
        lic = _obj(data.get("license"), "license")
        keys: dict[int, str] = {}
        for item in as_list(data.get("secret_keys")):
            if isinstance(item, Mapping):
                for index, key in item.items():
                    text = str(index)
                    if (
                        text.isascii()
                        and text.isdigit()
                        and len(text) < 10
                        and isinstance(key, str)
                        and key
                    ):
                        keys[int(index)] = key
        if not keys or not lic.get("product_id"):
            raise ProtocolError("camera keys without keys or license")
        return cls(
            LiveLicense(
                _str(lic.get("product_id")),
                _str(lic.get("authorization")),
                _str(lic.get("auth_time")),
                _str(lic.get("rand_num")),
            ),
            _int(data.get("secret_interval")),
            keys,
        )
