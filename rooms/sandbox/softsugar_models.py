"""Request bodies of the SoftSugar interactive live API, as the vendor document defines them.

Models are strict (no "1" for 1, no 1.5 for an integer) so that a driver which misreads a type is
caught here rather than by the real vendor. Unknown fields are ignored, as a tolerant server would.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

UINT32_MAX = 4_294_967_295
_ID_CHARS = re.compile(r"^[0-9A-Za-z-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


# --- "Live Script JSON Definition Explanation" -------------------------------------------------


class Position(_Strict):
    x: int
    y: int


class DigitalRole(_Strict):
    id: int | None = None
    face_feature_id: str = Field(min_length=1)
    name: str = ""
    url: str = Field(min_length=1)
    position: Position | None = None
    scale: float | None = None
    alpha: bool = False


class TtsConfig(_Strict):
    qid: str | None = None
    id: str | None = None
    name: str = Field(min_length=1)
    vendor_id: int | None = None
    language: str = Field(min_length=1)
    pitch_offset: float = Field(ge=-60, le=60)
    speed_ratio: float = Field(ge=0.5, le=2)
    volume: int = Field(ge=1, le=400)

    @model_validator(mode="after")
    def _id_or_qid(self) -> TtsConfig:
        # "Using qid can replace id/vendor_id ... but id and qid cannot be both empty."
        if not self.qid and (not self.id or self.vendor_id is None):
            raise ValueError("tts_config needs id and vendor_id (or qid)")
        return self


class ScriptText(_Strict):
    content: str = Field(min_length=10)
    ssml: bool = False


class AudioRef(_Strict):
    url: str = Field(min_length=1)


def _check_rect(rect: list[int]) -> list[int]:
    if len(rect) != 4:
        raise ValueError("rect must be [x, y, width, height]")
    return rect


class Background(_Strict):
    type: Literal[0, 1]
    name: str
    url: str = Field(min_length=1)
    rect: list[int]
    cycle: bool
    start: int
    duration: int

    _rect = field_validator("rect")(_check_rect)


class Foreground(_Strict):
    type: Literal[0]
    name: str
    url: str = Field(min_length=1)
    rect: list[int]
    start: int
    duration: int

    _rect = field_validator("rect")(_check_rect)


class Effects(_Strict):
    version: str
    beautify: dict[str, Any] | None = None


class Scene(_Strict):
    digital_role: DigitalRole
    tts_config: TtsConfig
    tts_query: ScriptText | None = None
    audios: list[AudioRef] | None = None
    quick_response: list[str | dict[str, Any]] | None = None
    opening_words: str | None = None
    backgrounds: list[Background] | None = None
    foregrounds: list[Foreground] | None = None
    effects: Effects | None = None


class LiveScript(_Strict):
    version: str = Field(min_length=1)
    recycle: int = Field(ge=0)
    stream_mode: bool
    resolution: list[int] | None = None
    bit_rate: float | None = Field(None, gt=0, le=7)
    live_type: Literal["live", "interactive"] = "live"
    sentence_break: bool = True
    streaming_param: dict[str, Any] | None = None
    sceneList: list[Scene] = Field(min_length=1)

    @field_validator("resolution")
    @classmethod
    def _resolution(cls, value: list[int] | None) -> list[int] | None:
        # "Maximum support is 1080p, minimum is 10*10."
        if value is None:
            return value
        if len(value) != 2:
            raise ValueError("resolution must be [width, height]")
        if min(value) < 10:
            raise ValueError("resolution must be at least 10x10")
        if min(value) > 1080 or max(value) > 1920:
            raise ValueError("resolution must be at most 1080p (1080x1920)")
        return value

    @property
    def scene(self) -> Scene:
        """Only the first scene is effective (vendor: "only the first array element is effective")."""
        return self.sceneList[0]

    def quick_reply_text(self, index: int) -> tuple[str, str | None]:
        """Text (or audio URL) of quick reply ``index``: strings, or objects with tts_query/audio."""
        entry = (self.scene.quick_response or [])[index]
        if isinstance(entry, str):
            return entry, None
        query = entry.get("tts_query")
        if isinstance(query, list) and query:
            query = query[0]
        if isinstance(query, dict) and isinstance(query.get("content"), str):
            return query["content"], None
        audio = entry.get("audio")
        return "", audio if isinstance(audio, str) else None


# --- Endpoint bodies ---------------------------------------------------------------------------


class CreateRequest(_Strict):
    """Create a Live Broadcasting Room."""

    param: str
    urtcUseExternalApp: bool = False
    urtcToken: str | None = None
    urtcUid: str | None = None
    urtcAppId: str | None = None
    urtcChannelId: str | None = None
    userData: str | None = None

    @model_validator(mode="after")
    def _external_rtc(self) -> CreateRequest:
        if not self.urtcUseExternalApp:
            return self
        for name in ("urtcToken", "urtcUid", "urtcAppId", "urtcChannelId"):
            if not getattr(self, name):
                raise ValueError(f"{name} is required when urtcUseExternalApp is true")
        uid = self.urtcUid or ""
        if not uid.isdigit() or int(uid) > UINT32_MAX:
            raise ValueError("urtcUid must be a pure number not exceeding 32-bit uint")
        if len(self.urtcChannelId or "") > 64:
            raise ValueError("urtcChannelId must not exceed 64 characters")
        return self


class SessionRequest(_Strict):
    sessionId: str = Field(min_length=1)


class CommandRequest(SessionRequest):
    param: str


class QueueRequest(CommandRequest):
    priority: int | None = None


class ReorderRequest(SessionRequest):
    commandTraceId: str = Field(min_length=1)
    priority: int


class CancelRequest(SessionRequest):
    commandTraceId: str = Field(min_length=1)


class HistoryRequest(_Strict):
    sessionId: str | None = None
    status: int | None = None
    pageNo: int = Field(1, ge=1)
    pageSize: int = Field(10, ge=1, le=1000)
    sortName: Literal["startTime", "endTime"] | None = None
    sortValue: Literal["asc", "desc"] | None = None


class RtcTokenRequest(SessionRequest):
    rtcChannelId: str = Field(min_length=1)


class NlpReplyRequest(_Strict):
    """Live NLP Q&A."""

    appId: str = Field(min_length=1)
    device: Literal["ios", "android", "windows", "macos"]
    language: Literal["zh"]
    query: str = Field(min_length=1)
    session: str
    trace: str

    @field_validator("session", "trace")
    @classmethod
    def _id_chars(cls, value: str) -> str:
        if not _ID_CHARS.match(value):
            raise ValueError("must be a combination of numbers, letters and '-'")
        return value


# --- "Live Stream Takeover JSON Definition Explanation" ----------------------------------------


class TakeoverText(_Strict):
    # Under 10 characters is accepted here and fails later with callback 39, as the vendor does.
    content: str
    ssml: bool = False


class TakeoverParam(_Strict):
    tts_query: TakeoverText | None = None
    audio: str | None = None
    foregrounds: list[dict[str, Any]] | None = None
    backgrounds: dict[str, Any] | list[dict[str, Any]] | None = None

    @model_validator(mode="after")
    def _text_or_audio(self) -> TakeoverParam:
        if self.tts_query is None and not self.audio:
            raise ValueError("takeover needs tts_query or audio")
        return self

    @property
    def background_url(self) -> str | None:
        first = self.backgrounds[0] if isinstance(self.backgrounds, list) and self.backgrounds else None
        chosen = self.backgrounds if isinstance(self.backgrounds, dict) else first
        url = chosen.get("url") if chosen else None
        return url if isinstance(url, str) else None


class QuickParam(_Strict):
    """Live Chat Handoff param: ``{"quick_response": true, "order": i}``, ``-1`` picks at random."""

    quick_response: Literal[True]
    order: int = Field(ge=-1)


# --- Sandbox control bodies --------------------------------------------------------------------


class AccountBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    callbackUrl: str = ""
    maxSessions: int = Field(20, ge=0)


class AccountFileEntry(AccountBody):
    model_config = ConfigDict(extra="ignore")

    kind: str
    token: str = Field(min_length=1)


class QaPair(BaseModel):
    question: str
    answer: str


class QaLibraryBody(BaseModel):
    pairs: list[QaPair]
