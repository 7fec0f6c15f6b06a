"""The shape of a cloud answer: its keys and the types of its values, never a value
(issue 27). Diagnostics record the shape of each answer next to the shape the parser
expects (`answers.py`), and the emulator can answer in a recorded shape
(`python -m botslab_emulator --from-diagnostics FILE`), so that a difference met on the real
cloud can be reproduced here. docs/diagnostics.md describes the notation:

- a scalar is its type: `null`, `bool`, `int`, `float`, `str`; a string also says its form
  when it has one: `str:empty`, `str:digits` (an integer written out), `str:number` (a
  decimal written out), `str:url`, `str:time` (a date, with or without its time);
- `{"$json": shape}` is a string that holds a JSON object or list, and the shape of that;
- an object is its keys, each with its shape. A key of digits, or with four digits or more
  (an index, a serial used as a key) is written `#`, and keys of one object that are `#`
  share one shape; a key that is no plain name (`[A-Za-z_][A-Za-z0-9_.-]*`) is written `?`;
  `"$more": "N"` says that N more keys were left out;
- a list is `[]` when empty, else `[shape]`: the shapes of its first items merged;
- `a|b` lists the types met at one place (items of a list that differ); `object` and `list`
  stand for a container that was not described (past the depth or size bound). A `null`
  where other items have a value is left out.

Everything is bounded: depth, keys per object, items looked at per list, nodes per shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
import re
from typing import Any

from . import safejson
from .redact import redact_text

MAX_DEPTH = 8
MAX_KEYS = 40
MAX_ITEMS = 5
MAX_NODES = 400
MAX_JSON_TEXT = 64 * 1024
MAX_DIFFERENCES = 24

type Shape = str | dict[str, Shape] | list[Shape]

SCALARS = ("null", "bool", "int", "float", "str")
STR_FORMS = ("str:empty", "str:digits", "str:number", "str:url", "str:time")
CONTAINERS = ("object", "list")
TOKENS = frozenset((*SCALARS, *STR_FORMS, *CONTAINERS, "any", "?"))

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
_DIGITS = re.compile(r"-?[0-9]{1,19}")
_NUMBER = re.compile(
    r"-?[0-9]{1,19}\.[0-9]{1,12}([eE][-+]?[0-9]{1,3})?|-?[0-9]{1,19}[eE][-+]?[0-9]{1,3}"
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,15}://")
_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?")


def shape_key(key: object) -> str:
    """A key as a shape keeps it: `#` for an index or an id-like key, `?` for one that is no
    plain name (it could hold a value: an email, a phone number, a free text)."""
    return _shape_key(str(key)) if len(str(key)) <= 64 else "?"


@lru_cache(maxsize=1024)  # keys repeat from answer to answer; a bounded cache of names
def _shape_key(text: str) -> str:
    if _DIGITS.fullmatch(text) or sum(c.isdigit() for c in text) >= 4:
        return "#"
    return text if _NAME.fullmatch(text) else "?"


def _str_shape(text: str, depth: int, budget: list[int]) -> Shape:
    if not text:
        return "str:empty"
    head = text.lstrip()[:1]
    if head in ("{", "[") and len(text) <= MAX_JSON_TEXT and depth < MAX_DEPTH:
        try:
            loaded = safejson.loads(text)
        except (ValueError, RecursionError):
            loaded = None
        if isinstance(loaded, Mapping | list):
            return {"$json": _shape(loaded, depth + 1, budget)}
    if len(text) > 64:
        return "str:url" if _URL.match(text) else "str"
    stripped = text.strip()
    if _DIGITS.fullmatch(stripped):
        return "str:digits"
    if _NUMBER.fullmatch(stripped):
        return "str:number"
    if _URL.match(text):
        return "str:url"
    if _TIME.fullmatch(stripped[:19]) and len(stripped) <= 32:
        return "str:time"
    return "str"


def _shape(value: Any, depth: int, budget: list[int]) -> Shape:
    budget[0] -= 1
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return _str_shape(value, depth, budget)
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH or budget[0] <= 0:
            return "object"
        out: dict[str, Shape] = {}
        more = 0
        for looked, (raw_key, item) in enumerate(value.items()):
            if looked >= MAX_KEYS * 4 or budget[0] <= 0:
                more += len(value) - looked
                break
            key = shape_key(raw_key)
            if key in out:
                out[key] = merge(out[key], _shape(item, depth + 1, budget))
            elif len(out) >= MAX_KEYS:
                more += 1
            else:
                out[key] = _shape(item, depth + 1, budget)
        if more:
            out["$more"] = str(more)
        return dict(sorted(out.items()))
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH or budget[0] <= 0:
            return "list"
        if not value:
            return []
        merged: Shape | None = None
        for item in value[:MAX_ITEMS]:
            if budget[0] <= 0:
                break
            one = _shape(item, depth + 1, budget)
            merged = one if merged is None else merge(merged, one)
        return [merged if merged is not None else "any"]
    return "?"


def shape_of(value: Any) -> Shape:
    """The shape of a JSON value (see the module's docstring), within its bounds."""
    return _shape(value, 0, [MAX_NODES])


def tokens(shape: Shape) -> frozenset[str]:
    """The types a shape stands for, as tokens (`object`, `list` for containers)."""
    if isinstance(shape, list):
        return frozenset({"list"})
    if isinstance(shape, dict):
        return frozenset({"str"}) if _is_json(shape) else frozenset({"object"})
    return frozenset(shape.split("|"))


def _is_json(shape: Shape) -> bool:
    return isinstance(shape, dict) and set(shape) == {"$json"}


def merge(a: Shape, b: Shape) -> Shape:
    """One shape for two values met at one place (items of one list)."""
    if a == b:
        return a
    if a == "null":
        return b
    if b == "null":
        return a
    if isinstance(a, dict) and isinstance(b, dict) and _is_json(a) == _is_json(b):
        out = dict(a)
        for key, sub in b.items():
            if key == "$more":
                out[key] = str(max(int(str(out.get(key, "0"))), int(str(sub))))
            else:
                out[key] = merge(out[key], sub) if key in out else sub
        return dict(sorted(out.items()))
    if isinstance(a, list) and isinstance(b, list):
        if not a or not b:
            return a or b
        return [merge(a[0], b[0])]
    found = (tokens(a) | tokens(b)) - {"null"}
    strings = {t for t in found if t.startswith("str")}
    if len(strings) > 1:
        found = (found - strings) | {"str"}
    return "|".join(sorted(found))


def clean(shape: Any, depth: int = 0) -> Shape:
    """A shape checked to carry no value: every leaf a known type token, every key a shape
    key (as `shape_key` makes them, free text redacted). What is not, becomes `?`."""
    if isinstance(shape, str):
        parts = shape.split("|")
        return shape if all(p in TOKENS for p in parts) else "?"
    if depth > MAX_DEPTH + 2:
        return "?"
    if isinstance(shape, list):
        return [clean(shape[0], depth + 1)] if shape else []
    if isinstance(shape, dict):
        out: dict[str, Shape] = {}
        for key, sub in list(shape.items())[: MAX_KEYS + 2]:
            if key == "$more":
                out[key] = str(sub) if str(sub).isdigit() else "?"
            elif key == "$json":
                out[key] = clean(sub, depth + 1)
            else:
                name = redact_text(str(key))
                out[name if name in ("#", "?", "*") else shape_key(name)] = clean(sub, depth + 1)
        return out
    return "?"


# --- comparing with what the parser expects --------------------------------------------------
#
# An expected shape uses the same notation, and on object keys: `name?` for a key that may
# be missing, `a|b` for a key that may come under either name (one of them must be there),
# `*` for any other key (with the shape each must have). `any` takes every value, `number`
# an int or a float; `null` is taken everywhere (the parser reads it as missing). The
# expected shape `{"$json": E}` takes an object of shape E, or a string holding one.


@dataclass(slots=True)
class Differences:
    """Where an answer's shape differs from the expected one: keys the parser does not know,
    keys it reads that were not there, and other types."""

    unknown: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)

    @property
    def as_expected(self) -> bool:
        """Nothing the parser reads is missing or of another type (unknown keys are
        reported but harmless)."""
        return not self.missing and not self.types

    @property
    def none(self) -> bool:
        return self.as_expected and not self.unknown

    def add(self, kind: list[str], text: str) -> None:
        if len(kind) < MAX_DIFFERENCES:
            kind.append(text)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "unknown": list(self.unknown),
            "missing": list(self.missing),
            "types": list(self.types),
        }


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def describe(shape: Shape) -> str:
    """A shape in a few words, for a difference."""
    if isinstance(shape, list):
        return "list"
    if isinstance(shape, dict):
        return "JSON text" if _is_json(shape) else "object"
    return shape


def _allowed(expected: str) -> frozenset[str]:
    out: set[str] = set()
    for part in expected.split("|"):
        out.update(("int", "float") if part == "number" else (part,))
    return frozenset(out)


def _scalar_fits(allowed: frozenset[str], actual: Shape) -> bool:
    if isinstance(actual, list):
        return "list" in allowed
    if isinstance(actual, dict):
        return "str" in allowed if _is_json(actual) else "object" in allowed
    found = {t.split(":")[0] if t.startswith("str") else t for t in actual.split("|")}
    found -= {"null"}
    return found <= allowed or ("?" in found and len(found) == 1)


def compare(expected: Shape, actual: Shape) -> Differences:
    """How `actual` (a recorded shape) differs from `expected` (the parser's)."""
    out = Differences()
    _compare(expected, actual, "", out)
    return out


def _compare(expected: Shape, actual: Shape, path: str, out: Differences) -> None:
    if expected == "any" or actual == "null":
        return
    where = path or "(answer)"
    if isinstance(expected, dict) and _is_json(expected):
        inner = actual["$json"] if isinstance(actual, dict) and _is_json(actual) else actual
        _compare(expected["$json"], inner, path, out)
        return
    if isinstance(actual, dict) and _is_json(actual) and not isinstance(expected, str):
        out.add(out.types, f"{where}: {describe(expected)} expected, JSON text found")
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            out.add(out.types, f"{where}: object expected, {describe(actual)} found")
            return
        _compare_object(expected, actual, path, out)
        return
    if isinstance(expected, list):
        if not isinstance(actual, list):
            out.add(out.types, f"{where}: list expected, {describe(actual)} found")
        elif expected and actual:
            _compare(expected[0], actual[0], f"{path}[]", out)
        return
    if not _scalar_fits(_allowed(expected), actual):
        out.add(out.types, f"{where}: {expected} expected, {describe(actual)} found")


def _compare_object(
    expected: dict[str, Shape], actual: dict[str, Shape], path: str, out: Differences
) -> None:
    matched: set[str] = set()
    for spec, sub in expected.items():
        if spec == "*":
            continue
        optional = spec.endswith("?")
        names = spec.rstrip("?").split("|")
        present = [n for n in names if n in actual]
        if not present and not optional:
            out.add(out.missing, _join(path, spec.rstrip("?")))
        for name in present:
            matched.add(name)
            _compare(sub, actual[name], _join(path, name), out)
    wildcard = expected.get("*")
    for key, sub in actual.items():
        if key.startswith("$") or key in matched:
            continue
        if wildcard is not None:
            _compare(wildcard, sub, _join(path, key), out)
        else:
            out.add(out.unknown, f"{_join(path, key)} ({describe(sub)})")
