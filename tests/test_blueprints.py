"""The blueprints load with Home Assistant's own blueprint code and do what they say."""

from __future__ import annotations

import asyncio
from pathlib import Path
import shutil
import time

from homeassistant.components.automation.config import AUTOMATION_BLUEPRINT_SCHEMA
from homeassistant.components.blueprint import models
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util.yaml import load_yaml_dict
from pytest_homeassistant_custom_component.common import async_mock_service

from botslab_emulator import Emulator
from custom_components.botslab.const import DOMAIN
from tests.ha_helpers import scoped_uid

ROOT = Path(__file__).resolve().parents[1]
BLUEPRINTS = ROOT / "blueprints" / "automation" / "botslab"
GARDEN = "BCC5E5F6A7B8"


def test_blueprints_parse() -> None:
    files = sorted(BLUEPRINTS.glob("*.yaml"))
    assert [f.name for f in files] == ["doorbell_notification.yaml", "person_at_night_light.yaml"]
    for path in files:
        blueprint = models.Blueprint(
            load_yaml_dict(str(path)),
            expected_domain="automation",
            schema=AUTOMATION_BLUEPRINT_SCHEMA,
        )
        assert blueprint.metadata["name"].startswith("BOTSLAB")
        assert blueprint.inputs


def test_doorbell_blueprint_substitutes() -> None:
    blueprint = models.Blueprint(
        load_yaml_dict(str(BLUEPRINTS / "doorbell_notification.yaml")),
        expected_domain="automation",
        schema=AUTOMATION_BLUEPRINT_SCHEMA,
    )
    inputs = models.BlueprintInputs(
        blueprint,
        {
            "use_blueprint": {
                "path": "botslab/doorbell_notification.yaml",
                "input": {
                    "doorbell": "event.front_door_doorbell",
                    "snapshot": "image.front_door_last_event",
                    "notify_device": "abc123",
                },
            }
        },
    )
    config = inputs.async_substitute()
    assert config["triggers"][0]["entity_id"] == "event.front_door_doorbell"
    assert (
        config["actions"][1]["device_id"] == "abc123"
        and config["actions"][1]["message"] == "Someone is at the door."
    )


async def test_person_at_night_turns_on_the_light(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    target = Path(hass.config.path("blueprints", "automation", "botslab"))
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(BLUEPRINTS / "person_at_night_light.yaml", target / "person_at_night_light.yaml")
    motion = er.async_get(hass).async_get_entity_id(
        "event", DOMAIN, scoped_uid(hass, f"{GARDEN}_motion")
    )
    calls_on = async_mock_service(hass, "light", "turn_on")
    async_mock_service(hass, "light", "turn_off")
    hass.states.async_set("sun.sun", "below_horizon")
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": [
                {
                    "id": "night_light",
                    "alias": "Night light",
                    "use_blueprint": {
                        "path": "botslab/person_at_night_light.yaml",
                        "input": {
                            "camera_events": motion,
                            "light_target": {"entity_id": "light.porch"},
                            "minutes": 1,
                        },
                    },
                }
            ]
        },
    )
    await hass.async_block_till_done()
    assert hass.states.get("automation.night_light").state == "on"
    stream = entry.runtime_data.push
    assert stream is not None
    deadline = time.monotonic() + 30
    while stream.connection != "push":
        assert time.monotonic() < deadline, "push did not connect"
        await asyncio.sleep(0.05)
    await emulator.trigger(GARDEN, "motion")
    await emulator.trigger(GARDEN, "person")
    # no async_block_till_done here: it would wait for the automation's one-minute delay
    deadline = time.monotonic() + 30
    while not calls_on:
        assert time.monotonic() < deadline, (
            f"the light was not turned on: {hass.states.get(motion)}, fetches={stream.fetches}, "
            f"delivered={stream.delivered}, connection={stream.connection}"
        )
        await asyncio.sleep(0.05)
    assert len(calls_on) == 1 and calls_on[0].data["entity_id"] == ["light.porch"]
    await hass.services.async_call(
        "automation", "turn_off", {"entity_id": "automation.night_light"}, blocking=True
    )
