"""Reading what the cloud sends: numbers that may come as text (or as nonsense), lists and
objects that may be missing, and masking of what is personal."""

from __future__ import annotations

from collections.abc import Mapping
import math
import re
from typing import Any

from ..exceptions import ProtocolError

_INT_TEXT = re.compile(r"-?[0-9]{1,19}")


_FLOAT_TEXT = re.compile(r"-?[0-9]{1,19}(\.[0-9]{0,12})?([eE][-+]?[0-9]{1,3})?")


INT_LIMIT = 2**63


def number(value: Any, default: int = 0) -> int:
    """An integer from what a hostile or sloppy cloud may send: ints, finite floats, ASCII
    digit strings. NaN, infinities, values past 2**63, Unicode digits ("²", "٣"), huge texts
    and other types give `default`; nothing here raises."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if -INT_LIMIT < value < INT_LIMIT else default
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and abs(value) < INT_LIMIT else default
    if isinstance(value, str) and len(value) <= 64:
        text = value.strip()
        if _INT_TEXT.fullmatch(text):
            return int(text)
        if _FLOAT_TEXT.fullmatch(text):
            return number(float(text), default)
    return default


def plain(value: Any) -> Any:
    """A JSON value as it may go on (a response, diagnostics): NaN and infinities become
    None, everything else is kept."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def code_of(value: Any) -> int | None:
    """A result code (`code`, `errno`, `ErrorNO`): an int, an integral float
    (docs/protocol/accepted.md#messages: a float code is a code) or an ASCII digit string, else
    None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and not value.is_integer():
        return None  # 0.5 is no code; 0.0 is 0 (the working client compares `code != 0`)
    parsed = number(value, default=-(2**62))
    return None if parsed == -(2**62) else parsed


def as_list(value: Any) -> list[Any]:
    """A JSON value that should be a list: itself when it is one, else empty (a `true`, a
    number or an object where a list belongs carries nothing to read)."""
    return value if isinstance(value, list) else []


def str_field(value: Any) -> str:
    return "" if value is None else str(value)


def obj_field(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProtocolError(f"{what} is not an object")
    return value


def looks_personal(value: str) -> bool:
    """Whether a free text (a nickname) is a phone number or an email: accounts registered
    by phone have the number as their nickname."""
    digits = sum(c.isdigit() for c in value)
    return "@" in value or digits >= 6


def mask_personal(value: str) -> str:
    """A nickname as it may be shown: masked when it is a phone number or an email."""
    return mask(value) if looks_personal(value) else value


def account_title(nickname: str, username: str) -> str:
    """How an account is named where everyone sees it (entry title, media browser root, Home
    Assistant's own log lines): its nickname, unless that is a phone number or an email;
    otherwise the sign-in name, masked."""
    shown = nickname.strip()
    if shown and not looks_personal(shown):
        return shown
    return mask(username.strip()) or "BOTSLAB"


def mask(value: str) -> str:
    """A phone number or email with most of it hidden: '+49******789', 'a***@example.com'."""
    if not value:
        return ""
    if "@" in value:
        name, _, domain = value.partition("@")
        return f"{name[:1]}***@{domain}"
    return value[:3] + "*" * max(0, len(value) - 6) + value[-3:] if len(value) > 6 else "***"
