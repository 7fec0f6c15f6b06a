"""The first-contact check (issue 27): every read-only endpoint asked once, with the account's
own devices, and each answer compared with the shape the parser expects. It writes nothing
to the cloud: the endpoints that change something are left out and named as such. Its report
says, in words a user can paste into a bug report, what answered as expected and what did
not; it carries no value of any answer (shapes and codes only). The shapes it met stay in the
endpoints' answer log, where diagnostics show them, and the report as `last_check`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import time
from typing import TYPE_CHECKING, Any

from . import paths as ep
from .answers import NAMES, evidence
from .exceptions import (
    ApiError,
    AuthExpired,
    BotslabError,
    FeatureUnavailable,
    RateLimited,
    SessionConflict,
)
from .live import setup as live_setup
from .models import Device, DeviceKind, Event
from .push import dispatch

if TYPE_CHECKING:
    from .client import BotslabClient

# what each outcome is called in the report
AS_EXPECTED = "as_expected"
EXTRA_KEYS = "extra_keys"  # as expected, with keys the parser does not read
DIFFERS = "differs"  # keys the parser reads are missing, or of another type
NOT_OFFERED = "not_offered"  # a [modelled] endpoint the cloud does not offer (404, ...)
REFUSED = "refused"  # an API code other than 0
RATE_LIMITED = "rate_limited"
FAILED = "failed"  # no answer, or one that could not be read
NOT_ASKED = "not_asked"

MARKS = {
    AS_EXPECTED: "ok",
    EXTRA_KEYS: "ok+",
    DIFFERS: "DIFFERS",
    NOT_OFFERED: "not offered",
    REFUSED: "refused",
    RATE_LIMITED: "rate limited",
    FAILED: "FAILED",
    NOT_ASKED: "not asked",
}

# never asked: they change something in the cloud or on a device
LEFT_OUT = (
    "app login (the running session is used)",
    "device settings, services and wake-up",
    "sharing and invitations (changes)",
    "notification settings and snooze (changes)",
    "privacy consents (changes), data export (it may notify the account holder), "
    "restriction and erasure",
    "firmware upgrade",
    "internet test (the device runs it)",
    "live view's relay sign and scheduler (they start a stream)",
)


@dataclass(slots=True)
class CheckResult:
    endpoint: str
    outcome: str
    detail: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return NAMES.get(self.endpoint, self.endpoint)

    def as_dict(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "name": self.name,
            "evidence": evidence(self.endpoint),
            "outcome": self.outcome,
            "detail": list(self.detail),
        }

    def line(self) -> str:
        where = self.endpoint if self.name == self.endpoint else f"{self.name}, {self.endpoint}"
        text = f"[{MARKS[self.outcome]}] {where} ({evidence(self.endpoint)})"
        return f"{text}: {'; '.join(self.detail)}" if self.detail else text


class FirstContactCheck:
    def __init__(self, client: BotslabClient) -> None:
        self.client = client
        self.answers = client.endpoints.answers
        self.results: list[CheckResult] = []

    async def ask(self, endpoint: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """One endpoint, once: its outcome from what the answer log recorded of this call."""
        before = self.answers.get(endpoint)
        calls_before = before.calls if before is not None else 0
        result: Any = None
        failure: BotslabError | None = None
        try:
            result = await call()
        except (AuthExpired, SessionConflict):
            raise  # the account's matter, not this endpoint's
        except BotslabError as err:
            failure = err
        record = self.answers.get(endpoint)
        answered = (
            record is not None
            and record.calls > calls_before
            and bool(record.codes)
            and record.codes[-1].endswith(":0")
        )
        differences = record.differences if answered and record is not None else None
        detail: list[str] = []
        if differences is not None:
            detail += [f"missing: {m}" for m in differences.missing]
            detail += [f"other type: {t}" for t in differences.types]
            detail += [f"not read: {u}" for u in differences.unknown]
        if isinstance(failure, FeatureUnavailable):
            outcome = NOT_OFFERED
            detail.insert(0, f"code {failure.code}")
        elif isinstance(failure, RateLimited):
            outcome = RATE_LIMITED
        elif isinstance(failure, ApiError) and not answered:
            outcome = REFUSED
            detail.insert(0, f"code {failure.code}")
        elif failure is not None:
            outcome = DIFFERS if differences is not None and not differences.as_expected else FAILED
            detail.insert(0, f"not read: {type(failure).__name__}")
        elif differences is not None and not differences.as_expected:
            outcome = DIFFERS
        elif differences is not None and differences.unknown:
            outcome = EXTRA_KEYS
        else:
            outcome = AS_EXPECTED
        self.results.append(CheckResult(endpoint, outcome, detail))
        return result

    def not_asked(self, endpoint: str, why: str) -> None:
        self.results.append(CheckResult(endpoint, NOT_ASKED, [why]))

    async def run(self) -> dict[str, Any]:
        client = self.client
        devices: list[Device] = await self.ask(ep.DEVICE_LIST, client.devices) or []
        viewable = [d for d in devices if d.kind is not DeviceKind.OTHER] or devices
        device = next((d for d in viewable if d.owner), viewable[0] if viewable else None)
        owned = device if device is not None and device.owner else None
        page = await self.ask(ep.MESSAGE_LIST, lambda: client.messages(page_size=5))
        events: tuple[Event, ...] = page.events if page is not None else ()
        clip = next((e.video for e in events if e.video is not None), None)
        await self.ask(
            ep.EVENT_TYPES, lambda: client.event_types(device.product_key if device else None)
        )
        if clip is not None:
            await self.ask(ep.PLAY_URL, lambda: client.play_url(clip.url))
        else:
            self.not_asked(ep.PLAY_URL, "no clip among the newest events")
        if device is None:
            for path in (ep.GET_PROPERTY, ep.CAMERA_KEYS, ep.PUSH_DEVICE_SETTING):
                self.not_asked(path, "no device")
        else:
            await self.ask(ep.GET_PROPERTY, lambda: client.properties(device))
            await self.ask(ep.CAMERA_KEYS, lambda: client.camera_keys(device))
            await self.ask(ep.PUSH_DEVICE_SETTING, lambda: client.device_notifications(device))
        if owned is None:
            for path in (ep.CLOUD_SERVICE, ep.OTA_CHECK, ep.OTA_PROGRESS, ep.SHARE_LIST):
                self.not_asked(path, "no device of this account's own")
        else:
            await self.ask(ep.CLOUD_SERVICE, lambda: client.cloud_plan(owned))
            await self.ask(ep.OTA_CHECK, lambda: client.firmware(owned))
            await self.ask(ep.OTA_PROGRESS, lambda: client.firmware_progress(owned))
            await self.ask(ep.SHARE_LIST, lambda: client.shares(owned))
        await self.ask(ep.SHARE_PENDING, client.invitations)
        await self.ask(ep.PUSH_DND, client.do_not_disturb)
        await self.ask(ep.PRIVACY_CONSENT, client.consents)
        await self.ask(
            "push dispatcher",
            lambda: dispatch(client.http_session, client.endpoints, client.identity),
        )
        await self.ask(
            "live cloud control",
            lambda: live_setup.cloud_control(client.http_session, client.endpoints),
        )
        report = self.report(devices)
        self.answers.last_check = report
        return report

    def report(self, devices: list[Device]) -> dict[str, Any]:
        asked = [r for r in self.results if r.outcome != NOT_ASKED]
        counts = {o: sum(r.outcome == o for r in asked) for o in MARKS if o != NOT_ASKED}
        kinds = {k.value: sum(d.kind is k for d in devices) for k in DeviceKind}
        owned = sum(d.owner for d in devices)
        checked_at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        lines = [
            f"BOTSLAB first-contact check, {checked_at}, region {self.client.endpoints.region}",
            f"Asked {len(asked)} read-only endpoints once: "
            + ", ".join(f"{n} {MARKS[o]}" for o, n in counts.items() if n),
            f"Devices listed: {len(devices)} ({owned} own, {len(devices) - owned} shared; "
            + ", ".join(f"{n} {k}" for k, n in kinds.items() if n)
            + ")",
            *(r.line() for r in self.results),
            "Not asked, as they change something: " + "; ".join(LEFT_OUT) + ".",
            "Nothing was written to the cloud. No value of any answer is in this report.",
        ]
        return {
            "checked_at": checked_at,
            "region": self.client.endpoints.region,
            "counts": counts,
            "devices": {"listed": len(devices), "own": owned, **kinds},
            "results": [r.as_dict() for r in self.results],
            "left_out": list(LEFT_OUT),
            "summary": "\n".join(lines),
        }


async def first_contact(client: BotslabClient) -> dict[str, Any]:
    """Run the first-contact check with this client's account; its report."""
    return await FirstContactCheck(client).run()
