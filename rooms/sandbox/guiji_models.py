"""Request bodies of the Guiji live-manager API (HTTP 3.x and MQTT 4.2), as the vendor document defines them.

Models are strict (no "1" for 1, no 1.5 for an integer) so that a driver which misreads a type is
caught here rather than by the real vendor; query strings are the exception, they are text by nature.
Unknown fields are ignored, as a tolerant server would.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

# 3.6 and 3.12: "Range -20.0~20.0".
Tone = Annotated[float, Field(ge=-20, le=20)]
Emotion = Annotated[int, Field(ge=-20, le=20)]
Number = int | float


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class _Query(BaseModel):
    """Query-string parameters arrive as text; lax mode turns "2" into 2."""

    model_config = ConfigDict(extra="ignore")


def _is_web_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


# --- 3.1 ----------------------------------------------------------------------------------------


class TokenRequest(_Strict):
    appId: str = Field(min_length=1)
    appSecret: str = Field(min_length=1)


# --- 3.2 - 3.5: live rooms ----------------------------------------------------------------------


class SceneVO(_Strict):
    sceneCode: str = Field(min_length=1)
    sceneName: str = Field(min_length=1)
    proportion: Literal["16:9", "9:16"] | None = None
    posture: Literal["0", "1", "2"] | None = None
    duration: int | None = Field(None, ge=0)
    exampleUrl: str | None = None
    videoCoverUrl: str | None = None


class RobotVO(_Strict):
    # The table says id is required, the document's own request example leaves it out: optional.
    id: int | None = None
    coverUrl: str | None = None
    robotDesc: str | None = None
    robotCode: str = Field(min_length=1)
    robotName: str = Field(min_length=1)
    sceneList: list[SceneVO]


class LiveRoomCreate(_Strict):
    cutinFlag: bool
    liveName: str = Field(min_length=1)
    robotList: list[RobotVO] | None = None


class LiveRoomUpdate(_Strict):
    """Fields left null are not updated (3.3)."""

    id: int
    cutinFlag: bool | None = None
    liveName: str | None = Field(None, min_length=1)
    robotList: list[RobotVO] | None = None


class IdQuery(_Query):
    id: int


class PageQuery(_Query):
    page: int = Field(1, ge=1)
    pageSize: int = Field(10, ge=1, le=1000)


# --- 3.6 - 3.7: materials -----------------------------------------------------------------------


class MaterialUpload(_Strict):
    liveId: int
    materialType: Literal["AUDIO", "TEXT"]
    changeVoiceSpeaker: str | None = None
    materialDescription: str | None = None
    materialUrl: str | None = None
    text: str | None = None
    ttsSource: int | None = None
    ttsSpeaker: str | None = None
    volume: Tone | None = None
    intonation: Tone | None = None
    speedRate: Tone | None = None
    f0upKey: Emotion | None = None

    @model_validator(mode="after")
    def _by_type(self) -> MaterialUpload:
        if self.materialType == "AUDIO":
            if not self.materialUrl:
                raise ValueError("materialUrl is required when materialType is AUDIO")
            if not _is_web_url(self.materialUrl):
                raise ValueError("materialUrl must be an http(s) URL")
            return self
        missing = [
            name
            for name in ("text", "ttsSource", "ttsSpeaker", "volume", "intonation", "speedRate")
            if getattr(self, name) is None
        ]
        if missing:
            raise ValueError(f"{', '.join(missing)} required when materialType is TEXT")
        if not (self.text or "").strip():
            raise ValueError("text must not be blank")
        return self


class MaterialQuery(_Strict):
    liveId: int
    materialType: Literal["AUDIO", "TEXT"] | None = None
    page: int = Field(1, ge=1)
    pageSize: int = Field(10, ge=1, le=1000)


# --- 3.8 - 3.16 ---------------------------------------------------------------------------------


class VoiceTrial(_Strict):
    """3.12. The document gives no text field; ``text`` is accepted as a sandbox extra."""

    changeVoiceSpeaker: str | None = None
    ttsSource: int
    ttsSpeaker: str = Field(min_length=1)
    volume: Tone
    intonation: Tone
    speedRate: Tone
    f0upKey: Emotion | None = None
    text: str | None = None


class CategoryQuery(_Query):
    code: str | None = None


class PublicMaterialQuery(_Query):
    code: str | None = None
    parentCode: str | None = None
    name: str | None = None
    page: int = Field(1, ge=1)
    pageSize: int = Field(10, ge=1, le=1000)

    @model_validator(mode="after")
    def _code_or_parent(self) -> PublicMaterialQuery:
        if not self.code and not self.parentCode:
            raise ValueError("code and parentCode cannot both be empty")
        return self


class PathQuery(_Query):
    liveId: int
    sessionId: str = Field(min_length=1)
    duration: int = Field(ge=1)


class SessionCreate(_Strict):
    liveId: int
    name: str | None = None


# --- 4.2: MQTT messages -------------------------------------------------------------------------


class Envelope(_Strict):
    """4.2.2: every client message carries id, method, params and, beside them, sessionId and sender."""

    id: int
    method: str = Field(min_length=1)
    sessionId: str = Field(min_length=1)
    sender: str = Field(min_length=1)
    params: dict[str, Any]


class MakeEnvelope(Envelope):
    """4.2.3: CreateNewSession also carries liveId, token and livePlatform at the top."""

    liveId: int
    token: str = Field(min_length=1)
    livePlatform: Literal[3]


class DrawOptions(_Strict):
    x: Number | None = None
    y: Number | None = None
    width: Number | None = Field(None, ge=0)
    height: Number | None = Field(None, ge=0)
    zidx: int | None = None
    alpha: Number | None = Field(None, ge=0, le=1)


class Template(_Strict):
    sequence: list[str] = Field(min_length=1)
    udCode: str = Field(min_length=1)
    matting: Literal[0, 1] = 0


class AudioDriven(_Strict):
    mode: Literal["livestream"]
    udCodeUsed: str = Field(min_length=1)
    randomPlay: bool | None = None
    templates: list[Template] = Field(min_length=1)
    quarter: int | None = None

    @model_validator(mode="after")
    def _used_is_a_template(self) -> AudioDriven:
        if self.udCodeUsed not in {template.udCode for template in self.templates}:
            raise ValueError("udCodeUsed must be the udCode of one of the templates")
        return self


class Exclusive(_Strict):
    SameNameInGroup: bool = False


class ResOptions(BaseModel):
    """A layer's element; fields beyond these (mute, loop, transport, speekerId, ...) are kept as given."""

    model_config = ConfigDict(strict=True, extra="allow")

    type: str = Field(min_length=1)
    name: str = Field(min_length=1)
    url: str | None = None
    exclusive: Exclusive | None = None
    audioDriven: AudioDriven | None = None

    @model_validator(mode="after")
    def _by_type(self) -> ResOptions:
        if self.type == "dthuman":
            if self.name != "dthuman":
                raise ValueError("the dthuman element must be named dthuman")
            if self.audioDriven is None:
                raise ValueError("the dthuman element needs audioDriven")
        if self.type in ("image", "player") and not (self.url and _is_web_url(self.url)):
            raise ValueError(f"an {self.type} element needs an http(s) url")
        return self


class Res(_Strict):
    type: Literal["fore", "center", "back"]
    resOptions: ResOptions
    drawOptions: DrawOptions | None = None


class VideoSize(_Strict):
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class _Params(_Strict):
    sessionId: str = Field(min_length=1)


class MakeParams(_Params):
    rule: Literal["DTHumanLivestreamWithAudioRelay"]
    mode: Literal["checkheartbeat"]
    videoSize: VideoSize
    token: str | None = None
    resList: list[Res] = Field(min_length=1)
    playlist: list[int] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_anchor(self) -> MakeParams:
        anchors = [res for res in self.resList if res.resOptions.type == "dthuman"]
        if len(anchors) != 1 or anchors[0].type != "center":
            raise ValueError("resList needs exactly one dthuman element, in the center layer")
        return self

    @property
    def anchor(self) -> Res:
        return next(res for res in self.resList if res.resOptions.type == "dthuman")


PlaylistAction = Literal[
    "AddPlayList", "insertPlayList", "delPlayListIndex", "getPlayList", "insertPlayListAtSilent"
]


class PlaylistParams(_Params):
    action: PlaylistAction
    index: int | None = Field(None, ge=0)
    oldPcmId: int | None = None
    pcmIds: list[int] | None = None

    @model_validator(mode="after")
    def _needs(self) -> PlaylistParams:
        if self.action in ("AddPlayList", "insertPlayList", "insertPlayListAtSilent") and not self.pcmIds:
            raise ValueError(f"{self.action} needs pcmIds")
        if self.action in ("insertPlayList", "delPlayListIndex") and self.index is None:
            raise ValueError(f"{self.action} needs index")
        return self


class RemovedResOptions(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    name: str = Field(min_length=1)


class RemovedRes(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")

    resOptions: RemovedResOptions


class RemovedGroup(_Strict):
    resList: list[RemovedRes] = Field(default_factory=list)


class AddedGroup(_Strict):
    resList: list[Res] = Field(default_factory=list)


class ModifyParams(_Params):
    rmvRes: RemovedGroup | None = None
    addRes: AddedGroup | None = None


class ExecOptions(_Strict):
    method: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


class ExecItem(_Strict):
    name: str = Field(min_length=1)
    options: ExecOptions


class ExecParams(_Params):
    executeList: list[ExecItem] = Field(min_length=1)


class SwitchAudioDriven(_Strict):
    udCode: str = Field(min_length=1)


class SwitchArgs(_Strict):
    drivenMode: Literal["audioDriven"] = "audioDriven"
    audioDriven: SwitchAudioDriven
    drawOptions: DrawOptions | None = None


class PushArgs(_Strict):
    pushurls: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rtmp(self) -> PushArgs:
        for url in self.pushurls:
            if not url.startswith(("rtmp://", "rtmps://")) or len(url) <= len("rtmps://"):
                raise ValueError(f"push url {url!r} must be rtmp:// or rtmps://")
        return self


class DrawRes(_Strict):
    name: str = Field(min_length=1)
    drawOptions: DrawOptions


class DrawParams(_Params):
    res: DrawRes


class DestroyParams(_Params):
    cause: str | None = None


# --- Sandbox control bodies ---------------------------------------------------------------------


KeyTime = float | str


class GuijiAccountBody(BaseModel):
    """``PUT /_sandbox/guiji/accounts/{appId}``; key times are Unix seconds or "YYYY-MM-DD HH:MM:SS"."""

    model_config = ConfigDict(extra="forbid")

    appSecret: str = Field(min_length=1)
    mqttUser: str | None = Field(None, min_length=1)
    mqttPassword: str | None = None
    keyStart: KeyTime | None = None
    keyEnd: KeyTime | None = None


class GuijiAccountFileEntry(BaseModel):
    """An accounts-file entry; LiveDeck's demo data writes app_id/app_secret, camelCase is accepted too."""

    model_config = ConfigDict(extra="ignore")

    kind: str
    appId: str = Field(min_length=1, validation_alias=AliasChoices("app_id", "appId"))
    appSecret: str = Field(min_length=1, validation_alias=AliasChoices("app_secret", "appSecret"))
    mqttUser: str | None = Field(None, validation_alias=AliasChoices("mqtt_user", "mqttUser"))
    mqttPassword: str | None = Field(None, validation_alias=AliasChoices("mqtt_password", "mqttPassword"))
    keyStart: KeyTime | None = Field(None, validation_alias=AliasChoices("key_start", "keyStart"))
    keyEnd: KeyTime | None = Field(None, validation_alias=AliasChoices("key_end", "keyEnd"))

    def body(self) -> GuijiAccountBody:
        return GuijiAccountBody(
            appSecret=self.appSecret,
            mqttUser=self.mqttUser or None,
            mqttPassword=self.mqttPassword,
            keyStart=self.keyStart,
            keyEnd=self.keyEnd,
        )


class KillBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cause: str = Field("killed by the sandbox", min_length=1)
