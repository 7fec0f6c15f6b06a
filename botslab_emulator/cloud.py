"""The emulated cloud's shared state: the world, the fault knobs, object storage, push and live
view. Every host's handlers (gateway, QUC, control, live) work on a `Cloud`; the server only
assembles them into one aiohttp application."""

from __future__ import annotations

from dataclasses import asdict
import ipaddress
from pathlib import Path
import secrets
from typing import Any

from aiohttp import web

from .faults import Counters, HttpFaults, TokenBuckets
from .live.hub import LiveHub
from .network import Network
from .oss import ObjectStore, shared_clip
from .pushserver import PushServer
from .replay import shapes_from_report
from .world import REGIONS, Device, Message, World


class Cloud:
    """What the emulator's hosts share. `Emulator` adds the sockets and the routes."""

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        push_port: int = 0,
        state_path: Path | None = None,
    ) -> None:
        self.state_path = state_path
        if world is None and state_path is not None and state_path.exists():
            world = World.load(state_path)
        self.world = world or World()
        self.host = host
        self.port = port
        self.net = Network()  # the path to the cloud: loopback, or far away (--network wan)
        self.push = PushServer(host, push_port, self._known_alias, net=self.net)
        self.faults = HttpFaults()
        self.counters = Counters()
        self.list_limiter = TokenBuckets()  # the message list's rate limit per account
        self.oss = ObjectStore(self.world, self.faults, lambda: self.base_url)
        self.captcha_pending: dict[str, str] = {}  # QUC: mid -> username owing a captcha
        self.clip_duration = 4
        # live view (docs/protocol/live-video.md#emulator)
        self.live = LiveHub(self.world, host, self.net)
        # answer shapes recorded in a field report (docs/diagnostics.md): path -> shape
        self.replay: dict[str, Any] = {}
        self.world.messages.on_message.append(self._on_message)
        self.world.messages.secretkey_factory = self.oss.choose_secretkey
        self.world.messages.clip_media_factory = lambda: self.faults.clip_media
        self.world.messages.message_id_factory = self._message_id

    def load_report(self, document: Any) -> list[str]:
        """Answer in the shapes a diagnostics file recorded (replay.py); the paths it
        covers. An empty document (`{}`) goes back to the emulator's own shapes."""
        self.replay = shapes_from_report(document) if document else {}
        return sorted(self.replay)

    def save(self) -> None:
        if self.state_path is not None:
            self.world.save(self.state_path)

    # --- URLs -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def tunnel_port(self) -> int:
        return self.live.tunnel.port

    def quc_url(self, region: str) -> str:
        return f"{self.base_url}/quc/{region}/request.php"

    def api_url(self, region: str) -> str:
        return f"{self.base_url}/api/{region}"

    def config(self) -> dict[str, Any]:
        return {
            "quc_url": f"{self.base_url}/quc/{{region}}/request.php",
            "api_url": f"{self.base_url}/api/{{region}}",
            "regions": {
                r: {
                    "quc_url": self.quc_url(r),
                    "api_url": self.api_url(r),
                    "iotext_url": f"{self.base_url}/live/{r}/iotext",
                    "license_url": f"{self.base_url}/live/{r}/licenseext",
                    "schedule_url": f"{self.base_url}/live/{r}/schedule",
                }
                for r in REGIONS
            },
            "dispatcher_url": f"{self.base_url}/v1/list/ip",
            "push_host": self.host,
            "push_port": self.push.port,
            "rsa_public_key": self.world.keypair.public_spki_b64(),
            "accounts": [
                {"username": a.username, "password": a.password, "region": a.region, "qid": a.qid}
                for a in self.world.accounts.values()
            ],
        }

    # --- events ---------------------------------------------------------------------------
    def _known_alias(self, alias: str) -> bool:
        return any(a.push_alias == alias for a in self.world.accounts.values())

    def _on_message(self, msg: Message, dev: Device) -> None:
        # the snapshot is drawn from the message on first download (deterministic), see oss.py
        self.live.event_made(dev)  # it has just recorded the event: awake for a while
        if self.faults.push_before_list_ms > 0:
            msg.listed_at = self.world.now() + self.faults.push_before_list_ms / 1000
        if not self.world.notifications.push_allowed(msg):
            return
        acc = self.world.accounts[msg.qid]
        self.push.publish(
            acc.push_alias,
            {
                "msg_id": msg.id,
                "product_key": msg.product_key,
                "device_name": msg.device_name,
                "event_type": msg.event_type,
                "ctime": msg.ctime,
            },
        )

    async def trigger(self, device_name: str, event_type: str, **kw: Any) -> dict[str, Any]:
        """Make an event as a device would: a message per viewer, a snapshot, a push."""
        dev = self.world.devices.get(device_name)
        if dev is not None and dev.clip_encrypt == "chacha2":
            await shared_clip(self.faults.clip_media)
            await self.oss.prepare_key(self.faults.clip_media)
        result = self.world.messages.trigger(device_name, event_type, **kw)
        if result["msg_id"] is not None:
            result["pushed_at"] = self.push.last_push_write.get(result["msg_id"])
        return result

    def _message_id(self, seq: int) -> str:
        """A new message's wire id: opaque by default (a random part first, so that ids are
        neither numbers nor in order), or the sequence number (the easy form)."""
        if self.faults.message_ids in ("numeric", "number"):
            return str(seq)
        return f"{secrets.token_hex(5)}-{seq:x}"

    # --- the control API's helpers --------------------------------------------------------
    def loopback_only(self, request: web.Request) -> bool:
        remote = request.remote or ""
        try:
            return ipaddress.ip_address(remote).is_loopback
        except ValueError:
            return False

    def snapshot_state(self) -> dict[str, Any]:
        return {
            "push": asdict(self.push.stats),
            "push_connections": len(self.push.conns),
            "requests": dict(self.counters.requests),
            "rate_limited": self.list_limiter.refused,
        }
