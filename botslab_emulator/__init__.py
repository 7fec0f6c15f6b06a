"""A faithful local emulator of the BOTSLAB cloud (docs/protocol/README.md), for tests and the demo.

It never imports the integration: it is the other side of the protocol, written on its own.
"""

from .server import Emulator
from .world import World, WorldError

__all__ = ["Emulator", "World", "WorldError"]
