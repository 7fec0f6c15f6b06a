"""Config flow: user → (captcha) → entry; reauth; reconfigure; options."""

from __future__ import annotations

import base64
from collections.abc import Mapping
import logging
from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.util import dt as dt_util

from .api import (
    REGIONS,
    BotslabConnectionError,
    BotslabError,
    CaptchaRequired,
    Credentials,
    Identity,
    InvalidCredentials,
    QucLogin,
    WrongCaptcha,
    account_title,
    mask,
)
from .cloud import async_get_endpoints
from .compat import vol
from .const import (
    CONF_CAPTCHA,
    CONF_DOWNLOAD_SNAPSHOTS,
    CONF_IDENTITY,
    CONF_LIVE_PREPARE_MIN_BATTERY,
    CONF_LIVE_PREPARE_PERSON,
    CONF_LIVE_PREPARE_SECONDS,
    CONF_MAX_EVENT_AGE,
    CONF_MOTION_SECONDS,
    CONF_POLL_INTERVAL,
    CONF_Q,
    CONF_QID,
    CONF_REGION,
    CONF_SIGNED_IN,
    CONF_T,
    DEFAULT_DOWNLOAD_SNAPSHOTS,
    DEFAULT_LIVE_PREPARE_MIN_BATTERY,
    DEFAULT_LIVE_PREPARE_PERSON,
    DEFAULT_LIVE_PREPARE_SECONDS,
    DEFAULT_MAX_EVENT_AGE,
    DEFAULT_MOTION_SECONDS,
    DEFAULT_POLL_INTERVAL,
    DOMAIN,
    region_for_country,
)
from .data import BotslabConfigEntry

_LOGGER = logging.getLogger(__name__)


def _secret() -> TextSelector:
    return TextSelector(
        TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
    )


class BotslabConfigFlow(ConfigFlow, domain=DOMAIN):
    """Sign in to the BOTSLAB cloud. The password is used for the login and then forgotten."""

    # 1.2: Q/T kept URL-encoded, as the cloud sends them; 1.3: the title no longer the
    # sign-in name (a phone number or email) but the nickname or the name masked; 2.1:
    # account-scoped unique ids (a downgrade would make every entity again: a major version)
    VERSION = 2
    MINOR_VERSION = 1

    def __init__(self) -> None:
        self._region = "eu1"
        self._username = ""
        self._password = ""
        self._identity: Identity | None = None
        self._captcha: CaptchaRequired | None = None

    # --- helpers ------------------------------------------------------------------------------
    def _user_schema(self, defaults: Mapping[str, Any]) -> vol.Schema:
        return vol.Schema(
            {
                vol.Required(
                    CONF_REGION, default=defaults.get(CONF_REGION, self._region)
                ): SelectSelector(
                    SelectSelectorConfig(
                        options=list(REGIONS),
                        translation_key="region",
                        mode=SelectSelectorMode.DROPDOWN,
                    )
                ),
                vol.Required(CONF_USERNAME, default=defaults.get(CONF_USERNAME, "")): TextSelector(
                    TextSelectorConfig(type=TextSelectorType.TEXT, autocomplete="username")
                ),
                vol.Required(CONF_PASSWORD): _secret(),
            }
        )

    def _take_user_input(self, user_input: Mapping[str, Any]) -> None:
        self._region = str(user_input[CONF_REGION])
        self._username = str(user_input[CONF_USERNAME]).strip()
        self._password = str(user_input[CONF_PASSWORD])

    async def _login(
        self, captcha: tuple[str, str] | None = None
    ) -> tuple[Credentials | None, dict[str, str]]:
        """QUC login with the flow's identity; errors as form errors (captcha: self._captcha)."""
        session = async_get_clientsession(self.hass)
        errors: dict[str, str] = {}
        try:
            endpoints = await async_get_endpoints(session, {CONF_REGION: self._region})
            quc = QucLogin(session, endpoints, self._install_identity)
            region = self._captcha.region if captcha and self._captcha else None
            credentials = await quc.login(
                self._username, self._password, captcha=captcha, region=region
            )
        except CaptchaRequired as err:
            self._captcha = err
            if isinstance(err, WrongCaptcha):
                errors["base"] = "invalid_captcha"
            else:
                errors["base"] = "captcha_required"
            return None, errors
        except InvalidCredentials:
            errors["base"] = "invalid_auth"
        except BotslabConnectionError:
            errors["base"] = "cannot_connect"
        except BotslabError:
            _LOGGER.exception("Unexpected answer from the BOTSLAB cloud")
            errors["base"] = "unknown"
        else:
            self._captcha = None
            return credentials, {}
        return None, errors

    @property
    def _install_identity(self) -> Identity:
        """This install's identity: the entry's on reauth and reconfigure, else a new one."""
        if self._identity is None:
            self._identity = Identity.generate()
        return self._identity

    def _entry_data(self, credentials: Credentials) -> dict[str, Any]:
        data: dict[str, Any] = {
            CONF_REGION: credentials.region,
            CONF_USERNAME: self._username,
            CONF_QID: credentials.qid,
            CONF_Q: credentials.q,
            CONF_T: credentials.t,
            CONF_IDENTITY: self._install_identity.as_dict(),
            # when the password signed in: what tells the update listener to reload
            CONF_SIGNED_IN: dt_util.utcnow().isoformat(),
        }
        return data

    async def _finish(self, credentials: Credentials) -> ConfigFlowResult:
        """Create, or update the reauth/reconfigure entry (the same account only)."""
        self._password = ""
        await self.async_set_unique_id(credentials.qid)
        if self.source in ("reauth", "reconfigure"):
            entry = (
                self._get_reauth_entry()
                if self.source == "reauth"
                else self._get_reconfigure_entry()
            )
            self._abort_if_unique_id_mismatch(reason="wrong_account")
            self.hass.config_entries.async_update_entry(entry, data=self._entry_data(credentials))
            if not entry.update_listeners:
                # not loaded (a failed setup): no listener is there to reload it
                self.hass.config_entries.async_schedule_reload(entry.entry_id)
            return self.async_abort(
                reason="reauth_successful" if self.source == "reauth" else "reconfigure_successful"
            )
        self._abort_if_unique_id_configured()
        return self.async_create_entry(
            title=account_title(credentials.nickname, self._username),
            data=self._entry_data(credentials),
        )

    async def _attempt(
        self, step_id: str, schema: vol.Schema, captcha: tuple[str, str] | None = None
    ) -> ConfigFlowResult:
        credentials, errors = await self._login(captcha)
        if credentials is not None:
            return await self._finish(credentials)
        if self._captcha is not None and errors.get("base") in (
            "captcha_required",
            "invalid_captcha",
        ):
            return self._captcha_form(
                self._captcha, errors if errors["base"] == "invalid_captcha" else {}
            )
        return self.async_show_form(step_id=step_id, data_schema=schema, errors=errors)

    def _captcha_form(self, captcha: CaptchaRequired, errors: dict[str, str]) -> ConfigFlowResult:
        image = base64.b64encode(captcha.image).decode()
        return self.async_show_form(
            step_id="captcha",
            data_schema=vol.Schema({vol.Required(CONF_CAPTCHA): str}),
            errors=errors,
            description_placeholders={
                "captcha": f"![captcha](data:{captcha.content_type};base64,{image})"
            },
        )

    # --- steps --------------------------------------------------------------------------------
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is None:
            self._region = region_for_country(self.hass.config.country)
            return self.async_show_form(step_id="user", data_schema=self._user_schema({}))
        self._take_user_input(user_input)
        return await self._attempt("user", self._user_schema(user_input))

    async def async_step_captcha(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        captcha = self._captcha
        if captcha is None:
            return self.async_abort(reason="unknown")
        if user_input is None:
            return self._captcha_form(captcha, {})
        code = str(user_input[CONF_CAPTCHA])
        credentials, errors = await self._login((captcha.challenge, code))
        if credentials is not None:
            return await self._finish(credentials)
        if errors.get("base") in ("captcha_required", "invalid_captcha"):
            errors = {"base": "invalid_captcha"}
        # a new challenge when the cloud gave one, else the same picture again
        return self._captcha_form(self._captcha or captcha, errors)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        self._region = str(entry_data[CONF_REGION])
        self._username = str(entry_data.get(CONF_USERNAME, ""))
        self._identity = Identity.from_dict(entry_data[CONF_IDENTITY])
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        schema = vol.Schema({vol.Required(CONF_PASSWORD): _secret()})
        if user_input is None:
            return self.async_show_form(
                step_id="reauth_confirm",
                data_schema=schema,
                description_placeholders={"username": mask(self._username)},
            )
        self._password = str(user_input[CONF_PASSWORD])
        return await self._attempt("reauth_confirm", schema)

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        if self._identity is None:
            self._identity = Identity.from_dict(entry.data[CONF_IDENTITY])
        defaults = {
            CONF_REGION: entry.data[CONF_REGION],
            CONF_USERNAME: entry.data.get(CONF_USERNAME, ""),
        }
        if user_input is None:
            return self.async_show_form(
                step_id="reconfigure", data_schema=self._user_schema(defaults)
            )
        self._take_user_input(user_input)
        return await self._attempt("reconfigure", self._user_schema(user_input))

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: BotslabConfigEntry) -> BotslabOptionsFlow:
        return BotslabOptionsFlow()


def _seconds(low: int, high: int) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            min=low, max=high, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="s"
        )
    )


class BotslabOptionsFlow(OptionsFlow):
    """Fallback poll interval, how long event binary sensors stay on, snapshots, event age,
    and live view prepared on a ring (its window, on a person too, the lowest battery)."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        if user_input is not None:
            cleaned = {
                CONF_POLL_INTERVAL: int(user_input[CONF_POLL_INTERVAL]),
                CONF_MOTION_SECONDS: int(user_input[CONF_MOTION_SECONDS]),
                CONF_DOWNLOAD_SNAPSHOTS: bool(user_input[CONF_DOWNLOAD_SNAPSHOTS]),
                CONF_MAX_EVENT_AGE: int(user_input[CONF_MAX_EVENT_AGE]),
                CONF_LIVE_PREPARE_SECONDS: int(
                    user_input.get(CONF_LIVE_PREPARE_SECONDS, DEFAULT_LIVE_PREPARE_SECONDS)
                ),
                CONF_LIVE_PREPARE_PERSON: bool(
                    user_input.get(CONF_LIVE_PREPARE_PERSON, DEFAULT_LIVE_PREPARE_PERSON)
                ),
                CONF_LIVE_PREPARE_MIN_BATTERY: int(
                    user_input.get(CONF_LIVE_PREPARE_MIN_BATTERY, DEFAULT_LIVE_PREPARE_MIN_BATTERY)
                ),
            }
            return self.async_create_entry(data=cleaned)
        options = self.config_entry.options
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_POLL_INTERVAL,
                    default=options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL),
                ): _seconds(30, 3600),
                vol.Required(
                    CONF_MOTION_SECONDS,
                    default=options.get(CONF_MOTION_SECONDS, DEFAULT_MOTION_SECONDS),
                ): _seconds(5, 600),
                vol.Required(
                    CONF_DOWNLOAD_SNAPSHOTS,
                    default=options.get(CONF_DOWNLOAD_SNAPSHOTS, DEFAULT_DOWNLOAD_SNAPSHOTS),
                ): BooleanSelector(),
                vol.Required(
                    CONF_MAX_EVENT_AGE,
                    default=options.get(CONF_MAX_EVENT_AGE, DEFAULT_MAX_EVENT_AGE),
                ): _seconds(10, 3600),
                vol.Required(
                    CONF_LIVE_PREPARE_SECONDS,
                    default=options.get(CONF_LIVE_PREPARE_SECONDS, DEFAULT_LIVE_PREPARE_SECONDS),
                ): _seconds(0, 120),
                vol.Required(
                    CONF_LIVE_PREPARE_PERSON,
                    default=options.get(CONF_LIVE_PREPARE_PERSON, DEFAULT_LIVE_PREPARE_PERSON),
                ): BooleanSelector(),
                vol.Required(
                    CONF_LIVE_PREPARE_MIN_BATTERY,
                    default=options.get(
                        CONF_LIVE_PREPARE_MIN_BATTERY, DEFAULT_LIVE_PREPARE_MIN_BATTERY
                    ),
                ): NumberSelector(
                    NumberSelectorConfig(
                        min=0, max=100, step=1, mode=NumberSelectorMode.BOX, unit_of_measurement="%"
                    )
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)
