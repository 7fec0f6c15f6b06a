"""Fault knobs of the emulator's live view, shared by its hub, relays and HTTP steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class LiveFaults:
    """Fault knobs of live view (POST /_emulator/faults with the `live_` prefix)."""

    bad_sign: bool = False  # getRelaySign answers errno 1001
    substream_errcode: int = 0  # /substream answers this errcode
    login_result: int = 0  # the relays refuse LOGIN with this result
    audio_only: bool = False  # req_relay_res carries flag 0 for everyone
    stay_asleep: bool = False  # the device never answers req_relay
    unknown_key_index: bool = False  # frames carry a key index nobody was given
    drop_after_frames: int = 0  # the relay drops a viewer after this many video frames
    video_transport: str = "qtp"  # "qtp": video over QTP, audio over TCP; "tcp": both TCP
    tcp_framing: str = "raw"  # "qtp": the TCP relay speaks only QTP-wrapped frames
    # liveview.md 10.1: the real TCP relay was never seen answering LOGIN (0x69) when video
    # comes over QTP; it stays silent then. False: it answers (the easy form)
    tcp_silent: bool = True
    # the first req_relay replies often carry flag 0: this many before flag 1 (10.1)
    flag0_replies: int = 3
    synack_flags: int = 0x0C00  # the flags of the relay's SYN-ACK (accepted by length, 10.1)
    # "real": slices with escape bytes early and late, as real encoders write (8.4);
    # "canonical": none, so that every reading of the sources decrypts alike
    media: str = "real"
    heartbeat_timeout_s: float = 10.0  # publishing stops without req_heartbeat


# (result, stream id, video) of a LOGIN body
LoginCheck = Callable[[bytes], tuple[int, str, bool]]
