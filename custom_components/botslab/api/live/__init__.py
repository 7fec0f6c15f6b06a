"""Live video over Qihoo's transport (docs/protocol/live-video.md): `session.LiveSession` (setup,
tunnel signalling, the TCP and QTP relay legs, decryption) and `feed.LiveFeed` (a loopback MPEG-TS
server for Home Assistant's stream component). No Home Assistant imports here."""

from .feed import LiveFeed
from .session import LiveCache, LiveError, LiveFrame, LiveSession, LiveTimers

__all__ = ["LiveCache", "LiveError", "LiveFeed", "LiveFrame", "LiveSession", "LiveTimers"]
