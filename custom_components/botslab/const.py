"""Constants of the BOTSLAB integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "botslab"
