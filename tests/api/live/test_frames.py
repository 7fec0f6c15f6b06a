"""Relay app-frames (docs/protocol/live-video.md#app-frames) against the vectors of section 11, on
both sides."""

from __future__ import annotations

import contextlib

from hypothesis import given, strategies as st
import pytest

from botslab_emulator.live import frames as relay
from custom_components.botslab.api import ProtocolError
from custom_components.botslab.api.live import frames as client

LOGIN_HEX = (
    "2014110400010000004900010018534e303132333435363738394142434445465f30315f303100020007756b65793132330005"
    "000845555f72656c6179000b000a613142326333443465350015000400000000"
)


def test_login_start_and_result_vectors() -> None:
    login = client.login_frame("SN0123456789ABCDEF_01_01", "ukey123", "EU_relay", "a1B2c3D4e5")
    assert login.hex() == LOGIN_HEX
    assert client.start_frame().hex() == "20141104000900000008000c000400000000"
    assert relay.login_result(0).hex() == "201411040069000000080016000400000000"
    assert relay.parse_login(login) == {
        "stream_id": "SN0123456789ABCDEF_01_01",
        "ukey": "ukey123",
        "cluster": "EU_relay",
        "product_key": "a1B2c3D4e5",
    }


def test_reader_splits_frames_across_reads() -> None:
    media = relay.app_frame(0x02, b"\x00\x00\x00\x00\x00\x03" + bytes(60))
    stream = relay.login_result(0) + media + relay.app_frame(0x0A, b"audio") + relay.login_result(7)
    reader = client.FrameReader()
    got = [f for i in range(0, len(stream), 5) for f in reader.feed(stream[i : i + 5])]
    assert [f.cls for f in got] == [0x69, 0x02, 0x0A, 0x69]
    assert got[0].login_ok is True and got[3].login_ok is False and got[2].login_ok is None
    assert client.AppFrame(0x01, b"").login_ok is True, "an echoed LOGIN counts as ok"


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\n",
        relay.app_frame(0x02, b"no device header"),
        b"\x20\x14\x11\x04\x00\x02\xff\xff\xff\xff",
    ],
)
def test_reader_refuses_foreign_bytes(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        list(client.FrameReader().feed(data))


@given(st.binary(max_size=400))
def test_reader_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        list(client.FrameReader().feed(data))
