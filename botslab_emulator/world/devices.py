"""Devices: what they report, what is asked of them, when they sleep, their live-view keys."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
import secrets
from typing import TYPE_CHECKING, Any

from .. import codes
from .model import DEVICE_SCOPES, LIVE_KEY_INTERVAL, PROP_RANGES, Clock, Device, WorldError

if TYPE_CHECKING:
    from .accounts import AccountStore


class DeviceStore(Mapping[str, Device]):
    """Devices by serial (device_name): their properties, wakefulness and live-view keys."""

    def __init__(self, clock: Clock, accounts: AccountStore) -> None:
        self._clock = clock
        self._accounts = accounts
        self._devices: dict[str, Device] = {}

    def __getitem__(self, serial: str) -> Device:
        return self._devices[serial]

    def __iter__(self) -> Iterator[str]:
        return iter(self._devices)

    def __len__(self) -> int:
        return len(self._devices)

    def put(self, dev: Device) -> None:
        self._devices[dev.device_name] = dev

    def add(
        self,
        owner_qid: str,
        *,
        title: str,
        category_key: str,
        product_name: str,
        product_key: str | None = None,
        device_name: str | None = None,
        battery: bool = False,
        properties: dict[str, Any] | None = None,
        clip_encrypt: str = "none",
        firmware: str = "1.4.2",
        latest_firmware: str = "1.5.0",
        plan: dict[str, Any] | None = None,
    ) -> Device:
        self._accounts.require(owner_qid)
        device_name = device_name or f"BS{secrets.token_hex(5).upper()}"
        if device_name in self._devices:
            raise WorldError(codes.INVALID_PARAM, "device exists")
        dev = Device(
            product_key=product_key
            or f"pk_{category_key}_{product_name.rsplit(maxsplit=1)[-1].lower()}",
            device_name=device_name,
            title=title,
            product_name=product_name,
            category_key=category_key,
            category_name={"doorbell": "Video Doorbell", "camera": "Camera"}.get(
                category_key, category_key.title()
            ),
            owner_qid=owner_qid,
            bind_ts=int(self._clock.now()) - 86400 * 30,
            battery=battery,
            clip_encrypt=clip_encrypt,
            latest_firmware=latest_firmware,
            plan=plan,
            product_logo=f"https://static.botslab.com/logo/{category_key}.png",
        )
        stamp = str(int(self._clock.now() * 1000))
        defaults: dict[str, Any]
        if category_key == "doorbell":
            defaults = {
                "BatteryLevel": 87,
                "DoorbellVoltage": 3960,
                "LowPowerMode": 0,
                "DoorbellOnlineState": 1,
                "SdState": 1,
                "SdStorage": "31914983424,4294967296,27620016128",
                "DoorbellAdcCurrent": 120,
                "Power_Supply": 0 if battery else 1,
                "BatteryPack_Install_Status": 1,
                "ExistingChime": 0,
                "MotionDetectSwitch": 1,
                "FirmwareVersion": firmware,
            }
        else:
            defaults = {
                "SdState": 1,
                "SdStorage": "63829966848,10737418240,53092548608",
                "WifiRssi": -58,
                "NightVisionMode": 0,
                "MotionDetectSwitch": 1,
                "MotionSensitivity": 2,
                "PrivacyMode": 0,
                "StatusLight": 1,
                "FirmwareVersion": firmware,
            }
        defaults.update(properties or {})
        for ident, value in defaults.items():
            dev.report[ident] = [value, stamp]
        self._devices[device_name] = dev
        owner = self._accounts[owner_qid]
        for scope in DEVICE_SCOPES:
            owner.consents[f"{scope}|{dev.product_key}|{device_name}"] = {
                "granted": 1,
                "mtime": int(self._clock.now()),
            }
        return dev

    def remove(self, device_name: str) -> Device:
        dev = self._devices.pop(device_name, None)
        if dev is None:
            raise WorldError(codes.DEVICE_NOT_FOUND)
        return dev

    def is_awake(self, dev: Device) -> bool:
        return dev.online and (not dev.battery or dev.awake_until > self._clock.now())

    def report_property(self, dev: Device, ident: str, value: Any) -> None:
        dev.report[ident] = [value, str(int(self._clock.now() * 1000))]

    def set_properties(self, dev: Device, items: dict[str, Any]) -> None:
        for ident, value in items.items():
            spec = dev.props.get(ident)
            if spec is None or not spec[1]:
                raise WorldError(
                    codes.UNKNOWN_IDENTIFIER, f"unknown or read-only identifier {ident}"
                )
            kind = spec[0]
            if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise WorldError(codes.INVALID_PARAM, f"{ident} must be an integer")
            lo_hi = PROP_RANGES.get(ident)
            if lo_hi and not lo_hi[0] <= value <= lo_hi[1]:
                raise WorldError(codes.INVALID_PARAM, f"{ident} out of range")
        if not dev.online:
            raise WorldError(codes.DEVICE_OFFLINE)
        stamp = str(int(self._clock.now() * 1000))
        for ident, value in items.items():
            dev.desired[ident] = [value, stamp]
            if self.is_awake(dev) or not dev.battery:
                dev.report[ident] = [value, stamp]

    def live_state(self, dev: Device) -> dict[str, Any]:
        """The device's license and its media keys (index -> key): 15 keys, a new set at new
        indices every 12 hours of the emulator clock."""
        bucket = int(self._clock.now()) // LIVE_KEY_INTERVAL
        if dev.live is None or dev.live.get("bucket") != bucket:
            printable = "".join(chr(c) for c in range(33, 127) if chr(c) not in '\\"')
            dev.live = {
                "bucket": bucket,
                "license": {
                    "product_id": (dev.live or {}).get("license", {}).get("product_id")
                    or f"{secrets.randbelow(10**9):09d}",
                    "authorization": secrets.token_hex(16),
                    "auth_time": str(int(self._clock.now())),
                    "rand_num": str(secrets.randbelow(10**8)),
                },
                # each rotation brings 15 new keys at new indices (CN saw 30..44, the public
                # client's test 3583: indices are not fixed)
                "keys": {
                    str(index): "".join(secrets.choice(printable) for _ in range(32))
                    for index in range(30 + 15 * (bucket % 256), 45 + 15 * (bucket % 256))
                },
            }
        return dev.live

    def live_keys(self, dev: Device) -> dict[str, Any]:
        """get_keys' answer (docs/protocol/live-video.md#h2-keys)."""
        live = self.live_state(dev)
        return {
            "license": dict(live["license"]),
            "secret_interval": LIVE_KEY_INTERVAL,
            "secret_keys": [{index: key} for index, key in live["keys"].items()],
        }
