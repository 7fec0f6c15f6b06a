"""The errors of the BOTSLAB client: a small tree that tells the caller what to do next.

BotslabError
├── BotslabAuthError             sign in again (with the password)
│   ├── InvalidCredentials       wrong account or password (QUC 220, 222, 5000)
│   │   └── AccountNotFound      no region knows the account (1036 everywhere)
│   ├── CaptchaRequired          show the image, ask for the code (QUC 5010)
│   │   └── WrongCaptcha         the code was wrong; a new image comes with it (5011)
│   └── AuthExpired              Q/T no longer valid (100003, 102008): reauthenticate
├── SessionConflict              another login took the one session (102003): back off
├── RateLimited                  slow down (HTTP 429)
├── BotslabConnectionError       network or server trouble: retry later
│   └── BotslabTimeoutError
├── ProtocolError                an answer that does not parse
│   └── AddressRefused           a host the cloud named is not a public address (or none)
│       └── MediaHostRefused     ... and it was a media link
└── ApiError                     the cloud refused; `.code` says why
    ├── PermissionDenied         not the owner, or a share level too low (202101)
    ├── FeatureUnavailable       a [modelled] endpoint answered as if it did not exist
    └── SnapshotExpired          a signed media URL has expired (HTTP 403)
"""

from __future__ import annotations

import time


class BotslabError(Exception):
    """Base of every error raised by this package."""


class BotslabAuthError(BotslabError):
    """The account must sign in again."""


class InvalidCredentials(BotslabAuthError):
    """Wrong account or password."""

    def __init__(self, message: str = "invalid credentials", *, errno: int | None = None) -> None:
        super().__init__(message)
        self.errno = errno


class AccountNotFound(InvalidCredentials):
    """No region knows this account."""


class CaptchaRequired(BotslabAuthError):
    """The cloud wants a graphic captcha: show `image`, then log in again with
    `captcha=(challenge, code)` from the same identity."""

    def __init__(
        self,
        image: bytes,
        challenge: str,
        *,
        content_type: str = "image/png",
        region: str | None = None,
    ) -> None:
        super().__init__("captcha required")
        self.image = image
        self.challenge = challenge
        self.content_type = content_type
        self.region = region

    def __repr__(self) -> str:
        return f"{type(self).__name__}(image=<{len(self.image)} bytes>)"


class WrongCaptcha(CaptchaRequired):
    """The captcha code was wrong; a new image and challenge come with this error."""


class AuthExpired(BotslabAuthError):
    """Q/T are no longer accepted (100003 or 102008): a new password login is needed."""

    def __init__(self, message: str = "authentication expired", *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SessionConflict(BotslabError):
    """Another login (usually the phone app) took the account's one session (102003)."""

    def __init__(self, message: str = "the account logged in elsewhere") -> None:
        super().__init__(message)
        self.at = time.time()


class RateLimited(BotslabError):
    """The cloud asks us to slow down (HTTP 429): `retry_after` is the seconds left until
    it may be asked again, `not_before` that time (Unix seconds)."""

    def __init__(
        self,
        message: str = "rate limited",
        retry_after: float | None = None,
        *,
        not_before: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.not_before = not_before


class BotslabConnectionError(BotslabError):
    """The cloud could not be reached, or answered with a server error."""


class BotslabTimeoutError(BotslabConnectionError):
    """The cloud did not answer in time."""


class ProtocolError(BotslabError):
    """An answer or a frame that does not follow the protocol."""


class ApiError(BotslabError):
    """The cloud refused the call with a code."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(
            f"BOTSLAB API error {code}: {message}" if message else f"BOTSLAB API error {code}"
        )
        self.code = code
        self.message = message


class PermissionDenied(ApiError):
    """Only the owner (or a higher share level) may do this (202101)."""


class FeatureUnavailable(ApiError):
    """A [modelled] endpoint answered 404, 100003 or 102008: the cloud does not offer this
    feature as the project modelled it. The feature is unavailable; the session is not
    doubted for it (only a [seen] endpoint may end it). `feature` names it."""

    def __init__(self, feature: str, code: int) -> None:
        super().__init__(code, f"{feature} unavailable")
        self.feature = feature


class SnapshotExpired(ApiError):
    """A signed media URL has expired (HTTP 403): fetch the message again for a fresh one."""

    def __init__(self, message: str = "signed URL expired") -> None:
        super().__init__(403, message)


class AddressRefused(ProtocolError):
    """The cloud named a host that resolves to no public address (loopback, private,
    link-local, multicast, reserved), or that does not resolve: nothing is sent to it
    (docs/protocol/accepted.md#address-guard). `host` is printable and short; `resolved` is False
    when the name did not resolve at all."""

    def __init__(self, host: str, *, resolved: bool = True) -> None:
        super().__init__("address refused" if resolved else "host not found")
        self.host = host
        self.resolved = resolved


class MediaHostRefused(AddressRefused):
    """A media link (snapshot, playlist, segment, or a redirect of one) that is refused."""
