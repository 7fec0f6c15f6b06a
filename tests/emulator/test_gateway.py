"""The sapp-api gateway: checks, session rules and every endpoint (docs/protocol/cloud-api.md)."""

from __future__ import annotations

import time

import aiohttp

from .conftest import OTHER, PASSWORD, USER, World, logged_in
from .wire import ApiCaller


async def test_sign_checks(world: World, http: aiohttp.ClientSession) -> None:
    api = world.alice
    assert (await api.get(http, "/v1/iot/device/list"))["code"] == 0
    assert (await api.get(http, "/v1/iot/device/list", bad_sign=True))["code"] == 1001
    assert (await api.get(http, "/v1/iot/device/list", sign_ts=int(time.time()) - 3600))[
        "code"
    ] == 1001
    assert (await api.get(http, "/v1/iot/device/list", sign_no="shortnonce"))["code"] == 1001
    nonce = "abcdefghijABCDEFGHIJ"
    assert (await api.get(http, "/v1/iot/device/list", sign_no=nonce))["code"] == 0
    assert (await api.get(http, "/v1/iot/device/list", sign_no=nonce))["code"] == 1001, "replay"


async def test_variants_of_m2_nonce_and_jws(world: World, http: aiohttp.ClientSession) -> None:
    api = ApiCaller(
        world.alice.api_url,
        world.alice.q,
        world.alice.t,
        m2="123e4567-e89b-12d3-a456-426614174000",
        spaces=True,
        hex_nonce=True,
    )
    api.sid = world.alice.sid
    assert (await api.get(http, "/v1/iot/device/list"))["code"] == 0


async def test_auth_ladder(world: World, http: aiohttp.ClientSession) -> None:
    emu, api = world.emu, world.alice
    # no header at all, a garbled one, unknown tokens
    anon = ApiCaller(api.api_url)
    assert (await anon.get(http, "/v1/iot/device/list"))["code"] == 100003
    garbled = ApiCaller(api.api_url, "u=1", "nope")
    assert (await garbled.get(http, "/v1/iot/device/list"))["code"] == 100003
    # Q/T of eu1 are unknown to another region's gateway
    elsewhere = ApiCaller(emu.api_url("na1"), api.q, api.t)
    assert (await elsewhere.app_login(http))["code"] == 100003
    # no sid yet
    fresh = ApiCaller(api.api_url, api.q, api.t)
    assert (await fresh.get(http, "/v1/iot/device/list"))["code"] == 1015
    # sid expiry -> 1015, a new app login fixes it
    await http.post(f"{emu.base_url}/_emulator/expire", json={"username": USER, "what": "sid"})
    assert (await api.get(http, "/v1/iot/device/list"))["code"] == 1015
    assert (await api.app_login(http))["code"] == 0
    assert (await api.get(http, "/v1/iot/device/list"))["code"] == 0
    # the phone app logs in: our session is stolen
    await http.post(f"{emu.base_url}/_emulator/kick", json={"username": USER})
    answer = await api.get(http, "/v1/iot/device/list")
    assert answer["code"] == 102003 and answer["msg"]
    assert (await api.app_login(http))["code"] == 0, "logging in again takes the session back"
    assert (await api.get(http, "/v1/iot/device/list"))["code"] == 0
    # a second login of ours steals from the first
    other = ApiCaller(api.api_url, api.q, api.t)
    assert (await other.app_login(http))["code"] == 0
    assert (await api.get(http, "/v1/iot/device/list"))["code"] == 102003
    assert (await other.get(http, "/v1/iot/device/list"))["code"] == 0
    # session timeout and Q/T expiry
    await http.post(f"{emu.base_url}/_emulator/expire", json={"username": USER, "what": "timeout"})
    assert (await other.get(http, "/v1/iot/device/list"))["code"] == 102008
    await http.post(f"{emu.base_url}/_emulator/expire", json={"username": USER, "what": "qt"})
    relogged = await logged_in(emu, http, USER, PASSWORD)
    assert (await relogged.get(http, "/v1/iot/device/list"))["code"] == 0


async def test_device_list_and_paging(world: World, http: aiohttp.ClientSession) -> None:
    emu, api = world.emu, world.alice
    alice = emu.world.accounts.find(USER)
    assert alice is not None
    for i in range(53):
        emu.world.devices.add(
            alice.qid, title=f"Cam {i}", category_key="camera", product_name="Indoor Camera C2"
        )
    first = await api.get(http, "/v1/iot/device/list", {"page": 1, "page_size": 50})
    second = await api.get(http, "/v1/iot/device/list", {"page": 2, "page_size": 50})
    assert len(first["data"]["devices"]) == 50 and len(second["data"]["devices"]) == 5
    names = {d["device_name"] for d in first["data"]["devices"] + second["data"]["devices"]}
    assert len(names) == 55 and world.cam in names and world.door in names
    door = next(
        d
        for d in first["data"]["devices"] + second["data"]["devices"]
        if d["device_name"] == world.door
    )
    assert (
        door["category_key"] == "doorbell"
        and door["roles"] == "owner"
        and door["online_status"] == "online"
    )
    assert {
        "product_key",
        "device_title",
        "product_name",
        "bind_ts",
        "category_name",
        "product_logo",
    } <= door.keys()
    await http.post(f"{emu.base_url}/_emulator/faults", json={"device_list_key": "list"})
    assert "list" in (await api.get(http, "/v1/iot/device/list"))["data"]
    assert (await api.get(http, "/v1/iot/device/list", {"page_size": 500}))["code"] == 200001
    # bob sees nothing of alice's
    assert (await world.bob.get(http, "/v1/iot/device/list"))["data"]["list"] == []


async def test_properties_and_commands(world: World, http: aiohttp.ClientSession) -> None:
    api, cam = world.alice, {"product_key": world.cam_pk, "device_name": world.cam}
    props = (await api.get(http, "/v1/iot/device/get_desired_property", cam))["data"]
    report = {p["identifier"]: p for p in props["report"]}
    assert (
        report["NightVisionMode"]["value"] == 0 and report["NightVisionMode"]["timestamp"].isdigit()
    )
    answer = await api.post(
        http,
        "/v1/iot/device/set_property",
        {**cam, "items": {"NightVisionMode": 2, "PrivacyMode": 1}},
    )
    assert answer["code"] == 0
    props = (await api.get(http, "/v1/iot/device/get_desired_property", cam))["data"]
    assert {p["identifier"]: p["value"] for p in props["desired"]} == {
        "NightVisionMode": 2,
        "PrivacyMode": 1,
    }
    assert {p["identifier"]: p["value"] for p in props["report"]}["PrivacyMode"] == 1
    for bad in ({"NightVisionMode": 7}, {"NightVisionMode": "2"}, {"WifiRssi": 1}, {"Nope": 1}):
        assert (await api.post(http, "/v1/iot/device/set_property", {**cam, "items": bad}))[
            "code"
        ] in (200001, 201003)
    assert (await api.post(http, "/v1/iot/device/set_property", {**cam, "items": "[1"}))[
        "code"
    ] == 200001
    unknown = {"product_key": world.cam_pk, "device_name": "NOPE"}
    assert (await api.get(http, "/v1/iot/device/get_desired_property", unknown))["code"] == 201001
    # services
    door = {"product_key": world.door_pk, "device_name": world.door}
    asleep = await api.post(
        http, "/v1/iot/device/invoke_service", {**door, "identifier": "TakeSnapshot", "input": "{}"}
    )
    assert '"ErrorNO": 10' in asleep["data"]["result"]
    woke = await api.post(
        http, "/v1/iot/device/invoke_service", {**door, "identifier": "WakeUp", "input": "{}"}
    )
    assert woke["code"] == 0 and '"ErrorNO": 0' in woke["data"]["result"]
    snap = await api.post(
        http, "/v1/iot/device/invoke_service", {**door, "identifier": "TakeSnapshot"}
    )
    import json

    url = json.loads(snap["data"]["result"])["url"]
    async with http.get(url) as resp:
        assert resp.status == 200 and (await resp.read())[:2] == b"\xff\xd8"
    assert (await api.post(http, "/v1/iot/device/invoke_service", {**cam, "identifier": "Reboot"}))[
        "code"
    ] == 0
    assert (
        await api.post(http, "/v1/iot/device/invoke_service", {**cam, "identifier": "SelfDestruct"})
    )["code"] == 201003
    await http.post(f"{world.emu.base_url}/_emulator/devices/{world.cam}", json={"online": False})
    assert (await api.post(http, "/v1/iot/device/invoke_service", {**cam, "identifier": "Reboot"}))[
        "code"
    ] == 201002
    listed = await api.get(http, "/v1/iot/device/list")
    assert {d["device_name"]: d["online_status"] for d in listed["data"]["devices"]}[
        world.cam
    ] == "offline"


async def test_messages_paging_and_filters(world: World, http: aiohttp.ClientSession) -> None:
    emu, api = world.emu, world.alice
    ids = []
    for i in range(25):
        ids.append(
            (
                await emu.trigger(
                    world.cam, "motion" if i % 2 else "person", ctime=1_700_000_000 + i
                )
            )["msg_id"]
        )
    first = (await api.get(http, "/v2/message/list", {"page": 1, "page_size": 10}))["data"]
    assert [m["id"] for m in first["items"]] == ids[::-1][:10], "newest first"
    assert first["previd"] == ids[-1] and first["nextid"] == ids[-10]
    second = (
        await api.get(http, "/v2/message/list", {"nextid": first["nextid"], "page_size": 10})
    )["data"]
    assert [m["id"] for m in second["items"]] == ids[::-1][10:20]
    third = (await api.get(http, "/v2/message/list", {"page": 3, "page_size": 10}))["data"]
    assert [m["id"] for m in third["items"]] == ids[::-1][20:] and third["nextid"] == ""
    assert not any(i.isdigit() for i in ids) and sorted(ids) != ids, "opaque, not in order"
    item = first["items"][0]
    tdata = item["tdata"]
    assert tdata["device_name"] == world.cam and tdata["product_key"] == world.cam_pk
    assert tdata["event_type"] == "dsl.event.post.PictureChange" or tdata["event_type"].startswith(
        "dsl.event.post."
    )
    assert (
        tdata["image"]["url"].startswith("http://127.0.0.1") and tdata["image"]["encrypt"] == "none"
    )
    assert tdata["video"]["url"].startswith("aliyun://") and tdata["video"]["encrypt"] == "none"
    persons = (
        await api.get(
            http, "/v2/message/list", {"event_type": "dsl.event.post.HumanPass", "page_size": 100}
        )
    )["data"]
    assert len(persons["items"]) == 13
    day = (await api.get(http, "/v2/message/list", {"date": "2023-11-14", "page_size": 100}))[
        "data"
    ]
    assert len(day["items"]) == 25
    assert (await api.get(http, "/v2/message/list", {"date": "yesterday"}))["code"] == 200001
    by_dev = (await api.get(http, "/v2/message/list", {"device_name": world.door}))["data"]
    assert by_dev["items"] == []
    limit = (await api.get(http, "/v2/message/list", {"limit": 3}))["data"]
    assert len(limit["items"]) == 3
    cat = await api.get(http, "/v2/config/event_type", {"product_key": world.door_pk})
    assert cat["code"] == 0 and "message" in cat and "result" in cat
    types = {s["event_type"] for s in cat["result"]["select"]}
    assert "dsl.event.post.DoorbellRing" in types and "dsl.event.post.Parcel" in types


async def test_unknown_event_types_pass_through(world: World, http: aiohttp.ClientSession) -> None:
    await world.emu.trigger(world.cam, "dsl.event.post.SomethingNew")
    item = (await world.alice.get(http, "/v2/message/list"))["data"]["items"][0]
    assert item["tdata"]["event_type"] == "dsl.event.post.SomethingNew" and item["tname"] == "other"


async def test_sharing(world: World, http: aiohttp.ClientSession) -> None:
    alice, bob, emu = world.alice, world.bob, world.emu
    cam = {"product_key": world.cam_pk, "device_name": world.cam}
    assert (await alice.post(http, "/v1/iot/share/by_mobile", {**cam, "mobile": "4915111111111"}))[
        "code"
    ] == 202102
    assert (await alice.post(http, "/v1/iot/share/by_email", {**cam, "email": USER}))[
        "code"
    ] == 202102
    assert (await alice.post(http, "/v1/iot/share/by_mobile", {**cam, "mobile": "01x"}))[
        "code"
    ] == 200001
    assert (await alice.post(http, "/v1/iot/share/by_email", {**cam, "email": "not-an-email"}))[
        "code"
    ] == 200001
    assert (await alice.post(http, "/v1/iot/share/by_email", {**cam, "email": OTHER, "level": 9}))[
        "code"
    ] == 200001
    shared = await alice.post(http, "/v1/iot/share/by_email", {**cam, "email": OTHER, "level": 1})
    assert shared["code"] == 0 and shared["data"]["status"] == 1
    stranger = await alice.post(
        http, "/v1/iot/share/by_mobile", {**cam, "mobile": "4917000000000", "level": 2}
    )
    assert stranger["code"] == 0 and stranger["data"]["status"] == 1
    listed = (await alice.get(http, "/v1/iot/share/list", cam))["data"]["items"]
    assert {s.get("email") or s.get("mobile") for s in listed} == {OTHER, "4917000000000"}
    # bob sees an invitation, not yet the device
    pending = (await bob.get(http, "/v1/iot/share/pending"))["data"]["items"]
    assert len(pending) == 1 and pending[0]["device_title"] == "Garden" and pending[0]["level"] == 1
    assert (await bob.get(http, "/v1/iot/device/list"))["data"]["devices"] == []
    assert (await bob.post(http, "/v1/iot/share/accept", {"id": 999999}))["code"] == 202103
    assert (await bob.post(http, "/v1/iot/share/accept", {"id": pending[0]["id"]}))["code"] == 0
    devices = (await bob.get(http, "/v1/iot/device/list"))["data"]["devices"]
    assert [d["device_name"] for d in devices] == [world.cam] and devices[0]["roles"] != "owner"
    # a view-only share cannot write, share or see the share list
    assert (
        await bob.post(http, "/v1/iot/device/set_property", {**cam, "items": {"PrivacyMode": 1}})
    )["code"] == 202101
    assert (await bob.post(http, "/v1/iot/share/by_mobile", {**cam, "mobile": "4917000000001"}))[
        "code"
    ] == 202101
    assert (await bob.get(http, "/v1/iot/share/list", cam))["code"] == 202101
    # events reach the shared user too
    await emu.trigger(world.cam, "person")
    assert len((await bob.get(http, "/v2/message/list"))["data"]["items"]) == 1
    # level up: control now allowed
    await alice.post(http, "/v1/iot/share/by_email", {**cam, "email": OTHER, "level": 2})
    assert (
        await bob.post(http, "/v1/iot/device/set_property", {**cam, "items": {"PrivacyMode": 1}})
    )["code"] == 0
    # cancel
    assert (await alice.post(http, "/v1/iot/share/cancel", {"id": 424242}))["code"] == 202103
    assert (await alice.post(http, "/v1/iot/share/cancel", {"id": pending[0]["id"]}))["code"] == 0
    assert (await bob.get(http, "/v1/iot/device/list"))["data"]["devices"] == []
    # refuse
    again = await alice.post(http, "/v1/iot/share/by_email", {**cam, "email": OTHER})
    assert (await bob.post(http, "/v1/iot/share/refuse", {"id": again["data"]["id"]}))["code"] == 0
    assert (await bob.get(http, "/v1/iot/share/pending"))["data"]["items"] == []


async def test_notifications(world: World, http: aiohttp.ClientSession) -> None:
    api = world.alice
    dnd = (await api.get(http, "/v1/push/dnd"))["data"]
    assert dnd == {"is_open": 0, "start_time": "22:00", "end_time": "07:00"}
    assert (
        await api.post(
            http, "/v1/push/dnd", {"is_open": 1, "start_time": "23:30", "end_time": "06:15"}
        )
    )["code"] == 0
    assert (await api.get(http, "/v1/push/dnd"))["data"]["start_time"] == "23:30"
    assert (await api.post(http, "/v1/push/dnd", {"is_open": 1, "start_time": "25:00"}))[
        "code"
    ] == 200001
    key = f"{world.cam_pk}_{world.cam}"
    setting = await api.post(
        http,
        "/v1/push/device_setting",
        {"key": key, "is_open": 1, "event": {"dsl.event.post.FrameChange": {"is_open": 0}}},
    )
    assert setting["code"] == 0
    got = (await api.get(http, "/v1/push/device_setting", {"key": key}))["data"]
    assert got["event"]["dsl.event.post.FrameChange"]["is_open"] == 0 and got["is_open"] == 1
    assert (await api.post(http, "/v1/push/device_setting", {"key": key, "event": "[]"}))[
        "code"
    ] == 200001
    snooze = await api.post(
        http,
        "/v1/push/snooze",
        {"product_key": world.cam_pk, "device_name": world.cam, "second": 600},
    )
    assert snooze["code"] == 0 and snooze["data"]["second"] == 600
    assert (
        await api.post(
            http,
            "/v1/push/snooze",
            {"product_key": world.cam_pk, "device_name": world.cam, "second": -1},
        )
    )["code"] == 200001


async def test_privacy_endpoints(world: World, http: aiohttp.ClientSession) -> None:
    api, emu = world.alice, world.emu
    items = (await api.get(http, "/v1/user/privacy/consent"))["data"]["items"]
    scopes = {(i["scope"], i["device_name"]) for i in items}
    assert (
        ("push", "") in scopes
        and ("event_upload", world.cam) in scopes
        and ("ai_detection", world.door) in scopes
    )
    assert all(
        {"scope", "product_key", "device_name", "granted", "mtime"} <= i.keys() for i in items
    )
    assert (await api.post(http, "/v1/user/privacy/consent", {"scope": "marketing", "granted": 1}))[
        "code"
    ] == 0
    assert (await api.post(http, "/v1/user/privacy/consent", {"scope": "telepathy", "granted": 1}))[
        "code"
    ] == 200001
    assert (
        await api.post(http, "/v1/user/privacy/consent", {"scope": "event_upload", "granted": 0})
    )["code"] == 200001
    assert (
        await api.post(
            http,
            "/v1/user/privacy/consent",
            {
                "scope": "cloud_recording",
                "granted": 0,
                "product_key": world.cam_pk,
                "device_name": world.cam,
            },
        )
    )["code"] == 0
    exported = (await api.get(http, "/v1/user/privacy/export"))["data"]
    assert exported["profile"]["username"] == USER
    assert {d["device_name"] for d in exported["devices"]} == {world.cam, world.door}
    assert {"shares", "consents", "notifications", "orders", "events"} <= exported.keys()
    assert (await api.post(http, "/v1/user/privacy/restrict", {"restricted": 1}))["data"] == {
        "restricted": 1
    }
    alice = emu.world.accounts.find(USER)
    assert alice is not None and alice.restricted
    assert (await api.post(http, "/v1/user/privacy/erase", {"confirm": "123"}))["code"] == 204001
    erase = await api.post(http, "/v1/user/privacy/erase", {"confirm": alice.qid})
    assert (
        erase["code"] == 0 and erase["data"]["request_id"] and len(erase["data"]["due_date"]) == 10
    )
    assert (await api.post(http, "/v1/user/privacy/erase", {"confirm": alice.qid}))[
        "data"
    ] == erase["data"]


async def test_firmware_network_plan(world: World, http: aiohttp.ClientSession) -> None:
    api, emu = world.alice, world.emu
    cam = {"product_key": world.cam_pk, "device_name": world.cam}
    check = (await api.get(http, "/v1/iot/ota/check_upgrade_version", cam))["data"]
    assert (
        check["upgrade"] == 1
        and check["current_version"] == "1.4.2"
        and check["version"] == "1.5.0"
    )
    await http.post(f"{emu.base_url}/_emulator/faults", json={"upgrade_seconds": 10})
    assert (await api.post(http, "/v1/iot/ota/upgrade", cam))["code"] == 0
    assert (await api.post(http, "/v1/iot/ota/upgrade", cam))["code"] == 203001
    assert (await api.get(http, "/v1/iot/ota/progress", cam))["data"]["progress"] == 1
    await http.post(f"{emu.base_url}/_emulator/clock", json={"advance": 5})
    mid = (await api.get(http, "/v1/iot/ota/progress", cam))["data"]
    assert mid["progress"] == 4 and 0 < mid["percent"] < 100
    await http.post(f"{emu.base_url}/_emulator/clock", json={"advance": 6})
    assert (await api.get(http, "/v1/iot/ota/progress", cam))["data"] == {
        "percent": 100,
        "progress": 0,
    }
    check = (await api.get(http, "/v1/iot/ota/check_upgrade_version", cam))["data"]
    assert check["current_version"] == "1.5.0" and check["upgrade"] == 0
    net = await api.post(http, "/v1/iot/device/network_test", cam)
    assert (
        net["code"] == 0
        and {"network_type", "isp", "ip", "rssi", "latency_ms", "loss_pct", "result"}
        <= net["data"].keys()
    )
    await api.post(http, "/v1/user/privacy/consent", {"scope": "network_test", "granted": 0})
    assert (await api.post(http, "/v1/iot/device/network_test", cam))["code"] == 202105
    plan = await api.get(http, "/v1/cloud/service/status", cam)
    assert plan["code"] == 0 and plan["result"]["status"] == 0
    now = int(emu.world.now())
    await http.post(
        f"{emu.base_url}/_emulator/devices/{world.cam}",
        json={
            "plan": {
                "commodity_name": "Cloud Plus",
                "start_timestamp": now - 86400,
                "end_timestamp": now + 86400 * 3,
                "service_day_num": 30,
                "storage_day_num": 30,
            }
        },
    )
    plan = (await api.get(http, "/v1/cloud/service/status", cam))["result"]
    assert (
        plan["commodity_name"] == "Cloud Plus"
        and 86400 * 3 - 60 < plan["surplus_second"] <= 86400 * 3
    )
    assert (await world.bob.post(http, "/v1/iot/ota/upgrade", cam))["code"] == 201001


async def test_play_url_and_unknown_paths(world: World, http: aiohttp.ClientSession) -> None:
    api = world.alice
    await world.emu.trigger(world.cam, "motion")
    item = (await api.get(http, "/v2/message/list"))["data"]["items"][0]
    url = item["tdata"]["video"]["url"]
    assert (await api.post(http, "/v1/oss/get_play_url", {"url": url}))["code"] == 300260
    resolved = await api.get(http, "/v1/oss/get_play_url", {"url": url})
    assert (
        resolved["code"] == 0
        and resolved["data"]["url"].startswith("http")
        and resolved["data"]["expire_time"]
    )
    assert (await api.get(http, "/v1/oss/get_play_url", {"url": url.replace("sign=", "sign=0")}))[
        "code"
    ] == 200001
    assert (await world.bob.get(http, "/v1/oss/get_play_url", {"url": url}))["code"] == 200001
    async with http.get(api.api_url + "/v9/nothing", params=api.query()) as resp:
        assert resp.status == 404 and (await resp.json())["code"] == 404


async def test_http_faults(world: World, http: aiohttp.ClientSession) -> None:
    emu, api = world.emu, world.alice
    await http.post(
        f"{emu.base_url}/_emulator/faults", json={"errors_left": 2, "error_path": "/api/"}
    )
    for _ in range(2):
        async with http.get(
            api.api_url + "/v1/iot/device/list", params=api.query(), headers=api.headers()
        ) as resp:
            assert resp.status == 503
    assert (await api.get(http, "/v1/iot/device/list"))["code"] == 0
    await http.post(
        f"{emu.base_url}/_emulator/faults", json={"delay_ms": 300, "delay_path": "/api/"}
    )
    started = time.monotonic()
    await api.get(http, "/v1/iot/device/list")
    assert time.monotonic() - started >= 0.3
    async with http.post(f"{emu.base_url}/_emulator/faults", json={"nonsense": 1}) as resp:
        assert resp.status == 400
