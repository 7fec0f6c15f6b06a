"""The short soak (`scripts/bench soak --short`): Home Assistant and the emulator as their own
processes, every fault kind once at a random moment, a reload, a graceful restart and a
SIGKILL in the middle of a burst; every event the emulator made is fired once, and a kill
fires again at most the batch it interrupted. The seed is in the failure message."""

from __future__ import annotations

from pathlib import Path
import random

import pytest

from benchmarks.soak import FAULT_KINDS, Soak, SoakPlan


@pytest.mark.slow(seconds=60)
async def test_the_short_soak_loses_and_doubles_nothing(tmp_path: Path) -> None:
    seed = random.SystemRandom().randrange(1, 10**6)
    soak = Soak(SoakPlan.short(seed), tmp_path, log=lambda _msg: None)
    result = await soak.run()
    replay = f"replay: scripts/bench soak --short --seed {seed}"
    assert result.made >= 200, replay
    assert result.fault_kinds == set(FAULT_KINDS), replay
    assert result.restarts == 2 and result.reloads == 1, replay
    assert (result.lost, result.duplicated, result.kill_lost) == (0, 0, 0), (
        result.line(),
        replay,
    )
    assert not result.problems, (result.problems, replay)
    assert result.bounds.get("loaded"), replay
    # push, or polling for a snooze that is not over yet
    assert result.bounds.get("connection") == "push" or (
        result.bounds.get("reason") == "snoozed"
    ), (result.bounds, replay)
