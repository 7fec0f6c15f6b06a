"""Fixtures for field reports: the client tests' emulator and client, and `replay`, which
loads a report of this folder into the emulator (it then answers in the recorded shapes)."""

from __future__ import annotations

from collections.abc import Callable
import json
from pathlib import Path
from typing import Any

import pytest

from botslab_emulator import Emulator

from ..api.conftest import client, emu, endpoints, http, tokens  # noqa: F401 - the fixtures

REPORTS = Path(__file__).parent


def report(name: str) -> dict[str, Any]:
    """A diagnostics file of this folder, as Home Assistant's download holds it."""
    loaded: dict[str, Any] = json.loads((REPORTS / name).read_text(encoding="utf-8"))
    return loaded


@pytest.fixture
def replay(emu: Emulator) -> Callable[[str], list[str]]:  # noqa: F811 - the fixture above
    """`replay("file.json")`: the emulator answers in that report's shapes from now on; the
    paths it covers."""

    def load(name: str) -> list[str]:
        return emu.load_report(report(name))

    return load
