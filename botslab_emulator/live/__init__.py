"""The emulator's side of live view (docs/protocol/live-video.md#emulator): HTTP steps, the UDP
tunnel with its virtual devices, the TCP and QTP relays, the publisher and its fault knobs
(`hub.LiveHub`)."""
