"""Tunnel datagrams and XMSG (docs/protocol/live-video.md#tunnel) against section 11, on both
sides."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, strategies as st
import pytest

from botslab_emulator.live import tunnel as server
from custom_components.botslab.api import ProtocolError
from custom_components.botslab.api.live import tunnel as client
from custom_components.botslab.api.live.signing import BASE_CAPACITY_KEY, envelope

MID, PID, SN = "d682259d-3fa4-5e44-ac1d-c481508cf08e", "pid123", "SN0123456789ABCDEF"


def test_wrap_vector_and_captures() -> None:
    assert (
        client.wrap(0x02, 0x30, 0x85613D90, b"body").hex()
        == "80090000201605180000000000000000000c023085613d90626f6479"
    )
    for capture in (
        "80090000201605180000000000000000001c02019595fee3256135a83989003320fb00000000000000000000",
        "80090000201605180000000000000000001302039595fee5256135a839890000000000",
    ):
        data = bytes.fromhex(capture)
        got = client.unwrap(data)
        assert (got.path, got.conv) == (0x02, int(capture[40:48], 16))
        assert server.parse(data)[:3] == (got.path, got.type, got.conv)


def test_fields_and_messages() -> None:
    assert client.uuid_field(MID) == f"{MID}_3".encode().ljust(40, b"\x00")
    assert client.route_field(PID, SN) == b"pid123/SN0123456789ABCDEF".ljust(40, b"\x00")
    assert (
        len(client.connect_payload(MID, PID, SN)) == 88
        and len(client.register_payload(MID, PID, SN)) == 96
    )
    assert client.open_payload(MID, PID, SN).startswith(
        bytes.fromhex("07000000010000271900010" + "7")
    )
    with pytest.raises(ProtocolError):
        client.uuid_field("x" * 40)


def test_xmsg_both_ways() -> None:
    content = envelope(
        SN, 1700000000000, {"type": "base_capacity", "ver": 1}, BASE_CAPACITY_KEY, bc=1
    )
    sent = client.xmsg(0x01020304, MID, PID, SN, msg_id=1_700_000_000_000_000, content=content)
    assert server.xmsg_content(sent) == json.loads(content)
    ack = client.xmsg_ack(0x01020304, MID, PID, SN, sent)
    assert len(ack) == 124 and ack[0x18 + 80 : 0x18 + 88] == sent[0x68:0x70]
    reply = server.device_xmsg(
        0x01020304,
        client.uuid_field(MID),
        client.route_field(PID, SN),
        1_700_000_000_000_001,
        f'{{"model":"netsdk","sn":"{SN}","data":"x"}}',
    )
    assert client.read_xmsg(reply)["sn"] == SN


@given(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_device_xmsg_keeps_braces_out_of_its_header(msg_id: int, pad: int, conv: int) -> None:
    content = '{"type":"req_relay_res","pad":"' + "a" * pad + '"}'
    data = server.device_xmsg(conv, bytes(40), bytes(40), msg_id, content)
    # the conv echoes the client's (bytes before 0x18 may hold "{": readers start at 0x18)
    assert 0x7B not in data[0x18:0x94]
    assert len(data) < 0x94 + len(content) + 8
    assert client.read_xmsg(data)["type"] == "req_relay_res"


def test_device_xmsg_with_a_brace_in_the_conv() -> None:
    """Found live: a random conv holding 0x7B made the virtual device pad its reply forever."""
    data = server.device_xmsg(0x117B2233, bytes(40), bytes(40), 1, '{"type":"x"}')
    assert client.read_xmsg(data)["type"] == "x"


@given(st.binary(max_size=300))
def test_client_parsers_raise_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        client.unwrap(data)
    with contextlib.suppress(ProtocolError):
        client.read_xmsg(data)


def test_device_xmsg_with_braces_high_in_its_id() -> None:
    """An id with 0x7B in a high byte (hypothesis found one that an id + 1 loop took ages on)."""
    data = server.device_xmsg(7, bytes(40), bytes(40), 0x7B7B_0000_0000_007B, '{"type":"x"}')
    assert 0x7B not in data[0x18:0x94] and client.read_xmsg(data)["type"] == "x"


@pytest.mark.parametrize("skew", [-5, 1, 16, 0x1000])
def test_the_length_field_is_not_checked(skew: int) -> None:
    """docs/protocol/accepted.md#live-view: a datagram whose length field does not match its
    size (the emulator's `live_tunnel_length_skew`) is read by its own size."""
    body = b"\x00" * 20
    data = server.header(0x02, 0x01, 0x9595FEE3, len(body), skew) + body
    assert int.from_bytes(data[0x10:0x12], "big") != len(data) - 0x10
    got = client.unwrap(data)
    assert (got.path, got.type, got.conv, got.payload) == (0x02, 0x01, 0x9595FEE3, body)
    reply = server.device_xmsg(7, bytes(40), bytes(40), 1, '{"type":"x"}', skew=skew)
    assert client.unwrap(reply).type == 0x30 and client.read_xmsg(reply)["type"] == "x"
