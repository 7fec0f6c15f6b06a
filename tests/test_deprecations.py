"""A tour of everything the integration does, on whichever Home Assistant this lane runs:
setup through the config flow, push events, actions, entity commands, the media browser and a
clip, live view, diagnostics, an options reload, unload and removal. It fails when Home
Assistant logs any report of a deprecated use (its frame helper's "Detected that custom
integration …" lines, or a deprecation warning), so the next deprecation shows up here first.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from homeassistant.components import media_source
from homeassistant.components.camera import async_get_stream_source
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from botslab_emulator import Emulator
from custom_components.botslab.const import (
    CONF_DOWNLOAD_SNAPSHOTS,
    CONF_MAX_EVENT_AGE,
    CONF_MOTION_SECONDS,
    CONF_POLL_INTERVAL,
    DOMAIN,
    EVENT_BOTSLAB,
)
from custom_components.botslab.diagnostics import async_get_config_entry_diagnostics
from tests.ha_helpers import scoped_uid

from .conftest import add_entry, deprecation_reports, find_device
from .live_feed_io import read_feed, video_packets
from .test_events import pushed, until

DOOR, GARDEN = "BDX3A1B2C3D4", "BCC5E5F6A7B8"


def test_the_guard_sees_a_report() -> None:
    """The marker list catches the frame helper's wording (a test of the test)."""
    record = logging.LogRecord(
        "homeassistant.helpers.frame",
        logging.WARNING,
        __file__,
        1,
        "Detected that custom integration 'botslab' calls `x`, which is deprecated",
        None,
        None,
    )
    quiet = logging.LogRecord(
        "homeassistant.loader", logging.WARNING, __file__, 1, "hi", None, None
    )
    assert deprecation_reports([record, quiet]) == [
        "homeassistant.helpers.frame: Detected that custom integration 'botslab' calls `x`, "
        "which is deprecated"
    ]


@pytest.mark.parametrize("expected_lingering_timers", [True])  # the stream's HLS idle timer
async def test_everything_without_a_deprecation_report(  # noqa: PLR0917 (fixtures)
    hass: HomeAssistant,
    enable_custom_integrations: None,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    for component in ("repairs", "media_source", "stream", "diagnostics"):
        assert await async_setup_component(hass, component, {})
    monkeypatch.setenv("BOTSLAB_EMULATOR_URL", emulator.base_url)
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    # setup through the config flow
    entry = await add_entry(hass)
    assert entry.state is ConfigEntryState.LOADED
    ent_reg = er.async_get(hass)
    entities = er.async_entries_for_config_entry(ent_reg, entry.entry_id)
    assert len(entities) > 40

    # events from push
    seen: list[dict[str, Any]] = []

    @callback
    def on_event(event: Event) -> None:
        seen.append(dict(event.data))

    unsub = hass.bus.async_listen(EVENT_BOTSLAB, on_event)
    await pushed(hass, entry, emulator)
    ring = await emulator.trigger(DOOR, "ring")
    person = await emulator.trigger(GARDEN, "person")
    await until(hass, lambda: len(seen) == 2)
    unsub()
    assert [e["message_id"] for e in seen] == [ring["msg_id"], person["msg_id"]]

    # actions and entity commands
    garden_id = find_device(hass, GARDEN).id
    shares = await hass.services.async_call(
        DOMAIN, "list_shares", {"device_id": garden_id}, blocking=True, return_response=True
    )
    assert isinstance(shares, dict) and "shares" in shares
    consents = await hass.services.async_call(
        DOMAIN, "list_consents", {}, blocking=True, return_response=True
    )
    assert isinstance(consents, dict) and consents["consents"]
    await hass.services.async_call(
        DOMAIN,
        "set_do_not_disturb",
        {"enabled": True, "start": "22:00", "end": "06:30"},
        blocking=True,
    )
    await hass.services.async_call(
        DOMAIN, "snooze_notifications", {"device_id": garden_id, "duration": 600}, blocking=True
    )
    privacy = ent_reg.async_get_entity_id(
        "switch", DOMAIN, scoped_uid(hass, f"{GARDEN}_privacy_mode")
    )
    assert privacy is not None
    await hass.services.async_call("switch", "turn_on", {"entity_id": privacy}, blocking=True)
    assert hass.states.get(privacy).state == "on"  # type: ignore[union-attr]

    # the media browser, and a clip played through the decrypting view
    client = await hass_client()  # once every platform's views are registered
    root = await media_source.async_browse_media(hass, f"media-source://{DOMAIN}")
    door = next(c for c in root.children if c.title == "Front Door")  # one account: no level
    device = await media_source.async_browse_media(hass, door.media_content_id)
    day = await media_source.async_browse_media(hass, device.children[0].media_content_id)
    clip = next(c for c in day.children if c.can_play)
    resolved = await media_source.async_resolve_media(hass, clip.media_content_id, None)
    resp = await client.get(resolved.url)
    assert resp.status == 200
    segment = next(
        line for line in (await resp.text()).splitlines() if line and not line.startswith("#")
    )
    parts = urlsplit(segment)
    resp = await client.get(f"{parts.path}?{parts.query}")
    assert resp.status == 200 and len(await resp.read()) > 188

    # live view
    url = await async_get_stream_source(hass, "camera.front_door")
    assert url is not None
    packets = video_packets(await read_feed(url, 30_000, timeout=20))
    assert packets and packets[0].is_keyframe

    # diagnostics
    diagnostics = await async_get_config_entry_diagnostics(hass, entry)
    assert diagnostics["devices"]

    # an options change reloads the entry once
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_POLL_INTERVAL: 120,
            CONF_MOTION_SECONDS: 30,
            CONF_DOWNLOAD_SNAPSHOTS: True,
            CONF_MAX_EVENT_AGE: 120,
        },
    )
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    # unload and removal
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED
    await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert not hass.config_entries.async_entries(DOMAIN)

    reports = deprecation_reports(caplog.records)
    assert not reports, "\n".join(reports)
