"""BotslabClient: a typed call for every endpoint of the BOTSLAB cloud (docs/protocol/cloud-api.md),
over the signed requests and sessions of `CloudConnection`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Container, Mapping
import contextlib
import logging
import time
from typing import Any
from urllib.parse import urljoin

import aiohttp

from . import paths as ep, safejson
from .connection import (
    DEVICE_PAGE,
    MAX_PAGES,
    MAX_SNAPSHOT_BYTES,
    CloudConnection,
)
from .exceptions import (
    AddressRefused,
    ApiError,
    BotslabConnectionError,
    BotslabError,
    MediaHostRefused,
    ProtocolError,
    SnapshotExpired,
)
from .http import check_status, read_limited, request
from .models import (
    CameraKeys,
    CloudPlan,
    Consent,
    Device,
    DeviceNotifications,
    DoNotDisturb,
    ErasureRequest,
    Event,
    EventTypeInfo,
    FirmwareInfo,
    FirmwareProgress,
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
    item_id,
    message_id,
    number,
    plain,
)

_LOGGER = logging.getLogger(__name__)

# how much older than the newest delivered event a message listed late may be and still be
# new (push before list, docs/protocol/accepted.md#push-before-list: the lag of a distributed store,
# seconds in practice)
LOOKBACK = 120
TOP_UP_EVERY = 0.005  # seconds between two looks at how many pages a walk wants, meanwhile
BELOW_AT_ONCE = 4  # pages below the first seen id a deep walk asks for together, at most


class BotslabClient(CloudConnection):
    """One account's connection to the BOTSLAB cloud, with a typed call per endpoint."""

    # --- 3.2 devices ----------------------------------------------------------------------
    async def devices(self) -> list[Device]:
        """Every bound or shared device, all pages."""
        out: list[Device] = []
        for page in range(1, MAX_PAGES + 1):
            data = await self._call("GET", ep.DEVICE_LIST, {"page": page, "page_size": DEVICE_PAGE})
            if not isinstance(data, Mapping):
                raise ProtocolError("device list without data")
            # neither `devices` nor `list`: an empty account, as the working client reads it
            # (docs/protocol/accepted.md#messages); a list key holding something else is still an
            # error
            items = data.get("devices")
            items = data.get("list") if items is None else items
            items = [] if items is None else items
            if not isinstance(items, list):
                raise ProtocolError("device list without devices")
            for item in items:
                try:
                    out.append(Device.from_api(item))
                except ProtocolError as err:
                    self.skipped += 1
                    self.endpoints.answers.skip("device", err, item)
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
        """Live view's media keys and license (docs/protocol/live-video.md#h2-keys)."""
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
        """One page of the message list, newest first (docs/protocol/cloud-api.md#messages). Pages
        are asked for by number (`page`, `page_size`): `nextid` is never computed or relied on."""
        params: dict[str, Any] = {
            "page": page,
            "page_size": page_size,
            "date": date,
            "event_type": event_type,
        }
        if device is not None:
            params.update(_dev(device))
        items, data = await self._message_items(params)
        events = [event for item in items if (event := self._event(item)) is not None]
        return MessagePage(
            tuple(events), message_id(data.get("nextid")), message_id(data.get("previd"))
        )

    async def _message_items(self, params: dict[str, Any]) -> tuple[list[Any], Mapping[str, Any]]:
        """A page of the message list as it came: its items (not read yet), and the answer."""
        started = time.monotonic()
        data = await self._call("GET", ep.MESSAGE_LIST, params)
        took = time.monotonic() - started
        self.list_seconds = took if not self.list_seconds else 0.8 * self.list_seconds + 0.2 * took
        if not isinstance(data, Mapping):
            raise ProtocolError("message list without items")
        # `items`, or `list` as the device list answers (field report
        # tests/field_reports/message_list_under_list.json, docs/field-report.md)
        items = data.get("items")
        items = data.get("list") if items is None else items
        if not isinstance(items, list | None):
            raise ProtocolError("message list without items")
        return items or [], data

    def _event(self, item: Any) -> Event | None:
        try:
            return Event.from_api(item)
        except ProtocolError as err:
            self.skipped += 1  # one bad message never blocks the others
            self.endpoints.answers.skip("message", err, item)
            _LOGGER.debug("skipping a malformed message")
            return None

    async def events_since(
        self,
        seen: Container[str],
        floor: int | None,
        *,
        page_size: int = 50,
        wide_page_size: int = 50,
        max_events: int = 1000,
        max_pages: int = 50,
        below: int = 0,
        lookback: int = LOOKBACK,
        pages_at_once: Callable[[], int] | None = None,
    ) -> AsyncIterator[Event]:
        """The events not delivered yet, in the order they happened.

        `seen` holds the ids already delivered, `floor` the newest `ctime` delivered (None on
        a first start: then only the newest page is read). Ids are opaque
        (docs/protocol/cloud-api.md#messages), so the catch-up rests on them and on `ctime`: pages
        are read newest first until one holds an id already seen (the rest is older), or, when the
        remembered ids ran out, until a page holds only events older than `floor`. Events with one
        `ctime` keep the list's order. Pages are asked for by number, so a walk keeps one page size:
        when the first page (`page_size`, small for a single event) holds nothing seen, more came
        than it guessed, and the walk starts over with pages of `wide_page_size`. Only the items
        above the first seen one are read in full, each once per walk; a bad item is skipped
        and still counts towards a full page.

        A message the cloud pushed before it listed it (docs/protocol/accepted.md#push-before-list)
        shows up later in its place, below messages delivered since. So the rest of the last page is
        looked at too, and with `below` > 0 the walk goes on past the first seen id until it has
        passed that many seen ids: unseen messages there are taken when they are at most `lookback`
        seconds older than `floor` (older ones are history, never delivered on purpose).

        Wide pages are asked `pages_at_once()` at a time (the caller's guess from the pushes it
        heard), together, and more while one is on its way when more pushes came: on a far
        cloud a burst then costs one round trip, not one per page. They are read in order as
        before; pages the walk did not need are dropped. (A list that grows at the top while a
        walk reads it shifts later pages down: they overlap, they never leave a gap.)
        """
        collected: list[Event] = []  # unseen events above the first seen one, newest first
        late: list[Event] = []  # unseen events below it (listed after newer ones)
        read: dict[str, Event] = {}  # the items read in full on this walk, by id
        reached = False
        passed = 0  # seen ids met
        size = page_size
        page_no = 1
        oldest_taken = (floor or 0) - lookback
        # pages asked and not read yet, by (page size, number)
        ahead: dict[tuple[int, int], asyncio.Future[tuple[list[Any], Mapping[str, Any]]]] = {}

        def ask(first: int, last_page: int) -> None:
            # pages 1 to `wanted` of the walk (counted from its start), and `first`
            wanted = max(1, pages_at_once()) if pages_at_once else 1
            if size < wide_page_size:
                # a short page: one; and when the pushes say a burst, the wide pages the
                # walk will start over with if the short page holds nothing seen
                wide = range(1, wanted + 1) if wanted > 1 else range(0)
                pages = [(size, first), *((wide_page_size, n) for n in wide)]
            else:
                last = max(first, wanted)
                if pages_at_once and below > passed and (reached or first > 1):
                    # a deep walk on a list longer than a page: the pages it must pass
                    more = min(BELOW_AT_ONCE, -(-(below - passed) // size))
                    last = max(last, first + more - 1)
                pages = [(size, n) for n in range(first, last + 1)]
            for key in pages:
                if key not in ahead and key[1] <= last_page:
                    params = {"page": key[1], "page_size": key[0]}
                    ahead[key] = asyncio.ensure_future(self._message_items(params))

        try:
            for done in range(max_pages):
                last_page = page_no + max_pages - done - 1
                ask(page_no, last_page)
                page = ahead[size, page_no]
                while pages_at_once is not None and not page.done():
                    # pushes heard while the page is on its way may ask for more pages now
                    await asyncio.wait({page}, timeout=TOP_UP_EVERY)
                    ask(page_no, last_page)
                items, _data = await ahead.pop((size, page_no))
                on_page: list[Event] = []
                for item in items:
                    msg_id = item_id(item)
                    if msg_id in seen:
                        reached = True
                        passed += 1
                        continue
                    event = read.get(msg_id) if msg_id else None
                    if event is None and (event := self._event(item)) is not None:
                        read[event.id] = event
                    if event is None:
                        continue
                    if not reached:
                        on_page.append(event)
                    elif floor is not None and event.ctime >= oldest_taken:
                        late.append(event)
                collected.extend(on_page)
                if (
                    floor is None
                    or (reached and passed >= below)
                    or (not reached and on_page and all(e.ctime < floor for e in on_page))
                    or len(items) < size
                    or len(collected) >= max_events
                ):
                    break
                if size < wide_page_size and not reached:
                    # a burst: one walk of wide pages instead of many of small ones
                    size, page_no = wide_page_size, 1
                    collected.clear()
                    continue
                page_no += 1
        finally:
            for task in ahead.values():  # pages the walk did not need (or a page failed)
                task.cancel()
            for task in ahead.values():
                with contextlib.suppress(asyncio.CancelledError, BotslabError):
                    await task
        if not reached and floor is not None:
            # no remembered id on the way (a long outage, or an old cursor): ctime decides
            collected = [e for e in collected if e.ctime >= floor]
        unique: dict[str, Event] = {}
        for event in (*collected, *late):  # a page walk over a growing list may repeat one
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
        """A media object the cloud named (snapshot, playlist, segment): see `fetch`."""
        data, _url = await self.fetch(url, max_bytes=max_bytes)
        return data

    async def fetch(self, url: str, *, max_bytes: int = MAX_SNAPSHOT_BYTES) -> tuple[bytes, str]:
        """A media object the cloud named and the URL it came from after redirects (what a
        playlist's relative lines are resolved against), from whichever host it is on, over
        http or https. HTTP 403 → SnapshotExpired.

        Guarded by address, not by name (docs/protocol/accepted.md#address-guard): the host must
        resolve to a public address (or the emulator's, when configured), the connection goes to the
        address checked, and its peer is checked too. Up to MAX_REDIRECTS redirects are followed,
        each hop guarded alike. A refused host raises MediaHostRefused and is reported once;
        the body is bounded by `max_bytes`."""
        guard, guard_gate = self.endpoints.guard, self.endpoints.gate
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                guard.check_url(url)  # an address literal: refused before any connection
                async with request(
                    self.media_session,
                    "GET",
                    url,
                    "media",
                    gate=guard_gate,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as resp:
                    if resp.status in REDIRECTS:
                        url = _redirect_target(url, resp)
                        continue
                    if resp.status == 403:
                        raise SnapshotExpired()
                    check_status(resp, "media")
                    if resp.status != 200:
                        raise ApiError(resp.status, "media download failed")
                    return await read_limited(resp, "media", max_bytes), url
            except AddressRefused as err:
                raise self._refused_media(err) from err
        raise ProtocolError(f"media: more than {MAX_REDIRECTS} redirects")

    def _refused_media(self, err: AddressRefused) -> MediaHostRefused:
        """The error for a refused media host, reported once per host (the host only: never
        the signed URL or its query)."""
        host = err.host or "?"
        if err.resolved and host not in self._refused_hosts:
            self._refused_hosts.add(host)
            _LOGGER.warning(
                "The BOTSLAB cloud named %s as a media host; it has no public address, so "
                "nothing is fetched from it",
                host,
            )
        elif not err.resolved:
            _LOGGER.debug("The media host %s does not resolve", host)
        return MediaHostRefused(host, resolved=err.resolved)

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


__all__ = ["BotslabClient", "BotslabConnectionError"]


MAX_REDIRECTS = 3  # as the working public client follows them (docs/protocol/accepted.md#media)
REDIRECTS = frozenset({301, 302, 303, 307, 308})


def _redirect_target(url: str, resp: aiohttp.ClientResponse) -> str:
    """Where a redirect points, resolved against the URL that answered it (checked by the
    guard at the next hop like any other media URL)."""
    location = resp.headers.get("Location", "")
    if not location:
        raise ApiError(resp.status, "media redirect without a location")
    return urljoin(url, location)
