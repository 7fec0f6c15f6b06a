"""Fault knobs and counters of the emulator's HTTP hosts (POST /_emulator/faults)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HttpFaults:
    """Fault knobs for the HTTP side (set through POST /_emulator/faults)."""

    errors_left: int = 0
    error_status: int = 503
    error_path: str = ""
    # a Retry-After header on those error answers ("": none), as sent: seconds or an HTTP date
    error_retry_after: str = ""
    delay_ms: int = 0
    delay_path: str = ""
    device_list_key: str = "devices"
    # the message list's key: "items" (docs/protocol/cloud-api.md#messages), or "list" (a field
    # report's variant, tests/field_reports/message_list_under_list.json)
    message_list_key: str = "items"
    # an empty page of the device list: "key" (the list key with []) or "omitted" (neither
    # `devices` nor `list`: the working client reads it as an empty account,
    # docs/protocol/accepted.md#messages)
    empty_device_list: str = "key"
    # every gateway request under `code_path` answers the envelope code `code_answer` (with
    # HTTP `code_status`): a guessed endpoint that the real cloud answers otherwise
    code_path: str = ""
    code_answer: int = 0
    code_status: int = 200
    # clips: "real" (escape bytes in slices, ADTS frames across PES packets, tables in the
    # first segment only, a last segment cut mid-packet) or "canonical" (none of it)
    clip_media: str = "real"
    clip_encrypt: str = ""  # an `encrypt` value to report instead of chacha2 (unknown ones)
    dispatcher_omit_port: bool = False  # the push dispatcher names no port (`p`)
    dispatcher_port_zero: bool = False  # ... or `p` 0 (both: the client's default port)
    dispatcher_ip: str = ""  # the `ip` the dispatcher names ("": the push server's own)
    # easy forms (docs/protocol/README.md leaves them open or says the real cloud does otherwise)
    qt_decoded_ok: bool = False  # also accept Q/T URL-decoded in the jws header
    # message ids: "opaque" (neither numeric nor increasing), "numeric" (increasing numbers
    # as strings), "number" (the same as JSON numbers)
    message_ids: str = "opaque"
    message_id_key: str = "id"  # or "msg_id", "message_id"
    message_serial: str = "tdata"  # tdata.device_name, or "sn" at the top
    message_type: str = "tdata"  # tdata.event_type, or "event_type" / "type" at the top
    # messages as the working client takes them (docs/protocol/accepted.md#messages): "tdata" (the
    # form of 3.3), "flat" (no tdata: its fields at the top of the item), "no_id" (no id field at
    # all), "ctime_ms" (ctime in milliseconds)
    message_form: str = "tdata"
    # the message list ignores the SDK's filter parameters (device, type, date): whether the
    # real list honours them is not seen (docs/protocol/cloud-api.md#messages names them from the
    # SDK)
    list_ignores_filters: bool = False
    # push before list: a new message shows in the list this long after its push (ms, on
    # the emulator's clock); 0 lists it before the push is written
    push_before_list_ms: int = 0
    # T left unchecked while the session id is valid, as the real gateway appears to do (the
    # working client's live engine sends `T={}`, docs/protocol/accepted.md#sessions); true checks T
    # always
    check_t_with_sid: bool = False
    # the message list's rate limit per account, a token bucket on the emulator's clock
    # [modelled]: `list_burst` requests at once, refilled at `list_rate_per_min`; beyond it,
    # HTTP 429 with Retry-After. 0 turns it off
    list_rate_per_min: int = 60
    list_burst: int = 30
    # a hostile or spoofed cloud: media links (snapshots, playlists, segments) on another
    # address, e.g. a server on the user's LAN; or only a playlist's segment lines
    media_base_url: str = ""
    segment_base_url: str = ""
    # media behind redirects: the OSS answers each media request (snapshot, playlist,
    # segment) with N redirects before the object, hop k to `/oss-hop/k/...` on
    # `media_redirect_url` (by default a relative Location on the emulator's own address).
    # Not seen from the real cloud (docs/protocol/README.md says the working client follows
    # redirects, not that the cloud sends them): off by default
    media_redirects: int = 0
    media_redirect_url: str = ""
    # what get_play_url names: "playlist" (an HLS playlist of segments,
    # docs/protocol/media.md#clips) or "ts" (the whole clip as one MPEG-TS file, which the working
    # client also plays, 11)
    play_url_form: str = "playlist"


@dataclass
class Counters:
    requests: dict[str, int] = field(default_factory=dict)
    # the wire form of the last request per path: what a client sent, for tests
    last_headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def hit(self, path: str) -> None:
        self.requests[path] = self.requests.get(path, 0) + 1


class TokenBuckets:
    """A rate limit per account: a bucket of `burst` tokens refilled at `rate_per_min`, on the
    emulator's clock (tests move it). `take` answers 0 when a request may pass, else the
    seconds until it may."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # qid -> (tokens, at)
        self.refused = 0

    def take(self, key: str, now: float, faults: HttpFaults) -> float:
        rate, burst = faults.list_rate_per_min / 60.0, float(faults.list_burst)
        if rate <= 0 or burst <= 0:
            return 0.0
        tokens, at = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - at) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            self.refused += 1
            return (1.0 - tokens) / rate
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0
