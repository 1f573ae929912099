"""Huawei Cloud MetaStudio smart live requests and answers, as pydantic models named after the
vendor's own fields so that they read against the documents field for field.

The room (vendor-docs/metastudio-create-smart-live-room.txt, 表3-表35) is modelled whole, with the
document's ranges as constraints: a body LiveDeck builds that MetaStudio would refuse fails here,
before it is sent. The rest (start live, jobs, commands, insert commands, live events, errors,
callbacks) is from vendor-docs/metastudio-smart-live-notes.md; where the notes are terse, names
are the official SDK's (huaweicloudsdkmetastudio 3.1.219: StartSmartLiveReq, ShowSmartLiveResponse,
ControlSmartLiveReq, ListSmartLiveJobsResponse, ...).

Requests (`Out`) list their fields in the order of the document's tables and leave out what is
not set. Answers (`In`) ignore fields they do not know and require only what LiveDeck relies on.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator, model_validator

# Ranges the document gives as "字符长度a-b位" and "取值范围 a-b".
Str16 = Annotated[str, Field(max_length=16)]
Str32 = Annotated[str, Field(max_length=32)]
Str64 = Annotated[str, Field(max_length=64)]
Str256 = Annotated[str, Field(max_length=256)]
Str1024 = Annotated[str, Field(max_length=1024)]
Str2048 = Annotated[str, Field(max_length=2048)]
Name256 = Annotated[str, Field(min_length=1, max_length=256)]
Id64 = Annotated[str, Field(min_length=1, max_length=64)]
Url2048 = Annotated[str, Field(min_length=1, max_length=2048)]
Canvas = Annotated[int, Field(ge=-1920, le=3840)]
Pixels = Annotated[int, Field(ge=1, le=7680)]
FontSize = Annotated[int, Field(ge=0, le=120)]
Seconds3600 = Annotated[int, Field(ge=0, le=3600)]

PlayType = Literal["APPEND", "INSERT", "PLAY_NOW"]
CallbackEventType = Literal["SHOOT_SCRIPT_SWITCH", "RTMP_STREAM_STATE_CHANGE", "REPLY_COMMAND_FINISH"]
CALLBACK_EVENT_TYPES: tuple[CallbackEventType, ...] = (
    "SHOOT_SCRIPT_SWITCH",
    "RTMP_STREAM_STATE_CHANGE",
    "REPLY_COMMAND_FINISH",
)
JobState = Literal["WAITING", "PROCESSING", "SUCCEED", "FAILED", "BLOCKED"]


def compact(value: Any) -> bytes:
    """JSON as LiveDeck sends it: UTF-8, no spaces, keys in the order given."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class Out(BaseModel):
    """A request: exactly the vendor's fields; optional ones are left out rather than sent as null."""

    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def encode(self) -> bytes:
        return compact(self.dump())


class In(BaseModel):
    """An answer: validated, unknown fields ignored, numbers the vendor sends as strings accepted,
    and a null read as the field's default (the vendor sends null for what is not set)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_default(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {name: item for name, item in value.items() if item is not None}
        return value


# The room: 表3 请求Body参数 and the tables it refers to -----------------------------------------


class VoiceConfig(Out):
    """表34 VoiceConfig."""

    voice_asset_id: Annotated[str, Field(min_length=1, max_length=256)]
    speed: Annotated[int, Field(ge=50, le=200)] | None = None
    pitch: Annotated[int, Field(ge=50, le=200)] | None = None
    volume: Annotated[int, Field(ge=90, le=240)] | None = None


class BackgroundConfigInfo(Out):
    """表5 BackgroundConfigInfo: an image URL (IMAGE) or an RGB colour (COLOR)."""

    background_type: Literal["IMAGE", "COLOR"]
    background_config: Url2048 | None = None
    background_color_config: Str16 | None = None
    background_asset_id: Str64 | None = None


class LayerPositionConfig(Out):
    """表7 LayerPositionConfig: the top-left corner on the 1920x1080 (or 1080x1920) canvas."""

    dx: Canvas | None = None
    dy: Canvas | None = None
    layer_index: Annotated[int, Field(ge=1, le=100)] | None = None


class LayerSizeConfig(Out):
    """表8 LayerSizeConfig."""

    width: Pixels | None = None
    height: Pixels | None = None


class ImageLayerConfig(Out):
    """表9 ImageLayerConfig."""

    image_url: Url2048 | None = None


class VideoLayerConfig(Out):
    """表10 VideoLayerConfig: loop_count -1 loops for ever, 0 does not play."""

    video_url: Url2048 | None = None
    video_cover_url: Url2048 | None = None
    loop_count: Annotated[int, Field(ge=-1, le=100)] | None = None


class TextLayerConfig(Out):
    """表11 TextLayerConfig: text_context is the text base64-encoded."""

    text_context: Str1024 | None = None
    font_name: Str64 | None = None
    font_size: FontSize | None = None
    font_color: Str16 | None = None


class LayerConfig(Out):
    """表6 LayerConfig."""

    layer_type: Literal["HUMAN", "IMAGE", "VIDEO", "TEXT"]
    asset_id: Str64 | None = None
    group_id: Str64 | None = None
    position: LayerPositionConfig | None = None
    size: LayerSizeConfig | None = None
    image_config: ImageLayerConfig | None = None
    video_config: VideoLayerConfig | None = None
    text_config: TextLayerConfig | None = None


class TextConfig(Out):
    """表13 TextConfig: plain text or SSML (at most 10,000 characters without the tags)."""

    text: Annotated[str, Field(max_length=131072)]


class LiveAudioConfig(Out):
    """表14 LiveAudioConfig: an MP3 (under 100 MB) and its SRT subtitles."""

    asset_id: Str64 | None = None
    audio_url: Str2048 | None = None
    subtitle_url: Str2048 | None = None


class RelationProductInfo(Out):
    """表15 RelationProductInfo: carried back in the paragraph-switch callback."""

    product_id: str | None = None
    product_title: str | None = None


class LiveShootScriptItem(Out):
    """表12 LiveShootScriptItem: one paragraph of a scene."""

    sequence_no: Annotated[int, Field(ge=0, le=2147483647)]
    title: Str256 | None = None
    text_config: TextConfig | None = None
    audio_config: LiveAudioConfig | None = None
    relation_product: RelationProductInfo | None = None


class LiveVideoScriptInfo(Out):
    """表4 LiveVideoScriptInfo: one scene (剧本) of the room."""

    script_id: Id64 | None = None
    script_name: Name256
    script_description: Str1024 | None = None
    dh_id: Str64 | None = None
    model_asset_id: Str64 | None = None
    voice_config: VoiceConfig | None = None
    background_config: list[BackgroundConfigInfo] | None = None
    layer_config: list[LayerConfig] | None = None
    shoot_scripts: list[LiveShootScriptItem] | None = None


class LiveRoomInteractionConfig(Out):
    """表16 LiveRoomInteractionConfig."""

    play_type: PlayType | None = None
    ignore_current_sentence: bool | None = None


class HitConditionTag(Out):
    """表19 HitConditionTag: which field of the event (`tag`), how it is matched, against what."""

    tag: Str256 | None = None
    operation: Literal["SUM", "AVG", "COUNT", "NONE"] | None = None
    match: Literal["EQUAL", "REGEX", "MATH_GT", "MATH_GE", "MATH_LT", "MATH_LE", "MATH_EQ"] | None = None
    value: Str1024 | None = None


class HitCondition(Out):
    """表18 HitCondition: lower priority wins."""

    relation: Literal["AND", "OR", "RESERVED"] | None = None
    priority: Annotated[int, Field(ge=0, le=999)] | None = None
    tags: list[HitConditionTag] | None = None


class SmartImageLayerConfig(Out):
    """表22 SmartImageLayerConfig."""

    image_url: str | None = None
    display_duration: Seconds3600 | None = None


class SmartVideoLayerConfig(Out):
    """表23 SmartVideoLayerConfig."""

    video_url: str | None = None
    video_cover_url: str | None = None
    display_duration: Seconds3600 | None = None


class SmartTextLayerConfig(Out):
    """表24 SmartTextLayerConfig: DYNAMIC text has keywords replaced, STATIC is shown as it is."""

    text_type: Literal["DYNAMIC", "STATIC"] | None = None
    text_context: str | None = None
    font_name: str | None = None
    font_size: FontSize | None = None
    font_color: str | None = None
    display_duration: Seconds3600 | None = None


class SmartLayerConfig(Out):
    """表21 SmartLayerConfig: a layer a rule (or SHOW_LAYER) shows for a while."""

    layer_type: Literal["IMAGE", "VIDEO", "TEXT"] | None = None
    asset_id: str | None = None
    position: LayerPositionConfig | None = None
    size: LayerSizeConfig | None = None
    image_config: SmartImageLayerConfig | None = None
    video_config: SmartVideoLayerConfig | None = None
    text_config: SmartTextLayerConfig | None = None


class ReplyAudioInfo(Out):
    """表25 ReplyAudioInfo."""

    audio_url: str | None = None
    audio_name: str | None = None


class TriggerProcess(Out):
    """表20 TriggerProcess: what a rule does when it matches."""

    time_window: Annotated[int, Field(ge=-1, le=7200)] | None = None
    reply_mode: Literal["SYSTEM_REPLY", "CALLBACK", "SHOW_LAYER", "INTELLIGENT_REPLY"] | None = None
    layer_config: SmartLayerConfig | None = None
    extra_layer_config: SmartLayerConfig | None = None
    reply_texts: Annotated[list[Str1024], Field(max_length=5)] | None = None
    reply_audios: Annotated[list[ReplyAudioInfo], Field(max_length=5)] | None = None
    reply_order: Literal["RANDOM", "ORDER"] | None = None
    reply_role: Literal["STREAMER", "CO_STREAMER"] | None = None
    robot_id: Str64 | None = None
    play_type: PlayType | None = None


class ReviewConfig(Out):
    """表31 ReviewConfig."""

    no_need_review: bool | None = None


class LiveRoomInteractionRuleInfo(Out):
    """表17 LiveRoomInteractionRuleInfo: event_type 1 comment, 2 enter, 3 like, 4 gift, 10 script."""

    rule_index: Str64 | None = None
    rule_name: Str256 | None = None
    enabled: bool | None = None
    event_type: Annotated[int, Field(ge=0, le=100)] | None = None
    hit_condition: HitCondition | None = None
    trigger: TriggerProcess | None = None
    review_config: ReviewConfig | None = None
    group_id: Id64 | None = None
    group_name: Name256 | None = None
    enabled_scenes: Annotated[list[Name256], Field(max_length=100)] | None = None


class PlayPolicy(Out):
    """表26 PlayPolicy: repeat_count -1 repeats until stopped, n plays n + 1 times."""

    repeat_count: Annotated[int, Field(ge=-1, le=100)] | None = None
    auto_play_script: bool | None = None
    play_mode: Literal["TEXT", "AUDIO", "NO_PRESET"] | None = None
    random_play_mode: Literal["NONE", "SCENE", "SCRIPT_ITEM", "SCENE_AND_SCRIPT_ITEM"] | None = None
    need_independent_capture_client: bool | None = None


class SubtitleConfig(Out):
    """表28 SubtitleConfig."""

    dx: Annotated[int, Field(ge=0, le=1920)] | None = None
    dy: Annotated[int, Field(ge=0, le=1920)] | None = None
    font_name: Str64 | None = None
    font_size: FontSize | None = None
    h: Annotated[int, Field(ge=0, le=1920)] | None = None
    w: Annotated[int, Field(ge=0, le=1920)] | None = None


class VideoConfig(Out):
    """表27 VideoConfig: bitrate in kbps (lives: 1000-8000), lives are 1080x1920 or 1920x1080."""

    clip_mode: Literal["RESIZE", "CROP"] | None = None
    codec: Literal["H264", "VP8"] | None = None
    bitrate: Annotated[int, Field(ge=40, le=30000)] | None = None
    width: Annotated[int, Field(ge=0, le=3840)] | None = None
    height: Annotated[int, Field(ge=0, le=3840)] | None = None
    frame_rate: str | None = None
    is_subtitle_enable: bool | None = None
    subtitle_config: SubtitleConfig | None = None
    dx: Canvas | None = None
    dy: Canvas | None = None
    is_enable_super_resolution: bool | None = None


class LiveEventCallBackConfig(Out):
    """表29 LiveEventCallBackConfig: where MetaStudio sends live events and how it signs them."""

    live_event_type_callback_url: Str2048 | None = None
    auth_type: Literal["NONE", "MSS_A", "MSS_A_HEAD", "MEITUAN_DEFAULT"] | None = None
    key: Str32 | None = None
    callback_event_type: list[CallbackEventType] | None = None


class RTCLiveEventCallBackConfig(Out):
    """表30 RTCLiveEventCallBackConfig."""

    rtc_callback_event_type: list[Literal["LIVE_PROGRESS", "REPLY_COMMAND_FINISH"]] | None = None


class SharedConfig(Out):
    """表32 SharedConfig (templates only)."""

    shared_type: Literal["PRIVATE", "PUBLIC", "SHARED"] | None = None
    shared_state: Literal["PUBLISHED", "DRAFT", "REVIEW"] | None = None
    expire_time: Annotated[str, Field(max_length=20)] | None = None
    allowed_project_ids: Annotated[list[Id64], Field(max_length=100)] | None = None


class CoStreamerConfig(Out):
    """表33 CoStreamerConfig: a second voice, and what the anchor does while it speaks."""

    voice_config: VoiceConfig | None = None
    streamer_action: Literal["SILENCE", "VOLUME_DOWN"] | None = None


class PlatformLiveInfo(Out):
    """表35 PlatformLiveInfo."""

    platform_id: str | None = None
    live_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]*$")] | None = None


class SmartLiveRoom(Out):
    """表3 请求Body参数: the body of create room (POST) and update room (PUT)."""

    room_name: Name256
    room_description: Str1024 | None = None
    room_type: Literal["NORMAL", "TEMP", "TEMPLATE"] | None = None
    scene_scripts: list[LiveVideoScriptInfo] | None = None
    interaction_config: LiveRoomInteractionConfig | None = None
    interaction_rules: list[LiveRoomInteractionRuleInfo] | None = None
    play_policy: PlayPolicy | None = None
    video_config: VideoConfig | None = None
    # "当前仅支持一条RTMP出流地址"
    output_urls: Annotated[list[str], Field(max_length=1)] | None = None
    stream_keys: Annotated[list[str], Field(max_length=1)] | None = None
    backup_model_asset_ids: Annotated[list[Str64], Field(max_length=5)] | None = None
    live_event_callback_config: LiveEventCallBackConfig | None = None
    rtc_callback_config: RTCLiveEventCallBackConfig | None = None
    review_config: ReviewConfig | None = None
    shared_config: SharedConfig | None = None
    view_mode: Literal["LANDSCAPE", "VERTICAL"] | None = None
    co_streamer_config: CoStreamerConfig | None = None
    priv_data: Annotated[str, Field(max_length=8192)] | None = None
    relation_live_platform_info: PlatformLiveInfo | None = None


class CreatedRoom(In):
    """表37 响应Body参数."""

    room_id: str = Field(min_length=1)


# Rooms as the vendor shows them (list, show, and a job's GET_LIVE_JOB_CONFIG_INFO) ----------------


class SpokenText(In):
    text: str = ""


class PlayingShootScript(In):
    """A paragraph as the vendor reports it back (LiveShootScriptItem, LivePlayingShootScriptItem)."""

    sequence_no: int = 0
    title: str = ""
    text: str = ""
    text_config: SpokenText | None = None

    def spoken(self) -> str:
        return self.text or (self.text_config.text if self.text_config else "")


class PlayingScript(In):
    """A scene as the vendor reports it back (LiveVideoScriptInfo, LivePlayingScriptInfo)."""

    script_name: str = ""
    model_asset_id: str = ""
    shoot_scripts: list[PlayingShootScript] = Field(default_factory=list)


class PlayingScripts(In):
    """GET_CURRENT_PLAYING_SCRIPTS' result: LivePlayingScriptList, this round's scenes."""

    scene_scripts: list[PlayingScript] = Field(default_factory=list)


class RoomInteraction(In):
    play_type: str = ""


class RoomDetail(In):
    """ShowSmartLiveRoomResponse, and GET_LIVE_JOB_CONFIG_INFO's result (the same shape)."""

    room_id: str = ""
    room_name: str = ""
    room_state: str = ""
    priv_data: str = ""
    scene_scripts: list[PlayingScript] = Field(default_factory=list)
    interaction_config: RoomInteraction | None = None
    interaction_rules: list[dict[str, Any]] = Field(default_factory=list)
    output_urls: list[str] = Field(default_factory=list)


class RoomSummary(In):
    """SmartLiveRoomBaseInfo, one item of ListSmartLiveRoomsResponse."""

    room_id: str = Field(min_length=1)
    room_name: str = ""
    room_type: str = ""
    room_state: str = ""
    room_description: str = ""
    priv_data: str = ""
    last_job_status: str = ""


class RoomList(In):
    """ListSmartLiveRoomsResponse: `count` is the total, the page is `smart_live_rooms`."""

    count: int = 0
    smart_live_rooms: list[RoomSummary] = Field(default_factory=list)


# Start live ("Start live" in the notes; StartSmartLiveReq / StartSmartLiveResponse) ------------


class LiveJobRunConfig(Out):
    """LiveJobRunConfig: which resources a job may use, and one job per room."""

    allow_resource_type: Literal["PERIOD", "ONDEMAND", "UNLIMITED", "ONE_TIME"] | None = None
    single_job_in_room: bool | None = None


class StartJob(Out):
    """The body of POST .../smart-live-jobs."""

    video_config: VideoConfig | None = None
    play_policy: PlayPolicy | None = None
    output_urls: Annotated[list[str], Field(max_length=1)] | None = None
    stream_keys: Annotated[list[str], Field(max_length=1)] | None = None
    interaction_callback_url: Str2048 | None = None
    live_event_callback_config: LiveEventCallBackConfig | None = None
    rtc_callback_config: RTCLiveEventCallBackConfig | None = None
    view_mode: Literal["LANDSCAPE", "VERTICAL"] | None = None
    co_streamer_config: CoStreamerConfig | None = None
    job_run_config: LiveJobRunConfig | None = None


class RtcUser(In):
    """RTCUserInfo: user_type PLAYER is the one that watches."""

    user_type: str = ""
    user_id: str = ""
    signature: str = ""
    ctime: int | None = None


class RtcRoomInfo(In):
    """RTCRoomInfoList."""

    app_id: str = ""
    room_id: str = ""
    users: list[RtcUser] = Field(default_factory=list)

    def player(self) -> RtcUser | None:
        return next((user for user in self.users if user.user_type == "PLAYER"), None)


class LiveWarning(In):
    warning_type: str = ""


class StartedJob(In):
    """The answer to start live: the job, its RTC room and where live events go."""

    job_id: str = Field(min_length=1)
    rtc_room_info: RtcRoomInfo | None = None
    live_event_report_url: str = ""
    live_warning_info: list[LiveWarning] = Field(default_factory=list)
    limit_duration: int | None = None


# Jobs ("Job" in the notes; ShowSmartLiveResponse, SmartLiveJob) ---------------------------------


class ErrorInfo(In):
    """ErrorResponse, also the body of every 4xx/5xx answer ("Errors")."""

    error_code: str = ""
    error_msg: str = ""


class Job(In):
    """A live job: its state, times, error or block reason, RTC room."""

    job_id: str = Field(min_length=1)
    room_id: str = ""
    room_name: str = ""
    state: JobState
    duration: float | None = None
    start_time: str = ""
    end_time: str = ""
    error_info: ErrorInfo | None = None
    create_time: str = ""
    lastupdate_time: str = ""
    rtc_room_info: RtcRoomInfo | None = None
    live_event_report_url: str = ""
    stream_duration: float | None = None
    block_reason: str = ""
    cover_url: str = ""


class JobList(In):
    """ListSmartLiveJobsResponse: `count` is the total, the page is `smart_live_jobs`."""

    count: int = 0
    smart_live_jobs: list[Job] = Field(default_factory=list)


# Live commands ("Live command"; ControlSmartLiveReq and the params of each command) -------------

CommandName = Literal[
    "INSERT_PLAY_SCRIPT",
    "INSERT_PLAY_AUDIO",
    "REWRITE_PLAY_SCRIPT",
    "REWRITE_INTERACTION_RULES",
    "GET_CURRENT_PLAYING_SCRIPTS",
    "SHOW_LAYER",
    "REFRESH_OUTPUT_URL",
    "GET_LIVE_JOB_CONFIG_INFO",
    "CLEAN_UP_INSERT_COMMAND",
    "RESET_EXIT_CONFIG",
]


class Params(Out):
    """The params of a command; those that take none send `{}`."""


class PlayTextInfo(Params):
    """INSERT_PLAY_SCRIPT: a text (or SSML) reply."""

    text_config: TextConfig
    play_type: PlayType | None = None


class PlayAudioInfo(Params):
    """INSERT_PLAY_AUDIO: an audio reply."""

    audio_url: Str2048
    play_type: PlayType | None = None


class SceneScripts(Params):
    """REWRITE_PLAY_SCRIPT: the scenes, whose paragraphs not yet played are replaced."""

    scene_scripts: list[LiveVideoScriptInfo]


class InteractionRules(Params):
    """REWRITE_INTERACTION_RULES."""

    interaction_rules: list[LiveRoomInteractionRuleInfo]


class RefreshOutputUrl(Params):
    """REFRESH_OUTPUT_URL: the one RTMP output from now on, as the room's output_urls/stream_keys."""

    output_urls: Annotated[list[str], Field(min_length=1, max_length=1)]
    stream_keys: Annotated[list[str], Field(max_length=1)] | None = None


class LiveExitConfig(Params):
    """RESET_EXIT_CONFIG: hours until the live stops (0 never, at most 168), how it stops, and
    minutes of trouble before it stops (0 never, at most 60)."""

    max_live_duration: Annotated[int, Field(ge=0, le=168)]
    auto_stop_mode: Literal["FORCE_EXIT", "SEGMENT_END", "SCENE_END", "SCRIPT_END"]
    max_exception_waiting_duration: Annotated[int, Field(ge=0, le=60)]


class Command(Out):
    """The body of POST .../command."""

    command: CommandName
    # SHOW_LAYER's params (the SDK's LiveGuideRuleInfo, not defined anywhere LiveDeck can read) are
    # taken to be the layer itself, 表21 SmartLayerConfig, as a rule's SHOW_LAYER reply shows one.
    params: SerializeAsAny[Out] = Field(default_factory=Params)
    review_config: ReviewConfig | None = None


class CommandAnswer(In):
    """ExecuteSmartLiveCommandResponse: `result` is a string, JSON for the commands that read."""

    command_id: str = ""
    command: str = ""
    result: str | None = None

    @field_validator("result", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        # The SDK types it as a string; an answer that sends the object itself is read the same.
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False)
        return value


class InsertCommand(In):
    """InsertCommandItem: an inserted command not yet played; source EXTERNAL or AUTO (a rule)."""

    command_id: str = Field(min_length=1)
    command: str = ""
    params: dict[str, Any] | None = None
    source: str = ""


class InsertCommands(In):
    """ListInsertCommandsResponse."""

    count: int = 0
    insert_commands: list[InsertCommand] = Field(default_factory=list)


# Live events ("Live events"; ReportLiveEventReq, LiveEvent) -------------------------------------


class EventUser(Out):
    """The `user` of an event's content."""

    userId: str
    name: str
    level: int
    badge: str = ""
    badgeLevel: int = 0


class Gift(Out):
    giftName: str
    giftNum: int
    totalValue: int
    giftValue: int


class CommentContent(Out):
    """type 1."""

    user: EventUser
    content: str


class UserContent(Out):
    """type 2 (enters) and 3 (likes)."""

    user: EventUser


class GiftContent(Out):
    """type 4."""

    user: EventUser
    gift: Gift


class ViewersContent(Out):
    """type 6."""

    numberOfViewers: int


class LiveEvent(Out):
    """One event: `content` is its content model as a JSON string."""

    timestamp: int
    type: Annotated[int, Field(ge=1, le=6)]
    content: str


class LiveEventReport(Out):
    """The body of POST .../live-event-report."""

    total: int
    events: list[LiveEvent]


class LiveEventReported(In):
    """LiveEventReportResponse."""

    live_event_report_url: str = ""


# Callbacks to LiveDeck (表29 callback_event_type: `{"event_type", "message": "<JSON string>"}`) ---


class CallbackBody(In):
    event_type: CallbackEventType
    message: str

    @field_validator("message", mode="before")
    @classmethod
    def _json_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return value


class CallbackMessage(In):
    room_id: str = ""
    job_id: str = Field(min_length=1)


class ShootScriptSwitch(CallbackMessage):
    """SHOOT_SCRIPT_SWITCH: the avatar moved on to another paragraph."""

    scene_script_name: str = ""
    shoot_script_sequence_no: str = Field(min_length=1)
    shoot_script_title: str = ""


class RtmpStreamStateChange(CallbackMessage):
    """RTMP_STREAM_STATE_CHANGE: an RTMP output's link changed."""

    output_url: str = ""
    stream_key: str = ""
    state: Literal["CONNECTING", "CONNECTED", "DISCONNECTED", "RECONNECTING", "END"]


class ReplyCommandFinish(CallbackMessage):
    """REPLY_COMMAND_FINISH: an inserted reply finished playing."""

    reply_id: str = Field(min_length=1)
