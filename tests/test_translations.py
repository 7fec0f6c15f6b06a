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


# What Home Assistant's hassfest refuses in a translation (its translations check, read for
# the rules; hassfest itself is not in the wheel): HTML (through Home Assistant's own
# validator), placeholders that are not identifiers or stand in single quotes, references
# combined with text, leading or trailing spaces, URLs (they belong in placeholders), and
# keys that are not lowercase slugs.
_SINGLE_QUOTED = re.compile(r"'\{\w+\}'")
_COMBINED = re.compile(r".\[%|%\].")
_LINK = re.compile(r"\b(?:https?|ftps?|mqtts?)://|\bwww\.[a-z0-9-]+\.", re.IGNORECASE)
_KEY = re.compile(r"[a-z0-9]+(?:[_-][a-z0-9]+)*")


def _problems(key: str, text: str) -> list[str]:
    import string

    from homeassistant.helpers import config_validation as cv
    import voluptuous as vol

    found = []
    try:
        cv.string_with_no_html(text)
    except vol.Invalid:
        found.append("HTML")
    for _literal, field, _spec, _conv in string.Formatter().parse(text):
        if field is not None and field and not field.isidentifier():
            found.append(f"placeholder {field!r}")
    if _SINGLE_QUOTED.search(text):
        found.append("placeholder in single quotes")
    if _COMBINED.search(text):
        found.append("combined reference")
    if text != text.strip():
        found.append("leading or trailing space")
    if _LINK.search(text):
        found.append("URL")
    for part in key.split("."):
        if not _KEY.fullmatch(part) and part not in ("zh-Hans",):
            found.append(f"key {part!r}")
    return found


@pytest.mark.parametrize(
    "name", ["strings.json", *(f"translations/{x}.json" for x in ["en", *LANGUAGES])]
)
def test_every_string_passes_home_assistant_s_rules(name: str) -> None:
    problems = {k: p for k, v in _load(name).items() if (p := _problems(k, v))}
    assert not problems, problems


async def test_the_services_file_passes_home_assistant_s_schema(
    ha: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Home Assistant loads services.yaml through its own schema (a file that fails it is
    dropped with a warning): every action comes back described, with its fields."""
    from homeassistant.helpers.service import async_get_all_descriptions
    import yaml

    described = (await async_get_all_descriptions(ha)).get(DOMAIN, {})
    ours = yaml.safe_load((HERE / "services.yaml").read_text(encoding="utf-8"))
    assert "Unable to parse services.yaml" not in caplog.text
    assert set(described) == set(ours)
    for action, spec in ours.items():
        assert set(described[action].get("fields", {})) == set(spec.get("fields", {})), action
