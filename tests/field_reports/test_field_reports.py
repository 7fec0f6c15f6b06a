"""Field reports become tests (issue 27; docs/field-report.md walks through one). Each report
in this folder is a diagnostics file as a user downloads it; loaded into the emulator, it
makes the emulator answer in the shapes the user's cloud sent, and the test shows that the
client copes with them."""

from __future__ import annotations

from collections.abc import Callable

from botslab_emulator import Emulator
from custom_components.botslab.api import BotslabClient, paths as ep

DOOR = "BDX3A1B2C3D4"


async def test_events_listed_under_list_are_delivered(
    client: BotslabClient, emu: Emulator, replay: Callable[[str], list[str]]
) -> None:
    """message_list_under_list.json: no event ever arrived, though push was up. The report's
    differences: the event list answered its messages under `data.list`, and `data.items`
    was missing (as the device list sometimes answers, docs/protocol/cloud-api.md#devices)."""
    assert ep.MESSAGE_LIST in replay("message_list_under_list.json")
    floor = int(emu.world.now()) - 1
    made = await emu.trigger(DOOR, "ring")
    fresh = [e async for e in client.events_since(set(), floor, page_size=10)]
    assert [e.id for e in fresh] == [made["msg_id"]]
    # and the diagnostics of the fixed client find nothing left to report there
    record = client.endpoints.answers.get(ep.MESSAGE_LIST)
    assert record is not None and record.differences is not None
    assert record.differences.none, record.differences


async def test_the_emulator_offers_the_variant_as_a_knob(
    client: BotslabClient, emu: Emulator
) -> None:
    """The variant the report showed stays tested without the report: `message_list_key`."""
    emu.faults.message_list_key = "list"
    floor = int(emu.world.now()) - 1
    made = await emu.trigger(DOOR, "ring")
    fresh = [e async for e in client.events_since(set(), floor, page_size=10)]
    assert [e.id for e in fresh] == [made["msg_id"]]
