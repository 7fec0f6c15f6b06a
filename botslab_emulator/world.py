"""The emulator's world: accounts, devices, shares, consents, messages, sessions and a clock.

Pure state and rules, no sockets. The HTTP and push front ends call into it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
import json
from pathlib import Path
import secrets
import time
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

from . import codes
from .crypto import QucKeyPair, md5_hex, random_alnum

REGIONS = ("eu1", "eu2", "na1", "ap1")
MAX_MESSAGES_PER_ACCOUNT = 10_000

# protocol.md 3.3: kind -> raw event types (first = what a trigger by kind produces)
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
    live: dict[str, Any] | None = None  # live view license and keys (liveview.md H2)

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
    id: str  # the wire id: opaque (protocol.md 3.3), unique across accounts
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


class World:
    """All state of the emulated cloud. Not thread-safe: used from one event loop."""

    def __init__(self, keypair: QucKeyPair | None = None) -> None:
        self.keypair = keypair or QucKeyPair.generate()
        self.accounts: dict[str, Account] = {}
        self.devices: dict[str, Device] = {}  # by device_name
        self.shares: dict[int, Share] = {}
        self.messages: dict[str, list[Message]] = {}  # qid -> oldest first
        self.tokens: dict[str, Tokens] = {}  # by Q
        self.sessions: dict[str, Session] = {}
        self.active_sid: dict[str, str] = {}
        self.challenges: OrderedDict[str, Challenge] = OrderedDict()
        self.next_id = 1000
        self.next_msg_id = 500_000
        self.clock_offset = 0.0
        self.oss_secret = secrets.token_hex(16)
        self.url_ttl = 3600
        self.upgrade_seconds = 20.0
        self.upgrade_fail = False
        self.on_message: list[Callable[[Message, Device], None]] = []
        self.snapshot_cache: OrderedDict[str, bytes] = OrderedDict()
        self.secretkey_factory: Callable[[str], str] = lambda _media: random_alnum(32)
        self.clip_media_factory: Callable[[], str] = lambda: "canonical"
        # the wire id of a new message from its sequence number (the emulator's knob)
        self.message_id_factory: Callable[[int], str] = str
        self.by_id: dict[str, Message] = {}  # every viewer's copy has an id of its own

    # --- time ---------------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.clock_offset

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    # --- accounts -------------------------------------------------------------------------
    def add_account(
        self,
        username: str,
        password: str,
        region: str = "eu1",
        *,
        nickname: str = "",
        email: str = "",
        mobile: str = "",
        qid: str | None = None,
        captcha: bool = False,
    ) -> Account:
        if region not in REGIONS:
            raise WorldError(codes.INVALID_PARAM, f"unknown region {region}")
        if self.find_account(username) is not None:
            raise WorldError(codes.INVALID_PARAM, "account exists")
        qid = qid or str(3_000_000_000 + self._new_id())
        if "@" in username and not email:
            email = username
        if "@" not in username and not mobile:
            mobile = username
        acc = Account(
            qid=qid,
            username=username,
            password_md5=md5_hex(password),
            password=password,
            region=region,
            nickname=nickname or username.split("@", maxsplit=1)[0],
            email=email,
            mobile=mobile,
            push_alias=f"botslab_{qid}_{secrets.token_hex(6)}",
            captcha_required=captcha,
        )
        for scope in ACCOUNT_SCOPES:
            acc.consents[f"{scope}||"] = {"granted": 1, "mtime": int(self.now())}
        acc.consents["marketing||"]["granted"] = 0
        self.accounts[qid] = acc
        self.messages[qid] = []
        return acc

    def find_account(self, username: str) -> Account | None:
        wanted = username.strip().lower()
        for acc in self.accounts.values():
            if wanted in (acc.username.lower(), acc.email.lower(), acc.mobile):
                return acc
        return None

    def account(self, qid: str) -> Account:
        acc = self.accounts.get(qid)
        if acc is None:
            raise WorldError(codes.QT_EXPIRED)
        return acc

    # --- login ----------------------------------------------------------------------------
    def new_challenge(self, mid: str, username: str = "") -> Challenge:
        code = "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4))
        ch = Challenge(
            sc=random_alnum(24), code=code, mid=mid, created=self.now(), username=username
        )
        self.challenges[ch.sc] = ch
        while len(self.challenges) > 500:
            self.challenges.popitem(last=False)
        return ch

    def latest_challenge(self, username: str | None = None) -> Challenge | None:
        for ch in reversed(self.challenges.values()):
            if username is None or not ch.username or ch.username == username:
                return ch
        return None

    def issue_tokens(self, acc: Account) -> Tokens:
        stamp = int(self.now())
        q = (
            f"u=360H{acc.qid}&n={quote(acc.nickname)}&le=&m=&qid={acc.qid}"
            f"&im=1_t{secrets.token_hex(10)}&src=mpl_cloudsmartoem_and&t=1"
        )
        t = f"s={secrets.token_hex(16)}&t={stamp}&a=1&v=1.0&lm=&lf=1&sk={secrets.token_hex(8)}"
        tok = Tokens(qid=acc.qid, region=acc.region, q=q, t=t, issued=self.now())
        self.tokens[q] = tok
        return tok

    def check_tokens(self, q: str, t: str, region: str, *, decoded_ok: bool = False) -> Tokens:
        """The tokens of a jws header. Q and T count in the form the login handed them out,
        URL-encoded (protocol.md 2); the decoded form only with `decoded_ok` (a knob)."""
        tok = self.tokens.get(unquote(q))
        if tok is None or tok.region != region:
            raise WorldError(codes.QT_EXPIRED)
        wire_q, wire_t = quote(tok.q, safe=""), quote(tok.t, safe="")
        as_issued = secrets.compare_digest(wire_q, q) and secrets.compare_digest(wire_t, t)
        decoded = secrets.compare_digest(tok.q, q) and secrets.compare_digest(tok.t, t)
        if not (as_issued or (decoded_ok and decoded)):
            raise WorldError(codes.QT_EXPIRED)
        if tok.timed_out:
            raise WorldError(codes.SESSION_TIMEOUT)
        if tok.expired or tok.qid not in self.accounts:
            raise WorldError(codes.QT_EXPIRED)
        return tok

    def app_login(self, qid: str, region: str, *, phone_app: bool = False) -> Session:
        now = self.now()
        old = self.active_sid.get(qid)
        if old and old in self.sessions:
            self.sessions[old].stolen_at = now
        sess = Session(sid=secrets.token_hex(16), qid=qid, region=region, created=now)
        sess.phone_app = phone_app
        self.sessions[sess.sid] = sess
        self.active_sid[qid] = sess.sid
        # keep the session table bounded
        if len(self.sessions) > 5000:
            for sid in list(self.sessions)[:1000]:
                if self.active_sid.get(self.sessions[sid].qid) != sid:
                    del self.sessions[sid]
        return sess

    def check_session(self, sid: str, qid: str) -> Session:
        sess = self.sessions.get(sid)
        if sess is None or sess.qid != qid or sess.expired:
            raise WorldError(codes.SID_EXPIRED)
        if sess.stolen_at is not None:
            raise WorldError(codes.SESSION_STOLEN)
        return sess

    # --- devices --------------------------------------------------------------------------
    def add_device(
        self,
        owner_qid: str,
        *,
        title: str,
        category_key: str,
        product_name: str,
        product_key: str | None = None,
        device_name: str | None = None,
        battery: bool = False,
        properties: dict[str, Any] | None = None,
        clip_encrypt: str = "none",
        firmware: str = "1.4.2",
        latest_firmware: str = "1.5.0",
        plan: dict[str, Any] | None = None,
    ) -> Device:
        self.account(owner_qid)
        device_name = device_name or f"BS{secrets.token_hex(5).upper()}"
        if device_name in self.devices:
            raise WorldError(codes.INVALID_PARAM, "device exists")
        dev = Device(
            product_key=product_key
            or f"pk_{category_key}_{product_name.rsplit(maxsplit=1)[-1].lower()}",
            device_name=device_name,
            title=title,
            product_name=product_name,
            category_key=category_key,
            category_name={"doorbell": "Video Doorbell", "camera": "Camera"}.get(
                category_key, category_key.title()
            ),
            owner_qid=owner_qid,
            bind_ts=int(self.now()) - 86400 * 30,
            battery=battery,
            clip_encrypt=clip_encrypt,
            latest_firmware=latest_firmware,
            plan=plan,
            product_logo=f"https://static.botslab.com/logo/{category_key}.png",
        )
        stamp = str(int(self.now() * 1000))
        defaults: dict[str, Any]
        if category_key == "doorbell":
            defaults = {
                "BatteryLevel": 87,
                "DoorbellVoltage": 3960,
                "LowPowerMode": 0,
                "DoorbellOnlineState": 1,
                "SdState": 1,
                "SdStorage": "31914983424,4294967296,27620016128",
                "DoorbellAdcCurrent": 120,
                "Power_Supply": 0 if battery else 1,
                "BatteryPack_Install_Status": 1,
                "ExistingChime": 0,
                "MotionDetectSwitch": 1,
                "FirmwareVersion": firmware,
            }
        else:
            defaults = {
                "SdState": 1,
                "SdStorage": "63829966848,10737418240,53092548608",
                "WifiRssi": -58,
                "NightVisionMode": 0,
                "MotionDetectSwitch": 1,
                "MotionSensitivity": 2,
                "PrivacyMode": 0,
                "StatusLight": 1,
                "FirmwareVersion": firmware,
            }
        defaults.update(properties or {})
        for ident, value in defaults.items():
            dev.report[ident] = [value, stamp]
        self.devices[device_name] = dev
        owner = self.accounts[owner_qid]
        for scope in DEVICE_SCOPES:
            owner.consents[f"{scope}|{dev.product_key}|{device_name}"] = {
                "granted": 1,
                "mtime": int(self.now()),
            }
        return dev

    def remove_device(self, device_name: str) -> None:
        dev = self.devices.pop(device_name, None)
        if dev is None:
            raise WorldError(codes.DEVICE_NOT_FOUND)
        for sid in [s.id for s in self.shares.values() if s.device_name == device_name]:
            del self.shares[sid]

    def role(self, qid: str, dev: Device) -> tuple[str, int] | None:
        """('owner', 3) or ('shared', level) when the account sees the device, else None."""
        if dev.owner_qid == qid:
            return "owner", 3
        for share in self.shares.values():
            if (
                share.device_name == dev.device_name
                and share.target_qid == qid
                and share.status == 2
            ):
                return "shared", share.level
        return None

    def visible_devices(self, qid: str) -> list[tuple[Device, str, int]]:
        out = []
        for dev in self.devices.values():
            role = self.role(qid, dev)
            if role:
                out.append((dev, role[0], role[1]))
        return out

    def device_for(self, qid: str, product_key: str, device_name: str, *, level: int = 1) -> Device:
        dev = self.devices.get(device_name)
        if dev is None or dev.product_key != product_key:
            raise WorldError(codes.DEVICE_NOT_FOUND)
        role = self.role(qid, dev)
        if role is None:
            raise WorldError(codes.DEVICE_NOT_FOUND)
        if role[1] < level:
            raise WorldError(codes.NOT_OWNER)
        return dev

    def owned_device(self, qid: str, product_key: str, device_name: str) -> Device:
        dev = self.device_for(qid, product_key, device_name)
        if dev.owner_qid != qid:
            raise WorldError(codes.NOT_OWNER)
        return dev

    def is_awake(self, dev: Device) -> bool:
        return dev.online and (not dev.battery or dev.awake_until > self.now())

    def report_property(self, dev: Device, ident: str, value: Any) -> None:
        dev.report[ident] = [value, str(int(self.now() * 1000))]

    def set_properties(self, dev: Device, items: dict[str, Any]) -> None:
        for ident, value in items.items():
            spec = dev.props.get(ident)
            if spec is None or not spec[1]:
                raise WorldError(
                    codes.UNKNOWN_IDENTIFIER, f"unknown or read-only identifier {ident}"
                )
            kind = spec[0]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise WorldError(codes.INVALID_PARAM, f"{ident} must be an integer")
            lo_hi = PROP_RANGES.get(ident)
            if lo_hi and not lo_hi[0] <= value <= lo_hi[1]:
                raise WorldError(codes.INVALID_PARAM, f"{ident} out of range")
        if not dev.online:
            raise WorldError(codes.DEVICE_OFFLINE)
        stamp = str(int(self.now() * 1000))
        for ident, value in items.items():
            dev.desired[ident] = [value, stamp]
            if self.is_awake(dev) or not dev.battery:
                dev.report[ident] = [value, stamp]

    # --- consents -------------------------------------------------------------------------
    def consent(self, qid: str, scope: str, pk: str = "", dn: str = "") -> bool:
        acc = self.accounts.get(qid)
        if acc is None:
            return False
        entry = acc.consents.get(f"{scope}|{pk}|{dn}")
        return bool(entry and entry["granted"])

    def device_consent(self, dev: Device, scope: str) -> bool:
        return self.consent(dev.owner_qid, scope, dev.product_key, dev.device_name)

    # --- events ---------------------------------------------------------------------------
    def trigger(
        self,
        device_name: str,
        event_type: str,
        *,
        ctime: int | None = None,
        title: str | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        dev = self.devices.get(device_name)
        if dev is None:
            raise WorldError(codes.DEVICE_NOT_FOUND)
        if event_type in EVENT_TYPES:
            if event_type == "ring" and dev.category_key != "doorbell":
                raise WorldError(codes.INVALID_PARAM, "only doorbells ring")
            event_type = EVENT_TYPES[event_type][0]
        if not event_type.strip():
            raise WorldError(codes.INVALID_PARAM, "event_type")
        if not self.device_consent(dev, "event_upload"):
            return {"msg_id": None, "msg_ids": {}, "dropped": "event_upload withdrawn"}
        owner = self.accounts[dev.owner_qid]
        kind = kind_of(event_type)
        if kind in AI_KINDS and (not self.device_consent(dev, "ai_detection") or owner.restricted):
            event_type, kind = EVENT_TYPES["motion"][0], "motion"
        when = int(self.now()) if ctime is None else int(ctime)
        with_video = self.device_consent(dev, "cloud_recording")
        title = title or f"{dev.title}: {EVENT_TITLES.get(kind, 'Event')}"
        viewers = [dev.owner_qid] + [
            s.target_qid
            for s in self.shares.values()
            if s.device_name == device_name and s.status == 2 and s.target_qid in self.accounts
        ]
        ids: dict[str, str] = {}
        encrypted = with_video and dev.clip_encrypt == "chacha2"
        clip_media = self.clip_media_factory()
        secretkey = self.secretkey_factory(clip_media) if encrypted else ""
        for qid in viewers:
            self.next_msg_id += 1
            mid = self.message_id_factory(self.next_msg_id)
            extend = json.dumps({"ai": kind} if kind in AI_KINDS else {})
            msg = Message(
                id=mid,
                qid=qid,
                product_key=dev.product_key,
                device_name=device_name,
                event_type=event_type,
                title=title,
                ctime=when,
                image_object=f"snapshots/{device_name}/{mid}.jpg",
                video_object=f"clips/{device_name}/{mid}.m3u8" if with_video else "",
                secretkey=secretkey if with_video else "",
                encrypt=dev.clip_encrypt if with_video else "none",
                extend=extend,
                seq=self.next_msg_id,
                clip_media=clip_media,
            )
            box = self.messages.setdefault(qid, [])
            box.append(msg)
            self.by_id[mid] = msg
            if len(box) > MAX_MESSAGES_PER_ACCOUNT:
                for old in box[: len(box) - MAX_MESSAGES_PER_ACCOUNT]:
                    self.by_id.pop(old.id, None)
                del box[: len(box) - MAX_MESSAGES_PER_ACCOUNT]
            ids[qid] = mid
            if push:
                for callback in self.on_message:
                    callback(msg, dev)
        return {"msg_id": ids[dev.owner_qid], "msg_ids": ids, "event_type": event_type}

    def find_message(self, object_name: str) -> tuple[Message, Device] | None:
        parts = object_name.split("/")
        if len(parts) < 3:
            return None
        mid = parts[2].rsplit(".", 1)[0]
        dev = self.devices.get(parts[1])
        msg = self.by_id.get(mid)
        if msg is None or dev is None or msg.device_name != dev.device_name:
            return None
        return msg, dev

    def _zone(self, qid: str) -> Any:
        """The account's time zone (its ci_tz), UTC when it names none Python knows."""
        acc = self.accounts.get(qid)
        try:
            return ZoneInfo(acc.tz) if acc else UTC
        except (ValueError, KeyError, OSError):
            return UTC

    def list_messages(
        self,
        qid: str,
        *,
        nextid: str | None,
        day: date | None,
        product_key: str | None,
        device_name: str | None,
        event_types: set[str] | None,
        limit: int,
        page: int,
    ) -> tuple[list[Message], bool]:
        visible = {d.device_name for d, _r, _l in self.visible_devices(qid)}
        items: list[Message] = []
        start = 0 if nextid is not None else (page - 1) * limit
        # `nextid` is an opaque cursor here: the messages after the one it names [modelled]
        after = nextid is None
        zone = self._zone(qid)
        for msg in reversed(self.messages.get(qid, [])):
            if len(items) > start + limit:
                break  # one more than the page: enough to know there is more
            if not after:
                after = msg.id == nextid
                continue
            if msg.device_name not in visible and msg.device_name in self.devices:
                continue
            if product_key and msg.product_key != product_key:
                continue
            if device_name and msg.device_name != device_name:
                continue
            if event_types and msg.event_type not in event_types:
                continue
            # the `date` filter counts in the account's time zone (its ci_tz) [modelled]
            if day and datetime.fromtimestamp(msg.ctime, zone).date() != day:
                continue
            items.append(msg)
        chunk = items[start : start + limit]
        return chunk, start + limit < len(items)

    # --- live view (liveview.md H2) -----------------------------------------------------------
    def live_state(self, dev: Device) -> dict[str, Any]:
        """The device's license and its media keys (index -> key): 15 keys, a new set at new
        indices every 12 hours of the emulator clock."""
        bucket = int(self.now()) // LIVE_KEY_INTERVAL
        if dev.live is None or dev.live.get("bucket") != bucket:
            printable = "".join(chr(c) for c in range(33, 127) if chr(c) not in '\\"')
            dev.live = {
                "bucket": bucket,
                "license": {
                    "product_id": (dev.live or {}).get("license", {}).get("product_id")
                    or f"{secrets.randbelow(10**9):09d}",
                    "authorization": secrets.token_hex(16),
                    "auth_time": str(int(self.now())),
                    "rand_num": str(secrets.randbelow(10**8)),
                },
                # each rotation brings 15 new keys at new indices (CN saw 30..44, the public
                # client's test 3583: indices are not fixed)
                "keys": {
                    str(index): "".join(secrets.choice(printable) for _ in range(32))
                    for index in range(30 + 15 * (bucket % 256), 45 + 15 * (bucket % 256))
                },
            }
        return dev.live

    def live_keys(self, dev: Device) -> dict[str, Any]:
        """get_keys' answer (liveview.md H2)."""
        live = self.live_state(dev)
        return {
            "license": dict(live["license"]),
            "secret_interval": LIVE_KEY_INTERVAL,
            "secret_keys": [{index: key} for index, key in live["keys"].items()],
        }

    # --- sharing --------------------------------------------------------------------------
    def share(
        self, qid: str, pk: str, dn: str, *, mobile: str = "", email: str = "", level: int = 1
    ) -> Share:
        dev = self.owned_device(qid, pk, dn)
        if level not in (1, 2, 3):
            raise WorldError(codes.INVALID_PARAM, "level must be 1, 2 or 3")
        target = self.find_account(mobile or email)
        me = self.accounts[qid]
        if target is not None and target.qid == qid:
            raise WorldError(codes.SHARE_TO_SELF)
        if (mobile and mobile == me.mobile) or (email and email.lower() == me.email.lower()):
            raise WorldError(codes.SHARE_TO_SELF)
        for existing in self.shares.values():
            same = (mobile and existing.mobile == mobile) or (
                email and existing.email.lower() == email.lower()
            )
            if existing.device_name == dev.device_name and same:
                existing.level = level
                return existing
        share = Share(
            id=self._new_id(),
            product_key=pk,
            device_name=dn,
            owner_qid=qid,
            level=level,
            status=1,
            ctime=int(self.now()),
            mobile=mobile,
            email=email,
            target_qid=target.qid if target else "",
            nickname=target.nickname if target else "",
        )
        self.shares[share.id] = share
        return share

    def device_shares(self, qid: str, pk: str, dn: str) -> list[Share]:
        dev = self.owned_device(qid, pk, dn)
        return [s for s in self.shares.values() if s.device_name == dev.device_name]

    def cancel_share(self, qid: str, share_id: int) -> None:
        share = self.shares.get(share_id)
        if share is None:
            raise WorldError(codes.SHARE_NOT_FOUND)
        if qid not in (share.owner_qid, share.target_qid):
            raise WorldError(codes.NOT_OWNER)
        del self.shares[share_id]

    def pending_for(self, qid: str) -> list[Share]:
        return [s for s in self.shares.values() if s.target_qid == qid and s.status == 1]

    def answer_invitation(self, qid: str, share_id: int, accept: bool) -> Share:
        share = self.shares.get(share_id)
        if share is None or share.target_qid != qid or share.status != 1:
            raise WorldError(codes.SHARE_NOT_FOUND)
        if accept:
            share.status = 2
        else:
            del self.shares[share_id]
        return share

    # --- notifications --------------------------------------------------------------------
    def push_allowed(self, msg: Message) -> bool:
        """Whether the account's settings let this message travel as a push (section 7/8)."""
        acc = self.accounts.get(msg.qid)
        if acc is None or not self.consent(acc.qid, "push"):
            return False
        key = f"{msg.product_key}_{msg.device_name}"
        if acc.snoozes.get(key, 0) > self.now():
            return False
        setting = acc.device_settings.get(key)
        if setting is not None:
            if not int(setting.get("is_open", 1)):
                return False
            per_event = setting.get("event", {}).get(msg.event_type)
            if per_event is not None and not int(per_event.get("is_open", 1)):
                return False
        return not (int(acc.dnd.get("is_open", 0)) and self._in_dnd(acc))

    def _in_dnd(self, acc: Account) -> bool:
        now = datetime.fromtimestamp(self.now(), self._zone(acc.qid))
        minutes = now.hour * 60 + now.minute
        start = _hhmm(acc.dnd["start_time"])
        end = _hhmm(acc.dnd["end_time"])
        if start <= end:
            return start <= minutes < end
        return minutes >= start or minutes < end

    # --- firmware -------------------------------------------------------------------------
    def firmware_state(self, dev: Device) -> dict[str, Any]:
        current = str(dev.report.get("FirmwareVersion", ["", ""])[0])
        up = dev.upgrade
        progress, percent, upgrading = 0, 0, False
        if up is not None:
            elapsed = self.now() - up["started"]
            total = self.upgrade_seconds
            if elapsed < total * 0.1:
                progress, percent = 1, 0
            elif elapsed < total * 0.2:
                progress, percent = 2, 10
            elif elapsed < total:
                progress, percent = 4, min(99, int(100 * elapsed / total))
            elif up.get("fail"):
                progress, percent = 5, 0
                dev.upgrade = None
            else:
                progress, percent = 0, 100
                self.report_property(dev, "FirmwareVersion", up["version"])
                current = up["version"]
                dev.upgrade = None
            upgrading = dev.upgrade is not None
        return {
            "current_version": current,
            "upgrade": int(current != dev.latest_firmware and not upgrading),
            "version": dev.latest_firmware,
            "descriptions": f"Stability improvements for {dev.product_name}.",
            "size": 7_340_032,
            "is_upgrading": int(upgrading),
            "progress": progress,
            "percent": percent,
        }

    def start_upgrade(self, dev: Device) -> None:
        state = self.firmware_state(dev)
        if not state["upgrade"]:
            raise WorldError(codes.NO_UPGRADE)
        if not dev.online:
            raise WorldError(codes.DEVICE_OFFLINE)
        dev.upgrade = {
            "started": self.now(),
            "version": dev.latest_firmware,
            "fail": self.upgrade_fail,
        }

    # --- privacy --------------------------------------------------------------------------
    def export(self, qid: str) -> dict[str, Any]:
        acc = self.account(qid)
        devices = self.visible_devices(qid)
        return {
            "profile": {
                "qid": acc.qid,
                "username": acc.username,
                "nickname": acc.nickname,
                "email": acc.email,
                "mobile": acc.mobile,
                "region": acc.region,
            },
            "devices": [
                {
                    "product_key": d.product_key,
                    "device_name": d.device_name,
                    "device_title": d.title,
                    "product_name": d.product_name,
                    "role": role,
                    "level": level,
                }
                for d, role, level in devices
            ],
            "shares": [
                {k: v for k, v in asdict(s).items() if k != "target_qid"}
                for s in self.shares.values()
                if qid in (s.owner_qid, s.target_qid)
            ],
            "consents": self.consent_items(qid),
            "notifications": {
                "dnd": acc.dnd,
                "device_settings": acc.device_settings,
                "snoozes": {k: int(v) for k, v in acc.snoozes.items() if v > self.now()},
            },
            "orders": acc.orders,
            "events": [
                {
                    "id": m.id,
                    "device_name": m.device_name,
                    "event_type": m.event_type,
                    "ctime": m.ctime,
                }
                for m in self.messages.get(qid, [])
            ],
            "restricted": int(acc.restricted),
            "generated_at": int(self.now()),
        }

    def consent_items(self, qid: str) -> list[dict[str, Any]]:
        acc = self.account(qid)
        items = []
        for key, entry in sorted(acc.consents.items()):
            scope, pk, dn = key.split("|")
            if dn and dn not in self.devices:
                continue
            items.append(
                {
                    "scope": scope,
                    "product_key": pk,
                    "device_name": dn,
                    "granted": int(entry["granted"]),
                    "mtime": entry["mtime"],
                }
            )
        return items

    def set_consent(self, qid: str, scope: str, granted: int, pk: str = "", dn: str = "") -> None:
        acc = self.account(qid)
        if scope in ACCOUNT_SCOPES:
            if pk or dn:
                raise WorldError(codes.INVALID_PARAM, f"{scope} is account-wide")
        elif scope in DEVICE_SCOPES:
            if not (pk and dn):
                raise WorldError(codes.INVALID_PARAM, f"{scope} needs a device")
            self.owned_device(qid, pk, dn)
        else:
            raise WorldError(codes.INVALID_PARAM, f"unknown scope {scope}")
        if granted not in (0, 1):
            raise WorldError(codes.INVALID_PARAM, "granted must be 0 or 1")
        acc.consents[f"{scope}|{pk}|{dn}"] = {"granted": granted, "mtime": int(self.now())}

    def request_erasure(self, qid: str, confirm: str) -> dict[str, Any]:
        acc = self.account(qid)
        if confirm != qid:
            raise WorldError(codes.ERASE_CONFIRM_MISMATCH)
        if acc.erasure is None:
            due = datetime.fromtimestamp(self.now(), UTC).date()
            left = 15
            while left:
                due += timedelta(days=1)
                if due.weekday() < 5:
                    left -= 1
            acc.erasure = {
                "request_id": f"ER{self._new_id()}",
                "due_date": due.isoformat(),
                "ctime": int(self.now()),
            }
        return acc.erasure

    # --- snapshots and objects -----------------------------------------------------------
    def cache_snapshot(self, name: str, data: bytes) -> None:
        self.snapshot_cache[name] = data
        self.snapshot_cache.move_to_end(name)
        while len(self.snapshot_cache) > 512:
            self.snapshot_cache.popitem(last=False)

    # --- persistence ----------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "rsa_private_pem": self.keypair.private_pem(),
            "oss_secret": self.oss_secret,
            "next_id": self.next_id,
            "next_msg_id": self.next_msg_id,
            "clock_offset": self.clock_offset,
            "accounts": [asdict(a) for a in self.accounts.values()],
            "devices": [asdict(d) for d in self.devices.values()],
            "shares": [asdict(s) for s in self.shares.values()],
            "messages": [asdict(m) for box in self.messages.values() for m in box],
            "tokens": [asdict(t) for t in self.tokens.values()],
            "sessions": [asdict(s) for s in self.sessions.values()],
            "active_sid": self.active_sid,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        world = cls(QucKeyPair.from_pem(data["rsa_private_pem"]))
        world.oss_secret = data["oss_secret"]
        world.next_id = data["next_id"]
        world.next_msg_id = data["next_msg_id"]
        world.clock_offset = data.get("clock_offset", 0.0)
        for a in data["accounts"]:
            world.accounts[a["qid"]] = Account(**a)
            world.messages[a["qid"]] = []
        for d in data["devices"]:
            world.devices[d["device_name"]] = Device(**d)
        for s in data["shares"]:
            world.shares[s["id"]] = Share(**s)
        for saved in data["messages"]:
            # states saved before opaque ids kept numbers; the number is also their order
            m = {**saved, "id": str(saved["id"]), "seq": int(saved.get("seq") or saved["id"])}
            world.messages.setdefault(m["qid"], []).append(Message(**m))
        for box in world.messages.values():
            box.sort(key=lambda m: m.seq)
            for msg in box:
                world.by_id[msg.id] = msg
        for t in data.get("tokens", []):
            world.tokens[t["q"]] = Tokens(**t)
        for s in data.get("sessions", []):
            world.sessions[s["sid"]] = Session(**s)
        world.active_sid = dict(data.get("active_sid", {}))
        return world

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> World:
        return cls.from_json(json.loads(path.read_text()))


def _hhmm(value: str) -> int:
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
