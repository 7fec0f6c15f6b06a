"""One place that turns aiohttp's failures into the package's errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from . import safejson
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
            f"{what}: rate limited",
            float(retry) if retry and retry.isascii() and retry.isdigit() else None,
        )
    if response.status >= 500:
        raise BotslabConnectionError(f"{what}: server error {response.status}")


MAX_ANSWER = 4 * 1024 * 1024  # bytes: the largest JSON answer taken (a device list of 50)


async def read_limited(
    response: aiohttp.ClientResponse, what: str, limit: int = MAX_ANSWER
) -> bytes:
    """The body, refused (ProtocolError) past `limit` bytes: by Content-Length before reading,
    and while reading when the length is not declared or not true."""
    if (response.content_length or 0) > limit:
        raise ProtocolError(f"{what}: answer too large")
    data = bytearray()
    async for chunk in response.content.iter_chunked(65536):
        data += chunk
        if len(data) > limit:
            raise ProtocolError(f"{what}: answer too large")
    return bytes(data)


def parse_json(body: bytes, what: str) -> Mapping[str, Any]:
    """A JSON object, or ProtocolError: not JSON, numbers of more digits than Python
    converts, nesting deeper than the parser goes. NaN and infinities stay floats here: the
    models turn them into nothing, one item at a time, so that one bad value does not cost
    a whole answer."""
    try:
        data = safejson.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise ProtocolError(f"{what}: answer is not JSON") from err
    if not isinstance(data, Mapping):
        raise ProtocolError(f"{what}: answer is not a JSON object")
    return data
