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
# the names of secrets as they appear in free text: a query string, a log line, JSON or a
# Python repr inside a string, a header, a URL-encoded value (Q and T are URL-encoded
# `u=…&n=…&qid=…` and `s=…&t=…`)
_TEXT_KEYS = (
    r"token|access_token|refresh_token|sid|home_sid|sign|signature|authsig|q|t|u|s|qid|m2|mid|"
    r"androidid|ukey|auth_key|usign|_usign|_sign|secretkey|secret_key|secret|password|pwd|"
    r"push_alias|pushalias|alias|sa|authorization|cookie|mobile|phone|email|username|nickname"
)
# where a key starts: not inside a word, or right after an encoded character (`%3Fsid%3D…`)
_KEY_START = r"(?:(?<![A-Za-z_])|(?<=%[0-9A-Fa-f]{2}))"
# key=value, key%3Dvalue (URL-encoded once or twice: an encoded value runs on past %26)
_SECRET_PARAMS = re.compile(
    rf"{_KEY_START}({_TEXT_KEYS})(=|%3D|%253D)([^\s&\"'<>;,]+)",
    re.IGNORECASE,
)
# Q and T themselves (`u=360H…&n=…&qid=…`, `s=…&t=…`), or a Q= / T= holding them: the value
# runs to the end of the token, through its & and %26, so that no field of it stays
_TOKEN_PARAMS = re.compile(rf"{_KEY_START}(q|t|u|s)(=|%3D|%253D)([^\s\"'<>;,]+)", re.IGNORECASE)
# "key": "value" / 'key': 'value' / key: "value" (JSON, a Python repr, YAML)
_QUOTED_PAIR = re.compile(
    rf"""(["']?)\b({_TEXT_KEYS})\1(\s*[:=]\s*)(["'])(?:\\.|(?!\4)[^\\])*\4""",
    re.IGNORECASE,
)
# key: value, unquoted (a header, YAML, a push property line)
_BARE_PAIR = re.compile(
    rf"""(["']?)\b({_TEXT_KEYS})\1(\s*:\s*)(?!["'])([^\s,;}}\]\)"']+)""",
    re.IGNORECASE,
)
# an Authorization header's credentials (`jws <base64>`, Bearer, Basic, Digest)
_AUTH_SCHEME = re.compile(r"\b(jws|bearer|basic|digest)(\s+)[\w+/=.~-]{6,}", re.IGNORECASE)
# Base64 of a JSON object (`{"` → `eyJ`): the jws token, a JWT, a live envelope
_B64_JSON = re.compile(r"\beyJ[\w+/=-]{10,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# phone numbers as people write them: +49 176 12345678, 0176/1234-5678, (0176) 123 456 78,
# 4915123456789: 7 to 15 digits with spaces, slashes, dots, dashes or brackets between
# (a calendar date, 2026-11-30, is not one)
_PHONE = re.compile(
    r"(?<![\w.])(?![0-9]{4}-[0-9]{2}-[0-9]{2}(?![0-9]))\+?\(?[0-9](?:[\s/.()-]{0,2}[0-9]){6,14}(?!\w)"
)


def _param(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}{REDACTED}"


def redact_text(text: str) -> str:
    """Hide URLs (signed ones carry credentials, with or without their scheme), Authorization
    credentials, Base64 JSON tokens, secrets written `key=value`, `key%3Dvalue`,
    `"key": "value"`, `'key': 'value'` or `key: value`, emails and phone numbers in free
    text."""
    text = _URL.sub(REDACTED, text)
    text = _BARE_SIGNED.sub(REDACTED, text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _B64_JSON.sub(REDACTED, text)
    text = _TOKEN_PARAMS.sub(_param, text)
    text = _SECRET_PARAMS.sub(_param, text)
    text = _QUOTED_PAIR.sub(
        lambda m: (
            f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{m.group(4)}{REDACTED}{m.group(4)}"
        ),
        text,
    )
    text = _BARE_PAIR.sub(
        lambda m: f"{m.group(1)}{m.group(2)}{m.group(1)}{m.group(3)}{REDACTED}", text
    )
    text = _EMAIL.sub(REDACTED, text)
    return _PHONE.sub(REDACTED, text)


def _norm(key: object) -> str:
    """A key as compared: lower case, without separators (`pushAlias`, `push-alias` and
    `push_alias` are one)."""
    return re.sub(r"[^a-z0-9]", "", str(key).lower())


_SECRET_NORMS = frozenset(_norm(k) for k in SECRET_KEYS)


def _walk(data: Any, keys: frozenset[str]) -> Any:
    """A copy of `data`: the value of a key whose normalised name is in `keys` replaced, and
    the free-text redaction applied to every string, keys included."""
    if isinstance(data, Mapping):
        return {
            (redact_text(k) if isinstance(k, str) else k): (
                REDACTED if _norm(k) in keys and v not in (None, "") else _walk(v, keys)
            )
            for k, v in data.items()
        }
    if isinstance(data, (list, tuple, set, frozenset)):
        return [_walk(v, keys) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data


def redact_texts(data: Any) -> Any:
    """A copy of `data` with the free-text redaction applied to every string, keys included,
    and no value replaced for its key's name: for what holds key names as words (shapes, the
    first-contact check's report), where `redact` would take `url` or `title` for values."""
    return _walk(data, frozenset())


def redact(data: Any, extra_keys: frozenset[str] = frozenset()) -> Any:
    """A copy of `data` with every secret or personal value replaced (keys compared without
    case or separators), and free text redacted in every string, keys included."""
    return _walk(data, _SECRET_NORMS | {_norm(k) for k in extra_keys})
