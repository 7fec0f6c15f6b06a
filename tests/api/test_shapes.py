"""Shapes of cloud answers (api/shapes.py) and the answer log (api/answers.py): keys and types,
never a value; bounded whatever the cloud sends; compared with what the parser expects."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.botslab.api import paths as ep
from custom_components.botslab.api.answers import (
    EXPECTED,
    LAST_CODES,
    LAST_SKIPPED,
    MAX_ENDPOINTS,
    MAX_FRAME_KEYS,
    MAX_FRAME_KINDS,
    MAX_SKIP_REASONS,
    AnswerLog,
)
from custom_components.botslab.api.exceptions import ProtocolError, RateLimited
from custom_components.botslab.api.shapes import (
    MAX_KEYS,
    MAX_NODES,
    TOKENS,
    clean,
    compare,
    merge,
    shape_of,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=12) | st.dictionaries(st.text(max_size=12), inner, max_size=12)
    ),
    max_leaves=300,
)


def nodes(shape: Any) -> int:
    if isinstance(shape, dict):
        return 1 + sum(nodes(v) for v in shape.values())
    if isinstance(shape, list):
        return 1 + sum(nodes(v) for v in shape)
    return 1


def leaves(shape: Any) -> list[str]:
    if isinstance(shape, dict):
        return [leaf for k, v in shape.items() if k != "$more" for leaf in leaves(v)]
    if isinstance(shape, list):
        return [leaf for v in shape for leaf in leaves(v)]
    return [shape]


def test_the_notation() -> None:
    answer = {
        "code": 0,
        "msg": "success",
        "data": {
            "items": [
                {
                    "id": "a1b2-3",
                    "tdata": '{"ctime": 1700000000, "title": "Front Door: someone rang"}',
                    "image": None,
                },
                {"id": 17, "tdata": {"ctime": "1700000001"}, "image": {"url": "https://x/y"}},
            ],
            "nextid": "",
            "when": "2026-11-30 12:00:00",
            "ratio": "0.25",
            "secret_keys": [{"31": "k1", "32": "k2"}],
            "BDX3A1B2C3D4": 1,
            "someone@example.org": True,
        },
    }
    assert shape_of(answer) == {
        "code": "int",
        "msg": "str",
        "data": {
            "items": [
                {
                    "id": "int|str",
                    "tdata": "object|str",  # an object here, JSON text there
                    "image": {"url": "str:url"},  # null in one item: left out
                }
            ],
            "nextid": "str:empty",
            "when": "str:time",
            "ratio": "str:number",
            "secret_keys": [{"#": "str"}],  # indices
            "#": "int",  # a serial as a key: never kept
            "?": "bool",  # a key that is no plain name: never kept
        },
    }
    assert shape_of('{"a": [1, 2]}') == {"$json": {"a": ["int"]}}


@pytest.mark.slow(seconds=6)
@settings(max_examples=200, deadline=None)
@given(json_values)
def test_a_shape_is_bounded_and_carries_no_value(value: Any) -> None:
    shape = shape_of(value)
    assert nodes(shape) <= MAX_NODES * 2
    # every leaf a type word, every key a plain name or a placeholder: clean leaves it as is
    assert clean(shape) == shape
    assert all(all(part in TOKENS for part in leaf.split("|")) for leaf in leaves(shape))
    # no text of the answer (a value, or a key that is no plain name) reaches the shape: such
    # text holds a character no shape has (as emails, tokens, URLs and phone numbers do)
    text = json.dumps(shape, ensure_ascii=False)
    for leaf in _strings(value):
        if len(leaf) >= 3 and any(c in VALUE_ONLY for c in leaf):
            assert leaf not in text, leaf


VALUE_ONLY = "@%=/!~^&;+ '()<>"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_wide_and_deep_answers_stay_small() -> None:
    wide = {f"key_{i}": i for i in range(10_000)}
    shape = shape_of(wide)
    assert isinstance(shape, dict) and len(shape) == MAX_KEYS + 1
    assert shape["$more"] == str(10_000 - MAX_KEYS)
    deep: Any = 1
    for _ in range(500):
        deep = {"a": [deep]}
    assert nodes(shape_of(deep)) < 40
    long_list = [{"k": i, f"v{i % 3}": "x"} for i in range(100_000)]
    assert shape_of(long_list) == [{"k": "int", "v0": "str", "v1": "str", "v2": "str"}]


def test_merge_keeps_structure_and_collapses_string_forms() -> None:
    assert merge({"a": "int"}, {"b": "str"}) == {"a": "int", "b": "str"}
    assert merge(["int"], []) == ["int"]
    assert merge("str:digits", "str:url") == "str"
    assert merge("null", {"a": "int"}) == {"a": "int"}
    assert merge("int", ["str"]) == "int|list"


def test_compare_names_unknown_missing_and_other_types() -> None:
    expected: Any = {
        "id|msg_id": "int|str",
        "title": "str",
        "image?": {"url": "str"},
        "tdata": {"$json": {"ctime": "int|float|str"}},
        "event": {"*": {"is_open": "int"}},
    }
    same = {
        "msg_id": "int",
        "title": "str:empty",
        "tdata": {"$json": {"ctime": "str:digits"}},
        "event": {"dsl.event.post.Ring": {"is_open": "int"}},
    }
    assert compare(expected, same).none
    found = compare(
        expected,
        {
            "title": "int",
            "mood": "str",
            "tdata": {"ctime": ["int"]},
            "event": {"x": {"is_open": "str"}},
        },
    )
    assert found.unknown == ["mood (str)"]
    assert found.missing == ["id|msg_id"]
    assert found.types == [
        "title: str expected, int found",
        "tdata.ctime: int|float|str expected, list found",
        "event.x.is_open: int expected, str found",
    ]
    assert not found.as_expected
    # JSON text where an object is expected (and not allowed)
    assert compare({"a": {"b": "int"}}, {"a": {"$json": {"b": "int"}}}).types == [
        "a: object expected, JSON text found"
    ]
    # null is taken everywhere (the parser reads it as missing); "any" takes anything
    assert compare({"a": {"b": "int"}, "c": "any"}, {"a": "null", "c": ["str"]}).none


def test_the_expected_shapes_are_well_formed() -> None:
    def check(shape: Any) -> None:
        if isinstance(shape, dict):
            for key, sub in shape.items():
                assert key == "$json" or key.rstrip("?").replace("|", "").replace("_", "a")
                check(sub)
        elif isinstance(shape, list):
            assert len(shape) == 1
            check(shape[0])
        else:
            assert all(p in TOKENS or p == "number" for p in shape.split("|")), shape

    for shape in EXPECTED.values():
        check(shape)
    # every path the client calls has its expected shape
    paths = {
        v for k, v in vars(ep).items() if k.isupper() and isinstance(v, str) and v.startswith("/v")
    }
    assert paths <= set(EXPECTED), paths - set(EXPECTED)


def test_the_answer_log_is_bounded() -> None:
    log = AnswerLog()
    for i in range(MAX_ENDPOINTS + 20):
        log.answered(f"/v1/x/{i}", 200, {"code": 0, "data": {"a": i}})
    assert len(log.endpoints) == MAX_ENDPOINTS
    for _ in range(20):
        log.answered(ep.DEVICE_LIST, 200, {"code": 1015, "msg": "sid"})
        log.failed(ep.DEVICE_LIST, RateLimited("rate limited", 5.0))
    record = log.get(ep.DEVICE_LIST)
    assert record is not None and len(record.codes) == LAST_CODES
    assert list(record.codes)[-2:] == ["200:1015", "429"]
    for i in range(100):
        log.skip("message", ProtocolError(f"reason {i}"), {"id": i})
    assert len(log.skipped) == LAST_SKIPPED
    assert len(log.skip_reasons) == MAX_SKIP_REASONS + 1  # and "(other reasons)"
    for opcode in range(100):
        log.frame(5, opcode, [f"key{k}" for k in range(50)], None)
    assert len(log.frames) == MAX_FRAME_KINDS
    assert all(len(kind.keys) == MAX_FRAME_KEYS and kind.more_keys for kind in log.frames.values())


def test_the_answer_log_keeps_shapes_of_good_answers_only() -> None:
    log = AnswerLog()
    log.answered(
        ep.PUSH_DND,
        200,
        {"code": 0, "data": {"is_open": 1, "start_time": "22:00", "end_time": "06:00"}},
    )
    log.answered(ep.PUSH_DND, 200, {"code": 100003, "msg": "login", "data": None})
    record = log.get(ep.PUSH_DND)
    assert record is not None and record.as_expected_once
    assert record.shape == {
        "code": "int",
        "data": {"end_time": "str", "is_open": "int", "start_time": "str"},
    }
    as_dict = log.as_dict()
    assert as_dict["differences"] == []
    assert as_dict["endpoints"][ep.PUSH_DND]["evidence"] == "modelled"
    assert as_dict["endpoints"][ep.PUSH_DND]["last_codes"] == ["200:0", "200:100003"]


def test_skipped_items_say_why_without_a_value() -> None:
    """A reason's free text is redacted; the item is kept as its shape; the same item read
    again (every fetch walks the list anew) is counted, not listed again."""
    log = AnswerLog()
    item = {"id": "a1b2c3", "tdata": {"title": "call +49 176 12345678", "mail": "a@b.org"}}
    for _ in range(3):
        log.skip("message", ProtocolError("bad item from a@b.org, +49 176 12345678"), item)
    (entry,) = log.skipped
    assert entry["times"] == 3
    assert entry["shape"] == {"id": "str", "tdata": {"mail": "str", "title": "str"}}
    text = json.dumps([entry["reason"], entry["shape"], log.skip_reasons])
    for secret in ("a@b.org", "12345678", "a1b2c3"):
        assert secret not in text, secret
