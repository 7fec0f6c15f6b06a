"""Every host, path and key of the BOTSLAB cloud, in one place to correct (protocol.md 1-4)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

REGIONS: tuple[str, ...] = ("eu1", "eu2", "na1", "ap1")
# protocol.md section 1: the order a client tries after 1036
REGION_FALLBACK_ORDER: tuple[str, ...] = ("na1", "eu1", "ap1", "eu2")

QUC_PUBLIC_KEY = (
    "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC9oNZHDXyGxNNfBhfk/+WAtjVET1sLWQraDBLHd0821Ow4yp6p+zvHB6yXSUEt2/"
    "lLVW7Q0/RVHuxnwtg6cKYdDInqMznSLIKjXPkd6Dfft8nz8vkOdSUlzQtE3T4dvaagbH76lBGB2wuLNOV0D2UcUyvRu2puKtYjgDNm/O0apQIDAQAB"
)
DISPATCHER_URL = "https://dp.push.dc.360.cn/v1/list/ip"

APP_VERSION = "2.28.5"
USER_AGENT = f"Botslab/{APP_VERSION} (Android)"
APP_KEY = "botslabadr"
APP_SECRET = "qihu_adr_3afg139513ksgnlah1951365saa351a9z_360"  # noqa: S105 - app-wide, public
QUC_FROM = "mpl_cloudsmartoem_and"
QUC_SIG_SUFFIX = "73e5dba4"
PUSH_APP_ID = "venqoyon9hcc"
PUSH_VERSION = "2.5.24"

# API paths (protocol.md 3, 6, 7, 8). [modelled] ones are marked.
APP_LOGIN = "/v1/app/login"
DEVICE_LIST = "/v1/iot/device/list"
GET_PROPERTY = "/v1/iot/device/get_desired_property"
SET_PROPERTY = "/v1/iot/device/set_property"  # body [modelled]
INVOKE_SERVICE = "/v1/iot/device/invoke_service"
CAMERA_KEYS = "/v1/iot/camera/get_keys"  # live view (liveview.md H2)
MESSAGE_LIST = "/v2/message/list"
EVENT_TYPES = "/v2/config/event_type"
PLAY_URL = "/v1/oss/get_play_url"
CLOUD_SERVICE = "/v1/cloud/service/status"  # [modelled]
SHARE_BY_MOBILE = "/v1/iot/share/by_mobile"  # [modelled]
SHARE_BY_EMAIL = "/v1/iot/share/by_email"  # [modelled]
SHARE_LIST = "/v1/iot/share/list"  # [modelled]
SHARE_CANCEL = "/v1/iot/share/cancel"  # [modelled]
SHARE_PENDING = "/v1/iot/share/pending"  # [modelled]
SHARE_ACCEPT = "/v1/iot/share/accept"  # [modelled]
SHARE_REFUSE = "/v1/iot/share/refuse"  # [modelled]
PUSH_DND = "/v1/push/dnd"  # [modelled]
PUSH_DEVICE_SETTING = "/v1/push/device_setting"  # [modelled]
PUSH_SNOOZE = "/v1/push/snooze"  # [modelled]
PRIVACY_CONSENT = "/v1/user/privacy/consent"  # [modelled]
PRIVACY_EXPORT = "/v1/user/privacy/export"  # [modelled]
PRIVACY_RESTRICT = "/v1/user/privacy/restrict"  # [modelled]
PRIVACY_ERASE = "/v1/user/privacy/erase"  # [modelled]
OTA_CHECK = "/v1/iot/ota/check_upgrade_version"
OTA_UPGRADE = "/v1/iot/ota/upgrade"  # [modelled]
OTA_PROGRESS = "/v1/iot/ota/progress"  # [modelled]
NETWORK_TEST = "/v1/iot/device/network_test"  # [modelled]


# Where a region's media lives (snapshots, clip playlists and segments): Aliyun OSS [seen],
# at the storage site of protocol.md section 1. The OSS regions per site are [modelled]
# (Germany: Frankfurt; USA: Silicon Valley or Virginia; Singapore): correct them here.
OSS_REGIONS: Mapping[str, tuple[str, ...]] = {
    "eu1": ("eu-central-1",),
    "eu2": ("eu-central-1",),
    "na1": ("us-west-1", "us-east-1"),
    "ap1": ("ap-southeast-1",),
}


def oss_host_allowed(host: str, oss_regions: tuple[str, ...]) -> bool:
    """`<bucket>.oss-<region>.aliyuncs.com` or `oss-<region>.aliyuncs.com` (also the
    `-internal` and `-accelerate` forms Aliyun names), for one of `oss_regions`."""
    labels = host.lower().rstrip(".").split(".")
    if labels[-2:] != ["aliyuncs", "com"] or len(labels) not in (3, 4):
        return False
    oss = labels[-3].removesuffix("-internal")
    return any(oss == f"oss-{r}" for r in oss_regions) or oss == "oss-accelerate"


def origin(url: str) -> str:
    """scheme://host:port of a URL, lower case, with the default port spelled out."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
    except ValueError:
        return ""
    if not parts.hostname:
        return ""
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{port}"


@dataclass(frozen=True, slots=True)
class RegionHosts:
    """The login (QUC), API gateway and live video URLs of one region."""

    quc_url: str
    api_url: str
    iotext_url: str = ""  # live view cloud control (liveview.md H3)
    license_url: str = ""  # live view relay sign (H4)
    schedule_url: str = ""  # live view scheduler (H5-H7)
    # where media may be fetched from: OSS regions over HTTPS (production), or exact
    # origins ("http://127.0.0.1:8080", the emulator)
    oss_regions: tuple[str, ...] = ()
    media_origins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the client talks to. `production(region)` for the real cloud,
    `from_emulator_config(config)` for the project's emulator."""

    region: str
    regions: Mapping[str, RegionHosts]
    dispatcher_url: str = DISPATCHER_URL
    rsa_public_key: str = QUC_PUBLIC_KEY
    push_host: str | None = None
    push_port: int | None = None
    # the push server's port when the dispatcher names none (protocol.md 4: 80); the
    # emulator's own on loopback
    push_default_port: int = 80
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.region not in self.regions:
            raise ValueError(f"unknown region {self.region!r}")

    @property
    def quc_url(self) -> str:
        return self.regions[self.region].quc_url

    @property
    def api_url(self) -> str:
        return self.regions[self.region].api_url

    def media_allowed(self, url: str) -> bool:
        """Whether a media link the cloud gave may be fetched: the region's OSS hosts over
        HTTPS, or the configured origins (the emulator). Never anything else: a hostile or
        spoofed answer must not point Home Assistant at an address of its choosing."""
        hosts = self.regions[self.region]
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port
        except ValueError:
            return False
        if origin(url) in hosts.media_origins:
            return True
        return (
            parts.scheme == "https"
            and port in (None, 443)
            and not parts.username
            and oss_host_allowed(host, hosts.oss_regions)
        )

    def with_region(self, region: str) -> Endpoints:
        """The same endpoints, for another region."""
        return replace(self, region=region)

    @classmethod
    def production(cls, region: str = "eu1") -> Endpoints:
        regions = {
            r: RegionHosts(
                quc_url=f"https://{r}-sapp-login.botslab.com/request.php",
                api_url=f"https://{r}-sapp-api.botslab.com",
                iotext_url=f"https://{r}-video-iotext.botslab.com",
                license_url=f"https://{r}-video-licenseext.botslab.com",
                schedule_url=f"https://{r}-video-schedule.botslab.com",
                oss_regions=OSS_REGIONS.get(r, ()),
            )
            for r in REGIONS
        }
        return cls(region=region, regions=regions)

    @classmethod
    def from_emulator_config(cls, config: Mapping[str, Any], region: str = "eu1") -> Endpoints:
        """From the emulator's `GET /_emulator/config` answer."""
        regions: dict[str, RegionHosts] = {}
        given = config.get("regions")
        if isinstance(given, Mapping):
            for name, hosts in given.items():
                regions[str(name)] = RegionHosts(
                    str(hosts["quc_url"]),
                    str(hosts["api_url"]),
                    str(hosts.get("iotext_url", "")),
                    str(hosts.get("license_url", "")),
                    str(hosts.get("schedule_url", "")),
                    media_origins=(origin(str(hosts.get("media_url") or hosts["api_url"])),),
                )
        else:
            for name in REGIONS:
                api_url = str(config["api_url"]).replace("{region}", name)
                regions[name] = RegionHosts(
                    str(config["quc_url"]).replace("{region}", name),
                    api_url,
                    media_origins=(origin(str(config.get("media_url") or api_url)),),
                )
        return cls(
            region=region,
            regions=regions,
            dispatcher_url=str(config["dispatcher_url"]),
            rsa_public_key=str(config["rsa_public_key"]),
            push_default_port=int(config.get("push_port") or 80),
        )
