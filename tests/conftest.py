"""Shared test setup.

Home Assistant's test plugin blocks sockets for every test; these tests talk to the emulator
over real sockets on 127.0.0.1 (the plugin still refuses any other host).
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets (loopback only, as the plugin's allow-list keeps it) in every test."""
