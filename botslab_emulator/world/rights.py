"""Data rights: export and erasure."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import codes
from .model import Clock, WorldError

if TYPE_CHECKING:
    from .accounts import AccountStore
    from .consents import ConsentStore
    from .messages import MessageStore
    from .sharing import SharingStore


class RightsDesk:
    """The data rights of the privacy policy: an export of everything kept on an account, and
    erasure requests answered within 15 working days."""

    def __init__(
        self,
        clock: Clock,
        accounts: AccountStore,
        sharing: SharingStore,
        consents: ConsentStore,
        messages: MessageStore,
    ) -> None:
        self._clock = clock
        self._accounts = accounts
        self._sharing = sharing
        self._consents = consents
        self._messages = messages

    def export(self, qid: str) -> dict[str, Any]:
        acc = self._accounts.require(qid)
        devices = self._sharing.visible_devices(qid)
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
                for s in self._sharing.shares.values()
                if qid in (s.owner_qid, s.target_qid)
            ],
            "consents": self._consents.items_of(qid),
            "notifications": {
                "dnd": acc.dnd,
                "device_settings": acc.device_settings,
                "snoozes": {k: int(v) for k, v in acc.snoozes.items() if v > self._clock.now()},
            },
            "orders": acc.orders,
            "events": [
                {
                    "id": m.id,
                    "device_name": m.device_name,
                    "event_type": m.event_type,
                    "ctime": m.ctime,
                }
                for m in self._messages.of(qid)
            ],
            "restricted": int(acc.restricted),
            "generated_at": int(self._clock.now()),
        }

    def request_erasure(self, qid: str, confirm: str) -> dict[str, Any]:
        acc = self._accounts.require(qid)
        if confirm != qid:
            raise WorldError(codes.ERASE_CONFIRM_MISMATCH)
        if acc.erasure is None:
            due = datetime.fromtimestamp(self._clock.now(), UTC).date()
            left = 15
            while left:
                due += timedelta(days=1)
                if due.weekday() < 5:
                    left -= 1
            acc.erasure = {
                "request_id": f"ER{self._clock.new_id()}",
                "due_date": due.isoformat(),
                "ctime": int(self._clock.now()),
            }
        return acc.erasure
