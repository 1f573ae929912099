"""Huawei Cloud MetaStudio smart live (vendor-docs/metastudio-create-smart-live-room.txt for the
room, vendor-docs/metastudio-smart-live-notes.md for the rest), as LiveDeck reads it (issue 5).

A LiveDeck room is a MetaStudio smart live room, created the first time it goes live and updated
with the room's current show every time after; a live session is a job started in that room.
Hosts' takeovers are inserted commands, the script can be rewritten and layers shown during a
live, and the audience is reported to the platform, which matches the interaction rules itself.
Every call is signed with the account's AK/SK (or carries its IAM token), see `metastudio_auth`.

Comments name the section of the notes (or the table of the room document) each call implements.
Requests and answers are the models of `metastudio_models`; nothing outside this module sees a
vendor dict.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import quote

import httpx
from django.conf import settings
from pydantic import BaseModel, ValidationError

from rooms.fields import mask
from rooms.platforms.base import (
    AudienceEvent,
    CallbackEvent,
    Capability,
    Driver,
    HistoryEntry,
    HistoryPage,
    LiveState,
    LiveStatus,
    NowPlaying,
    Paragraph,
    PlatformError,
    Preview,
    Receipt,
    RtcInfo,
    RunningSession,
    SessionInfo,
    ShownLayer,
    TakeoverRequest,
    TakeoverState,
    VendorRoom,
)
from rooms.platforms.metastudio_auth import AkSkAuth, TokenAuth
from rooms.platforms.metastudio_models import (
    CALLBACK_EVENT_TYPES,
    BackgroundConfigInfo,
    CallbackBody,
    Command,
    CommandAnswer,
    CommandName,
    CommentContent,
    CoStreamerConfig,
    CreatedRoom,
    ErrorInfo,
    EventUser,
    Gift,
    GiftContent,
    HitCondition,
    HitConditionTag,
    ImageLayerConfig,
    InsertCommands,
    InteractionRules,
    Job,
    JobList,
    LayerConfig,
    LayerPositionConfig,
    LayerSizeConfig,
    LiveEvent,
    LiveEventCallBackConfig,
    LiveEventReport,
    LiveEventReported,
    LiveExitConfig,
    LiveRoomInteractionConfig,
    LiveRoomInteractionRuleInfo,
    LiveShootScriptItem,
    LiveVideoScriptInfo,
    Out,
    Params,
    PlayAudioInfo,
    PlayingScript,
    PlayingScripts,
    PlayPolicy,
    PlayTextInfo,
    RefreshOutputUrl,
    ReplyCommandFinish,
    RoomDetail,
    RoomList,
    RtcRoomInfo,
    RtmpStreamStateChange,
    SceneScripts,
    ShootScriptSwitch,
    SmartImageLayerConfig,
    SmartLayerConfig,
    SmartLiveRoom,
    SmartTextLayerConfig,
    SmartVideoLayerConfig,
    StartedJob,
    StartJob,
    TextConfig,
    TextLayerConfig,
    TriggerProcess,
    UserContent,
    VideoConfig,
    VideoLayerConfig,
    ViewersContent,
    VoiceConfig,
)

if TYPE_CHECKING:
    from rooms.models import LiveSession, Room, Script

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
Query = list[tuple[str, str | int | float | bool | None]]

# Job states ("Job"): the host's words for those that are not the happy path.
JOB_STATES: dict[str, tuple[LiveState, str]] = {
    "WAITING": (LiveState.CREATING, ""),
    "PROCESSING": (LiveState.LIVE, ""),
    "SUCCEED": (LiveState.ENDED, ""),
    "FAILED": (LiveState.FAILED, "The live failed"),
    "BLOCKED": (LiveState.DROPPED, "MetaStudio blocked the live"),
}
OPEN_JOBS = "WAITING,PROCESSING"
ENDED_JOBS = "SUCCEED,FAILED,BLOCKED"
# Lists are read this many items at a time, and never more than this many pages.
PAGE_LIMIT = 100
MAX_PAGES = 100
# Live events: LiveDeck's kinds of audience event and the document's event types.
EVENT_TYPES = {"comment": 1, "enter": 2, "like": 3, "gift": 4, "viewers": 6}


# The room (表3) from LiveDeck's rows ---------------------------------------------------------------


def room_body(room: Room) -> SmartLiveRoom:
    """The create / update room body for `room`: its script as the one scene, its rules, video,
    output and callback settings. Reads only rows the caller prefetched (script, its paragraphs and
    layers, the room's rules, the account); raises PlatformError(permanent) for what MetaStudio
    would refuse."""
    script = room.script
    urls = room.push_url_list()[:1]

    def build() -> SmartLiveRoom:
        co_streamer = None
        if room.co_streamer_voice_id:
            co_streamer = CoStreamerConfig(
                voice_config=VoiceConfig(voice_asset_id=room.co_streamer_voice_id),
                streamer_action=room.co_streamer_action,
            )
        return SmartLiveRoom(
            room_name=room.name,
            room_description=room.description or None,
            room_type="NORMAL",
            scene_scripts=[_scene(script, _script_paragraphs(script))],
            interaction_config=LiveRoomInteractionConfig(
                play_type=room.ms_play_type, ignore_current_sentence=room.ms_ignore_current_sentence
            ),
            interaction_rules=_rules(room),
            play_policy=_play_policy(script),
            video_config=_video_config(room),
            output_urls=urls or None,
            stream_keys=[room.stream_key] if urls and room.stream_key else None,
            backup_model_asset_ids=room.backup_anchor_list() or None,
            live_event_callback_config=_callback_config(room),
            co_streamer_config=co_streamer,
            priv_data=json.dumps({"livedeck_room": room.pk}, separators=(",", ":")),
        )

    return _built(build)


def start_body(room: Room) -> StartJob:
    """The start live body ("Start live"): the room's video, play policy, output and callbacks."""
    urls = room.push_url_list()[:1]
    return _built(
        lambda: StartJob(
            video_config=_video_config(room),
            play_policy=_play_policy(room.script),
            output_urls=urls or None,
            stream_keys=[room.stream_key] if urls and room.stream_key else None,
            live_event_callback_config=_callback_config(room),
            view_mode=_view_mode(room),
        )
    )


def _built(build: Callable[[], T]) -> T:
    try:
        return build()
    except ValidationError as exc:
        raise PlatformError(
            f"MetaStudio would refuse this room: {_first_error(exc)}", permanent=True, code="invalid"
        ) from None


def _script_paragraphs(script: Script) -> list[Paragraph]:
    """The script's paragraphs numbered from 0 in order; the opening text when it has none."""
    paragraphs = [
        Paragraph(sequence_no=number, title=paragraph.title, text=paragraph.text)
        for number, paragraph in enumerate(script.paragraphs.all())
    ]
    return paragraphs or [Paragraph(sequence_no=0, title="", text=script.opening_text)]


def _scene(script: Script, paragraphs: Sequence[Paragraph]) -> LiveVideoScriptInfo:
    """表4: the script as one scene: anchor, voice, image background, layers, paragraphs."""
    voice = None
    if script.ms_voice_asset_id:
        voice = VoiceConfig(
            voice_asset_id=script.ms_voice_asset_id,
            speed=script.ms_voice_speed,
            pitch=script.ms_voice_pitch,
            volume=script.ms_voice_volume,
        )
    backgrounds = None
    if script.background_url and script.background_type == script.BackgroundType.IMAGE:
        backgrounds = [BackgroundConfigInfo(background_type="IMAGE", background_config=script.background_url)]
    layers = [_layer(layer) for layer in script.layers.all()]
    return LiveVideoScriptInfo(
        script_name=script.name,
        model_asset_id=script.ms_model_asset_id or None,
        voice_config=voice,
        background_config=backgrounds,
        layer_config=layers or None,
        shoot_scripts=[
            LiveShootScriptItem(
                sequence_no=paragraph.sequence_no,
                title=paragraph.title or None,
                text_config=TextConfig(text=paragraph.text),
            )
            for paragraph in paragraphs
        ],
    )


def _layer(layer: Any) -> LayerConfig:
    """表6-表11: a ScriptLayer; a text layer's text goes base64-encoded (表11 text_context)."""
    image = video = text = None
    if layer.kind == "IMAGE":
        image = ImageLayerConfig(image_url=layer.url)
    elif layer.kind == "VIDEO":
        video = VideoLayerConfig(
            video_url=layer.url, video_cover_url=layer.video_cover_url or None, loop_count=layer.loop_count
        )
    else:
        text = TextLayerConfig(
            text_context=base64.b64encode(layer.text.encode()).decode(),
            font_name=layer.font_name,
            font_size=layer.font_size,
            font_color=layer.font_color,
        )
    return LayerConfig(
        layer_type=layer.kind,
        position=LayerPositionConfig(dx=layer.x, dy=layer.y, layer_index=layer.layer_index),
        size=LayerSizeConfig(width=layer.width, height=layer.height),
        image_config=image,
        video_config=video,
        text_config=text,
    )


def _rules(room: Room) -> list[LiveRoomInteractionRuleInfo]:
    """表17-表20: each rule matches one field of one kind of event and replies with its texts."""
    return [
        LiveRoomInteractionRuleInfo(
            rule_name=rule.name,
            enabled=rule.enabled,
            event_type=rule.event_type,
            hit_condition=HitCondition(
                relation="AND",
                priority=rule.priority,
                tags=[
                    HitConditionTag(
                        tag=rule.tag,
                        operation="NONE",
                        match=rule.match,
                        value=rule.value,
                    )
                ],
            ),
            trigger=TriggerProcess(
                time_window=rule.time_window,
                reply_mode="SYSTEM_REPLY",
                reply_texts=rule.reply_list(),
                reply_order=rule.reply_order,
            ),
        )
        for rule in room.rules.all()
    ]


def _play_policy(script: Script) -> PlayPolicy:
    """表26: the paragraphs are spoken by TTS, repeated and shuffled as the script says."""
    return PlayPolicy(
        repeat_count=script.ms_repeat_count,
        auto_play_script=True,
        play_mode="TEXT",
        random_play_mode=script.ms_random_play_mode,
    )


def _video_config(room: Room) -> VideoConfig:
    """表27: H264 at the room's size, its bitrate in kbps."""
    return VideoConfig(
        clip_mode="RESIZE",
        codec="H264",
        bitrate=round(room.bitrate * 1000),
        width=room.resolution_width,
        height=room.resolution_height,
        frame_rate="25",
    )


def _view_mode(room: Room) -> str:
    return "LANDSCAPE" if room.resolution_width > room.resolution_height else "VERTICAL"


def _callback_config(room: Room) -> LiveEventCallBackConfig:
    """表29: every live event to the account's callback URL, signed as the room says with the
    account's key (none for NONE: the unguessable URL is the credential)."""
    account = room.account
    signed = room.callback_auth != "NONE"
    return LiveEventCallBackConfig(
        live_event_type_callback_url=settings.SITE_URL + account.callback_path(),
        auth_type=room.callback_auth,
        key=account.credential("callback_secret") if signed else None,
        callback_event_type=list(CALLBACK_EVENT_TYPES),
    )


# Answers onto LiveDeck's shapes -------------------------------------------------------------------


def _job_status(job: Job) -> LiveStatus:
    """ "Job" state onto LiveState; the reason of a failed or blocked job is the vendor's."""
    state, reason = JOB_STATES[job.state]
    detail = ""
    if job.state == "FAILED" and job.error_info is not None:
        error = job.error_info
        detail = f"{error.error_msg} ({error.error_code})" if error.error_code else error.error_msg
    elif job.state == "BLOCKED":
        detail = job.block_reason
    if reason and detail:
        reason = f"{reason}: {detail}"
    return LiveStatus(state=state, vendor_code=job.state, reason=reason, rtc=_rtc(job.rtc_room_info))


def _rtc(info: RtcRoomInfo | None) -> RtcInfo | None:
    """The RTC room as a viewer (the PLAYER user) joins it."""
    if info is None or not (info.app_id and info.room_id):
        return None
    player = info.player()
    return RtcInfo(
        app_id=info.app_id,
        channel_id=info.room_id,
        uid=player.user_id if player else "",
        token=player.signature if player else "",
    )


def _livedeck_room(priv_data: str) -> int | None:
    """The LiveDeck room a vendor room was made for, from the priv_data room_body writes."""
    try:
        value = json.loads(priv_data).get("livedeck_room")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None


def _paragraphs(scene: PlayingScript) -> tuple[Paragraph, ...]:
    return tuple(
        Paragraph(sequence_no=item.sequence_no, title=item.title, text=item.spoken())
        for item in scene.shoot_scripts
    )


def _vendor_room(detail: RoomDetail) -> VendorRoom:
    scene = detail.scene_scripts[0] if detail.scene_scripts else PlayingScript()
    return VendorRoom(
        vendor_room_id=detail.room_id,
        name=detail.room_name,
        state=detail.room_state,
        livedeck_room_id=_livedeck_room(detail.priv_data),
        paragraphs=_paragraphs(scene),
        rules=len(detail.interaction_rules),
        output_urls=tuple(detail.output_urls),
        play_type=detail.interaction_config.play_type if detail.interaction_config else "",
    )


def _event(event: AudienceEvent, now_ms: int) -> LiveEvent:
    """ "Live events": one audience event, its content a JSON string."""
    kind = EVENT_TYPES.get(event.kind)
    if kind is None:
        raise PlatformError(f"MetaStudio takes no audience event of kind {event.kind!r}", permanent=True)
    user = EventUser(userId=event.user_id, name=event.name, level=event.level)
    content: Out
    if event.kind == "comment":
        content = CommentContent(user=user, content=event.text)
    elif event.kind == "gift":
        value = round(event.gift_value)
        gift = Gift(
            giftName=event.gift_name,
            giftNum=event.gift_num,
            totalValue=value * event.gift_num,
            giftValue=value,
        )
        content = GiftContent(user=user, gift=gift)
    elif event.kind == "viewers":
        content = ViewersContent(numberOfViewers=event.viewers)
    else:
        content = UserContent(user=user)
    return LiveEvent(timestamp=event.timestamp_ms or now_ms, type=kind, content=content.encode().decode())


def _smart_layer(layer: ShownLayer) -> SmartLayerConfig:
    """表21-表24: a guide layer shown for `seconds`, as a rule's SHOW_LAYER reply shows one (the
    SHOW_LAYER command's params: see `metastudio_models.Command`)."""
    kind = layer.kind.upper()
    image = video = text = None
    if kind == "IMAGE":
        image = SmartImageLayerConfig(image_url=layer.url, display_duration=layer.seconds)
    elif kind == "VIDEO":
        video = SmartVideoLayerConfig(
            video_url=layer.url, video_cover_url=layer.video_cover_url or None, display_duration=layer.seconds
        )
    else:
        # 表24 takes the text as it is (unlike 表11's base64), STATIC: no keywords to replace.
        text = SmartTextLayerConfig(
            text_type="STATIC",
            text_context=layer.text,
            font_name=layer.font_name or None,
            font_size=layer.font_size or None,
            font_color=layer.font_color or None,
            display_duration=layer.seconds,
        )
    return SmartLayerConfig(
        layer_type=kind,
        position=LayerPositionConfig(dx=layer.x, dy=layer.y, layer_index=layer.layer_index),
        size=LayerSizeConfig(width=layer.width, height=layer.height),
        image_config=image,
        video_config=video,
        text_config=text,
    )


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def _q(segment: str) -> str:
    return quote(segment, safe="")


class _VendorError(PlatformError):
    """A refusal with its HTTP status, for the calls that treat a 404 as an answer."""

    def __init__(self, message: str, *, status: int, permanent: bool, code: str) -> None:
        super().__init__(message, permanent=permanent, code=code)
        self.status = status


class _Monitor(BaseModel):
    """The sandbox's program monitor of a job (GET /_sandbox/metastudio/jobs/{job_id})."""

    state: str
    anchor: str | None = None
    background: dict[str, Any] | None = None
    subtitle: str = ""
    paragraph: dict[str, Any] | None = None


_MONITOR_STATES = {"WAITING": "creating", "PROCESSING": "live", "SUCCEED": "ended", "FAILED": "failed"}


class MetaStudioDriver(Driver):
    queue_holds_playing = False  # insert-commands lists the inserts not yet played
    """MetaStudio smart live over HTTPS, signed with the account's AK/SK or its IAM token."""

    kind: ClassVar[str] = "metastudio"
    base_capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.RTC,
            Capability.RUNNING_LIST,
            Capability.HISTORY,
            Capability.HEARTBEAT,
            Capability.TAKEOVER_INTERRUPT,
            Capability.TAKEOVER_QUEUE,
            Capability.SSML,
            Capability.SCRIPT_REWRITE,
            Capability.RULES_REWRITE,
            Capability.OUTPUT_REFRESH,
            Capability.SHOW_LAYER,
            Capability.NOW_PLAYING,
            Capability.EXIT_CONFIG,
            Capability.EVENT_REPORT,
            Capability.VENDOR_ROOMS,
        }
    )

    def __init__(self, account: Any, client: httpx.AsyncClient) -> None:
        super().__init__(account, client)
        self._auth_memo: httpx.Auth | None = None

    # Session lifecycle ----------------------------------------------------------------------

    async def open_session(self, room: Room, session: LiveSession) -> SessionInfo:
        """Create the vendor room (or update it with the room's current show; a room the vendor
        lost is created again), then start a job in it. Comes back CREATING (WAITING)."""
        body = room_body(room)
        room_id = room.vendor_room_id
        if room_id:
            try:
                # 表3, through PUT .../smart-live-rooms/{room_id} ("Endpoints": update room)
                await self._call("PUT", f"/smart-live-rooms/{_q(room_id)}", RoomDetail, body=body)
            except _VendorError as exc:
                if exc.status != 404:
                    raise
                room_id = ""
        created = not room_id
        if created:
            # 创建智能直播间: POST /smart-live-rooms
            room_id = (await self._call("POST", "/smart-live-rooms", CreatedRoom, body=body)).room_id
        try:
            # "Start live": POST .../smart-live-jobs
            started = await self._call(
                "POST", f"/smart-live-rooms/{_q(room_id)}/smart-live-jobs", StartedJob, body=start_body(room)
            )
        except PlatformError as exc:
            if created and exc.permanent:
                # Nothing runs in a room that was refused a job: leave no room behind.
                await self._forget_room(room_id)
            raise
        rtc = _rtc(started.rtc_room_info)
        return SessionInfo(
            vendor_session_id=started.job_id,
            session_token="",
            status=LiveStatus(state=LiveState.CREATING, vendor_code="WAITING", rtc=rtc),
            vendor_data={
                "live_id": room_id,
                "live_event_report_url": started.live_event_report_url,
                "rtc": {}
                if rtc is None
                else {"app_id": rtc.app_id, "channel_id": rtc.channel_id, "uid": rtc.uid},
                "callback_auth": room.callback_auth,
                "warnings": [warning.warning_type for warning in started.live_warning_info],
                "limit_duration": started.limit_duration,
            },
        )

    async def start(self, session: LiveSession) -> None:
        """Nothing to do: a job streams by itself once it leaves WAITING."""

    async def heartbeat(self, session: LiveSession) -> LiveStatus | None:
        """MetaStudio jobs need no keep-alive: this shows the job and returns its state, so that
        the heartbeat beat notices a job that ended, failed or was blocked."""
        return await self.status(session)

    async def status(self, session: LiveSession) -> LiveStatus:
        """The job's state, reason and RTC room ("Job")."""
        # GET .../smart-live-jobs/{job_id}
        return _job_status(await self._call("GET", self._job_path(session), Job))

    async def close(self, session: LiveSession) -> None:
        """Stop the job; a job the vendor no longer knows is stopped already."""
        try:
            # POST .../smart-live-jobs/{job_id}/stop
            await self._request("POST", f"{self._job_path(session)}/stop")
        except _VendorError as exc:
            if exc.status != 404:
                raise

    async def running(self) -> list[RunningSession]:
        """Every WAITING or PROCESSING job of the account, in any room."""
        return [
            RunningSession(vendor_session_id=job.job_id, status=_job_status(job))
            async for job in self._jobs(state=OPEN_JOBS)
        ]

    async def history(self, *, page: int = 1, page_size: int = 10) -> HistoryPage:
        """One page of the account's ended jobs (SUCCEED, FAILED, BLOCKED), newest first."""
        page, page_size = max(page, 1), max(page_size, 1)
        # "list all jobs": GET /smart-live-jobs
        answer = await self._call(
            "GET",
            "/smart-live-jobs",
            JobList,
            params=[
                ("offset", str((page - 1) * page_size)),
                ("limit", str(page_size)),
                ("state", ENDED_JOBS),
                ("sort_key", "create_time"),
                ("sort_dir", "desc"),
            ],
        )
        return HistoryPage(
            entries=[
                HistoryEntry(
                    vendor_session_id=job.job_id,
                    status=_job_status(job),
                    started=job.start_time or job.create_time,
                    ended=job.end_time,
                )
                for job in answer.smart_live_jobs
            ],
            page=page,
            pages=math.ceil(answer.count / page_size),
            total=answer.count,
        )

    # Takeovers: inserted commands ("Live command") ------------------------------------------------

    async def takeover(
        self,
        session: LiveSession,
        item: TakeoverRequest,
        *,
        position: int | None = None,
        interrupt: bool = False,
    ) -> Receipt:
        """Insert a text (INSERT_PLAY_SCRIPT) or audio (INSERT_PLAY_AUDIO) reply: PLAY_NOW when
        it interrupts, else as the room plays takeovers (APPEND or INSERT; MetaStudio has no
        positions, so `position` is not used)."""
        room = session.room
        play_type = "PLAY_NOW" if interrupt else (room.ms_play_type if room is not None else "INSERT")
        name: CommandName
        params: Params
        if item.text:
            name = "INSERT_PLAY_SCRIPT"
            params = _built(lambda: PlayTextInfo(text_config=TextConfig(text=item.text), play_type=play_type))
        elif item.audio_url:
            name = "INSERT_PLAY_AUDIO"
            params = _built(lambda: PlayAudioInfo(audio_url=item.audio_url, play_type=play_type))
        else:
            raise PlatformError("A takeover needs text or an audio file", permanent=True)
        answer = await self._command(session, name, params)
        if not answer.command_id:
            raise PlatformError("MetaStudio did not say which command it inserted", code="malformed")
        return Receipt(trace_id=answer.command_id, state=TakeoverState.QUEUED, message=answer.result or "")

    async def cancel(self, session: LiveSession, trace_ids: list[str] | None) -> None:
        """Drop every inserted command not yet played (CLEAN_UP_INSERT_COMMAND); MetaStudio
        cannot cancel chosen ones."""
        if trace_ids is not None:
            if not trace_ids:
                return
            raise PlatformError(
                "MetaStudio can only clear all inserted takeovers, not chosen ones", permanent=True
            )
        await self._command(session, "CLEAN_UP_INSERT_COMMAND", Params())

    async def queue(self, session: LiveSession) -> list[str]:
        """The inserted commands not yet played, in the vendor's order ("list insert commands")."""
        ids: list[str] = []
        path = f"{self._job_path(session)}/command/insert-commands"
        for offset in range(0, PAGE_LIMIT * MAX_PAGES, PAGE_LIMIT):
            page = await self._call(
                "GET", path, InsertCommands, params=[("offset", str(offset)), ("limit", str(PAGE_LIMIT))]
            )
            ids.extend(command.command_id for command in page.insert_commands)
            if len(page.insert_commands) < PAGE_LIMIT or len(ids) >= page.count:
                break
        return ids

    # The show during a live ("Live command") ---------------------------------------------------

    async def rewrite_script(self, session: LiveSession, paragraphs: list[Paragraph]) -> None:
        """Replace the paragraphs not yet played (REWRITE_PLAY_SCRIPT) with these, in the room's
        one scene (anchor, voice, background and layers as the script has them)."""
        script = self._room(session).script
        scene = _built(lambda: _scene(script, paragraphs))
        await self._command(session, "REWRITE_PLAY_SCRIPT", SceneScripts(scene_scripts=[scene]))

    async def rewrite_rules(self, session: LiveSession, room: Room) -> None:
        """Replace the live's interaction rules with the room's (REWRITE_INTERACTION_RULES)."""
        rules = _built(lambda: _rules(room))
        await self._command(session, "REWRITE_INTERACTION_RULES", InteractionRules(interaction_rules=rules))

    async def refresh_output(self, session: LiveSession, url: str, stream_key: str) -> None:
        """Push to this RTMP URL and stream key from now on (REFRESH_OUTPUT_URL)."""
        params = _built(
            lambda: RefreshOutputUrl(output_urls=[url], stream_keys=[stream_key] if stream_key else None)
        )
        await self._command(session, "REFRESH_OUTPUT_URL", params)

    async def show_layer(self, session: LiveSession, layer: ShownLayer) -> None:
        """Show a guide layer for `layer.seconds` (SHOW_LAYER)."""
        await self._command(session, "SHOW_LAYER", _built(lambda: _smart_layer(layer)))

    async def now_playing(self, session: LiveSession) -> NowPlaying:
        """This round's paragraphs (GET_CURRENT_PLAYING_SCRIPTS). The answer does not mark the one
        playing: it is the one the last SHOOT_SCRIPT_SWITCH callback named (kept by the service
        in the session's vendor_data as "paragraph"), when it is in this round."""
        answer = await self._command(session, "GET_CURRENT_PLAYING_SCRIPTS", Params())
        scripts = self._result(answer, PlayingScripts)
        scene = scripts.scene_scripts[0] if scripts.scene_scripts else PlayingScript()
        paragraphs = _paragraphs(scene)
        switched = session.vendor_data.get("paragraph") or {}
        playing = None
        if switched.get("scene", scene.script_name) == scene.script_name:
            number = str(switched.get("sequence_no", ""))
            playing = next(
                (index for index, item in enumerate(paragraphs) if str(item.sequence_no) == number), None
            )
        return NowPlaying(scene=scene.script_name, paragraphs=paragraphs, playing=playing)

    async def job_config(self, session: LiveSession) -> VendorRoom:
        """The room as the job sees it (GET_LIVE_JOB_CONFIG_INFO)."""
        answer = await self._command(session, "GET_LIVE_JOB_CONFIG_INFO", Params())
        return _vendor_room(self._result(answer, RoomDetail))

    async def reset_exit(
        self,
        session: LiveSession,
        *,
        max_live_duration: int,
        auto_stop_mode: str,
        max_exception_waiting_duration: int,
    ) -> None:
        """Change when MetaStudio ends the live by itself (RESET_EXIT_CONFIG): after
        `max_live_duration` hours (0 never), how (FORCE_EXIT, SEGMENT_END, SCENE_END, SCRIPT_END),
        and after `max_exception_waiting_duration` minutes of trouble (0 never)."""
        params = _built(
            lambda: LiveExitConfig(
                max_live_duration=max_live_duration,
                auto_stop_mode=auto_stop_mode,
                max_exception_waiting_duration=max_exception_waiting_duration,
            )
        )
        await self._command(session, "RESET_EXIT_CONFIG", params)

    async def report_events(self, session: LiveSession, events: list[AudienceEvent]) -> None:
        """Report what the audience did ("Live events"), for the rules MetaStudio matches."""
        if not events:
            return
        now_ms = int(time.time() * 1000)
        body = _built(lambda: LiveEventReport(total=len(events), events=[_event(e, now_ms) for e in events]))
        # POST .../smart-live-jobs/{job_id}/live-event-report
        await self._call("POST", f"{self._job_path(session)}/live-event-report", LiveEventReported, body=body)

    # Vendor rooms ("Endpoints": list / show / delete room) ----------------------------------------

    async def list_rooms(self) -> list[VendorRoom]:
        """Every smart live room of the account (summaries: no paragraphs)."""
        rooms: list[VendorRoom] = []
        for offset in range(0, PAGE_LIMIT * MAX_PAGES, PAGE_LIMIT):
            page = await self._call(
                "GET",
                "/smart-live-rooms",
                RoomList,
                params=[("offset", str(offset)), ("limit", str(PAGE_LIMIT))],
            )
            rooms.extend(
                VendorRoom(
                    vendor_room_id=item.room_id,
                    name=item.room_name,
                    state=item.room_state,
                    last_job_state=item.last_job_status,
                    livedeck_room_id=_livedeck_room(item.priv_data),
                )
                for item in page.smart_live_rooms
            )
            if len(page.smart_live_rooms) < PAGE_LIMIT or len(rooms) >= page.count:
                break
        return rooms

    async def show_room(self, vendor_room_id: str) -> VendorRoom:
        """One smart live room, with its paragraphs, rules and output."""
        return _vendor_room(await self._call("GET", f"/smart-live-rooms/{_q(vendor_room_id)}", RoomDetail))

    async def delete_room(self, vendor_room_id: str) -> None:
        """Delete a smart live room; one the vendor no longer knows is deleted already."""
        try:
            await self._request("DELETE", f"/smart-live-rooms/{_q(vendor_room_id)}")
        except _VendorError as exc:
            if exc.status != 404:
                raise

    # Callbacks (表29 callback_event_type) ---------------------------------------------------------

    @classmethod
    def parse_callback(cls, body: bytes) -> CallbackEvent:
        """A live event callback: a reply that finished (REPLY_COMMAND_FINISH, as a takeover event),
        the avatar moving to another paragraph ("paragraph") or an RTMP link changing ("rtmp")."""
        try:
            callback = CallbackBody.model_validate_json(body)
            if callback.event_type == "REPLY_COMMAND_FINISH":
                finished = ReplyCommandFinish.model_validate_json(callback.message)
                return CallbackEvent(
                    vendor_session_id=finished.job_id,
                    status=None,
                    command_trace_id=finished.reply_id,
                    command_code="REPLY_COMMAND_FINISH",
                )
            if callback.event_type == "SHOOT_SCRIPT_SWITCH":
                switch = ShootScriptSwitch.model_validate_json(callback.message)
                return CallbackEvent(
                    vendor_session_id=switch.job_id,
                    status=None,
                    kind="paragraph",
                    data={
                        "scene": switch.scene_script_name,
                        "sequence_no": switch.shoot_script_sequence_no,
                        "title": switch.shoot_script_title,
                    },
                )
            link = RtmpStreamStateChange.model_validate_json(callback.message)
        except ValidationError as exc:
            raise PlatformError(
                f"The MetaStudio callback is not what the document describes: {_first_error(exc)}",
                permanent=True,
                code="malformed",
            ) from None
        return CallbackEvent(
            vendor_session_id=link.job_id,
            status=None,
            kind="rtmp",
            data={"output_url": link.output_url, "stream_key": mask(link.stream_key), "state": link.state},
        )

    # Calls ---------------------------------------------------------------------------------------

    async def preview(self, session: LiveSession) -> Preview:
        """What the avatar is showing and saying now, from the sandbox's monitor of the job."""
        # Not in the vendor document: the sandbox's own inspection endpoint.
        if not self.account.sandbox:
            raise PlatformError("The program monitor is only available on sandbox accounts", permanent=True)
        url = f"{self.account.base_url.rstrip('/')}/_sandbox/metastudio/jobs/{_q(session.vendor_session_id)}"
        try:
            answer = await self.client.get(url)
            answer.raise_for_status()
            monitor = _Monitor.model_validate_json(answer.content)
        except (httpx.HTTPError, ValidationError) as exc:
            raise PlatformError(f"The sandbox's monitor did not answer: {exc}") from exc
        background = (monitor.background or {}).get("background_config", "")
        paragraph = monitor.paragraph or {}
        return Preview(
            state=_MONITOR_STATES.get(monitor.state, monitor.state.lower()),
            anchor=monitor.anchor or "",
            background=str(background).rsplit("/", 1)[-1],
            background_url=str(background),
            subtitle=monitor.subtitle,
            extra={"paragraph": str(paragraph.get("title") or "")},
        )

    def _room(self, session: LiveSession) -> Room:
        room = session.room
        if room is None:
            raise PlatformError("The session's room was deleted", permanent=True)
        return room

    def _job_path(self, session: LiveSession) -> str:
        """.../smart-live-rooms/{room_id}/smart-live-jobs/{job_id} of the session's job."""
        room_id = str(session.vendor_data.get("live_id") or "")
        if not session.vendor_session_id or not room_id:
            raise PlatformError("The session has no MetaStudio job yet", permanent=True)
        return f"/smart-live-rooms/{_q(room_id)}/smart-live-jobs/{_q(session.vendor_session_id)}"

    async def _command(self, session: LiveSession, name: CommandName, params: Out) -> CommandAnswer:
        """ "Live command": POST .../command with `{"command", "params"}`."""
        return await self._call(
            "POST",
            f"{self._job_path(session)}/command",
            CommandAnswer,
            body=Command(command=name, params=params),
        )

    def _result(self, answer: CommandAnswer, model: type[M]) -> M:
        """A reading command's result, a JSON string."""
        try:
            return model.model_validate_json(answer.result or "{}")
        except ValidationError as exc:
            raise PlatformError(
                f"MetaStudio's {answer.command or 'command'} result is not what the document describes: "
                f"{_first_error(exc)}",
                code="malformed",
            ) from None

    async def _jobs(self, *, state: str) -> AsyncIterator[Job]:
        """Every job of the account in `state` ("list all jobs"), page after page."""
        seen = 0
        for offset in range(0, PAGE_LIMIT * MAX_PAGES, PAGE_LIMIT):
            page = await self._call(
                "GET",
                "/smart-live-jobs",
                JobList,
                params=[("offset", str(offset)), ("limit", str(PAGE_LIMIT)), ("state", state)],
            )
            for job in page.smart_live_jobs:
                yield job
            seen += len(page.smart_live_jobs)
            if len(page.smart_live_jobs) < PAGE_LIMIT or seen >= page.count:
                break

    async def _forget_room(self, room_id: str) -> None:
        with contextlib.suppress(PlatformError):
            await self.delete_room(room_id)

    def _auth(self) -> httpx.Auth:
        """AK/SK signing ("Request signing"), or the IAM token when the account has one."""
        if self._auth_memo is None:
            credential = self.account.credential
            project = credential("project_id")
            if not project:
                raise PlatformError("The platform account has no MetaStudio project id", permanent=True)
            try:
                if credential("iam_token"):
                    self._auth_memo = TokenAuth(
                        credential("iam_token"), project_id=project, app_user_id=credential("app_user_id")
                    )
                else:
                    self._auth_memo = AkSkAuth(
                        credential("access_key"),
                        credential("secret_key"),
                        project_id=project,
                        app_user_id=credential("app_user_id"),
                    )
            except ValueError as exc:
                raise PlatformError(
                    f"The MetaStudio account cannot sign requests: {exc}", permanent=True
                ) from None
        return self._auth_memo

    async def _call(
        self,
        method: str,
        path: str,
        answer: type[M],
        *,
        body: Out | None = None,
        params: Query | None = None,
    ) -> M:
        """Send one request under /v1/{project_id} and return its validated answer."""
        content = await self._request(method, path, body=body, params=params)
        try:
            return answer.model_validate_json(content or b"{}")
        except ValidationError as exc:
            # A 200 that is not the documented JSON is most often a gateway's page or a cut-off
            # answer: transient, so the task retries instead of giving up.
            raise PlatformError(
                f"MetaStudio's answer is not what the document describes: {_first_error(exc)}",
                code="malformed",
            ) from None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: Out | None = None,
        params: Query | None = None,
    ) -> bytes:
        """The one place vendor calls are made and their failures classified ("Errors")."""
        auth = self._auth()
        url = f"{self.account.base_url.rstrip('/')}/v1/{_q(self.account.credential('project_id'))}{path}"
        headers = {"Content-Type": "application/json"} if body is not None else {}
        response = await self.send(
            "MetaStudio",
            method,
            url,
            params=params,
            headers=headers,
            content=body.encode() if body is not None else None,
            auth=auth,
        )
        status = response.status_code
        if response.is_success:
            return response.content
        try:
            error = ErrorInfo.model_validate_json(response.content)
        except ValidationError:
            error = ErrorInfo()
        permanent = 400 <= status < 500 and status not in (408, 429)
        what = error.error_msg or response.reason_phrase or "no reason given"
        if status in (401, 403):
            message = f"MetaStudio refused the account's credentials: {what}"
        elif permanent:
            message = f"MetaStudio refused the request: {what}"
        else:
            message = f"MetaStudio could not do it now: {what}"
        raise _VendorError(
            f"{message} (HTTP {status})",
            status=status,
            permanent=permanent,
            code=error.error_code or str(status),
        )
