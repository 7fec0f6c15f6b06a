"""Who we are to the cloud: the install's identity, the login's credentials, the app session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import secrets
from typing import Any


@dataclass(frozen=True, slots=True)
class Identity:
    """The install identity: generated once, persisted, reused (a new one triggers captchas)."""

    m2: str = field(repr=False)
    mid: str = field(repr=False)
    androidid: str = field(repr=False)

    @classmethod
    def generate(cls) -> Identity:
        return cls(secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(8))

    def as_dict(self) -> dict[str, str]:
        return {"m2": self.m2, "mid": self.mid, "androidid": self.androidid}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Identity:
        return cls(str(data["m2"]), str(data["mid"]), str(data["androidid"]))


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a password login gives: Q/T (long-lived), the account id and its region."""

    q: str = field(repr=False)
    t: str = field(repr=False)
    qid: str
    region: str
    username: str = field(default="", repr=False)
    nickname: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class CloudSession:
    """What the app login gives: the sid, the push alias and the user id."""

    sid: str = field(repr=False)
    push_alias: str = field(repr=False)
    user_id: str
