"""The emulator's world: pure state and rules, no sockets. The HTTP and push front ends call into
it. One store per area of the protocol, each with its own state:

- `accounts`: accounts, QUC challenges, Q/T tokens, app sessions
- `devices`: devices, properties, wakefulness, live-view keys
- `sharing`: roles, shares and invitations
- `consents`: privacy consents
- `messages`: event messages and snapshots
- `notifications`: which messages are pushed (snooze, per-device switches, do-not-disturb)
- `firmware`: upgrades
- `rights`: export and erasure

`World` builds them over one clock and saves and loads them together. Plans are device data
(`Device.plan`) that only the gateway reads.
"""

from __future__ import annotations

from dataclasses import asdict
import json
from pathlib import Path
import secrets
from typing import Any

from ..crypto import QucKeyPair
from .accounts import AccountStore
from .consents import ConsentStore
from .devices import DeviceStore
from .firmware import FirmwareStore
from .messages import MessageStore
from .model import (
    ACCOUNT_SCOPES,
    AI_KINDS,
    DEVICE_SCOPES,
    EVENT_TITLES,
    EVENT_TYPES,
    REGIONS,
    SERVICES,
    Account,
    Challenge,
    Clock,
    Device,
    Message,
    Session,
    Share,
    Tokens,
    WorldError,
    kind_of,
    valid_hhmm,
)
from .notifications import NotificationStore
from .rights import RightsDesk
from .sharing import SharingStore


class World:
    """All state of the emulated cloud. Not thread-safe: used from one event loop."""

    def __init__(self, keypair: QucKeyPair | None = None) -> None:
        self.keypair = keypair or QucKeyPair.generate()
        self.clock = Clock()
        self.oss_secret = secrets.token_hex(16)
        self.url_ttl = 3600
        self.accounts = AccountStore(self.clock)
        self.devices = DeviceStore(self.clock, self.accounts)
        self.sharing = SharingStore(self.clock, self.accounts, self.devices)
        self.consents = ConsentStore(self.clock, self.accounts, self.devices, self.sharing)
        self.messages = MessageStore(
            self.clock, self.accounts, self.devices, self.sharing, self.consents
        )
        self.notifications = NotificationStore(self.clock, self.accounts, self.consents)
        self.firmware = FirmwareStore(self.clock, self.devices)
        self.rights = RightsDesk(
            self.clock, self.accounts, self.sharing, self.consents, self.messages
        )

    # --- time -------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    @property
    def clock_offset(self) -> float:
        return self.clock.offset

    @clock_offset.setter
    def clock_offset(self, value: float) -> None:
        self.clock.offset = value

    # --- across stores ----------------------------------------------------------------------
    def remove_device(self, device_name: str) -> None:
        self.devices.remove(device_name)
        self.sharing.forget_device(device_name)

    # --- persistence ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        accounts = self.accounts
        return {
            "version": 1,
            "rsa_private_pem": self.keypair.private_pem(),
            "oss_secret": self.oss_secret,
            "next_id": self.clock.next_id,
            "next_msg_id": self.messages.next_msg_id,
            "clock_offset": self.clock.offset,
            "accounts": [asdict(a) for a in accounts.values()],
            "devices": [asdict(d) for d in self.devices.values()],
            "shares": [asdict(s) for s in self.sharing.shares.values()],
            "messages": [asdict(m) for box in self.messages.boxes.values() for m in box],
            "tokens": [asdict(t) for t in accounts.tokens.values()],
            "sessions": [asdict(s) for s in accounts.sessions.values()],
            "active_sid": accounts.active_sid,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> World:
        world = cls(QucKeyPair.from_pem(data["rsa_private_pem"]))
        world.oss_secret = data["oss_secret"]
        world.clock.next_id = data["next_id"]
        world.clock.offset = data.get("clock_offset", 0.0)
        world.messages.next_msg_id = data["next_msg_id"]
        for a in data["accounts"]:
            world.accounts.put(Account(**a))
        for d in data["devices"]:
            world.devices.put(Device(**d))
        for s in data["shares"]:
            world.sharing.shares[s["id"]] = Share(**s)
        messages = []
        for saved in data["messages"]:
            # states saved before opaque ids kept numbers; the number is also their order
            m = {**saved, "id": str(saved["id"]), "seq": int(saved.get("seq") or saved["id"])}
            messages.append(Message(**m))
        for msg in sorted(messages, key=lambda m: m.seq):
            world.messages.add(msg)
        for t in data.get("tokens", []):
            world.accounts.tokens[t["q"]] = Tokens(**t)
        for s in data.get("sessions", []):
            world.accounts.sessions[s["sid"]] = Session(**s)
        world.accounts.active_sid = dict(data.get("active_sid", {}))
        return world

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json()))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> World:
        return cls.from_json(json.loads(path.read_text()))


__all__ = [
    "ACCOUNT_SCOPES",
    "AI_KINDS",
    "DEVICE_SCOPES",
    "EVENT_TITLES",
    "EVENT_TYPES",
    "REGIONS",
    "SERVICES",
    "Account",
    "Challenge",
    "Device",
    "Message",
    "Session",
    "Share",
    "Tokens",
    "World",
    "WorldError",
    "kind_of",
    "valid_hhmm",
]
