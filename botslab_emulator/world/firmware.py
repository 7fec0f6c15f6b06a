"""Firmware upgrades, paced by the emulator clock."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import codes
from .model import Clock, Device, WorldError

if TYPE_CHECKING:
    from .devices import DeviceStore


class FirmwareStore:
    """Firmware: the version each device runs, the one on offer, and upgrades in progress."""

    def __init__(self, clock: Clock, devices: DeviceStore) -> None:
        self._clock = clock
        self._devices = devices
        self.upgrade_seconds = 20.0
        self.upgrade_fail = False

    def state(self, dev: Device) -> dict[str, Any]:
        current = str(dev.report.get("FirmwareVersion", ["", ""])[0])
        up = dev.upgrade
        progress, percent, upgrading = 0, 0, False
        if up is not None:
            elapsed = self._clock.now() - up["started"]
            total = self.upgrade_seconds
            if elapsed < total * 0.1:
                progress, percent = 1, 0
            elif elapsed < total * 0.2:
                progress, percent = 2, 10
            elif elapsed < total:
                progress, percent = 4, min(99, int(100 * elapsed / total))
            elif up.get("fail"):
                progress, percent = 5, 0
                dev.upgrade = None
            else:
                progress, percent = 0, 100
                self._devices.report_property(dev, "FirmwareVersion", up["version"])
                current = up["version"]
                dev.upgrade = None
            upgrading = dev.upgrade is not None
        return {
            "current_version": current,
            "upgrade": int(current != dev.latest_firmware and not upgrading),
            "version": dev.latest_firmware,
            "descriptions": f"Stability improvements for {dev.product_name}.",
            "size": 7_340_032,
            "is_upgrading": int(upgrading),
            "progress": progress,
            "percent": percent,
        }

    def start_upgrade(self, dev: Device) -> None:
        state = self.state(dev)
        if not state["upgrade"]:
            raise WorldError(codes.NO_UPGRADE)
        if not dev.online:
            raise WorldError(codes.DEVICE_OFFLINE)
        dev.upgrade = {
            "started": self._clock.now(),
            "version": dev.latest_firmware,
            "fail": self.upgrade_fail,
        }
