"""quality_scale.yaml tells the truth in hassfest's format: every rule of Home Assistant
2026.11's scale, a status for each, a comment for each exemption, and the README sections
it names exist."""

from __future__ import annotations

from pathlib import Path
import re

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = {
    "bronze": """action-setup appropriate-polling brands common-modules config-flow
        config-flow-test-coverage dependency-transparency docs-actions docs-conditions
        docs-high-level-description docs-installation-instructions docs-removal-instructions
        docs-triggers entity-event-setup entity-unique-id has-entity-name runtime-data
        test-before-configure test-before-setup unique-config-entry""",
    "silver": """action-exceptions config-entry-unloading docs-configuration-parameters
        docs-installation-parameters entity-unavailable integration-owner log-when-unavailable
        parallel-updates reauthentication-flow test-coverage""",
    "gold": """devices diagnostics discovery discovery-update-info docs-data-update
        docs-examples docs-known-limitations docs-supported-devices docs-supported-functions
        docs-troubleshooting docs-use-cases dynamic-devices entity-category entity-device-class
        entity-disabled-by-default entity-translations exception-translations
        icon-translations reconfiguration-flow repair-issues stale-devices""",
    "platinum": "async-dependency inject-websession strict-typing",
}


def _scale() -> dict[str, object]:
    text = (ROOT / "custom_components/botslab/quality_scale.yaml").read_text()
    rules: dict[str, object] = yaml.safe_load(text)["rules"]
    return rules


def test_every_rule_once_in_hassfests_format() -> None:
    wanted = {name for names in RULES.values() for name in names.split()}
    assert len(wanted) == 54
    rules = _scale()
    assert set(rules) == wanted
    for name, value in rules.items():
        status = value if isinstance(value, str) else value["status"]  # type: ignore[index]
        assert status in {"done", "todo", "exempt"}, name
        if status == "exempt":
            assert isinstance(value, dict) and value.get("comment"), f"{name}: say why"
        if isinstance(value, dict):
            assert set(value) <= {"status", "comment"}, name


def test_the_readme_sections_it_names_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    headings = set(re.findall(r"^#+ (.+)$", readme, re.MULTILINE))
    named = set()
    for value in _scale().values():
        comment = value.get("comment", "") if isinstance(value, dict) else ""
        named |= set(re.findall(r'README "([^"]+)"', " ".join(str(comment).split())))
    assert named, "the comments name README sections"
    assert named <= headings, named - headings


def test_the_code_owner_and_manifest_agree() -> None:
    import json

    manifest = json.loads((ROOT / "custom_components/botslab/manifest.json").read_text())
    owner = _scale()["integration-owner"]
    status = owner if isinstance(owner, str) else owner["status"]  # type: ignore[index]
    assert (status == "done") == bool(manifest["codeowners"])
