"""The one interface every vendor driver implements, and the shapes it speaks in.

Views, consumers and tasks talk to a `Driver`, never to httpx or MQTT. A driver is
picked by the platform account's kind (see `rooms.platforms.driver_for`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import httpx

if TYPE_CHECKING:
    from rooms.models import LiveSession, PlatformAccount, Room


class LiveState(enum.StrEnum):
    """One state model for every vendor; the vendor's own code is kept beside it."""

    CREATING = "creating"
    READY = "ready"
    LIVE = "live"
    ENDED = "ended"
    DROPPED = "dropped"
    FAILED = "failed"
    NO_CAPACITY = "no_capacity"

    @property
    def is_open(self) -> bool:
        """True while the vendor may still be billing for the session."""
        return self in (LiveState.CREATING, LiveState.READY, LiveState.LIVE)


class Capability(enum.StrEnum):
    """What a driver can do; the console shows a control only when its capability is here."""

    SEPARATE_START = "separate_start"  # open_session and start are two calls
    HEARTBEAT = "heartbeat"  # LiveDeck sends heartbeats; the vendor closes sessions whose heartbeat stops
    VENDOR_HEARTBEAT = "vendor_heartbeat"  # the vendor sends heartbeats; LiveDeck answers each (mqtt bridge)
    RTC = "rtc"  # the session streams over RTC and reports its app/channel/uid/token
    AUDIENCE_TOKEN = "audience_token"  # an RTC token for viewers can be requested
    RUNNING_LIST = "running_list"  # open sessions can be listed (orphan detection)
    HISTORY = "history"  # closed sessions can be listed
    PREVIEW = "preview"  # a program monitor of what the avatar does (sandbox only)
    TAKEOVER_INTERRUPT = "takeover_interrupt"  # play a takeover now, cutting off what plays
    TAKEOVER_QUEUE = "takeover_queue"  # queue a takeover at a position
    SSML = "ssml"  # a takeover's text may be SSML
    TAKEOVER_OVERLAYS = "takeover_overlays"  # a takeover may bring its own foreground/background
    REORDER = "reorder"  # move a queued takeover (exact when the vendor reorders)
    CANCEL_ONE = "cancel_one"  # cancel chosen takeovers, not only all of them
    QUICK_REPLY = "quick_reply"  # fire one of the script's quick replies (interactive rooms)
    QA = "qa"  # ask the vendor's Q&A library
    MIC = "mic"  # push-to-talk: the host's voice drives the avatar
    PLAY_ADDRESSES = "play_addresses"  # the vendor reports where to pull the stream (rtmp, rtsp, flv)
    BACKGROUND = "background"  # change the background layer during a live
    ANCHOR_SWITCH = "anchor_switch"  # switch the avatar to another anchor scene during a live
    PUSH_STREAMS = "push_streams"  # push the stream to third-party RTMP URLs, on and off
    ANCHOR_LAYOUT = "anchor_layout"  # move, resize and fade the avatar during a live
    CATALOG = "catalog"  # voices, anchors and scenes, voice-change voices, public materials
    SCRIPT_REWRITE = "script_rewrite"  # replace the paragraphs not yet played, during a live
    RULES_REWRITE = "rules_rewrite"  # replace the interaction rules, during a live
    OUTPUT_REFRESH = "output_refresh"  # change the RTMP output, during a live
    SHOW_LAYER = "show_layer"  # show a guide layer (image, video, text) for a while
    NOW_PLAYING = "now_playing"  # the vendor reports which paragraph of the script plays
    EXIT_CONFIG = "exit_config"  # when the vendor stops the live by itself
    EVENT_REPORT = "event_report"  # audience events are reported to the vendor, which matches the rules
    VENDOR_ROOMS = "vendor_rooms"  # the vendor keeps the rooms LiveDeck creates: list, show, delete


@dataclass(frozen=True)
class RtcInfo:
    app_id: str
    channel_id: str
    uid: str
    token: str


@dataclass(frozen=True)
class LiveStatus:
    """The state a vendor reports for one session, mapped onto `LiveState`."""

    state: LiveState
    vendor_code: str
    reason: str = ""
    rtc: RtcInfo | None = None
    session_token: str = ""


@dataclass(frozen=True)
class SessionInfo:
    """What opening a session returns: the vendor's ids and the first status, and what the
    driver needs kept for later calls (stored on the session's `vendor_data`)."""

    vendor_session_id: str
    session_token: str
    status: LiveStatus
    vendor_data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunningSession:
    vendor_session_id: str
    status: LiveStatus


@dataclass(frozen=True)
class HistoryEntry:
    vendor_session_id: str
    status: LiveStatus
    started: str
    ended: str


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class Preview:
    """What the avatar is doing now, as a program monitor shows it."""

    state: str
    anchor: str = ""
    background: str = ""
    background_url: str = ""
    subtitle: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class TakeoverState(enum.StrEnum):
    """Where a takeover is, for every vendor; the vendor's own code is kept beside it."""

    PENDING = "pending"  # stored, not yet sent
    SENT = "sent"  # the vendor has it, no answer yet
    QUEUEING = "queueing"  # the vendor is preparing it (SoftSugar 33)
    QUEUED = "queued"  # waiting its turn (34)
    PLAYING = "playing"  # 36, or mic socket 19
    DONE = "done"  # 37, or mic socket 18
    FAILED = "failed"  # 39, or refused
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """In the vendor's queue or playing: it can still be reordered or cancelled."""
        return self in (
            TakeoverState.SENT,
            TakeoverState.QUEUEING,
            TakeoverState.QUEUED,
            TakeoverState.PLAYING,
        )


@dataclass(frozen=True)
class Overlay:
    """An image shown over (foreground) or behind (background) the avatar during a takeover."""

    url: str
    rect: tuple[int, int, int, int] = (0, 0, 1080, 1920)
    start_ms: int = 0
    duration_ms: int = -1


@dataclass(frozen=True)
class TakeoverRequest:
    """What the avatar should say: text (or SSML) or an audio file, with optional overlays."""

    text: str = ""
    ssml: bool = False
    audio_url: str = ""
    foregrounds: tuple[Overlay, ...] = ()
    background: Overlay | None = None


@dataclass(frozen=True)
class Receipt:
    """The vendor's answer to a takeover: its trace id and where it is now."""

    trace_id: str
    state: TakeoverState
    vendor_code: str = ""
    message: str = ""


@dataclass(frozen=True)
class AnchorLayout:
    """Where the avatar is drawn on the video, and how opaque (1.0) it is."""

    x: int
    y: int
    width: int
    height: int
    alpha: float = 1.0


@dataclass(frozen=True)
class Paragraph:
    """One paragraph of a scene, as the avatar speaks it in order (MetaStudio: a shoot script)."""

    sequence_no: int
    title: str
    text: str


@dataclass(frozen=True)
class NowPlaying:
    """This round of the script as the vendor plays it: its paragraphs in order, and the index
    (in `paragraphs`) of the one playing, None when it is not known."""

    scene: str
    paragraphs: tuple[Paragraph, ...]
    playing: int | None = None


@dataclass(frozen=True)
class ShownLayer:
    """An image, video or text shown over the live for `seconds` (0: as long as the vendor
    decides). `kind` is IMAGE, VIDEO or TEXT; the place and size are on the vendor's canvas."""

    kind: str
    x: int
    y: int
    width: int
    height: int
    seconds: int = 0
    url: str = ""
    video_cover_url: str = ""
    text: str = ""
    font_name: str = ""
    font_size: int = 0
    font_color: str = ""
    layer_index: int = 100


@dataclass(frozen=True)
class AudienceEvent:
    """Something the audience did, told to a vendor that matches interaction rules itself.
    `kind` is comment, enter, like, gift or viewers; `timestamp_ms` 0 means now."""

    kind: str
    user_id: str = ""
    name: str = ""
    level: int = 0
    text: str = ""
    gift_name: str = ""
    gift_num: int = 0
    gift_value: float = 0.0
    viewers: int = 0
    timestamp_ms: int = 0


@dataclass(frozen=True)
class VendorRoom:
    """A room as the vendor keeps it. Lists fill the summary; a room shown in full (or as a
    live job sees it) also brings its paragraphs, rule count and outputs."""

    vendor_room_id: str
    name: str
    state: str = ""
    last_job_state: str = ""
    livedeck_room_id: int | None = None
    paragraphs: tuple[Paragraph, ...] = ()
    rules: int = 0
    output_urls: tuple[str, ...] = ()
    play_type: str = ""


@dataclass(frozen=True)
class CatalogVoice:
    speaker: str
    name: str
    custom: bool
    tts_source: int = 0
    language: str = ""
    gender: str = ""
    sample_url: str = ""
    cover_url: str = ""


@dataclass(frozen=True)
class CatalogScene:
    code: str
    name: str
    proportion: str = ""
    posture: str = ""
    duration_seconds: int | None = None
    example_url: str = ""
    video_cover_url: str = ""
    cover_url: str = ""


@dataclass(frozen=True)
class CatalogAnchor:
    code: str
    name: str
    custom: bool
    vendor_id: int | None = None
    description: str = ""
    cover_url: str = ""
    scenes: tuple[CatalogScene, ...] = ()


@dataclass(frozen=True)
class CatalogVoiceChange:
    speaker: str
    name: str
    sample_url: str = ""


@dataclass(frozen=True)
class CatalogCategory:
    vendor_id: int
    name: str
    code: str = ""  # what the platform's material query asks for (Guiji 3.14)


@dataclass(frozen=True)
class CatalogMaterial:
    vendor_id: int
    name: str
    kind: str = ""
    url: str = ""
    cover_url: str = ""


@dataclass(frozen=True)
class MicEndpoint:
    """Where the host's microphone audio goes: a WebSocket URL and the headers to open it with."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)


class PlatformError(Exception):
    """A vendor call that failed. Transient errors are retried by tasks; permanent ones are
    shown to the host as they are."""

    def __init__(self, message: str, *, permanent: bool = False, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code

    def __str__(self) -> str:
        if self.code and self.code not in self.message:
            return f"{self.message} ({self.code})"
        return self.message


class Driver:
    """A vendor platform, as LiveDeck uses it. One instance per account and event loop.

    Methods are coroutines so that one worker can keep thousands of sessions alive
    concurrently. They take model instances whose related rows are already loaded.
    """

    kind: ClassVar[str]
    base_capabilities: ClassVar[frozenset[Capability]] = frozenset()
    # Capabilities the driver makes up with what the vendor has (e.g. a reorder done as delete and
    # insert); the console says so next to the control.
    emulated: ClassVar[frozenset[Capability]] = frozenset()
    # Whether `queue` lists the takeover playing now: when not (MetaStudio's inserted commands), a
    # takeover that leaves the queue has started, not ended.
    queue_holds_playing: ClassVar[bool] = True

    def __init__(self, account: PlatformAccount, client: httpx.AsyncClient) -> None:
        self.account = account
        self.client = client

    async def send(self, vendor: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One HTTP request to the vendor; not reaching it is a PlatformError in words (a timeout
        or a network error is worth retrying, a base URL that is no web address is not)."""
        try:
            return await self.client.request(method, url, **kwargs)
        except httpx.TimeoutException:
            raise PlatformError(f"{vendor} did not answer in time", code="timeout") from None
        except httpx.UnsupportedProtocol:
            raise PlatformError(
                f"The account's base URL is not a web address: {self.account.base_url}", permanent=True
            ) from None
        except httpx.RequestError as exc:
            raise PlatformError(f"Could not reach {vendor} ({type(exc).__name__})", code="network") from None

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The vendor's capabilities, plus the program monitor when the account is a sandbox
        and the driver can read the sandbox's monitor."""
        if self.account.sandbox and type(self).preview is not Driver.preview:
            return self.base_capabilities | {Capability.PREVIEW}
        return self.base_capabilities

    async def open_session(self, room: Room, session: LiveSession) -> SessionInfo:
        """Create the vendor's live instance for `room`; it may come back CREATING."""
        raise NotImplementedError

    async def start(self, session: LiveSession) -> None:
        """Begin streaming, where the vendor separates it from creation."""
        raise NotImplementedError

    async def heartbeat(self, session: LiveSession) -> LiveStatus | None:
        """Keep the session alive. Returns the state when the vendor's answer carries one,
        None when it only acknowledges; raises PlatformError when the vendor refuses."""
        raise NotImplementedError

    async def status(self, session: LiveSession) -> LiveStatus:
        """Ask the vendor for the session's state."""
        raise NotImplementedError

    async def close(self, session: LiveSession) -> None:
        """End the session and release the vendor's resources."""
        raise NotImplementedError

    async def running(self) -> list[RunningSession]:
        """Every session the vendor still has open for this account."""
        raise NotImplementedError

    async def history(self, *, page: int = 1, page_size: int = 10) -> HistoryPage:
        """Closed sessions, newest first."""
        raise NotImplementedError

    async def audience_token(self, session: LiveSession) -> str:
        """An RTC token for a viewer of the session's channel."""
        raise NotImplementedError

    async def preview(self, session: LiveSession) -> Preview:
        """What the avatar is showing and saying now (sandbox only)."""
        raise NotImplementedError

    async def takeover(
        self,
        session: LiveSession,
        item: TakeoverRequest,
        *,
        position: int | None = None,
        interrupt: bool = False,
    ) -> Receipt:
        """Make the avatar say `item`: now (`interrupt`), or queued at `position` (end if None)."""
        raise NotImplementedError

    async def reorder(self, session: LiveSession, trace_id: str, position: int) -> None:
        """Move a queued takeover to `position` (1 is the one playing)."""
        raise NotImplementedError

    async def cancel(self, session: LiveSession, trace_ids: list[str] | None) -> None:
        """Cancel these takeovers, or all of them (queued and playing) when None."""
        raise NotImplementedError

    async def queue(self, session: LiveSession) -> list[str]:
        """The vendor's queue of takeover trace ids, the playing one first."""
        raise NotImplementedError

    async def quick_reply(self, session: LiveSession, index: int) -> Receipt:
        """Fire quick reply `index` of the script (-1: one at random)."""
        raise NotImplementedError

    async def ask(self, session: LiveSession, question: str, *, library: str) -> str | None:
        """The Q&A library's answer to `question`, or None when nothing matches."""
        raise NotImplementedError

    async def set_background(self, session: LiveSession, url: str) -> None:
        """Show the image at `url` as the background layer."""
        raise NotImplementedError

    async def switch_anchor(self, session: LiveSession, scene_code: str) -> None:
        """Show the anchor scene `scene_code` instead of the current one."""
        raise NotImplementedError

    async def push_streams(self, session: LiveSession, urls: list[str], *, on: bool) -> None:
        """Start (`on`) or stop pushing the stream to these RTMP URLs."""
        raise NotImplementedError

    async def anchor_layout(self, session: LiveSession, layout: AnchorLayout) -> None:
        """Move, resize or fade the avatar."""
        raise NotImplementedError

    async def catalog_voices(self) -> list[CatalogVoice]:
        """Every TTS voice the account may use: the platform's and its own."""
        raise NotImplementedError

    async def catalog_anchors(self) -> list[CatalogAnchor]:
        """Every anchor the account may use, with its scenes: the platform's and its own."""
        raise NotImplementedError

    async def catalog_voice_changes(self) -> list[CatalogVoiceChange]:
        """The voice-change voices."""
        raise NotImplementedError

    async def voice_change_trial(self, speaker: str, text: str) -> str:
        """The URL of `text` spoken in voice-change voice `speaker`, for a producer to hear."""
        raise NotImplementedError

    async def catalog_categories(self) -> list[CatalogCategory]:
        """The public material categories."""
        raise NotImplementedError

    async def catalog_materials(self, category: CatalogCategory) -> list[CatalogMaterial]:
        """The public materials of one category."""
        raise NotImplementedError

    def mic_endpoint(self, session: LiveSession) -> MicEndpoint | None:
        """Where push-to-talk audio goes for this session, or None when the vendor has no mic."""
        return None

    async def rewrite_script(self, session: LiveSession, paragraphs: list[Paragraph]) -> None:
        """Replace the paragraphs the avatar has not played yet."""
        raise NotImplementedError

    async def rewrite_rules(self, session: LiveSession, room: Room) -> None:
        """Replace the live's interaction rules with the room's."""
        raise NotImplementedError

    async def refresh_output(self, session: LiveSession, url: str, stream_key: str) -> None:
        """Push the stream to this RTMP URL and stream key from now on."""
        raise NotImplementedError

    async def show_layer(self, session: LiveSession, layer: ShownLayer) -> None:
        """Show an image, video or text over the live for a while."""
        raise NotImplementedError

    async def now_playing(self, session: LiveSession) -> NowPlaying:
        """The paragraphs of this round, and which one plays."""
        raise NotImplementedError

    async def job_config(self, session: LiveSession) -> VendorRoom:
        """The room as the live sees it."""
        raise NotImplementedError

    async def reset_exit(
        self,
        session: LiveSession,
        *,
        max_live_duration: int,
        auto_stop_mode: str,
        max_exception_waiting_duration: int,
    ) -> None:
        """Change when the vendor ends the live by itself (hours live, how, minutes of trouble)."""
        raise NotImplementedError

    async def report_events(self, session: LiveSession, events: list[AudienceEvent]) -> None:
        """Tell the vendor what the audience did, for the rules it matches itself."""
        raise NotImplementedError

    async def list_rooms(self) -> list[VendorRoom]:
        """Every room the vendor keeps for this account."""
        raise NotImplementedError

    async def show_room(self, vendor_room_id: str) -> VendorRoom:
        """One room as the vendor keeps it."""
        raise NotImplementedError

    async def delete_room(self, vendor_room_id: str) -> None:
        """Delete a room the vendor keeps."""
        raise NotImplementedError

    @classmethod
    def parse_callback(cls, body: bytes) -> CallbackEvent:
        """Turn a vendor callback body into a typed event; raises PlatformError if malformed."""
        raise NotImplementedError


@dataclass(frozen=True)
class CallbackEvent:
    """A vendor callback about one session, already validated."""

    vendor_session_id: str
    status: LiveStatus | None
    user_data: str = ""
    command_trace_id: str = ""
    command_code: str = ""
    detail: str = ""
    # "status" (a session or takeover event), or what else the vendor reports ("paragraph" when
    # the avatar moves to another paragraph, "rtmp" when an RTMP output changes), with its data.
    kind: str = "status"
    data: dict[str, str] = field(default_factory=dict)
