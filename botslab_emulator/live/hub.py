"""The emulator's live-view world (docs/protocol/live-video.md#emulator): the UDP tunnel with a
virtual device behind it, the TCP and QTP relays, the publisher looping a synthetic clip at real
pace, fault knobs."""

from __future__ import annotations

import asyncio
from collections import deque
import contextlib
from dataclasses import dataclass, field
import errno
import functools
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from ..network import Network
from .clip import live_clip
from .faults import LiveFaults
from .frames import app_frame, read_tlvs
from .media import damage_slices, encrypt_frame, media_body, without_parameter_sets
from .qtp import QtpServer
from .relay import RelayServer
from .signing import BOOT_KEY, b64, double_b64_decrypt, double_b64_encrypt
from .tunnel import device_xmsg, header, parse, xmsg_content

if TYPE_CHECKING:
    from ..world import Device, World

_LOGGER = logging.getLogger(__name__)
UNKNOWN_INDEX = 9999
# 192.168.1.252, read little-endian (docs/protocol/live-video.md#signalling-messages)
LAN_HUB = "4227967168:8000"


@dataclass
class LiveStats:
    xmsgs: int = 0
    acks: int = 0
    keepalives: int = 0
    bad_datagrams: int = 0
    req_relay: int = 0
    heartbeats: int = 0
    video_frames: int = 0
    publisher_starts: int = 0  # streams started (a stream that lapsed and restarted counts twice)
    # wake-ups of a sleeping device (the slow start of docs/protocol/live-video.md#timers)
    cold_wakes: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class Publisher:
    """One device stream: the clip looped at real pace, encrypted per frame, to the relays."""

    def __init__(self, hub: LiveHub, dev: Device, stream_id: str) -> None:
        self.hub = hub
        self.dev = dev
        self.stream_id = stream_id
        self.video = False
        self.keyframe_due = False  # video just began: the encoder starts it with a keyframe
        self.last_hb = time.monotonic()
        self.task: asyncio.Task[None] | None = None
        self._keys_src: Any = None
        self._key_cache: dict[int, bytes] = {}

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def _keys(self) -> dict[int, bytes]:
        """The device's current keys (a rotation on the emulator clock applies at once)."""
        live = self.hub.world.devices.live_state(self.dev)
        if live.get("keys") is not self._keys_src or not self._key_cache:
            self._keys_src = live.get("keys")
            self._key_cache = {
                int(i): k.encode("ascii")[:32].ljust(32, b"\x00")
                for i, k in live.get("keys", {}).items()
            }
        return self._key_cache

    def _encrypt(self, au: bytes, frame_no: int, video_no: int, real: bool) -> tuple[int, bytes]:
        """(key index, encrypted AU) of a video frame: a key per frame by default; with
        `unknown_key_index` (or for the first `unknown_key_frames` video frames) the
        signalling key (the sorted indices' element at n // 3,
        docs/protocol/live-video.md#signalling-crypto) under an index nobody was given."""
        faults = self.hub.faults
        keys = self._keys()
        if faults.unknown_key_index or video_no < faults.unknown_key_frames:
            index = sorted(keys)[len(keys) // 3]
            return UNKNOWN_INDEX, encrypt_frame(au, {index: keys[index]}, index, real=real)[1]
        return encrypt_frame(au, keys, sorted(keys)[frame_no % len(keys)], real=real)

    def _keyframe(self, au: bytes, keyframe_no: int) -> bytes:
        """A keyframe as the knobs make it: without SPS/PPS (every other one, with
        `keyframe_params: alternate`), slices damaged (`keyframe_damage`)."""
        faults = self.hub.faults
        if faults.keyframe_params == "alternate" and keyframe_no % 2:
            au = without_parameter_sets(au)
        if faults.keyframe_damage:
            au = damage_slices(au, faults.keyframe_damage)
        return au

    async def run(self) -> None:
        real = self.hub.faults.media == "real"
        clip = await asyncio.to_thread(functools.partial(live_clip, real=real))
        loop = asyncio.get_running_loop()
        start = loop.time()
        base_ts = int(time.time() * 1000) & 0x7FFFFFFF
        frame_no = video_no = keyframe_no = 0
        offset = 0  # clip index of frame 0: moved so that video begins with a keyframe
        audio = app_frame(0x0A, media_body(0, 0, 0, bytes([0xD5]) * 160))[10:]
        # the encoder's start (docs/protocol/live-video.md#timers: a warm re-open about 1 s, all of
        # it counted)
        if self.hub.faults.publish_delay_s > 0:
            await asyncio.sleep(self.hub.faults.publish_delay_s)
            start = loop.time()
        while time.monotonic() - self.last_hb < self.hub.faults.heartbeat_timeout_s:
            if self.keyframe_due and self.video:
                self.keyframe_due = False
                offset = (-frame_no) % len(clip.aus)  # this frame is the clip's first (an IDR)
            index = (frame_no + offset) % len(clip.aus)
            if self.video:
                au = clip.aus[index]
                if clip.keyframes[index]:
                    au = self._keyframe(au, keyframe_no)
                    keyframe_no += 1
                key_index, encrypted = self._encrypt(au, frame_no, video_no, real)
                video_no += 1
                ts_ms = (base_ts + int((loop.time() - start) * 1000)) & 0xFFFFFFFF
                body = media_body(frame_no, ts_ms, key_index, encrypted)
                self.hub.sent.append((time.time(), self.stream_id, index))
                self.hub.send_video(self.stream_id, 0x02 if clip.keyframes[index] else 0x03, body)
            self.hub.send_audio(self.stream_id, audio)
            frame_no += 1
            await asyncio.sleep(max(0.0, start + frame_no / clip.fps - loop.time()))
        _LOGGER.debug("%s stopped publishing: no heartbeat", self.stream_id)


class TunnelServer(asyncio.DatagramProtocol):
    """The P2P tunnel server and the virtual device behind it (docs/protocol/live-video.md#tunnel,
    docs/protocol/live-video.md#emulator)."""

    def __init__(self, hub: LiveHub, host: str) -> None:
        self.hub = hub
        self.host = host
        self.port = 0
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, 0))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def stop(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        self.hub.net.send_datagram(self.transport, data, addr)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.hub.net.receive_datagram(self._received, data, addr, self)

    def _received(self, data: bytes, addr: tuple[str, int]) -> None:
        stats = self.hub.stats
        try:
            path, kind, conv, payload = parse(data)
            skew = self.hub.faults.tunnel_length_skew
            if (path, kind) == (0x02, 0x04):  # CONNECT: echoed, so the client does not stall
                self._send(header(0x02, 0x04, conv, len(payload), skew) + payload, addr)
            elif (path, kind) == (0x02, 0x30):
                self._xmsg(data, conv, addr)
            elif (path, kind) == (0x02, 0x31):
                stats.acks += 1
            elif (path, kind) in ((0x03, 0x01), (0x02, 0x03)):
                # OPEN gets a 02/01 "login response" (20 bytes), PROBE a 02/03 (11 bytes); both
                # begin with the address the server sees, as in the captures
                # (docs/protocol/live-video.md#vectors)
                seen = bytes(int(p) for p in addr[0].split(".")) + addr[1].to_bytes(2, "big")
                body = seen + (bytes.fromhex("003320fb") + bytes(10) if kind == 0x01 else bytes(5))
                self._send(header(0x02, kind, conv, len(body), skew) + body, addr)
                stats.keepalives += 1
            else:  # DIRECT_REGISTER, KEEPALIVE
                stats.keepalives += 1
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):  # incl. bad JSON
            stats.bad_datagrams += 1

    def _xmsg(self, data: bytes, conv: int, addr: tuple[str, int]) -> None:
        stats = self.hub.stats
        stats.xmsgs += 1
        uuid40, route40 = data[0x18:0x40], data[0x40:0x68]
        faults = self.hub.faults
        ack = uuid40 + route40 + data[0x68:0x70] + bytes(12)
        self._send(header(0x02, 0x31, conv, len(ack), faults.tunnel_length_skew) + ack, addr)
        content = xmsg_content(data)
        dev = self.hub.world.devices[str(content["sn"])]
        keys: dict[str, str] = (dev.live or {}).get("keys", {})
        index = int(content.get("index", 0) or 0)
        key = BOOT_KEY if not int(content.get("algo", 0) or 0) else keys[str(index)].encode()
        inner = double_b64_decrypt(str(content["data"]), key)
        if not isinstance(inner, dict):
            raise TypeError("signalling is not an object")
        kind = str(inner.get("type"))
        stats.by_type[kind] = stats.by_type.get(kind, 0) + 1

        def reply(message: dict[str, Any], *, signed: bool) -> None:
            text = json.dumps(message, separators=(",", ":"))
            env: dict[str, Any] = {"model": "netsdk", "sn": dev.device_name}
            env["tm"] = str(int(time.time() * 1000))
            form = faults.base64
            if signed:
                env["data"] = double_b64_encrypt(text, keys[str(index)].encode(), form)
                env.update(algo=1, index=index)
            else:
                env["data"] = double_b64_encrypt(text, BOOT_KEY, form)
            msg_id = int(time.time() * 1_000_000)
            content = json.dumps(env)
            skew = faults.tunnel_length_skew
            self._send(device_xmsg(conv, uuid40, route40, msg_id, content, skew=skew), addr)

        if kind == "base_capacity":
            reply(
                {"type": "base_capacity_res", "ea": 1, "requester_ctx": inner.get("requester_ctx")},
                signed=False,
            )
        elif kind == "req_relay":
            stats.req_relay += 1
            if self.hub.faults.stay_asleep or not self.hub.reachable(dev):
                return  # a sleeping (or still booting) device does not answer
            flag = self.hub.video_flag(dev, str(inner.get("requester_ctx", "")))
            if inner.get("token"):
                # a non-empty token (a uSign) gave audio only
                # (docs/protocol/live-video.md#signalling-messages)
                flag = 0
            authorised = flag == 1
            viewer = str(inner.get("requester_ctx", ""))  # machineId[cts=…]: one session
            asked = self.hub.flag_zero_sent.get(viewer, 0)
            if flag == 1 and asked < self.hub.faults.flag0_replies:
                self.hub.flag_zero_sent[viewer] = asked + 1
                flag = 0  # a real device says "audio only" a few times before video (10.1)
                while len(self.hub.flag_zero_sent) > 256:
                    self.hub.flag_zero_sent.pop(next(iter(self.hub.flag_zero_sent)))
            lra = b64(json.dumps({"flag": flag, "la": LAN_HUB}).encode(), faults.base64)
            publish_sn = str(inner.get("publish_sn") or f"{dev.device_name}_01_01")
            video = flag == 1 or (faults.video_during_flag0 and authorised)
            self.hub.publish(dev, publish_sn, video=video)
            result = {"type": "res_pub_stream_result", "result": 0, "publish_sn": publish_sn}
            loop = asyncio.get_running_loop()
            handles = self.hub.timers
            handles[:] = [h for h in handles if not h.cancelled() and h.when() > loop.time()]
            late = faults.reply_delay_s  # a late or lost reply: the media goes first
            answer = {"type": "req_relay_res", "lra": lra, "ea": 1, "ec": 1}
            handles.append(loop.call_later(late, functools.partial(reply, answer, signed=True)))
            for delay in (0.0, 0.3, 0.6):  # the device floods it
                handles.append(
                    loop.call_later(late + delay, functools.partial(reply, result, signed=True))
                )
        elif kind == "req_heartbeat":
            stats.heartbeats += 1
            self.hub.heartbeat(dev, str(inner.get("publish_sn") or f"{dev.device_name}_01_01"))


class LiveHub:
    def __init__(self, world: World, host: str, net: Network | None = None) -> None:
        self.world = world
        self.host = host
        self.net = net or Network()
        self.faults = LiveFaults()
        self.stats = LiveStats()
        self.registered: dict[tuple[str, str], str] = {}  # (sn, machineId) -> uid (schedule_2)
        # relay signs issued (sign -> {sign, sname, sn}) and ukeys minted (ukey -> {sn, video})
        self.signs: dict[str, dict[str, str]] = {}
        self.ukeys: dict[str, dict[str, Any]] = {}
        self.tunnel = TunnelServer(self, host)
        self.relay = RelayServer(self.faults, self.check_login, host, net=self.net)
        self.qtp = QtpServer(self.faults, self.check_login, host, net=self.net)
        # (wall time, stream id, clip index) of every video frame the devices sent: the frame
        # times a benchmark compares with the moment a browser paints them (the clip's frames
        # carry their index as a visible stamp, clip.py)
        self.sent: deque[tuple[float, str, int]] = deque(maxlen=4096)
        self.ready_at: dict[str, float] = {}  # device -> when a cold wake-up is done (world clock)
        self.publishers: dict[str, Publisher] = {}
        self.timers: list[asyncio.TimerHandle] = []
        self.flag_zero_sent: dict[str, int] = {}  # flag-0 replies given, by session

    async def start(self) -> None:
        await self.tunnel.start()
        asked = self.relay.port
        for attempt in range(5):
            await self.relay.start()
            try:
                await self.qtp.start(self.relay.port)  # UDP on the relay's port number
                return
            except OSError as err:
                if err.errno != errno.EADDRINUSE or asked or attempt == 4:
                    raise
            # a port the system chose for TCP may be taken for UDP: another number
            await self.relay.stop()
            self.relay.port = 0

    async def stop(self) -> None:
        for handle in self.timers:
            handle.cancel()
        for pub in self.publishers.values():
            if pub.task is not None:
                pub.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await pub.task
        self.publishers.clear()
        self.tunnel.stop()
        self.qtp.stop()
        await self.relay.stop()

    # --- authorisation ------------------------------------------------------------------------
    def video_flag(self, dev: Device, requester_ctx: str) -> int:
        """1 (video) for a viewer the owner's account registered with schedule_2, else 0."""
        machine = requester_ctx.split("[", 1)[0]
        uid = self.registered.get((dev.device_name, machine), "")
        role = self.world.sharing.role(uid.removeprefix("botslab_"), dev) if uid else None
        return int(role is not None and role[0] == "owner" and not self.faults.audio_only)

    def check_login(self, body: bytes) -> tuple[int, str, bool]:
        """(result, stream id, video ukey) of a LOGIN body."""
        try:
            fields = read_tlvs(body)
        except ValueError:
            return 1, "", False
        ukey = fields.get(0x0002, b"").decode(errors="replace")
        stream_id = fields.get(0x0001, b"").decode(errors="replace")
        minted = self.ukeys.get(ukey)
        if minted is None or stream_id != f"{minted['sn']}_01_01":
            return 1, stream_id, False
        if self.faults.login_result:
            return self.faults.login_result, stream_id, False
        return 0, stream_id, bool(minted.get("video"))

    # --- waking (docs/protocol/live-video.md#timers)
    # ----------------------------------------------------------------
    def wake(self, dev: Device) -> None:
        """WakeUp: a sleeping battery device boots (`wake_s`, the cold start) before it
        answers; one awake already answers at once (the warm re-open)."""
        world = self.world
        if dev.battery and not world.devices.is_awake(dev):
            self.stats.cold_wakes += 1
            self.ready_at[dev.device_name] = world.now() + self.faults.wake_s
        dev.awake_until = max(dev.awake_until, world.now() + 60)

    def event_made(self, dev: Device) -> None:
        """A device that has just recorded an event is awake (and ready) for a while."""
        world = self.world
        if dev.battery and self.faults.event_awake_s > 0:
            dev.awake_until = max(dev.awake_until, world.now() + self.faults.event_awake_s)
            self.ready_at.pop(dev.device_name, None)

    def reachable(self, dev: Device) -> bool:
        """Awake and done booting."""
        if not self.world.devices.is_awake(dev):
            return False
        return self.world.now() >= self.ready_at.get(dev.device_name, 0.0)

    # --- publishing ---------------------------------------------------------------------------
    def publish(self, dev: Device, stream_id: str, *, video: bool) -> None:
        """req_relay: start the stream if it is not running. Only heartbeats keep a running
        stream alive (docs/protocol/live-video.md#signalling-messages: without them publishing
        stops); a repeated req_relay does not."""
        pub = self.publishers.get(stream_id)
        if pub is None or not pub.running:
            pub = Publisher(self, dev, stream_id)
            self.publishers[stream_id] = pub
            self.stats.publisher_starts += 1
            pub.task = asyncio.get_running_loop().create_task(pub.run())
        if video and not pub.video:
            pub.keyframe_due = True
        pub.video = pub.video or video

    def heartbeat(self, dev: Device, stream_id: str) -> None:
        pub = self.publishers.get(stream_id)
        if pub is not None:
            pub.last_hb = time.monotonic()
        if dev.battery:  # a device streaming stays awake
            dev.awake_until = max(dev.awake_until, self.world.now() + 30)

    def publishing(self, stream_id: str) -> bool:
        pub = self.publishers.get(stream_id)
        return pub is not None and pub.running

    def send_video(self, stream_id: str, cls: int, body: bytes) -> None:
        limit = self.faults.drop_after_frames
        frame = app_frame(cls, body)
        self.stats.video_frames += 1
        if self.faults.video_transport == "tcp":
            for viewer in self.relay.attached(stream_id):
                if viewer.video:
                    viewer.write(frame)
                    viewer.frames_sent += 1
                    if limit and viewer.frames_sent >= limit:
                        viewer.writer.close()  # the relay drops the viewer mid-stream
        else:
            for peer in self.qtp.viewers(stream_id):
                if peer.video:
                    self.qtp.send_frame(peer, frame)
                    peer.frames_sent += 1
                    peer.dropped = bool(limit and peer.frames_sent >= limit)

    def send_audio(self, stream_id: str, body: bytes) -> None:
        """Filler audio (class 0x0A), over TCP in both modes
        (docs/protocol/live-video.md#emulator)."""
        self.relay.send(stream_id, 0x0A, body)
