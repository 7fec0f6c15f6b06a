"""What differs between the Home Assistant versions this integration supports (2025.4 to
2026.11), in one place.

- The schema library: Home Assistant 2026.9 validates with probatio and aliases `voluptuous`
  to it at startup; before, it is voluptuous itself. At run time the import below takes
  whichever Home Assistant has. For the type checker, the interpreter tells which Home
  Assistant a lane installs (Python 3.14 gives 2026.10 and newer, 3.13 gives 2025.4 or 2026.2).
- The result type of repair flow steps (`RepairsFlowResult` in 2026.10, FlowResult in 2025.4).
- Taking a device from one config entry: the device registry is split per entry from 2026.8
  (the device is the entry's alone: it is removed); before, the per-entry removal
  (`remove_config_entry_id`, deprecated from 2026.9) detaches it from this entry only.
  devices.py calls it; tests/test_devices.py runs it on each lane.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from homeassistant.helpers import device_registry as dr

if TYPE_CHECKING:
    if sys.version_info >= (3, 14):
        from homeassistant.components.repairs import RepairsFlowResult
        import probatio as vol
    else:
        from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult
        import voluptuous as vol
else:
    from homeassistant.data_entry_flow import FlowResult as RepairsFlowResult

    try:
        import probatio as vol
    except ImportError:  # Home Assistant before 2026.9
        import voluptuous as vol


def remove_device_of_entry(registry: dr.DeviceRegistry, device_id: str, entry_id: str) -> None:
    """Take the device from the entry, and only from it, on every supported version."""
    if hasattr(registry, "async_get_device_by_identifier"):  # 2026.8 and newer: split
        registry.async_remove_device(device_id)
    else:  # never reached from 2026.8 on, where it is deprecated
        registry.async_update_device(device_id, remove_config_entry_id=entry_id)


__all__ = ["RepairsFlowResult", "remove_device_of_entry", "vol"]
