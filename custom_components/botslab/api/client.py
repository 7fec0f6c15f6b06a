"""BotslabClient: sessions, signed requests and a typed call for every endpoint of the
BOTSLAB cloud (protocol.md sections 3, 6, 7 and 8).

The caller owns the aiohttp session (it is never closed here) and persists the Identity and
the Credentials; `on_tokens` tells it when they change.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Callable, Container, Mapping
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from . import endpoints as ep, safejson
from .crypto import api_sign, random_alnum
from .endpoints import APP_KEY, APP_VERSION, USER_AGENT, Endpoints
from .exceptions import (
    ApiError,
    AuthExpired,
    BotslabConnectionError,
    MediaHostRefused,
    PermissionDenied,
    ProtocolError,
    SessionConflict,
    SnapshotExpired,
)
from .http import check_status, parse_json, read_limited, translated_errors
from .models import (
    CameraKeys,
    CloudPlan,
    CloudSession,
    Consent,
    Credentials,
    Device,
    DeviceNotifications,
    DoNotDisturb,
    ErasureRequest,
    Event,
    EventTypeInfo,
    FirmwareInfo,
    FirmwareProgress,
    Identity,
    Invitation,
    MessagePage,
    NetworkTest,
    PlayUrl,
    Properties,
    ServiceResult,
    Share,
    ShareLevel,
    as_list,
    code_of,
    message_id,
    number,
    plain,
)

_LOGGER = logging.getLogger(__name__)

OK = 0
BAD_SIGN = 1001
SID_EXPIRED = 1015
QT_EXPIRED = 100003
SESSION_STOLEN = 102003
SESSION_TIMEOUT = 102008
NOT_OWNER = 202101  # [modelled] (protocol.md 6)
DEVICE_PAGE = 50
MAX_PAGES = 200
MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
FIRST_PAGE = 10


class BotslabClient:
    """One account's connection to the BOTSLAB cloud."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        endpoints: Endpoints,
        identity: Identity,
        credentials: Credentials,
        *,
        on_tokens: Callable[[Credentials, CloudSession | None], None] | None = None,
        language: str = "en-US",
        timezone: str = "UTC",
        country: str = "DE",
        timeout: float = 20.0,
    ) -> None:
        self._http = session
        self._endpoints = endpoints.with_region(credentials.region)
        self._identity = identity
        self._credentials = credentials
        self._session: CloudSession | None = None
        self._on_tokens = on_tokens
        self._login_lock = asyncio.Lock()
        self._lang, self._tz, self._country = language, timezone, country
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 10.0))
        self.skipped = 0  # malformed items (devices, messages) skipped in the cloud's answers
        self._refused_hosts: set[str] = set()  # media hosts refused (reported once each)

    def __repr__(self) -> str:
        return f"BotslabClient(region={self._endpoints.region!r}, qid={self._credentials.qid!r})"

    # --- state ----------------------------------------------------------------------------
    @property
    def endpoints(self) -> Endpoints:
        return self._endpoints

    @property
    def http_session(self) -> aiohttp.ClientSession:
        """The shared aiohttp session (live view's steps go through it too)."""
        return self._http

    @property
    def identity(self) -> Identity:
        return self._identity

    @property
    def credentials(self) -> Credentials:
        return self._credentials

    @property
    def session(self) -> CloudSession | None:
        return self._session

    def set_credentials(self, credentials: Credentials) -> None:
        """New Q/T after a password login (reauthentication)."""
        self._credentials = credentials
        self._endpoints = self._endpoints.with_region(credentials.region)
        self._session = None

    # --- plumbing -------------------------------------------------------------------------
    def _query(self) -> dict[str, str]:
        sign_ts = str(int(time.time()))
        sign_no = random_alnum(20)
        return {
            "m2": self._identity.m2,
            "appkey": APP_KEY,
            "appver": APP_VERSION,
            "sign": api_sign(APP_KEY, self._identity.m2, sign_ts, sign_no),
            "sign_ts": sign_ts,
            "sign_no": sign_no,
            "ci_brand": "HomeAssistant",
            "ci_model": "Home Assistant",
            "ci_net": "wifi",
            "ci_osver": "11",
            "appch": APP_KEY,
            "ci_lang": self._lang,
            "ci_tz": self._tz,
            "app_type_id": "1",
            "ci_cy": self._country,
            "appflag": "botslab",
        }

    def _headers(self, with_sid: bool) -> dict[str, str]:
        auth: dict[str, str] = {"Q": self._credentials.q, "T": self._credentials.t}
        if with_sid and self._session is not None:
            auth["sid"] = self._session.sid
        # the bytes the working public client sends: json.dumps' default ", " and ": "
        token = base64.b64encode(json.dumps(auth).encode()).decode()
        return {
            "Authorization": f"jws {token}",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }

    async def _raw(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        form: Mapping[str, Any] | None,
        with_sid: bool,
    ) -> Mapping[str, Any]:
        query = self._query()
        if method == "GET" and params:
            query.update({k: str(v) for k, v in params.items() if v is not None})
        data: dict[str, str] | bytes | None = None
        headers = self._headers(with_sid)
        if method == "POST" and form is None:
            # an empty body, as the public client's app login sends it (protocol.md 3)
            data = b""
            headers["Content-Type"] = "application/octet-stream"
        elif form is not None:
            data = {
                k: v
                if isinstance(v, str)
                else json.dumps(v, separators=(",", ":"))
                if isinstance(v, (dict, list))
                else str(v)
                for k, v in form.items()
                if v is not None
            }
        what = f"{method} {path}"
        async with (
            translated_errors(what),
            self._http.request(
                method,
                self._endpoints.api_url + path,
                params=query,
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as resp,
        ):
            check_status(resp, what)
            body = await read_limited(resp, what)
        if resp.status == 404 and not body.startswith(b"{"):
            raise ApiError(404, f"{what}: not found")
        return parse_json(body, what)

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        form: Mapping[str, Any] | None = None,
        *,
        with_sid: bool = True,
    ) -> Any:
        if with_sid and self._session is None:
            await self.login()
        for attempt in range(2):
            sid_used = self._session
            answer = await self._raw(
                method, path, params, form if method == "POST" else None, with_sid
            )
            code = code_of(answer.get("code"))
            if code is None:
                raise ProtocolError(f"{method} {path}: answer without code")
            message = str(answer.get("msg") or answer.get("message") or "")
            if code == OK:
                return answer["data"] if "data" in answer else answer.get("result")
            if code == SID_EXPIRED and with_sid and attempt == 0:
                _LOGGER.debug("sid expired during %s %s: app login and one retry", method, path)
                await self._relogin(sid_used)
                continue
            raise _error_for(code, message, f"{method} {path}")
        raise ApiError(SID_EXPIRED, "sid refused right after an app login")

    async def _relogin(self, stale: CloudSession | None) -> None:
        async with self._login_lock:
            if self._session is not stale and self._session is not None:
                return  # someone else logged in meanwhile
            await self._app_login_locked()

    # --- 3.1 ------------------------------------------------------------------------------
    async def login(self) -> CloudSession:
        """App login: a sid (the one session of the account), the push alias and the user id."""
        async with self._login_lock:
            return await self._app_login_locked()

    async def _app_login_locked(self) -> CloudSession:
        data = await self._call("POST", ep.APP_LOGIN, with_sid=False)
        if not isinstance(data, Mapping):
            raise ProtocolError("app login without data")
        sid = str(data.get("sid") or data.get("home_sid") or "")
        if not sid:
            raise ProtocolError("app login without sid")
        user_id = str(
            next((data[k] for k in ("uid", "userid", "user_id", "qid") if data.get(k)), "")
        )
        session = CloudSession(
            sid=sid,
            push_alias=str(data.get("push_alias") or ""),
            user_id=user_id.removeprefix("botslab_"),
        )
        self._session = session
        if self._on_tokens is not None:
            self._on_tokens(self._credentials, session)
        return session

    # --- 3.2 devices ----------------------------------------------------------------------
    async def devices(self) -> list[Device]:
        """Every bound or shared device, all pages."""
        out: list[Device] = []
        for page in range(1, MAX_PAGES + 1):
            data = await self._call("GET", ep.DEVICE_LIST, {"page": page, "page_size": DEVICE_PAGE})
            if not isinstance(data, Mapping):
                raise ProtocolError("device list without data")
            items = data.get("devices", data.get("list"))
            if not isinstance(items, list):
                raise ProtocolError("device list without devices")
            for item in items:
                try:
                    out.append(Device.from_api(item))
                except ProtocolError:
                    self.skipped += 1
                    _LOGGER.debug("skipping a malformed device entry")
            if len(items) < DEVICE_PAGE:
                break
        return out

    async def properties(self, device: Device) -> Properties:
        data = await self._call("GET", ep.GET_PROPERTY, _dev(device))
        return Properties.from_api(data)

    async def set_properties(self, device: Device, items: Mapping[str, Any]) -> None:
        # the form (`items` as a JSON object) is [modelled]; the path is in public code
        await self._call("POST", ep.SET_PROPERTY, form={**_dev(device), "items": dict(items)})

    async def invoke_service(
        self, device: Device, identifier: str, args: Mapping[str, Any] | None = None
    ) -> ServiceResult:
        data = await self._call(
            "POST",
            ep.INVOKE_SERVICE,
            form={**_dev(device), "identifier": identifier, "input": dict(args or {})},
        )
        raw: Any = data.get("result") if isinstance(data, Mapping) else None
        if isinstance(raw, str):
            try:
                raw = safejson.loads(raw) if raw.strip() else {}
            except (ValueError, RecursionError) as err:
                raise ProtocolError("service result is not JSON") from err
        if not isinstance(raw, Mapping):
            raw = {}
        error_no = code_of(raw.get("ErrorNO", raw.get("errno", 0)))
        return ServiceResult(-1 if error_no is None else error_no, plain(raw))

    async def camera_keys(self, device: Device) -> CameraKeys:
        """Live view's media keys and license (liveview.md H2)."""
        params = {**_dev(device), "sn": device.serial}
        return CameraKeys.from_api(await self._call("GET", ep.CAMERA_KEYS, params))

    async def wake_up(self, device: Device) -> ServiceResult:
        return await self.invoke_service(device, "WakeUp")

    async def reboot(self, device: Device) -> ServiceResult:
        return await self.invoke_service(device, "Reboot")  # [modelled] service

    async def take_snapshot(self, device: Device) -> ServiceResult:
        return await self.invoke_service(device, "TakeSnapshot")  # [modelled]: result `url`

    # --- 3.3 events -----------------------------------------------------------------------
    async def messages(
        self,
        *,
        page: int = 1,
        page_size: int = 20,
        date: str | None = None,
        device: Device | None = None,
        event_type: str | None = None,
    ) -> MessagePage:
        """One page of the message list, newest first (protocol.md 3.3). Pages are asked for
        by number (`page`, `page_size`): `nextid` is never computed or relied on."""
        params: dict[str, Any] = {
            "page": page,
            "page_size": page_size,
            "date": date,
            "event_type": event_type,
        }
        if device is not None:
            params.update(_dev(device))
        data = await self._call("GET", ep.MESSAGE_LIST, params)
        if not isinstance(data, Mapping) or not isinstance(data.get("items", []), list):
            raise ProtocolError("message list without items")
        events = []
        for item in data.get("items") or []:
            try:
                events.append(Event.from_api(item))
            except ProtocolError:
                self.skipped += 1  # one bad message never blocks the others
                _LOGGER.debug("skipping a malformed message")
        return MessagePage(
            tuple(events), message_id(data.get("nextid")), message_id(data.get("previd"))
        )

    async def events_since(
        self,
        seen: Container[str],
        floor: int | None,
        *,
        page_size: int = 50,
        max_events: int = 1000,
        max_pages: int = 50,
    ) -> AsyncIterator[Event]:
        """The events not delivered yet, in the order they happened.

        `seen` holds the ids already delivered, `floor` the newest `ctime` delivered (None on
        a first start: then only the newest page is read). Ids are opaque (protocol.md 3.3),
        so the catch-up rests on them and on `ctime`: pages are read newest first until one
        holds an id already seen (the rest is older), or, when the remembered ids ran out,
        until a page holds only events older than `floor`. Events with one `ctime` keep the
        list's order. One page size for the whole walk: pages are asked for by number.
        """
        collected: list[Event] = []  # unseen events above the first seen one, newest first
        reached = False
        for page_no in range(1, max_pages + 1):
            page = await self.messages(page=page_no, page_size=page_size)
            for event in page.events:
                if event.id in seen:
                    reached = True
                    break
                collected.append(event)
            if (
                floor is None
                or reached
                or all(e.ctime < floor for e in page.events)
                or len(page.events) < page_size
                or len(collected) >= max_events
            ):
                break
        if not reached and floor is not None:
            # no remembered id on the way (a long outage, or an old cursor): ctime decides
            collected = [e for e in collected if e.ctime >= floor]
        unique: dict[str, Event] = {}
        for event in collected:  # a page walk over a growing list may repeat an event
            unique.setdefault(event.id, event)
        # oldest first: by ctime, and for one ctime the list's own order (newest first) reversed
        ordered = list(reversed(unique.values()))
        ordered.sort(key=lambda e: e.ctime)
        for event in ordered[-max_events:]:
            yield event

    async def event_types(self, product_key: str | None = None) -> list[EventTypeInfo]:
        data = await self._call("GET", ep.EVENT_TYPES, {"product_key": product_key})
        items = data.get("select") if isinstance(data, Mapping) else None
        return [
            EventTypeInfo(
                str(i.get("event_type", "")), str(i.get("name", "")), str(i.get("icon", ""))
            )
            for i in as_list(items)
            if isinstance(i, Mapping)
        ]

    async def download(self, url: str, *, max_bytes: int = MAX_SNAPSHOT_BYTES) -> bytes:
        """A signed OSS object (snapshot, playlist, segment). HTTP 403 → SnapshotExpired.

        Only where media lives (`Endpoints.media_allowed`), and no redirects: anything else
        is refused (MediaHostRefused) and reported once per host."""
        if not self.endpoints.media_allowed(url):
            host = (urlsplit(url).hostname or "?")[:80] if url.isprintable() else "?"
            if host not in self._refused_hosts:
                self._refused_hosts.add(host)
                _LOGGER.warning(
                    "The BOTSLAB cloud named %s as a media host; it is not where BOTSLAB "
                    "keeps media, so nothing is fetched from it",
                    host,
                )
            raise MediaHostRefused(host)
        async with (
            translated_errors("media"),
            self._http.get(url, timeout=self._timeout, allow_redirects=False) as resp,
        ):
            if resp.status == 403:
                raise SnapshotExpired()
            check_status(resp, "media")
            if resp.status != 200:
                raise ApiError(resp.status, "media download failed")
            if (resp.content_length or 0) > max_bytes:
                raise ProtocolError("media object too large")
            data = bytearray()
            async for chunk in resp.content.iter_chunked(65536):
                data += chunk
                if len(data) > max_bytes:
                    raise ProtocolError("media object too large")
        return bytes(data)

    async def download_snapshot(self, event: Event) -> bytes:
        if event.image is None:
            raise ApiError(404, "event has no image")
        return await self.download(event.image.url)

    async def play_url(self, aliyun_url: str) -> PlayUrl:
        """Resolve a clip's `aliyun://` URL to an HLS playlist URL (GET, never POST: 300260)."""
        data = await self._call("GET", ep.PLAY_URL, {"url": aliyun_url})
        if not isinstance(data, Mapping) or not data.get("url"):
            raise ProtocolError("play URL answer without url")
        return PlayUrl(str(data["url"]), _as_int(data.get("expire_time")))

    async def cloud_plan(self, device: Device) -> CloudPlan:
        return CloudPlan.from_api(await self._call("GET", ep.CLOUD_SERVICE, _dev(device)))

    # --- 6 sharing ------------------------------------------------------------------------
    async def share_by_mobile(
        self, device: Device, mobile: str, level: ShareLevel = ShareLevel.VIEW
    ) -> Share:
        """Share with a phone number in E.164 digits (no '+')."""
        data = await self._call(
            "POST",
            ep.SHARE_BY_MOBILE,
            form={**_dev(device), "mobile": mobile.lstrip("+"), "level": level.number},
        )
        return Share.from_api(data)

    async def share_by_email(
        self, device: Device, email: str, level: ShareLevel = ShareLevel.VIEW
    ) -> Share:
        data = await self._call(
            "POST", ep.SHARE_BY_EMAIL, form={**_dev(device), "email": email, "level": level.number}
        )
        return Share.from_api(data)

    async def shares(self, device: Device) -> list[Share]:
        data = await self._call("GET", ep.SHARE_LIST, _dev(device))
        return [Share.from_api(i) for i in _items(data)]

    async def cancel_share(self, share_id: int) -> None:
        await self._call("POST", ep.SHARE_CANCEL, form={"id": share_id})

    async def invitations(self) -> list[Invitation]:
        return [Invitation.from_api(i) for i in _items(await self._call("GET", ep.SHARE_PENDING))]

    async def accept_invitation(self, invitation_id: int) -> None:
        await self._call("POST", ep.SHARE_ACCEPT, form={"id": invitation_id})

    async def refuse_invitation(self, invitation_id: int) -> None:
        await self._call("POST", ep.SHARE_REFUSE, form={"id": invitation_id})

    # --- 7 notifications ------------------------------------------------------------------
    async def do_not_disturb(self) -> DoNotDisturb:
        return DoNotDisturb.from_api(await self._call("GET", ep.PUSH_DND))

    async def set_do_not_disturb(
        self, enabled: bool, start: str | None = None, end: str | None = None
    ) -> DoNotDisturb:
        data = await self._call(
            "POST",
            ep.PUSH_DND,
            form={"is_open": int(enabled), "start_time": start, "end_time": end},
        )
        return DoNotDisturb.from_api(data)

    async def device_notifications(self, device: Device) -> DeviceNotifications:
        data = await self._call(
            "GET", ep.PUSH_DEVICE_SETTING, {"key": _key(device), **_dev(device)}
        )
        return DeviceNotifications.from_api(data)

    async def set_device_notifications(
        self,
        device: Device,
        *,
        enabled: bool | None = None,
        events: Mapping[str, bool] | None = None,
    ) -> DeviceNotifications:
        form: dict[str, Any] = {"key": _key(device), **_dev(device)}
        if enabled is not None:
            form["is_open"] = int(enabled)
        if events:
            form["event"] = {k: {"is_open": int(v)} for k, v in events.items()}
        return DeviceNotifications.from_api(
            await self._call("POST", ep.PUSH_DEVICE_SETTING, form=form)
        )

    async def snooze(self, device: Device, seconds: int) -> None:
        await self._call("POST", ep.PUSH_SNOOZE, form={**_dev(device), "second": int(seconds)})

    # --- 8 privacy, firmware, network test -------------------------------------------------
    async def consents(self) -> list[Consent]:
        return [Consent.from_api(i) for i in _items(await self._call("GET", ep.PRIVACY_CONSENT))]

    async def set_consent(
        self, scope: str, granted: bool, device: Device | None = None
    ) -> list[Consent]:
        form: dict[str, Any] = {"scope": scope, "granted": int(granted)}
        if device is not None:
            form.update(_dev(device))
        return [
            Consent.from_api(i)
            for i in _items(await self._call("POST", ep.PRIVACY_CONSENT, form=form))
        ]

    async def export_data(self) -> dict[str, Any]:
        data = await self._call("GET", ep.PRIVACY_EXPORT)
        if not isinstance(data, Mapping):
            raise ProtocolError("export without a document")
        document: dict[str, Any] = plain(data)
        return document

    async def restrict_processing(self, restricted: bool) -> bool:
        data = await self._call("POST", ep.PRIVACY_RESTRICT, form={"restricted": int(restricted)})
        return bool(_as_int(data.get("restricted"))) if isinstance(data, Mapping) else restricted

    async def request_erasure(self, confirm: str) -> ErasureRequest:
        """Ask the cloud to erase the account's data; `confirm` must be the account id."""
        return ErasureRequest.from_api(
            await self._call("POST", ep.PRIVACY_ERASE, form={"confirm": confirm})
        )

    async def firmware(self, device: Device) -> FirmwareInfo:
        return FirmwareInfo.from_api(await self._call("GET", ep.OTA_CHECK, _dev(device)))

    async def upgrade_firmware(self, device: Device) -> None:
        await self._call("POST", ep.OTA_UPGRADE, form=_dev(device))

    async def firmware_progress(self, device: Device) -> FirmwareProgress:
        return FirmwareProgress.from_api(await self._call("GET", ep.OTA_PROGRESS, _dev(device)))

    async def network_test(self, device: Device) -> NetworkTest:
        return NetworkTest.from_api(await self._call("POST", ep.NETWORK_TEST, form=_dev(device)))


def _dev(device: Device) -> dict[str, str]:
    return {"product_key": device.product_key, "device_name": device.serial}


def _key(device: Device) -> str:
    return f"{device.product_key}_{device.serial}"


def _items(data: Any) -> list[Any]:
    items = data.get("items") if isinstance(data, Mapping) else None
    if items is None:
        return []
    if not isinstance(items, list):
        raise ProtocolError("items is not a list")
    return items


def _as_int(value: Any) -> int:
    return number(value)


def _error_for(code: int, message: str, what: str) -> Exception:
    if code in (QT_EXPIRED, SESSION_TIMEOUT):
        return AuthExpired(f"{what}: {message or 'login expired'}", code=code)
    if code == SESSION_STOLEN:
        return SessionConflict(f"{what}: the account logged in elsewhere")
    if code == NOT_OWNER:
        return PermissionDenied(code, message)
    if code == BAD_SIGN:
        return ApiError(code, "bad signature (clock skew or a client bug)")
    return ApiError(code, message)


__all__ = ["BotslabClient", "BotslabConnectionError"]
