"""Diagnostics and the first-contact check (issue 27): after a full session against the emulator
(events, a skipped message, a clip, live view, sharing), every section is there (a snapshot of
their structure), and nothing in them or in the check's report is a secret the emulator knows
or a value of an answer. The check asks every read-only endpoint once, writes nothing, is for
administrators, and its shapes go into the diagnostics."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote, unquote

from homeassistant.components.camera import async_get_stream_source
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized
from homeassistant.setup import async_setup_component
import pytest
from syrupy.assertion import SnapshotAssertion

from botslab_emulator import Emulator
from custom_components.botslab.api import paths as ep
from custom_components.botslab.api.shapes import TOKENS
from custom_components.botslab.const import DOMAIN
from custom_components.botslab.diagnostics import async_get_config_entry_diagnostics

from .conftest import find_device
from .live_feed_io import read_feed
from .test_events import pushed, until
from .test_media import newest_event_item, play

DOOR, GARDEN, LIVING, DRIVE = "BDX3A1B2C3D4", "BCC5E5F6A7B8", "BCC2C9D0E1F2", "BCC5A0B1C2D3"
SHARED_PHONE, SHARED_EMAIL = "+49 176 55501234", "aunt.erna@example.org"

# the paths that change something: the check never calls them
WRITES = {
    ep.SET_PROPERTY,
    ep.INVOKE_SERVICE,
    ep.SHARE_BY_MOBILE,
    ep.SHARE_BY_EMAIL,
    ep.SHARE_CANCEL,
    ep.SHARE_ACCEPT,
    ep.SHARE_REFUSE,
    ep.PUSH_SNOOZE,
    ep.PRIVACY_EXPORT,
    ep.PRIVACY_RESTRICT,
    ep.PRIVACY_ERASE,
    ep.OTA_UPGRADE,
    ep.NETWORK_TEST,
    ep.APP_LOGIN,
}


async def call(
    hass: HomeAssistant, service: str, data: dict[str, Any], *, context: Context | None = None
) -> Any:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True, context=context
    )


async def full_session(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_client: Any
) -> dict[str, Any]:
    """Events (one of them unreadable), a clip through the view, a live view, sharing by
    phone and email, the first-contact check; the check's report."""
    assert await async_setup_component(hass, "media_source", {})
    await hass.async_block_till_done()
    delivery = entry.runtime_data.events
    assert delivery is not None
    await pushed(hass, entry, emulator)
    # a message the client cannot read (a negative time): skipped, its shape kept
    bad = await emulator.trigger(GARDEN, "motion", push=False)
    emulator.world.messages.by_id[bad["msg_id"]].ctime = -5
    await emulator.trigger(DOOR, "ring")
    await emulator.trigger(GARDEN, "person")
    await until(hass, lambda: delivery.delivered >= 2)
    assert entry.runtime_data.client.skipped >= 1
    # a clip through the decrypting view
    item = await newest_event_item(hass, entry, DOOR)
    assert await play(hass, await hass_client(), item.media_content_id)
    # live view, until video flows
    url = await async_get_stream_source(hass, "camera.front_door")
    assert url is not None
    assert len(await read_feed(url, 20_000, timeout=20)) >= 20_000
    # sharing: by phone and by email, then the shares listed
    garden = find_device(hass, GARDEN).id
    await call(hass, "share_device", {"device_id": garden, "phone": SHARED_PHONE})
    await call(hass, "share_device", {"device_id": garden, "email": SHARED_EMAIL})
    assert len((await call(hass, "list_shares", {"device_id": garden}))["shares"]) == 2
    report = await call(hass, "check_cloud", {})
    assert isinstance(report, dict)
    return report


def known_secrets(
    emulator: Emulator, entry: ConfigEntry, extra: tuple[str, ...] = ()
) -> dict[str, str]:
    """Every secret, personal datum and value the emulator knows, by what it is: tokens,
    sessions, the install identity, accounts, devices (serials, titles, live keys and
    licences), messages (ids, titles, clip keys, media objects), shares, the object store's
    secret; with their URL-encoded and decoded forms."""
    world = emulator.world.to_json()
    found: dict[str, str] = {}

    def add(what: str, value: Any, minimum: int = 6) -> None:
        text = str(value).strip()
        if len(text) >= minimum:
            found[text] = what
            found.setdefault(unquote(text), what)
            found.setdefault(quote(text, safe=""), what)

    add("oss secret", world["oss_secret"])
    for acc in world["accounts"]:
        for key in ("qid", "username", "password", "email", "mobile", "push_alias"):
            add(f"account {key}", acc[key])
        if any(c.isdigit() for c in acc["mobile"]):
            add("account mobile digits", "".join(c for c in acc["mobile"] if c.isdigit())[-10:])
    for tok in world["tokens"]:
        add("Q", tok["q"])
        add("T", tok["t"])
    for session in world["sessions"]:
        add("sid", session["sid"])
    for dev in world["devices"]:
        add("serial", dev["device_name"])
        add("device title", dev["title"])
        live = dev.get("live") or {}
        for key, value in (live.get("license") or {}).items():
            if key != "auth_time":  # the time it was made (a clock, as every timestamp)
                add(f"live license {key}", value)
        for key in (live.get("keys") or {}).values():
            add("live key", key)
    for msg in world["messages"]:
        add("message id", msg["id"])
        add("message title", msg["title"])
        add("clip key", msg["secretkey"])
        add("media object", msg["image_object"])
        add("media object", msg["video_object"])
    for share in world["shares"]:
        add("share mobile", share["mobile"])
        add("share email", share["email"])
    client = entry.runtime_data.client
    for what, value in (
        ("m2", client.identity.m2),
        ("mid", client.identity.mid),
        ("androidid", client.identity.androidid),
        ("emulator address", emulator.base_url.removeprefix("http://")),
        ("signed URL", "Signature="),
        ("signed URL", "OSSAccessKeyId"),
        ("clip URL", "aliyun://"),
        *(("given", v) for v in extra),
    ):
        add(what, value, minimum=1)
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    lowered = text.lower()
    return sorted(
        {f"{what}: {value[:12]}…" for value, what in secrets.items() if value.lower() in lowered}
    )


async def test_nothing_secret_after_a_full_session(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator, hass_client: Any
) -> None:
    """Diagnostics and the first-contact check after events, a clip, live view and sharing:
    none of them carries a token, a phone number, an email, a signed URL, a serial in
    clear, or any other value the emulator knows."""
    report = await full_session(hass, entry, emulator, hass_client)
    diag = await async_get_config_entry_diagnostics(hass, entry)
    secrets = known_secrets(emulator, entry, (SHARED_EMAIL, "55501234"))
    # the session reached every section (so that the grep means something)
    assert diag["event_path"]["delivery"]["delivered"] >= 2
    assert diag["event_path"]["skipped"]["last"], "the unreadable message is listed"
    door = next(d for d in diag["devices"] if d["live"] is not None)
    assert door["live"]["timelines"], "the live session's timeline"
    assert diag["cloud_answers"]["endpoints"][ep.SHARE_BY_EMAIL]["shape"]
    assert diag["first_contact"] == report
    for name, text in (
        ("diagnostics", json.dumps(diag, ensure_ascii=False)),
        ("check", json.dumps(report, ensure_ascii=False)),
    ):
        found = leaks(text, secrets)
        assert not found, f"{name} carries: {found}"


def skeleton(value: Any) -> Any:
    """What a diagnostics section holds, without its values: keys, and the type of each value
    (the items of a list merged into one); the shapes of cloud answers as they are."""
    if isinstance(value, dict):
        return {
            str(k): v if k in ("shape", "body") else skeleton(v) for k, v in sorted(value.items())
        }
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = _merge(merged, skeleton(item))
        return [] if merged is None else [merged]
    return type(value).__name__


def _merge(a: Any, b: Any) -> Any:
    """One skeleton for two items of a list (a key one item lacks is taken from the other)."""
    if a is None or a == "NoneType":
        return b
    if b is None or b in ("NoneType", a):
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys())}
    if isinstance(a, list) and isinstance(b, list):
        return [_merge(a[0] if a else None, b[0] if b else None)] if a or b else []
    return "|".join(sorted({str(a), str(b)}))


async def test_every_section_snapshot(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: Emulator,
    hass_client: Any,
    snapshot: SnapshotAssertion,
) -> None:
    """Each section of the diagnostics, as a structure (keys and types) after a full session.
    The shapes of the cloud's answers are shown whole: against the emulator, every one is
    as the parser expects."""
    await full_session(hass, entry, emulator, hass_client)
    diag = await async_get_config_entry_diagnostics(hass, entry)
    answers = diag["cloud_answers"]
    assert answers["differences"] == [], answers["differences"]
    sections = {
        # Home Assistant's own entry fields differ between versions: only ours are shown
        "entry": skeleton({k: diag["entry"][k] for k in ("data", "options")}),
        **{k: skeleton(v) for k, v in diag.items() if k not in ("entry", "cloud_answers")},
        "cloud_answers": {
            "differences": answers["differences"],
            "endpoints": {
                path: {
                    **skeleton(record),
                    "shape": record["shape"],
                    "expected": "answers.EXPECTED" if record["expected"] else None,
                }
                for path, record in sorted(answers["endpoints"].items())
            },
            "push_frames": sorted(
                (
                    {k: v for k, v in frame.items() if k != "count"}
                    for frame in answers["push_frames"]
                ),
                key=lambda f: (f["version"], f["opcode"]),
            ),
        },
    }
    # the relay sign's `sname` is 12 random hex digits (as the real one): one time in about
    # 300 every one of them is a digit, and its form reads `str:digits`
    sign = sections["cloud_answers"]["endpoints"]["live relay sign"]["shape"]["data"]
    if sign.get("sname") == "str:digits":
        sign["sname"] = "str"
    assert json.dumps(sections, indent=1, sort_keys=True) == snapshot


async def test_check_cloud_walks_every_read_only_endpoint_and_writes_nothing(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: Emulator,
    hass_admin_user: Any,
    hass_read_only_user: Any,
) -> None:
    # a clip to resolve (a motion: a ring would prepare the live view, which wakes the device)
    await emulator.trigger(DOOR, "motion")
    before = emulator.world.to_json()
    requests = dict(emulator.counters.requests)
    with pytest.raises(Unauthorized):
        await call(hass, "check_cloud", {}, context=Context(user_id=hass_read_only_user.id))
    report = await call(hass, "check_cloud", {}, context=Context(user_id=hass_admin_user.id))
    # every read-only endpoint, once, each as expected against the emulator
    asked = {r["endpoint"]: r["outcome"] for r in report["results"]}
    assert set(asked) == {
        ep.DEVICE_LIST,
        ep.GET_PROPERTY,
        ep.MESSAGE_LIST,
        ep.EVENT_TYPES,
        ep.PLAY_URL,
        ep.CAMERA_KEYS,
        ep.CLOUD_SERVICE,
        ep.OTA_CHECK,
        ep.OTA_PROGRESS,
        ep.SHARE_LIST,
        ep.SHARE_PENDING,
        ep.PUSH_DND,
        ep.PUSH_DEVICE_SETTING,
        ep.PRIVACY_CONSENT,
        "push dispatcher",
        "live cloud control",
    }
    assert set(asked.values()) == {"as_expected"}, asked
    assert report["counts"]["as_expected"] == 16
    assert "Asked 16 read-only endpoints once: 16 ok" in report["summary"]
    # nothing written: no write path asked, the world as it was (live keys are minted by
    # the emulator on the first read of them)
    after = dict(emulator.counters.requests)
    asked_paths = {p for p in after if after[p] != requests.get(p, 0)}
    assert not {p for p in asked_paths if p.removeprefix("/api/eu1") in WRITES}, asked_paths
    assert _without_live_keys(emulator.world.to_json()) == _without_live_keys(before)
    # its report goes into the diagnostics, with the shapes it met
    diag = await async_get_config_entry_diagnostics(hass, entry)
    assert diag["first_contact"] == report
    assert diag["cloud_answers"]["endpoints"][ep.PUSH_DND]["ever_answered_as_expected"]


def _without_live_keys(world: dict[str, Any]) -> dict[str, Any]:
    for dev in world["devices"]:
        dev.pop("live", None)
    return world


async def test_check_cloud_names_what_differs(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """A modelled endpoint the cloud does not offer, and one that answers in another shape:
    the words say which and where."""
    emulator.faults.code_path = "/api/eu1/v1/cloud/service/status"
    emulator.faults.code_answer, emulator.faults.code_status = 404, 404
    report = await call(hass, "check_cloud", {})
    outcome = {r["endpoint"]: r for r in report["results"]}
    assert outcome[ep.CLOUD_SERVICE]["outcome"] == "not_offered"
    assert (
        "[not offered] cloud storage plan, /v1/cloud/service/status (modelled): code 404"
        in report["summary"]
    )
    # the do-not-disturb settings answered with a number where a time was expected, and an
    # extra key
    emulator.faults.code_path = ""
    dnd = emulator.world.accounts.find("demo@botslab.local")
    assert dnd is not None
    dnd.dnd = {**dnd.dnd, "start_time": 2200, "quiet": True}
    report = await call(hass, "check_cloud", {})
    result = next(r for r in report["results"] if r["endpoint"] == ep.PUSH_DND)
    assert result["outcome"] == "differs"
    assert "other type: data.start_time: str expected, int found" in result["detail"]
    assert "not read: data.quiet (bool)" in result["detail"]
    assert (
        "[DIFFERS] do-not-disturb, /v1/push/dnd (modelled): other type: data.start_time: "
        "str expected, int found; not read: data.quiet (bool)" in report["summary"]
    )


def test_shapes_hold_type_tokens_only() -> None:
    """A recorded shape's leaves are type words; anything else is cleaned away."""
    from custom_components.botslab.api.shapes import clean

    assert clean({"a": "str", "b": "secret value", "c": ["int|str"], "d@x.org": "int"}) == {
        "a": "str",
        "b": "?",
        "c": ["int|str"],
        "?": "int",
    }
    assert {"str", "int", "str:url", "object"} <= TOKENS


async def test_live_sessions_are_timelines(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """A live session's stages in order, each with its time and outcome, and its end."""
    url = await async_get_stream_source(hass, "camera.front_door")
    assert url is not None
    assert await read_feed(url, 20_000, timeout=20)
    diag = await async_get_config_entry_diagnostics(hass, entry)
    door = next(d for d in diag["devices"] if d["live"] is not None)
    (timeline,) = door["live"]["timelines"]
    stages = [s["stage"] for s in timeline["stages"]]
    for stage in (
        "keys",
        "cloud_control",
        "relay_sign",
        "schedule_1",
        "schedule_2",
        "schedule_bf",
        "tunnel",
        "wake",
        "req_relay",
        "req_relay_video",
        "relay_qtp",
        "first_media",
        "first_keyframe",
        "first_frame_out",
    ):
        assert stage in stages, (stage, stages)
    assert stages.index("schedule_1") < stages.index("tunnel") < stages.index("first_media")
    assert stages.index("first_media") <= stages.index("first_frame_out")
    times = [s["at_ms"] for s in timeline["stages"]]
    assert times == sorted(times)
    # the wake call went out with the setup's first requests, not after the setup
    named = {s["stage"]: s for s in timeline["stages"]}
    wake, keys = named["wake"], named["keys"]
    assert wake["at_ms"] - wake["took_ms"] <= keys["at_ms"], (wake, keys)
    # the real relay's first replies say "audio only" (flag 0), then video
    assert timeline["req_relay_flags"][:4] == [0, 0, 0, 1]
    assert timeline["ended"] is None, "still running"
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    await asyncio.sleep(0)


async def test_live_timelines_end_with_their_reason_and_keep_the_last_five(
    hass: HomeAssistant,
    entry: ConfigEntry,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session that played ends "stopped" once nobody watches; sessions that fail end with
    the failure's reason at the stage that failed; the diagnostics keep the last five."""
    from homeassistant.exceptions import HomeAssistantError

    from custom_components.botslab import camera as camera_module
    from custom_components.botslab.api.live.session import LiveTimers

    monkeypatch.setattr(camera_module, "LIVE_IDLE_SECONDS", 0.3)
    monkeypatch.setattr(
        camera_module,
        "LIVE_TIMERS",
        LiveTimers(asleep_after=2, rewake=1, setup_tries=1, audio_only_after=2),
    )
    url = await async_get_stream_source(hass, "camera.front_door")
    assert url is not None
    await until(hass, lambda: hass.states.get("camera.front_door").state == "idle")  # type: ignore[union-attr]
    emulator.live.faults.substream_errcode = 10
    for _ in range(5):
        with pytest.raises(HomeAssistantError):
            await async_get_stream_source(hass, "camera.front_door")
    diag = await async_get_config_entry_diagnostics(hass, entry)
    door = next(d for d in diag["devices"] if d["live"] is not None)
    timelines = door["live"]["timelines"]
    assert len(timelines) == 5, "the last five"
    assert [t["ended"] for t in timelines] == ["setup_failed"] * 5, timelines
    for timeline in timelines:
        failed = [s for s in timeline["stages"] if s["outcome"] not in ("ok", "cached")]
        assert failed and timeline["ended_at_ms"] >= failed[0]["at_ms"]
    # the session that played, before them, had ended "stopped": one more session pushes
    # the oldest failure out and shows the end of a session that played
    emulator.live.faults.substream_errcode = 0
    url = await async_get_stream_source(hass, "camera.front_door")
    await until(hass, lambda: hass.states.get("camera.front_door").state == "idle")  # type: ignore[union-attr]
    diag = await async_get_config_entry_diagnostics(hass, entry)
    door = next(d for d in diag["devices"] if d["live"] is not None)
    timelines = door["live"]["timelines"]
    assert len(timelines) == 5 and timelines[-1]["ended"] == "stopped", timelines[-1]


async def test_a_replayed_difference_is_named_in_the_diagnostics(
    hass: HomeAssistant, entry: ConfigEntry, emulator: Emulator
) -> None:
    """The replay path end to end: the diagnostics' own recorded shape of the event list,
    with a key more, a key less and another type, loaded into the emulator. Home Assistant
    keeps delivering (the ring comes as `other`: its type is no text any more), and the
    diagnostics name all three, the differences first."""
    await pushed(hass, entry, emulator)
    delivery = entry.runtime_data.events
    assert delivery is not None
    await emulator.trigger(DOOR, "ring")
    await until(hass, lambda: delivery.delivered >= 1)
    report = await async_get_config_entry_diagnostics(hass, entry)
    shape = report["cloud_answers"]["endpoints"][ep.MESSAGE_LIST]["shape"]
    tdata = shape["data"]["items"][0]["tdata"]
    tdata["mood"] = "str"
    del tdata["title"]
    tdata["event_type"] = "int"
    emulator.load_report(report)
    await emulator.trigger(DOOR, "ring")
    await until(hass, lambda: delivery.delivered >= 2)
    state = hass.states.get("event.front_door_motion")
    assert state is not None and state.attributes["event_type"] == "other"
    diag = await async_get_config_entry_diagnostics(hass, entry)
    first = diag["cloud_answers"]["differences"][0]
    assert first == {
        "endpoint": ep.MESSAGE_LIST,
        "evidence": "seen",
        "unknown": ["data.items[].tdata.mood (str)"],
        "missing": ["data.items[].tdata.title"],
        "types": ["data.items[].tdata.event_type: str expected, int found"],
    }
    record = diag["cloud_answers"]["endpoints"][ep.MESSAGE_LIST]
    assert record["ever_answered_as_expected"] and not record["answered_as_expected"]
