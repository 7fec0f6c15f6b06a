"""Constants of the BOTSLAB integration."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

DOMAIN: Final = "botslab"
MANUFACTURER: Final = "BOTSLAB"

CONF_REGION: Final = "region"
CONF_QID: Final = "qid"
CONF_Q: Final = "q"
CONF_T: Final = "t"
CONF_IDENTITY: Final = "identity"
CONF_EMULATOR_URL: Final = "emulator_url"  # entries of old development setups still carry it
# development's one switch (scripts/develop, the tests): every region is the emulator there
ENV_EMULATOR_URL: Final = "BOTSLAB_EMULATOR_URL"
CONF_CAPTCHA: Final = "captcha"

# options
CONF_POLL_INTERVAL: Final = "poll_interval"
CONF_SIGNED_IN: Final = "signed_in"  # when the password last signed in (reauth, reconfigure)
CONF_MOTION_SECONDS: Final = "motion_seconds"
CONF_DOWNLOAD_SNAPSHOTS: Final = "download_snapshots"
CONF_MAX_EVENT_AGE: Final = "max_event_age"
# live view prepared on a ring (issue 28): how long the session waits for a viewer (0: off),
# whether a person detected by a camera prepares it too, and the battery level (%) below
# which a device is left alone
CONF_LIVE_PREPARE_SECONDS: Final = "live_prepare_seconds"
CONF_LIVE_PREPARE_PERSON: Final = "live_prepare_person"
CONF_LIVE_PREPARE_MIN_BATTERY: Final = "live_prepare_min_battery"
DEFAULT_LIVE_PREPARE_SECONDS: Final = 30
DEFAULT_LIVE_PREPARE_PERSON: Final = False
DEFAULT_LIVE_PREPARE_MIN_BATTERY: Final = 20
DEFAULT_POLL_INTERVAL: Final = 300
DEFAULT_MOTION_SECONDS: Final = 30
DEFAULT_DOWNLOAD_SNAPSHOTS: Final = True
DEFAULT_MAX_EVENT_AGE: Final = 120

# how often the coordinator refreshes devices and properties (push carries events)
DEVICE_REFRESH_SECONDS: Final = 120
FIRMWARE_REFRESH_SECONDS: Final = 6 * 3600
SETTINGS_REFRESH_SECONDS: Final = 600  # consents, do-not-disturb, notifications, shares, plans
# a device the cloud stops listing leaves after this many lists in a row, over this long
STALE_MISSES: Final = 3
STALE_AFTER: Final = timedelta(minutes=30)
ACCOUNT_PREFIX: Final = "account_"  # the identifier of the account's own device

ISSUE_SESSION_CONFLICT: Final = "session_conflict"
ISSUE_EVENT_UPLOAD: Final = "event_upload_withdrawn"
ISSUE_PLAN_ENDING: Final = "cloud_plan_ending"
ISSUE_LIVE: Final = "live"  # live view cannot work for a device (its reason's translation)


def device_issue_id(kind: str, entry_id: str, serial: str) -> str:
    """A device's repair issue, scoped to the account that raised it: a camera seen through
    the owner's and a shared account is two issues, and one account never deletes the
    other's."""
    return f"{kind}_{entry_id}_{serial}"


EVENT_BOTSLAB: Final = "botslab_event"

# The privacy policy's storage sites: EEA and Africa → eu1 (Germany), the Americas → na1 (USA),
# South-East Asia, East Asia and Australia → ap1 (Singapore).
AMERICAS: Final = frozenset(
    [
        "AG",
        "AI",
        "AR",
        "AW",
        "BB",
        "BL",
        "BM",
        "BO",
        "BQ",
        "BR",
        "BS",
        "BZ",
        "CA",
        "CL",
        "CO",
        "CR",
        "CU",
        "CW",
        "DM",
        "DO",
        "EC",
        "FK",
        "GD",
        "GF",
        "GL",
        "GP",
        "GT",
        "GY",
        "HN",
        "HT",
        "JM",
        "KN",
        "KY",
        "LC",
        "MF",
        "MQ",
        "MS",
        "MX",
        "NI",
        "PA",
        "PE",
        "PM",
        "PR",
        "PY",
        "SR",
        "SV",
        "SX",
        "TC",
        "TT",
        "US",
        "UY",
        "VC",
        "VE",
        "VG",
        "VI",
    ]
)
ASIA_PACIFIC: Final = frozenset(
    [
        "AU",
        "BN",
        "CN",
        "HK",
        "ID",
        "JP",
        "KH",
        "KP",
        "KR",
        "LA",
        "MM",
        "MN",
        "MO",
        "MY",
        "NZ",
        "PH",
        "SG",
        "TH",
        "TL",
        "TW",
        "VN",
    ]
)


def region_for_country(country: str | None) -> str:
    """The default region for Home Assistant's configured country."""
    code = (country or "").upper()
    if code in AMERICAS:
        return "na1"
    if code in ASIA_PACIFIC:
        return "ap1"
    return "eu1"
