"""Camera entity: the latest snapshot, and live view through Home Assistant's stream component.

Battery devices show their latest event image, so that opening a dashboard never wakes them;
mains-powered cameras take a fresh snapshot (at most every 30 seconds). Live video starts only
when somebody opens the stream (docs/protocol/live-video.md): a LiveSession decrypts the device's
H.264, a LiveFeed serves it as MPEG-TS over HTTP on a loopback port, at a URL with a secret that
only the stream component is given (it turns the feed into HLS), and the session stops soon after
the last viewer leaves: Home Assistant's HLS output is asked to give up HLS_IDLE_SECONDS after
the player's last request (its own default is 30 s, 300 s before 2025.11), and the feed stops
the device LIVE_IDLE_SECONDS after the stream worker has gone: within 25 seconds in all.

A doorbell's ring (and, as an option, a person a camera sees) prepares the live view: the
session starts at once and waits a short window for a viewer, so that opening the camera
shows video almost at once. The device is awake after the event anyway; one whose battery is
below the option's level is left alone; a session nobody watches ends with its window,
quietly (no repair, no error).
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
import time

from homeassistant.components.camera import (
    Camera,
    CameraEntityDescription,
    CameraEntityFeature,
)
from homeassistant.components.stream import Stream
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event as HassEvent, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import BotslabError, DeviceKind, Event, EventKind, RateLimited
from .api.live.feed import LiveFeed
from .api.live.session import LiveError, LiveSession, LiveTimers
from .const import (
    CONF_LIVE_PREPARE_MIN_BATTERY,
    CONF_LIVE_PREPARE_PERSON,
    CONF_LIVE_PREPARE_SECONDS,
    DEFAULT_LIVE_PREPARE_MIN_BATTERY,
    DEFAULT_LIVE_PREPARE_PERSON,
    DEFAULT_LIVE_PREPARE_SECONDS,
    DOMAIN,
    ISSUE_LIVE,
    device_issue_id,
)
from .coordinator import DeviceCoordinator
from .data import BotslabConfigEntry, DeviceState
from .entity import (
    BotslabEntity,
    BotslabEntityDescription,
    async_setup_device_entities,
    entities_for,
)
from .errors import pause_placeholders
from .events import SIGNAL_EVENT, SIGNAL_IMAGE, DeliveredEvent

_LOGGER = logging.getLogger(__name__)
# live-view failures a user can do something about, shown as repair notices
USER_FIXABLE = frozenset({"device_asleep", "device_offline", "audio_only"})
PARALLEL_UPDATES = 0
SNAPSHOT_MIN_SECONDS = 30.0
# the device stops this long after the stream worker stops reading (a worker that reconnects
# finds the session still there) ...
LIVE_IDLE_SECONDS = 10.0
# ... which Home Assistant's HLS output does this long after the player's last request (a
# playing LL-HLS player asks at least once a part, a second by default)
HLS_IDLE_SECONDS = 10
# how long opening the stream waits for the first frame (or the reason there is none)
LIVE_OPEN_SECONDS = 20.0
# shorter than the library's: a user is waiting in front of a player
LIVE_TIMERS = LiveTimers(rewake=8.0, asleep_after=16.0, first_frame=18.0, audio_only_after=10.0)


@dataclass(frozen=True, kw_only=True)
class BotslabCameraDescription(BotslabEntityDescription, CameraEntityDescription):
    """The one camera of a device."""


DESCRIPTION = BotslabCameraDescription(
    key="camera",
    translation_key="camera",
    name=None,
    exists_fn=lambda s: s.device.kind is not DeviceKind.OTHER,
)


class BotslabCamera(BotslabEntity, Camera):
    entity_description: BotslabCameraDescription
    _attr_name = None

    def __init__(
        self, coordinator: DeviceCoordinator, serial: str, description: BotslabCameraDescription
    ) -> None:
        BotslabEntity.__init__(self, coordinator, serial, description)
        Camera.__init__(self)
        self._image: bytes | None = None
        self._image_at = 0.0
        self._image_event: str | None = None
        self._feed: LiveFeed | None = None
        self._live_error: str | None = None  # why the last live view failed, until one works
        self._stop_listener: CALLBACK_TYPE | None = None
        self.content_type = "image/jpeg"

    def _sleeps(self, state: DeviceState) -> bool:
        props = state.properties
        return bool(props and props.on_battery) or state.device.kind is DeviceKind.DOORBELL

    @property
    def supported_features(self) -> CameraEntityFeature:
        """Live video only where it can play: BOTSLAB sends a shared account a camera's sound
        only (docs/protocol/live-video.md: a guest account gets flag 0, whatever it sends), a known,
        permanent condition. A shared camera shows its snapshots, and says why there is no
        live view before anyone opens it, rather than failing after a wait in the player."""
        if (state := self.state_data) is not None and not state.device.owner:
            return CameraEntityFeature(0)
        return CameraEntityFeature.STREAM

    @property
    def extra_state_attributes(self) -> dict[str, str | None]:
        state = self.state_data
        shared = state is not None and not state.device.owner
        return {
            "event_id": self._image_event,
            "live_view_error": "audio_only" if shared else self._live_error,
        }

    def set_event_image(self, event: Event, image: bytes) -> None:
        """The push side hands over a freshly downloaded event snapshot."""
        self._image, self._image_event, self._image_at = image, event.id, time.monotonic()

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.listen(SIGNAL_IMAGE, self._on_image)
        self.listen(SIGNAL_EVENT, self._on_event)
        # Home Assistant stopping does not remove entities: the device stops streaming now.
        # A one-time listener is gone once it has fired: removed here only if it has not.
        self._stop_listener = self.hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._on_stop
        )
        self.async_on_remove(self._forget_stop_listener)

    @callback
    def _forget_stop_listener(self) -> None:
        if self._stop_listener is not None:
            self._stop_listener()
            self._stop_listener = None

    async def _on_stop(self, _event: HassEvent) -> None:
        self._stop_listener = None
        if self._feed is not None:
            await self._feed.close()

    async def async_will_remove_from_hass(self) -> None:
        await super().async_will_remove_from_hass()
        ir.async_delete_issue(self.hass, DOMAIN, self._live_issue_id)
        if self._feed is not None:
            self.coordinator.config_entry.runtime_data.live_feeds.pop(self._serial, None)
            await self._feed.close()
            self._feed = None

    # --- live view ------------------------------------------------------------------------
    @property
    def is_streaming(self) -> bool:
        return self._feed is not None and self._feed.watched

    def _new_session(self) -> LiveSession:
        state = self.state_data
        if state is None:
            raise LiveError("setup_failed", "the device is gone")
        data = self.coordinator.config_entry.runtime_data
        return LiveSession(
            self.coordinator.client, state.device, cache=data.live_cache, timers=LIVE_TIMERS
        )

    @callback
    def _feed_changed(self) -> None:
        if self.hass is not None and self.entity_id:
            self.async_write_ha_state()

    def _cloud_pause(self) -> float:
        """Seconds until the hosts of live view's setup may be asked again (Retry-After)."""
        endpoints = self.coordinator.client.endpoints
        hosts = endpoints.regions[endpoints.region]
        urls = (hosts.api_url, hosts.iotext_url, hosts.license_url, hosts.schedule_url)
        return endpoints.gate.remaining(*(u for u in urls if u))

    def _ensure_feed(self) -> LiveFeed:
        if self._feed is None:
            self._feed = LiveFeed(
                self._new_session, idle_s=LIVE_IDLE_SECONDS, on_change=self._feed_changed
            )
            self.coordinator.config_entry.runtime_data.live_feeds[self._serial] = self._feed
        return self._feed

    # --- prepared on a ring ---------------------------------------------------------------
    def _prepare_window(self, delivered: DeliveredEvent) -> float:
        """Seconds to keep a prepared session for this event; 0: none."""
        event = delivered.event
        options = self.coordinator.config_entry.options
        window = float(options.get(CONF_LIVE_PREPARE_SECONDS, DEFAULT_LIVE_PREPARE_SECONDS))
        if delivered.late or event.serial != self._serial or window <= 0:
            return 0.0  # an old event (after a restart) or another device's
        on_person = options.get(CONF_LIVE_PREPARE_PERSON, DEFAULT_LIVE_PREPARE_PERSON)
        if event.kind is not EventKind.RING and not (on_person and event.kind is EventKind.PERSON):
            return 0.0
        state = self.state_data
        if state is None or not state.device.online or self._cloud_pause() > 0:
            return 0.0
        props = state.properties
        level = props.battery_level if props is not None else None
        lowest = options.get(CONF_LIVE_PREPARE_MIN_BATTERY, DEFAULT_LIVE_PREPARE_MIN_BATTERY)
        if level is not None and self._sleeps(state) and level < int(lowest):
            _LOGGER.debug("%s: battery at %s%%, live view not prepared", self._title(), level)
            return 0.0
        return window

    @callback
    def _on_event(self, delivered: DeliveredEvent) -> None:
        window = self._prepare_window(delivered)
        if window <= 0 or self.hass is None:
            return
        feed = self._ensure_feed()
        self.coordinator.config_entry.async_create_background_task(
            self.hass, feed.prepare(window), f"botslab prepare live view {self.entity_id}"
        )

    async def _open_feed(self, wait: float) -> str:
        state = self.state_data
        if state is not None and not state.device.online:
            raise self._live_unavailable("device_offline")
        running = self._feed is not None and self._feed.streaming  # prepared, perhaps
        if (pause := self._cloud_pause()) > 0 and not running:
            # the cloud asked for a pause: no setup call, no wake-up before its time
            raise self._live_unavailable("rate_limited", **pause_placeholders(pause))
        self._ensure_feed()
        assert self._feed is not None
        try:
            url = await self._feed.open(wait)
        except LiveError as err:
            if isinstance(err.__cause__, RateLimited):  # a setup call met a 429
                left = pause_placeholders(err.__cause__.retry_after)
                raise self._live_unavailable("rate_limited", **left) from err
            raise self._live_unavailable(err.reason) from err
        ir.async_delete_issue(self.hass, DOMAIN, self._live_issue_id)
        if self._live_error is not None:
            _LOGGER.info("Live view of %s works again", self._title())
            self._live_error = None
            self.async_write_ha_state()
        return url

    def _title(self) -> str:
        state = self.state_data
        return state.device.title if state else self._serial

    @property
    def _live_issue_id(self) -> str:
        return device_issue_id(ISSUE_LIVE, self.coordinator.config_entry.entry_id, self._serial)

    def _live_unavailable(self, reason: str, **extra: str) -> HomeAssistantError:
        """The translated error for the caller (the websocket, a voice bridge). The
        frontend's player falls back to the still image without showing errors, so a reason
        the user can act on (the device asleep or offline, audio only for a shared account)
        also becomes a repair notice. Transient ones (the relay refused, keys changed, the
        stream lost, setup failed) are logged once until a live view works again, and shown
        as the camera's `live_view_error` attribute and in diagnostics."""
        placeholders = {"device": self._title(), **extra}
        if reason in USER_FIXABLE:
            ir.async_create_issue(
                self.hass,
                DOMAIN,
                self._live_issue_id,
                is_fixable=False,
                is_persistent=False,
                severity=ir.IssueSeverity.WARNING,
                translation_key=f"live_{reason}",
                translation_placeholders=placeholders,
            )
        elif self._live_error is None:
            _LOGGER.warning("Live view of %s failed: %s", placeholders["device"], reason)
        if self._live_error != reason:
            self._live_error = reason
            self.async_write_ha_state()
        return HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key=f"live_{reason}",
            translation_placeholders=placeholders,
        )

    async def async_create_stream(self) -> Stream | None:
        """Open the live feed first, so that a camera that cannot stream says why (a
        translated error in the player) instead of leaving it spinning."""
        await self._open_feed(LIVE_OPEN_SECONDS)
        stream = await super().async_create_stream()
        if stream is not None:
            # HLS first, with a short idle time: the stream component's own (30 s, 300 s
            # before 2025.11) keeps a battery device streaming long after the player has gone.
            # The frontend's add_provider("hls") then finds this one.
            stream.add_provider("hls", timeout=HLS_IDLE_SECONDS)
        return stream

    async def stream_source(self) -> str | None:
        """The loopback MPEG-TS feed (within HA's 10 s limit for stream sources)."""
        return await self._open_feed(8.0)

    async def async_refresh_providers(self, *, write_state: bool = True) -> None:
        """HLS only: no WebRTC provider is asked. Asking one (go2rtc) calls stream_source(),
        which wakes the device, whenever providers are refreshed, and go2rtc does not play
        a video-only TS. With none asked there is none to pick, and nothing changes."""
        return

    @callback
    def _on_image(self, serial: str) -> None:
        found = self.runtime.snapshots.get(serial)
        if serial == self._serial and found is not None:
            # the image changes, the state does not: frontends fetch the new image on their own
            self.set_event_image(*found)

    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        state = self.state_data
        if state is None:
            return self._image
        client = self.coordinator.client
        fresh = time.monotonic() - self._image_at < SNAPSHOT_MIN_SECONDS
        if self._image is not None and fresh:
            return self._image
        try:
            if state.device.online and not self._sleeps(state) and state.device.can_control:
                result = await client.take_snapshot(state.device)
                if result.ok and result.url:
                    self._image = await client.download(result.url)
                    self._image_at = time.monotonic()
                    return self._image
            page = await client.messages(device=state.device, page_size=1)
            if (
                page.events
                and page.events[0].image is not None
                and page.events[0].id != self._image_event
            ):
                event = page.events[0]
                self._image = await client.download_snapshot(event)
                self._image_event = event.id
            self._image_at = time.monotonic()
        except BotslabError as err:
            _LOGGER.debug("no camera image for %s: %s", state.device.title, type(err).__name__)
        return self._image


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(
        entry, async_add_entities, entities_for(BotslabCamera, (DESCRIPTION,))
    )
