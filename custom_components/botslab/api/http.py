"""One place that turns aiohttp's failures into the package's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
import json
from typing import Any

import aiohttp

from .exceptions import BotslabConnectionError, BotslabTimeoutError, ProtocolError, RateLimited

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=20, connect=10)


@asynccontextmanager
async def translated_errors(what: str) -> AsyncIterator[None]:
    """Network failures become BotslabConnectionError / BotslabTimeoutError."""
    try:
        yield
    except TimeoutError as err:
        raise BotslabTimeoutError(f"{what}: timed out") from err
    except aiohttp.ClientError as err:
        raise BotslabConnectionError(f"{what}: {type(err).__name__}") from err


def check_status(response: aiohttp.ClientResponse, what: str) -> None:
    if response.status == 429:
        retry = response.headers.get("Retry-After")
        raise RateLimited(
            f"{what}: rate limited", float(retry) if retry and retry.isdigit() else None
        )
    if response.status >= 500:
        raise BotslabConnectionError(f"{what}: server error {response.status}")


def parse_json(body: bytes, what: str) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        raise ProtocolError(f"{what}: answer is not JSON") from err
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{what}: answer is not a JSON object")
    return data
