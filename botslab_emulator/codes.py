"""Error codes the emulator answers with.

Codes marked [seen]/[modelled] follow docs/protocol/README.md; the modelled ones are defined here,
in one place, so that they can be corrected when the real values become known.
"""

from __future__ import annotations

# QUC (docs/protocol/cloud-api.md#account-login) [seen]
QUC_OK = 0
QUC_WRONG_PASSWORD = 220
QUC_ACCOUNT_PROBLEM = 222
QUC_ACCOUNT_LOCKED = 5000
QUC_CAPTCHA_REQUIRED = 5010
QUC_CAPTCHA_WRONG = 5011
QUC_WRONG_REGION = 1036
QUC_RSA_REJECTED = 1021001
QUC_BAD_REQUEST = 1003  # [modelled] malformed form / missing fields / bad signature

# sapp-api (docs/protocol/cloud-api.md#gateway) [seen]
OK = 0
BAD_SIGN = 1001
SID_EXPIRED = 1015
QT_EXPIRED = 100003
SESSION_STOLEN = 102003
SESSION_TIMEOUT = 102008
PLAY_URL_NEEDS_GET = 300260

# [modelled]
INVALID_PARAM = 200001
DEVICE_NOT_FOUND = 201001
DEVICE_OFFLINE = 201002
UNKNOWN_IDENTIFIER = 201003
NOT_OWNER = 202101  # docs/protocol/cloud-api.md#sharing
SHARE_TO_SELF = 202102  # docs/protocol/cloud-api.md#sharing
SHARE_NOT_FOUND = 202103
CONSENT_REQUIRED = 202105
NO_UPGRADE = 203001
ERASE_CONFIRM_MISMATCH = 204001
NOT_FOUND = 404
SERVER_ERROR = 500

MESSAGES: dict[int, str] = {
    OK: "success",
    BAD_SIGN: "sign error",
    SID_EXPIRED: "sid expired",
    QT_EXPIRED: "login expired, please login again",
    SESSION_STOLEN: "your account has logged in on another device",
    SESSION_TIMEOUT: "session timed out, please login again",
    PLAY_URL_NEEDS_GET: "method not allowed, use GET",
    INVALID_PARAM: "invalid parameter",
    DEVICE_NOT_FOUND: "device not found",
    DEVICE_OFFLINE: "device offline",
    UNKNOWN_IDENTIFIER: "unknown identifier",
    NOT_OWNER: "no permission",
    SHARE_TO_SELF: "cannot share to yourself",
    SHARE_NOT_FOUND: "share not found",
    CONSENT_REQUIRED: "consent required",
    NO_UPGRADE: "no upgrade available",
    ERASE_CONFIRM_MISMATCH: "confirmation does not match the account",
    NOT_FOUND: "not found",
    SERVER_ERROR: "internal error",
}
