"""In-memory records of the emulated SoftSugar platform: accounts, sessions, takeovers, mic stats."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from .softsugar_models import LiveScript
from .speech import Speech

# Session statuses ("Query Session Status", "Create a Live Broadcasting Room").
LIVE = 2
CLOSED = 5
EXCEPTION = 9
CREATING = 32
READY = 35
DROPPED = 50
INIT_FAILED = 99
SYSTEM_SHORTAGE = 97
CUSTOMER_SHORTAGE = 98

OPEN_STATUSES = frozenset({CREATING, READY, LIVE})
SPEAKING_STATUSES = frozenset({READY, LIVE})

# Takeover statuses (queue answer and "Live Streaming Status Callback Parameters").
TAKEOVER_PREPARING = 33
TAKEOVER_QUEUED = 34
TAKEOVER_STARTED = 36
TAKEOVER_FINISHED = 37
TAKEOVER_FAILED = 39

# The vendor formats times as "yyyy-MM-dd HH:mm:ss" without a zone; it runs on China Standard Time.
VENDOR_TZ = timezone(timedelta(hours=8), "CST")


def vendor_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, VENDOR_TZ).strftime("%Y-%m-%d %H:%M:%S")


class MicPeer(Protocol):
    """What the platform needs from an open microphone WebSocket."""

    async def send_json(self, message: dict[str, Any]) -> None: ...

    async def close(self, code: int = 1000) -> None: ...


@dataclass
class Account:
    """A customer of the vendor, known by its API token."""

    token: str
    callback_url: str = ""
    max_sessions: int = 20
    open_sessions: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "softsugar",
            "token": self.token,
            "callbackUrl": self.callback_url,
            "maxSessions": self.max_sessions,
            "openSessions": self.open_sessions,
        }


@dataclass(eq=False)
class Takeover:
    """One text or audio takeover, from acceptance to its end (finished, cancelled or failed)."""

    trace_id: str
    source: str  # "command", "queue" or "quick"
    text: str
    audio_url: str | None
    speech: Speech
    seconds: float
    accepted_at: float
    background_url: str | None = None
    error: str | None = None  # why playing it will fail with status 39
    queued_at: float | None = None
    started_at: float | None = None
    ended_at: float | None = None
    outcome: str | None = None  # "finished", "cancelled" or "failed"
    result: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def describe(self) -> dict[str, Any]:
        return {
            "commandTraceId": self.trace_id,
            "source": self.source,
            "kind": "audio" if self.audio_url and not self.text else "text",
            "text": self.text,
            "audio": self.audio_url,
            "seconds": self.seconds,
            "acceptedAt": self.accepted_at,
            "queuedAt": self.queued_at,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "outcome": self.outcome,
            "taskResult": self.result,
        }


@dataclass
class MicStats:
    """Audio received over the microphone WebSocket (16 kHz mono s16 = 32,000 bytes a second)."""

    frames: int = 0
    bytes: int = 0
    utterances: int = 0
    refused_frames: int = 0
    connections: int = 0

    def describe(self, open_sockets: int) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "bytes": self.bytes,
            "seconds": self.bytes / 32000,
            "utterances": self.utterances,
            "refusedFrames": self.refused_frames,
            "connections": self.connections,
            "openSockets": open_sockets,
        }


@dataclass(eq=False)
class Session:
    """One live broadcasting room instance."""

    session_id: str
    session_token: str
    account: Account
    script: LiveScript
    user_data: str | None
    rtc: dict[str, str]
    status: int
    created_at: float
    ready_at: float | None = None
    ended_at: float | None = None
    task_result: str | None = None
    heartbeat_count: int = 0
    heartbeat_times: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    last_beat: float = 0.0
    max_gap: float = 0.0
    queue: list[Takeover] = field(default_factory=list)  # queue[0] is playing (position 1)
    preparing: dict[str, Takeover] = field(default_factory=dict)
    played: deque[Takeover] = field(default_factory=lambda: deque(maxlen=200))
    player: asyncio.Task[None] | None = None
    ready_timer: asyncio.TimerHandle | None = None
    background_tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    script_offset: float = 0.0
    script_resumed_at: float | None = None
    script_speech: tuple[tuple[float, float], Speech] | None = None
    mic: MicStats = field(default_factory=MicStats)
    mic_peers: set[MicPeer] = field(default_factory=set)
    callbacks: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=100))

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_speaking(self) -> bool:
        return self.status in SPEAKING_STATUSES

    @property
    def playing(self) -> Takeover | None:
        head = self.queue[0] if self.queue else None
        return head if head is not None and head.started_at is not None and head.outcome is None else None

    def record_heartbeat(self, now: float) -> None:
        if self.heartbeat_times:
            self.max_gap = max(self.max_gap, now - self.heartbeat_times[-1])
        self.heartbeat_times.append(now)
        self.heartbeat_count += 1
        self.last_beat = now

    def pause_script(self, now: float) -> None:
        """The script stops while a takeover plays and resumes where it left off."""
        if self.script_resumed_at is not None:
            self.script_offset += now - self.script_resumed_at
            self.script_resumed_at = None

    def resume_script(self, now: float) -> None:
        if self.script_resumed_at is None:
            self.script_resumed_at = now

    def script_elapsed(self, now: float) -> float:
        running = now - self.script_resumed_at if self.script_resumed_at is not None else 0.0
        return self.script_offset + running

    def rtc_fields(self) -> dict[str, str]:
        """RTC fields are only given while the stream exists (statuses 35 and 2)."""
        return dict(self.rtc) if self.is_speaking else {}

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep a reference to a background task until it ends, so it can be cancelled on close."""
        self.background_tasks.add(task)
        task.add_done_callback(self.background_tasks.discard)
