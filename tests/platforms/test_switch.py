"""The switch platform: each entity's registry entry and state (recorded answers)."""

from __future__ import annotations

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from syrupy.assertion import SnapshotAssertion

from .conftest import snapshot_entities


@pytest.fixture
def platforms() -> list[Platform]:
    return [Platform.SWITCH]


async def test_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    init_integration: MockConfigEntry,
) -> None:
    await snapshot_entities(hass, entity_registry, snapshot, init_integration)
