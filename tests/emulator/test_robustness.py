"""Bad input never crashes or hangs the emulator (property-based)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import tracemalloc

import aiohttp
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from botslab_emulator import Emulator, crypto, pushserver
from botslab_emulator.mpegts import TsError, TsLayout

from .conftest import USER, World


@given(st.text(max_size=300))
def test_b64_decoder_raises_only_its_own_error(text: str) -> None:
    with contextlib.suppress(crypto.EnvelopeError):
        crypto.b64decode_loose(text)


@given(st.binary(max_size=200), st.binary(min_size=8, max_size=8))
def test_des_decrypt_raises_only_its_own_error(data: bytes, key: bytes) -> None:
    with contextlib.suppress(crypto.EnvelopeError):
        crypto.des_decrypt(data, key)


@given(st.binary(max_size=300))
def test_rsa_key_field_raises_only_its_own_error(data: bytes) -> None:
    pair = _PAIR
    with contextlib.suppress(crypto.EnvelopeError):
        pair.decrypt_key_string(base64.b64encode(data).decode())


_PAIR = crypto.QucKeyPair.generate()


def test_rsa_block_above_the_modulus_is_an_envelope_error() -> None:
    import pytest

    too_large = base64.b64encode(b"\xff" * 128).decode()  # > any 1024-bit modulus
    with pytest.raises(crypto.EnvelopeError):
        _PAIR.decrypt_key_string(too_large)


@given(st.binary(max_size=2000))
def test_ts_parser_raises_only_its_own_error(data: bytes) -> None:
    with contextlib.suppress(TsError):
        TsLayout(bytes(data) + bytes(-len(data) % 188))


@given(st.binary(max_size=600))
def test_push_props_parser(data: bytes) -> None:
    with contextlib.suppress(pushserver.FrameError):
        pushserver.parse_props(data)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(min_size=1, max_size=300))
async def test_random_push_bytes_never_hang(emu: Emulator, data: bytes) -> None:
    reader, writer = await asyncio.open_connection(emu.push.host, emu.push.port)
    writer.write(data)
    writer.write_eof()
    try:
        await asyncio.wait_for(reader.read(), 12)
    finally:
        writer.close()
        await writer.wait_closed()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    form=st.dictionaries(
        st.sampled_from(["method", "parad", "key", "from", "sig", "x"]), st.text(max_size=200)
    )
)
async def test_random_quc_forms_get_an_errno(
    emu: Emulator, http: aiohttp.ClientSession, form: dict[str, str]
) -> None:
    async with http.post(emu.quc_url("eu1"), data=form) as resp:
        assert resp.status == 200
        assert (await resp.json(content_type=None))["errno"] != 0


async def test_malformed_api_input(world: World, http: aiohttp.ClientSession) -> None:
    api = world.alice
    async with http.post(
        api.api_url + "/v1/iot/device/set_property",
        params=api.query(),
        headers=api.headers(),
        data=b"\xff\xfe\x00",
    ) as resp:
        assert (await resp.json())["code"] == 200001
    async with http.post(
        api.api_url + "/v1/iot/device/set_property",
        params=api.query(),
        headers=api.headers(),
        json=[1, 2],
    ) as resp:
        assert (await resp.json())["code"] == 200001
    async with http.post(
        api.api_url + "/v1/push/dnd",
        params=api.query(),
        headers=api.headers(),
        data="x=" + "a" * 70_000,
    ) as resp:
        assert (await resp.json())["code"] == 200001
    assert (await api.get(http, "/v2/message/list", {"page": "abc"}))["code"] == 200001
    assert (await api.get(http, "/v2/message/list", {"page_size": 0}))["code"] == 200001
    headers = {"Authorization": "jws !!!not-base64"}
    async with http.get(
        api.api_url + "/v1/iot/device/list", params=api.query(), headers=headers
    ) as resp:
        assert (await resp.json())["code"] == 100003


@pytest.mark.slow(seconds=7)
async def test_memory_stays_bounded_under_many_bad_connections(emu: Emulator) -> None:
    async def one() -> None:
        reader, writer = await asyncio.open_connection(emu.push.host, emu.push.port)
        writer.write(b"\x00\x05\x00\x02\xff\xff" + b"A" * 1000)
        await asyncio.wait_for(reader.read(), 5)
        writer.close()
        await writer.wait_closed()

    # what the emulator keeps, not what the test harness does: its debug-mode loop stores a
    # traceback per callback, and log capture keeps every record
    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(False)
    emulator_log = logging.getLogger("botslab_emulator")
    level = emulator_log.level
    emulator_log.setLevel(logging.WARNING)  # the harness's log capture keeps each debug record
    emulator_code = [tracemalloc.Filter(True, "*botslab_emulator*", all_frames=True)]
    try:
        await asyncio.gather(*(one() for _ in range(20)))
        tracemalloc.start(30)
        before = tracemalloc.take_snapshot().filter_traces(emulator_code)
        for _ in range(10):
            await asyncio.gather(*(one() for _ in range(20)))
        after = tracemalloc.take_snapshot().filter_traces(emulator_code)
        tracemalloc.stop()
    finally:
        loop.set_debug(debug)
        emulator_log.setLevel(level)
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert grown < 512 * 1024, grown
    assert not emu.push.conns


async def test_message_store_is_bounded(world: World) -> None:
    from botslab_emulator.world import messages as world_mod

    world_mod_limit = world_mod.MAX_MESSAGES_PER_ACCOUNT
    world_mod.MAX_MESSAGES_PER_ACCOUNT = 50
    try:
        for _ in range(80):
            world.emu.world.messages.trigger(world.cam, "motion", push=False)
    finally:
        world_mod.MAX_MESSAGES_PER_ACCOUNT = world_mod_limit
    acc = world.emu.world.accounts.find(USER)
    assert acc is not None and len(world.emu.world.messages.boxes[acc.qid]) == 50


@pytest.mark.parametrize(
    "host",
    [
        "rebind.attacker.example",
        "rebind.attacker.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "127.0.0.1:1",
        "127.0.0.1",
        "localhost:{port}0",
        "",
    ],
)
async def test_control_api_refuses_other_hosts(emu: Emulator, host: str) -> None:
    """DNS rebinding: a page whose name now points at 127.0.0.1 reaches the emulator from
    the browser of the same machine, but its requests still name its own host."""
    before = (emu.faults.errors_left, emu.world.clock_offset)
    # none at all: newer aiohttp refuses the request itself (400) before any handler
    refused = {403, 400} if not host else {403}
    status = await _raw_status(emu, "GET", "/_emulator/config", host.format(port=emu.port))
    assert status in refused
    status = await _raw_status(
        emu, "POST", "/_emulator/faults", host.format(port=emu.port), b'{"errors_left": 5}'
    )
    assert status in refused
    assert (emu.faults.errors_left, emu.world.clock_offset) == before, "nothing changed"


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}"])
async def test_control_api_answers_loopback_hosts(emu: Emulator, host: str) -> None:
    assert await _raw_status(emu, "GET", "/_emulator/config", host.format(port=emu.port)) == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
async def test_control_api_refuses_what_a_cross_site_form_can_send(
    emu: Emulator, content_type: str | None
) -> None:
    """A form or a no-cors fetch of another site may POST text/plain, a form, or nothing
    declared, without a CORS preflight: only a JSON body (which needs one) is taken."""
    host = f"127.0.0.1:{emu.port}"
    body = b'{"errors_left": 5}'
    assert await _raw_status(emu, "POST", "/_emulator/faults", host, body, content_type) == 415
    assert await _raw_status(emu, "POST", "/_emulator/push/drop", host, b"", content_type) == 415
    assert (
        await _raw_status(
            emu, "POST", "/_emulator/kick?username=demo%40botslab.local", host, b"", content_type
        )
        == 415
    )
    assert emu.faults.errors_left == 0, "nothing changed"
    ok = await _raw_status(emu, "POST", "/_emulator/push/drop", host, b"{}", "application/json")
    assert ok == 200


async def _raw_status(  # noqa: PLR0917
    emu: Emulator,
    method: str,
    path: str,
    host: str,
    body: bytes = b"",
    content_type: str | None = "application/json",
) -> int:
    """The status of a request written byte for byte (aiohttp would fix the Host header)."""
    reader, writer = await asyncio.open_connection(emu.host, emu.port)
    head = f"{method} {path} HTTP/1.1\r\n"
    if host:
        head += f"Host: {host}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    writer.write(head.encode() + body)
    try:
        async with asyncio.timeout(10):
            status = await reader.readline()
    finally:
        writer.close()
    return int(status.split()[1])


@pytest.mark.parametrize("path", ["/_emulator/state", "/_emulator/config"])
async def test_control_api_answers_json(
    emu: Emulator, http: aiohttp.ClientSession, path: str
) -> None:
    async with http.get(emu.base_url + path) as resp:
        assert resp.status == 200 and isinstance(await resp.json(), dict)
    async with http.post(
        emu.base_url + "/_emulator/trigger",
        data=b"{bad json",
        headers={"Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
    async with http.post(
        emu.base_url + "/_emulator/trigger", json={"device_name": "nope", "event_type": "ring"}
    ) as resp:
        assert resp.status == 400
