"""Pure functions of the client: known-answer vectors, frame parser and envelope decoder."""

from __future__ import annotations

import base64
import contextlib
import struct

from hypothesis import given, strategies as st
import pytest

from botslab_emulator.crypto import QucKeyPair, des_decrypt as server_des_decrypt
from custom_components.botslab.api import (
    Endpoints,
    FrameParser,
    ProtocolError,
    event_kind,
    mask,
    redact,
    redact_text,
    safejson,
)
from custom_components.botslab.api.crypto import (
    api_sign,
    des_decrypt,
    des_encrypt,
    md5_hex,
    open_ret,
    quc_sig,
    seal,
)
from custom_components.botslab.api.models import Device, Event, EventKind, Properties
from custom_components.botslab.api.push import MAX_BODY, encode_frame, parse_body


def test_vectors() -> None:
    assert (
        quc_sig({"z": "last", "a": "first", "A": "upper"}, "") == "5aab09e6dd9cf40a7027a630c8bb13dc"
    )
    assert (
        base64.b64encode(des_encrypt(b"a=1&message=hello", b"12345678")).decode()
        == "sxvBJP0328GQcekQUqeUjOBsoZBREoQl"
    )
    m2, ts, no = "0" * 32, "1700000000", "a" * 20
    assert api_sign("botslabadr", m2, ts, no) == md5_hex(
        "botslabadr" + m2 + ts + no + "qihu_adr_3afg139513ksgnlah1951365saa351a9z_360"
    )


def test_envelope_opens_on_the_server_side() -> None:
    pair = QucKeyPair.generate()
    envelope = seal({"a": "1", "message": "hello world"}, pair.public_spki_b64())
    key_string = pair.decrypt_key_string(envelope.key)
    assert len(key_string) == 117 and key_string[-8:].encode() == envelope.des_key
    assert (
        server_des_decrypt(base64.b64decode(envelope.parad), envelope.des_key)
        == b"a=1&message=hello+world"
    )


@given(st.text(max_size=200), st.binary(min_size=8, max_size=8))
def test_envelope_decoder_raises_only_protocol_errors(text: str, key: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        open_ret(text, key)


@given(st.binary(max_size=100))
def test_des_decrypt_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        des_decrypt(data, b"12345678")


frames_st = st.lists(
    st.one_of(
        st.just((0, {}, b"")),
        st.just((1, {}, b"")),
        st.tuples(
            st.sampled_from([2, 4, 6, 17, 42]),
            st.dictionaries(
                st.text("abc", min_size=1, max_size=3), st.text("xyz09", max_size=8), max_size=3
            ),
            st.just(b""),
        ),
        st.tuples(
            st.just(3),
            st.dictionaries(st.just("ack"), st.text("0123456789abcdef", min_size=1, max_size=8)),
            st.binary(max_size=300),
        ),
    ),
    max_size=12,
)


@given(frames_st, st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=20))
def test_parser_roundtrip_in_any_chunking(
    frames: list[tuple[int, dict[str, str], bytes]], cuts: list[int]
) -> None:
    stream = b"".join(encode_frame(op, props, body) for op, props, body in frames)
    parser = FrameParser()
    got = []
    pos, idx = 0, 0
    while pos < len(stream):
        size = cuts[idx % len(cuts)]
        got.extend(parser.feed(stream[pos : pos + size]))
        pos += size
        idx += 1
    assert [(f.opcode, dict(f.props), f.body) for f in got] == [
        (op, props, body) for op, props, body in frames
    ]
    assert parser.buffered == 0 and parser.frames_parsed == len(frames)


@given(st.binary(max_size=2000))
def test_parser_on_garbage_raises_only_protocol_errors_and_stays_bounded(data: bytes) -> None:
    parser = FrameParser()
    with contextlib.suppress(ProtocolError):
        for i in range(0, len(data), 37):
            parser.feed(data[i : i + 37])
    assert parser.buffered <= len(data)


def test_absurd_lengths_are_refused_before_buffering() -> None:
    parser = FrameParser()
    with pytest.raises(ProtocolError):
        parser.feed(struct.pack(">HHH", 5, 3, 3) + b"a:b" + struct.pack(">I", MAX_BODY + 1))
    parser = FrameParser()
    with pytest.raises(ProtocolError):
        parser.feed(struct.pack(">HHH", 5, 3, 60000))
    with pytest.raises(ProtocolError):
        FrameParser().feed(struct.pack(">HH", 7, 3))


def test_bodies_with_and_without_header() -> None:
    assert parse_body(b'{"msg_id": 5}') == {"msg_id": 5}
    assert parse_body(bytes(16) + b'{"msg_id": 6}') == {"msg_id": 6}
    assert (
        parse_body(b"") is None and parse_body(b"\x01\x02") is None and parse_body(b"[1]") is None
    )


def test_event_kinds_and_unknown_types() -> None:
    assert event_kind("dsl.event.post.DoorbellRing") is EventKind.RING
    assert event_kind("app.event.post.Answer") is EventKind.RING
    assert event_kind("dsl.event.post.CarPlate") is EventKind.VEHICLE
    assert event_kind("dsl.event.post.Unheard") is EventKind.OTHER
    event = Event.from_api(
        {"id": "12", "tdata": '{"event_type": "x.y", "ctime": "1700000000", "extend": "not json"}'}
    )
    assert (
        event.id == "12" and event.kind is EventKind.OTHER and event.extend == {"raw": "not json"}
    )
    with pytest.raises(ProtocolError):
        Event.from_api({"tdata": {}})
    with pytest.raises(ProtocolError):
        Event.from_api({"id": 1, "tdata": "{bad"})
    with pytest.raises(ProtocolError):
        Event.from_api({"id": {"x": 1}, "tdata": {}})


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"id": 501, "tdata": {"device_name": "SN1", "event_type": "dsl.event.post.Pet"}}, "501"),
        (
            {"msg_id": "a1-ff", "sn": "SN1", "event_type": "dsl.event.post.Pet", "tdata": {}},
            "a1-ff",
        ),
        ({"message_id": 7.0, "tdata": {"sn": "SN1"}, "type": "dsl.event.post.Pet"}, "7"),
        (
            {
                "id": "",
                "msg_id": " x9 ",
                "tdata": {"device_name": "SN1"},
                "type": "dsl.event.post.Pet",
            },
            "x9",
        ),
    ],
)
def test_message_field_variants(item: dict[str, object], expected: str) -> None:
    """The id under `id`, `msg_id` or `message_id`, string or number, kept opaque; the serial
    in tdata or as `sn`; the type in tdata, or as `event_type` or `type` (protocol.md 3.3)."""
    event = Event.from_api(item)
    assert event.id == expected and event.serial == "SN1" and event.kind is EventKind.PET


def test_models_tolerate_odd_shapes() -> None:
    dev = Device.from_api(
        {"product_key": "pk", "device_name": "SN1", "category_key": "Doorbell", "roles": ["owner"]}
    )
    assert dev.owner and dev.kind.value == "doorbell" and dev.title == "SN1"
    shared = Device.from_api(
        {"product_key": "pk", "device_name": "SN2", "roles": "share_1", "online_status": "offline"}
    )
    assert (
        not shared.owner
        and not shared.can_control
        and not shared.online
        and shared.kind.value == "other"
    )
    props = Properties.from_api(
        {"report": [{"identifier": "SdStorage", "value": "x,y,z", "timestamp": "1"}, "junk"]}
    )
    assert props.sd_storage is None and props.battery_level is None
    with pytest.raises(ProtocolError):
        Device.from_api({"device_name": "x"})


def test_mask_and_redact() -> None:
    assert mask("+4917612345678") == "+49********678"
    assert mask("alice@example.com") == "a***@example.com"
    data = {
        "Q": "u=1&x",
        "sid": "abc",
        "nested": {"mobile": "4915", "note": "see https://x.y/z?sig=1 or bob@ex.com"},
    }
    out = redact(data)
    assert out["Q"] == out["sid"] == out["nested"]["mobile"] == "**REDACTED**"
    assert "https://" not in out["nested"]["note"] and "bob@ex.com" not in out["nested"]["note"]


@pytest.mark.parametrize(
    "text",
    [
        "call me on +49 176 12345678 please",
        "Festnetz 0176/1234-5678",
        "(0176) 123 456 78",
        "owner 4915123456789",
        "link bucket.oss-eu-central-1.aliyuncs.com/a/b.jpg?Expires=1&OSSAccessKeyId=K&Signature=S",
        "https://cdn.example.com/x.ts?auth_key=abc",
        "retry with token=abcdef123 later",
        "cookie sid=5f2a9c; path=/",
        "mail carol.b+cams@example.org now",
    ],
)
def test_redact_text_catches_the_forms_people_and_the_cloud_write(text: str) -> None:
    out = redact_text(text)
    assert "**REDACTED**" in out
    for secret in (
        "12345678",
        "1234-5678",
        "456 78",
        "4915123456789",
        "Signature=S",
        "aliyuncs.com/a",
        "auth_key=abc",
        "abcdef123",
        "5f2a9c",
        "carol.b",
    ):
        assert secret not in out, (secret, out)


@pytest.mark.parametrize(
    "text",
    ["2026-11-30", "2026-11-30T10:00:00+00:00", "firmware 2.1.0", "BCC5E5F6A7B8", "22:30", "-58"],
)
def test_redact_text_leaves_what_is_not_personal(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("region", "url", "allowed"),
    [
        ("eu1", "https://botslab-eu1.oss-eu-central-1.aliyuncs.com/s/1.jpg?Expires=1", True),
        ("eu1", "https://oss-eu-central-1.aliyuncs.com/botslab-eu1/s/1.jpg", True),
        ("eu2", "https://b.oss-eu-central-1-internal.aliyuncs.com/x.ts", True),
        ("na1", "https://b.oss-us-west-1.aliyuncs.com/x.m3u8", True),
        ("ap1", "https://b.oss-ap-southeast-1.aliyuncs.com/x.ts", True),
        ("eu1", "https://b.oss-accelerate.aliyuncs.com/x.ts", True),
        ("eu1", "http://botslab-eu1.oss-eu-central-1.aliyuncs.com/s/1.jpg", False),
        ("eu1", "https://b.oss-us-west-1.aliyuncs.com/x.jpg", False),
        ("eu1", "https://b.oss-eu-central-1.aliyuncs.com.evil.example/x.jpg", False),
        ("eu1", "https://evil.example/b.oss-eu-central-1.aliyuncs.com/x.jpg", False),
        ("eu1", "https://user@b.oss-eu-central-1.aliyuncs.com/x.jpg", False),
        ("eu1", "https://b.oss-eu-central-1.aliyuncs.com:8443/x.jpg", False),
        ("eu1", "https://a.b.oss-eu-central-1.aliyuncs.com/x.jpg", False),
        ("eu1", "https://192.168.1.1/x.jpg", False),
        ("eu1", "https://[::1]/x.jpg", False),
        ("eu1", "file:///etc/passwd", False),
        ("eu1", "https://b.oss-eu-central-1.aliyuncs.com:99999/x", False),
        ("eu1", "", False),
    ],
)
def test_media_hosts_are_the_regions_oss_hosts(region: str, url: str, allowed: bool) -> None:
    assert Endpoints.production(region).media_allowed(url) is allowed


def test_media_hosts_of_the_emulator_are_its_own_origin() -> None:
    endpoints = Endpoints.from_emulator_config(
        {
            "quc_url": "http://127.0.0.1:8080/quc/{region}/request.php",
            "api_url": "http://127.0.0.1:8080/api/{region}",
            "dispatcher_url": "http://127.0.0.1:8080/v1/list/ip",
            "rsa_public_key": "x",
        }
    )
    assert endpoints.media_allowed("http://127.0.0.1:8080/oss/b/x.jpg?Signature=1")
    assert not endpoints.media_allowed("http://127.0.0.1:8081/oss/b/x.jpg")
    assert not endpoints.media_allowed("https://127.0.0.1:8080/oss/b/x.jpg")
    assert not endpoints.media_allowed("https://b.oss-eu-central-1.aliyuncs.com/x.jpg")


def test_cloud_json_refuses_deep_nesting_on_every_python() -> None:
    # Python 3.14's decoder takes 50,000 levels that 3.13's refuses; ours refuses both alike
    deep = '{"data": ' * 50_000 + "0" + "}" * 50_000
    with pytest.raises(ValueError, match="nested too deeply"):
        safejson.loads(deep)
    with pytest.raises(ValueError, match="nested too deeply"):
        safejson.loads("[" * (safejson.MAX_DEPTH + 1) + "]" * (safejson.MAX_DEPTH + 1))
    at_limit = "[" * safejson.MAX_DEPTH + "1" + "]" * safejson.MAX_DEPTH
    assert safejson.loads(at_limit) is not None
    assert safejson.loads(b'{"code": 0, "data": {"items": [{"id": "a"}]}}')["data"]["items"][0] == {
        "id": "a"
    }
