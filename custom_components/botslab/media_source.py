"""The media browser: BOTSLAB → account → device → day → events (newest first).

Clips play through the integration's authenticated view (resolved at play time, decrypted when
the cloud encrypted them); events without a clip show their snapshot.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
import re

from homeassistant.components.media_player.const import MediaClass, MediaType
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import translation
from homeassistant.util import dt as dt_util

from .api import BotslabError, DeviceKind, Event
from .const import DOMAIN
from .data import BotslabConfigEntry
from .media_ref import MediaRef, seal, unseal
from .views import clip_url, media_key, snapshot_url

_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
MAX_SCAN = 500  # newest messages read to find a device's days
MAX_DAY = 200  # events listed for one day
# the days a message list can have: the cloud keeps events for at most a year (plans of 30 to
# 365 days); other days are refused without asking it
MAX_HISTORY = timedelta(days=400)
PAGE = 50
# countries whose clocks show 12 hours (with AM/PM); everywhere else 24 (Home Assistant's
# backend does not know a user's own choice, only the installation's language and country)
TWELVE_HOUR_COUNTRIES = frozenset({"US", "CA", "AU", "NZ", "PH", "IN", "PK", "EG", "SA", "CO"})
# how the installation's language writes a date in digits ({d}, {m}, {y})
DATE_FORMS = {
    "de": "{d:02}.{m:02}.{y}",
    "nl": "{d:02}-{m:02}-{y}",
    "fr": "{d:02}/{m:02}/{y}",
    "es": "{d:02}/{m:02}/{y}",
    "zh": "{y}-{m:02}-{d:02}",
}
# the event entities' own translations of each kind (strings.json: entity.event.*)
_KIND_KEY = "component.botslab.entity.event.{entity}.state_attributes.event_type.state.{kind}"


class Labels:
    """Titles in the installation's language and conventions: kinds as the event entities
    call them, times in 12 or 24 hours, dates in digits. The frontend formats times by the
    language tag alone (its default "use the language's format"), not by the installation's
    country: "en" is American English (12 hours) in Germany too, "en-GB" is 24 hours."""

    def __init__(self, hass: HomeAssistant, kinds: dict[str, str]) -> None:
        self._kinds = kinds
        tag = (hass.config.language or "en").replace("_", "-")
        language, _, region = tag.partition("-")
        language = language.lower()
        region = region.split("-")[-1].upper() or ("US" if language == "en" else "")
        self._twelve = language == "en" and region in TWELVE_HOUR_COUNTRIES
        us = language == "en" and region == "US"
        self._date = "{m}/{d}/{y}" if us else DATE_FORMS.get(language, "{d:02}/{m:02}/{y}")

    @classmethod
    async def load(cls, hass: HomeAssistant) -> Labels:
        strings = await translation.async_get_translations(
            hass, hass.config.language, "entity", [DOMAIN]
        )
        kinds = {}
        for kind in ("ring", "motion", "person", "pet", "package", "vehicle", "sound", "other"):
            entity = "doorbell" if kind == "ring" else "motion"
            kinds[kind] = strings.get(_KIND_KEY.format(entity=entity, kind=kind), kind)
        return cls(hass, kinds)

    def kind(self, kind: str) -> str:
        return self._kinds.get(kind) or self._kinds.get("other", kind)

    def time(self, when: datetime) -> str:
        if self._twelve:
            return f"{(when.hour % 12) or 12}:{when.minute:02} {'AM' if when.hour < 12 else 'PM'}"
        return f"{when.hour:02}:{when.minute:02}"

    def date(self, day: date) -> str:
        return self._date.format(d=day.day, m=day.month, y=day.year)


async def async_get_media_source(hass: HomeAssistant) -> BotslabMediaSource:
    return BotslabMediaSource(hass)


def _unresolvable(key: str, **placeholders: str) -> Unresolvable:
    return Unresolvable(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


class BotslabMediaSource(MediaSource):
    name = "BOTSLAB"

    def __init__(self, hass: HomeAssistant) -> None:
        super().__init__(DOMAIN)
        self.hass = hass

    def _entry(self, entry_id: str) -> BotslabConfigEntry:
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
            raise _unresolvable("media_not_loaded")
        return entry

    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        parts = item.identifier.split("/")
        if len(parts) != 4:
            raise _unresolvable("media_unknown")
        entry = self._entry(parts[0])
        ref = unseal(media_key(self.hass), entry.entry_id, parts[3])
        if ref is None or ref.serial != parts[1]:
            raise _unresolvable("media_unknown")
        if ref.has_clip:
            return PlayMedia(clip_url(entry.entry_id, parts[3]), "application/x-mpegURL")
        if ref.has_image:
            return PlayMedia(snapshot_url(entry.entry_id, parts[3]), "image/jpeg")
        raise _unresolvable("media_no_clip")

    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        parts = item.identifier.split("/") if item.identifier else []
        try:
            if not parts:
                return self._root()
            entry = self._entry(parts[0])
            if len(parts) == 1:
                return self._account(entry)
            if len(parts) == 2:
                return await self._device(entry, parts[1])
            if len(parts) == 3:
                return await self._day(entry, parts[1], parts[2])
        except BotslabError as err:
            raise _unresolvable("media_cloud_error", error=type(err).__name__) from err
        raise _unresolvable("media_unknown")

    def _node(
        self,
        identifier: str,
        title: str,
        children: list[BrowseMediaSource],
        *,
        child_class: MediaClass = MediaClass.DIRECTORY,
    ) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier or None,
            media_class=MediaClass.DIRECTORY,
            media_content_type=MediaType.PLAYLIST,
            title=title,
            can_play=False,
            can_expand=True,
            children=children,
            children_media_class=child_class,
        )

    def _root(self) -> BrowseMediaSource:
        entries = [
            e
            for e in self.hass.config_entries.async_entries(DOMAIN)
            if e.state is ConfigEntryState.LOADED
        ]
        if len(entries) == 1:  # one account: its devices at once, no folder of its own
            return self._account(entries[0], root=True)
        return self._node("", "BOTSLAB", [self._node(e.entry_id, e.title, []) for e in entries])

    def _account(self, entry: BotslabConfigEntry, *, root: bool = False) -> BrowseMediaSource:
        states = sorted(
            (
                s
                for s in (entry.runtime_data.device_coordinator.data or {}).values()
                if s.device.kind is not DeviceKind.OTHER
            ),
            key=lambda s: s.device.title,
        )
        children = [
            self._node(f"{entry.entry_id}/{s.device.serial}", s.device.title, []) for s in states
        ]
        if root:
            return self._node("", "BOTSLAB", children)
        return self._node(entry.entry_id, entry.title, children)

    async def _device(self, entry: BotslabConfigEntry, serial: str) -> BrowseMediaSource:
        state = (entry.runtime_data.device_coordinator.data or {}).get(serial)
        if state is None:
            raise _unresolvable("unknown_device")
        days: dict[date, set[str]] = {}
        for number in range(1, MAX_SCAN // PAGE + 1):
            page = await entry.runtime_data.client.messages(
                device=state.device, page=number, page_size=PAGE
            )
            for event in page.events:
                if event.serial == serial:  # the cloud may ignore the SDK's device filter
                    days.setdefault(dt_util.as_local(event.time).date(), set()).add(event.id)
            if len(page.events) < PAGE:
                break
        labels = await Labels.load(self.hass)
        children = [
            self._node(
                f"{entry.entry_id}/{serial}/{day.isoformat()}",
                f"{labels.date(day)} ({len(ids)})",
                [],
            )
            for day, ids in sorted(days.items(), reverse=True)
        ]
        return self._node(f"{entry.entry_id}/{serial}", state.device.title, children)

    async def _day(
        self, entry: BotslabConfigEntry, serial: str, day_text: str
    ) -> BrowseMediaSource:
        state = (entry.runtime_data.device_coordinator.data or {}).get(serial)
        try:
            day = date.fromisoformat(day_text) if _ISO_DAY.fullmatch(day_text) else None
        except ValueError:
            day = None
        today = dt_util.now().date()
        if day is None or not today - MAX_HISTORY <= day <= today + timedelta(days=1):
            raise _unresolvable("media_bad_day")
        if state is None:
            raise _unresolvable("unknown_device")
        # the list's `date` filter (SDK-named; its time zone is not seen): the local day and
        # the UTC days it covers, each read by page number; then the local day is kept
        start = dt_util.start_of_local_day(datetime(day.year, day.month, day.day))
        end = start + timedelta(days=1) - timedelta(seconds=1)
        wanted = {day, dt_util.as_utc(start).date(), dt_util.as_utc(end).date()}
        events: dict[str, Event] = {}
        for when in sorted(wanted):
            for number in range(1, MAX_DAY // PAGE + 1):
                page = await entry.runtime_data.client.messages(
                    device=state.device, page=number, page_size=PAGE, date=when.isoformat()
                )
                for event in page.events:
                    # filtered here too, in case the cloud ignores the SDK's filters
                    if event.serial == serial and dt_util.as_local(event.time).date() == day:
                        events.setdefault(event.id, event)
                if len(page.events) < PAGE:
                    break
        newest_first = sorted(events.values(), key=lambda e: e.ctime, reverse=True)
        labels = await Labels.load(self.hass)
        children = [self._event(entry, serial, day_text, e, labels) for e in newest_first[:MAX_DAY]]
        return self._node(
            f"{entry.entry_id}/{serial}/{day_text}",
            labels.date(day),
            children,
            child_class=MediaClass.VIDEO,
        )

    def _event(
        self, entry: BotslabConfigEntry, serial: str, day: str, event: Event, labels: Labels
    ) -> BrowseMediaSource:
        # short: the time and the kind (the device is the folder, the day the one above)
        title = f"{labels.time(dt_util.as_local(event.time))} {labels.kind(event.kind.value)}"
        clip = event.video is not None
        token = seal(media_key(self.hass), entry.entry_id, MediaRef.of(event))
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=f"{entry.entry_id}/{serial}/{day}/{token}",
            media_class=MediaClass.VIDEO if clip else MediaClass.IMAGE,
            media_content_type="application/x-mpegURL" if clip else "image/jpeg",
            title=title,
            can_play=True,
            can_expand=False,
            thumbnail=snapshot_url(entry.entry_id, token) if event.image else None,
        )
