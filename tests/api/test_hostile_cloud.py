"""A hostile cloud: a fake server on loopback answers every endpoint the client uses with
hypothesis-made JSON (wrong types, NaN, infinities, huge numbers, Unicode digits, deep
nesting), huge bodies and lies about their length. Only BotslabError subclasses may leave the
client; one bad item is skipped and counted; memory stays bounded."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
import contextlib
import json
import math
import tracemalloc
from typing import Any

import aiohttp
from aiohttp import web
from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.botslab.api import (
    BotslabClient,
    BotslabError,
    Credentials,
    Device,
    DeviceKind,
    Endpoints,
    Event,
    Identity,
    QucLogin,
    RegionHosts,
    ShareLevel,
)
from custom_components.botslab.api.live import setup as live_setup
from custom_components.botslab.api.models import LiveLicense

# every field name the client reads, so that generated objects reach its parsers
VOCABULARY = [
    "code",
    "msg",
    "message",
    "data",
    "result",
    "devices",
    "list",
    "items",
    "id",
    "msg_id",
    "message_id",
    "sn",
    "tdata",
    "ctime",
    "device_name",
    "product_key",
    "event_type",
    "type",
    "title",
    "image",
    "video",
    "url",
    "secretkey",
    "encrypt",
    "duration",
    "expire_time",
    "extend",
    "nextid",
    "previd",
    "sid",
    "home_sid",
    "push_alias",
    "uid",
    "userid",
    "user_id",
    "qid",
    "report",
    "desired",
    "identifier",
    "value",
    "timestamp",
    "ErrorNO",
    "errno",
    "errmsg",
    "ret",
    "user",
    "q",
    "t",
    "license",
    "product_id",
    "authorization",
    "auth_time",
    "rand_num",
    "secret_keys",
    "secret_interval",
    "percent",
    "progress",
    "upgrade",
    "version",
    "current_version",
    "is_upgrading",
    "size",
    "descriptions",
    "network_type",
    "isp",
    "ip",
    "rssi",
    "latency_ms",
    "loss_pct",
    "is_open",
    "start_time",
    "end_time",
    "event",
    "granted",
    "scope",
    "mtime",
    "level",
    "status",
    "mobile",
    "email",
    "nickname",
    "from_nickname",
    "device_title",
    "online_status",
    "category_key",
    "roles",
    "share_level",
    "bind_ts",
    "commodity_name",
    "start_timestamp",
    "end_timestamp",
    "surplus_second",
    "request_id",
    "due_date",
    "restricted",
    "select",
    "p",
    "ccdata",
    "net",
    "sign",
    "sname",
    "errcode",
    "servers",
    "auth_key",
]

UNICODE_DIGITS = st.sampled_from(["²", "٣", "१२", "１２３", "⑦", "-²", "1e999", "NaN", "1_000"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | UNICODE_DIGITS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(VOCABULARY) | st.text(max_size=4), inner, max_size=6)
    ),
    max_leaves=30,
)
ENVELOPES = st.one_of(
    st.fixed_dictionaries({"code": st.just(0), "data": VALUES}),
    st.fixed_dictionaries({"code": SCALARS, "data": VALUES, "msg": SCALARS}),
    st.dictionaries(st.sampled_from(VOCABULARY), VALUES, max_size=6),
    VALUES,
)


LOGIN = b'{"code": 0, "data": {"sid": "s", "push_alias": "a", "uid": "botslab_1"}}'


class HostileCloud:
    """Every path answers `self.body` (with `self.status` and `self.headers`)."""

    def __init__(self) -> None:
        self.status = 200
        self.body: bytes = b"{}"
        self.headers: dict[str, str] = {}
        self.stream: int = 0  # > 0: stream that many bytes of JSON whitespace instead
        self.by_path: dict[str, bytes] = {}  # answers for paths ending so, before `body`
        self.message_pages: dict[str, bytes] = {}  # the message list's answers by `page`
        self.hits = 0
        self.url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        if self.stream:
            response = web.StreamResponse(headers={"Content-Type": "application/json"})
            await response.prepare(request)
            chunk = b" " * 65536
            with contextlib.suppress(ConnectionError):
                for _ in range(self.stream // len(chunk)):
                    await response.write(chunk)
            return response
        if request.path.endswith("/v2/message/list") and self.message_pages:
            page = self.message_pages.get(request.query.get("page", "1"), b'{"code": 0}')
            return web.Response(body=page)
        body = next((b for p, b in self.by_path.items() if request.path.endswith(p)), self.body)
        return web.Response(status=self.status, body=body, headers=self.headers)

    def endpoints(self) -> Endpoints:
        hosts = RegionHosts(
            f"{self.url}/quc", f"{self.url}/api", f"{self.url}/iot", f"{self.url}/lic", self.url
        )
        return Endpoints(
            region="eu1",
            regions={"eu1": hosts},
            dispatcher_url=f"{self.url}/dispatch",
            # its address, as the emulator's is: media links reach the hostile answers too
            trusted_hosts=("127.0.0.1",),
        )


@pytest.fixture
async def cloud() -> AsyncIterator[HostileCloud]:
    hostile = HostileCloud()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hostile.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hostile.url = f"http://127.0.0.1:{port}"
    yield hostile
    await runner.cleanup()


DEVICE = Device(
    product_key="pk",
    serial="SN1",
    title="Cam",
    product_name="Cam",
    kind=DeviceKind.CAMERA,
    category_key="camera",
    online=True,
    owner=True,
    share_level=ShareLevel.FULL,
)


def calls(client: BotslabClient, cloud: HostileCloud) -> list[Callable[[], Awaitable[Any]]]:
    """One call of each kind the client makes to the cloud."""
    http = client.http_session
    endpoints = client.endpoints
    lic = LiveLicense("pid", "auth", "1", "2")

    async def since() -> list[Event]:
        return [e async for e in client.events_since(set(), 0, max_pages=2)]

    return [
        client.login,
        client.devices,
        lambda: client.properties(DEVICE),
        lambda: client.set_properties(DEVICE, {"PrivacyMode": 1}),
        lambda: client.wake_up(DEVICE),
        lambda: client.take_snapshot(DEVICE),
        lambda: client.camera_keys(DEVICE),
        lambda: client.messages(page_size=5),
        since,
        client.event_types,
        lambda: client.download(f"{cloud.url}/oss/x.jpg"),
        lambda: client.play_url("aliyun://bucket/x.m3u8"),
        lambda: client.cloud_plan(DEVICE),
        lambda: client.share_by_mobile(DEVICE, "4915123456789"),
        lambda: client.share_by_email(DEVICE, "a@example.org"),
        lambda: client.shares(DEVICE),
        lambda: client.cancel_share(1),
        client.invitations,
        lambda: client.accept_invitation(1),
        client.do_not_disturb,
        lambda: client.set_do_not_disturb(True, "22:00", "06:00"),
        lambda: client.device_notifications(DEVICE),
        lambda: client.set_device_notifications(DEVICE, enabled=True),
        lambda: client.snooze(DEVICE, 60),
        client.consents,
        lambda: client.set_consent("marketing", False),
        client.export_data,
        lambda: client.restrict_processing(True),
        lambda: client.request_erasure("1"),
        lambda: client.firmware(DEVICE),
        lambda: client.upgrade_firmware(DEVICE),
        lambda: client.firmware_progress(DEVICE),
        lambda: client.network_test(DEVICE),
        lambda: QucLogin(http, endpoints, client.identity).login("a@example.org", "pw"),
        lambda: live_setup.cloud_control(http, endpoints),
        lambda: live_setup.relay_sign(http, endpoints, lic, "SN1"),
        lambda: live_setup.schedule(
            http,
            endpoints,
            kind=1,
            product_id="pid",
            sn="SN1",
            usign="u",
            sname="s",
            uid="1",
            machine_id="m",
        ),
    ]


def make_client(http: aiohttp.ClientSession, cloud: HostileCloud) -> BotslabClient:
    credentials = Credentials(q="u%3D1", t="s%3D1", qid="1", region="eu1")
    return BotslabClient(http, cloud.endpoints(), Identity.generate(), credentials, timeout=5)


async def only_botslab_errors(client: BotslabClient, cloud: HostileCloud) -> None:
    try:
        for call in calls(client, cloud):
            try:
                result = await call()
            except BotslabError:
                continue
            # whatever came back is made of plain values: no NaN or infinity sneaks through
            assert not _has_nan(result), result
    finally:
        await client.close()  # its own session for media hosts


def _has_nan(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if hasattr(value, "__dataclass_fields__"):
        return any(_has_nan(getattr(value, f)) for f in value.__dataclass_fields__)
    if isinstance(value, dict):
        return any(_has_nan(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_has_nan(v) for v in value)
    return False


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.slow(seconds=20)
@given(answer=ENVELOPES, signed_in=st.booleans())
async def test_any_json_answer_gives_a_result_or_a_botslab_error(
    cloud: HostileCloud, answer: Any, signed_in: bool
) -> None:
    """signed_in: the app login works and every other call meets the hostile answer."""
    cloud.body = json.dumps(answer, allow_nan=True).encode()
    cloud.by_path = {"/v1/app/login": LOGIN} if signed_in else {}
    async with aiohttp.ClientSession() as http:
        await only_botslab_errors(make_client(http, cloud), cloud)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"code": 0, "data": ' * 50_000 + b"0" + b"}" * 50_000,
        b'{"code": 0, "data": {"devices": [{"product_key": "pk", "device_name": "'
        + b"9" * 10_000
        + b'"}]}}',
        b'{"code": 1e999, "data": 1e999}',
        b'{"code": NaN, "data": {"percent": NaN}}',
        b'{"code": "\xc2\xb2", "data": {"result": "{\\"ErrorNO\\": \\"\xc2\xb2\\"}"}}',
        b'{"code": 0, "data": {"items": [{"id": 1, "tdata": {"ctime": 1e999}}, '
        b'{"id": 2, "tdata": {"ctime": "NaN"}}, {"id": 3, "tdata": {"ctime": 1000000000000000}}]}}',
        b"\xff\xfe not even text",
    ],
    ids=[
        "deep-list",
        "deep-object",
        "huge-number",
        "infinity",
        "nan",
        "unicode-digits",
        "bad-ctimes",
        "binary",
    ],
)
async def test_named_hostile_answers(cloud: HostileCloud, body: bytes) -> None:
    cloud.body = body
    cloud.by_path = {"/v1/app/login": LOGIN}
    async with aiohttp.ClientSession() as http:
        await only_botslab_errors(make_client(http, cloud), cloud)


async def test_one_bad_message_is_skipped_and_counted(cloud: HostileCloud) -> None:
    good = {
        "id": "ok",
        "tdata": {"device_name": "SN1", "event_type": "dsl.event.post.Pet", "ctime": 1700000000},
    }
    bad = [
        {"id": 1, "tdata": {"ctime": 1e308 * 10}},
        {"id": 2, "tdata": {"ctime": -5}},
        {"id": 3, "tdata": "{not json"},
        {"id": {"not": "an id"}, "tdata": {"ctime": 1}},
    ]
    cloud.body = json.dumps({"code": 0, "data": {"items": [*bad, good]}}).encode()
    cloud.by_path["/v1/app/login"] = LOGIN
    async with aiohttp.ClientSession() as http:
        client = make_client(http, cloud)
        page = await client.messages()
    assert [e.id for e in page.events] == ["ok"] and client.skipped == len(bad)


async def test_a_bad_message_does_not_end_a_walk(cloud: HostileCloud) -> None:
    """A full page with one bad item is still a full page: the walk reads on to the id it has
    seen, and loses none of the good events behind the bad one."""

    def item(msg_id: str, ctime: int = 1700000000) -> dict[str, Any]:
        return {"id": msg_id, "tdata": {"device_name": "SN1", "event_type": "x", "ctime": ctime}}

    pages = [
        [item("e6"), item("e5"), item("bad", ctime=-1), item("e4"), item("e3")],
        [item("e2"), item("e1"), item("old"), item("older")],
    ]
    cloud.message_pages = {
        str(n): json.dumps({"code": 0, "data": {"items": items}}).encode()
        for n, items in enumerate(pages, 1)
    }
    cloud.by_path["/v1/app/login"] = LOGIN
    async with aiohttp.ClientSession() as http:
        client = make_client(http, cloud)
        fresh = [
            e.id
            async for e in client.events_since(
                {"old", "older"}, 1700000000, page_size=5, wide_page_size=5
            )
        ]
    assert fresh == ["e1", "e2", "e3", "e4", "e5", "e6"] and client.skipped == 1


@pytest.mark.parametrize("declared", [True, False])
async def test_answers_have_a_size_limit(cloud: HostileCloud, declared: bool) -> None:
    """A 96 MB device list was accepted once, with a 192 MB peak: now the client stops at
    4 MB, by Content-Length when declared, while reading when not."""
    if declared:
        cloud.body = b" " * (5 * 1024 * 1024) + b"{}"
    else:
        cloud.stream = 40 * 1024 * 1024
    tracemalloc.start()
    try:
        async with aiohttp.ClientSession() as http:
            client = make_client(http, cloud)
            with pytest.raises(BotslabError):
                await client.devices()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < (24 if declared else 16) * 1024 * 1024, peak
