"""Notifications: which messages are pushed."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from .model import Account, Clock, Message, account_zone, hhmm

if TYPE_CHECKING:
    from .accounts import AccountStore
    from .consents import ConsentStore


class NotificationStore:
    """Whether a message may travel as a push: the push consent, snoozes, per-device and
    per-event switches, and do-not-disturb in the account's time zone
    (docs/protocol/cloud-api.md#notifications)."""

    def __init__(self, clock: Clock, accounts: AccountStore, consents: ConsentStore) -> None:
        self._clock = clock
        self._accounts = accounts
        self._consents = consents

    def push_allowed(self, msg: Message) -> bool:
        """Whether the account's settings let this message travel as a push (section 7/8)."""
        acc = self._accounts.get(msg.qid)
        if acc is None or not self._consents.granted(acc.qid, "push"):
            return False
        key = f"{msg.product_key}_{msg.device_name}"
        if acc.snoozes.get(key, 0) > self._clock.now():
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
        now = datetime.fromtimestamp(self._clock.now(), account_zone(acc))
        minutes = now.hour * 60 + now.minute
        start = hhmm(acc.dnd["start_time"])
        end = hhmm(acc.dnd["end_time"])
        if start <= end:
            return start <= minutes < end
        return minutes >= start or minutes < end
