"""The push connection of one entry: start, stop, and polling while it is down.

A push only says that something is new; delivery fetches it. While the connection is down
(or silent, see api/push.py) delivery is asked every `poll_interval` seconds. The entry's
event-connection sensor shows `push`, `polling` or `offline`."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval

from ..api import BotslabClient, ConnectionState, PushClient, PushMessage
from ..const import CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL
from . import CONNECTION_OFFLINE, CONNECTION_POLLING, CONNECTION_PUSH, SIGNAL_CONNECTION
from .delivery import EventDelivery

_LOGGER = logging.getLogger(__name__)

PUSH_HEARTBEAT_S = 60.0  # protocol.md 4
PUSH_TIMEOUT_S = 180  # the `t` the bind announces


class PushLink:
    """Keeps the push connection up and asks delivery to fetch on each push or poll."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry[Any],
        client: BotslabClient,
        delivery: EventDelivery,
    ) -> None:
        self.hass = hass
        self.entry = entry
        self.client = client
        self.delivery = delivery
        self.push = PushClient(
            async_get_clientsession(hass),
            client.endpoints,
            client.identity,
            self._alias,
            heartbeat=PUSH_HEARTBEAT_S,
            timeout_s=PUSH_TIMEOUT_S,
            device_label="Home Assistant",
        )
        self._unsubs: list[CALLBACK_TYPE] = []
        self._poll_unsub: CALLBACK_TYPE | None = None
        self._stopping = False
        self.connection = CONNECTION_POLLING
        delivery.add_result_listener(self._on_fetch_result)

    @property
    def poll_interval(self) -> int:
        return int(self.entry.options.get(CONF_POLL_INTERVAL, DEFAULT_POLL_INTERVAL))

    async def _alias(self) -> str:
        session = self.client.session or await self.client.login()
        return session.push_alias

    def start(self) -> None:
        self._unsubs.append(self.push.subscribe(self._on_push))
        self._unsubs.append(self.push.subscribe_state(self._on_push_state))
        self._start_polling()
        self.push.start()
        self.delivery.request_fetch()  # what happened while Home Assistant was not listening

    async def async_stop(self) -> None:
        self._stopping = True
        for unsub in self._unsubs:
            unsub()
        self._unsubs.clear()
        self._stop_polling()
        await self.push.stop()

    @callback
    def _on_push(self, _message: PushMessage) -> None:
        self.delivery.note_push()
        self.delivery.request_fetch()

    @callback
    def _on_push_state(self, state: ConnectionState) -> None:
        if state is ConnectionState.CONNECTED:
            self._stop_polling()
            self._set_connection(CONNECTION_PUSH)
            if self.push.connects > 1:
                _LOGGER.info("BOTSLAB push channel is back")
            self.delivery.request_fetch()  # catch up on the outage
        elif self.connection == CONNECTION_PUSH and state in (
            ConnectionState.DISCONNECTED,
            ConnectionState.BACKOFF,
        ):
            _LOGGER.info(
                "BOTSLAB push channel lost; polling every %d s until it is back", self.poll_interval
            )
            self._start_polling()
            self._set_connection(
                CONNECTION_POLLING if self.delivery.last_fetch_ok else CONNECTION_OFFLINE
            )

    @callback
    def _on_fetch_result(self, ok: bool) -> None:
        if not ok and self.connection != CONNECTION_PUSH:
            self._set_connection(CONNECTION_OFFLINE)
        elif ok and self.connection == CONNECTION_OFFLINE:
            self._set_connection(CONNECTION_POLLING)

    def _start_polling(self) -> None:
        if self._poll_unsub is None and not self._stopping:
            self._poll_unsub = async_track_time_interval(
                self.hass,
                self._poll,
                timedelta(seconds=self.poll_interval),
                name="botslab fallback poll",
            )

    def _stop_polling(self) -> None:
        if self._poll_unsub is not None:
            self._poll_unsub()
            self._poll_unsub = None

    @callback
    def _poll(self, _now: Any) -> None:
        self.delivery.request_fetch()

    def _set_connection(self, value: str) -> None:
        if value != self.connection:
            self.connection = value
            async_dispatcher_send(self.hass, SIGNAL_CONNECTION.format(self.entry.entry_id))
