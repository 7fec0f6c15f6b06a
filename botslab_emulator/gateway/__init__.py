"""The sapp-api gateway (docs/protocol/cloud-api.md): `base` checks every request and
runs the endpoint; one module per area declares its endpoints with `@endpoint`. Importing
this package imports them all, so that `add_gateway_routes` sees every route."""

from __future__ import annotations

from . import account, devices, messages, notifications, sharing
from .base import ROUTES, add_gateway_routes

__all__ = [
    "ROUTES",
    "account",
    "add_gateway_routes",
    "devices",
    "messages",
    "notifications",
    "sharing",
]
