"""One place for every HTTP request to the cloud: aiohttp's failures become the package's
errors, answers are bounded by what they inflate to while they are read, and a host's
Retry-After is honoured (`ratelimit.RateGate`).

Compressed answers: aiohttp before 3.12 inflates a whole network read before anybody can
count the bytes (half a megabyte of gzip became 280 MB), so requests go out with
`auto_decompress=False` and `Accept-Encoding: gzip, deflate`, and `read_limited` inflates
itself, a bounded piece at a time. gzip and deflate are the codings a bounded `zlib` inflater
can stop at the limit; an answer in any other coding (br, zstd, compress, a chain of codings:
a server that ignores the header) is refused, never inflated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
import zlib

import aiohttp

from . import safejson
from .exceptions import BotslabConnectionError, BotslabTimeoutError, ProtocolError, RateLimited
from .ratelimit import RateGate, retry_after_seconds

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
    if response.status == 429:  # `request` answers these itself, through its gate
        raise RateLimited(
            f"{what}: rate limited", retry_after_seconds(response.headers.get("Retry-After"))
        )
    if response.status >= 500:
        raise BotslabConnectionError(f"{what}: server error {response.status}")


MAX_ANSWER = 4 * 1024 * 1024  # bytes: the largest JSON answer taken (a device list of 50)
ACCEPT_ENCODING = "gzip, deflate"  # the codings Inflater bounds
READ_CHUNK = 65536


@asynccontextmanager
async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    what: str,
    *,
    gate: RateGate,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> AsyncIterator[aiohttp.ClientResponse]:
    """A request to the cloud, its answer read with `read_limited`: refused at once while
    the host asked for a pause, no automatic decompression, a 429 recorded in `gate` and
    raised as RateLimited, network failures translated (also while the caller reads)."""
    gate.check(url, what)
    sent = {**(headers or {}), "Accept-Encoding": ACCEPT_ENCODING}
    async with (
        translated_errors(what),
        session.request(method, url, headers=sent, auto_decompress=False, **kwargs) as resp,
    ):
        if resp.status == 429:
            raise gate.hold(url, resp.headers.get("Retry-After"), what)
        yield resp


class Inflater:
    """A body in its Content-Encoding (none, gzip or deflate), inflated a bounded piece at a
    time into the caller's buffer: ProtocolError as soon as more than `limit` bytes come out,
    or for a coding it cannot bound."""

    PIECE = 256 * 1024  # the most one inflating step writes

    def __init__(self, coding: str, limit: int, what: str) -> None:
        coding = coding.strip().lower()
        self._limit, self._what = limit, what
        self._out = 0
        self._head = b""  # the first bytes of a deflate body, until they say which form
        self._deflate = coding == "deflate"
        self._zlib: zlib._Decompress | None = None
        if coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding not in ("", "identity", "deflate"):
            raise ProtocolError(f"{what}: answer in a coding that is not accepted")

    def _add(self, piece: bytes, into: bytearray) -> None:
        self._out += len(piece)
        if self._out > self._limit:
            raise ProtocolError(f"{self._what}: answer too large")
        into += piece

    def _room(self) -> int:
        return min(self.PIECE, self._limit - self._out + 1)

    def feed(self, data: bytes, into: bytearray) -> None:
        """Append the plain bytes of the next piece of the body to `into`."""
        if self._deflate and self._zlib is None:
            # "deflate" is zlib-wrapped by the RFC, raw by some servers: the header says
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            wrapped = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
        if self._zlib is None:
            self._add(data, into)
            return
        try:
            while data and not self._zlib.eof:
                self._add(self._zlib.decompress(data, self._room()), into)
                data = self._zlib.unconsumed_tail
        except zlib.error as err:
            raise ProtocolError(f"{self._what}: answer does not inflate") from err

    def finish(self, into: bytearray) -> None:
        """Append what is left once the body has ended."""
        if self._head:  # a deflate body of one byte
            head, self._head = self._head, b""
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            self.feed(head, into)
        if self._zlib is None:
            return
        try:
            while not self._zlib.eof and (piece := self._zlib.flush(self._room())):
                self._add(piece, into)
        except zlib.error as err:
            raise ProtocolError(f"{self._what}: answer does not inflate") from err


async def read_limited(
    response: aiohttp.ClientResponse, what: str, limit: int = MAX_ANSWER
) -> bytes:
    """The body, refused (ProtocolError) past `limit` bytes: by Content-Length before reading,
    and while reading, counted after inflating, when the length is not declared or not true
    or the body is compressed. For answers of `request` (no automatic decompression)."""
    if (response.content_length or 0) > limit:
        raise ProtocolError(f"{what}: answer too large")
    inflater = Inflater(response.headers.get("Content-Encoding", ""), limit, what)
    data = bytearray()
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        inflater.feed(chunk, data)
    inflater.finish(data)
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
