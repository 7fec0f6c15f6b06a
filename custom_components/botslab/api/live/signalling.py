"""The signalling side of a live view (docs/protocol/live-video.md#tunnel,
docs/protocol/live-video.md#timers): the UDP tunnel to the device through the tunnel servers, its
open/connect/register/probe handshake, the encrypted req_relay and heartbeat messages, and the main
loop's timers. It knows nothing of relays or media: the session hands it what it needs through
`SignallingHooks`.

    signalling = Signalling(serial, keys, servers, ids, timers)
    await signalling.open()
    await signalling.run(hooks)            # raises LiveError (device asleep, audio only, ...)
    signalling.close()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass
import logging
import time
from typing import Any, Protocol
import uuid

from .. import safejson
from ..exceptions import ProtocolError
from ..models import CameraKeys, code_of
from . import tunnel
from .pipeline import LiveError
from .signing import (
    BASE_CAPACITY_KEY,
    b64decode_loose,
    envelope,
    open_data,
    reply_key,
    signalling_index,
)
from .timeline import LiveTimeline

_LOGGER = logging.getLogger(__name__)
PLAY_TYPE_AUX = base64.b64encode(
    b'{"pct":3, "bitrate":1, "os":"1", "f":0, "rfd":0, "sp":0, "vfs":0, "mc":"", "ver":"220802"}'
).decode()


@dataclass(slots=True)
class LiveTimers:
    """docs/protocol/live-video.md#timers's timers (seconds); tests shorten the error timeouts."""

    keepalive: float = 3.0
    register: float = 2.0
    base_capacity: float = 1.0
    req_relay: float = 0.6
    # after a flag-0 reply, ask again this soon: the device says "audio only" while its
    # stream starts (docs/protocol/accepted.md#live-view), and each 0.6 s wait would add to the open
    req_relay_again: float = 0.1
    # between the tunnel's opening messages (open, connect, register, probe): the working
    # client paces them 0.15-0.2 s apart; nothing in the protocol asks for it
    open_gap: float = 0.05
    heartbeat: float = 2.0
    rewake: float = 20.0
    reregister: float = 30.0
    qtp_dial_gap: float = 2.0
    qtp_dials: int = 8
    setup_tries: int = 4
    setup_gap: float = 0.8
    asleep_after: float = 45.0  # no answer to req_relay (two wake calls): the device sleeps
    # replies with flag 0 for this long (and at least 3 of them) before "audio only": the
    # first replies often carry flag 0 before video is authorised
    # (docs/protocol/accepted.md#live-view)
    audio_only_after: float = 15.0
    first_frame: float = 30.0  # publishing but no video
    stall: float = 10.0  # no media for this long once flowing


@dataclass(frozen=True, slots=True)
class ViewerIds:
    """Who is watching: the machine id (tunnel and relay) and the requester id (signalling)."""

    machine_id: str
    requester_id: str
    cts: int  # the viewer's context stamp (ms), one per session


class SignallingHooks(Protocol):
    """What the main loop needs from the rest of the session."""

    def keepalive(self) -> None:
        """Keep the relay legs alive (every `keepalive` seconds)."""

    def rewake(self) -> None:
        """Call the device's wake-up again (no answer yet)."""

    def reregister(self) -> None:
        """Register the viewer again (schedule_2)."""

    def media(self) -> tuple[int, float]:
        """(video frames delivered, monotonic time of the last media frame or 0)."""


class Signalling:
    def __init__(
        self,
        serial: str,
        keys: CameraKeys,
        servers: tuple[tuple[str, int], ...],
        ids: ViewerIds,
        timers: LiveTimers | None = None,
        *,
        conv: int = 0,
        timeline: LiveTimeline | None = None,
    ) -> None:
        self.serial = serial
        self.servers = servers
        self.ids = ids
        self.timers = timers or LiveTimers()
        self._keys = keys
        self._index = signalling_index(keys.secret_keys)
        self._conv = conv
        self._transport: asyncio.DatagramTransport | None = None
        self._closed = False
        self.connect_replies = 0
        self.base_capacity_done = False
        self.publishing = False
        self.flag = -1  # req_relay_res: 1 video, 0 audio only, -1 none yet
        self.flag_zero = 0
        self._flag_zero_since = 0.0
        self._timeline = timeline  # the replies and their flags, for diagnostics
        self._ask_again = False  # a flag-0 reply came: ask again soon

    @property
    def transport(self) -> asyncio.DatagramTransport | None:
        return self._transport

    def use_keys(self, keys: CameraKeys) -> None:
        """Fresh keys (rotated): signalling follows the new set."""
        self._keys = keys
        self._index = signalling_index(keys.secret_keys)

    def close(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    # --- the tunnel -------------------------------------------------------------------------
    def _send(self, data_for: Any, *, new_conv: bool = False) -> None:
        transport = self._transport
        if transport is None or transport.is_closing() or self._closed:
            return
        self._conv = (self._conv + 1) & 0xFFFFFFFF
        for server in self.servers:
            if new_conv:
                self._conv = (self._conv + 1) & 0xFFFFFFFF
            transport.sendto(data_for(self._conv), server)

    async def open(self) -> None:
        """The tunnel's handshake: open, connect (waits up to 2 s for its echo), register,
        probe."""
        loop = asyncio.get_running_loop()
        owner = self

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                owner.datagram_received(data)

            def error_received(self, exc: Exception) -> None:
                _LOGGER.debug("tunnel: %s", exc)

        transport, _ = await loop.create_datagram_endpoint(
            _Protocol,
            local_addr=("0.0.0.0", 0),  # replies come from any tunnel server
        )
        self._transport = transport
        mid, pid, sn = self.ids.machine_id, self._keys.license.product_id, self.serial
        gap = self.timers.open_gap
        self._send(lambda c: tunnel.wrap(0x03, 0x01, c, tunnel.open_payload(mid, pid, sn)))
        await asyncio.sleep(gap)
        self._send(
            lambda c: tunnel.wrap(0x02, 0x04, c, tunnel.connect_payload(mid, pid, sn)),
            new_conv=True,
        )
        for _ in range(200):  # up to 2 s for its echo
            if self.connect_replies:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(gap)
        self._send(lambda c: tunnel.wrap(0x04, 0x01, c, tunnel.register_payload(mid, pid, sn)))
        await asyncio.sleep(gap)
        self._send(lambda c: tunnel.wrap(0x02, 0x03, c, tunnel.probe_payload(mid)))
        await asyncio.sleep(gap)

    def datagram_received(self, data: bytes) -> None:
        try:
            head = tunnel.unwrap(data)
        except ProtocolError:
            return
        if head.type == tunnel.TYPE_CONNECT:
            self.connect_replies += 1
            return
        if head.type != tunnel.TYPE_XMSG:
            return
        self._ack(head.conv, data)
        try:
            message = tunnel.read_xmsg(data)
            inner = open_data(
                str(message.get("data", "")), reply_key(message, self._keys.secret_keys)
            )
        except ProtocolError as err:
            _LOGGER.debug("%s: signalling dropped: %s", self.serial, err)
            return
        kind = inner.get("type")
        if kind == "base_capacity_res":
            self.base_capacity_done = True
        elif kind == "req_relay_res":
            self.flag = lra_flag(inner.get("lra"))
            if self._timeline is not None:
                self._timeline.reply(self.flag)
            if self.flag == 1:
                self.publishing = True
            elif self.flag == 0:
                # "audio only" is decided in run(): video that arrives beats any number of
                # these (docs/protocol/accepted.md#live-view: arriving media is proof that the
                # device publishes)
                self.flag_zero += 1
                self._ask_again = True
                if not self._flag_zero_since:
                    self._flag_zero_since = time.monotonic()
        elif kind == "res_pub_stream_result":
            self.publishing = True
            if self._timeline is not None:
                self._timeline.once("published")

    def _ack(self, conv: int, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        pid = self._keys.license.product_id
        ack = tunnel.xmsg_ack(conv, self.ids.machine_id, pid, self.serial, data)
        for server in self.servers:
            transport.sendto(ack, server)

    # --- messages (docs/protocol/live-video.md#signalling-messages)
    # ---------------------------------------------------------
    def send_signal(self, inner: dict[str, Any], *, fixed: bool) -> None:
        keys = self._keys
        tm = int(time.time() * 1000)
        if fixed:
            content = envelope(self.serial, tm, inner, BASE_CAPACITY_KEY, bc=1)
        else:
            key = keys.secret_keys[self._index].encode("ascii")
            content = envelope(self.serial, tm, inner, key, index=self._index, algo=1)
        pid, mid = keys.license.product_id, self.ids.machine_id
        self._send(
            lambda c: tunnel.xmsg(
                c, mid, pid, self.serial, msg_id=int(time.time() * 1e6), content=content
            )
        )

    def heartbeat(self) -> dict[str, Any]:
        return {
            "model": "netsdk",
            "type": "req_heartbeat",
            "channel_no": 1,
            "device_sn": self.serial,
            "publish_sn": f"{self.serial}_01_01",
            "play_type": 1,
            "requester_id": self.ids.requester_id,
            "requester_ctx": f"{self.ids.machine_id}[cts={self.ids.cts}]",
        }

    def req_relay(self) -> dict[str, Any]:
        fields = self.heartbeat()
        return {
            "model": "netsdk",
            "type": "req_relay",
            "token": "",  # must stay empty: a uSign here gave audio only
            "channel_no": 1,
            "device_sn": self.serial,
            "publish_sn": fields["publish_sn"],
            "play_type": 1,
            "play_type_aux": PLAY_TYPE_AUX,
            "requester_id": fields["requester_id"],
            "requester_ctx": fields["requester_ctx"],
        }

    # --- the main loop (docs/protocol/live-video.md#timers)
    # ------------------------------------------------------
    async def run(self, hooks: SignallingHooks) -> None:
        """The timers, until cancelled or closed; raises LiveError when the device sleeps,
        gives audio only, sends nothing or stalls."""
        loop = asyncio.get_running_loop()
        t = self.timers
        start = loop.time()
        due: dict[str, float] = {}
        mid, pid = self.ids.machine_id, self._keys.license.product_id
        last_wake = start
        while not self._closed:
            now = loop.time()
            frames, last_media = hooks.media()
            if last_media and not self.publishing:
                # media is proof that the device publishes: heartbeats start now, whether or
                # not a signalling reply was read (docs/protocol/live-video.md#signalling-messages,
                # docs/protocol/live-video.md#timers)
                self.publishing = True

            def every(name: str, period: float, now: float = now) -> bool:
                if now >= due.get(name, 0.0):
                    due[name] = now + period
                    return True
                return False

            if every("keepalive", t.keepalive):
                self._send(lambda c: tunnel.wrap(0x02, 0x20, c, tunnel.keepalive_payload(mid)))
                hooks.keepalive()
            if every("register", t.register):
                self._send(
                    lambda c: tunnel.wrap(
                        0x04, 0x01, c, tunnel.register_payload(mid, pid, self.serial)
                    )
                )
            if not self.base_capacity_done and every("base_capacity", t.base_capacity):
                self.send_signal(
                    {
                        "type": "base_capacity",
                        "ver": 1,
                        "requester_ctx": uuid.uuid4().hex,
                        "device_sn": self.serial,
                    },
                    fixed=True,
                )
            if self._ask_again:
                self._ask_again = False
                due["req_relay"] = min(due.get("req_relay", 0.0), now + t.req_relay_again)
            if self.flag != 1 and every("req_relay", t.req_relay):
                self.send_signal(self.req_relay(), fixed=False)
            if self.publishing and every("heartbeat", t.heartbeat):
                self.send_signal(self.heartbeat(), fixed=False)
            if every("reregister", t.reregister) and now > start:
                hooks.reregister()
            if self._audio_only(last_media):
                raise LiveError("audio_only", "the camera only sends audio to this account")
            if not self.publishing and not last_media:
                if now - last_wake >= t.rewake:
                    last_wake = now
                    hooks.rewake()
                if now - start >= t.asleep_after and not self.flag_zero:
                    # no answer at all; a device that says "audio only" is awake
                    raise LiveError("device_asleep", "the camera did not wake up")
            elif not frames and now - start >= t.first_frame:
                raise LiveError("stream_lost", "the camera sent no video")
            if frames and time.monotonic() - last_media >= t.stall:
                raise LiveError("stream_lost", "the live stream stalled")
            await asyncio.sleep(0.05)

    def _audio_only(self, last_media: float) -> bool:
        """Flag 0 for `audio_only_after` seconds (at least 3 replies) and still flag 0, with
        no video frame at all: the first replies often carry flag 0 before video is
        authorised (docs/protocol/accepted.md#live-view), and video that arrives beats any number of
        them."""
        if self.flag != 0 or self.flag_zero < 3 or last_media:
            return False
        return time.monotonic() - self._flag_zero_since >= self.timers.audio_only_after


def lra_flag(lra: Any) -> int:
    """`flag` of req_relay_res's Base64 `lra` object (1 = video, 0 = audio only)."""
    try:
        loaded = safejson.loads(b64decode_loose(str(lra)))
        flag = code_of(loaded.get("flag")) if isinstance(loaded, dict) else None
        return -1 if flag is None else flag
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, RecursionError):
        return -1
