"""The API paths of the BOTSLAB cloud, and which of them are [modelled]
(docs/protocol/cloud-api.md). Apart from endpoints.py, so that the answer log (answers.py),
which names them, and the endpoints, which keep an answer log, do not import each other."""

from __future__ import annotations

from collections.abc import Mapping

# API paths (docs/protocol/cloud-api.md). [modelled] ones are marked.
APP_LOGIN = "/v1/app/login"
DEVICE_LIST = "/v1/iot/device/list"
GET_PROPERTY = "/v1/iot/device/get_desired_property"
SET_PROPERTY = "/v1/iot/device/set_property"  # body [modelled]
INVOKE_SERVICE = "/v1/iot/device/invoke_service"
CAMERA_KEYS = "/v1/iot/camera/get_keys"  # live view (docs/protocol/live-video.md#h2-keys)
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

# The [modelled] paths (the working public client never calls them), by the feature each
# serves. An answer that would mean "sign in again" (100003, 102008) or "no such path" (404)
# from one of these only makes its feature unavailable: only a [seen] endpoint may end the
# session (docs/protocol/accepted.md#guessed-endpoints).
MODELLED_FEATURES: Mapping[str, str] = {
    SET_PROPERTY: "device_settings",
    CLOUD_SERVICE: "cloud_plan",
    SHARE_BY_MOBILE: "sharing",
    SHARE_BY_EMAIL: "sharing",
    SHARE_LIST: "sharing",
    SHARE_CANCEL: "sharing",
    SHARE_PENDING: "sharing",
    SHARE_ACCEPT: "sharing",
    SHARE_REFUSE: "sharing",
    PUSH_DND: "do_not_disturb",
    PUSH_DEVICE_SETTING: "notifications",
    PUSH_SNOOZE: "snooze",
    PRIVACY_CONSENT: "consents",
    PRIVACY_EXPORT: "data_rights",
    PRIVACY_RESTRICT: "data_rights",
    PRIVACY_ERASE: "data_rights",
    OTA_CHECK: "firmware",  # listed in public code, never called by the working client
    OTA_UPGRADE: "firmware",
    OTA_PROGRESS: "firmware",
    NETWORK_TEST: "network_test",
}
