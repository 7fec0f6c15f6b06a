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
# a signed object link without its scheme: host/path?…Signature=… or ?…Expires=…
_BARE_SIGNED = re.compile(
    r"[\w.-]+\.[a-z]{2,}/[^\s\"'<>]*[?&](?:Signature|OSSAccessKeyId|Expires|sign)=[^\s\"'<>]*",
    re.IGNORECASE,
)
# key=value secrets in free text (a query string, a log line)
_SECRET_PARAMS = re.compile(
    r"\b(token|access_token|sid|home_sid|sign|signature|authsig|q|t|m2|ukey|secretkey|"
    r"push_alias|alias)=([^\s&\"'<>;,]+)",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# phone numbers as people write them: +49 176 12345678, 0176/1234-5678, (0176) 123 456 78,
# 4915123456789: 7 to 15 digits with spaces, slashes, dots, dashes or brackets between
# (a calendar date, 2026-11-30, is not one)
_PHONE = re.compile(
    r"(?<![\w.])(?![0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9]))\+?\(?[0-9](?:[\s/.()-]{0,2}[0-9]){6,14}(?!\w)"
)


def redact_text(text: str) -> str:
    """Hide URLs (signed ones carry credentials, with or without their scheme), secret
    `key=value` pairs, emails and phone numbers in free text."""
    text = _URL.sub(REDACTED, text)
    text = _BARE_SIGNED.sub(REDACTED, text)
    text = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
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
