"""Request bodies of the MetaStudio smart live API, as metastudio-create-smart-live-room.txt defines them.

Field names, enumerations and ranges are the document's tables (表3 - 表35); which fields are required
follows the official SDK's models, which the notes name as the reference client. Models are strict
(no "1" for 1) so that a driver which misreads a type is caught here rather than by the real vendor;
query strings are the exception, they are text by nature. Unknown fields are ignored, as a tolerant
server would: the SDK sends a few fields newer than the document (``PlayPolicy.live_exit_config``).

Command ``params`` follow the vendor's "直播控制HTTP Command命令说明" (PlayTextInfo, PlayAudioInfo) and
the SDK (LiveExitConfig); a few shapes neither defines are the sandbox's reading, said where they are.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

INT32_MAX = 2_147_483_647


def chars(max_length: int, min_length: int = 0) -> Any:
    """A string field of the document's "字符长度 min-max位"."""
    return Field(None, min_length=min_length, max_length=max_length)


Pixel = Annotated[int, Field(ge=-1920, le=3840)]
PlayType = Literal["APPEND", "INSERT", "PLAY_NOW"]
PlayRole = Literal["STREAMER", "CO_STREAMER"]
CallbackEvent = Literal["SHOOT_SCRIPT_SWITCH", "RTMP_STREAM_STATE_CHANGE", "REPLY_COMMAND_FINISH"]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class _Query(BaseModel):
    """Query-string parameters arrive as text; lax mode turns "2" into 2."""

    model_config = ConfigDict(extra="ignore")


# --- 表34 VoiceConfig, 表33 CoStreamerConfig --------------------------------------------------------


class VoiceConfig(_Strict):
    voice_asset_id: str = Field(min_length=1, max_length=256)
    speed: int = Field(100, ge=50, le=200)
    pitch: int = Field(100, ge=50, le=200)
    volume: int = Field(140, ge=90, le=240)


class CoStreamerConfig(_Strict):
    voice_config: VoiceConfig | None = None
    streamer_action: Literal["SILENCE", "VOLUME_DOWN"] | None = None


# --- 表5 - 表11: backgrounds and layers -------------------------------------------------------------


class BackgroundConfigInfo(_Strict):
    background_type: Literal["IMAGE", "COLOR"]
    background_config: str | None = chars(2048, 1)
    background_color_config: str | None = chars(16)
    background_asset_id: str | None = chars(64)

    @model_validator(mode="after")
    def _image_needs_url(self) -> BackgroundConfigInfo:
        # "background_type=IMAGE时需要填写" (background_config).
        if self.background_type == "IMAGE" and not self.background_config:
            raise ValueError("background_config is required when background_type is IMAGE")
        return self


class LayerPositionConfig(_Strict):
    dx: Pixel
    dy: Pixel
    layer_index: int = Field(ge=1, le=100)


class LayerSizeConfig(_Strict):
    width: int | None = Field(None, ge=1, le=7680)
    height: int | None = Field(None, ge=1, le=7680)


class ImageLayerConfig(_Strict):
    image_url: str | None = chars(2048, 1)


class VideoLayerConfig(_Strict):
    video_url: str | None = chars(2048, 1)
    video_cover_url: str | None = chars(2048, 1)
    loop_count: int = Field(-1, ge=-1, le=100)


class TextLayerConfig(_Strict):
    text_context: str | None = chars(1024)
    font_name: str | None = chars(64)
    font_size: int = Field(16, ge=0, le=120)
    font_color: str | None = chars(16)


class LayerConfig(_Strict):
    layer_type: Literal["HUMAN", "IMAGE", "VIDEO", "TEXT"]
    asset_id: str | None = chars(64)
    group_id: str | None = chars(64)
    position: LayerPositionConfig | None = None
    size: LayerSizeConfig | None = None
    image_config: ImageLayerConfig | None = None
    video_config: VideoLayerConfig | None = None
    text_config: TextLayerConfig | None = None


# --- 表4, 表12 - 表15: scenes and paragraphs ---------------------------------------------------------


class TextConfig(_Strict):
    # "不含SSML标签字符数最长10000个字符", "字符长度0-131072位".
    text: str = Field(max_length=131_072)


class LiveAudioConfig(_Strict):
    asset_id: str | None = chars(64)
    audio_url: str | None = chars(2048)
    subtitle_url: str | None = chars(2048)


class RelationProductInfo(_Strict):
    product_id: str | None = None
    product_title: str | None = None


class LiveShootScriptItem(_Strict):
    sequence_no: int | None = Field(None, ge=0, le=INT32_MAX)
    title: str | None = chars(256)
    text_config: TextConfig | None = None
    audio_config: LiveAudioConfig | None = None
    relation_product: RelationProductInfo | None = None


class LiveVideoScriptInfo(_Strict):
    script_id: str | None = chars(64, 1)
    script_name: str = Field(min_length=1, max_length=256)
    script_description: str | None = chars(1024)
    dh_id: str | None = chars(64)
    model_asset_id: str | None = chars(64)
    voice_config: VoiceConfig | None = None
    background_config: list[BackgroundConfigInfo] | None = None
    layer_config: list[LayerConfig] | None = None
    shoot_scripts: list[LiveShootScriptItem]


# --- 表16 - 表25: interaction -----------------------------------------------------------------------


class LiveRoomInteractionConfig(_Strict):
    play_type: PlayType = "INSERT"
    ignore_current_sentence: bool = False


class HitConditionTag(_Strict):
    tag: str | None = chars(256)
    operation: Literal["SUM", "AVG", "COUNT", "NONE"] = "NONE"
    match: Literal["EQUAL", "REGEX", "MATH_GT", "MATH_GE", "MATH_LT", "MATH_LE", "MATH_EQ"] | None = None
    value: str | None = chars(1024)

    @model_validator(mode="after")
    def _value_fits_match(self) -> HitConditionTag:
        if self.match == "REGEX":
            try:
                re.compile(self.value or "")
            except re.error as exc:
                raise ValueError(f"value is not a valid regular expression: {exc}") from exc
        elif self.match and self.match.startswith("MATH_"):
            try:
                float(self.value or "")
            except ValueError as exc:
                raise ValueError(f"value must be a number for {self.match}") from exc
        return self


class HitCondition(_Strict):
    relation: Literal["AND", "OR", "RESERVED"] | None = None
    priority: int = Field(500, ge=0, le=999)
    tags: list[HitConditionTag] | None = None


class SmartImageLayerConfig(_Strict):
    image_url: str = Field(min_length=1)
    display_duration: int = Field(0, ge=0, le=3600)


class SmartVideoLayerConfig(_Strict):
    video_url: str = Field(min_length=1)
    video_cover_url: str | None = None
    display_duration: int = Field(0, ge=0, le=3600)


class SmartTextLayerConfig(_Strict):
    text_type: Literal["DYNAMIC", "STATIC"] = "DYNAMIC"
    text_context: str | None = None
    font_name: Literal[
        "HarmonyOS_Sans_SC_Black", "HarmonyOS_Sans_SC_Regular", "HarmonyOS_Sans_SC_Thin", "fzyouh"
    ] = "HarmonyOS_Sans_SC_Black"
    font_size: int = Field(16, ge=0, le=120)
    font_color: str | None = None
    display_duration: int = Field(0, ge=0, le=3600)


class SmartLayerConfig(_Strict):
    layer_type: Literal["IMAGE", "VIDEO", "TEXT"]
    asset_id: str | None = None
    position: LayerPositionConfig | None = None
    size: LayerSizeConfig | None = None
    image_config: SmartImageLayerConfig | None = None
    video_config: SmartVideoLayerConfig | None = None
    text_config: SmartTextLayerConfig | None = None

    @property
    def display_duration(self) -> int:
        chosen = {"IMAGE": self.image_config, "VIDEO": self.video_config, "TEXT": self.text_config}
        config = chosen[self.layer_type]
        return config.display_duration if config is not None else 0


class ReplyAudioInfo(_Strict):
    audio_url: str | None = None
    audio_name: str | None = None


class TriggerProcess(_Strict):
    time_window: int | None = Field(None, ge=-1, le=7200)
    reply_mode: (
        Literal["SYSTEM_REPLY", "CALLBACK", "SYSTEM_REPLY_AND_CALLBACK", "SHOW_LAYER", "INTELLIGENT_REPLY"]
        | None
    ) = None
    layer_config: SmartLayerConfig | None = None
    extra_layer_config: SmartLayerConfig | None = None
    reply_texts: list[Annotated[str, Field(max_length=1024)]] | None = Field(None, max_length=5)
    reply_audios: list[ReplyAudioInfo] | None = Field(None, max_length=5)
    reply_order: Literal["RANDOM", "ORDER"] | None = None
    reply_role: PlayRole = "STREAMER"
    robot_id: str | None = chars(64)
    play_type: PlayType = "PLAY_NOW"

    @model_validator(mode="after")
    def _robot_for_llm(self) -> TriggerProcess:
        if self.reply_mode == "INTELLIGENT_REPLY" and not self.robot_id:
            raise ValueError("robot_id is required when reply_mode is INTELLIGENT_REPLY")
        return self


class ReviewConfig(_Strict):
    no_need_review: bool | None = None


class LiveRoomInteractionRuleInfo(_Strict):
    rule_index: str | None = chars(64)
    rule_name: str | None = chars(256)
    enabled: bool = True
    event_type: int | None = Field(None, ge=0, le=100)
    hit_condition: HitCondition | None = None
    trigger: TriggerProcess | None = None
    review_config: ReviewConfig | None = None
    group_id: str | None = chars(64, 1)
    group_name: str | None = chars(256, 1)
    enabled_scenes: list[Annotated[str, Field(min_length=1, max_length=256)]] | None = Field(
        None, max_length=100
    )


# --- 表26 PlayPolicy (and the SDK's LiveExitConfig), 表27 - 表28 video -------------------------------


class LiveExitConfig(_Strict):
    max_live_duration: int | None = Field(None, ge=0, le=168)
    auto_stop_mode: Literal["FORCE_EXIT", "SEGMENT_END", "SCENE_END", "SCRIPT_END"] | None = None
    max_exception_waiting_duration: int | None = Field(None, ge=0, le=60)


class PlayPolicy(_Strict):
    repeat_count: int = Field(0, ge=-1, le=100)
    auto_play_script: bool = True
    play_mode: Literal["TEXT", "AUDIO", "NO_PRESET"] = "TEXT"
    random_play_mode: Literal["NONE", "SCENE", "SCRIPT_ITEM", "SCENE_AND_SCRIPT_ITEM"] = "SCRIPT_ITEM"
    need_independent_capture_client: bool = False
    live_exit_config: LiveExitConfig | None = None
    is_rewrite_delay: bool = False


class SubtitleConfig(_Strict):
    dx: int | None = Field(None, ge=0, le=1920)
    dy: int | None = Field(None, ge=0, le=1920)
    font_name: str | None = chars(64)
    font_size: int = Field(54, ge=0, le=120)
    h: int | None = Field(None, ge=0, le=1920)
    w: int | None = Field(None, ge=0, le=1920)


LIVE_RESOLUTIONS = frozenset({(1080, 1920), (1920, 1080)})


class VideoConfig(_Strict):
    clip_mode: Literal["RESIZE", "CROP"] = "RESIZE"
    codec: Literal["H264", "VP8"] | None = None
    bitrate: int = Field(ge=40, le=30_000)
    width: int = Field(ge=0, le=3840)
    height: int = Field(ge=0, le=3840)
    frame_rate: str | None = None
    is_subtitle_enable: bool = False
    subtitle_config: SubtitleConfig | None = None
    dx: Pixel | None = None
    dy: Pixel | None = None
    is_enable_super_resolution: bool = False

    @model_validator(mode="after")
    def _live_limits(self) -> VideoConfig:
        # "分身数字人直播码率范围[1000, 8000]", "分身数字人直播目前只支持1080x1920、1920x1080".
        if not 1000 <= self.bitrate <= 8000:
            raise ValueError("bitrate of a live must be within [1000, 8000] kbps")
        if (self.width, self.height) not in LIVE_RESOLUTIONS:
            raise ValueError("a live supports only 1080x1920 and 1920x1080")
        return self


# --- 表29 - 表32, 表35 -------------------------------------------------------------------------------


class LiveEventCallBackConfig(_Strict):
    live_event_type_callback_url: str | None = chars(2048)
    auth_type: Literal["NONE", "MSS_A", "MSS_A_HEAD", "MEITUAN_DEFAULT"] = "NONE"
    key: str | None = chars(32)
    callback_event_type: list[CallbackEvent] | None = None

    @model_validator(mode="after")
    def _key_for_signing(self) -> LiveEventCallBackConfig:
        if self.auth_type in ("MSS_A", "MSS_A_HEAD") and not self.key:
            raise ValueError(f"key is required when auth_type is {self.auth_type}")
        return self


class RTCLiveEventCallBackConfig(_Strict):
    rtc_callback_event_type: list[Literal["LIVE_PROGRESS", "REPLY_COMMAND_FINISH"]] | None = None


class SharedConfig(_Strict):
    shared_type: Literal["PRIVATE", "PUBLIC", "SHARED"] | None = None
    shared_state: Literal["PUBLISHED", "DRAFT", "REVIEW"] | None = None
    expire_time: str | None = chars(20)
    allowed_project_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=100
    )


class PlatformLiveInfo(_Strict):
    platform_id: str
    live_id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")


RtmpList = Annotated[list[str], Field(max_length=1)]  # "当前仅支持一条RTMP出流地址"


class SmartLiveRoom(_Strict):
    """表3: the body of create (and of update, which replaces the room whole)."""

    room_name: str = Field(min_length=1, max_length=256)
    room_description: str | None = chars(1024)
    room_type: Literal["NORMAL", "TEMP", "TEMPLATE"] = "NORMAL"
    scene_scripts: list[LiveVideoScriptInfo] | None = None
    interaction_config: LiveRoomInteractionConfig | None = None
    interaction_rules: list[LiveRoomInteractionRuleInfo] | None = None
    play_policy: PlayPolicy | None = None
    video_config: VideoConfig | None = None
    output_urls: RtmpList | None = None
    stream_keys: RtmpList | None = None
    backup_model_asset_ids: list[Annotated[str, Field(max_length=64)]] | None = Field(None, max_length=5)
    live_event_callback_config: LiveEventCallBackConfig | None = None
    rtc_callback_config: RTCLiveEventCallBackConfig | None = None
    review_config: ReviewConfig | None = None
    shared_config: SharedConfig | None = None
    view_mode: Literal["LANDSCAPE", "VERTICAL"] | None = None
    co_streamer_config: CoStreamerConfig | None = None
    priv_data: str | None = chars(8192)
    relation_live_platform_info: PlatformLiveInfo | None = None


# --- Start live (the notes' "Start live", the SDK's StartSmartLiveReq) ----------------------------


class LiveJobRunConfig(_Strict):
    allow_resource_type: Literal["PERIOD", "ONDEMAND", "UNLIMITED", "ONE_TIME"] | None = None
    single_job_in_room: bool = True


class StartSmartLive(_Strict):
    """Every field overrides the room's for this job only."""

    video_config: VideoConfig | None = None
    play_policy: PlayPolicy | None = None
    output_urls: RtmpList | None = None
    stream_keys: RtmpList | None = None
    interaction_callback_url: str | None = chars(2048)
    live_event_callback_config: LiveEventCallBackConfig | None = None
    rtc_callback_config: RTCLiveEventCallBackConfig | None = None
    view_mode: Literal["LANDSCAPE", "VERTICAL"] | None = None
    co_streamer_config: CoStreamerConfig | None = None
    job_run_config: LiveJobRunConfig | None = None


# --- Live command ---------------------------------------------------------------------------------

Command = Literal[
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


class ControlSmartLive(_Strict):
    command: Command
    params: dict[str, Any] | None = None
    review_config: ReviewConfig | None = None


class PlayTextInfo(_Strict):
    """INSERT_PLAY_SCRIPT. The vendor's PlayTextInfo nests the words in ``text_config.text``; a flat
    ``text`` is accepted too. ``play_type`` left out: the room's ``interaction_config.play_type``."""

    text_config: TextConfig | None = None
    text: str | None = Field(None, max_length=131_072)
    play_type: PlayType | None = None
    play_role: PlayRole = "STREAMER"
    rule_index: str | None = chars(64)

    @model_validator(mode="after")
    def _has_words(self) -> PlayTextInfo:
        if not self.words:
            raise ValueError("text_config.text (or text) must not be empty")
        return self

    @property
    def words(self) -> str:
        return self.text_config.text if self.text_config is not None else (self.text or "")


class PlayAudioInfo(_Strict):
    """INSERT_PLAY_AUDIO. An empty audio_url has nothing to play and is refused."""

    audio_url: str = Field(min_length=1, max_length=2048)
    play_type: PlayType | None = None
    play_role: PlayRole = "STREAMER"
    rule_index: str | None = chars(64)


class RewritePlayScript(_Strict):
    scene_scripts: list[LiveVideoScriptInfo] = Field(min_length=1)


class RewriteInteractionRules(_Strict):
    interaction_rules: list[LiveRoomInteractionRuleInfo]


class RefreshOutputUrl(_Strict):
    """The SDK calls it RefreshOutputUrlConfig and leaves it undefined: the room's two RTMP fields."""

    output_urls: RtmpList
    stream_keys: RtmpList | None = None


# --- Live events (the notes' "Live events", the SDK's ReportLiveEventReq / LiveEvent) -------------


class LiveEvent(_Strict):
    timestamp: int = Field(ge=0)
    type: int = Field(ge=1, le=6)
    content: str = "{}"

    @field_validator("content")
    @classmethod
    def _json_object(cls, value: str) -> str:
        try:
            parsed = json.loads(value or "{}")
        except ValueError as exc:
            raise ValueError("content must be a JSON string") from exc
        if not isinstance(parsed, dict):
            raise ValueError("content must be a JSON object encoded as a string")
        return value


class ReportLiveEvent(_Strict):
    total: int = Field(ge=0)
    events: list[LiveEvent] = Field(default_factory=list)
    review_config: ReviewConfig | None = None

    @model_validator(mode="after")
    def _total_counts_events(self) -> ReportLiveEvent:
        if self.total != len(self.events):
            raise ValueError(f"total is {self.total} but {len(self.events)} events were sent")
        return self


class LiveEventReportQuery(_Query):
    auth_key: str | None = None
    expires_time: int | None = None
    refresh_url: bool = False


# --- Lists ----------------------------------------------------------------------------------------


class PageQuery(_Query):
    offset: int = Field(0, ge=0, le=INT32_MAX)
    limit: int = Field(10, ge=1, le=100)


class RoomQuery(PageQuery):
    room_name: str | None = None
    room_type: Literal["NORMAL", "TEMP", "TEMPLATE"] | None = None
    live_state: str | None = None


class JobQuery(PageQuery):
    state: str | None = None
    sort_key: Literal["create_time", "update_time"] | None = None
    sort_dir: Literal["asc", "desc"] = "asc"
    create_since: str | None = None
    create_until: str | None = None
    room_name: str | None = None


class RuleGroupQuery(PageQuery):
    group_name: str | None = None
    create_since: str | None = None
    create_until: str | None = None


# --- Interaction rule libraries (the SDK's InteractionRuleGroup, CreateInteractionRuleReq) --------


class InteractionRule(_Strict):
    rule_index: str | None = chars(64)
    rule_name: str | None = chars(256)
    enabled: bool = True
    event_type: int | None = Field(None, ge=0, le=100)
    hit_condition: HitCondition | None = None
    trigger: TriggerProcess | None = None
    review_config: ReviewConfig | None = None


class InteractionRuleGroup(_Strict):
    group_name: str = Field(min_length=1, max_length=256)
    interaction_rules: list[InteractionRule] | None = None


# --- Sandbox control ------------------------------------------------------------------------------


class AccountBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sk: str = Field(min_length=1)
    project_id: str = Field(min_length=1, max_length=64)
    token: str | None = Field(None, min_length=1)


class KillBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["FAILED", "BLOCKED"] = "FAILED"
    error_code: str = "MSS.00000004"
    error_msg: str = "live job killed (sandbox)"


class RtmpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: Literal["CONNECTING", "CONNECTED", "DISCONNECTED", "RECONNECTING", "END"]
