"""Never stricter than the working public client (docs/protocol/accepted.md#messages): messages and
lists as they come, and guessed endpoints that cannot take the account down. Against the emulator's
knobs for each variant, or a fake cloud where the emulator has no reason to send it."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest

from botslab_emulator import Emulator
from botslab_emulator.seed import TRAVELLER_USER
from custom_components.botslab.api import (
    ApiError,
    AuthExpired,
    BotslabClient,
    Endpoints,
    Event,
    FeatureUnavailable,
)

from .conftest import make_client
from .test_hostile_cloud import LOGIN, HostileCloud, cloud, make_client as make_fake_client  # noqa: F401 - the fixture

DOOR = "BDX3A1B2C3D4"


async def _fresh(client: BotslabClient, seen: set[str], floor: int) -> list[Event]:
    return [e async for e in client.events_since(seen, floor, page_size=10)]


async def test_messages_without_tdata_are_delivered(client: BotslabClient, emu: Emulator) -> None:
    emu.faults.message_form = "flat"
    floor = int(emu.world.now()) - 1
    made = await emu.trigger(DOOR, "ring")
    fresh = await _fresh(client, set(), floor)
    assert [e.id for e in fresh] == [made["msg_id"]]
    event = fresh[0]
    assert event.serial == DOOR and event.kind.value == "ring" and event.image is not None
    assert event.ctime >= floor


async def test_messages_without_an_id_get_a_stable_one(
    client: BotslabClient, emu: Emulator
) -> None:
    emu.faults.message_form = "no_id"
    floor = int(emu.world.now()) - 1
    await emu.trigger(DOOR, "ring")
    await emu.trigger(DOOR, "motion")
    first = await _fresh(client, set(), floor)
    assert len(first) == 2 and len({e.id for e in first}) == 2
    assert all(e.id.startswith("h") for e in first)
    # listed again (with freshly signed image links): the same ids, so nothing is new
    again = await _fresh(client, set(), floor)
    assert [e.id for e in again] == [e.id for e in first]
    assert await _fresh(client, {e.id for e in first}, floor) == []


async def test_millisecond_times_are_converted(client: BotslabClient, emu: Emulator) -> None:
    emu.faults.message_form = "ctime_ms"
    made = await emu.trigger(DOOR, "ring")
    page = await client.messages(page_size=5)
    event = next(e for e in page.events if e.id == made["msg_id"])
    assert event.ctime == emu.world.messages.by_id[made["msg_id"]].ctime


async def test_a_time_far_in_the_future_counts_as_now(client: BotslabClient, emu: Emulator) -> None:
    """One message dated 2242 would hold a device's newest event (and the catch-up floor)
    for good; it counts as the time it is read."""
    made = await emu.trigger(DOOR, "ring", ctime=2**33 - 1)
    before = time.time()
    page = await client.messages(page_size=5)
    event = next(e for e in page.events if e.id == made["msg_id"])
    assert before - 1 <= event.ctime <= time.time() + 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1_700_000_000, 1_700_000_000),
        (1_700_000_000_123, 1_700_000_000),
        ("1700000000", 1_700_000_000),
    ],
)
def test_event_times(raw: object, expected: int) -> None:
    event = Event.from_api({"id": "x", "tdata": {"ctime": raw}})
    assert event.ctime == expected


async def test_an_account_without_a_device_list_key_is_empty(
    http: aiohttp.ClientSession, endpoints: Endpoints, emu: Emulator
) -> None:
    emu.faults.empty_device_list = "omitted"
    client = await make_client(http, endpoints.with_region("na1"), TRAVELLER_USER, "traveller-demo")
    assert await client.devices() == []
    assert emu.counters.requests["/api/na1/v1/iot/device/list"] == 1


async def test_a_float_code_is_a_code(cloud: HostileCloud) -> None:  # noqa: F811
    async with aiohttp.ClientSession() as http:
        cloud.by_path = {
            "/v1/app/login": LOGIN,
            "/v1/iot/device/list": json.dumps(
                {"code": 0.0, "data": {"devices": [{"product_key": "pk", "device_name": "SN1"}]}}
            ).encode(),
        }
        client = make_fake_client(http, cloud)
        assert [d.serial for d in await client.devices()] == ["SN1"]
        cloud.by_path["/v1/iot/device/list"] = b'{"code": 202101.0, "msg": "no"}'
        with pytest.raises(ApiError) as err:
            await client.devices()
        assert err.value.code == 202101


@pytest.mark.parametrize(("code", "status"), [(100003, 200), (102008, 200), (404, 404), (404, 200)])
async def test_a_guessed_endpoint_never_ends_the_session(
    client: BotslabClient, emu: Emulator, code: int, status: int
) -> None:
    """do-not-disturb is [modelled]: its "sign in again" or "no such path" makes only that
    feature unavailable. The same code from a [seen] endpoint still ends the session."""
    emu.faults.code_path, emu.faults.code_answer = "/api/eu1/v1/push/dnd", code
    emu.faults.code_status = status
    with pytest.raises(FeatureUnavailable) as err:
        await client.do_not_disturb()
    assert err.value.feature == "do_not_disturb" and err.value.code == code
    assert not isinstance(err.value, AuthExpired)
    assert await client.devices()  # the session is fine
    if code != 404:
        emu.faults.code_path = "/api/eu1/v1/iot/device/list"
        with pytest.raises(AuthExpired):
            await client.devices()


async def test_a_guessed_endpoint_without_json_is_unavailable_too(
    client: BotslabClient, emu: Emulator
) -> None:
    emu.faults.errors_left, emu.faults.error_status = 1, 404
    emu.faults.error_path = "/api/eu1/v1/user/privacy/consent"
    with pytest.raises(FeatureUnavailable) as err:
        await client.consents()
    assert err.value.feature == "consents"


async def test_t_is_not_checked_while_the_session_is_valid(
    client: BotslabClient, emu: Emulator
) -> None:
    """The working client's live engine sends T={} and works on the real cloud
    (docs/protocol/accepted.md#messages): the emulator must not be stricter."""
    await client.login()
    # a T the cloud never gave, with the valid session id
    client._credentials = type(client.credentials)(
        q=client.credentials.q, t="{}", qid=client.credentials.qid, region="eu1"
    )
    assert await client.devices()
    emu.faults.check_t_with_sid = True
    with pytest.raises(AuthExpired):
        await client.devices()


async def test_a_message_listed_late_is_found_below_newer_ones(
    client: BotslabClient, emu: Emulator
) -> None:
    """Push before list (docs/protocol/accepted.md#push-before-list): a message the list shows only
    after newer ones were delivered sits below them. The rest of the page is looked at always; a
    deep walk (after a start, or when a push's message was not found) goes on past the first seen
    id."""
    floor0 = int(emu.world.now()) - 1
    emu.faults.push_before_list_ms = 2000
    late = (await emu.trigger(DOOR, "ring"))["msg_id"]
    emu.faults.push_before_list_ms = 0
    newer = [(await emu.trigger(DOOR, "motion"))["msg_id"] for _ in range(3)]
    first = await _fresh(client, set(), floor0)
    assert [e.id for e in first] == newer
    seen, floor = set(newer), max(e.ctime for e in first)
    emu.world.clock_offset += 3  # now the list shows it, below the three
    assert [e.id for e in await _fresh(client, seen, floor)] == [late], "the rest of the page"
    # under a page of newer, delivered messages only a deep walk finds it; history below
    # (older than the look back) is never taken for a late message
    old = emu.world.messages.trigger(DOOR, "ring", ctime=floor - 1000, push=False)["msg_id"]
    emu.faults.push_before_list_ms = 2000
    buried = (await emu.trigger(DOOR, "ring"))["msg_id"]
    emu.faults.push_before_list_ms = 0
    newer = [(await emu.trigger(DOOR, "motion"))["msg_id"] for _ in range(12)]
    seen |= {late, *newer}
    emu.world.clock_offset += 3
    assert await _fresh(client, seen, floor) == []
    deep = [e.id async for e in client.events_since(seen, floor, page_size=10, below=50)]
    assert deep == [buried] and old not in deep
