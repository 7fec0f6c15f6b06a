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
    # frames carry a key index nobody was given (9999), encrypted with the signalling key
    # (the key a client falls back to, docs/protocol/live-video.md#cipher); `unknown_key_frames`:
    # only the first N video frames of a stream, then their real indices
    unknown_key_index: bool = False
    unknown_key_frames: int = 0
    drop_after_frames: int = 0  # the relay drops a viewer after this many video frames
    video_transport: str = "qtp"  # "qtp": video over QTP, audio over TCP; "tcp": both TCP
    tcp_framing: str = "raw"  # "qtp": the TCP relay speaks only QTP-wrapped frames
    # docs/protocol/accepted.md#live-view: the real TCP relay was never seen answering LOGIN (0x69)
    # when video comes over QTP; it stays silent then. False: it answers (the easy form)
    tcp_silent: bool = True
    # the first req_relay replies often carry flag 0: this many before flag 1 (10.1)
    flag0_replies: int = 3
    synack_flags: int = 0x0C00  # the flags of the relay's SYN-ACK (accepted by length, 10.1)
    # "real": slices with escape bytes early and late, as real encoders write (8.4);
    # "canonical": none, so that every reading of the sources decrypts alike
    media: str = "real"
    heartbeat_timeout_s: float = 10.0  # publishing stops without req_heartbeat
    # how the TCP relay leg ends while QTP carries the video: "" (as `tcp_silent` says),
    # "at_once" (EOF as soon as it is connected), "after_login" (EOF once LOGIN is read),
    # "reset" (a reset, as a refusing host), "refuse_login" (0x69 with a nonzero result on
    # TCP only)
    tcp_close: str = ""
    # added to the length field of every datagram the tunnel and device send (the real ones
    # match, docs/protocol/live-video.md#vectors's captures; the working client reads none)
    tunnel_length_skew: int = 0
    # the device's Base64 (envelope `data`, both layers, and `lra`): "padded"; "unpadded";
    # "loose" (unpadded, and the last character's unused bits set: non-canonical)
    base64: str = "padded"
    # "every": SPS/PPS in-band on every keyframe (docs/protocol/live-video.md#app-frames,
    # docs/protocol/live-video.md#emulator); "alternate": every other keyframe of a stream comes
    # without them
    keyframe_params: str = "every"
    # slices of every keyframe with one coded byte changed before encryption, so a decoder
    # reports an error in each (the working client allows 4 errors,
    # docs/protocol/live-video.md#keyframe-gate)
    keyframe_damage: int = 0
    # the device publishes video to an authorised viewer from its first req_relay on, while
    # its replies still carry flag 0 (with `flag0_replies`)
    video_during_flag0: bool = False
    # the device's replies to req_relay (req_relay_res, res_pub_stream_result) leave this
    # many seconds late, while it publishes at once: media before any signalling reply
    reply_delay_s: float = 0.0
    # the hosts the cloud names: the relay in /substream's `servers` and the tunnel servers
    # in cloud control's `ccdata` ("" = the emulator's own address; e.g. "10.0.0.7" for a
    # hostile or spoofed answer; tunnel: comma-separated)
    relay_host: str = ""
    tunnel_host: str = ""
    # docs/protocol/live-video.md#timers: a cold open takes about 5-7 s to the first keyframe, a
    # warm re-open about 1 s. A sleeping battery device woken by WakeUp answers nothing for `wake_s`
    # (it boots and joins the tunnel); every stream's encoder starts `publish_delay_s` after
    # req_relay. 0 and 0: the old instant device
    wake_s: float = 4.0
    publish_delay_s: float = 0.3
    # a battery device that has just recorded an event stays awake this long (issue 28: the
    # device is awake after a ring); 0: events do not wake it
    event_awake_s: float = 20.0


# (result, stream id, video) of a LOGIN body
LoginCheck = Callable[[bytes], tuple[int, str, bool]]
