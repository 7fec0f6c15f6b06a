"""A live session's timeline, for diagnostics (issue 27): each stage (keys, cloud control,
relay sign, scheduler, wake, tunnel, the `req_relay` replies and their flags, the relay
logins over TCP and QTP, first media, first keyframe, first frame out) with its time in
milliseconds since the session opened, how long it took, and its outcome; and the reason the
session ended. Outcomes are fixed words or codes, never a value of an answer. Bounded: at
most MAX_STAGES stages and MAX_FLAGS reply flags per session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
import time
from typing import Any

MAX_STAGES = 32
MAX_FLAGS = 12


@dataclass(slots=True)
class Stage:
    name: str
    at_ms: float  # since the session opened, when the stage ended
    took_ms: float | None
    outcome: str


def outcome_of(err: BaseException) -> str:
    """A failure as a stage's outcome: a live error's reason, an API code, or the error's
    kind (never its message)."""
    reason = getattr(err, "reason", None)
    if isinstance(reason, str):
        return reason
    code = getattr(err, "code", None)
    if isinstance(code, int):
        return f"code {code}"
    return type(err).__name__


class LiveTimeline:
    def __init__(self) -> None:
        self.opened = time.monotonic()
        self.opened_at = time.time()
        self.stages: list[Stage] = []
        self.dropped = 0  # stages past MAX_STAGES
        self.flags: list[int] = []  # req_relay_res flags, in order (the first MAX_FLAGS)
        self.replies = 0
        self.ended: str | None = None  # the end's reason
        self.ended_ms: float | None = None
        self._once: set[str] = set()
        self.stats: Any = None  # the session's LiveStats: the first media, keyframe, frame out

    def _ms(self, at: float | None = None) -> float:
        return round(((time.monotonic() if at is None else at) - self.opened) * 1000, 1)

    def mark(self, name: str, outcome: str = "ok", *, since: float | None = None) -> None:
        """A stage that ended now (`since`: when it began, monotonic)."""
        if len(self.stages) >= MAX_STAGES:
            self.dropped += 1
            return
        took = None if since is None else round((time.monotonic() - since) * 1000, 1)
        self.stages.append(Stage(name, self._ms(), took, outcome))

    def once(self, name: str, outcome: str = "ok") -> None:
        """A stage that happens once a session (the first media, the first keyframe)."""
        if name not in self._once:
            self._once.add(name)
            self.mark(name, outcome)

    @asynccontextmanager
    async def stage(self, name: str) -> AsyncIterator[dict[str, str]]:
        """Time a step; its outcome is `ok`, what the step sets in the yielded dict's
        `outcome`, or its failure."""
        began = time.monotonic()
        result = {"outcome": "ok"}
        try:
            yield result
        except BaseException as err:
            self.mark(name, outcome_of(err), since=began)
            raise
        self.mark(name, result["outcome"], since=began)

    def reply(self, flag: int) -> None:
        """A `req_relay_res` with its flag (1 video, 0 audio only, -1 unreadable)."""
        self.replies += 1
        if len(self.flags) < MAX_FLAGS:
            self.flags.append(flag)
        if self.replies == 1:
            self.mark("req_relay", f"first reply, flag {flag}")
        if flag == 1:
            self.once("req_relay_video", f"flag 1 after {self.replies} replies")

    def finish(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
            self.ended_ms = self._ms()

    def as_dict(self) -> dict[str, Any]:
        stages = list(self.stages)
        stats = self.stats
        for name, attr in (
            ("first_media", "first_media_ms"),
            ("first_keyframe", "first_keyframe_ms"),
            ("first_frame_out", "first_frame_ms"),
        ):
            at = getattr(stats, attr, 0.0) if stats is not None else 0.0
            if at:
                stages.append(Stage(name, round(at, 1), None, "ok"))
        stages.sort(key=lambda s: s.at_ms)
        return {
            "opened_at": self.opened_at,
            "stages": [
                {"stage": s.name, "at_ms": s.at_ms, "took_ms": s.took_ms, "outcome": s.outcome}
                for s in stages
            ],
            "stages_left_out": self.dropped,
            "req_relay_flags": list(self.flags),
            "req_relay_replies": self.replies,
            "ended": self.ended,
            "ended_at_ms": self.ended_ms,
        }
