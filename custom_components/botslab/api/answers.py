"""What the cloud answered, endpoint by endpoint, as diagnostics show it (issue 27): the last
status and error codes, the shape of the last good answer next to the shape the parser
expects (`EXPECTED`), the items skipped as malformed (with their shape), and the push frames
seen (opcodes and property keys). Never a value: shapes carry types only (`shapes.py`).

One `AnswerLog` per account lives on its `Endpoints` (like the rate gate): the gateway calls
(`connection.py`), the push dispatcher and frames (`push.py`) and live view's setup steps
(`live/setup.py`) all write to it. Everything here is bounded: endpoints, codes, skipped
items, frame kinds, keys, and the nodes of each shape.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field
import time
from typing import Any

from . import paths as ep
from .exceptions import ApiError, AuthExpired, BotslabError, RateLimited
from .models import code_of
from .redact import redact_text
from .shapes import Differences, Shape, compare, shape_key, shape_of

MAX_ENDPOINTS = 48
LAST_CODES = 5
LAST_SKIPPED = 10
MAX_SKIP_REASONS = 16
MAX_FRAME_KINDS = 24
MAX_FRAME_KEYS = 16

# how the parser reads numbers (models.number): an int, a float or the number written out
NUM: Shape = "int|float|str"
ID: Shape = "int|str"  # message and share ids: opaque, a string or a number
FLAG: Shape = "bool|int|float|str"  # read as a number, 0 or not


def _envelope(payload: Shape) -> dict[str, Shape]:
    """The gateway's envelope (docs/protocol/cloud-api.md#gateway): `code`, `msg` or `message`,
    `data` or `result`."""
    return {"code": "int|float|str", "msg|message?": "str", "data|result": payload}


_DEVICE: dict[str, Shape] = {  # docs/protocol/cloud-api.md#devices [seen]
    "product_key": "str",
    "device_name": "str",
    "device_title": "str",
    "product_name": "str",
    "online_status": "str",
    "category_key": "str",
    "category_name": "str",
    "roles": "list|str",
    "bind_ts": NUM,
    "product_logo": "str",
    "share_level?": NUM,  # the emulator's; read when there
}
_PROPERTY: dict[str, Shape] = {"identifier": "str", "value": "any", "timestamp": NUM}
_IMAGE: dict[str, Shape] = {"url": "str", "encrypt": "str", "expire_time": NUM}
_VIDEO: dict[str, Shape] = {"url": "str", "secretkey": "str", "encrypt": "str", "duration": NUM}
_TDATA: dict[str, Shape] = {  # docs/protocol/cloud-api.md#messages [seen]
    "event_type|type?": "str",
    "device_name|sn?": "str",
    "product_key": "str",
    "title": "str",
    "ctime": NUM,
    "image?": _IMAGE,
    "video?": _VIDEO,
    "extend?": "any",
}
_MESSAGE: dict[str, Shape] = {
    "id|msg_id|message_id": ID,
    "tname?": "str",
    "tdata": {"$json": _TDATA},
    # the variants the working client takes (docs/protocol/cloud-api.md#messages,
    # docs/protocol/accepted.md#messages): fields at the top
    **{f"{k.split('|')[0].rstrip('?')}?": v for k, v in _TDATA.items()},
    "sn?": "str",
    "type?": "str",
}
_SHARE: dict[str, Shape] = {  # docs/protocol/cloud-api.md#sharing [sdk]
    "id": ID,
    "mobile?": "str",
    "email?": "str",
    "nickname": "str",
    "level": NUM,
    "status": NUM,
    "ctime": NUM,
}

# The answer each endpoint should give, as the parser reads it (models' from_api and
# client.py): required keys are those docs/protocol/README.md names and the parser reads; `?` marks
# the variants and what only the emulator sends.
EXPECTED: Mapping[str, Shape] = {
    ep.APP_LOGIN: _envelope(
        {
            "sid|home_sid": "str",
            "push_alias": "str",
            "uid|userid|user_id|qid": ID,
            "nickname?": "str",
        }
    ),
    ep.DEVICE_LIST: _envelope({"devices|list?": [_DEVICE], "total?": NUM, "page?": NUM}),
    ep.GET_PROPERTY: _envelope({"report": [_PROPERTY], "desired": [_PROPERTY]}),
    ep.SET_PROPERTY: _envelope("any"),
    ep.INVOKE_SERVICE: _envelope({"result": {"$json": {"ErrorNO|errno": NUM, "*": "any"}}}),
    ep.CAMERA_KEYS: _envelope(
        {
            "license": {
                "product_id": "str",
                "authorization": "str",
                "auth_time": "int|str",
                "rand_num": "int|str",
            },
            "secret_interval": NUM,
            "secret_keys": [{"#": "str"}],
        }
    ),
    ep.MESSAGE_LIST: _envelope(
        {"items|list": [_MESSAGE], "nextid?": ID, "previd?": ID, "has_more?": NUM}
    ),
    ep.EVENT_TYPES: _envelope({"select": [{"event_type": "str", "name": "str", "icon": "str"}]}),
    ep.PLAY_URL: _envelope({"url": "str", "expire_time": NUM}),
    ep.CLOUD_SERVICE: _envelope(
        {
            "commodity_name": "str",
            "start_timestamp": NUM,
            "end_timestamp": NUM,
            "service_day_num": NUM,
            "storage_day_num": NUM,
            "surplus_second": NUM,
            "status?": NUM,
        }
    ),
    ep.SHARE_BY_MOBILE: _envelope(_SHARE),
    ep.SHARE_BY_EMAIL: _envelope(_SHARE),
    ep.SHARE_LIST: _envelope({"items": [_SHARE]}),
    ep.SHARE_CANCEL: _envelope("any"),
    ep.SHARE_PENDING: _envelope(
        {
            "items": [
                {
                    "id": ID,
                    "product_key": "str",
                    "device_name": "str",
                    "device_title": "str",
                    "from_nickname": "str",
                    "level": NUM,
                }
            ]
        }
    ),
    ep.SHARE_ACCEPT: _envelope("any"),
    ep.SHARE_REFUSE: _envelope("any"),
    ep.PUSH_DND: _envelope({"is_open": FLAG, "start_time": "str", "end_time": "str"}),
    ep.PUSH_DEVICE_SETTING: _envelope(
        {"key?": "str", "is_open": FLAG, "event": {"*": {"is_open": FLAG}}}
    ),
    ep.PUSH_SNOOZE: _envelope("any"),
    ep.PRIVACY_CONSENT: _envelope(
        {
            "items": [
                {
                    "scope": "str",
                    "product_key": "str",
                    "device_name": "str",
                    "granted": FLAG,
                    "mtime": NUM,
                }
            ]
        }
    ),
    ep.PRIVACY_EXPORT: _envelope("object"),
    ep.PRIVACY_RESTRICT: _envelope({"restricted": FLAG}),
    ep.PRIVACY_ERASE: _envelope({"request_id": "str", "due_date": "str", "ctime?": NUM}),
    ep.OTA_CHECK: _envelope(
        {
            "current_version": "str",
            "upgrade": FLAG,
            "version": "str",
            "descriptions": "str",
            "size": NUM,
            "is_upgrading": FLAG,
        }
    ),
    ep.OTA_UPGRADE: _envelope("any"),
    ep.OTA_PROGRESS: _envelope({"percent": NUM, "progress": NUM}),
    ep.NETWORK_TEST: _envelope(
        {
            "network_type": "str",
            "isp": "str",
            "ip": "str",
            "rssi": NUM,
            "latency_ms": NUM,
            "loss_pct": NUM,
            "result": "str",
        }
    ),
    # the other hosts (docs/protocol/push.md, docs/protocol/live-video.md#setup-calls)
    "push dispatcher": {"code?": NUM, "msg?": "str", "data": [{"ip": "str", "p?": NUM}]},
    "live cloud control": {
        "errno": NUM,
        "errmsg?": "str",
        "data": {"encrypt?": "str", "ccdata": "str"},
    },
    "live relay sign": {"errno": NUM, "errmsg?": "str", "data": {"sign": "str", "sname?": "str"}},
    "live scheduler": {
        "errcode": NUM,
        "errmsg?": "str",
        "servers": ["str"],
        "auth_key": "str",
        "cluster_id?": "str",
        "sn?": "str",
    },
}

# what each endpoint is to a user (the first-contact check's words)
NAMES: Mapping[str, str] = {
    ep.APP_LOGIN: "app login",
    ep.DEVICE_LIST: "device list",
    ep.GET_PROPERTY: "device properties",
    ep.SET_PROPERTY: "device settings (write)",
    ep.INVOKE_SERVICE: "device services",
    ep.CAMERA_KEYS: "live view keys",
    ep.MESSAGE_LIST: "event list",
    ep.EVENT_TYPES: "event types",
    ep.PLAY_URL: "clip links",
    ep.CLOUD_SERVICE: "cloud storage plan",
    ep.SHARE_LIST: "shares of a device",
    ep.SHARE_PENDING: "invitations",
    ep.PUSH_DND: "do-not-disturb",
    ep.PUSH_DEVICE_SETTING: "device notifications",
    ep.PRIVACY_CONSENT: "privacy consents",
    ep.PRIVACY_EXPORT: "data export",
    ep.OTA_CHECK: "firmware check",
    ep.OTA_PROGRESS: "firmware progress",
    ep.NETWORK_TEST: "internet test",
}


def evidence(endpoint: str) -> str:
    """What docs/protocol/README.md says of an endpoint: `modelled` (the project guessed it) or
    `seen` (a public client uses it against the real cloud)."""
    return "modelled" if endpoint in ep.MODELLED_FEATURES else "seen"


def answer_code(answer: Mapping[str, Any]) -> int | None:
    """The result code of an answer, under the name its host uses."""
    for key in ("code", "errno", "errcode"):
        if key in answer:
            return code_of(answer[key])
    return None


def error_code(err: BaseException) -> str:
    """A failed request as a short code: the HTTP status or API code it carried, or the
    error's kind (never its message, which may name a host)."""
    if isinstance(err, RateLimited):
        return "429"
    if isinstance(err, ApiError | AuthExpired) and getattr(err, "code", None) is not None:
        return f"code {err.code}"
    text = str(err)
    if "server error " in text:
        return text.rsplit("server error ", 1)[-1][:3]
    return type(err).__name__


@dataclass(slots=True)
class EndpointRecord:
    """One endpoint's recent answers."""

    calls: int = 0
    codes: deque[str] = field(default_factory=lambda: deque(maxlen=LAST_CODES))
    shape: Shape | None = None  # of the last answer with code 0 (or none)
    differences: Differences | None = None
    as_expected_once: bool = False
    last_at: float = 0.0

    def as_dict(self, endpoint: str) -> dict[str, Any]:
        return {
            "evidence": evidence(endpoint),
            "calls": self.calls,
            "last_codes": list(self.codes),
            "answered_as_expected": None
            if self.differences is None
            else self.differences.as_expected,
            "ever_answered_as_expected": self.as_expected_once,
            "differences": None if self.differences is None else self.differences.as_dict(),
            "shape": self.shape,
            "expected": EXPECTED.get(endpoint),
        }


@dataclass(slots=True)
class FrameKind:
    """Push frames of one version and opcode: how many, their property keys, the body."""

    count: int = 0
    keys: set[str] = field(default_factory=set)
    more_keys: bool = False
    body: Shape | None = None


class AnswerLog:
    """The account's record of what the cloud answered (see the module's docstring)."""

    def __init__(self) -> None:
        self.endpoints: OrderedDict[str, EndpointRecord] = OrderedDict()
        self.skipped: deque[dict[str, Any]] = deque(maxlen=LAST_SKIPPED)
        self.skip_reasons: dict[str, int] = {}
        self.frames: OrderedDict[tuple[int, int], FrameKind] = OrderedDict()
        self.last_check: dict[str, Any] | None = None  # the first-contact check's report

    def _record(self, endpoint: str) -> EndpointRecord:
        record = self.endpoints.get(endpoint)
        if record is None:
            record = self.endpoints[endpoint] = EndpointRecord()
            while len(self.endpoints) > MAX_ENDPOINTS:
                self.endpoints.popitem(last=False)
        record.calls += 1
        record.last_at = time.time()
        return record

    def answered(self, endpoint: str, status: int, answer: Mapping[str, Any]) -> Differences | None:
        """An answer that parsed as JSON: its code, and its shape when the code says OK
        (0, or no code at all)."""
        record = self._record(endpoint)
        code = answer_code(answer)
        record.codes.append(f"{status}" if code is None else f"{status}:{code}")
        if code not in (None, 0):
            return None
        shape = shape_of(answer)
        if shape != record.shape or record.differences is None:  # the same: compared already
            record.shape = shape
            expected = EXPECTED.get(endpoint)
            record.differences = None if expected is None else compare(expected, shape)
        if record.differences is not None and record.differences.as_expected:
            record.as_expected_once = True
        return record.differences

    def failed(self, endpoint: str, err: BaseException) -> None:
        """A request that got no JSON answer (a network error, an HTTP error, a 429)."""
        self._record(endpoint).codes.append(error_code(err))

    def skip(self, what: str, err: BotslabError, item: Any) -> None:
        """An item of an answer that could not be read (a device, a message): skipped, with
        the reason and the item's shape."""
        reason = f"{what}: {redact_text(str(err))[:120]}"
        if reason in self.skip_reasons or len(self.skip_reasons) < MAX_SKIP_REASONS:
            self.skip_reasons[reason] = self.skip_reasons.get(reason, 0) + 1
        else:
            self.skip_reasons["(other reasons)"] = self.skip_reasons.get("(other reasons)", 0) + 1
        shape, now = shape_of(item), time.time()
        last = self.skipped[-1] if self.skipped else None
        if last is not None and last["reason"] == reason and last["shape"] == shape:
            last["times"] += 1  # the same item read again (each fetch walks the list anew)
            last["at"] = now
        else:
            self.skipped.append({"reason": reason, "shape": shape, "times": 1, "at": now})

    def frame(self, version: int, opcode: int, keys: Any, body: Any | None) -> None:
        """A push frame: its version, opcode and property keys (never their values), and the
        shape of its body when it is JSON."""
        kind = self.frames.get((version, opcode))
        if kind is None:
            if len(self.frames) >= MAX_FRAME_KINDS:
                return
            kind = self.frames[(version, opcode)] = FrameKind()
        kind.count += 1
        for key in keys:
            if len(kind.keys) >= MAX_FRAME_KEYS:
                kind.more_keys = True
                break
            kind.keys.add(shape_key(key))
        if body is not None:
            kind.body = shape_of(body)

    def get(self, endpoint: str) -> EndpointRecord | None:
        return self.endpoints.get(endpoint)

    def as_dict(self) -> dict[str, Any]:
        """Differences first, then every endpoint, then the push frames."""
        endpoints = {name: rec.as_dict(name) for name, rec in self.endpoints.items()}
        differences = [
            {"endpoint": name, "evidence": evidence(name), **rec.differences.as_dict()}
            for name, rec in self.endpoints.items()
            if rec.differences is not None and not rec.differences.none
        ]
        return {
            "differences": differences,
            "endpoints": endpoints,
            "push_frames": [
                {
                    "version": version,
                    "opcode": opcode,
                    "count": kind.count,
                    "property_keys": sorted(kind.keys) + (["…"] if kind.more_keys else []),
                    "body": kind.body,
                }
                for (version, opcode), kind in self.frames.items()
            ],
        }
