"""Fault knobs and counters of the emulator's HTTP hosts (POST /_emulator/faults)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class HttpFaults:
    """Fault knobs for the HTTP side (set through POST /_emulator/faults)."""

    errors_left: int = 0
    error_status: int = 503
    error_path: str = ""
    delay_ms: int = 0
    delay_path: str = ""
    device_list_key: str = "devices"
    # clips: "real" (escape bytes in slices, ADTS frames across PES packets, tables in the
    # first segment only, a last segment cut mid-packet) or "canonical" (none of it)
    clip_media: str = "real"
    clip_encrypt: str = ""  # an `encrypt` value to report instead of chacha2 (unknown ones)
    dispatcher_omit_port: bool = False  # the push dispatcher names no port (`p`)
    # easy forms (protocol.md leaves them open or says the real cloud does otherwise)
    qt_decoded_ok: bool = False  # also accept Q/T URL-decoded in the jws header
    # message ids: "opaque" (neither numeric nor increasing), "numeric" (increasing numbers
    # as strings), "number" (the same as JSON numbers)
    message_ids: str = "opaque"
    message_id_key: str = "id"  # or "msg_id", "message_id"
    message_serial: str = "tdata"  # tdata.device_name, or "sn" at the top
    message_type: str = "tdata"  # tdata.event_type, or "event_type" / "type" at the top
    # a hostile or spoofed cloud: media links (snapshots, playlists, segments) on another
    # address, e.g. a server on the user's LAN; or only a playlist's segment lines
    media_base_url: str = ""
    segment_base_url: str = ""


@dataclass
class Counters:
    requests: dict[str, int] = field(default_factory=dict)
    # the wire form of the last request per path: what a client sent, for tests
    last_headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def hit(self, path: str) -> None:
        self.requests[path] = self.requests.get(path, 0) + 1
