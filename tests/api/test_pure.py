"""Pure functions of the client: known-answer vectors, frame parser and envelope decoder."""

from __future__ import annotations

import base64
import contextlib
import json
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
from custom_components.botslab.api.exceptions import AddressRefused
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
    # a frame of another version is skipped, not refused (docs/protocol/accepted.md#push), but its
    # lengths are bounded all the same
    with pytest.raises(ProtocolError):
        FrameParser().feed(struct.pack(">HHH", 7, 3, 60000))
    with pytest.raises(ProtocolError):
        FrameParser().feed(struct.pack(">HHH", 7, 3, 0) + struct.pack(">I", MAX_BODY + 1))


def foreign(version: int, opcode: int, props: dict[str, str], body: bytes = b"") -> bytes:
    """A frame of another version, in version 5's layout."""
    return struct.pack(">H", version) + encode_frame(opcode, props, body)[2:]


@given(st.lists(st.integers(min_value=1, max_value=16), min_size=1, max_size=8))
def test_frames_of_another_version_keep_the_place(cuts: list[int]) -> None:
    """Another version is read with version 5's layout and handed back with its version,
    in any chunking; the version-5 frame after it comes whole."""
    op1_props = encode_frame(1, {"t": "1"})[:4] + struct.pack(">H", 3) + b"t:1"
    stream = (
        foreign(6, 3, {"ack": "v6"}, b'{"msg_id":"v6"}')
        + foreign(4, 0, {})
        + encode_frame(1)  # a bare op 1, then another version
        + foreign(7, 17, {"r": "0"})
        + op1_props  # an op 1 with a block, then another version
        + foreign(2, 3, {}, b"")
        + foreign(0, 9, {"x": "y"})
        + encode_frame(1)
        + struct.pack(">H", 0)  # an op 1 with an empty block, then version 5
        + encode_frame(3, {"ack": "a1"}, b'{"msg_id":"m1"}')
    )
    parser = FrameParser()
    got = []
    pos = idx = 0
    while pos < len(stream):
        got.extend(parser.feed(stream[pos : pos + cuts[idx % len(cuts)]]))
        pos += cuts[idx % len(cuts)]
        idx += 1
    assert [(f.version, f.opcode) for f in got] == [
        (6, 3),
        (4, 0),
        (5, 1),
        (7, 17),
        (5, 1),
        (2, 3),
        (0, 9),
        (5, 1),
        (5, 3),
    ]
    assert got[0].body == b'{"msg_id":"v6"}' and dict(got[-1].props) == {"ack": "a1"}
    assert parser.buffered == 0


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
    in tdata or as `sn`; the type in tdata, or as `event_type` or `type`
    (docs/protocol/cloud-api.md#messages)."""
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
    [
        "2026-11-30",
        "2026-11-30T10:00:00+00:00",
        "firmware 2.1.0",
        "BCC5E5F6A7B8",
        "22:30",
        "-58",
        "status: online, battery 80%",
        "at 10:30 the stats=ok",
    ],
)
def test_redact_text_leaves_what_is_not_personal(text: str) -> None:
    assert redact_text(text) == text


JWS = base64.b64encode(json.dumps({"Q": "u%3D1", "T": "s%3D2", "sid": "S3cr3tSid"}).encode())


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        ('{"sid": "S3cr3tSid", "code": 0}', ["S3cr3tSid"]),
        ('{"sid":"S3cr3tSid"}', ["S3cr3tSid"]),
        ("{'sid': 'S3cr3tSid', 'push_alias': 'Al1as99'}", ["S3cr3tSid", "Al1as99"]),
        ('{"home_sid": "S3cr3tSid", "pushAlias": "Al1as99"}', ["S3cr3tSid"]),
        ('"push_alias": "Al1as99"', ["Al1as99"]),
        ("sid: S3cr3tSid", ["S3cr3tSid"]),
        ("sa:Al1as99\nt:180", ["Al1as99"]),
        (f"Authorization: jws {JWS.decode()}", [JWS.decode()[:20], "S3cr3tSid"]),
        (f"headers {{'Authorization': 'jws {JWS.decode()}'}}", [JWS.decode()[:20]]),
        (f"token {JWS.decode()} went", [JWS.decode()[:20]]),
        ("Bearer abcdef0123456789", ["abcdef0123456789"]),
        ("q=x&sid%3DS3cr3tSid%26m2%3Dm2value", ["S3cr3tSid", "m2value"]),
        ("next=%2Fapi%3Fsid%3DS3cr3tSid%26page%3D1", ["S3cr3tSid"]),
        ("double sid%253DS3cr3tSid", ["S3cr3tSid"]),
        ("Q%3Du%253D360H1234567%2526n%253DAlice%2526qid%253D1234567", ["1234567", "Alice"]),
        ("T%3Ds%253Dabcdef0123%2526t%253D1700000000", ["abcdef0123"]),
        ("q=u%3D360H1234567%26n%3DAlice%26qid%3D1234567", ["1234567", "Alice"]),
        ("u=360H1234567&n=Alice&qid=1234567", ["1234567", "Alice"]),
        ("t=s%3Dabcdef0123%26t%3D1", ["abcdef0123"]),
        ('{"secretkey": "K" , "ukey": "Uk3y99", "usign": "Us1gn99"}', ["Uk3y99", "Us1gn99"]),
        ("_usign=Us1gn99&_sign=Sg99", ["Us1gn99", "Sg99"]),
        ('{"mobile": 4915123456789, "email": "a@b.org"}', ["4915123456789", "a@b.org"]),
    ],
)
def test_redact_text_catches_secrets_in_every_written_form(text: str, secrets: list[str]) -> None:
    """JSON (double or single quotes, spaced or compact), headers, the jws token with or
    without its scheme, URL-encoded pairs (once or twice), Q and T whole."""
    out = redact_text(text)
    for secret in secrets:
        assert secret not in out, (secret, out)


def test_redact_walks_keys_of_any_spelling_and_every_container() -> None:
    data = {
        "pushAlias": "Al1as99",
        "Push-Alias": "Al1as99",
        "HOME_SID": "S3cr3tSid",
        "items": ({"Authorization": "jws x"}, {"note": "sid=S3cr3tSid"}),
        "seen": {"sid=S3cr3tSid"},
        "https://cdn.example/x.jpg?Signature=S1": 1,
        "sid=S3cr3tSid": 2,
    }
    text = repr(redact(data))
    for secret in ("Al1as99", "S3cr3tSid", "jws x", "Signature=S1"):
        assert secret not in text, (secret, text)


@pytest.mark.parametrize(
    ("url", "passes"),
    [
        # any host name, http or https: names are resolved and checked by address later
        ("https://botslab-eu1.oss-eu-central-1.aliyuncs.com/s/1.jpg?Expires=1", True),
        ("http://botslab-eu1.oss-eu-central-1.aliyuncs.com/s/1.jpg", True),
        ("https://b.oss-us-west-1.aliyuncs.com/x.jpg", True),
        ("https://hls-proxy.example.com/play/x.m3u8?sign=1", True),
        ("https://b.oss-eu-central-1.aliyuncs.com:8443/x.jpg", True),
        ("http://47.254.1.2/x.ts", True),
        # address literals that are not public, other schemes, credentials, bad ports
        ("https://192.168.1.1/x.jpg", False),
        ("http://10.0.0.1:8080/x.ts", False),
        ("http://169.254.169.254/latest/meta-data/", False),
        ("https://[::1]/x.jpg", False),
        ("http://127.0.0.1:8080/oss/b/x.jpg", False),
        ("file:///etc/passwd", False),
        ("https://user@b.oss-eu-central-1.aliyuncs.com/x.jpg", False),
        ("https://b.oss-eu-central-1.aliyuncs.com:99999/x", False),
        ("", False),
    ],
)
def test_media_urls_are_guarded_by_address_not_by_name(url: str, passes: bool) -> None:
    """The old allow-list (`*.oss-<region>.aliyuncs.com` over HTTPS) is gone: the working
    client fetches from any host, over http too (docs/protocol/accepted.md#media); what is refused
    is an address that is not public."""
    guard = Endpoints.production("eu1").guard
    if passes:
        assert guard.check_url(url)
    else:
        with pytest.raises(AddressRefused):
            guard.check_url(url)


def test_media_of_the_emulator_is_trusted_by_its_address() -> None:
    endpoints = Endpoints.from_emulator_config(
        {
            "quc_url": "http://127.0.0.1:8080/quc/{region}/request.php",
            "api_url": "http://127.0.0.1:8080/api/{region}",
            "dispatcher_url": "http://127.0.0.1:8080/v1/list/ip",
            "rsa_public_key": "x",
        }
    )
    guard = endpoints.guard
    assert guard.check_url("http://127.0.0.1:8080/oss/b/x.jpg?Signature=1") == "127.0.0.1"
    assert guard.check_url("https://127.0.0.1:8081/oss/b/x.jpg") == "127.0.0.1"
    for url in ("http://127.0.0.2:8080/oss/b/x.jpg", "http://10.0.0.1/x.jpg"):
        with pytest.raises(AddressRefused):
            guard.check_url(url)


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


def test_redact_texts_redacts_free_text_and_keeps_key_names() -> None:
    """For shapes and the first-contact report: every string, keys included, gets the
    free-text redaction; a key's name alone (`url`, `title`) takes nothing away."""
    from custom_components.botslab.api import redact_texts

    data = {
        "url": "str:url",
        "title": ["str", "sid=0123456789abcdef0123"],
        "d.someone@example.com": {"summary": "call +49 176 12345678"},
    }
    out = redact_texts(data)
    assert out["url"] == "str:url" and out["title"][0] == "str"
    assert "0123456789abcdef0123" not in str(out)
    assert "someone@example.com" not in str(out) and "12345678" not in str(out)
