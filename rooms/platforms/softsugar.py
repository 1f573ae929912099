"""SenseTime SoftSugar interactive live streaming (vendor-docs/softsugar-interactive-live-api.txt).

Section names in comments are the headings of that document. Requests and answers are
pydantic models named after the vendor's own fields, so that they read against the document
field for field; nothing outside this module sees a vendor dict.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeVar
from urllib.parse import quote, urlencode

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from rooms.platforms.base import (
    CallbackEvent,
    Capability,
    Driver,
    HistoryEntry,
    HistoryPage,
    LiveState,
    LiveStatus,
    MicEndpoint,
    Overlay,
    PlatformError,
    Preview,
    Receipt,
    RtcInfo,
    RunningSession,
    SessionInfo,
    TakeoverRequest,
    TakeoverState,
)

if TYPE_CHECKING:
    from rooms.models import LiveSession, Room

API = "/api/2dvh"
# The live script positions everything on a 1080*1920 canvas, whatever the stream's resolution.
CANVAS = (1080, 1920)

# Every session status the vendor documents, onto LiveDeck's one state model, with what the
# host is told when it is not the happy path.
SESSION_STATES: dict[int, tuple[LiveState, str]] = {
    32: (LiveState.CREATING, ""),
    35: (LiveState.READY, ""),
    2: (LiveState.LIVE, ""),
    5: (LiveState.ENDED, ""),
    50: (LiveState.DROPPED, "Closed by the vendor: heartbeat lost or link broken"),
    9: (LiveState.FAILED, "The vendor reported an exception"),
    99: (LiveState.FAILED, "Initialization failed"),
    97: (LiveState.NO_CAPACITY, "The platform has no free channel"),
    98: (LiveState.NO_CAPACITY, "Your account has no free channel"),
}
# Takeover statuses that arrive on the same callback (Live Streaming Status Callback Parameters).
TAKEOVER_CODES = frozenset({34, 36, 37, 39})


def _session_code(code: int) -> int:
    if code not in SESSION_STATES:
        raise ValueError(f"unknown session status {code}")
    return code


def _callback_code(code: int) -> int:
    if code not in SESSION_STATES and code not in TAKEOVER_CODES:
        raise ValueError(f"unknown callback status {code}")
    return code


SessionCode = Annotated[int, AfterValidator(_session_code)]
CallbackCode = Annotated[int, AfterValidator(_callback_code)]


def _live_status(
    code: int, *, rtc: RtcInfo | None = None, session_token: str = "", detail: str = ""
) -> LiveStatus:
    state, reason = SESSION_STATES[code]
    if reason and detail:
        reason = f"{reason}: {detail}"
    return LiveStatus(state=state, vendor_code=str(code), reason=reason, rtc=rtc, session_token=session_token)


# Requests: exactly the vendor's fields; optional ones are left out rather than sent as null.


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def encode(self) -> bytes:
        return _compact(self.model_dump(mode="json", exclude_none=True))


def _compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class _Position(_Request):
    x: int
    y: int


class _DigitalRole(_Request):
    face_feature_id: str
    name: str | None = None
    url: str
    position: _Position
    scale: float


class _TtsConfig(_Request):
    id: str
    name: str
    vendor_id: int
    language: str
    pitch_offset: float
    speed_ratio: float
    volume: int


class _TtsQuery(_Request):
    content: str
    ssml: bool


class _Background(_Request):
    type: int
    name: str
    url: str
    rect: list[int]
    cycle: bool
    start: int
    duration: int


class _Scene(_Request):
    digital_role: _DigitalRole
    tts_config: _TtsConfig
    tts_query: _TtsQuery
    quick_response: list[str] | None = None
    opening_words: str | None = None
    backgrounds: list[_Background] | None = None


class _LiveScript(_Request):
    version: str
    recycle: int
    stream_mode: bool
    resolution: list[int]
    bit_rate: float
    live_type: str
    sceneList: list[_Scene]


class _CreateRequest(_Request):
    param: str
    urtcUseExternalApp: bool | None = None
    urtcToken: str | None = None
    urtcUid: str | None = None
    urtcAppId: str | None = None
    urtcChannelId: str | None = None
    userData: str | None = None


class _SessionRequest(_Request):
    sessionId: str


class _Overlay(_Request):
    url: str
    rect: list[int]
    start: int
    duration: int


class _TakeoverParam(_Request):
    """Live Stream Takeover JSON: text (or SSML) or an audio file, and overlay images."""

    tts_query: _TtsQuery | None = None
    audio: str | None = None
    foregrounds: list[_Overlay] | None = None
    # An object, not a list, in the vendor's takeover JSON (unlike foregrounds).
    backgrounds: _Overlay | None = None


class _CommandRequest(_Request):
    sessionId: str
    param: str


class _QueueRequest(_Request):
    sessionId: str
    priority: int | None = None
    param: str


class _ReorderRequest(_Request):
    sessionId: str
    commandTraceId: str
    priority: int


class _CancelRequest(_Request):
    sessionId: str
    commandTraceId: str


class _QuickParam(_Request):
    quick_response: bool
    order: int


class _NlpRequest(_Request):
    appId: str
    device: str
    language: str
    query: str
    session: str
    trace: str


class _HistoryRequest(_Request):
    pageNo: int
    pageSize: int


class _AudienceTokenRequest(_Request):
    sessionId: str
    rtcChannelId: str


# Answers: validated, unknown fields ignored. Only what LiveDeck needs to trust is required;
# a create answer in particular must not be refused over a missing extra, or the session it
# opened (and that bills) would be lost.


class _Answer(BaseModel):
    """The envelope every API answer has (code 0 is success)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    code: int
    message: str | None = None


class _Rtc(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    rtcAppId: str | None = None
    rtcChannelId: str | None = None
    rtcUid: str | None = None
    rtcToken: str | None = None

    def rtc_info(self) -> RtcInfo | None:
        if not (self.rtcAppId and self.rtcChannelId):
            return None
        return RtcInfo(
            app_id=self.rtcAppId,
            channel_id=self.rtcChannelId,
            uid=self.rtcUid or "",
            token=self.rtcToken or "",
        )


class _CreateData(_Rtc):
    sessionId: str = Field(min_length=1)
    sessionToken: str = ""
    status: SessionCode


class _CreateAnswer(_Answer):
    data: _CreateData


class _BoolAnswer(_Answer):
    data: bool | None = None


class _StatData(_Rtc):
    status: SessionCode
    sessionToken: str = ""


class _StatAnswer(_Answer):
    data: _StatData


class _RunningItem(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    sessionId: str
    status: SessionCode


class _RunningAnswer(_Answer):
    data: list[_RunningItem] | None = None


class _Pagination(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pageNo: int
    numberPages: int
    numberRecords: int


class _HistoryItem(_RunningItem):
    startTime: str = ""
    endTime: str = ""


class _HistoryData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    pagination: _Pagination
    result: list[_HistoryItem] | None = None


class _HistoryAnswer(_Answer):
    data: _HistoryData


class _TokenAnswer(_Answer):
    data: str = Field(min_length=1)


class _CommandData(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    isSuccess: bool
    commandTraceId: str | None = None


class _CommandAnswer(_Answer):
    data: _CommandData


class _QueueData(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    commandStatus: int
    commandTraceId: str = Field(min_length=1)


class _QueueAnswer(_Answer):
    data: _QueueData


class _SuccessData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    isSuccess: bool
    message: str | None = None


class _SuccessAnswer(_Answer):
    data: _SuccessData


class _QueueListData(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    commandTraceIds: list[str] | None = None


class _QueueListAnswer(_Answer):
    data: _QueueListData


class _NlpAnswer(BaseModel):
    """Live NLP Q&A answers without the usual code envelope."""

    model_config = ConfigDict(extra="ignore")

    answer: str = ""
    error_message: str = ""


class _Monitor(BaseModel):
    """The sandbox's program monitor (not a vendor API, so no envelope)."""

    model_config = ConfigDict(extra="ignore")

    status: SessionCode
    anchor: str = ""
    background: str = ""
    backgroundUrl: str = ""
    subtitle: str = ""
    playing: str | None = None


class _Callback(_Rtc):
    sessionId: str = Field(min_length=1)
    status: CallbackCode
    commandTraceId: str | None = None
    commandFinishTime: str | None = None
    taskResult: str | None = None
    userData: str | None = None


M = TypeVar("M", bound=BaseModel)


class SoftSugarDriver(Driver):
    """SoftSugar's interactive live API over HTTPS, with the account's bearer token."""

    kind: ClassVar[str] = "softsugar"
    base_capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.SEPARATE_START,
            Capability.HEARTBEAT,
            Capability.RTC,
            Capability.AUDIENCE_TOKEN,
            Capability.RUNNING_LIST,
            Capability.HISTORY,
            Capability.TAKEOVER_INTERRUPT,
            Capability.TAKEOVER_QUEUE,
            Capability.REORDER,
            Capability.CANCEL_ONE,
            Capability.QUICK_REPLY,
            Capability.QA,
            Capability.MIC,
            Capability.SSML,
            Capability.TAKEOVER_OVERLAYS,
        }
    )

    async def open_session(self, room: Room, session: LiveSession) -> SessionInfo:
        """Create the live room from the room's script; it may come back CREATING (32)."""
        # Create a Live Broadcasting Room; `param` is the Live Script JSON, escaped.
        body = _CreateRequest(param=self._live_script(room).encode().decode(), userData=session.user_data())
        if room.external_rtc:
            body.urtcUseExternalApp = True
            body.urtcToken = room.rtc_token
            body.urtcUid = room.rtc_uid
            body.urtcAppId = room.rtc_app_id
            body.urtcChannelId = room.rtc_channel_id
        answer = await self._call("POST", f"{API}/v2/material/live/channel/create", _CreateAnswer, body=body)
        data = answer.data
        return SessionInfo(
            vendor_session_id=data.sessionId,
            session_token=data.sessionToken,
            status=_live_status(data.status, rtc=data.rtc_info(), session_token=data.sessionToken),
        )

    async def start(self, session: LiveSession) -> None:
        """Start pushing the stream of a session whose video stream is ready (35)."""
        # Start Live Stream
        answer = await self._call(
            "POST", f"{API}/v1/material/live/channel/start", _BoolAnswer, body=self._session(session)
        )
        if answer.data is False:
            # Most likely the stream is not ready yet; starting again is harmless.
            raise PlatformError("The vendor did not start the live", code="start")

    async def heartbeat(self, session: LiveSession) -> LiveStatus | None:
        """Keep the session alive; the vendor's answer carries no state, so this returns None."""
        # Live Stream Status Monitoring
        await self._call(
            "POST", f"{API}/v1/material/live/channel/heartbeat", _Answer, body=self._session(session)
        )
        return None

    async def status(self, session: LiveSession) -> LiveStatus:
        """Ask the vendor for the session's state, RTC details and microphone token."""
        # Query Session Status
        answer = await self._call(
            "GET",
            f"{API}/v1/material/live/channel/stat",
            _StatAnswer,
            params={"sessionId": self._session_id(session)},
        )
        data = answer.data
        return _live_status(data.status, rtc=data.rtc_info(), session_token=data.sessionToken)

    async def close(self, session: LiveSession) -> None:
        """Close the live room and release the vendor's resources (billing stops)."""
        # Close Live Broadcast
        answer = await self._call(
            "POST", f"{API}/v1/material/live/channel/close", _BoolAnswer, body=self._session(session)
        )
        if answer.data is False:
            # The session is still billing: worth retrying rather than giving up.
            raise PlatformError("The vendor did not close the live", code="close")

    async def running(self) -> list[RunningSession]:
        """Every session the vendor still has open for this account."""
        # Query Ongoing Session List
        answer = await self._call("GET", f"{API}/v1/material/live/channel/running/list", _RunningAnswer)
        return [
            RunningSession(vendor_session_id=item.sessionId, status=_live_status(item.status))
            for item in answer.data or []
        ]

    async def history(self, *, page: int = 1, page_size: int = 10) -> HistoryPage:
        """One page of closed sessions, in the vendor's order."""
        # Query History Session List
        answer = await self._call(
            "POST",
            f"{API}/v1/material/live/channel/history/list",
            _HistoryAnswer,
            body=_HistoryRequest(pageNo=page, pageSize=page_size),
        )
        pagination = answer.data.pagination
        return HistoryPage(
            entries=[
                HistoryEntry(
                    vendor_session_id=item.sessionId,
                    status=_live_status(item.status),
                    started=item.startTime,
                    ended=item.endTime,
                )
                for item in answer.data.result or []
            ],
            page=pagination.pageNo,
            pages=pagination.numberPages,
            total=pagination.numberRecords,
        )

    async def audience_token(self, session: LiveSession) -> str:
        """An RTC token for a viewer of the session's channel."""
        # Get RTC Token
        if not session.rtc_channel_id:
            raise PlatformError(
                "The session has no RTC channel until its video stream is ready", permanent=True
            )
        body = _AudienceTokenRequest(sessionId=self._session_id(session), rtcChannelId=session.rtc_channel_id)
        answer = await self._call("POST", f"{API}/v1/material/rtc/token/audience", _TokenAnswer, body=body)
        return answer.data

    async def preview(self, session: LiveSession) -> Preview:
        """What the avatar is showing and saying now, from the sandbox's program monitor."""
        # Not in the vendor document: the sandbox's own monitor endpoint.
        if not self.account.sandbox:
            raise PlatformError("The program monitor is only available on sandbox accounts", permanent=True)
        session_id = quote(self._session_id(session), safe="")
        monitor = await self._call("GET", f"/_sandbox/softsugar/sessions/{session_id}/monitor", _Monitor)
        return Preview(
            state=SESSION_STATES[monitor.status][0].value,
            anchor=monitor.anchor,
            background=monitor.background,
            background_url=monitor.backgroundUrl,
            subtitle=monitor.subtitle,
            extra={"playing": monitor.playing or ""},
        )

    async def takeover(
        self,
        session: LiveSession,
        item: TakeoverRequest,
        *,
        position: int | None = None,
        interrupt: bool = False,
    ) -> Receipt:
        """Play `item` now (interruptible takeover) or queue it at `position` (end when None)."""
        param = _takeover_param(item).encode().decode()
        if interrupt:
            # Interruptible Live Takeover (v2 command): clears what plays and speaks at once.
            body: _Request = _CommandRequest(sessionId=self._session_id(session), param=param)
            answer = await self._call(
                "POST", f"{API}/v2/material/live/channel/command", _CommandAnswer, body=body
            )
            if not answer.data.isSuccess or not answer.data.commandTraceId:
                raise PlatformError(answer.message or "The vendor did not take the takeover", permanent=True)
            # Not queued: it plays at once; the vendor reports it playing (36) and done (37).
            return Receipt(
                trace_id=answer.data.commandTraceId, state=TakeoverState.SENT, message=answer.message or ""
            )
        # Interruptible Live Takeover with Queueing: 33 while it downloads, 34 once queued.
        body = _QueueRequest(sessionId=self._session_id(session), priority=position, param=param)
        queued = await self._call(
            "POST", f"{API}/v1/material/live/channel/command/queue", _QueueAnswer, body=body
        )
        code = queued.data.commandStatus
        state = TakeoverState.QUEUEING if code == 33 else TakeoverState.QUEUED
        return Receipt(
            trace_id=queued.data.commandTraceId,
            state=state,
            vendor_code=str(code),
            message=queued.message or "",
        )

    async def reorder(self, session: LiveSession, trace_id: str, position: int) -> None:
        """Move a queued takeover to `position` (1 is the one playing)."""
        # Live Broadcast Takeover Reordering
        body = _ReorderRequest(
            sessionId=self._session_id(session), commandTraceId=trace_id, priority=position
        )
        answer = await self._call(
            "POST", f"{API}/v1/material/live/channel/command/queue/reorder", _SuccessAnswer, body=body
        )
        if not answer.data.isSuccess:
            raise PlatformError(answer.data.message or "The vendor did not reorder the queue", permanent=True)

    async def cancel(self, session: LiveSession, trace_ids: list[str] | None) -> None:
        """Cancel these takeovers (joined with ';'), or everything queued and playing ('-1')."""
        # Live Broadcast Takeover Cancellation
        if trace_ids is not None and not trace_ids:
            return
        ids = "-1" if trace_ids is None else ";".join(trace_ids)
        body = _CancelRequest(sessionId=self._session_id(session), commandTraceId=ids)
        answer = await self._call(
            "POST", f"{API}/v1/material/live/channel/command/cancel", _SuccessAnswer, body=body
        )
        if not answer.data.isSuccess:
            raise PlatformError(
                answer.data.message or "The vendor did not cancel", permanent=True, code="cancel"
            )

    async def queue(self, session: LiveSession) -> list[str]:
        """The vendor's takeover queue, the playing (or next) one first."""
        # Live Broadcast Takeover Queue Inquiry
        answer = await self._call(
            "POST",
            f"{API}/v1/material/live/channel/command/queue/list",
            _QueueListAnswer,
            body=self._session(session),
        )
        return list(answer.data.commandTraceIds or [])

    async def quick_reply(self, session: LiveSession, index: int) -> Receipt:
        """Fire the script's quick reply number `index` (-1: one at random)."""
        # Live Chat Handoff: interactive rooms only; refused while another reply plays.
        param = _QuickParam(quick_response=True, order=index).encode().decode()
        body = _CommandRequest(sessionId=self._session_id(session), param=param)
        answer = await self._call(
            "POST", f"{API}/v2/material/live/channel/command/quick", _CommandAnswer, body=body
        )
        if not answer.data.isSuccess:
            raise PlatformError(answer.message or "The vendor did not play the quick reply", permanent=True)
        return Receipt(trace_id=answer.data.commandTraceId or "", state=TakeoverState.PLAYING)

    async def ask(self, session: LiveSession, question: str, *, library: str) -> str | None:
        """The room's Q&A library's answer to `question`, or None when nothing matches."""
        # Live NLP Q&A: session ties rounds of one conversation; trace follows one question.
        body = _NlpRequest(
            appId=library,
            device="windows",
            language="zh",
            query=question,
            session=f"livedeck-{self._session_id(session)}"[:64],
            trace=uuid.uuid4().hex,
        )
        answer = await self._call("POST", f"{API}/v1/nlp/model/reply", _NlpAnswer, body=body)
        if answer.error_message:
            raise PlatformError(
                f"The Q&A library answered: {answer.error_message}", permanent=True, code="qa"
            )
        return answer.answer or None

    def mic_endpoint(self, session: LiveSession) -> MicEndpoint | None:
        """The microphone WebSocket, with the session token in its URL as the vendor asks."""
        # Streaming Voice Takeover: clientType, sessionId and Authorization go in the query.
        if not session.session_token:
            raise PlatformError("The session has no microphone token yet", permanent=True)
        base = (
            self.account.base_url.rstrip("/").replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        )
        query = urlencode(
            {
                "clientType": "BROWSER",
                "sessionId": self._session_id(session),
                "Authorization": f"Bearer {session.session_token}",
            }
        )
        return MicEndpoint(
            url=f"{base}/api/live-takeover-cc/v1/material/live/channel/command/microphone?{query}"
        )

    @classmethod
    def parse_callback(cls, body: bytes) -> CallbackEvent:
        """Turn a status callback into a session event (status set) or a takeover event (status None)."""
        # Live Streaming Status Callback Parameters
        try:
            callback = _Callback.model_validate_json(body)
        except ValidationError as exc:
            raise PlatformError(
                f"The SoftSugar callback is not what the vendor documents: {_first_error(exc)}",
                permanent=True,
                code="malformed",
            ) from None
        if callback.status in TAKEOVER_CODES:
            if not callback.commandTraceId:
                raise PlatformError(
                    "The SoftSugar takeover callback has no commandTraceId", permanent=True, code="malformed"
                )
            return CallbackEvent(
                vendor_session_id=callback.sessionId,
                status=None,
                user_data=callback.userData or "",
                command_trace_id=callback.commandTraceId,
                command_code=str(callback.status),
                detail=callback.taskResult or "",
            )
        return CallbackEvent(
            vendor_session_id=callback.sessionId,
            status=_live_status(callback.status, rtc=callback.rtc_info(), detail=callback.taskResult or ""),
            user_data=callback.userData or "",
            detail=callback.taskResult or "",
        )

    # Building requests

    def _live_script(self, room: Room) -> _LiveScript:
        """The live script JSON for the room: its video settings and its script's one scene."""
        # Live Script JSON Definition Explanation; one scene (only the first one is used).
        script = room.script
        backgrounds = None
        if script.background_url:
            backgrounds = [
                _Background(
                    type=script.background_type,
                    name=script.background_name or "Background",
                    url=script.background_url,
                    rect=[0, 0, *CANVAS],
                    cycle=script.background_loop,
                    start=0,
                    duration=-1,
                )
            ]
        scene = _Scene(
            digital_role=_DigitalRole(
                face_feature_id=script.face_feature_id,
                name=script.anchor_name or None,
                url=script.anchor_package_url,
                position=_Position(x=script.anchor_x, y=script.anchor_y),
                scale=script.anchor_scale,
            ),
            tts_config=_TtsConfig(
                id=script.voice_id,
                name=script.voice_name,
                vendor_id=script.voice_vendor_id,
                language=script.voice_language,
                pitch_offset=script.voice_pitch,
                speed_ratio=script.voice_speed,
                volume=script.voice_volume,
            ),
            tts_query=_TtsQuery(content=script.opening_text, ssml=script.opening_ssml),
            backgrounds=backgrounds,
        )
        if room.live_type == "interactive":
            # quick_response and opening_words are for interactive digital humans only.
            scene.quick_response = script.quick_reply_list() or None
            scene.opening_words = script.opening_words or None
        return _LiveScript(
            version="0.0.2",
            recycle=0,
            stream_mode=True,
            resolution=[room.resolution_width, room.resolution_height],
            bit_rate=room.bitrate,
            live_type=room.live_type,
            sceneList=[scene],
        )

    def _session_id(self, session: LiveSession) -> str:
        """The vendor's id for the session; a session the vendor never created cannot be called."""
        if not session.vendor_session_id:
            raise PlatformError("The session has no SoftSugar session id yet", permanent=True)
        return session.vendor_session_id

    def _session(self, session: LiveSession) -> _SessionRequest:
        """The `{"sessionId": ...}` body that most calls take."""
        return _SessionRequest(sessionId=self._session_id(session))

    # The one place vendor calls are made and their failures classified.

    async def _call(
        self,
        method: str,
        path: str,
        answer: type[M],
        *,
        body: _Request | None = None,
        params: Mapping[str, str] | None = None,
    ) -> M:
        """Send one request and return its validated answer; every failure becomes a PlatformError."""
        token = self.account.credential("token")
        if not token:
            raise PlatformError("The platform account has no SoftSugar token", permanent=True)
        # API Description: the token goes in the request header, on every call.
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        url = self.account.base_url.rstrip("/") + path
        response = await self.send(
            "SoftSugar",
            method,
            url,
            params=params,
            headers=headers,
            content=body.encode() if body is not None else None,
        )

        status = response.status_code
        if status in (401, 403):
            raise PlatformError("The vendor refused the account's token", permanent=True, code=str(status))
        if status == 429:
            raise PlatformError("The vendor is limiting this account's requests", code="429")
        if status >= 500:
            raise PlatformError(f"The vendor had a server error (HTTP {status})", code=str(status))
        if not response.is_success:
            raise PlatformError(
                f"The vendor rejected the request (HTTP {status})", permanent=True, code=str(status)
            )

        # A 200 that is not the documented JSON is most often a gateway's or a maintenance
        # page, or a cut-off answer: transient, so the task retries instead of giving up.
        try:
            raw = json.loads(response.content)
            if issubclass(answer, _Answer):
                envelope = _Answer.model_validate(raw)
                if envelope.code != 0:
                    raise PlatformError(
                        envelope.message or "The vendor refused the request without saying why",
                        permanent=True,
                        code=str(envelope.code),
                    )
            return answer.model_validate(raw)
        except ValidationError as exc:
            raise PlatformError(
                f"The vendor's answer is not what its document describes: {_first_error(exc)}",
                code="malformed",
            ) from None
        except ValueError:
            raise PlatformError("The vendor's answer is not JSON", code="malformed") from None


def _takeover_param(item: TakeoverRequest) -> _TakeoverParam:
    """Live Stream Takeover JSON; TTS wins over audio when both are given, as the vendor says."""
    if not item.text and not item.audio_url:
        raise PlatformError("A takeover needs text or an audio file", permanent=True)

    def overlay(o: Overlay) -> _Overlay:
        return _Overlay(url=o.url, rect=list(o.rect), start=o.start_ms, duration=o.duration_ms)

    return _TakeoverParam(
        tts_query=_TtsQuery(content=item.text, ssml=item.ssml) if item.text else None,
        audio=item.audio_url or None,
        foregrounds=[overlay(o) for o in item.foregrounds] or None,
        backgrounds=overlay(item.background) if item.background else None,
    )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]
