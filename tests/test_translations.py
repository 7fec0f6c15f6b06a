"""Translations: English as strings.json says, and German, French, Spanish, Dutch and Simplified
Chinese with exactly its keys and placeholders; Home Assistant finds them."""

from __future__ import annotations

import json
from pathlib import Path
import re
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.translation import async_get_translations
import pytest

from custom_components.botslab.const import DOMAIN

HERE = Path(__file__).resolve().parents[1] / "custom_components" / "botslab"
LANGUAGES = ["de", "fr", "es", "nl", "zh-Hans"]


def _flat(node: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(node, dict):
        out: dict[str, str] = {}
        for key, value in node.items():
            out |= _flat(value, f"{prefix}.{key}" if prefix else key)
        return out
    return {prefix: node}


def _load(name: str) -> dict[str, str]:
    return _flat(json.loads((HERE / name).read_text(encoding="utf-8")))


def test_english_is_strings_json() -> None:
    assert _load("translations/en.json") == _load("strings.json")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_translation_has_exactly_the_keys_and_placeholders(language: str) -> None:
    source, translated = _load("strings.json"), _load(f"translations/{language}.json")
    assert translated.keys() == source.keys()
    for key, text in source.items():
        assert sorted(re.findall(r"\{\w+\}", translated[key])) == sorted(
            re.findall(r"\{\w+\}", text)
        ), key
        assert translated[key].strip(), key
    untranslated = [k for k, v in translated.items() if v == source[k] and len(v) > 15]
    assert not untranslated, untranslated


@pytest.mark.parametrize(
    ("language", "name"),
    [("de", "Nachtsicht"), ("fr", "Vision nocturne"), ("zh-Hans", "夜视")],
)
async def test_home_assistant_finds_them(ha: HomeAssistant, language: str, name: str) -> None:
    strings = await async_get_translations(ha, language, "entity", {DOMAIN})
    assert strings[f"component.{DOMAIN}.entity.select.night_vision.name"] == name
