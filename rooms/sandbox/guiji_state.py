"""In-memory records of the emulated Guiji platform (accounts, tokens, live rooms, materials,
sessions) and its error codes."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .guiji_catalog import customized_anchors, customized_voices
from .guiji_playlist import Playlist
from .speech import Speech, audio_fragment, audio_speech, text_speech
from .web import Response

# The vendor writes times as "yyyy-MM-dd HH:mm:ss" without a zone; it runs on China Standard Time.
VENDOR_TZ = timezone(timedelta(hours=8), "CST")
TOPIC_PUB = "live-proxy-0"

# Session states (sandbox names; the vendor only shows them through its messages and 3.15).
CREATED = "created"  # 3.17 answered, no CreateNewSession yet
MAKING = "making"  # CreateNewSession accepted, "make sess complete!" not sent yet
MADE = "made"  # made: heartbeats run; Show and StreamPlay not sent yet
STREAMING = "streaming"  # StreamPlay sent, the playlist plays
DESTROYED = "destroyed"  # gone, for whatever reason (``ended_by`` and ``cause`` say which)

ALIVE = frozenset({CREATED, MAKING, MADE, STREAMING})
LIVE = frozenset({MADE, STREAMING})

# Who ended a session.
BY_CLIENT = "client"  # DestroySession
BY_SERVER = "server"  # SessionState Destroy: heartbeat timeout, kill
BY_EXPIRY = "expiry"  # not made within 3.17's expirationTime
BY_RESET = "reset"  # POST /_sandbox/reset

# 2.3 Public Error Codes
SUCCESS = 200
FAILED = 500
TOKEN_EMPTY = 100501
TOKEN_EXPIRED = 100502
BAD_SECRET = 100503
KEY_NOT_YET = 100504
KEY_EXPIRED = 100505


class GuijiError(Exception):
    """A failure answered in Guiji's envelope: HTTP 200 (or ``status``) with a non-200 ``code``."""

    def __init__(self, code: int, msg: str, status: int = 200) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status

    def response(self) -> Response:
        return Response(
            {"code": self.code, "msg": self.msg, "success": False, "data": None}, status=self.status
        )


def vendor_time(timestamp: float, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return datetime.fromtimestamp(timestamp, VENDOR_TZ).strftime(fmt)


def parse_key_time(value: float | str) -> float:
    """Unix seconds, or a vendor time ("2023-07-01 18:01:14", China time unless it names a zone)."""
    if isinstance(value, int | float):
        return float(value)
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VENDOR_TZ)
    return moment.timestamp()


def play_addresses(session_id: str, flv_key: str) -> dict[str, dict[str, str]]:
    """Where the session's stream can be pulled (never served: the sandbox renders nothing)."""
    path = f"guiji/{session_id}"
    return {
        "rtmp": {"lan": f"rtmp://127.0.0.1:1935/{path}", "wan": f"rtmp://live.livedeck.local:1935/{path}"},
        "rtsp": {"lan": f"rtsp://127.0.0.1:554/{path}", "wan": f"rtsp://live.livedeck.local:554/{path}"},
        flv_key: {
            "lan": f"http://127.0.0.1:8080/{path}.flv",
            "wan": f"http://live.livedeck.local:8080/{path}.flv",
        },
    }


@dataclass(eq=False)
class Account:
    """A customer: appId/appSecret for 3.1, mqttUser for the topics, a key valid between two times."""

    app_id: str
    app_secret: str
    number: int
    mqtt_user: str
    mqtt_password: str
    key_start: float
    key_end: float
    company: str = "LiveDeck sandbox customer"
    voices: list[dict[str, Any]] = field(default_factory=list)
    anchors: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.voices = customized_voices(self.number)
        self.anchors = customized_anchors(self.number)

    def key_problem(self, now: float) -> tuple[int, str] | None:
        """2.3's 100504/100505 when the secret key is outside its validity."""
        if now < self.key_start:
            return KEY_NOT_YET, "The user's secret key has not yet taken effect"
        if now >= self.key_end:
            return KEY_EXPIRED, "The user's secret key has expired"
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "guiji",
            "appId": self.app_id,
            "appSecret": self.app_secret,
            "mqttUser": self.mqtt_user,
            "mqttPassword": self.mqtt_password,
            "keyStart": vendor_time(self.key_start),
            "keyEnd": vendor_time(self.key_end),
        }


@dataclass
class Token:
    value: str
    account: Account
    expires_at: float


@dataclass(eq=False)
class LiveRoom:
    id: int
    account: Account
    cutin: bool
    name: str
    robots: list[dict[str, Any]]
    created_at: float

    def vo(self) -> dict[str, Any]:
        """LiveInfoVO (3.4)."""
        return {"id": self.id, "cutinFlag": self.cutin, "liveName": self.name, "robotList": self.robots}

    def scene_codes(self) -> set[str]:
        return {scene["sceneCode"] for robot in self.robots for scene in robot.get("sceneList", [])}


@dataclass(eq=False)
class Material:
    """A script line uploaded with 3.6: TEXT (spoken by TTS) or AUDIO (a recording)."""

    id: int
    account: Account
    live_id: int
    kind: str
    description: str | None
    text: str | None
    url: str | None
    tts: dict[str, Any]
    created_at: float

    def duration_ms(self, default_audio_seconds: float) -> int:
        """3.7's duration: 0 for text, the recording's length in ms for audio."""
        if self.kind == "TEXT":
            return 0
        return round(audio_fragment(self.url or "").get("duration", default_audio_seconds) * 1000)

    def speech(self, *, per_char: float, minimum: float, default_audio_seconds: float) -> Speech:
        if self.kind == "TEXT":
            return text_speech(self.text or "", per_char=per_char, speed_ratio=1.0, minimum=minimum)
        return audio_speech([self.url or ""], default_seconds=default_audio_seconds)

    def vo(self, default_audio_seconds: float) -> dict[str, Any]:
        """MaterialVo (3.7)."""
        vo: dict[str, Any] = {
            "id": self.id,
            "materialType": self.kind,
            "materialDescription": self.description,
            "duration": self.duration_ms(default_audio_seconds),
            "liveId": self.live_id,
            "createdTime": vendor_time(self.created_at),
        }
        if self.kind == "TEXT":
            vo["text"] = self.text
        else:
            vo["materialUrl"] = self.url
        return vo


@dataclass(eq=False)
class Session:
    """One live session, from 3.17 to its end; kept after the end for inspection and 3.15."""

    session_id: str
    record_id: int
    account: Account
    room: LiveRoom
    name: str | None
    topic_sub: str
    created_at: float
    state: str = CREATED
    made_at: float | None = None
    streaming_at: float | None = None
    ended_at: float | None = None
    ended_by: str | None = None
    cause: str | None = None
    request_ids: set[int] = field(default_factory=set)
    next_id: int = 0
    video_size: dict[str, int] = field(default_factory=dict)
    layers: list[dict[str, Any]] = field(default_factory=list)
    shows: dict[str, int] = field(default_factory=dict)
    push_urls: list[str] = field(default_factory=list)
    playlist: Playlist | None = None
    heartbeats_sent: int = 0
    heartbeats_answered: int = 0
    outstanding: dict[int, float] = field(default_factory=dict)  # HeartBeat id -> sent at
    last_answer_at: float | None = None
    max_gap: float = 0.0
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    sent: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=200))

    @property
    def alive(self) -> bool:
        return self.state in ALIVE

    @property
    def made(self) -> bool:
        return self.made_at is not None

    @property
    def anchor(self) -> dict[str, Any] | None:
        return next((layer for layer in self.layers if layer["resOptions"]["type"] == "dthuman"), None)

    @property
    def ud_code(self) -> str | None:
        anchor = self.anchor
        return anchor["resOptions"]["audioDriven"]["udCodeUsed"] if anchor else None

    def message_id(self) -> int:
        """Ids of what the server sends (HeartBeat, SessionState): its own counter per session."""
        self.next_id += 1
        return self.next_id

    def cancel_timer(self, name: str) -> None:
        timer = self.timers.pop(name, None)
        if timer is not None:
            timer.cancel()

    def cancel_timers(self) -> None:
        for name in list(self.timers):
            self.cancel_timer(name)

    def record_answer(self, now: float) -> None:
        if self.last_answer_at is not None:
            self.max_gap = max(self.max_gap, now - self.last_answer_at)
        self.last_answer_at = now
        self.heartbeats_answered += 1
