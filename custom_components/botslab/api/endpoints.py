"""Every host, path and key of the BOTSLAB cloud, in one place to correct
(docs/protocol/cloud-api.md, docs/protocol/push.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .netguard import NetGuard
from .ratelimit import RateGate

if TYPE_CHECKING:
    from .answers import AnswerLog

REGIONS: tuple[str, ...] = ("eu1", "eu2", "na1", "ap1")
# docs/protocol/cloud-api.md#hosts-and-regions: the order a client tries after 1036
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


def _answer_log() -> AnswerLog:
    from .answers import AnswerLog

    return AnswerLog()


@dataclass(frozen=True, slots=True)
class RegionHosts:
    """The login (QUC), API gateway and live video URLs of one region."""

    quc_url: str
    api_url: str
    iotext_url: str = ""  # live view cloud control (docs/protocol/live-video.md#h3-cloud-control)
    license_url: str = ""  # live view relay sign (H4)
    schedule_url: str = ""  # live view scheduler (H5-H7)


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
    # the push server's port when the dispatcher names none (docs/protocol/push.md: 80); the
    # emulator's own on loopback
    push_default_port: int = 80
    # addresses that hosts the cloud names (media and their redirects, push, live) may have
    # although they are not public: the emulator's, when it is configured
    # (docs/protocol/accepted.md#address-guard); production trusts none. Media may be on any other
    # host with a public address.
    trusted_hosts: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    # when each host may be asked again after a 429 (Retry-After): shared by everything that
    # talks through these endpoints, and by their other regions (`with_region`)
    gate: RateGate = field(default_factory=RateGate, compare=False, repr=False)
    # what the cloud answered, endpoint by endpoint (shapes, codes: diagnostics), shared
    # like the gate
    answers: AnswerLog = field(default_factory=_answer_log, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.region not in self.regions:
            raise ValueError(f"unknown region {self.region!r}")

    @property
    def quc_url(self) -> str:
        return self.regions[self.region].quc_url

    @property
    def api_url(self) -> str:
        return self.regions[self.region].api_url

    @property
    def guard(self) -> NetGuard:
        """The address guard for every host the cloud names (media, push, live)."""
        return NetGuard.trusting(self.trusted_hosts)

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
                )
        else:
            for name in REGIONS:
                api_url = str(config["api_url"]).replace("{region}", name)
                regions[name] = RegionHosts(
                    str(config["quc_url"]).replace("{region}", name), api_url
                )
        urls = [str(config["dispatcher_url"]), str(config.get("media_url") or "")]
        urls += [u for hosts in regions.values() for u in (hosts.api_url, hosts.quc_url)]
        trusted = {h for u in urls if (h := urlsplit(u).hostname)}
        if config.get("push_host"):
            trusted.add(str(config["push_host"]))
        return cls(
            region=region,
            regions=regions,
            trusted_hosts=tuple(sorted(trusted)),
            dispatcher_url=str(config["dispatcher_url"]),
            rsa_public_key=str(config["rsa_public_key"]),
            push_default_port=int(config.get("push_port") or 80),
        )
