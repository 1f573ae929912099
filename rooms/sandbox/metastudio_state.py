"""In-memory records of the emulated MetaStudio platform (accounts, rooms, jobs, the inserts a job
plays, its RTMP outputs and layers) and its error answers."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .metastudio_models import (
    LiveEventCallBackConfig,
    LiveExitConfig,
    LiveRoomInteractionRuleInfo,
    LiveVideoScriptInfo,
    PlayPolicy,
    SmartLayerConfig,
    SmartLiveRoom,
)
from .speech import Speech
from .web import Response

# Job states (the notes' "Job").
WAITING = "WAITING"
PROCESSING = "PROCESSING"
SUCCEED = "SUCCEED"
FAILED = "FAILED"
BLOCKED = "BLOCKED"
RUNNING = frozenset({WAITING, PROCESSING})

# Error codes ("Errors" of the notes, and the vendor's error code table).
UNAUTHORIZED = "MSS.00000001"
INVALID_BODY = "MSS.00000002"
INVALID_PARAMETER = "MSS.00000003"
INTERNAL_ERROR = "MSS.00000004"
API_NOT_FOUND = "MSS.00010003"
METHOD_NOT_ALLOWED = "MSS.00010004"
TENANT_MISMATCH = "MSS.00010009"

# RTMP link states (RTMP_STREAM_STATE_CHANGE).
CONNECTING = "CONNECTING"
CONNECTED = "CONNECTED"
DISCONNECTED = "DISCONNECTED"
RECONNECTING = "RECONNECTING"
END = "END"

# Where an insert came from (InsertCommandItem.source).
EXTERNAL = "EXTERNAL"
AUTO = "AUTO"


class MetaStudioError(Exception):
    """A failure answered the vendor's way: an HTTP error status with ``{"error_code", "error_msg"}``."""

    def __init__(self, status: int, error_code: str, error_msg: str) -> None:
        super().__init__(error_msg)
        self.status = status
        self.error_code = error_code
        self.error_msg = error_msg

    def response(self) -> Response:
        return Response({"error_code": self.error_code, "error_msg": self.error_msg}, status=self.status)

    @classmethod
    def from_status(cls, status: int, message: str) -> MetaStudioError:
        """A plain HTTP failure (unknown path, fault switch) in the vendor's shape."""
        codes = {401: UNAUTHORIZED, 404: API_NOT_FOUND, 405: METHOD_NOT_ALLOWED}
        code = codes.get(status, INTERNAL_ERROR if status >= 500 else INVALID_PARAMETER)
        return cls(status, code, message)


def bad_request(message: str) -> MetaStudioError:
    return MetaStudioError(400, INVALID_PARAMETER, message)


def not_found(message: str) -> MetaStudioError:
    return MetaStudioError(404, INVALID_PARAMETER, message)


def unauthorized(message: str) -> MetaStudioError:
    return MetaStudioError(401, UNAUTHORIZED, f"Unauthorized: {message}")


def rfc3339(timestamp: float | None) -> str | None:
    """The vendor's times: RFC 3339 in UTC, to the second ("2021-01-10T08:43:17Z")."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str, name: str) -> float:
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise bad_request(f"invalid parameter {name}: not an RFC 3339 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass
class Account:
    """A customer: an AK/SK pair, the project it belongs to and optionally an IAM token."""

    ak: str
    sk: str
    project_id: str
    token: str | None = None

    def describe(self) -> dict[str, Any]:
        return {"kind": "metastudio", "ak": self.ak, "project_id": self.project_id, "token": self.token}


@dataclass(eq=False)
class Room:
    """A smart live room: the body exactly as sent, and the same body validated."""

    room_id: str
    project_id: str
    body: dict[str, Any]
    spec: SmartLiveRoom
    created_at: float
    updated_at: float
    last_job: Job | None = None

    def view_mode(self) -> str:
        # "用户无需填写,通过video_config中分辨率判断"; VERTICAL by default.
        video = self.spec.video_config
        if video is not None:
            return "LANDSCAPE" if video.width > video.height else "VERTICAL"
        return self.spec.view_mode or "VERTICAL"

    def describe(self) -> dict[str, Any]:
        """ShowSmartLiveRoomResponse: what was sent, plus the fields the platform owns."""
        return {
            **self.body,
            "room_id": self.room_id,
            "view_mode": self.view_mode(),
            "room_state": "ENABLE",
            "create_time": rfc3339(self.created_at),
            "update_time": rfc3339(self.updated_at),
            "script_version": str(int(self.updated_at * 1000)),
        }

    def summary(self) -> dict[str, Any]:
        """SmartLiveRoomBaseInfo, one item of the room list."""
        models = [
            {"model_asset_id": scene.model_asset_id}
            for scene in self.spec.scene_scripts or []
            if scene.model_asset_id
        ]
        job = self.last_job
        return {
            "room_id": self.room_id,
            "project_id": self.project_id,
            "room_name": self.spec.room_name,
            "room_type": self.spec.room_type,
            "room_state": "ENABLE",
            "view_mode": self.view_mode(),
            "room_description": self.spec.room_description,
            "model_infos": models,
            "create_time": rfc3339(self.created_at),
            "update_time": rfc3339(self.updated_at),
            "last_job_start_time": rfc3339(job.started_at) if job else None,
            "last_job_end_time": rfc3339(job.ended_at) if job else None,
            "last_job_status": job.state if job else None,
            "priv_data": self.spec.priv_data,
        }


@dataclass(eq=False)
class Paragraph:
    """One shoot script of one scene, as a round plays it."""

    scene_index: int
    scene: LiveVideoScriptInfo
    sequence_no: int | None
    title: str
    text: str
    audio_url: str | None
    product: dict[str, Any] | None = None

    def playing_item(self) -> dict[str, Any]:
        """LivePlayingShootScriptItem."""
        return {"sequence_no": self.sequence_no, "title": self.title, "text": self.text}


@dataclass(eq=False)
class Insert:
    """An inserted reply (INSERT_PLAY_SCRIPT / INSERT_PLAY_AUDIO, or a rule's automatic reply)."""

    command_id: str
    command: str
    params: dict[str, Any]
    source: str
    play_type: str
    text: str
    audio_url: str | None
    speech: Speech
    accepted_at: float
    rule_index: str | None = None
    layers: list[SmartLayerConfig] = field(default_factory=list)
    segment: int = 0  # the sentence to speak next
    offset: float = 0.0  # seconds of that sentence already spoken before a cut
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None  # "played" or "cleaned up"

    def item(self) -> dict[str, Any]:
        """InsertCommandItem."""
        return {
            "command_id": self.command_id,
            "command": self.command,
            "params": self.params,
            "source": self.source,
        }

    def describe(self) -> dict[str, Any]:
        return {
            **self.item(),
            "play_type": self.play_type,
            "text": self.text,
            "audio_url": self.audio_url,
            "seconds": self.speech.total,
            "rule_index": self.rule_index,
            "accepted_at": self.accepted_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "outcome": self.outcome,
        }


@dataclass
class Output:
    """One RTMP push of the job and the state of its link."""

    output_url: str
    stream_key: str
    state: str = CONNECTING
    changed_at: float = 0.0
    history: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "output_url": self.output_url,
            "stream_key": self.stream_key,
            "state": self.state,
            "changed_at": self.changed_at,
            "history": list(self.history),
        }


@dataclass
class ShownLayer:
    layer: SmartLayerConfig
    source: str  # "SHOW_LAYER", or "rule:<rule_index>"
    shown_at: float
    until: float | None  # None: until something replaces it

    def describe(self) -> dict[str, Any]:
        return {
            **self.layer.model_dump(exclude_none=True),
            "source": self.source,
            "shown_at": self.shown_at,
            "until": self.until,
        }


@dataclass
class RuleState:
    """What one interaction rule remembers during a job: when it fired, its reply turn, sums."""

    fired_at: list[float] = field(default_factory=list)
    next_reply: int = 0
    count: int = 0
    sums: dict[int, float] = field(default_factory=dict)


@dataclass
class Speaking:
    """The sentence on air: who says it, since when, for how long."""

    subtitle: str
    started_at: float
    seconds: float
    kind: str  # "paragraph" or "insert"
    command_id: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "subtitle": self.subtitle,
            "kind": self.kind,
            "command_id": self.command_id,
            "at": self.started_at,
        }


@dataclass(eq=False)
class Job:
    """One live ("smart live job") of a room, with the room as the job sees it."""

    job_id: str
    room: Room
    project_id: str
    room_name: str
    config: dict[str, Any]  # the room body merged with the start body: GET_LIVE_JOB_CONFIG_INFO
    scene_scripts: list[LiveVideoScriptInfo]
    rules: list[LiveRoomInteractionRuleInfo]
    policy: PlayPolicy
    play_type: str
    ignore_current_sentence: bool
    callback: LiveEventCallBackConfig | None
    exit_config: LiveExitConfig
    rtc: dict[str, Any]
    report_secret: str
    report_url: str
    state: str
    created_at: float
    updated_at: float
    started_at: float | None = None
    ended_at: float | None = None
    end_reason: str | None = None
    error_info: dict[str, str] | None = None
    block_reason: str | None = None
    outputs: list[Output] = field(default_factory=list)
    retired_outputs: list[Output] = field(default_factory=list)
    # playback
    round: int = 0
    paragraphs: list[Paragraph] = field(default_factory=list)
    cursor: int = 0
    segment: int = 0
    offset: float = 0.0
    switched: bool = False  # SHOOT_SCRIPT_SWITCH sent for paragraphs[cursor]
    script_done: bool = False
    pending_scripts: list[LiveVideoScriptInfo] | None = None  # is_rewrite_delay: the next round's
    inserts: list[Insert] = field(default_factory=list)
    current_insert: Insert | None = None
    played: deque[Insert] = field(default_factory=lambda: deque(maxlen=200))
    speaking: Speaking | None = None
    aired: deque[Speaking] = field(default_factory=lambda: deque(maxlen=200))  # the last sentences on air
    layers: list[ShownLayer] = field(default_factory=list)
    exit_pending: str | None = None  # auto_stop_mode waiting for its boundary
    # live events
    reports: int = 0
    events: int = 0
    events_by_type: dict[int, int] = field(default_factory=dict)
    rule_state: dict[int, RuleState] = field(default_factory=dict)
    rule_hits: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    callbacks: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))
    # machinery
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    cut: asyncio.Event = field(default_factory=asyncio.Event)
    player: asyncio.Task[None] | None = None
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state in RUNNING

    @property
    def paragraph(self) -> Paragraph | None:
        if self.script_done or not 0 <= self.cursor < len(self.paragraphs):
            return None
        return self.paragraphs[self.cursor]

    def duration(self, now: float) -> float:
        if self.started_at is None:
            return 0.0
        return round((self.ended_at or now) - self.started_at, 3)

    def cancel_timer(self, name: str) -> None:
        timer = self.timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def cancel_timers(self) -> None:
        for name in list(self.timers):
            self.cancel_timer(name)

    def describe(self, now: float) -> dict[str, Any]:
        """SmartLiveJob / ShowSmartLiveResponse."""
        duration = self.duration(now)
        return {
            "job_id": self.job_id,
            "room_id": self.room.room_id,
            "room_name": self.room_name,
            "state": self.state,
            "duration": duration,
            "start_time": rfc3339(self.started_at),
            "end_time": rfc3339(self.ended_at),
            "error_info": self.error_info,
            "create_time": rfc3339(self.created_at),
            "lastupdate_time": rfc3339(self.updated_at),
            "rtc_room_info": self.rtc,
            "live_event_report_url": self.report_url,
            "live_event_callback_config": (
                self.callback.model_dump(exclude_none=True) if self.callback else None
            ),
            "stream_duration": duration if self.outputs or self.retired_outputs else 0.0,
            "block_reason": self.block_reason,
            "cover_url": None,
        }
