"""Retry-After, honoured: when a host answers HTTP 429, nothing is sent to that host again
before the time it named. One `RateGate` per set of endpoints (every part of a client shares
it: the gateway calls, the push dispatcher, live view's setup steps and media downloads), so
that every caller waits out the same pause instead of trying again at its own rhythm.

The wait is the header's: seconds or an HTTP date (RFC 9110 10.2.3), between RETRY_AFTER_MIN
and RETRY_AFTER_MAX (a hostile or broken answer cannot silence the integration for longer),
and RETRY_AFTER_DEFAULT when the header is missing or does not parse.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime
import logging
import math
import time
from urllib.parse import urlsplit

from .exceptions import RateLimited

_LOGGER = logging.getLogger(__name__)

RETRY_AFTER_MIN = 1.0
RETRY_AFTER_MAX = 600.0  # ten minutes
RETRY_AFTER_DEFAULT = 5.0


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """The seconds a Retry-After header asks for (a delay or an HTTP date), or None."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text[:12]))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; parsedate leaves "-0000" naive
        return None
    return when.timestamp() - (time.time() if now is None else now)


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:
        return "?"


class RateGate:
    """The "not before" time of each host that asked for a pause."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._until: dict[str, float] = {}  # host:port -> clock time
        self.refused = 0  # requests not sent because of a pause
        self.holds = 0  # 429s met

    def remaining(self, *urls: str) -> float:
        """Seconds until the hosts of `urls` (every host, with none given) may be asked
        again; 0 when they may now."""
        now = self.clock()
        hosts = [_host(u) for u in urls] if urls else list(self._until)
        return max([0.0, *(self._until.get(h, now) - now for h in hosts)])

    def check(self, url: str, what: str) -> None:
        """RateLimited (with the seconds left) while the host of `url` asked for a pause."""
        host = _host(url)
        until = self._until.get(host)
        if until is None:
            return
        left = until - self.clock()
        if left <= 0:
            del self._until[host]
            return
        self.refused += 1
        raise RateLimited(f"{what}: the cloud asked for a pause", left, not_before=_wall(left))

    def hold(self, url: str, retry_after: str | None, what: str) -> RateLimited:
        """A 429 from the host of `url`: record its pause; the error to raise."""
        asked = retry_after_seconds(retry_after)
        seconds = RETRY_AFTER_DEFAULT if asked is None else asked
        seconds = min(RETRY_AFTER_MAX, max(RETRY_AFTER_MIN, seconds))
        host = _host(url)
        until = max(self._until.get(host, 0.0), self.clock() + seconds)
        self._until[host] = until
        self.holds += 1
        left = until - self.clock()
        _LOGGER.info(
            "The BOTSLAB cloud asked for a pause (HTTP 429): nothing is sent to that host for %d s",
            math.ceil(left),
        )
        return RateLimited(f"{what}: rate limited", left, not_before=_wall(left))

    @property
    def not_before(self) -> float | None:
        """The latest time (Unix seconds) a host asked to be left alone until, if any."""
        left = self.remaining()
        return _wall(left) if left > 0 else None


def _wall(left: float) -> float:
    return time.time() + left


__all__ = [
    "RETRY_AFTER_DEFAULT",
    "RETRY_AFTER_MAX",
    "RETRY_AFTER_MIN",
    "RateGate",
    "retry_after_seconds",
]
