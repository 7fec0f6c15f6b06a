"""Shared test setup.

Home Assistant's test plugin blocks sockets for every test; these tests talk to the emulator
over real sockets on 127.0.0.1 (the plugin still refuses any other host).
"""

from __future__ import annotations

from collections.abc import Iterator
import functools
import logging

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow(seconds=N)` first, the longest first: none of them starts last
    and ends the lane alone (the soak did)."""

    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("slow")
        return float(mark.kwargs.get("seconds", 5)) if mark is not None else 0.0

    items.sort(key=lambda item: -seconds(item))  # stable: the others keep their order


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Allow sockets (loopback only, as the plugin's allow-list keeps it) in every test."""


# What Home Assistant logs when an integration uses something deprecated: its frame helper's
# reports ("Detected that custom integration 'botslab' calls …") and the deprecation helper's
# warnings. Any of them fails the test that caused it, on every lane.
DEPRECATION_MARKERS = ("Detected that custom integration", "Detected code that", "deprecated")


def deprecation_reports(records: list[logging.LogRecord]) -> list[str]:
    """The log lines that report a deprecated use (frame helper or deprecation helper)."""
    found = []
    for record in records:
        if record.levelno < logging.WARNING:
            continue
        message = record.getMessage()
        if record.name == "homeassistant.helpers.frame" or any(
            marker in message for marker in DEPRECATION_MARKERS
        ):
            found.append(f"{record.name}: {message}")
    return found


# The phone numbers and emails of the emulator's world(s) a test used, left by the emulator
# fixtures when they stop, so that the guard below can look for them in the test's log.
PERSONAL = pytest.StashKey[set[str]]()


def quick_device(request: pytest.FixtureRequest, emu: Emulator) -> None:
    """A device that wakes and starts streaming at once, for tests that are not about that
    timing: the emulator's default boots a sleeping device for 4 s
    (docs/protocol/live-video.md#timers), which would only slow them down. A test marked `real_wake`
    keeps the default."""
    if request.node.get_closest_marker("real_wake") is None:
        emu.live.faults.wake_s = 0.0
        emu.live.faults.publish_delay_s = 0.0


def remember_personal(request: pytest.FixtureRequest, world: object) -> None:
    """Note every phone number and email the emulator knows (accounts and shares), in the
    forms a log line could carry them: as stored and, for numbers, their last ten digits."""
    found: set[str] = set()
    accounts = getattr(world, "accounts", {}).values()
    shares = getattr(getattr(world, "sharing", None), "shares", {}).values()
    for raw in [
        *(v for a in accounts for v in (a.username, a.email, a.mobile)),
        *(v for s in shares for v in (s.mobile, s.email)),
    ]:
        value = str(raw).strip()
        if "@" in value:
            found.add(value.lower())
        elif sum(c.isdigit() for c in value) >= 6:
            digits = "".join(c for c in value if c.isdigit())
            found.update({value, digits[-10:]})
    request.node.stash.setdefault(PERSONAL, set()).update(found)


def personal_leaks(records: list[logging.LogRecord], personal: set[str]) -> list[str]:
    """WARNING-and-above lines (message, arguments, traceback) that carry personal data."""
    leaks = []
    for record in records:
        if record.levelno < logging.WARNING:
            continue
        text = record.getMessage() + repr(record.args)
        if record.exc_info and record.exc_info[1] is not None:
            text += repr(record.exc_info[1])
        text = text.lower()
        leaks.extend(f"{record.name}: {record.getMessage()}" for v in personal if v in text)
    return leaks


@pytest.fixture(autouse=True)
def _no_deprecation_reports(
    caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> Iterator[None]:
    """Every test fails when Home Assistant reported a deprecated use while it ran, or when
    a WARNING-or-above line of the run carries a phone number or email of the emulator."""
    yield
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    reports = deprecation_reports(records)
    assert not reports, "Home Assistant reported deprecated use:\n" + "\n".join(reports)
    leaks = personal_leaks(records, request.node.stash.get(PERSONAL, set()))
    assert not leaks, "personal data in a WARNING-or-above log line:\n" + "\n".join(leaks)


# --- Home Assistant fixtures (the tests at the top of tests/) -----------------------------------

from collections.abc import AsyncIterator  # noqa: E402
from typing import Any  # noqa: E402

from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigEntryState  # noqa: E402
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME  # noqa: E402
from homeassistant.core import HomeAssistant  # noqa: E402
from homeassistant.data_entry_flow import FlowResultType  # noqa: E402
from homeassistant.setup import async_setup_component  # noqa: E402

from botslab_emulator import Emulator  # noqa: E402
from botslab_emulator.crypto import QucKeyPair  # noqa: E402
from botslab_emulator.seed import DEMO_PASSWORD, DEMO_USER  # noqa: E402
from botslab_emulator.world import World  # noqa: E402
from custom_components.botslab.const import CONF_REGION, DOMAIN, ENV_EMULATOR_URL  # noqa: E402


@functools.cache
def _quc_pair() -> QucKeyPair:
    return QucKeyPair.generate()


def new_world() -> World:
    """A world for one test's emulator, with the RSA pair of every emulator of this test
    process: the cloud has one QUC key for everybody, and making one takes about 0.3 s (the
    suite starts hundreds of emulators)."""
    return World(keypair=_quc_pair())


@pytest.fixture
async def emulator(request: pytest.FixtureRequest) -> AsyncIterator[Emulator]:
    """The emulator with its demo world, on free loopback ports."""
    async with Emulator(new_world(), demo=True) as emu:
        quick_device(request, emu)
        yield emu
        remember_personal(request, emu.world)


@pytest.fixture
async def ha(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> HomeAssistant:
    """Home Assistant with the integration, in development's one switch: every region is the
    emulator (the environment variable scripts/develop sets too)."""
    monkeypatch.setenv(ENV_EMULATOR_URL, emulator.base_url)
    assert await async_setup_component(hass, DOMAIN, {})
    return hass


async def start_flow(
    hass: HomeAssistant, username: str, password: str, region: str = "eu1"
) -> dict[str, Any]:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    return dict(
        await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {CONF_REGION: region, CONF_USERNAME: username, CONF_PASSWORD: password},
        )
    )


async def add_entry(
    hass: HomeAssistant, username: str = DEMO_USER, password: str = DEMO_PASSWORD
) -> ConfigEntry:
    """Add the account through the real config flow; wait for its setup."""
    result = await start_flow(hass, username, password)
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry: ConfigEntry = result["result"]
    return entry


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Entities disabled by default are created enabled (request it before `entry`)."""
    from unittest.mock import PropertyMock, patch

    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture
async def entry(ha: HomeAssistant) -> AsyncIterator[ConfigEntry]:
    """The demo account, set up; unloaded again at the end."""
    config_entry = await add_entry(ha)
    assert config_entry.state is ConfigEntryState.LOADED
    yield config_entry
    if config_entry.state is ConfigEntryState.LOADED:
        assert await ha.config_entries.async_unload(config_entry.entry_id)
        await ha.async_block_till_done()


async def fix_issue(hass: HomeAssistant, hass_client: Any, issue_id: str) -> dict[str, Any]:
    """Run an issue's repair flow as the frontend does (Settings → Repairs → Submit), through
    the HTTP API that every supported Home Assistant version serves."""
    from homeassistant.components.repairs import DOMAIN as REPAIRS

    assert await async_setup_component(hass, REPAIRS, {})
    client = await hass_client()  # after the repairs views are registered
    resp = await client.post(
        "/api/repairs/issues/fix", json={"handler": DOMAIN, "issue_id": issue_id}
    )
    assert resp.status == 200, await resp.text()
    flow = await resp.json()
    assert flow["step_id"] == "confirm", flow
    resp = await client.post(f"/api/repairs/issues/fix/{flow['flow_id']}", json={})
    assert resp.status == 200, await resp.text()
    result: dict[str, Any] = await resp.json()
    await hass.async_block_till_done()
    return result


def find_device(hass: HomeAssistant, serial: str) -> Any:
    """The registry device of a serial, in whichever BOTSLAB entry has it."""
    from custom_components.botslab.devices import device_for_serial

    for config_entry in hass.config_entries.async_entries(DOMAIN):
        found = device_for_serial(hass, config_entry.entry_id, serial)
        if found is not None:
            return found
    return None
