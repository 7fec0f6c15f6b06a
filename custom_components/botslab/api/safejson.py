"""JSON from the cloud, with a bound on nesting.

Python 3.13's decoder gives up on very deep nesting with a RecursionError, Python 3.14's takes
it, and every recursive walk after it (redaction, `plain`, diagnostics) would then fail. No
BOTSLAB answer nests deeper than a handful of levels, so deeper documents are refused here, as
a ValueError like any other undecodable answer."""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


def loads(data: str | bytes | bytearray) -> Any:
    """Decode a JSON document; ValueError when it does not decode or nests past MAX_DEPTH."""
    try:
        value = json.loads(data)
    except RecursionError as err:
        raise ValueError("JSON nested too deeply") from err
    # nesting is at most the number of openers, which C counts faster than the walk below
    if isinstance(data, str):
        openers = data.count("{") + data.count("[")
    else:
        openers = data.count(b"{") + data.count(b"[")
    if openers > MAX_DEPTH:
        check_depth(value)
    return value


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """ValueError when lists and objects inside `value` nest deeper than `limit`."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise ValueError("JSON nested too deeply")
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
