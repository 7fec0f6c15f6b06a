"""Devices: what the list says, their properties, services, firmware, the network test and
the live view's license and keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
import math
from typing import Any

from ..exceptions import ProtocolError
from .values import (
    as_list,
    number,
    obj_field,
    str_field,
)
from .vocab import (
    DeviceKind,
    ShareLevel,
)


@dataclass(frozen=True, slots=True)
class Device:
    product_key: str
    serial: str
    title: str
    product_name: str
    kind: DeviceKind
    category_key: str
    online: bool
    owner: bool
    share_level: ShareLevel
    bind_ts: int = 0
    category_name: str = ""
    product_logo: str = field(default="", repr=False)

    @property
    def can_control(self) -> bool:
        return self.owner or self.share_level in (ShareLevel.CONTROL, ShareLevel.FULL)

    @classmethod
    def from_api(cls, raw: Any) -> Device:
        data = obj_field(raw, "device")
        category = str_field(data.get("category_key")).lower()
        kind = (
            DeviceKind.DOORBELL
            if "doorbell" in category
            else (
                DeviceKind.CAMERA if "camera" in category or "ipc" in category else DeviceKind.OTHER
            )
        )
        roles = data.get("roles")
        role_text = ",".join(map(str, roles)) if isinstance(roles, list) else str_field(roles)
        owner = "owner" in role_text.lower()
        level = (
            ShareLevel.FULL
            if owner
            else ShareLevel.from_number(
                data.get("share_level") or (role_text.rsplit("_", 1)[-1] if "_" in role_text else 1)
            )
        )
        if not data.get("device_name") or not data.get("product_key"):
            raise ProtocolError("device without product_key/device_name")
        return cls(
            product_key=str_field(data["product_key"]),
            serial=str_field(data["device_name"]),
            title=str_field(data.get("device_title"))
            or str_field(data.get("product_name"))
            or str_field(data["device_name"]),
            product_name=str_field(data.get("product_name")),
            kind=kind,
            category_key=category,
            online=str_field(data.get("online_status")).lower() == "online",
            owner=owner,
            share_level=level,
            bind_ts=number(data.get("bind_ts")),
            category_name=str_field(data.get("category_name")),
            product_logo=str_field(data.get("product_logo")),
        )


@dataclass(frozen=True, slots=True)
class PropertyValue:
    value: Any
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Properties:
    """A device's reported and desired properties, with typed accessors for known identifiers."""

    report: Mapping[str, PropertyValue]
    desired: Mapping[str, PropertyValue]

    @classmethod
    def from_api(cls, raw: Any) -> Properties:
        data = obj_field(raw, "properties")

        def table(items: Any) -> dict[str, PropertyValue]:
            out: dict[str, PropertyValue] = {}
            for item in items if isinstance(items, list) else []:
                if isinstance(item, Mapping) and item.get("identifier"):
                    value = item.get("value")
                    if isinstance(value, float) and not math.isfinite(value):
                        value = None  # NaN or an infinity reported: nothing known
                    out[str(item["identifier"])] = PropertyValue(
                        value, number(item.get("timestamp"))
                    )
            return out

        return cls(table(data.get("report")), table(data.get("desired")))

    @property
    def raw(self) -> dict[str, Any]:
        """Reported values by identifier (desired ones where nothing was reported)."""
        merged = {k: v.value for k, v in self.desired.items()}
        merged.update({k: v.value for k, v in self.report.items()})
        return merged

    def get(self, identifier: str) -> Any:
        return self.raw.get(identifier)

    def _int(self, identifier: str) -> int | None:
        value = self.get(identifier)
        return None if value is None or value == "" else number(value, 0)

    def has(self, identifier: str) -> bool:
        return identifier in self.report or identifier in self.desired

    @property
    def battery_level(self) -> int | None:
        return self._int("BatteryLevel")

    @property
    def voltage_mv(self) -> int | None:
        return self._int("DoorbellVoltage")

    @property
    def low_power_mode(self) -> bool | None:
        value = self._int("LowPowerMode")
        return None if value is None else bool(value)

    @property
    def on_battery(self) -> bool | None:
        value = self._int("Power_Supply")
        return None if value is None else value == 0

    @property
    def sd_card_present(self) -> bool | None:
        value = self._int("SdState")
        return None if value is None else value == 1

    @property
    def sd_storage(self) -> tuple[int, int, int] | None:
        """(total, used, free) bytes."""
        value = self.get("SdStorage")
        if not isinstance(value, str) or len(value) > 80:
            return None
        parts = value.split(",")
        if len(parts) != 3 or not all(p.strip().isascii() and p.strip().isdigit() for p in parts):
            return None
        total, used, free = (int(p) for p in parts)
        return total, used, free

    @property
    def wifi_rssi(self) -> int | None:
        return self._int("WifiRssi")  # [modelled] camera identifier

    @property
    def night_vision_mode(self) -> int | None:
        return self._int("NightVisionMode")  # [modelled] camera identifier

    @property
    def motion_detection(self) -> bool | None:
        value = self._int("MotionDetectSwitch")  # [modelled] camera identifier
        return None if value is None else bool(value)

    @property
    def motion_sensitivity(self) -> int | None:
        return self._int("MotionSensitivity")  # [modelled] camera identifier

    @property
    def privacy_mode(self) -> bool | None:
        value = self._int("PrivacyMode")  # [modelled] camera identifier
        return None if value is None else bool(value)

    @property
    def status_light(self) -> bool | None:
        value = self._int("StatusLight")  # [modelled] camera identifier
        return None if value is None else bool(value)

    @property
    def firmware_version(self) -> str | None:
        value = self.get("FirmwareVersion")  # [modelled] camera identifier
        return None if value is None else str(value)


@dataclass(frozen=True, slots=True)
class ServiceResult:
    error_no: int
    raw: Mapping[str, Any] = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.error_no == 0

    @property
    def url(self) -> str | None:
        value = self.raw.get("url")
        return str(value) if value else None


@dataclass(frozen=True, slots=True)
class FirmwareInfo:
    current_version: str
    latest_version: str
    upgrade_available: bool
    upgrading: bool
    description: str = ""
    size: int = 0

    @classmethod
    def from_api(cls, raw: Any) -> FirmwareInfo:
        data = obj_field(raw, "firmware")
        return cls(
            str_field(data.get("current_version")),
            str_field(data.get("version")),
            bool(number(data.get("upgrade"))),
            bool(number(data.get("is_upgrading"))),
            str_field(data.get("descriptions")),
            number(data.get("size")),
        )


# progress codes [sdk], OTA paths [modelled] (docs/protocol/cloud-api.md#firmware)
class UpgradeState(StrEnum):
    DONE = "done"  # 0
    WAITING = "waiting"  # 1, waiting for the device
    PULLED = "pulled"  # 2
    DOWNLOAD_FAILED = "download_failed"  # 3
    UPGRADING = "upgrading"  # 4
    FAILED = "failed"  # 5


@dataclass(frozen=True, slots=True)
class FirmwareProgress:
    percent: int
    state: UpgradeState

    @property
    def in_progress(self) -> bool:
        return self.state in (UpgradeState.WAITING, UpgradeState.PULLED, UpgradeState.UPGRADING)

    @classmethod
    def from_api(cls, raw: Any) -> FirmwareProgress:
        data = obj_field(raw, "progress")
        states = list(UpgradeState)
        code = number(data.get("progress"))
        return cls(
            number(data.get("percent")),
            states[code] if 0 <= code < len(states) else UpgradeState.FAILED,
        )


@dataclass(frozen=True, slots=True)
class NetworkTest:  # [modelled] (docs/protocol/cloud-api.md#network-test)
    network_type: str
    isp: str
    ip: str = field(repr=False)
    rssi: int | None
    latency_ms: float | None
    loss_pct: float | None
    result: str

    @classmethod
    def from_api(cls, raw: Any) -> NetworkTest:
        data = obj_field(raw, "network test")

        def num(key: str) -> float | None:
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return None
            try:
                result = float(value) if not isinstance(value, str) or value.isascii() else None
            except (ValueError, OverflowError):
                return None
            return result if result is not None and math.isfinite(result) else None

        rssi = num("rssi")
        return cls(
            str_field(data.get("network_type")),
            str_field(data.get("isp")),
            str_field(data.get("ip")),
            None if rssi is None else int(rssi),
            num("latency_ms"),
            num("loss_pct"),
            str_field(data.get("result")),
        )


@dataclass(frozen=True, slots=True)
class LiveLicense:
    """The live view license (docs/protocol/live-video.md#h2-keys): headers of the relay sign
    call."""

    product_id: str
    authorization: str = field(repr=False)
    auth_time: str = ""
    rand_num: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class CameraKeys:
    """A device's rotating media keys by index, and its license
    (docs/protocol/live-video.md#h2-keys)."""

    license: LiveLicense
    secret_interval: int
    secret_keys: Mapping[int, str] = field(repr=False)

    @classmethod
    def from_api(cls, raw: Any) -> CameraKeys:
        data = obj_field(raw, "camera keys")
        lic = obj_field(data.get("license"), "license")
        keys: dict[int, str] = {}
        for item in as_list(data.get("secret_keys")):
            if isinstance(item, Mapping):
                for index, key in item.items():
                    text = str(index)
                    if (
                        text.isascii()
                        and text.isdigit()
                        and len(text) < 10
                        and isinstance(key, str)
                        and key
                    ):
                        keys[int(index)] = key
        if not keys or not lic.get("product_id"):
            raise ProtocolError("camera keys without keys or license")
        return cls(
            LiveLicense(
                str_field(lic.get("product_id")),
                str_field(lic.get("authorization")),
                str_field(lic.get("auth_time")),
                str_field(lic.get("rand_num")),
            ),
            number(data.get("secret_interval")),
            keys,
        )
