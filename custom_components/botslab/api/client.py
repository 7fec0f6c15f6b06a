"""BotslabClient: a typed call for every endpoint of the BOTSLAB cloud (protocol.md sections 3,
6, 7 and 8), over the signed requests and sessions of `CloudConnection`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Container, Mapping
import logging
from typing import Any
from urllib.parse import urlsplit

from . import endpoints as ep, safejson
from .connection import (
    DEVICE_PAGE,
    MAX_PAGES,
    MAX_SNAPSHOT_BYTES,
    CloudConnection,
)
from .exceptions import (
    ApiError,
    BotslabConnectionError,
    MediaHostRefused,
    ProtocolError,
    SnapshotExpired,
)
from .http import check_status, translated_errors
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
        items, data = await self._message_items(params)
        events = [event for item in items if (event := self._event(item)) is not None]
        return MessagePage(
            tuple(events), message_id(data.get("nextid")), message_id(data.get("previd"))
        )

    async def _message_items(self, params: dict[str, Any]) -> tuple[list[Any], Mapping[str, Any]]:
        """A page of the message list as it came: its items (not read yet), and the answer."""
        data = await self._call("GET", ep.MESSAGE_LIST, params)
        if not isinstance(data, Mapping) or not isinstance(data.get("items", []), list):
            raise ProtocolError("message list without items")
        return data.get("items") or [], data

    def _event(self, item: Any) -> Event | None:
        try:
            return Event.from_api(item)
        except ProtocolError:
            self.skipped += 1  # one bad message never blocks the others
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
    ) -> AsyncIterator[Event]:
        """The events not delivered yet, in the order they happened.

        `seen` holds the ids already delivered, `floor` the newest `ctime` delivered (None on
        a first start: then only the newest page is read). Ids are opaque (protocol.md 3.3),
        so the catch-up rests on them and on `ctime`: pages are read newest first until one
        holds an id already seen (the rest is older), or, when the remembered ids ran out,
        until a page holds only events older than `floor`. Events with one `ctime` keep the
        list's order. Pages are asked for by number, so a walk keeps one page size: when the
        first page (`page_size`, small for a single event) holds nothing seen, more came than
        it guessed, and the walk starts over with pages of `wide_page_size`. Only the items
        above the first seen one are read in full, each once per walk; a bad item is skipped
        and still counts towards a full page.
        """
        collected: list[Event] = []  # unseen events above the first seen one, newest first
        read: dict[str, Event] = {}  # the items read in full on this walk, by id
        reached = False
        size = page_size
        page_no = 1
        for _ in range(max_pages):
            items, _data = await self._message_items({"page": page_no, "page_size": size})
            on_page: list[Event] = []
            for item in items:
                msg_id = item_id(item)
                if msg_id in seen:
                    reached = True
                    break
                event = read.get(msg_id) if msg_id else None
                if event is None and (event := self._event(item)) is not None:
                    read[event.id] = event
                if event is not None:
                    on_page.append(event)
            collected.extend(on_page)
            if (
                floor is None
                or reached
                or (on_page and all(e.ctime < floor for e in on_page))
                or len(items) < size
                or len(collected) >= max_events
            ):
                break
            if size < wide_page_size:
                # a burst: one walk of wide pages instead of many of small ones
                size, page_no = wide_page_size, 1
                collected.clear()
                continue
            page_no += 1
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


__all__ = ["BotslabClient", "BotslabConnectionError"]
