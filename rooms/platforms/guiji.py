"""Guiji live-manager (vendor-docs/guiji-live-manager-api.txt), as LiveDeck reads it
(the shared note on the Guiji contract, issue 4).

HTTP (section 3) prepares a show: the account's token (3.1), the vendor's own live room with the
anchors and scenes it may show (3.2-3.5), text and audio materials whose ids make up playlists
(3.6-3.7), catalogs (3.8-3.14), live records (3.15), play addresses (3.16) and sessions (3.17).
MQTT (section 4.2) runs a live: CreateNewSession makes the session, a playlist of material ids
drives what the avatar says, layers change the stage, DestroySession ends it. The server's
heartbeats and state pushes are answered by the MQTT bridge, not here; `parse_server_message`
and `heartbeat_reply` are the bridge's typed edge.

Section numbers in comments are the document's. Requests and answers are the models of
`guiji_models`; nothing outside this module sees a vendor dict.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

import httpx
import redis.asyncio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache
from pydantic import BaseModel, ValidationError
from redis.exceptions import LockError, RedisError

from rooms.platforms import mqtt
from rooms.platforms.base import (
    AnchorLayout,
    Capability,
    CatalogAnchor,
    CatalogCategory,
    CatalogMaterial,
    CatalogScene,
    CatalogVoice,
    CatalogVoiceChange,
    Driver,
    HistoryEntry,
    HistoryPage,
    LiveState,
    LiveStatus,
    PlatformError,
    Preview,
    Receipt,
    RunningSession,
    SessionInfo,
    TakeoverRequest,
    TakeoverState,
)
from rooms.platforms.guiji_models import (
    Answer,
    AudioDriven,
    BackgroundOptions,
    CategoryQuery,
    ChangeVoiceVO,
    ClientRequest,
    CreateNewSession,
    CreateParams,
    DestroyParams,
    DrawOptions,
    DrawParams,
    DrawRes,
    DthumanOptions,
    Envelope,
    ExecOptions,
    ExecParams,
    Execute,
    HeartBeat,
    ImageOptions,
    In,
    KeyTimes,
    LiveCreate,
    LiveInfo,
    LiveQuery,
    LiveRecordVo,
    LiveUpdate,
    MakeResult,
    MaterialCategoryVO,
    MaterialInfo,
    MaterialQuery,
    MaterialUpload,
    ModifyParams,
    OkResult,
    OtherMessage,
    Out,
    Page,
    PageQuery,
    PathQuery,
    PathVO,
    PlaylistAction,
    PlaylistParams,
    PlaylistProgress,
    PlaylistResult,
    PublicMaterialQuery,
    PublicMaterialVO,
    PushArgs,
    Reply,
    ReplyError,
    RequestMethod,
    ResList,
    Resource,
    RobotInfo,
    RobotVO,
    RtmpOptions,
    SceneVO,
    ServerMessage,
    SessionCreate,
    SessionDestroyed,
    SessionVo,
    Show,
    StreamPlay,
    SwitchAudioDriven,
    SwitchTemplateArgs,
    Template,
    TokenRequest,
    TokenVO,
    TtsModelVo,
    TTSResultVO,
    VideoSize,
    VoiceChangeTrial,
    VoiceDistortOptions,
    first_error,
    heartbeat_reply,
    parse_server_message,
)

if TYPE_CHECKING:
    from materials.models import AnchorScene, Material
    from rooms.models import LiveSession, Room, Script

# The bridge imports the server-message edge from here.
__all__ = [
    "GuijiDriver",
    "HeartBeat",
    "OtherMessage",
    "PlaylistProgress",
    "Reply",
    "ServerMessage",
    "SessionDestroyed",
    "Show",
    "StreamPlay",
    "heartbeat_reply",
    "parse_server_message",
]

API = "/live-manager"
OK = 200
# 2.3 Public error codes
NO_TOKEN, TOKEN_EXPIRED, BAD_KEY, KEY_NOT_YET_VALID, KEY_EXPIRED = 100501, 100502, 100503, 100504, 100505
# The MQTT error code of a CreateNewSession whose token the server no longer accepts.
MQTT_TOKEN_EXPIRED = -100502
MQTT_SESSION_NOT_FOUND = -404
MQTT_DUPLICATE_ID = -32600

# A token is fetched again this long before its expirationTime runs out (at most a fifth of it).
TOKEN_MARGIN_SECONDS = 60.0
# How long one process may hold the token refresh to itself, and how long others wait for it.
TOKEN_LOCK_SECONDS = 30.0
# How long the platform may take to make a session (4.2.3) before LiveDeck gives up on it.
CREATE_REPLY_SECONDS = 60.0
# 3.16's duration (seconds) when the caller gives none.
STREAM_PATH_SECONDS = 3600
# Catalog pages are read this many records at a time, and never more than this many pages.
PAGE_SIZE = 100
MAX_PAGES = 500
# 3.15 says "Living" for an open session; the Chinese console says 直播中.
LIVING = frozenset({"Living", "living", "直播中"})

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T", bound=BaseModel)


# The sandbox's session states, as the program monitor words them.
MONITOR_STATES = {
    "created": "creating",
    "making": "creating",
    "made": "ready",
    "streaming": "live",
    "destroyed": "ended",
}


class _MonitorAnchor(BaseModel):
    udCode: str = ""


class _MonitorLayer(BaseModel):
    resOptions: dict[str, Any] = {}


class _Monitor(BaseModel):
    """The part of the sandbox's session state a program monitor shows."""

    state: str
    anchor: _MonitorAnchor = _MonitorAnchor()
    resList: list[_MonitorLayer] = []
    subtitle: str = ""


@sync_to_async
def _scene_name(account_id: int, code: str) -> str:
    from materials.models import AnchorScene

    scene = (
        AnchorScene.objects.filter(anchor__account_id=account_id, code=code).select_related("anchor").first()
    )
    return str(scene) if scene else ""


def _now() -> float:
    return time.time()


class Speech(Protocol):
    """How Guiji's TTS speaks a text: a script, or a text material (materials.GuijiSpeech)."""

    @property
    def tts_source(self) -> int: ...
    @property
    def tts_speaker(self) -> str: ...
    @property
    def tts_volume(self) -> float: ...
    @property
    def tts_intonation(self) -> float: ...
    @property
    def tts_speed_rate(self) -> float: ...
    @property
    def tts_f0up_key(self) -> int: ...
    @property
    def change_voice_speaker(self) -> str: ...


class _Token(In):
    """A 3.1 token as LiveDeck keeps it in the cache, shared by every process."""

    token: str
    obtained_at: float
    expires_at: float
    start: str = ""
    end: str = ""
    mqtt_user: str = ""
    mqtt_password: str = ""

    def usable(self, stale: str) -> bool:
        margin = min(TOKEN_MARGIN_SECONDS, (self.expires_at - self.obtained_at) / 5)
        return self.token != stale and self.expires_at - _now() > margin


@dataclass(frozen=True)
class _Live:
    """What a session's MQTT calls need, from its vendor_data."""

    session_id: str
    live_id: int
    topic_sub: str
    topic_pub: str
    mqtt_url: str
    show: frozenset[int]
    width: int
    height: int


class GuijiDriver(Driver):
    """Guiji's live-manager: HTTP with the account's token, and MQTT for each session."""

    kind: ClassVar[str] = "guiji"
    base_capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.TAKEOVER_INTERRUPT,
            Capability.TAKEOVER_QUEUE,
            Capability.REORDER,
            Capability.CANCEL_ONE,
            Capability.PLAY_ADDRESSES,
            Capability.BACKGROUND,
            Capability.ANCHOR_SWITCH,
            Capability.PUSH_STREAMS,
            Capability.ANCHOR_LAYOUT,
            Capability.CATALOG,
            Capability.HISTORY,
            Capability.RUNNING_LIST,
            Capability.VENDOR_HEARTBEAT,
        }
    )
    # The playlist has no move: a reorder is a delete and an insert.
    emulated: ClassVar[frozenset[Capability]] = frozenset({Capability.REORDER})

    def __init__(self, account: Any, client: httpx.AsyncClient) -> None:
        super().__init__(account, client)
        self._token_memo: _Token | None = None
        self._token_lock: asyncio.Lock | None = None

    # Session lifecycle ---------------------------------------------------------------------

    async def open_session(self, room: Room, session: LiveSession) -> SessionInfo:
        """Sync the vendor's room, upload the opening text, create the session (3.17) and make
        it over MQTT (4.2.3). Comes back READY; the stream starts by itself (StreamPlay)."""
        token = await self._token()
        script, scene, robots = await sync_to_async(_room_rows)(room)
        live_id = await self._room_sync(room, robots)
        opening = await self.text_upload(live_id, script.opening_text, script, description="Opening text")
        # 3.17 Creating a live session
        created = await self._call(
            "POST",
            "/openApi/live/createLiveSession",
            Answer[SessionVo],
            body=SessionCreate(liveId=_int_id(live_id), name=room.name),
        )
        vo = created.data
        mqtt_url = self._mqtt_url({})
        live = _Live(
            session_id=vo.sessionId,
            live_id=_int_id(live_id),
            topic_sub=vo.topicSub,
            topic_pub=vo.topicPub,
            mqtt_url=mqtt_url,
            show=frozenset({int(opening)}),
            width=room.resolution_width,
            height=room.resolution_height,
        )
        params = CreateParams(
            sessionId=vo.sessionId,
            videoSize=VideoSize(width=live.width, height=live.height),
            resList=_stage(room, script, scene),
            playlist=[int(opening)],
        )
        # 4.2.3 MakeSession; a token the server no longer takes is fetched again once.
        for attempt in (1, 2):
            message = CreateNewSession(
                id=await mqtt.next_message_id(vo.sessionId),
                sessionId=vo.sessionId,
                liveId=live.live_id,
                token=token.token,
                params=params,
                sender=vo.topicSub,
            )
            reply = await self._exchange(live, message.dump(), CREATE_REPLY_SECONDS)
            if reply.error is not None and reply.error.code == MQTT_TOKEN_EXPIRED and attempt == 1:
                token = await self._token(stale=token.token)
                continue
            if reply.error is not None:
                if reply.error.code == MQTT_SESSION_NOT_FOUND:
                    # The session of 3.17 expired before it was made: opening again may work.
                    raise _mqtt_error("CreateNewSession", reply.error, permanent=False)
                raise _mqtt_error("CreateNewSession", reply.error)
            break
        MakeResult.model_validate(reply.result or {})
        return SessionInfo(
            vendor_session_id=vo.sessionId,
            session_token="",
            status=LiveStatus(state=LiveState.READY, vendor_code="make-complete"),
            vendor_data={
                "live_id": live_id,
                "topic_sub": vo.topicSub,
                "topic_pub": vo.topicPub,
                "playlist": [int(opening)],
                "mqtt_url": mqtt_url,
                "expiration": vo.expirationTime,
                "video_size": [live.width, live.height],
            },
        )

    async def start(self, session: LiveSession) -> None:
        """Nothing to do: a made session streams by itself (LIVE arrives as StreamPlay)."""

    async def heartbeat(self, session: LiveSession) -> LiveStatus | None:
        """Nothing to send: the vendor sends heartbeats and the MQTT bridge answers them."""
        return None

    async def status(self, session: LiveSession) -> LiveStatus:
        """The session's state from the live records (3.15); raises when they do not list it."""
        vendor_id = self._session_id(session)
        async for record in self._records():
            if record.sessionId == vendor_id:
                return _record_status(record)
        raise PlatformError("Guiji's live records do not list this session", code="not-found")

    async def close(self, session: LiveSession) -> None:
        """DestroySession (4.2.5); a session the server no longer knows is closed already."""
        live = self._live(session)
        try:
            await self._request(
                live, "DestroySession", DestroyParams(sessionId=live.session_id, cause="Client destroy")
            )
        except PlatformError as exc:
            if exc.code != str(MQTT_SESSION_NOT_FOUND):
                raise
        link = await self._link(live)
        link.forget(live.topic_sub)
        await mqtt.forget_message_ids(live.session_id)

    async def running(self) -> list[RunningSession]:
        """Every session the live records (3.15) say is living."""
        return [
            RunningSession(vendor_session_id=record.sessionId, status=_record_status(record))
            async for record in self._records()
            if record.sessionId and record.liveStatusName in LIVING
        ]

    async def history(self, *, page: int = 1, page_size: int = 10) -> HistoryPage:
        """One page of the live records (3.15), newest first."""
        records = await self.live_records(page=page, page_size=page_size)
        pages = records.pages or (-(-records.total // records.size) if records.size else 1)
        return HistoryPage(
            entries=[
                HistoryEntry(
                    vendor_session_id=record.sessionId or "",
                    status=_record_status(record),
                    started=record.beginTime,
                    ended="",
                )
                for record in records.records
            ],
            page=records.current or page,
            pages=pages,
            total=records.total,
        )

    # Takeovers: the session's playlist (4.2.7) -------------------------------------------------

    async def takeover(
        self,
        session: LiveSession,
        item: TakeoverRequest,
        *,
        position: int | None = None,
        interrupt: bool = False,
    ) -> Receipt:
        """Upload `item` as a material of the room (3.6) and put its id in the playlist: at once
        (interrupt), at index `position` (1 plays right after the current item), or at the end.
        Overlays have no place in a Guiji playlist and are not sent."""
        live = self._live(session)
        script = await sync_to_async(_script_of)(session)
        if item.text:
            material = await self.text_upload(str(live.live_id), item.text, script, description="Takeover")
        elif item.audio_url:
            # 3.6 Material upload, audio type
            material = await self._upload(
                MaterialUpload(
                    liveId=live.live_id,
                    materialType="AUDIO",
                    changeVoiceSpeaker=script.change_voice_speaker or None,
                    materialDescription="Takeover",
                    materialUrl=item.audio_url,
                )
            )
        else:
            raise PlatformError("A takeover needs text or an audio file", permanent=True)
        pcm = int(material)
        action: PlaylistAction
        if interrupt:
            action = "insertPlayListAtSilent"
            await self._playlist(live, action, pcm_ids=[pcm])
        elif position is not None:
            action = "insertPlayList"
            await self._playlist(live, action, index=position, pcm_ids=[pcm])
        else:
            action = "AddPlayList"
            await self._playlist(live, action, pcm_ids=[pcm])
        return Receipt(trace_id=material, state=TakeoverState.QUEUED, vendor_code=action)

    async def reorder(self, session: LiveSession, trace_id: str, position: int) -> None:
        """Move a queued takeover to index `position`: delete it where it is and insert it there."""
        live = self._live(session)
        pcm = _pcm(trace_id)
        for attempt in range(3):
            playlist = await self._playlist(live, "getPlayList")
            if pcm not in playlist[1:]:
                if playlist[:1] == [pcm]:
                    raise PlatformError("The takeover is playing already", permanent=True, code="playing")
                raise PlatformError("The takeover is no longer in the playlist", permanent=True, code="gone")
            index = playlist.index(pcm, 1)
            if index == position:
                return
            try:
                await self._playlist(live, "delPlayListIndex", index=index, old_pcm_id=pcm)
            except PlatformError:
                # Most likely the playing item ended and the list moved up: read it again.
                if attempt == 2:
                    raise
                continue
            break
        try:
            await self._playlist(live, "insertPlayList", index=position, pcm_ids=[pcm])
        except PlatformError:
            # Not lost at least: back at the end of the playlist.
            await self._playlist(live, "AddPlayList", pcm_ids=[pcm])
            raise

    async def cancel(self, session: LiveSession, trace_ids: list[str] | None) -> None:
        """Delete these takeovers from the playlist (the highest index first, each checked with
        oldPcmId), or every item that is not the show's when None."""
        if trace_ids is not None and not trace_ids:
            return
        live = self._live(session)
        wanted = None if trace_ids is None else {_pcm(trace_id) for trace_id in trace_ids}
        for attempt in range(3):
            playlist = await self._playlist(live, "getPlayList")
            doomed = [
                (index, pcm)
                for index, pcm in enumerate(playlist)
                if (pcm not in live.show if wanted is None else pcm in wanted)
            ]
            try:
                for index, pcm in reversed(doomed):
                    await self._playlist(live, "delPlayListIndex", index=index, old_pcm_id=pcm)
            except PlatformError:
                # Most likely the playing item ended and the list moved up: read it again.
                if attempt == 2:
                    raise
                continue
            return

    async def queue(self, session: LiveSession) -> list[str]:
        """The playlist's takeovers (every item that is not the show's), the playing one first."""
        live = self._live(session)
        playlist = await self._playlist(live, "getPlayList")
        return [str(pcm) for pcm in playlist if pcm not in live.show]

    # The stage (4.2.4, 4.2.6, 4.2.9, 4.2.10) --------------------------------------------------

    async def set_background(self, session: LiveSession, url: str) -> None:
        """Replace the "background" back layer with the image at `url` (4.2.4)."""
        live = self._live(session)
        params = ModifyParams(
            sessionId=live.session_id,
            rmvRes=ResList(resList=[]),
            addRes=ResList(resList=[_background(url, live.width, live.height)]),
        )
        await self._request(live, "ModifySessionResList", params)

    async def switch_anchor(self, session: LiveSession, scene_code: str) -> None:
        """Show the anchor scene `scene_code` (a scene of the room) over the whole video (4.2.6)."""
        live = self._live(session)
        args = SwitchTemplateArgs(
            audioDriven=SwitchAudioDriven(udCode=scene_code),
            drawOptions=DrawOptions(x=0, y=0, width=live.width, height=live.height),
        )
        execute = Execute(name="dthuman", options=ExecOptions(method="switchTemplate", args=args))
        await self._request(
            live, "ExecSessionResList", ExecParams(sessionId=live.session_id, executeList=[execute])
        )

    async def push_streams(self, session: LiveSession, urls: list[str], *, on: bool) -> None:
        """Start (setpushstreams) or stop (closepushstreams) pushing to these RTMP URLs (4.2.9)."""
        bad = [url for url in urls if not url.startswith(("rtmp://", "rtmps://"))]
        if bad:
            raise PlatformError(
                f"Push URLs start with rtmp:// or rtmps:// ({bad[0]} does not)", permanent=True
            )
        if not urls:
            return
        live = self._live(session)
        method = "setpushstreams" if on else "closepushstreams"
        execute = Execute(name="rtmp", options=ExecOptions(method=method, args=PushArgs(pushurls=urls)))
        await self._request(
            live, "ExecSessionResList", ExecParams(sessionId=live.session_id, executeList=[execute])
        )

    async def anchor_layout(self, session: LiveSession, layout: AnchorLayout) -> None:
        """Move, resize or fade the avatar (SetResDrawOptions on "dthuman", 4.2.10)."""
        if not 0.0 <= layout.alpha <= 1.0:
            raise PlatformError("The avatar's opacity is between 0 and 1", permanent=True)
        live = self._live(session)
        draw = DrawOptions(
            x=layout.x, y=layout.y, width=layout.width, height=layout.height, alpha=layout.alpha
        )
        params = DrawParams(sessionId=live.session_id, res=DrawRes(name="dthuman", drawOptions=draw))
        reply = await self._request(live, "SetResDrawOptions", params)
        result = OkResult.model_validate(reply.result or {})
        if not result.ok:
            raise PlatformError(
                result.info or result.message or "Guiji did not move the avatar", permanent=True
            )

    async def preview(self, session: LiveSession) -> Preview:
        """What the avatar is showing and saying now, from the sandbox's session state."""
        # Not in the vendor document: the sandbox's own inspection endpoint.
        if not self.account.sandbox:
            raise PlatformError("The program monitor is only available on sandbox accounts", permanent=True)
        url = f"{self.account.base_url.rstrip('/')}/_sandbox/guiji/sessions/{self._session_id(session)}"
        try:
            answer = await self.client.get(url)
            answer.raise_for_status()
            monitor = _Monitor.model_validate_json(answer.content)
        except (httpx.HTTPError, ValidationError) as exc:
            raise PlatformError(f"The sandbox's monitor did not answer: {exc}") from exc
        scene = await _scene_name(self.account.pk, monitor.anchor.udCode)
        backgrounds = [layer for layer in monitor.resList if layer.resOptions.get("name") == "background"]
        background = str(backgrounds[0].resOptions.get("url", "")) if backgrounds else ""
        return Preview(
            state=MONITOR_STATES.get(monitor.state, monitor.state),
            anchor=scene or monitor.anchor.udCode,
            background=background.rsplit("/", 1)[-1],
            background_url=background,
            subtitle=monitor.subtitle,
        )

    # The MQTT login and play addresses, for the bridge -------------------------------------------

    async def mqtt_login(self) -> tuple[str, str]:
        """The broker user and password that came with the account's token (3.1)."""
        token = await self._token()
        return token.mqtt_user, token.mqtt_password

    async def stream_path(
        self, session: LiveSession, duration: int = STREAM_PATH_SECONDS
    ) -> dict[str, dict[str, str]]:
        """Where to pull the session's stream (3.16), by protocol: {"rtmp": {"lan", "wan"}, ...}."""
        live_id = str((session.vendor_data or {}).get("live_id") or "")
        query = PathQuery(liveId=_int_id(live_id), sessionId=self._session_id(session), duration=duration)
        # 3.16 Obtain the streaming address
        answer = await self._call("GET", "/openApi/live/getPath", Answer[PathVO], query=query)
        path = answer.data
        addresses = path.data.playaddr if path.data else None
        if not path.ok or addresses is None:
            raise PlatformError(
                path.info or path.message or "Guiji has no play addresses for the session yet", code="getPath"
            )
        return addresses.as_dict()

    # Live rooms (3.2-3.5) ---------------------------------------------------------------------------

    async def room_create(self, room: Room, robots: list[RobotVO] | None = None) -> str:
        """Create the vendor's live room for `room`, with its anchor scenes; returns its liveId."""
        if robots is None:
            robots = await self._robots(room)
        # 3.2 Create a live room
        body = LiveCreate(cutinFlag=room.cutin_flag, liveName=room.name, robotList=robots)
        answer = await self._call("POST", "/openApi/liveInfo/create", Answer[int], body=body)
        return str(answer.data)

    async def room_update(self, room: Room, robots: list[RobotVO] | None = None) -> None:
        """Bring the vendor's live room in line with `room` (name, cut-in flag, anchor scenes)."""
        if robots is None:
            robots = await self._robots(room)
        # 3.3 Update live room
        body = LiveUpdate(
            id=_int_id(room.vendor_room_id), cutinFlag=room.cutin_flag, liveName=room.name, robotList=robots
        )
        answer = await self._call("POST", "/openApi/liveInfo/update", Answer[bool | None], body=body)
        if answer.data is False:
            raise PlatformError("Guiji did not update the live room", permanent=True, code="update")

    async def room_sync(self, room: Room) -> str:
        """Create the vendor's room, or update it when the room has one; returns its liveId (for
        the caller to keep in `room.vendor_room_id`)."""
        return await self._room_sync(room, await self._robots(room))

    async def _room_sync(self, room: Room, robots: list[RobotVO]) -> str:
        if room.vendor_room_id:
            await self.room_update(room, robots)
            return room.vendor_room_id
        return await self.room_create(room, robots)

    async def room_query(self, live_id: str) -> LiveInfo:
        """The vendor's live room (3.4)."""
        # 3.4 Query live room
        answer = await self._call(
            "GET", "/openApi/liveInfo/query", Answer[LiveInfo], query=LiveQuery(id=_int_id(live_id))
        )
        return answer.data

    async def room_list(self, *, page: int = 1, page_size: int = 10) -> Page[LiveInfo]:
        """One page of the account's live rooms (3.5)."""
        # 3.5 Querying the live room list
        answer = await self._call(
            "GET",
            "/openApi/liveInfo/queryByPage",
            Answer[Page[LiveInfo]],
            query=PageQuery(page=page, pageSize=page_size),
        )
        return answer.data

    # Materials (3.6-3.7) ---------------------------------------------------------------------------

    async def material_upload(self, live_id: str, material: Material) -> str:
        """Upload a LiveDeck text or audio material to the vendor's room; returns its material id."""
        kind = material.kind
        if kind == "text":
            return await self.text_upload(live_id, material.text, material, description=material.name)
        if kind == "audio":
            if not material.url:
                raise PlatformError(f"The audio material {material.name} has no URL", permanent=True)
            # 3.6 Material upload, audio type
            return await self._upload(
                MaterialUpload(
                    liveId=_int_id(live_id),
                    materialType="AUDIO",
                    changeVoiceSpeaker=material.change_voice_speaker or None,
                    materialDescription=material.name or None,
                    materialUrl=material.url,
                )
            )
        raise PlatformError("Only text and audio materials can be played by Guiji", permanent=True)

    async def text_upload(self, live_id: str, text: str, speech: Speech, *, description: str = "") -> str:
        """Upload `text`, spoken with `speech`'s TTS settings, as a text material; returns its id."""
        if not text.strip():
            raise PlatformError("There is no text to upload", permanent=True)
        if not speech.tts_speaker:
            raise PlatformError("No Guiji TTS voice is set (TTS speaker)", permanent=True)
        # 3.6 Material upload, text type
        return await self._upload(
            MaterialUpload(
                liveId=_int_id(live_id),
                materialType="TEXT",
                changeVoiceSpeaker=speech.change_voice_speaker or None,
                materialDescription=description or None,
                text=text,
                ttsSource=speech.tts_source,
                ttsSpeaker=speech.tts_speaker,
                volume=speech.tts_volume,
                intonation=speech.tts_intonation,
                speedRate=speech.tts_speed_rate,
                f0upKey=speech.tts_f0up_key,
            )
        )

    async def material_query(
        self, live_id: str, *, material_type: str | None = None, page: int = 1, page_size: int = 10
    ) -> Page[MaterialInfo]:
        """One page of the materials uploaded to the vendor's room (3.7)."""
        body = MaterialQuery(
            liveId=_int_id(live_id),
            materialType="AUDIO" if material_type == "AUDIO" else "TEXT" if material_type == "TEXT" else None,
            page=page,
            pageSize=page_size,
        )
        # 3.7 Material query
        answer = await self._call(
            "POST", "/openApi/customizedMaterial/query", Answer[Page[MaterialInfo]], body=body
        )
        return answer.data

    # Catalogs (3.8-3.14) -------------------------------------------------------------------------

    async def catalog_voices(self) -> list[CatalogVoice]:
        """The platform's voices (3.8, every page), then the account's own (3.8 customized)."""
        platform = await self._every_page(
            "/openApi/speaker/platformList",
            Answer[Page[TtsModelVo]],
            lambda page: PageQuery(page=page, pageSize=PAGE_SIZE),
        )
        # 3.8 Customized voice query
        custom = await self._call("GET", "/openApi/speaker/customizedList", Answer[list[TtsModelVo] | None])
        return [_voice(vo, custom=False) for vo in platform] + [
            _voice(vo, custom=True) for vo in custom.data or []
        ]

    async def catalog_anchors(self) -> list[CatalogAnchor]:
        """The platform's anchors (3.9), then the account's own (3.10), with their scenes."""
        # 3.9 Platform anchor query
        platform = await self._call("GET", "/openApi/robot/platformList", Answer[list[RobotInfo] | None])
        # 3.10 Customized anchor query
        custom = await self._call("GET", "/openApi/robot/customizedList", Answer[list[RobotInfo] | None])
        return [_anchor(vo, custom=False) for vo in platform.data or []] + [
            _anchor(vo, custom=True) for vo in custom.data or []
        ]

    async def catalog_voice_changes(self) -> list[CatalogVoiceChange]:
        """The voice-change voices (3.11, every page); refused unless Guiji enabled them."""
        voices = await self._every_page(
            "/openApi/voice/changeVoiceList",
            Answer[Page[ChangeVoiceVO]],
            lambda page: PageQuery(page=page, pageSize=PAGE_SIZE),
        )
        return [
            CatalogVoiceChange(speaker=vo.speakerCode, name=vo.speakerName, sample_url=vo.ttsAudition)
            for vo in voices
        ]

    async def voice_change_trial(self, speaker: str, text: str, *, speech: Speech | None = None) -> str:
        """The URL of a sample spoken in voice-change voice `speaker` (3.12), synthesized with
        `speech`'s TTS settings, else with the platform's first voice. 3.12 has no field for a
        text: `text` is not sent."""
        if speech is not None:
            body = VoiceChangeTrial(
                changeVoiceSpeaker=speaker,
                ttsSource=speech.tts_source,
                ttsSpeaker=speech.tts_speaker,
                volume=speech.tts_volume,
                intonation=speech.tts_intonation,
                speedRate=speech.tts_speed_rate,
                f0upKey=speech.tts_f0up_key,
            )
        else:
            # 3.8 Platform voice query: one voice to speak with.
            first = await self._call(
                "GET",
                "/openApi/speaker/platformList",
                Answer[Page[TtsModelVo]],
                query=PageQuery(page=1, pageSize=1),
            )
            if not first.data.records:
                raise PlatformError("Guiji lists no voice to try the voice change with", permanent=True)
            voice = first.data.records[0]
            body = VoiceChangeTrial(
                changeVoiceSpeaker=speaker,
                ttsSource=voice.ttsSource,
                ttsSpeaker=voice.ttsSpeaker,
                volume=0.0,
                intonation=0.0,
                speedRate=0.0,
            )
        # 3.12 Voice change trial
        answer = await self._call(
            "POST", "/openApi/speaker/syncSynthesisWavAndChangeVoice", Answer[TTSResultVO], body=body
        )
        return answer.data.filePath

    async def catalog_categories(self) -> list[CatalogCategory]:
        """The public material categories (3.13)."""
        # 3.13 Public material category query
        answer = await self._call(
            "GET",
            "/openApi/materialCategory/query",
            Answer[list[MaterialCategoryVO] | None],
            query=CategoryQuery(),
        )
        return [CatalogCategory(vendor_id=vo.id, name=vo.name, code=vo.code) for vo in answer.data or []]

    async def catalog_materials(self, category: CatalogCategory) -> list[CatalogMaterial]:
        """The public materials of one category (3.14, every page)."""
        code = category.code
        if not code:
            known = {found.vendor_id: found.code for found in await self.catalog_categories()}
            code = known.get(category.vendor_id, "")
            if not code:
                raise PlatformError(f"Guiji no longer lists the category {category.name}", permanent=True)
        found = await self._every_page(
            "/openApi/material/query",
            Answer[Page[PublicMaterialVO]],
            lambda page: PublicMaterialQuery(code=code, page=page, pageSize=PAGE_SIZE),
        )
        return [
            CatalogMaterial(
                vendor_id=vo.id, name=vo.name, kind=vo.fileType, url=vo.fileUrl, cover_url=vo.coverUrl or ""
            )
            for vo in found
        ]

    # Live records (3.15) ---------------------------------------------------------------------

    async def live_records(self, *, page: int = 1, page_size: int = 10) -> Page[LiveRecordVo]:
        """One page of the account's live records (3.15), newest first."""
        # 3.15 Live record query
        answer = await self._call(
            "GET",
            "/openApi/liveRecord/query",
            Answer[Page[LiveRecordVo]],
            query=PageQuery(page=page, pageSize=page_size),
        )
        return answer.data

    async def _records(self) -> AsyncIterator[LiveRecordVo]:
        """Every live record, page after page."""
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            records = await self.live_records(page=page, page_size=PAGE_SIZE)
            for record in records.records:
                yield record
            seen += len(records.records)
            if _last_page(records, page, PAGE_SIZE, seen=seen):
                return

    # Building the stage ------------------------------------------------------------------------

    async def _robots(self, room: Room) -> list[RobotVO]:
        # The room's scenes are rows of their own: read them in a thread of Django's.
        return await sync_to_async(_robot_list)(room)

    # MQTT ------------------------------------------------------------------------------------

    def _live(self, session: LiveSession) -> _Live:
        data = session.vendor_data or {}
        topic_sub, topic_pub = str(data.get("topic_sub") or ""), str(data.get("topic_pub") or "")
        if not topic_sub or not topic_pub:
            raise PlatformError(
                "LiveDeck does not know this session's MQTT topics; Guiji ends it by itself once its "
                "heartbeats go unanswered",
                permanent=True,
                code="no-topics",
            )
        width, height = data.get("video_size") or (1080, 1920)
        return _Live(
            session_id=self._session_id(session),
            live_id=_int_id(str(data.get("live_id") or "")),
            topic_sub=topic_sub,
            topic_pub=topic_pub,
            mqtt_url=self._mqtt_url(data),
            show=frozenset(int(pcm) for pcm in data.get("playlist", [])),
            width=int(width),
            height=int(height),
        )

    def _mqtt_url(self, data: Mapping[str, Any]) -> str:
        return str(data.get("mqtt_url") or self.account.credential("mqtt_url") or settings.MQTT_URL)

    async def _link(self, live: _Live) -> mqtt.Link:
        user, password = await self.mqtt_login()
        return mqtt.link(live.mqtt_url, user, password)

    async def _exchange(self, live: _Live, message: dict[str, Any], timeout: float) -> Reply:
        link = await self._link(live)
        raw = await link.request(live.topic_pub, live.topic_sub, message, timeout)
        try:
            return Reply.model_validate(raw)
        except ValidationError as exc:
            raise PlatformError(
                f"Guiji's reply is not what its document describes: {first_error(exc)}", code="malformed"
            ) from None

    async def _request(self, live: _Live, method: RequestMethod, params: Out) -> Reply:
        """Send one request of 4.2 about the session and return its reply; an error reply raises."""
        message = ClientRequest(
            id=await mqtt.next_message_id(live.session_id),
            method=method,
            params=params,
            sessionId=live.session_id,
            sender=live.topic_sub,
        )
        reply = await self._exchange(live, message.dump(), settings.GUIJI_REPLY_SECONDS)
        if reply.error is not None:
            raise _mqtt_error(method, reply.error)
        return reply

    async def _playlist(
        self,
        live: _Live,
        action: PlaylistAction,
        *,
        index: int | None = None,
        old_pcm_id: int | None = None,
        pcm_ids: list[int] | None = None,
    ) -> list[int]:
        """One playlist action (4.2.7); returns the playlist after it."""
        params = PlaylistParams(
            sessionId=live.session_id, action=action, oldPcmId=old_pcm_id, index=index, pcmIds=pcm_ids
        )
        reply = await self._request(live, "pushPlayListManager", params)
        try:
            result = PlaylistResult.model_validate(reply.result or {})
        except ValidationError as exc:
            raise PlatformError(
                f"Guiji's playlist is not what its document describes: {first_error(exc)}", code="malformed"
            ) from None
        if not result.ok:
            raise _playlist_refusal(action, result.message)
        return result.data

    # Who we are to the platform ----------------------------------------------------------------

    def _session_id(self, session: LiveSession) -> str:
        if not session.vendor_session_id:
            raise PlatformError("The session has no Guiji session id yet", permanent=True)
        return session.vendor_session_id

    async def _upload(self, body: MaterialUpload) -> str:
        # 3.6 Material upload
        answer = await self._call("POST", "/openApi/customizedMaterial/upload", Answer[int], body=body)
        return str(answer.data)

    # The token (3.1), shared by every process -----------------------------------------------------

    def _token_key(self) -> str:
        # The credentials are part of the key: a token of the old secret is not used after an edit.
        secret = "\0".join(
            [self.account.base_url, self.account.credential("app_id"), self.account.credential("app_secret")]
        )
        return f"guiji:token:{self.account.pk}:{hashlib.sha256(secret.encode()).hexdigest()[:16]}"

    async def _token(self, *, stale: str = "") -> _Token:
        """The account's token: the one in the cache while it has time left, else a new one.
        `stale` is a token the platform refused (100502): never returned again."""
        memo = self._token_memo
        if memo is not None and memo.usable(stale):
            return memo
        if self._token_lock is None:
            self._token_lock = asyncio.Lock()
        async with self._token_lock:
            # Another coroutine of this driver may have fetched it while this one waited.
            memo = self._token_memo
            if memo is None or not memo.usable(stale):
                memo = await self._cached_token()
                if memo is None or not memo.usable(stale):
                    memo = await self._refresh_token(stale)
                self._token_memo = memo
            return memo

    async def _cached_token(self) -> _Token | None:
        stored = await cache.aget(self._token_key())
        if not isinstance(stored, dict):
            return None
        try:
            return _Token.model_validate(stored)
        except ValidationError:
            return None

    async def _refresh_token(self, stale: str) -> _Token:
        """Fetch a new token under a Redis lock, so that one process fetches it for all."""
        key = self._token_key()
        try:
            async with redis.asyncio.Redis.from_url(settings.REDIS_URL) as client:
                lock = client.lock(
                    cache.make_key(f"{key}:lock"),
                    timeout=TOKEN_LOCK_SECONDS,
                    sleep=0.05,
                    blocking_timeout=TOKEN_LOCK_SECONDS + 5,
                )
                async with lock:
                    # Another process may have fetched it while this one waited.
                    cached = await self._cached_token()
                    if cached is not None and cached.usable(stale):
                        return cached
                    fresh = await self._fetch_token()
                    await cache.aset(key, fresh.model_dump(), timeout=max(1, int(fresh.expires_at - _now())))
                    return fresh
        except LockError:
            raise PlatformError(
                "Another LiveDeck process is fetching the Guiji token", code="token"
            ) from None
        except RedisError as exc:
            raise PlatformError(
                f"LiveDeck could not reach its Redis ({type(exc).__name__})", code="redis"
            ) from None

    async def _fetch_token(self) -> _Token:
        app_id, app_secret = self.account.credential("app_id"), self.account.credential("app_secret")
        if not app_id or not app_secret:
            raise PlatformError("The platform account has no Guiji app id or app secret", permanent=True)
        # 3.1 Obtain token: the only call without the token and source headers.
        raw = await self._send(
            "POST", "/open/accessToken", {}, TokenRequest(appId=app_id, appSecret=app_secret), None
        )
        answer = _validate(raw, Answer[TokenVO], None)
        vo = answer.data
        obtained = _now()
        return _Token(
            token=vo.token,
            obtained_at=obtained,
            expires_at=obtained + vo.expirationTime,
            start=vo.startTime,
            end=vo.endTime,
            mqtt_user=vo.mqttUser,
            mqtt_password=vo.mqttPassword,
        )

    # The one place HTTP calls are made and their failures classified ------------------------------

    async def _call(
        self, method: str, path: str, answer: type[M], *, body: Out | None = None, query: Out | None = None
    ) -> M:
        """Send one request with the token and source headers (2.2) and return its validated
        answer; a refused token (100502) is fetched again and the request sent once more."""
        token = await self._token()
        raw = await self._send(method, path, _headers(token), body, query)
        if _code(raw) == TOKEN_EXPIRED:
            token = await self._token(stale=token.token)
            raw = await self._send(method, path, _headers(token), body, query)
        return _validate(raw, answer, token)

    async def _every_page(
        self, path: str, answer: type[Answer[Page[T]]], query: Callable[[int], Out]
    ) -> list[T]:
        """Every record of a paged list, page after page."""
        found: list[T] = []
        for page in range(1, MAX_PAGES + 1):
            data = (await self._call("GET", path, answer, query=query(page))).data
            found.extend(data.records)
            if _last_page(data, page, PAGE_SIZE, seen=len(found)):
                break
        return found

    async def _send(
        self, method: str, path: str, headers: dict[str, str], body: Out | None, query: Out | None
    ) -> Any:
        url = self.account.base_url.rstrip("/") + API + path
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        response = await self.send(
            "Guiji",
            method,
            url,
            params=query.query() if query is not None else None,
            headers=headers,
            content=body.encode() if body is not None else None,
        )
        status = response.status_code
        if status in (401, 403):
            raise PlatformError(
                f"Guiji refused the request (HTTP {status})", permanent=True, code=str(status)
            )
        if status == 429:
            raise PlatformError("Guiji is limiting this account's requests", code="429")
        if status >= 500:
            raise PlatformError(f"Guiji had a server error (HTTP {status})", code=str(status))
        if not response.is_success:
            raise PlatformError(
                f"Guiji rejected the request (HTTP {status})", permanent=True, code=str(status)
            )
        try:
            return json.loads(response.content)
        except ValueError:
            # Most often a gateway's page or a cut-off answer: worth another try.
            raise PlatformError("Guiji's answer is not JSON", code="malformed") from None


def _headers(token: _Token) -> dict[str, str]:
    # 1.2: the token and source (sdk) go in the header of every call after 3.1.
    return {"token": token.token, "source": "sdk"}


def _code(raw: Any) -> int | None:
    try:
        return Envelope.model_validate(raw).code
    except ValidationError:
        return None


def _validate(raw: Any, answer: type[M], token: _Token | None) -> M:
    """The answer of a call, or the PlatformError its code means (2.3)."""
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise PlatformError(
            f"Guiji's answer is not what its document describes: {first_error(exc)}", code="malformed"
        ) from None
    if envelope.code != OK:
        raise _refusal(envelope, token)
    try:
        return answer.model_validate(raw)
    except ValidationError as exc:
        raise PlatformError(
            f"Guiji's answer is not what its document describes: {first_error(exc)}", code="malformed"
        ) from None


def _refusal(envelope: Envelope, token: _Token | None) -> PlatformError:
    """A refused call in words a staff member can act on."""
    code = envelope.code
    said = envelope.text
    times = KeyTimes()
    if isinstance(envelope.data, dict):
        with contextlib.suppress(ValidationError):
            times = KeyTimes.model_validate(envelope.data)
    start = times.startTime or (token.start if token else "")
    end = times.endTime or (token.end if token else "")
    if code == NO_TOKEN:
        return PlatformError("Guiji received no token with the request", permanent=True, code=str(code))
    if code == TOKEN_EXPIRED:
        return PlatformError("Guiji refused a token it had just issued; try again", code=str(code))
    if code == BAD_KEY:
        return PlatformError(
            "Guiji does not know this app id and app secret: the app secret (or app id) is wrong",
            permanent=True,
            code=str(code),
        )
    if code == KEY_NOT_YET_VALID:
        since = f" (from {start})" if start else ""
        return PlatformError(f"The Guiji key is not valid yet{since}", permanent=True, code=str(code))
    if code == KEY_EXPIRED:
        when = f" on {end}" if end else ""
        return PlatformError(f"The Guiji key expired{when}", permanent=True, code=str(code))
    return PlatformError(
        said or "Guiji refused the request without saying why", permanent=True, code=str(code)
    )


def _mqtt_error(method: str, error: ReplyError, *, permanent: bool | None = None) -> PlatformError:
    """An error reply (4.2.2). A duplicate id or a server error is worth another try; the rest
    says the request itself is wrong."""
    code = error.code
    if permanent is None:
        permanent = not (code == MQTT_DUPLICATE_ID or -32099 <= code <= -32000 or code == -32603)
    text = error.message or "no reason given"
    if code == MQTT_SESSION_NOT_FOUND:
        text = f"the session is gone ({text})"
    moved = "index moved" in text.lower()
    return PlatformError(
        f"Guiji refused {method}: {text}",
        permanent=permanent and not moved,
        code="index-moved" if moved else str(code),
    )


def _playlist_refusal(action: str, message: str) -> PlatformError:
    moved = "index moved" in message.lower()
    return PlatformError(
        f"Guiji refused {action}: {message or 'no reason given'}",
        permanent=not moved,
        code="index-moved" if moved else action,
    )


def _last_page(page: Page[Any], number: int, size: int, *, seen: int) -> bool:
    """Whether `page` (the `number`th, asked with `size` records) is the last one."""
    if not page.records:
        return True
    if page.pages:
        return number >= page.pages
    if page.total:
        return seen >= page.total
    return len(page.records) < size


def _record_status(record: LiveRecordVo) -> LiveStatus:
    state = LiveState.LIVE if record.liveStatusName in LIVING else LiveState.ENDED
    return LiveStatus(state=state, vendor_code=record.liveStatusName[:40])


def _int_id(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PlatformError(f"{value!r} is not a Guiji live room id", permanent=True) from None


def _pcm(trace_id: str) -> int:
    try:
        return int(trace_id)
    except ValueError:
        raise PlatformError(f"{trace_id!r} is not a Guiji material id", permanent=True) from None


def _background(
    url: str, width: int, height: int, *, video: bool = False, loop: int | None = None
) -> Resource:
    """The back layer named "background": one at a time (SameNameInGroup), behind all (zidx -1)."""
    options = BackgroundOptions(
        type="player" if video else "image", url=url, mute=True if video else None, loop=loop
    )
    return Resource(
        type="back",
        resOptions=options,
        drawOptions=DrawOptions(x=0, y=0, width=width, height=height, zidx=-1),
    )


def _stage(room: Room, script: Script, scene: AnchorScene) -> list[Resource]:
    """The resList of CreateNewSession: the stream, the voice change, the anchor, the room's
    foreground image and the script's background."""
    width, height = room.resolution_width, room.resolution_height
    speaker = script.change_voice_speaker
    stage = [
        Resource(type="center", resOptions=RtmpOptions()),
        Resource(
            type="center",
            resOptions=VoiceDistortOptions(
                distortState=bool(speaker), speekerId=(int(speaker) if speaker.isdigit() else speaker) or 0
            ),
        ),
        Resource(
            type="center",
            resOptions=DthumanOptions(
                audioDriven=AudioDriven(
                    udCodeUsed=scene.code,
                    templates=[
                        Template(
                            sequence=[scene.video_cover_url] if scene.video_cover_url else [],
                            udCode=scene.code,
                            matting=0,
                        )
                    ],
                )
            ),
            drawOptions=DrawOptions(x=0, y=0, width=width, height=height),
        ),
    ]
    if room.overlay_url:
        stage.append(
            Resource(
                type="fore",
                resOptions=ImageOptions(name="image", url=room.overlay_url),
                drawOptions=DrawOptions(
                    x=room.overlay_x, y=room.overlay_y, width=room.overlay_width, height=room.overlay_height
                ),
            )
        )
    if script.background_url:
        video = script.background_type == script.BackgroundType.VIDEO
        stage.append(
            _background(
                script.background_url,
                width,
                height,
                video=video,
                loop=(-1 if script.background_loop else 1) if video else None,
            )
        )
    return stage


def _room_rows(room: Room) -> tuple[Script, AnchorScene, list[RobotVO]]:
    """What opening a session reads from the database: the script, the opening scene, the robots."""
    if room.anchor_scene is None:
        raise PlatformError("The room has no anchor scene to open with", permanent=True)
    return room.script, room.anchor_scene, _robot_list(room)


def _script_of(session: LiveSession) -> Script:
    if session.room is None:
        raise PlatformError(
            "The session's room was deleted: LiveDeck has no voice to speak with", permanent=True
        )
    return session.room.script


def _robot_list(room: Room) -> list[RobotVO]:
    """RobotVO per anchor of the room's scenes (the opening one first), with those scenes."""
    robots: dict[int, RobotVO] = {}
    for scene in room.scenes():
        anchor = scene.anchor
        robot = robots.get(anchor.pk)
        if robot is None:
            robot = robots[anchor.pk] = RobotVO(
                id=anchor.vendor_id,
                coverUrl=anchor.cover_url or None,
                robotDesc=anchor.description or None,
                robotCode=anchor.code,
                robotName=anchor.name,
                sceneList=[],
            )
        robot.sceneList.append(
            SceneVO(
                sceneCode=scene.code,
                proportion=scene.proportion or None,
                posture=scene.posture or None,
                duration=scene.duration_seconds,
                sceneName=scene.name,
                exampleUrl=scene.example_url or None,
                videoCoverUrl=scene.video_cover_url or None,
            )
        )
    return list(robots.values())


def _voice(vo: TtsModelVo, *, custom: bool) -> CatalogVoice:
    return CatalogVoice(
        speaker=vo.ttsSpeaker,
        name=vo.ttsName or vo.ttsSpeaker,
        custom=custom,
        tts_source=vo.ttsSource,
        language=",".join(vo.languages)[:40],
        gender=vo.userCategory[:20],
        sample_url=vo.ttsAudition,
        cover_url=vo.ttsCover,
    )


def _anchor(vo: RobotInfo, *, custom: bool) -> CatalogAnchor:
    return CatalogAnchor(
        code=vo.robotCode,
        name=vo.robotName or vo.robotCode,
        custom=custom,
        vendor_id=vo.id,
        description=vo.robotDesc or "",
        cover_url=vo.coverUrl or "",
        scenes=tuple(
            CatalogScene(
                code=scene.sceneCode,
                name=scene.sceneName or scene.sceneCode,
                proportion=scene.proportion or "",
                posture=scene.posture or "",
                duration_seconds=scene.duration,
                example_url=scene.exampleUrl or "",
                video_cover_url=scene.videoCoverUrl or "",
                cover_url=scene.coverUrl or "",
            )
            for scene in vo.sceneList or []
        ),
    )
