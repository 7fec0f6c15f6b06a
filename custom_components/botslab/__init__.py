"""The BOTSLAB integration for Home Assistant (cameras and video doorbells).

The cloud client lives in `api/` (no Home Assistant imports); the integration's setup, config
flow and platforms arrive with the issues that build them.
"""

from __future__ import annotations

from .const import DOMAIN

__all__ = ["DOMAIN"]
