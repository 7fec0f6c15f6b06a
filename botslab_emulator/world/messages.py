"""Messages: the events each account is told of, their ids, lists and snapshots."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime
import json
from typing import TYPE_CHECKING, Any

from .. import codes
from ..crypto import random_alnum
from .model import (
    AI_KINDS,
    EVENT_TITLES,
    EVENT_TYPES,
    MAX_MESSAGES_PER_ACCOUNT,
    Clock,
    Device,
    Message,
    WorldError,
    account_zone,
    kind_of,
)

if TYPE_CHECKING:
    from .accounts import AccountStore
    from .consents import ConsentStore
    from .devices import DeviceStore
    from .sharing import SharingStore


class MessageStore:
    """Event messages: one per viewer of a device, newest last, found by id or object name;
    new ones go to `on_message` (the push server)."""

    def __init__(
        self,
        clock: Clock,
        accounts: AccountStore,
        devices: DeviceStore,
        sharing: SharingStore,
        consents: ConsentStore,
    ) -> None:
        self._clock = clock
        self._accounts = accounts
        self._devices = devices
        self._sharing = sharing
        self._consents = consents
        self.boxes: dict[str, list[Message]] = {}  # qid -> oldest first
        self.by_id: dict[str, Message] = {}  # every viewer's copy has an id of its own
        self.next_msg_id = 500_000
        self.on_message: list[Callable[[Message, Device], None]] = []
        self.snapshot_cache: OrderedDict[str, bytes] = OrderedDict()
        self.secretkey_factory: Callable[[str], str] = lambda _media: random_alnum(32)
        self.clip_media_factory: Callable[[], str] = lambda: "canonical"
        # the wire id of a new message from its sequence number (the emulator's knob)
        self.message_id_factory: Callable[[int], str] = str

    def add(self, msg: Message) -> None:
        self.boxes.setdefault(msg.qid, []).append(msg)
        self.by_id[msg.id] = msg

    def of(self, qid: str) -> list[Message]:
        return self.boxes.get(qid, [])

    def trigger(
        self,
        device_name: str,
        event_type: str,
        *,
        ctime: int | None = None,
        title: str | None = None,
        push: bool = True,
    ) -> dict[str, Any]:
        dev = self._devices.get(device_name)
        if dev is None:
            raise WorldError(codes.DEVICE_NOT_FOUND)
        if event_type in EVENT_TYPES:
            if event_type == "ring" and dev.category_key != "doorbell":
                raise WorldError(codes.INVALID_PARAM, "only doorbells ring")
            event_type = EVENT_TYPES[event_type][0]
        if not event_type.strip():
            raise WorldError(codes.INVALID_PARAM, "event_type")
        if not self._consents.device_granted(dev, "event_upload"):
            return {"msg_id": None, "msg_ids": {}, "dropped": "event_upload withdrawn"}
        owner = self._accounts[dev.owner_qid]
        kind = kind_of(event_type)
        if kind in AI_KINDS and (
            not self._consents.device_granted(dev, "ai_detection") or owner.restricted
        ):
            event_type, kind = EVENT_TYPES["motion"][0], "motion"
        when = int(self._clock.now()) if ctime is None else int(ctime)
        with_video = self._consents.device_granted(dev, "cloud_recording")
        title = title or f"{dev.title}: {EVENT_TITLES.get(kind, 'Event')}"
        viewers = [dev.owner_qid] + [
            s.target_qid
            for s in self._sharing.shares.values()
            if s.device_name == device_name and s.status == 2 and s.target_qid in self._accounts
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
            box = self.boxes.setdefault(qid, [])
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

    def find(self, object_name: str) -> tuple[Message, Device] | None:
        parts = object_name.split("/")
        if len(parts) < 3:
            return None
        mid = parts[2].rsplit(".", 1)[0]
        dev = self._devices.get(parts[1])
        msg = self.by_id.get(mid)
        if msg is None or dev is None or msg.device_name != dev.device_name:
            return None
        return msg, dev

    def list(
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
        visible = {d.device_name for d, _r, _l in self._sharing.visible_devices(qid)}
        items: list[Message] = []
        start = 0 if nextid is not None else (page - 1) * limit
        # `nextid` is an opaque cursor here: the messages after the one it names [modelled]
        after = nextid is None
        zone = account_zone(self._accounts.get(qid))
        now = self._clock.now()
        for msg in reversed(self.boxes.get(qid, [])):
            if len(items) > start + limit:
                break  # one more than the page: enough to know there is more
            if not after:
                after = msg.id == nextid
                continue
            if msg.listed_at > now:
                continue  # pushed, not listed yet
            if msg.device_name not in visible and msg.device_name in self._devices:
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

    def cache_snapshot(self, name: str, data: bytes) -> None:
        self.snapshot_cache[name] = data
        self.snapshot_cache.move_to_end(name)
        while len(self.snapshot_cache) > 512:
            self.snapshot_cache.popitem(last=False)
