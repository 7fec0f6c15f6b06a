"""What differs between the Home Assistant versions this integration supports (2025.4 to
2026.11), in one place.

- The schema library: Home Assistant 2026.9 validates with probatio and aliases `voluptuous`
  to it at startup; before, it is voluptuous itself. At run time the import below takes
  whichever Home Assistant has. For the type checker, the interpreter tells which Home
  Assistant a lane installs (Python 3.14 gives 2026.10 and newer, 3.13 gives 2025.4 or 2026.2).
- The result type of repair flow steps (`RepairsFlowResult` in 2026.10, FlowResult in 2025.4).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

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


__all__ = ["RepairsFlowResult", "vol"]
