"""Redaction of secrets and personal data, for diagnostics and logs."""

from __future__ import annotations

from collections.abc import Mapping
import re
from typing import Any

REDACTED = "**REDACTED**"
SECRET_KEYS = frozenset(
    {
        "q",
        "t",
        "sid",
        "home_sid",
        "push_alias",
        "alias",
        "sa",
        "m2",
        "mid",
        "androidid",
        "password",
        "secretkey",
        "sign",
        "signature",
        "authorization",
        "mobile",
        "email",
        "loginemail",
        "username",
        "phone",
        "url",
        "image_url",
        "video_url",
        "ip",
        "nickname",
        "from_nickname",
        "head_pic",
        "token",
        "access_token",
        "sc",
        "uc",
        "q_t",
        "qt",
        "u",
    }
)
_URL = re.compile(r"(?:https?|aliyun)://[^\s\"'<>]+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"\+?\b\d{9,15}\b")


def redact_text(text: str) -> str:
    """Hide URLs (signed ones carry credentials), emails and phone numbers in free text."""
    text = _URL.sub(REDACTED, text)
    text = _EMAIL.sub(REDACTED, text)
    return _PHONE.sub(REDACTED, text)


def redact(data: Any, extra_keys: frozenset[str] = frozenset()) -> Any:
    """A copy of `data` with every secret or personal value replaced (keys case-insensitive)."""
    keys = SECRET_KEYS | {k.lower() for k in extra_keys}
    if isinstance(data, Mapping):
        return {
            k: (
                REDACTED
                if str(k).lower() in keys and v not in (None, "")
                else redact(v, extra_keys)
            )
            for k, v in data.items()
        }
    if isinstance(data, (list, tuple)):
        return [redact(v, extra_keys) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data
