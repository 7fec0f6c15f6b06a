"""Answering in the shapes a field report recorded (issue 27).

The integration's diagnostics record, for each endpoint it called, the *shape* of the last
good answer: keys and value types, never values (docs/diagnostics.md gives the notation; the
emulator reads it on its own, without importing the client). Loaded here (`python -m
botslab_emulator --from-diagnostics FILE`, `POST /_emulator/replay`, or
`Emulator.load_report(doc)` in a test), the gateway answers each recorded path in that
shape: its own answer is reshaped, so that the world stays coherent (a device listed is a
device that answers) while the keys and types are the recorded ones:

- a key the recording has and the emulator's answer has too: its value, reshaped;
- a key the recording has and the answer lacks: the value of a key the answer has and the
  recording lacks, when it is of the same kind (an object for an object, a list for a list,
  a string for a string: a renamed key keeps its content), else a made-up value of the
  recorded type;
- a key the answer has and the recording lacks: left out;
- another type: the value converted (`1700000000` to `"1700000000"`, a time in seconds to
  `"2023-11-14 22:13:20"` for `str:time`, …), or a made-up value of that type.

A recorded path the emulator does not serve at all is answered with made-up values in the
recorded shape (its result code 0: success). The push dispatcher's recorded shape reshapes
its answer too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
import json
from pathlib import Path
import re
from typing import Any

DISPATCHER = "push dispatcher"
CODES = ("code", "errno", "errcode")  # a made-up answer says success
MAX_SHAPES = 64
_DIGITS = re.compile(r"-?[0-9]{1,19}")


def shapes_from_report(document: Any) -> dict[str, Any]:
    """The recorded shape of each endpoint in a diagnostics file (Home Assistant's download,
    which wraps the integration's part in `data`, or that part alone): `{path: shape}` for the
    gateway's paths and the push dispatcher. TypeError or ValueError when it holds none."""
    if not isinstance(document, Mapping):
        raise TypeError("a diagnostics file is a JSON object")
    data = document.get("data") if isinstance(document.get("data"), Mapping) else document
    answers = data.get("cloud_answers") if isinstance(data, Mapping) else None
    endpoints = answers.get("endpoints") if isinstance(answers, Mapping) else None
    if not isinstance(endpoints, Mapping):
        raise TypeError("no cloud_answers.endpoints in this file: not a BOTSLAB diagnostics file")
    shapes: dict[str, Any] = {}
    for name, record in endpoints.items():
        shape = record.get("shape") if isinstance(record, Mapping) else None
        if shape is None or not (str(name).startswith("/") or name == DISPATCHER):
            continue
        if len(shapes) < MAX_SHAPES:
            shapes[str(name)] = shape
    if not shapes:
        raise ValueError("the file records no answer shape")
    return shapes


def load_report(path: Path) -> dict[str, Any]:
    return shapes_from_report(json.loads(path.read_text(encoding="utf-8")))


# --- making up and converting values ------------------------------------------------------------


def _types(shape: str) -> list[str]:
    return [t for t in shape.split("|") if t != "null"] or ["null"]


def _is_json(shape: Any) -> bool:
    return isinstance(shape, dict) and set(shape) == {"$json"}


def make(shape: Any) -> Any:
    """A made-up value of a shape."""
    if isinstance(shape, list):
        return [make(shape[0])] if shape else []
    if isinstance(shape, dict):
        if _is_json(shape):
            return json.dumps(make(shape["$json"]))
        return {
            ("1" if key == "#" else key): _success(sub) if key in CODES else make(sub)
            for key, sub in shape.items()
            if not key.startswith("$") and key != "?"
        }
    kind = _types(str(shape))[0]
    return {
        "null": None,
        "bool": True,
        "int": 1,
        "float": 1.5,
        "str": "x",
        "str:empty": "",
        "str:digits": "1",
        "str:number": "1.5",
        "str:url": "https://example.invalid/x",
        "str:time": "2026-01-01 00:00:00",
        "object": {},
        "list": [],
    }.get(kind, "x")


def _success(shape: Any) -> Any:
    """A result code that says success: 0, in the recorded type."""
    return convert(0, _types(shape)[0]) if isinstance(shape, str) else make(shape)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, Mapping):
        return "object"
    return "list" if isinstance(value, list) else "?"


def _str_form(text: str) -> str:
    if not text:
        return "str:empty"
    if _DIGITS.fullmatch(text.strip()):
        return "str:digits"
    return "str"


def _fits(value: Any, kind_name: str) -> bool:
    kind = _kind(value)
    if kind_name == "str":
        return kind == "str"
    if kind_name.startswith("str:"):
        if kind != "str":
            return False
        if kind_name in ("str:digits", "str:empty"):
            return _str_form(value) == kind_name
        return True  # url, time, number: the emulator's own strings of that place
    return kind == kind_name


def convert(value: Any, kind_name: str) -> Any:
    """A value in another type, as close to it as the type allows."""
    number: float | None = None
    if isinstance(value, bool | int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if kind_name in ("int", "float", "bool") and number is None:
        return make(kind_name)
    if kind_name == "int":
        return int(number or 0)
    if kind_name == "float":
        return float(number or 0)  # written 1700000000.0: a float on the wire
    if kind_name == "bool":
        return bool(number)
    if kind_name == "str:digits":
        return str(int(number)) if number is not None else "1"
    if kind_name == "str:number":
        return f"{number or 1:.1f}"
    if kind_name == "str:time":
        seconds = number if number is not None and 0 < number < 10**11 else 1767225600
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
    if kind_name == "str:empty":
        return ""
    if kind_name.startswith("str"):
        if isinstance(value, Mapping | list):
            return json.dumps(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        return "x" if value is None else str(value)
    if kind_name == "list":
        return [] if value is None else [value]
    return make(kind_name)


def reshape(value: Any, shape: Any) -> Any:
    """`value` (the emulator's own answer) in the recorded `shape`."""
    if isinstance(shape, str):
        wanted = _types(shape)
        if shape in ("any", "?") or any(_fits(value, t) for t in wanted):
            return value
        if wanted[0] in ("object", "list"):
            kind = _kind(value)
            return value if kind == wanted[0] else make(wanted[0])
        return convert(value, wanted[0])
    if isinstance(shape, list):
        if not shape:
            return []
        if isinstance(value, list):
            return [reshape(item, shape[0]) for item in value]
        return [reshape(value, shape[0])] if isinstance(value, Mapping) else make(shape)
    if _is_json(shape):
        inner = value
        if isinstance(value, str):
            try:
                inner = json.loads(value)
            except ValueError:
                inner = None
        return json.dumps(
            reshape(inner, shape["$json"]) if isinstance(inner, Mapping | list) else make(shape)
        )
    if not isinstance(value, Mapping):
        return make(shape)
    return _reshape_object(value, shape)


def _reshape_object(value: Mapping[str, Any], shape: Mapping[str, Any]) -> dict[str, Any]:
    keys = [k for k in shape if not k.startswith("$") and k != "?"]
    spare = [k for k in value if k not in shape and not _index(k)]  # keys the recording lacks
    out: dict[str, Any] = {}
    for key in keys:
        sub = shape[key]
        if key == "#":  # indexed keys: the answer's own, each reshaped
            indexed = {k: v for k, v in value.items() if _index(k)}
            for k, v in (indexed or {"1": None}).items():
                out[k] = reshape(v, sub) if v is not None else make(sub)
            continue
        if key in value:
            out[key] = reshape(value[key], sub)
            continue
        # a key the emulator does not send: a renamed one keeps its content
        twin = next((k for k in spare if _same_kind(value[k], sub)), None)
        if twin is not None:
            spare.remove(twin)
            out[key] = reshape(value[twin], sub)
        else:
            out[key] = make(sub)
    return out


def _index(key: str) -> bool:
    return bool(_DIGITS.fullmatch(key)) or sum(c.isdigit() for c in key) >= 4


def _same_kind(value: Any, shape: Any) -> bool:
    """A value of the kind a shape describes: a list, an object, or a scalar of its type."""
    if isinstance(shape, list):
        return isinstance(value, list)
    if isinstance(shape, dict):
        return isinstance(value, str) if _is_json(shape) else isinstance(value, Mapping)
    return _kind(value) == _types(str(shape))[0].split(":")[0]
