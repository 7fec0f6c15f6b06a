"""The fast layer: Home Assistant against a recorded answer set, no emulator, no network.

What is under test here is Home Assistant's side: which entities a platform makes from the
coordinators' data, their registry entries and their states. So the cloud is a
`create_autospec(BotslabClient)` whose reads answer from `answers.json` (recorded from the
emulator's demo world by `python -m tests.platforms.record`), parsed by the client's own
models, at the recorded time; the push channel is an autospec'd `PushClient` that says it is
connected. The emulator end-to-end tests (tests/test_*.py) stay for what only a cloud peer
shows: events, recovery, live view, media.

Each `test_<platform>.py` sets up the integration with that one platform and snapshots every
entity's registry entry and state (`snapshot_platform`); `test_diagnostics.py` snapshots the
diagnostics. The snapshots are in `snapshots/<lane>/` (e.g. `snapshots/ha2025.4/`), one
directory per Home Assistant minor version (`LANE` below): the registry entries differ between
versions (2026.x adds `object_id_base` and `suggested_object_id`, serializes `aliases` as a
list and writes state attribute keys as enums), so one file cannot serve both lanes. They are
not under syrupy's default `__snapshots__/`, whose unused-snapshot sweep would delete the
other lane's files at every `--snapshot-update`. A Home Assistant version without a directory
of its own (2026.2 on Python 3.13.2+) has no snapshots until they are generated there.

Regenerate the snapshots after a change to entities (on both lanes):

    .venv/3.13.0/bin/python -m pytest -p no:cacheprovider tests/platforms --snapshot-update
    .venv/3.14.10/bin/python -m pytest -p no:cacheprovider tests/platforms --snapshot-update

and read the diff (`git diff tests/platforms/snapshots`) before committing it. When the
emulator's demo world or the client's models change, record the answers first:
`.venv/3.13.0/bin/python -m tests.platforms.record`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
import json
from pathlib import Path
from typing import Any
from unittest.mock import AsyncMock, MagicMock, create_autospec, patch

import aiohasupervisor  # noqa: F401 - see below
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import Platform, __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, snapshot_platform
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion
from syrupy.location import PyTestLocation

import custom_components.botslab as integration
from custom_components.botslab.api import (
    BotslabClient,
    CloudPlan,
    CloudSession,
    ConnectionState,
    Consent,
    Credentials,
    Device,
    DeviceNotifications,
    DoNotDisturb,
    Endpoints,
    Event,
    FirmwareInfo,
    Identity,
    MessagePage,
    Properties,
    PushClient,
    ServiceResult,
    Share,
)
from custom_components.botslab.config_flow import BotslabConfigFlow
from custom_components.botslab.const import (
    CONF_IDENTITY,
    CONF_Q,
    CONF_QID,
    CONF_REGION,
    CONF_T,
    DOMAIN,
)

# aiohasupervisor (which diagnostics imports on its first request) compiles its dataclasses'
# date parsers when imported; under freezegun's clock that import fails, so it is imported
# here, before any test freezes the clock

ANSWERS = Path(__file__).with_name("answers.json")
# one snapshot directory per Home Assistant minor version (a lane): Home Assistant's
# registry entries gain and lose fields between versions
LANE = "ha" + ".".join(HA_VERSION.split(".")[:2])
# a tiny JPEG for every snapshot download (the SOI and EOI markers are all HA looks at)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
# the camera and image entities' access tokens (Home Assistant draws them from SystemRandom)
TOKEN_BITS = 123123123123


class LaneSnapshotExtension(HomeAssistantSnapshotExtension):
    """Home Assistant's snapshot serializer, with the files kept per lane."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(Path(test_location.filepath).parent / "snapshots" / LANE)


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """syrupy's snapshot with Home Assistant's serializer (registry entries, states)."""
    return snapshot.use_extension(LaneSnapshotExtension)


@pytest.fixture(scope="session")
def answers() -> dict[str, Any]:
    """The recorded answer set (tests/platforms/record.py)."""
    recorded: dict[str, Any] = json.loads(ANSWERS.read_text(encoding="utf-8"))
    return recorded


def _items(data: Any) -> list[Any]:
    return list(data.get("items") or []) if isinstance(data, dict) else []


def _answer(answers: dict[str, Any], device: Device, what: str) -> Any:
    return answers["per_device"].get(device.serial, {}).get(what, {})


@pytest.fixture
def mock_client(answers: dict[str, Any]) -> MagicMock:
    """An autospec'd BotslabClient whose reads answer from the recording and whose commands
    succeed."""
    client = create_autospec(BotslabClient, instance=True)
    region, qid = str(answers["region"]), str(answers["qid"])
    client.endpoints = Endpoints.production(region)
    client.credentials = Credentials(q="q-recorded", t="t-recorded", qid=qid, region=region)
    client.identity = Identity("0" * 32, "1" * 32, "2" * 16)
    # what BotslabClient.__init__ sets: autospec sees only the class
    client.skipped = 0
    client.list_seconds = 0.0
    client.session = CloudSession("sid-recorded", "alias-recorded", str(answers["user_id"]))
    client.login.return_value = client.session

    devices = [Device.from_api(item) for item in answers["devices"]]
    events = [Event.from_api(item) for item in answers["messages"]]
    client.devices.return_value = devices
    client.properties.side_effect = lambda d: Properties.from_api(_answer(answers, d, "properties"))
    client.firmware.side_effect = lambda d: FirmwareInfo.from_api(_answer(answers, d, "firmware"))
    client.device_notifications.side_effect = lambda d: DeviceNotifications.from_api(
        _answer(answers, d, "notifications")
    )
    client.shares.side_effect = lambda d: [
        Share.from_api(i) for i in _items(_answer(answers, d, "shares"))
    ]
    client.cloud_plan.side_effect = lambda d: CloudPlan.from_api(_answer(answers, d, "plan"))
    client.consents.return_value = [Consent.from_api(i) for i in _items(answers["consents"])]
    client.do_not_disturb.return_value = DoNotDisturb.from_api(answers["do_not_disturb"])

    def messages(*, page: int = 1, page_size: int = 20, **_filters: Any) -> MessagePage:
        return MessagePage(tuple(events[(page - 1) * page_size : page * page_size]))

    async def nothing_new(*_args: Any, **_kwargs: Any) -> AsyncIterator[Event]:
        nothing: tuple[Event, ...] = ()
        for event in nothing:
            yield event

    client.messages.side_effect = messages
    client.events_since.side_effect = nothing_new
    client.download_snapshot.return_value = JPEG
    client.download.return_value = JPEG
    client.invoke_service.return_value = ServiceResult(0, {"ErrorNO": 0})
    client.take_snapshot.return_value = ServiceResult(0, {"ErrorNO": 0})
    mock: MagicMock = client
    return mock


@pytest.fixture
def mock_push() -> Iterator[MagicMock]:
    """An autospec'd PushClient (the QPush channel) that connects at once and never pushes."""
    push = create_autospec(PushClient, instance=True)
    # the counters PushClient.__init__ sets (autospec sees only the class): a connection
    # that came up once and has had nothing to count since
    push.connects = 1
    push.failures = push.failures_total = push.silent_drops = push.duplicates = 0
    push.frames_seen = push.skipped_frames = 0
    push.last_error = push.last_error_at = None
    push.state = ConnectionState.CONNECTED
    listeners: list[Callable[[ConnectionState], None]] = []

    def subscribe_state(listener: Callable[[ConnectionState], None]) -> Callable[[], None]:
        listeners.append(listener)
        return lambda: listeners.remove(listener)

    def start() -> None:
        for listener in list(listeners):
            listener(ConnectionState.CONNECTED)

    push.subscribe.return_value = MagicMock()
    push.subscribe_state.side_effect = subscribe_state
    push.start.side_effect = start
    push.stop = AsyncMock()
    with patch("custom_components.botslab.events.link.PushClient", return_value=push):
        yield push


@pytest.fixture
def config_entry(answers: dict[str, Any]) -> MockConfigEntry:
    """The demo account's entry, as the config flow writes it (tokens replaced)."""
    return MockConfigEntry(
        domain=DOMAIN,
        title="d***@botslab.local",
        unique_id=str(answers["qid"]),
        version=BotslabConfigFlow.VERSION,
        minor_version=BotslabConfigFlow.MINOR_VERSION,
        data={
            CONF_REGION: answers["region"],
            CONF_QID: str(answers["qid"]),
            CONF_Q: "q-recorded",
            CONF_T: "t-recorded",
            CONF_IDENTITY: {"m2": "0" * 32, "mid": "1" * 32, "androidid": "2" * 16},
        },
        entry_id="01JBOTSLABFASTLAYERENTRY00",
    )


@pytest.fixture
def recorded_time(answers: dict[str, Any], freezer: FrozenDateTimeFactory) -> None:
    """Home Assistant's clock at the recording's time (a minute after it)."""
    freezer.move_to(dt_util.utc_from_timestamp(int(answers["recorded_at"]) + 60))


@pytest.fixture
def platforms() -> list[Platform]:
    """The platforms to set up: a test module narrows it to its own."""
    return list(integration.PLATFORMS)


@pytest.fixture
async def init_integration(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    enable_custom_integrations: None,
    entity_registry_enabled_by_default: None,
    recorded_time: None,
    mock_client: MagicMock,
    mock_push: MagicMock,
    config_entry: MockConfigEntry,
    platforms: list[Platform],
) -> AsyncIterator[MockConfigEntry]:
    """The entry set up with `platforms` (every entity enabled); unloaded at the end."""
    config_entry.add_to_hass(hass)
    with (
        patch.object(integration, "PLATFORMS", platforms),
        patch.object(integration, "BotslabClient", return_value=mock_client),
        patch("random.SystemRandom.getrandbits", return_value=TOKEN_BITS),
    ):
        assert await async_setup_component(hass, DOMAIN, {})
        await hass.async_block_till_done()
        assert config_entry.state is ConfigEntryState.LOADED
        yield config_entry
        if config_entry.state is ConfigEntryState.LOADED:
            assert await hass.config_entries.async_unload(config_entry.entry_id)
            await hass.async_block_till_done()


async def snapshot_entities(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    entry: MockConfigEntry,
) -> None:
    """Every entity of the entry (one platform): its registry entry and its state."""
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
