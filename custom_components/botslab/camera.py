"""Camera entity: the latest snapshot, and live view through Home Assistant's stream component.

Battery devices show their latest event image, so that opening a dashboard never wakes them;
mains-powered cameras take a fresh snapshot (at most every 30 seconds). Live video starts only
when somebody opens the stream (liveview.md): a LiveSession decrypts the device's H.264, a
LiveFeed serves it as MPEG-TS on a loopback port that the stream component turns into HLS, and
the session stops 25 seconds after the last viewer leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
import logging
import time

from homeassistant.components.camera import (
    Camera,
    CameraEntityDescription,
    CameraEntityFeature,
)
from homeassistant.components.stream import Stream
from homeassistant.core import HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .api import BotslabError, DeviceKind, Event
from .api.live.feed import LiveFeed
from .api.live.session import LiveError, LiveSession, LiveTimers
from .const import DOMAIN
from .coordinator import DeviceCoordinator
from .data import BotslabConfigEntry, DeviceState
from .entity import BotslabEntity, BotslabEntityDescription, async_setup_device_entities
from .events import SIGNAL_IMAGE

_LOGGER = logging.getLogger(__name__)
# live-view failures a user can do something about, shown as repair notices
USER_FIXABLE = frozenset({"device_asleep", "device_offline", "audio_only"})
PARALLEL_UPDATES = 0
SNAPSHOT_MIN_SECONDS = 30.0
LIVE_IDLE_SECONDS = 25.0
# how long opening the stream waits for the first frame (or the reason there is none)
LIVE_OPEN_SECONDS = 20.0
# shorter than the library's: a user is waiting in front of a player
LIVE_TIMERS = LiveTimers(rewake=8.0, asleep_after=16.0, first_frame=18.0, audio_only_after=10.0)


@dataclass(frozen=True, kw_only=True)
class BotslabCameraDescription(BotslabEntityDescription, CameraEntityDescription):
    """The one camera of a device."""


DESCRIPTION = BotslabCameraDescription(key="camera", translation_key="camera", name=None)


class BotslabCamera(BotslabEntity, Camera):
    entity_description: BotslabCameraDescription
    _attr_name = None
    _attr_supported_features = CameraEntityFeature.STREAM

    def __init__(self, coordinator: DeviceCoordinator, serial: str) -> None:
        BotslabEntity.__init__(self, coordinator, serial, DESCRIPTION)
        Camera.__init__(self)
        self._image: bytes | None = None
        self._image_at = 0.0
        self._image_event: str | None = None
        self._feed: LiveFeed | None = None
        self._live_error: str | None = None  # why the last live view failed, until one works
        self.content_type = "image/jpeg"

    def _sleeps(self, state: DeviceState) -> bool:
        props = state.properties
        return bool(props and props.on_battery) or state.device.kind is DeviceKind.DOORBELL

    @property
    def extra_state_attributes(self) -> dict[str, str | None]:
        return {"event_id": self._image_event, "live_view_error": self._live_error}

    def set_event_image(self, event: Event, image: bytes) -> None:
        """The push side hands over a freshly downloaded event snapshot."""
        self._image, self._image_event, self._image_at = image, event.id, time.monotonic()

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.listen(SIGNAL_IMAGE, self._on_image)

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
        return self._feed is not None and self._feed.streaming

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

    async def _open_feed(self, wait: float) -> str:
        state = self.state_data
        if state is not None and not state.device.online:
            raise self._live_unavailable("device_offline")
        if self._feed is None:
            self._feed = LiveFeed(
                self._new_session, idle_s=LIVE_IDLE_SECONDS, on_change=self._feed_changed
            )
            self.coordinator.config_entry.runtime_data.live_feeds[self._serial] = self._feed
        try:
            url = await self._feed.open(wait)
        except LiveError as err:
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
        return f"live_{self._serial}"

    def _live_unavailable(self, reason: str) -> HomeAssistantError:
        """The translated error for the caller (the websocket, a voice bridge). The
        frontend's player falls back to the still image without showing errors, so a reason
        the user can act on (the device asleep or offline, audio only for a shared account)
        also becomes a repair notice. Transient ones (the relay refused, keys changed, the
        stream lost, setup failed) are logged once until a live view works again, and shown
        as the camera's `live_view_error` attribute and in diagnostics."""
        placeholders = {"device": self._title()}
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
        return await super().async_create_stream()

    async def stream_source(self) -> str | None:
        """The loopback MPEG-TS feed (within HA's 10 s limit for stream sources)."""
        return await self._open_feed(8.0)

    async def _async_get_supported_webrtc_provider[T](
        self, fn: Callable[[HomeAssistant, Camera], Coroutine[None, None, T | None]]
    ) -> T | None:
        # HLS only: asking a WebRTC provider (go2rtc) would call stream_source() and wake the
        # device whenever providers are refreshed, and go2rtc does not play a video-only TS
        return None

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


def _entities(coordinator: DeviceCoordinator, state: DeviceState) -> Iterable[Entity]:
    if state.device.kind is DeviceKind.OTHER:
        return []
    return [BotslabCamera(coordinator, state.device.serial)]


async def async_setup_entry(
    hass: HomeAssistant, entry: BotslabConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    async_setup_device_entities(entry, async_add_entities, _entities)
