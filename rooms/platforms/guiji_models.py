"""Guiji live-manager requests and answers (vendor-docs/guiji-live-manager-api.txt), as pydantic
models named after the vendor's own fields so that they read against the document field for field.

Requests list their fields in the order of the document's parameter tables (for MQTT messages,
its request examples) and leave out what is not set. Answers ignore fields they do not know and
require only what LiveDeck relies on. Server messages pushed over MQTT (4.2.8) are parsed by
`parse_server_message` into one of the `ServerMessage` models.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializeAsAny,
    Tag,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from rooms.platforms.base import PlatformError

T = TypeVar("T")


def compact(value: Any) -> bytes:
    """JSON as LiveDeck sends it: UTF-8, no spaces, keys in the order given."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class Out(BaseModel):
    """A request: exactly the vendor's fields; optional ones are left out rather than sent as null."""

    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)

    def encode(self) -> bytes:
        return compact(self.dump())

    def query(self) -> dict[str, str]:
        """The fields as a GET query string wants them."""
        return {name: _query_value(value) for name, value in self.dump().items()}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class In(BaseModel):
    """An answer: validated, unknown fields ignored; numbers the vendor sends as strings accepted."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, populate_by_name=True)


# 2.2 Public return parameters -------------------------------------------------------------------


class Envelope(In):
    """What every answer has: `code` 200 is success (2.3 lists the others)."""

    code: int
    msg: str | None = None
    message: str | None = None
    data: Any = None

    @property
    def text(self) -> str:
        return self.msg or self.message or ""


class Answer(Envelope, Generic[T]):
    data: T


class Page(In, Generic[T]):
    """PageVO. The document names its fields differently from one section to the next (and its
    examples differ from its tables): records or list, size or pageSize."""

    records: list[T] = Field(default_factory=list, validation_alias=AliasChoices("records", "list"))
    total: int = 0
    size: int = Field(0, validation_alias=AliasChoices("size", "pageSize"))
    current: int = 0
    pages: int = 0

    @field_validator("records", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


# 3.1 Obtain token -------------------------------------------------------------------------------


class TokenRequest(Out):
    appId: str
    appSecret: str


class TokenVO(In):
    token: str = Field(min_length=1)
    expirationTime: int
    startTime: str = ""
    endTime: str = ""
    mqttUser: str = ""
    mqttPassword: str = ""


class KeyTimes(In):
    """What a refused 3.1 may still say about the key's validity."""

    startTime: str = ""
    endTime: str = ""


# 3.2-3.5 Live rooms -----------------------------------------------------------------------------


class SceneVO(Out):
    sceneCode: str
    proportion: str | None = None
    posture: str | None = None
    duration: int | None = None
    sceneName: str
    exampleUrl: str | None = None
    videoCoverUrl: str | None = None


class RobotVO(Out):
    id: int | None = None
    coverUrl: str | None = None
    robotDesc: str | None = None
    robotCode: str
    robotName: str
    sceneList: list[SceneVO]


class LiveCreate(Out):
    cutinFlag: bool
    liveName: str
    robotList: list[RobotVO]


class LiveUpdate(Out):
    id: int
    cutinFlag: bool | None = None
    liveName: str | None = None
    robotList: list[RobotVO] | None = None


class LiveQuery(Out):
    id: int


class PageQuery(Out):
    page: int
    pageSize: int


class SceneInfo(In):
    sceneCode: str
    sceneName: str = ""
    proportion: str | None = None
    posture: str | None = None
    duration: int | None = None
    exampleUrl: str | None = None
    videoCoverUrl: str | None = None
    sceneType: int | None = None
    coverUrl: str | None = None


class RobotInfo(In):
    id: int | None = None
    coverUrl: str | None = None
    robotDesc: str | None = None
    robotCode: str
    robotName: str = ""
    sceneList: list[SceneInfo] | None = None


class LiveInfo(In):
    id: int
    cutinFlag: bool | None = None
    liveName: str | None = None
    robotList: list[RobotInfo] | None = None


# 3.6-3.7 Materials ------------------------------------------------------------------------------


class MaterialUpload(Out):
    liveId: int
    materialType: Literal["AUDIO", "TEXT"]
    changeVoiceSpeaker: str | None = None
    materialDescription: str | None = None
    materialUrl: str | None = None
    text: str | None = None
    ttsSource: int | None = None
    ttsSpeaker: str | None = None
    volume: float | None = None
    intonation: float | None = None
    speedRate: float | None = None
    f0upKey: int | None = None


class MaterialQuery(Out):
    liveId: int
    materialType: Literal["AUDIO", "TEXT"] | None = None
    page: int | None = None
    pageSize: int | None = None


class MaterialInfo(In):
    id: int
    materialType: str | None = None
    materialDescription: str | None = None
    text: str | None = None
    materialUrl: str | None = None
    liveId: int | None = None
    duration: int | None = None
    createdTime: str | None = None


# 3.8-3.14 Catalogs ------------------------------------------------------------------------------


class TtsModelVo(In):
    id: int | None = None
    ttsName: str = ""
    ttsIntroduction: str = ""
    ttsSpeaker: str
    ttsCategory: str = ""
    ttsAudition: str = ""
    ttsCover: str = ""
    ttsSource: int = 0
    languages: list[str] = Field(default_factory=list)
    ssmlFlag: bool | None = None
    f0upKeyFlag: bool | None = None
    userCategory: str = ""

    @field_validator("languages", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class ChangeVoiceVO(In):
    id: int | None = None
    speakerCode: str
    speakerName: str = ""
    ttsAudition: str = ""
    ttsCover: str = ""


class VoiceChangeTrial(Out):
    changeVoiceSpeaker: str | None = None
    ttsSource: int
    ttsSpeaker: str
    volume: float
    intonation: float
    speedRate: float
    f0upKey: int | None = None


class TTSResultVO(In):
    # The document's example spells the key "filePath\t".
    filePath: str = Field(min_length=1, validation_alias=AliasChoices("filePath", "filePath\t"))
    duration: int | None = None


class CategoryQuery(Out):
    code: str | None = None


class MaterialCategoryVO(In):
    id: int
    parentCode: str | None = None
    name: str = ""
    code: str = ""


class PublicMaterialQuery(Out):
    code: str | None = None
    parentCode: str | None = None
    name: str | None = None
    page: int | None = None
    pageSize: int | None = None


class PublicMaterialVO(In):
    id: int
    categoryCode: str | None = None
    name: str = ""
    code: str = ""
    fileUrl: str = ""
    fileType: str = ""
    coverUrl: str | None = None


# 3.15-3.17 Live records, play addresses, sessions -----------------------------------------------


class LiveRecordVo(In):
    id: int | None = None
    liveName: str = ""
    modeName: str = ""
    liveStatusName: str = ""
    cropName: str = ""
    beginTime: str = ""
    totalDurationStr: str | None = None
    sessionId: str | None = None
    liveId: int | None = None
    duration: float | None = None


class PathQuery(Out):
    liveId: int
    sessionId: str
    duration: int


class Endpoint(In):
    lan: str = ""
    wan: str = ""


class PlayAddresses(In):
    """PlayaddrVO (3.16) and `playaddr` of StreamPlay (4.2.8), which spell flv differently."""

    rtmp: Endpoint | None = None
    rtsp: Endpoint | None = None
    http_flv: Endpoint | None = Field(None, validation_alias=AliasChoices("http-flv", "http_flv", "httpFlv"))

    def as_dict(self) -> dict[str, dict[str, str]]:
        """Where to pull the stream, by protocol: {"rtmp": {"lan", "wan"}, "rtsp": ..., "http-flv": ...}."""
        found = {"rtmp": self.rtmp, "rtsp": self.rtsp, "http-flv": self.http_flv}
        return {name: {"lan": end.lan, "wan": end.wan} for name, end in found.items() if end is not None}


class PathData(In):
    playaddr: PlayAddresses | None = None

    @model_validator(mode="before")
    @classmethod
    def _bare_playaddr(cls, value: Any) -> Any:
        # The table has PlayaddrVO as `data`; the example wraps it in `playaddr`.
        if isinstance(value, dict) and "playaddr" not in value:
            return {"playaddr": value}
        return value


class PathVO(In):
    message: str = ""
    ok: bool = True
    info: str = ""
    data: PathData | None = None


class SessionCreate(Out):
    liveId: int
    name: str | None = None


class SessionVo(In):
    liveId: int | None = None
    sessionId: str = Field(min_length=1)
    expirationTime: int = 0
    topicSub: str = Field(min_length=1)
    topicPub: str = Field(min_length=1)


# 4.2 MQTT: what LiveDeck sends ------------------------------------------------------------------


class VideoSize(Out):
    width: int
    height: int


class DrawOptions(Out):
    x: int | None = None
    y: int | None = None
    width: int | None = None
    height: int | None = None
    alpha: float | None = None
    zidx: int | None = None


class RtmpOptions(Out):
    name: Literal["rtmp"] = "rtmp"
    type: Literal["rtmp"] = "rtmp"


class VoiceDistortOptions(Out):
    type: Literal["aivoicedistort"] = "aivoicedistort"
    name: Literal["aivoicedistort"] = "aivoicedistort"
    distortState: bool
    speekerId: int | str


class Template(Out):
    sequence: list[str]
    udCode: str
    matting: int


class AudioDriven(Out):
    mode: Literal["livestream"] = "livestream"
    udCodeUsed: str
    templates: list[Template]
    quarter: int = 0


class DthumanOptions(Out):
    type: Literal["dthuman"] = "dthuman"
    name: Literal["dthuman"] = "dthuman"
    audioDriven: AudioDriven


class ImageOptions(Out):
    type: Literal["image"] = "image"
    name: str
    url: str


class Exclusive(Out):
    SameNameInGroup: bool = True


class BackgroundOptions(Out):
    name: Literal["background"] = "background"
    type: Literal["image", "player"] = "image"
    url: str
    mute: bool | None = None
    loop: int | None = None
    exclusive: Exclusive = Field(default_factory=Exclusive)


class Resource(Out):
    """One item of resList: the layer (fore, center, back), what it shows, and where."""

    type: Literal["fore", "center", "back"]
    resOptions: RtmpOptions | VoiceDistortOptions | DthumanOptions | ImageOptions | BackgroundOptions
    drawOptions: DrawOptions | None = None


class CreateParams(Out):
    sessionId: str
    rule: Literal["DTHumanLivestreamWithAudioRelay"] = "DTHumanLivestreamWithAudioRelay"
    mode: Literal["checkheartbeat"] = "checkheartbeat"
    videoSize: VideoSize
    resList: list[Resource]
    playlist: list[int]


class CreateNewSession(Out):
    """4.2.3 MakeSession: the one message with liveId, token and livePlatform beside the id."""

    id: int
    method: Literal["CreateNewSession"] = "CreateNewSession"
    sessionId: str
    liveId: int
    token: str
    livePlatform: Literal[3] = 3
    params: CreateParams
    sender: str


class DestroyParams(Out):
    sessionId: str
    cause: str


class ResList(Out):
    resList: list[Resource]


class ModifyParams(Out):
    sessionId: str
    rmvRes: ResList
    addRes: ResList


class SwitchAudioDriven(Out):
    udCode: str


class SwitchTemplateArgs(Out):
    drivenMode: Literal["audioDriven"] = "audioDriven"
    audioDriven: SwitchAudioDriven
    drawOptions: DrawOptions | None = None


class PushArgs(Out):
    pushurls: list[str]


class ExecOptions(Out):
    method: Literal["switchTemplate", "setpushstreams", "closepushstreams"]
    args: SwitchTemplateArgs | PushArgs


class Execute(Out):
    name: Literal["dthuman", "rtmp"]
    options: ExecOptions


class ExecParams(Out):
    sessionId: str
    executeList: list[Execute]


PlaylistAction = Literal[
    "AddPlayList", "insertPlayList", "delPlayListIndex", "getPlayList", "insertPlayListAtSilent"
]


class PlaylistParams(Out):
    sessionId: str
    action: PlaylistAction
    oldPcmId: int | None = None
    index: int | None = None
    pcmIds: list[int] | None = None


class DrawRes(Out):
    name: str
    drawOptions: DrawOptions


class DrawParams(Out):
    sessionId: str
    res: DrawRes


RequestMethod = Literal[
    "DestroySession", "ModifySessionResList", "ExecSessionResList", "pushPlayListManager", "SetResDrawOptions"
]


class ClientRequest(Out):
    """4.2.2: every request carries sessionId and sender (the topicSub) beside its id."""

    id: int
    method: RequestMethod
    params: SerializeAsAny[Out]
    sessionId: str
    sender: str


class HeartBeatResult(Out):
    sessionId: str
    message: str


class HeartBeatReply(Out):
    id: int | str
    result: HeartBeatResult
    sessionId: str
    sender: str


# 4.2 MQTT: what the server sends ----------------------------------------------------------------


class ReplyError(In):
    sessionId: str = ""
    message: str = ""
    code: int = 0


class Reply(In):
    """The answer to one of LiveDeck's requests: a `result` or an `error`, with the request's id."""

    id: int | str
    sessionId: str = ""
    result: dict[str, Any] | None = None
    error: ReplyError | None = None

    @property
    def session_id(self) -> str:
        if self.sessionId:
            return self.sessionId
        if self.error is not None:
            return self.error.sessionId
        return str((self.result or {}).get("sessionId", ""))


class MakeResult(In):
    message: str = ""


class OkResult(In):
    """Results that say ok (DestroySession, SetResDrawOptions, the playlist actions)."""

    ok: bool = True
    message: str = ""
    info: str = ""


class PlaylistResult(OkResult):
    data: list[int] = Field(default_factory=list)

    @field_validator("data", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


SESSION_PREFIX = ":---:"


class HeartBeatParams(In):
    sessionId: str
    state: str = ""


class HeartBeat(In):
    """4.2.8 1): the server asks whether LiveDeck is still there; `heartbeat_reply` answers."""

    id: int | str
    method: Literal["HeartBeat"]
    params: HeartBeatParams

    @property
    def session_id(self) -> str:
        return self.params.sessionId.removeprefix(SESSION_PREFIX)

    @property
    def state(self) -> str:
        return self.params.state


class _StateMessage(In):
    id: int | str | None = None
    method: Literal["SessionState"]


class DestroyState(In):
    sessionId: str
    state: Literal["Destroy"]
    cause: str = ""


class SessionDestroyed(_StateMessage):
    """SessionState Destroy: the session is gone (heartbeat lost, link broken); `cause` says why."""

    params: DestroyState

    @property
    def session_id(self) -> str:
        return self.params.sessionId

    @property
    def cause(self) -> str:
        return self.params.cause


class StreamPlayState(In):
    sessionId: str
    state: Literal["StreamPlay"]
    playaddr: PlayAddresses = Field(default_factory=PlayAddresses)


class StreamPlay(_StateMessage):
    """SessionState StreamPlay: the stream is on the relay server; `addresses()` says where."""

    params: StreamPlayState

    @property
    def session_id(self) -> str:
        return self.params.sessionId

    def addresses(self) -> dict[str, dict[str, str]]:
        return self.params.playaddr.as_dict()


class ShowState(In):
    sessionId: str
    state: Literal["Show"]
    info: str = ""
    udCode: str = ""
    id: str = ""
    name: str = ""
    type: str = ""


class Show(_StateMessage):
    """SessionState Show: a layer started showing; for `type` "dthuman", `ud_code` is the scene."""

    params: ShowState

    @property
    def session_id(self) -> str:
        return self.params.sessionId

    @property
    def ud_code(self) -> str:
        return self.params.udCode

    @property
    def type(self) -> str:
        return self.params.type

    @property
    def name(self) -> str:
        return self.params.name


class PlaylistState(In):
    sessionId: str
    status: Literal["begin", "end"]
    type: str = ""
    nowPcmId: int
    playList: list[int] = Field(default_factory=list)

    @field_validator("playList", mode="before")
    @classmethod
    def _json_string(cls, value: Any) -> Any:
        # The list comes as a JSON string ("[6,9,12,33]").
        if value is None or value == "":
            return []
        if isinstance(value, str):
            return json.loads(value)
        return value


class PlaylistProgress(_StateMessage):
    """SessionState begin/end of one playlist item: `now_pcm_id` is its material id; `inserted`
    when it was put in by insertPlayList or insertPlayListAtSilent (type "insertlist")."""

    params: PlaylistState

    @property
    def session_id(self) -> str:
        return self.params.sessionId

    @property
    def status(self) -> str:
        return self.params.status

    @property
    def type(self) -> str:
        return self.params.type

    @property
    def now_pcm_id(self) -> int:
        return self.params.nowPcmId

    @property
    def playlist(self) -> list[int]:
        return self.params.playList

    @property
    def inserted(self) -> bool:
        return self.params.type == "insertlist"


class OtherMessage(In):
    """A message LiveDeck has no use for (a SessionState it does not know, a method it does not use)."""

    id: int | str | None = None
    method: str = ""
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def session_id(self) -> str:
        return str(self.params.get("sessionId", "")).removeprefix(SESSION_PREFIX)


def _message_kind(value: Any) -> str:
    if not isinstance(value, dict):
        return "other"
    if "result" in value or "error" in value:
        return "reply"
    method = value.get("method")
    if method == "HeartBeat":
        return "heartbeat"
    if method != "SessionState":
        return "other"
    params = value.get("params")
    if not isinstance(params, dict):
        return "other"
    state = params.get("state")
    if state == "Destroy":
        return "destroy"
    if state == "StreamPlay":
        return "stream"
    if state == "Show":
        return "show"
    if "status" in params and "nowPcmId" in params:
        return "playlist"
    return "other"


ServerMessage = Annotated[
    Annotated[HeartBeat, Tag("heartbeat")]
    | Annotated[SessionDestroyed, Tag("destroy")]
    | Annotated[StreamPlay, Tag("stream")]
    | Annotated[Show, Tag("show")]
    | Annotated[PlaylistProgress, Tag("playlist")]
    | Annotated[Reply, Tag("reply")]
    | Annotated[OtherMessage, Tag("other")],
    Discriminator(_message_kind),
]
_server_messages: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def parse_server_message(payload: bytes) -> ServerMessage:
    """One message from the session's topicSub (4.2.8, and replies 4.2.2), typed:

    - `HeartBeat`: answer it at once with `heartbeat_reply` on the session's topicPub;
    - `SessionDestroyed` (`cause`), `StreamPlay` (`addresses()`), `Show` (`type`, `ud_code`),
      `PlaylistProgress` (`status` begin/end, `now_pcm_id`, `inserted`, `playlist`);
    - `Reply`: the answer to a request (the driver's own link matches those);
    - `OtherMessage`: anything else, to ignore.

    Raises a permanent PlatformError (code "malformed") when the payload is not JSON or a known
    message lacks what the document says it has.
    """
    try:
        return _server_messages.validate_json(payload)
    except ValidationError as exc:
        raise PlatformError(
            f"The Guiji message is not what the document describes: {first_error(exc)}",
            permanent=True,
            code="malformed",
        ) from None


def heartbeat_reply(message: HeartBeat, session_id: str, topic_sub: str) -> bytes:
    """The reply to a HeartBeat (4.2.8 1), exactly as the document's example has it: the same id,
    `result` {sessionId as the server sent it (":---:" prefix), message "Heartbeat received."},
    then the plain `sessionId` and `sender` (the session's topicSub). Publish it on topicPub, QoS 1.
    """
    return HeartBeatReply(
        id=message.id,
        result=HeartBeatResult(sessionId=message.params.sessionId, message="Heartbeat received."),
        sessionId=session_id,
        sender=topic_sub,
    ).encode()


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]
