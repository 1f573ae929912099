"""Emulated Guiji live-manager platform (HTTP part), written from guiji-live-manager-api.txt and
LiveDeck's reading of it (the Guiji plan note). The MQTT session protocol is in ``guiji_live``.

Answers. Every HTTP answer is HTTP 200 with ``{"code", "msg", "success", "data"}`` (2.2): ``code``
200 is success; 100501 no ``token`` header; 100502 token unknown or expired; 100503 bad
appId/appSecret; 100504 secret key not yet valid; 100505 secret key expired; 500 anything else
(bad input, an unknown or foreign live room or session), with ``msg`` saying what. Unknown paths
are HTTP 404 and wrong methods HTTP 405, in the same envelope.

Choices where the document is silent, kept deliberately:

* A token's life restarts on every use (2.2: "the token's validity time will be automatically
  refreshed"); tokens issued earlier stay valid until they expire.
* Every call but 3.1 needs ``source: sdk``; without it the answer is 500.
* 3.15 answers both spellings of its page (``records``/``list``, ``size``/``pageSize``, plus
  ``current`` and ``pages``); 3.16 answers the play addresses both as ``data.data.playaddr`` (the
  example) and directly in ``data.data`` (the table).
* 3.12 has no text field; the trial says a fixed sentence (or ``text`` when given) and answers
  its length in seconds.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .config import SandboxConfig
from .guiji_catalog import (
    ASSETS,
    CATEGORIES,
    CHANGE_VOICES,
    PLATFORM_ANCHORS,
    PLATFORM_VOICES,
    PUBLIC_MATERIALS,
)
from .guiji_live import GuijiLive
from .guiji_models import (
    CategoryQuery,
    GuijiAccountBody,
    GuijiAccountFileEntry,
    IdQuery,
    KillBody,
    LiveRoomCreate,
    LiveRoomUpdate,
    MaterialQuery,
    MaterialUpload,
    PageQuery,
    PathQuery,
    PublicMaterialQuery,
    SessionCreate,
    TokenRequest,
    VoiceTrial,
)
from .guiji_state import (
    BAD_SECRET,
    BY_RESET,
    CREATED,
    FAILED,
    LIVE,
    MAKING,
    SUCCESS,
    TOKEN_EMPTY,
    TOKEN_EXPIRED,
    TOPIC_PUB,
    Account,
    GuijiError,
    LiveRoom,
    Material,
    Session,
    Token,
    parse_key_time,
    play_addresses,
    vendor_time,
)
from .speech import text_speech
from .web import HttpError, Request, Response, Router, describe_validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)

PREFIX = "/live-manager/"
TOKEN_PATH = "/live-manager/open/accessToken"
OK_MSG = "处理成功"
TRIAL_TEXT = "Welcome to the live room, this is how my voice sounds."
DAY = 86_400.0


def ok(data: Any) -> Response:
    return Response({"code": SUCCESS, "msg": OK_MSG, "success": True, "data": data})


def describe(exc: ValidationError, prefix: str = "") -> str:
    return describe_validation_error(exc, prefix).replace("Value error, ", "")


def page_of(items: list[Any], page: int, size: int) -> tuple[list[Any], int, int]:
    """One page, the total and the number of pages."""
    start = (page - 1) * size
    return items[start : start + size], len(items), math.ceil(len(items) / size)


class Guiji:
    """All Guiji state of the sandbox and the HTTP handlers that act on it."""

    def __init__(self, config: SandboxConfig, *, verbose: bool = False) -> None:
        self.config = config
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.rooms: dict[int, LiveRoom] = {}
        self.materials: dict[int, Material] = {}
        self.sessions: dict[str, Session] = {}
        self._next_room = 1_246_100
        self._next_material = 312_600
        self._next_record = 17_800
        self.live = GuijiLive(self, verbose=verbose)

    # --- accounts --------------------------------------------------------------------------------

    def provision(self, app_id: str, body: GuijiAccountBody) -> Account:
        now = time.time()
        start = parse_key_time(body.keyStart) if body.keyStart is not None else now - DAY
        end = parse_key_time(body.keyEnd) if body.keyEnd is not None else now + 365 * DAY
        if end <= start:
            raise ValueError("keyEnd must be after keyStart")
        account = self.accounts.get(app_id)
        if account is None:
            account = Account(
                app_id=app_id,
                app_secret=body.appSecret,
                number=len(self.accounts) + 1,
                mqtt_user=body.mqttUser or app_id,
                mqtt_password=body.mqttPassword or secrets.token_urlsafe(12),
                key_start=start,
                key_end=end,
            )
            self.accounts[app_id] = account
            return account
        account.app_secret = body.appSecret
        account.mqtt_user = body.mqttUser or app_id
        account.mqtt_password = body.mqttPassword or account.mqtt_password
        account.key_start, account.key_end = start, end
        return account

    def provision_all(self, entries: list[GuijiAccountFileEntry]) -> None:
        for entry in entries:
            if entry.kind == "guiji":
                self.provision(entry.appId, entry.body())

    def owns_topic(self, topic: str) -> bool:
        """Whether a topicSub names one of this sandbox's accounts (another server may share the broker)."""
        user = topic.split("/", 1)[0]
        return any(account.mqtt_user == user for account in self.accounts.values())

    def check_token(self, value: str) -> Account:
        """The token's account; raises 100502 (unknown or expired) or the key's 100504/100505."""
        now = time.time()
        token = self.tokens.get(value)
        if token is None or token.expires_at <= now:
            self.tokens.pop(value, None)
            raise GuijiError(TOKEN_EXPIRED, "Token has expired")
        problem = token.account.key_problem(now)
        if problem is not None:
            raise GuijiError(*problem)
        token.expires_at = now + self.config.guiji_token_seconds
        return token.account

    def scene(self, account: Account, room: LiveRoom, code: str) -> dict[str, Any] | None:
        """A scene code the session may use: the platform's, the account's own, or the room's."""
        for robot in [*PLATFORM_ANCHORS, *account.anchors, *room.robots]:
            for scene in robot.get("sceneList", []):
                if scene["sceneCode"] == code:
                    return dict(scene, robotName=robot["robotName"])
        return None

    def material_of(self, account: Account, pcm_id: int) -> Material | None:
        material = self.materials.get(pcm_id)
        return material if material is not None and material.account is account else None

    async def reset(self) -> None:
        """Forget every session (silently); accounts, tokens, rooms and materials stay."""
        for session in self.sessions.values():
            if session.alive:
                self.live.end(session, BY_RESET, "sandbox reset")
        self.sessions.clear()

    # --- HTTP plumbing ---------------------------------------------------------------------------

    def register(self, router: Router) -> None:
        api = "/live-manager/openApi"
        routes = [
            ("POST", TOKEN_PATH, self.h_token),
            ("POST", f"{api}/liveInfo/create", self.h_room_create),
            ("POST", f"{api}/liveInfo/update", self.h_room_update),
            ("GET", f"{api}/liveInfo/query", self.h_room_query),
            ("GET", f"{api}/liveInfo/queryByPage", self.h_room_page),
            ("POST", f"{api}/customizedMaterial/upload", self.h_material_upload),
            ("POST", f"{api}/customizedMaterial/query", self.h_material_query),
            ("GET", f"{api}/speaker/platformList", self.h_platform_voices),
            ("GET", f"{api}/speaker/customizedList", self.h_customized_voices),
            ("GET", f"{api}/robot/platformList", self.h_platform_anchors),
            ("GET", f"{api}/robot/customizedList", self.h_customized_anchors),
            ("GET", f"{api}/voice/changeVoiceList", self.h_change_voices),
            ("POST", f"{api}/speaker/syncSynthesisWavAndChangeVoice", self.h_voice_trial),
            ("GET", f"{api}/materialCategory/query", self.h_categories),
            ("GET", f"{api}/material/query", self.h_public_materials),
            ("GET", f"{api}/liveRecord/query", self.h_records),
            ("GET", f"{api}/live/getPath", self.h_get_path),
            ("POST", f"{api}/live/createLiveSession", self.h_create_session),
            ("PUT", "/_sandbox/guiji/accounts/{appId}", self.h_put_account),
            ("GET", "/_sandbox/guiji/accounts", self.h_list_accounts),
            ("GET", "/_sandbox/guiji/sessions/{sessionId}", self.h_inspect),
            ("POST", "/_sandbox/guiji/sessions/{sessionId}/kill", self.h_kill),
            ("GET", "/_sandbox/guiji/heartbeats", self.h_heartbeats),
            ("GET", "/_sandbox/guiji/mqtt", self.h_mqtt),
        ]
        for method, path, handler in routes:
            router.add(method, path, handler)

    @staticmethod
    def expired_token_fault(path: str) -> GuijiError | None:
        """What the ``expired_token`` fault answers on ``path`` (3.1 takes no token: nothing)."""
        return None if path == TOKEN_PATH else GuijiError(TOKEN_EXPIRED, "Token has expired")

    def account_for(self, request: Request) -> Account:
        """Every call but 3.1 carries ``token`` and ``source: sdk`` headers (1.2)."""
        token = request.headers.get("token", "").strip()
        if not token:
            raise GuijiError(TOKEN_EMPTY, "Token cannot be empty")
        if request.headers.get("source", "").strip() != "sdk":
            raise GuijiError(FAILED, "header source must be sdk")
        return self.check_token(token)

    @staticmethod
    def body(request: Request, model: type[ModelT]) -> ModelT:
        if request.body and "application/json" not in request.headers.get("content-type", ""):
            raise GuijiError(FAILED, "Content-Type must be application/json")
        try:
            return model.model_validate_json(request.body or b"{}")
        except ValidationError as exc:
            raise GuijiError(FAILED, describe(exc)) from exc

    @staticmethod
    def query(request: Request, model: type[ModelT]) -> ModelT:
        try:
            return model.model_validate(request.query)
        except ValidationError as exc:
            raise GuijiError(FAILED, describe(exc)) from exc

    def room_of(self, account: Account, live_id: int) -> LiveRoom:
        room = self.rooms.get(live_id)
        if room is None or room.account is not account:
            raise GuijiError(FAILED, f"live room {live_id} not found")
        return room

    # --- 3.1 -------------------------------------------------------------------------------------

    async def h_token(self, request: Request) -> Response:
        # 3.1 Obtain token
        body = self.body(request, TokenRequest)
        account = self.accounts.get(body.appId)
        if account is None or not secrets.compare_digest(account.app_secret, body.appSecret):
            raise GuijiError(BAD_SECRET, "Invalid appId or appSecret")
        now = time.time()
        problem = account.key_problem(now)
        if problem is not None:
            raise GuijiError(*problem)
        self.tokens = {key: token for key, token in self.tokens.items() if token.expires_at > now}
        token = Token(secrets.token_hex(64).upper(), account, now + self.config.guiji_token_seconds)
        self.tokens[token.value] = token
        return ok(
            {
                "token": token.value,
                "expirationTime": math.ceil(self.config.guiji_token_seconds),
                "startTime": vendor_time(account.key_start),
                "endTime": vendor_time(account.key_end),
                "mqttUser": account.mqtt_user,
                "mqttPassword": account.mqtt_password,
            }
        )

    # --- 3.2 - 3.5 live rooms --------------------------------------------------------------------

    async def h_room_create(self, request: Request) -> Response:
        # 3.2 Create A Live Room
        account = self.account_for(request)
        body = self.body(request, LiveRoomCreate)
        self._next_room += 1
        robots = [robot.model_dump(exclude_none=True) for robot in body.robotList or []]
        room = LiveRoom(self._next_room, account, body.cutinFlag, body.liveName, robots, time.time())
        self.rooms[room.id] = room
        return ok(room.id)

    async def h_room_update(self, request: Request) -> Response:
        # 3.3 Update Live Room: null fields are left as they are
        account = self.account_for(request)
        body = self.body(request, LiveRoomUpdate)
        room = self.room_of(account, body.id)
        if body.cutinFlag is not None:
            room.cutin = body.cutinFlag
        if body.liveName is not None:
            room.name = body.liveName
        if body.robotList is not None:
            room.robots = [robot.model_dump(exclude_none=True) for robot in body.robotList]
        return ok(True)

    async def h_room_query(self, request: Request) -> Response:
        # 3.4 Query Live Room
        account = self.account_for(request)
        return ok(self.room_of(account, self.query(request, IdQuery).id).vo())

    async def h_room_page(self, request: Request) -> Response:
        # 3.5 Querying the Live Room List, newest first
        account = self.account_for(request)
        query = self.query(request, PageQuery)
        rooms = sorted((r for r in self.rooms.values() if r.account is account), key=lambda r: -r.id)
        records, total, pages = page_of(rooms, query.page, query.pageSize)
        return ok(
            {"records": [r.vo() for r in records], "total": total, "pages": pages, "size": query.pageSize}
        )

    # --- 3.6 - 3.7 materials ---------------------------------------------------------------------

    async def h_material_upload(self, request: Request) -> Response:
        # 3.6 Material Upload (Play Script Upload)
        account = self.account_for(request)
        body = self.body(request, MaterialUpload)
        room = self.room_of(account, body.liveId)
        self._next_material += 1
        tts = body.model_dump(
            include={
                "ttsSource",
                "ttsSpeaker",
                "volume",
                "intonation",
                "speedRate",
                "f0upKey",
                "changeVoiceSpeaker",
            },
            exclude_none=True,
        )
        text = body.text if body.materialType == "TEXT" else None
        url = body.materialUrl if body.materialType == "AUDIO" else None
        material = Material(
            self._next_material,
            account,
            room.id,
            body.materialType,
            body.materialDescription,
            text,
            url,
            tts,
            time.time(),
        )
        self.materials[material.id] = material
        return ok(material.id)

    async def h_material_query(self, request: Request) -> Response:
        # 3.7 Material Query, newest first
        account = self.account_for(request)
        body = self.body(request, MaterialQuery)
        room = self.room_of(account, body.liveId)
        found = [
            m
            for m in self.materials.values()
            if m.live_id == room.id and (body.materialType is None or m.kind == body.materialType)
        ]
        found.sort(key=lambda m: -m.id)
        records, total, _ = page_of(found, body.page, body.pageSize)
        audio = self.config.default_audio_seconds
        return ok(
            {
                "records": [m.vo(audio) for m in records],
                "total": total,
                "current": body.page,
                "size": body.pageSize,
            }
        )

    # --- 3.8 - 3.14 catalogs ---------------------------------------------------------------------

    async def h_platform_voices(self, request: Request) -> Response:
        # 3.8 Platform Voice Query
        self.account_for(request)
        query = self.query(request, PageQuery)
        records, total, _ = page_of(PLATFORM_VOICES, query.page, query.pageSize)
        return ok({"records": records, "total": total, "size": query.pageSize, "current": query.page})

    async def h_customized_voices(self, request: Request) -> Response:
        # 3.8 Customized Voice Query
        return ok(self.account_for(request).voices)

    async def h_platform_anchors(self, request: Request) -> Response:
        # 3.9 Platform Anchor Query
        self.account_for(request)
        return ok(PLATFORM_ANCHORS)

    async def h_customized_anchors(self, request: Request) -> Response:
        # 3.10 Customized Anchor Query
        return ok(self.account_for(request).anchors)

    async def h_change_voices(self, request: Request) -> Response:
        # 3.11 Voice Change Query
        self.account_for(request)
        query = self.query(request, PageQuery)
        records, total, _ = page_of(CHANGE_VOICES, query.page, query.pageSize)
        return ok({"records": records, "total": total, "current": query.page, "size": query.pageSize})

    async def h_voice_trial(self, request: Request) -> Response:
        # 3.12 Voice Change Trial: answers where the synthesized sample is and how long it lasts
        self.account_for(request)
        body = self.body(request, VoiceTrial)
        config = self.config
        speech = text_speech(
            body.text or TRIAL_TEXT,
            per_char=config.speech_seconds_per_char,
            speed_ratio=1.0,
            minimum=config.min_sentence_seconds,
        )
        seconds = max(1, math.ceil(speech.total))
        path = f"{ASSETS}/trial/{uuid.uuid4().hex}.wav#duration={seconds}"
        return ok({"duration": seconds, "filePath": path})

    async def h_categories(self, request: Request) -> Response:
        # 3.13 Public Material Category Query: a code picks that category and its children
        self.account_for(request)
        code = self.query(request, CategoryQuery).code
        found = [c for c in CATEGORIES if not code or code in (c["code"], c["parentCode"])]
        return ok(found)

    async def h_public_materials(self, request: Request) -> Response:
        # 3.14 Public Material Query
        self.account_for(request)
        query = self.query(request, PublicMaterialQuery)
        under = {
            c["code"]
            for c in CATEGORIES
            if query.parentCode and query.parentCode in (c["code"], c["parentCode"])
        }
        found = [
            m
            for m in PUBLIC_MATERIALS
            if (not query.code or m["categoryCode"] == query.code)
            and (not query.parentCode or m["categoryCode"] in under)
            and (not query.name or query.name.lower() in m["name"].lower())
        ]
        records, total, _ = page_of(found, query.page, query.pageSize)
        return ok({"records": records, "total": total, "current": query.page, "size": query.pageSize})

    # --- 3.15 - 3.17 sessions --------------------------------------------------------------------

    async def h_records(self, request: Request) -> Response:
        # 3.15 Live Record Query: one record per session, newest first
        account = self.account_for(request)
        query = self.query(request, PageQuery)
        sessions = sorted(
            (s for s in self.sessions.values() if s.account is account), key=lambda s: -s.record_id
        )
        page, total, pages = page_of(sessions, query.page, query.pageSize)
        records = [self.record(s) for s in page]
        return ok(
            {
                "records": records,
                "list": records,
                "total": total,
                "pages": pages,
                "size": query.pageSize,
                "pageSize": query.pageSize,
                "current": query.page,
            }
        )

    def record(self, session: Session) -> dict[str, Any]:
        """LiveRecordVo, with the example's liveId and duration (minutes) and the end time beside it."""
        if session.state in LIVE:
            status = "Living"
        elif session.state in (CREATED, MAKING):
            status = "Not started"
        else:
            status = "Closed broadcast"
        began = session.made_at
        seconds = ((session.ended_at or time.time()) - began) if began is not None else 0.0
        scene = self.scene(session.account, session.room, session.ud_code) if session.ud_code else None
        hours, rest = divmod(int(seconds), 3600)
        return {
            "id": session.record_id,
            "sessionId": session.session_id,
            "liveId": session.room.id,
            "liveName": session.room.name,
            "modeName": scene["robotName"] if scene else "",
            "liveStatusName": status,
            "cropName": session.account.company,
            "beginTime": vendor_time(session.created_at, "%Y-%m-%d %H:%M"),
            "endTime": vendor_time(session.ended_at, "%Y-%m-%d %H:%M") if session.ended_at else None,
            "totalDurationStr": f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}",
            "duration": round(seconds / 60, 2),
        }

    async def h_get_path(self, request: Request) -> Response:
        # 3.16 Obtain the streaming address (once the session is made)
        account = self.account_for(request)
        query = self.query(request, PathQuery)
        session = self.sessions.get(query.sessionId)
        if session is None or session.account is not account or not session.alive:
            raise GuijiError(FAILED, f"session {query.sessionId} not found")
        if session.room.id != query.liveId:
            raise GuijiError(FAILED, f"session {query.sessionId} does not belong to live room {query.liveId}")
        if not session.made:
            raise GuijiError(FAILED, f"session {query.sessionId} is not made yet")
        addresses = play_addresses(session.session_id, "http_flv")
        path = {"playaddr": addresses, **addresses}
        return ok({"message": "success", "ok": True, "info": "get path ok", "data": path})

    async def h_create_session(self, request: Request) -> Response:
        # 3.17 Creating a Live Session: made later over MQTT (4.2.3), forgotten if it is not
        account = self.account_for(request)
        body = self.body(request, SessionCreate)
        room = self.room_of(account, body.liveId)
        self._next_record += 1
        session = Session(
            session_id=str(uuid.uuid4()),
            record_id=self._next_record,
            account=account,
            room=room,
            name=body.name,
            topic_sub=f"{account.mqtt_user}/topicSendClient{uuid.uuid4()}",
            created_at=time.time(),
        )
        self.sessions[session.session_id] = session
        loop = asyncio.get_running_loop()
        lifetime = self.config.guiji_session_seconds
        session.timers["expire"] = loop.call_later(lifetime, self.live.expire, session)
        return ok(
            {
                "liveId": room.id,
                "sessionId": session.session_id,
                "expirationTime": math.ceil(lifetime),
                "topicSub": session.topic_sub,
                "topicPub": TOPIC_PUB,
            }
        )

    # --- sandbox control and inspection ----------------------------------------------------------

    async def h_put_account(self, request: Request) -> Response:
        body = request.parse(GuijiAccountBody)
        try:
            self.provision(request.path_params["appId"], body)
        except ValueError as exc:
            raise HttpError(400, str(exc)) from exc
        return Response({"ok": True})

    async def h_list_accounts(self, request: Request) -> Response:
        return Response([account.describe() for account in self.accounts.values()])

    def _any_session(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise HttpError(404, f"session {session_id} not found")
        return session

    async def h_inspect(self, request: Request) -> Response:
        return Response(self.live.describe(self._any_session(request.path_params["sessionId"])))

    async def h_kill(self, request: Request) -> Response:
        """Destroy a session behind the customer's back, as the vendor does when a render node dies."""
        session = self._any_session(request.path_params["sessionId"])
        body = request.parse(KillBody)
        if not session.alive:
            raise HttpError(409, f"session is already {session.state}")
        self.live.destroy(session, body.cause)
        return Response({"ok": True, "cause": body.cause})

    async def h_heartbeats(self, request: Request) -> Response:
        beats = {
            sid: {"sent": s.heartbeats_sent, "answered": s.heartbeats_answered, "maxGap": s.max_gap}
            for sid, s in self.sessions.items()
        }
        return Response(beats)

    async def h_mqtt(self, request: Request) -> Response:
        return Response(self.live.describe_link())
