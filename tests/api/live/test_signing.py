"""Live view groundwork: the signalling primitives against docs/protocol/live-video.md#vectors's
vectors, on the client's side and the emulator's (two implementations)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json

from hypothesis import given, strategies as st
import pytest

from botslab_emulator.live import signing as server
from custom_components.botslab.api import ProtocolError
from custom_components.botslab.api.crypto import api_sign
from custom_components.botslab.api.live import signing as client
from custom_components.botslab.api.live.signalling import lra_flag

CORE = {
    "channel": "db0b5612e0e7",
    "dtype": "non",
    "sid": "shedule_1_pid123_SN0123456789ABCDEF_1700000000000_1",
    "sn": "SN0123456789ABCDEF_01_01",
    "stype": "auto",
    "ts": "1700000000000",
    "userid": "10010",
}


def test_rc4_known_answer() -> None:
    assert client.rc4(b"Key", b"Plaintext").hex().upper() == "BBF316E8D940AF0AD3"
    assert server.rc4(b"Key", b"Plaintext").hex().upper() == "BBF316E8D940AF0AD3"


def test_envelope_data_vectors() -> None:
    inner = '{"type":"base_capacity"}'
    assert (
        client.seal_data(inner, client.BASE_CAPACITY_KEY)
        == "tl+TKi5Ga0aHoHMJ/qqBwcVq/YADDwlj/zBvLraiXRU="
    )
    assert client.seal_data(inner, b"K" * 32) == "QHUEYI/3GjaHLcf3LjnezkZoMTBKknGqwwP5PJJsTvU="
    assert (
        server.double_b64_encrypt(inner, server.BOOT_KEY)
        == "tl+TKi5Ga0aHoHMJ/qqBwcVq/YADDwlj/zBvLraiXRU="
    )
    assert server.double_b64_decrypt("QHUEYI/3GjaHLcf3LjnezkZoMTBKknGqwwP5PJJsTvU=", b"K" * 32) == {
        "type": "base_capacity"
    }
    assert client.open_data(
        "tl+TKi5Ga0aHoHMJ/qqBwcVq/YADDwlj/zBvLraiXRU=", client.BASE_CAPACITY_KEY
    ) == {"type": "base_capacity"}


def test_signatures() -> None:
    assert (
        client.urlsign("pid123", "SN0123456789ABCDEF", "1700000000")
        == "d1e2d540df0c7a34e7fad5e851a58fbf"
    )
    assert (
        server.relay_urlsign("pid123", "SN0123456789ABCDEF", "1700000000")
        == "d1e2d540df0c7a34e7fad5e851a58fbf"
    )
    assert client.schedule_sign(CORE) == "586bec6d86737309c4961b817866e64e"
    assert server.substream_sign(CORE) == "586bec6d86737309c4961b817866e64e"
    assert api_sign("botslabadr", "0123456789abcdef0123456789abcdef", "1700000000", "A" * 20) == (
        "28c0d8ce02b0d6cceba92a72c9a1aeeb"
    )


def test_substream_junk_strip() -> None:
    assert client.strip_substream("eyJXXXlcnJjb2RlIjowfQ==") == {"errcode": 0}
    answer = {"errcode": 0, "auth_key": "ukey123", "servers": ["127.0.0.1:80"]}
    assert client.strip_substream(server.substream_body(answer)) == answer
    with pytest.raises(ProtocolError):
        client.strip_substream("!!!not base64")


def test_identities_and_key_pick() -> None:
    m2 = "0123456789abcdef0123456789abcdef"
    assert client.machine_id(m2) == "d682259d-3fa4-5e44-ac1d-c481508cf08e"
    assert client.requester_id(m2) == "5e540e5265cc7300e582e8c90a416dc2_1"
    assert client.signalling_index(range(30, 45)) == 35
    keys = {35: "K" * 32}
    assert client.reply_key({"algo": 1, "index": 35}, keys) == b"K" * 32
    assert client.reply_key({}, keys) == client.BASE_CAPACITY_KEY
    with pytest.raises(ProtocolError):
        client.reply_key({"algo": 1, "index": 7}, keys)


@given(
    st.dictionaries(st.text(max_size=8), st.text(max_size=20), max_size=5),
    st.binary(min_size=1, max_size=32),
)
def test_envelope_roundtrip_both_ways(inner: dict[str, str], key: bytes) -> None:
    sealed = client.seal_data(inner, key)
    assert server.double_b64_decrypt(sealed, key) == inner
    assert client.open_data(server.double_b64_encrypt(json.dumps(inner), key), key) == inner


@given(st.text(max_size=80), st.binary(min_size=1, max_size=16))
def test_open_data_raises_only_protocol_errors(text: str, key: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        client.open_data(text, key)


@pytest.mark.parametrize(
    "text",
    [
        "QUJD",  # canonical, no padding needed
        "QUI=",  # padded
        "QUI",  # unpadded
        "QUJ",  # unpadded, non-canonical (the unused bits of the last character set)
        "QUI==",  # padding to spare
        "QU\nI=",  # a line break
        "QUI-",  # URL-safe alphabet (here a different last byte)
    ],
)
def test_loose_base64(text: str) -> None:
    """Padding and canonical form are not checked (docs/protocol/accepted.md#live-view)."""
    got = client.b64decode_loose(text)
    assert got[:2] == b"AB"
    with pytest.raises(binascii.Error):
        client.b64decode_loose("*" + text)


@pytest.mark.parametrize("form", ["padded", "unpadded", "loose"])
def test_signalling_in_every_base64_form(form: str) -> None:
    """The device's forms (the emulator's `live_base64` knob) all open; "loose" is
    unpadded and non-canonical, which a strict decoder refuses."""
    inner = {"type": "req_relay_res", "lra": server.b64(b'{"flag":1}', form)}
    for size in range(40, 44):  # every remainder mod 3 of the inner text
        text = json.dumps({**inner, "pad": "x" * size})
        data = server.double_b64_encrypt(text, b"K" * 32, form)
        assert client.open_data(data, b"K" * 32)["pad"] == "x" * size
        if form != "padded" and len(client.b64decode_loose(data)) % 3:
            with pytest.raises(binascii.Error):
                base64.b64decode(data, validate=True)
    assert lra_flag(inner["lra"]) == 1
    assert server.b64(b"A", "loose") == "Qf" and base64.b64encode(b"A") == b"QQ=="
