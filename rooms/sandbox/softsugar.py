"""Emulated SoftSugar interactive live platform, written from softsugar-interactive-live-api.txt alone.

Error answers. Token problems are HTTP 401 ``{"code": 401, "message": "Unauthorized: invalid token"}``.
Business errors are HTTP 200 with a non-zero ``code``:

* 400 invalid parameter (bad JSON, a field missing, out of range or of the wrong type)
* 404 session not found (or not this account's), or commandTraceId not in the queue
* 409 wrong state (e.g. start when not 35, heartbeat on a closed session, quick reply while one plays)

Unknown paths are HTTP 404 and wrong methods HTTP 405, both with the same ``code``/``message`` body.
Cancel reports an unknown commandTraceId the way the document shows: ``isSuccess`` false and
``data.message`` (nothing is cancelled then). "Live NLP Q&A" answers with its own flat body and puts
errors in ``error_message``.

Choices where the document is silent, kept deliberately:

* Creation with ``create_delay`` 0 answers 35 and still sends callback 35.
* Over ``maxSessions`` open sessions (98) is checked before the platform ``capacity`` (97); such a
  session is recorded closed at once and shows in history/list with status 97 or 98.
* Takeovers play only while the session is 35 or 2. A cancelled takeover (cancel endpoint, an
  interruptible command, a quick reply) gets callback 37 with ``taskResult`` saying why; the
  microphone socket gets code 18 for it.
* A queue longer than the recommended 15 is accepted; the answer's ``message`` carries a warning.
* Takeover text under 10 characters is accepted and fails with callback 39 when its turn comes.
* A quick reply interrupts the playing takeover (if any) and leaves the waiting queue alone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import random
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Coroutine
from typing import Any

from pydantic import ValidationError

from .callbacks import CallbackSender
from .config import SandboxConfig
from .softsugar_mic import DROPPED_CLOSE_CODE
from .softsugar_models import (
    AccountBody,
    AccountFileEntry,
    CancelRequest,
    CommandRequest,
    CreateRequest,
    HistoryRequest,
    LiveScript,
    NlpReplyRequest,
    QaLibraryBody,
    QueueRequest,
    QuickParam,
    ReorderRequest,
    RtcTokenRequest,
    SessionRequest,
    TakeoverParam,
)
from .softsugar_qa import QaLibraries
from .softsugar_state import (
    CLOSED,
    CREATING,
    CUSTOMER_SHORTAGE,
    DROPPED,
    EXCEPTION,
    INIT_FAILED,
    LIVE,
    READY,
    SYSTEM_SHORTAGE,
    TAKEOVER_FAILED,
    TAKEOVER_FINISHED,
    TAKEOVER_PREPARING,
    TAKEOVER_QUEUED,
    TAKEOVER_STARTED,
    Account,
    MicPeer,
    Session,
    Takeover,
    vendor_time,
)
from .speech import Speech, audio_fragment, audio_speech, text_speech
from .web import (
    INVALID_PARAMETER,
    NOT_FOUND,
    WRONG_STATE,
    ApiError,
    HttpError,
    Request,
    Response,
    Router,
    describe_validation_error,
    ok,
)

RECOMMENDED_QUEUE_LENGTH = 15
PLATFORM_RTC_APP_ID = "sandbox-rtc-app"
# Microphone downstream codes for HTTP takeovers ("Streaming Voice Takeover").
MIC_CODES = {
    TAKEOVER_QUEUED: (20, "Takeover queued successfully"),
    TAKEOVER_STARTED: (19, "Start playing takeover"),
    TAKEOVER_FINISHED: (18, "Takeover/cancellation completed"),
    TAKEOVER_FAILED: (18, "Takeover/cancellation completed"),
}


def new_rtc_token() -> str:
    return "007" + base64.b64encode(secrets.token_bytes(96)).decode()


def parse_json_param(raw: str, model: type[Any], name: str = "param") -> Any:
    """Validate a JSON-escaped ``param`` string; errors name the field inside it."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise ApiError(INVALID_PARAMETER, describe_validation_error(exc, prefix=name)) from exc


class SoftSugar:
    """All SoftSugar state of the sandbox and the HTTP handlers that act on it."""

    def __init__(self, config: SandboxConfig, callbacks: CallbackSender) -> None:
        self.config = config
        self.callbacks = callbacks
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, Session] = {}
        # Open sessions ordered by last heartbeat, oldest first: the sweep only looks at the front.
        self.by_last_beat: OrderedDict[str, Session] = OrderedDict()
        self.qa = QaLibraries()
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run a fire-and-forget coroutine (socket notifications), keeping a reference until done."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def drop_mic_peers(self) -> None:
        """The ``drop_websockets`` fault: close every microphone socket without a goodbye."""
        for session in self.sessions.values():
            for peer in list(session.mic_peers):
                self.spawn(peer.close(DROPPED_CLOSE_CODE))

    # --- accounts and housekeeping --------------------------------------------------------------

    def provision(self, token: str, body: AccountBody) -> Account:
        account = self.accounts.get(token) or Account(token=token)
        account.callback_url = body.callbackUrl
        account.max_sessions = body.maxSessions
        self.accounts[token] = account
        return account

    def provision_all(self, entries: list[AccountFileEntry]) -> None:
        for entry in entries:
            if entry.kind == "softsugar":
                self.provision(entry.token, entry)

    async def reset(self) -> None:
        """Forget every session and Q&A library; accounts stay."""
        for session in list(self.sessions.values()):
            if session.is_open:
                self.close(session, DROPPED, "sandbox reset", notify=False)
            await self._stop_tasks(session)
        self.sessions.clear()
        self.by_last_beat.clear()
        for account in self.accounts.values():
            account.open_sessions = 0
        self.qa.reset()

    def sweep(self, now: float) -> None:
        """Close as 50 every open session whose last heartbeat (or creation) is too old."""
        threshold = self.config.heartbeat_threshold
        while self.by_last_beat:
            session = next(iter(self.by_last_beat.values()))
            if now - session.last_beat < threshold:
                return
            self.close(session, DROPPED, f"heartbeat lost for more than {threshold:g} seconds")

    # --- lifecycle --------------------------------------------------------------------------------

    def create(self, account: Account, body: CreateRequest) -> Session:
        """Create a room: 98/97 when out of channels, else 32 (then 35 after create_delay) or 35."""
        script: LiveScript = parse_json_param(body.param, LiveScript)
        now = time.time()
        session = Session(
            session_id=uuid.uuid4().hex,
            session_token=base64.urlsafe_b64encode(secrets.token_bytes(48)).decode().rstrip("="),
            account=account,
            script=script,
            user_data=body.userData,
            rtc=self._rtc_for(body),
            status=CREATING,
            created_at=now,
            last_beat=now,
        )
        self.sessions[session.session_id] = session
        if account.open_sessions >= account.max_sessions:
            return self._refuse(session, CUSTOMER_SHORTAGE, now)
        if len(self.by_last_beat) >= self.config.capacity:
            return self._refuse(session, SYSTEM_SHORTAGE, now)
        account.open_sessions += 1
        self.by_last_beat[session.session_id] = session
        if self.config.create_delay > 0:
            loop = asyncio.get_running_loop()
            session.ready_timer = loop.call_later(self.config.create_delay, self._become_ready, session)
        else:
            self._become_ready(session)
        return session

    def _rtc_for(self, body: CreateRequest) -> dict[str, str]:
        if body.urtcUseExternalApp:
            return {
                "rtcAppId": body.urtcAppId or "",
                "rtcChannelId": body.urtcChannelId or "",
                "rtcUid": body.urtcUid or "",
                "rtcToken": body.urtcToken or "",
            }
        return {
            "rtcAppId": PLATFORM_RTC_APP_ID,
            "rtcChannelId": "ss-" + uuid.uuid4().hex,
            "rtcUid": str(random.randint(1, 4_294_967_295)),
            "rtcToken": new_rtc_token(),
        }

    def _refuse(self, session: Session, status: int, now: float) -> Session:
        session.status = status
        session.ended_at = now
        shortage = "customer" if status == CUSTOMER_SHORTAGE else "system"
        session.task_result = f"{shortage} channel shortage"
        return session

    def _become_ready(self, session: Session) -> None:
        if session.status != CREATING:
            return
        now = time.time()
        session.status = READY
        session.ready_at = now
        session.ready_timer = None
        session.resume_script(now)
        self._session_callback(session)

    def close(self, session: Session, status: int, reason: str | None, *, notify: bool = True) -> None:
        """End an open session: stop timers, playback and mic sockets, then call back."""
        if not session.is_open:
            return
        now = time.time()
        session.status = status
        session.ended_at = now
        session.task_result = reason
        session.account.open_sessions -= 1
        self.by_last_beat.pop(session.session_id, None)
        session.pause_script(now)
        if session.ready_timer is not None:
            session.ready_timer.cancel()
            session.ready_timer = None
        for item in [*session.queue, *session.preparing.values()]:
            self._end(session, item, "cancelled", "session closed", now, notify=False)
        session.queue.clear()
        session.preparing.clear()
        if session.player is not None:
            session.player.cancel()
        for peer in list(session.mic_peers):
            self.spawn(self._stop_mic(peer))
        if notify:
            self._session_callback(session)

    @staticmethod
    async def _stop_mic(peer: MicPeer) -> None:
        await peer.send_json({"code": 4, "message": "Stop sending voice data"})
        await peer.close()

    async def _stop_tasks(self, session: Session) -> None:
        tasks = [*session.background_tasks, *([session.player] if session.player else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- callbacks ("Live Streaming Status Callback Parameters") ---------------------------------

    def _callback(self, session: Session, payload: dict[str, Any]) -> None:
        if session.user_data is not None:
            payload["userData"] = session.user_data
        session.callbacks.append(payload)
        self.callbacks.send(session.session_id, session.account.callback_url, payload)

    def _session_callback(self, session: Session) -> None:
        payload: dict[str, Any] = {"sessionId": session.session_id, "status": session.status}
        if session.status == READY:
            payload.update(session.rtc)
        if session.task_result:
            payload["taskResult"] = session.task_result
        self._callback(session, payload)

    def _takeover_event(self, session: Session, item: Takeover, status: int, now: float) -> None:
        payload: dict[str, Any] = {
            "sessionId": session.session_id,
            "status": status,
            "commandTraceId": item.trace_id,
            "commandFinishTime": vendor_time(now),
        }
        if item.result:
            payload["taskResult"] = item.result
        self._callback(session, payload)
        code, message = MIC_CODES[status]
        note = {
            "code": code,
            "message": message,
            "data": {"sessionId": session.session_id, "commandTraceId": item.trace_id, "timestamp": int(now)},
        }
        for peer in list(session.mic_peers):
            self.spawn(peer.send_json(note))

    # --- takeovers ----------------------------------------------------------------------------------

    def _takeover(self, session: Session, source: str, param: TakeoverParam) -> Takeover:
        """Build a takeover; its playing time follows its text length or its audio's length."""
        now = time.time()
        text = param.tts_query.content if param.tts_query else ""
        audio = None if param.tts_query else param.audio
        return self._make_item(session, source, text, audio, now, param.background_url)

    def _make_item(
        self, session: Session, source: str, text: str, audio: str | None, now: float, background: str | None
    ) -> Takeover:
        config = self.config
        if text:
            speech = text_speech(
                text,
                per_char=config.speech_seconds_per_char,
                speed_ratio=session.script.scene.tts_config.speed_ratio,
                minimum=config.min_sentence_seconds,
            )
        else:
            speech = audio_speech([audio or ""], default_seconds=config.default_audio_seconds)
        error = None
        if audio is None and len(text) < 10:
            error = "tts_query.content must be at least 10 characters"
        return Takeover(
            trace_id=uuid.uuid4().hex,
            source=source,
            text=text,
            audio_url=audio,
            speech=speech,
            seconds=max(speech.total, config.min_sentence_seconds),
            accepted_at=now,
            background_url=background,
            error=error,
        )

    def _require_speaking(self, session: Session) -> None:
        if not session.is_speaking:
            raise ApiError(WRONG_STATE, f"session is not ready or live (status {session.status})")

    def play_now(self, session: Session, param: TakeoverParam) -> Takeover:
        """Interruptible takeover: everything queued or preparing is cancelled and this plays at once."""
        self._require_speaking(session)
        item = self._takeover(session, "command", param)
        now = time.time()
        for other in [*session.queue, *session.preparing.values()]:
            self._end(session, other, "cancelled", "interrupted by a new takeover", now)
        session.queue.clear()
        session.preparing.clear()
        self._enter_queue(session, item, 0, now, announce=False)
        return item

    async def enqueue(
        self, session: Session, param: TakeoverParam, priority: int | None
    ) -> tuple[int, Takeover]:
        """Queueable takeover: prepares first, answers 33 if preparing outlasts the threshold, else 34."""
        self._require_speaking(session)
        if priority is not None and priority < 1:
            raise ApiError(INVALID_PARAMETER, "invalid parameter priority: the range of insertion is 1 - N")
        item = self._takeover(session, "queue", param)
        prepare = self.config.prepare_delay + audio_fragment(item.audio_url or "").get("prepare", 0.0)
        if prepare <= self.config.prepare_threshold:
            if prepare > 0:
                session.preparing[item.trace_id] = item
                await asyncio.sleep(prepare)
                session.preparing.pop(item.trace_id, None)
                if item.outcome is not None or not session.is_speaking:
                    raise ApiError(WRONG_STATE, f"takeover {item.outcome or 'dropped'} while preparing")
            self._enter_queue(session, item, priority, time.time())
            return TAKEOVER_QUEUED, item
        session.preparing[item.trace_id] = item
        finishing = self._finish_preparing(session, item, prepare, priority)
        session.track(asyncio.get_running_loop().create_task(finishing))
        await asyncio.sleep(self.config.prepare_threshold)
        return TAKEOVER_PREPARING, item

    async def _finish_preparing(
        self, session: Session, item: Takeover, seconds: float, priority: int | None
    ) -> None:
        await asyncio.sleep(seconds)
        if session.preparing.pop(item.trace_id, None) is None or not session.is_speaking:
            return
        self._enter_queue(session, item, priority, time.time())

    def _enter_queue(
        self, session: Session, item: Takeover, priority: int | None, now: float, *, announce: bool = True
    ) -> None:
        """Insert after ``priority`` items (position 1 is the one playing); absent or too far -> end."""
        index = priority if priority is not None and priority < len(session.queue) else len(session.queue)
        session.queue.insert(index, item)
        item.queued_at = now
        if announce:
            self._takeover_event(session, item, TAKEOVER_QUEUED, now)
        if session.player is None or session.player.done():
            session.player = asyncio.get_running_loop().create_task(self._play(session))

    async def _play(self, session: Session) -> None:
        """Play the queue head by head; a cancel sets the item's ``stop`` event to cut it short."""
        while session.queue and session.is_speaking:
            item = session.queue[0]
            now = time.time()
            if item.error:
                self._end(session, item, "failed", item.error, now)
                continue
            item.started_at = now
            session.pause_script(now)
            self._takeover_event(session, item, TAKEOVER_STARTED, now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(item.stop.wait(), item.seconds)
            if item.outcome is None:
                self._end(session, item, "finished", None, time.time())
        if session.is_speaking:
            session.resume_script(time.time())

    def _end(
        self,
        session: Session,
        item: Takeover,
        outcome: str,
        result: str | None,
        now: float,
        *,
        notify: bool = True,
    ) -> None:
        """Take an item out of the queue for good and report it (37, or 39 when it failed)."""
        if item.outcome is not None:
            return
        item.outcome = outcome
        item.result = result
        item.ended_at = now
        item.stop.set()
        if item in session.queue:
            session.queue.remove(item)
        session.preparing.pop(item.trace_id, None)
        session.played.append(item)
        if notify:
            status = TAKEOVER_FAILED if outcome == "failed" else TAKEOVER_FINISHED
            self._takeover_event(session, item, status, now)

    def find_queued(self, session: Session, trace_id: str) -> Takeover | None:
        for item in session.queue:
            if item.trace_id == trace_id:
                return item
        return session.preparing.get(trace_id)

    def reorder(self, session: Session, trace_id: str, priority: int) -> None:
        if priority < 1:
            raise ApiError(INVALID_PARAMETER, "invalid parameter priority: must be 1 or more")
        item = self.find_queued(session, trace_id)
        if item is None:
            raise ApiError(NOT_FOUND, f"commandTraceId {trace_id} is not in the queue")
        if item.trace_id in session.preparing:
            raise ApiError(WRONG_STATE, f"takeover {trace_id} is still preparing")
        if session.queue[0] is item:
            raise ApiError(WRONG_STATE, f"takeover {trace_id} is playing and cannot be moved")
        session.queue.remove(item)
        session.queue.insert(min(priority, len(session.queue)), item)

    def cancel(self, session: Session, trace_ids: str) -> dict[str, Any]:
        """Cancel one id, several joined by ';', or everything with '-1'; unknown ids cancel nothing."""
        if trace_ids.strip() == "-1":
            items = [*session.queue, *session.preparing.values()]
        else:
            wanted = [part.strip() for part in trace_ids.split(";") if part.strip()]
            found = {trace_id: self.find_queued(session, trace_id) for trace_id in wanted}
            missing = [trace_id for trace_id, item in found.items() if item is None]
            if missing or not wanted:
                reason = f"commandTraceId not found: {';'.join(missing) or trace_ids}"
                return {"isSuccess": False, "message": reason}
            items = [item for item in found.values() if item is not None]
        now = time.time()
        for item in items:
            self._end(session, item, "cancelled", "cancelled", now)
        return {"isSuccess": True, "commandFinishTime": vendor_time(now)}

    def quick_reply(self, session: Session, param: QuickParam) -> Takeover:
        """Live Chat Handoff: play a quick_response entry now; no queueing, no overlap."""
        self._require_speaking(session)
        script = session.script
        replies = script.scene.quick_response or []
        if script.live_type != "interactive" or not replies:
            raise ApiError(WRONG_STATE, "quick replies need live_type interactive and quick_response")
        if param.order >= len(replies):
            raise ApiError(
                INVALID_PARAMETER, f"invalid parameter order: there are {len(replies)} quick replies"
            )
        playing = session.playing
        if playing is not None and playing.source == "quick":
            raise ApiError(WRONG_STATE, "a quick reply is already playing")
        index = random.randrange(len(replies)) if param.order == -1 else param.order
        text, audio = script.quick_reply_text(index)
        now = time.time()
        item = self._make_item(session, "quick", text, audio, now, None)
        item.error = None  # quick replies are short by nature ("hello", "bye")
        if session.queue:
            self._end(session, session.queue[0], "cancelled", "interrupted by a quick reply", now)
        self._enter_queue(session, item, 0, now, announce=False)
        return item

    # --- what the audience sees (sandbox monitor) ---------------------------------------------------

    def _script_speech(self, session: Session) -> Speech:
        config = self.config
        key = (config.speech_seconds_per_char, config.min_sentence_seconds)
        if session.script_speech is None or session.script_speech[0] != key:
            scene = session.script.scene
            if scene.tts_query is not None:
                speech = text_speech(
                    scene.tts_query.content,
                    per_char=key[0],
                    speed_ratio=scene.tts_config.speed_ratio,
                    minimum=key[1],
                )
            else:
                urls = [audio.url for audio in scene.audios or []]
                speech = audio_speech(urls, default_seconds=config.default_audio_seconds)
            session.script_speech = (key, speech)
        return session.script_speech[1]

    def monitor(self, session: Session, now: float) -> dict[str, Any]:
        """The program as a viewer would see it: who, which background, what is being said."""
        scene = session.script.scene
        background = scene.backgrounds[0] if scene.backgrounds else None
        view: dict[str, Any] = {
            "status": session.status,
            "anchor": scene.digital_role.name,
            "background": background.name if background else "",
            "backgroundUrl": background.url if background else "",
            "subtitle": "",
            "playing": None,
        }
        if not session.is_speaking:
            return view
        item = session.playing
        if item is not None:
            view["subtitle"] = item.speech.subtitle_at(now - (item.started_at or now))
            view["playing"] = item.trace_id
            if item.background_url:
                view["backgroundUrl"] = item.background_url
            return view
        speech = self._script_speech(session)
        elapsed = session.script_elapsed(now)
        recycle = session.script.recycle
        if speech.total <= 0:
            view["playing"] = "script"
        elif recycle == 0 or elapsed < recycle * speech.total:
            view["subtitle"] = speech.subtitle_at(elapsed % speech.total)
            view["playing"] = "script"
        return view

    # --- HTTP handlers ---------------------------------------------------------------------------

    def register(self, router: Router) -> None:
        base = "/api/2dvh/v1/material/live/channel"
        routes = [
            ("POST", "/api/2dvh/v2/material/live/channel/create", self.h_create),
            ("POST", f"{base}/heartbeat", self.h_heartbeat),
            ("POST", f"{base}/start", self.h_start),
            ("POST", f"{base}/close", self.h_close),
            ("GET", f"{base}/stat", self.h_stat),
            ("GET", f"{base}/running/list", self.h_running),
            ("POST", f"{base}/history/list", self.h_history),
            ("POST", "/api/2dvh/v1/material/rtc/token/audience", self.h_rtc_token),
            ("POST", f"{base}/command", self.h_command_v1),
            ("POST", "/api/2dvh/v2/material/live/channel/command", self.h_command),
            ("POST", f"{base}/command/queue", self.h_queue),
            ("POST", f"{base}/command/queue/reorder", self.h_reorder),
            ("POST", f"{base}/command/cancel", self.h_cancel),
            ("POST", f"{base}/command/queue/list", self.h_queue_list),
            ("POST", "/api/2dvh/v2/material/live/channel/command/quick", self.h_quick),
            ("POST", "/api/2dvh/v1/nlp/model/reply", self.h_nlp_reply),
            ("PUT", "/_sandbox/softsugar/accounts/{token}", self.h_put_account),
            ("GET", "/_sandbox/softsugar/accounts", self.h_list_accounts),
            ("PUT", "/_sandbox/softsugar/qa/{appId}", self.h_put_qa),
            ("GET", "/_sandbox/softsugar/sessions/{sessionId}", self.h_inspect),
            ("GET", "/_sandbox/softsugar/sessions/{sessionId}/monitor", self.h_monitor),
            ("POST", "/_sandbox/softsugar/sessions/{sessionId}/kill", self.h_kill),
            ("GET", "/_sandbox/softsugar/heartbeat-gaps", self.h_heartbeat_gaps),
        ]
        for method, path, handler in routes:
            router.add(method, path, handler)

    def account_for(self, authorization: str | None) -> Account:
        """The vendor identifies the customer by the token in the request header."""
        scheme, _, token = (authorization or "").partition(" ")
        account = self.accounts.get(token.strip()) if scheme == "Bearer" else None
        if account is None:
            raise HttpError(401, "Unauthorized: invalid token")
        return account

    def _session(self, request: Request, session_id: str) -> Session:
        account = self.account_for(request.headers.get("authorization"))
        session = self.sessions.get(session_id)
        if session is None or session.account is not account:
            raise ApiError(NOT_FOUND, f"session {session_id} not found")
        return session

    def _session_from(self, request: Request, model: type[SessionRequest]) -> tuple[Session, Any]:
        self.account_for(request.headers.get("authorization"))
        body = request.parse(model)
        return self._session(request, body.sessionId), body

    async def h_create(self, request: Request) -> Response:
        # "Create a Live Broadcasting Room"
        account = self.account_for(request.headers.get("authorization"))
        session = self.create(account, request.parse(CreateRequest))
        data = {
            "sessionId": session.session_id,
            "sessionToken": session.session_token,
            "status": session.status,
            **session.rtc_fields(),
        }
        return ok(data)

    async def h_heartbeat(self, request: Request) -> Response:
        # "Live Stream Status Monitoring"
        session, _ = self._session_from(request, SessionRequest)
        if not session.is_open:
            raise ApiError(WRONG_STATE, f"session is closed (status {session.status})")
        session.record_heartbeat(time.time())
        self.by_last_beat.move_to_end(session.session_id)
        return ok()

    async def h_start(self, request: Request) -> Response:
        # "Start Live Stream"
        session, _ = self._session_from(request, SessionRequest)
        if session.status != READY:
            raise ApiError(WRONG_STATE, f"session must be 35 to start, it is {session.status}")
        session.status = LIVE
        return ok(True)

    async def h_close(self, request: Request) -> Response:
        # "Close Live Broadcast"
        session, _ = self._session_from(request, SessionRequest)
        if not session.is_open:
            raise ApiError(WRONG_STATE, f"session is already closed (status {session.status})")
        self.close(session, CLOSED, None)
        return ok(True)

    async def h_stat(self, request: Request) -> Response:
        # "Query Session Status"
        session_id = request.query.get("sessionId", "")
        self.account_for(request.headers.get("authorization"))
        if not session_id:
            raise ApiError(INVALID_PARAMETER, "invalid parameter sessionId: Field required")
        session = self._session(request, session_id)
        data = {"status": session.status, "sessionToken": session.session_token, **session.rtc_fields()}
        return ok(data)

    async def h_running(self, request: Request) -> Response:
        # "Query Ongoing Session List"
        account = self.account_for(request.headers.get("authorization"))
        running = [
            {"sessionId": s.session_id, "status": s.status}
            for s in self.sessions.values()
            if s.account is account and s.is_open
        ]
        return ok(running)

    async def h_history(self, request: Request) -> Response:
        # "Query History Session List"
        account = self.account_for(request.headers.get("authorization"))
        query = request.parse(HistoryRequest)
        found = [
            s
            for s in self.sessions.values()
            if s.account is account
            and not s.is_open
            and (query.sessionId is None or s.session_id == query.sessionId)
            and (query.status is None or s.status == query.status)
        ]
        key = "ended_at" if query.sortName == "endTime" else "created_at"
        found.sort(key=lambda s: getattr(s, key) or 0.0, reverse=query.sortValue != "asc")
        start = (query.pageNo - 1) * query.pageSize
        page = found[start : start + query.pageSize]
        pagination = {
            "pageNo": query.pageNo,
            "numberPages": math.ceil(len(found) / query.pageSize),
            "numberRecords": len(found),
            "pageSize": query.pageSize,
            "startIndex": start,
        }
        result = [
            {
                "sessionId": s.session_id,
                "startTime": vendor_time(s.created_at),
                "endTime": vendor_time(s.ended_at or s.created_at),
                "status": s.status,
            }
            for s in page
        ]
        return ok({"pagination": pagination, "result": result})

    async def h_rtc_token(self, request: Request) -> Response:
        # "Get RTC Token"
        session, body = self._session_from(request, RtcTokenRequest)
        if not session.is_speaking:
            raise ApiError(WRONG_STATE, f"session has no stream (status {session.status})")
        if body.rtcChannelId != session.rtc["rtcChannelId"]:
            raise ApiError(INVALID_PARAMETER, "invalid parameter rtcChannelId: does not match the session")
        return ok(new_rtc_token())

    async def h_command_v1(self, request: Request) -> Response:
        # "Live Takeover (Soon to be Discontinued ...)": same playback, answers a plain boolean.
        session, body = self._session_from(request, CommandRequest)
        self.play_now(session, parse_json_param(body.param, TakeoverParam))
        return ok(True)

    async def h_command(self, request: Request) -> Response:
        # "Interruptible Live Takeover"
        session, body = self._session_from(request, CommandRequest)
        item = self.play_now(session, parse_json_param(body.param, TakeoverParam))
        return ok({"isSuccess": True, "commandTraceId": item.trace_id})

    async def h_queue(self, request: Request) -> Response:
        # "Interruptible Live Takeover with Queueing"
        session, body = self._session_from(request, QueueRequest)
        status, item = await self.enqueue(session, parse_json_param(body.param, TakeoverParam), body.priority)
        message = "success"
        if len(session.queue) > RECOMMENDED_QUEUE_LENGTH:
            message = (
                f"success (warning: the takeover queue holds {len(session.queue)} items, "
                f"more than the recommended {RECOMMENDED_QUEUE_LENGTH})"
            )
        return ok({"commandStatus": status, "commandTraceId": item.trace_id}, message=message)

    async def h_reorder(self, request: Request) -> Response:
        # "Live Broadcast Takeover Reordering"
        session, body = self._session_from(request, ReorderRequest)
        self.reorder(session, body.commandTraceId, body.priority)
        return ok({"isSuccess": True})

    async def h_cancel(self, request: Request) -> Response:
        # "Live Broadcast Takeover Cancellation"
        session, body = self._session_from(request, CancelRequest)
        return ok(self.cancel(session, body.commandTraceId))

    async def h_queue_list(self, request: Request) -> Response:
        # "Live Broadcast Takeover Queue Inquiry"
        session, _ = self._session_from(request, SessionRequest)
        return ok({"commandTraceIds": [item.trace_id for item in session.queue]})

    async def h_quick(self, request: Request) -> Response:
        # "Live Chat Handoff"
        session, body = self._session_from(request, CommandRequest)
        item = self.quick_reply(session, parse_json_param(body.param, QuickParam))
        return ok({"isSuccess": True, "commandTraceId": item.trace_id})

    async def h_nlp_reply(self, request: Request) -> Response:
        # "Live NLP Q&A": a flat body, errors in error_message.
        self.account_for(request.headers.get("authorization"))
        try:
            raw: dict[str, Any] = request.parse(NlpReplyRequest).model_dump()
            error = "" if self.qa.has(raw["appId"]) else f"Q&A library not found: {raw['appId']}"
        except ApiError as exc:
            raw, error = self._loose_json(request.body), exc.message
        answer = self.qa.answer(raw["appId"], raw["query"]) if not error else ""
        return Response(
            {
                "answer": answer,
                "device_id": str(raw.get("device", "")),
                "error_message": error,
                "language": str(raw.get("language", "")),
                "query": str(raw.get("query", "")),
                "session": str(raw.get("session", "")),
                "trace": str(raw.get("trace", "")),
            }
        )

    @staticmethod
    def _loose_json(body: bytes) -> dict[str, Any]:
        try:
            value = json.loads(body or b"{}")
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    # --- sandbox control and inspection ---------------------------------------------------------

    async def h_put_account(self, request: Request) -> Response:
        self.provision(request.path_params["token"], request.parse(AccountBody))
        return Response({"ok": True})

    async def h_list_accounts(self, request: Request) -> Response:
        return Response([account.describe() for account in self.accounts.values()])

    async def h_put_qa(self, request: Request) -> Response:
        body = request.parse(QaLibraryBody)
        self.qa.put(request.path_params["appId"], body.pairs)
        return Response({"ok": True, "pairs": len(body.pairs)})

    def _any_session(self, session_id: str) -> Session:
        session = self.sessions.get(session_id)
        if session is None:
            raise HttpError(404, f"session {session_id} not found")
        return session

    async def h_inspect(self, request: Request) -> Response:
        session = self._any_session(request.path_params["sessionId"])
        return Response(self.describe(session))

    async def h_monitor(self, request: Request) -> Response:
        session = self._session(request, request.path_params["sessionId"])
        return Response(self.monitor(session, time.time()))

    async def h_kill(self, request: Request) -> Response:
        """Close a session behind the customer's back (50 by default; 9 or 99 on request)."""
        session = self._any_session(request.path_params["sessionId"])
        options = self._loose_json(request.body)
        status = options.get("status", DROPPED)
        if status not in (DROPPED, EXCEPTION, INIT_FAILED):
            raise HttpError(400, "status must be 50, 9 or 99")
        if status == INIT_FAILED and session.status != CREATING:
            raise HttpError(409, "99 (initialization failed) only applies to a session in 32")
        if not session.is_open:
            raise HttpError(409, f"session is already closed (status {session.status})")
        self.close(session, status, str(options.get("reason") or "session killed"))
        return Response({"ok": True, "status": status})

    async def h_heartbeat_gaps(self, request: Request) -> Response:
        gaps = {sid: {"count": s.heartbeat_count, "maxGap": s.max_gap} for sid, s in self.sessions.items()}
        return Response(gaps)

    def describe(self, session: Session) -> dict[str, Any]:
        """Everything a test may want to assert on, times as Unix timestamps."""
        return {
            "sessionId": session.session_id,
            "account": session.account.token,
            "status": session.status,
            "createdAt": session.created_at,
            "readyAt": session.ready_at,
            "endedAt": session.ended_at,
            "taskResult": session.task_result,
            "userData": session.user_data,
            "liveType": session.script.live_type,
            "rtc": session.rtc,
            "heartbeats": session.heartbeat_count,
            "heartbeatTimes": list(session.heartbeat_times),
            "lastHeartbeat": session.last_beat,
            "maxHeartbeatGap": session.max_gap,
            "queue": [item.describe() for item in session.queue],
            "preparing": [item.describe() for item in session.preparing.values()],
            "played": [item.describe() for item in session.played],
            "mic": session.mic.describe(len(session.mic_peers)),
            "callbacks": list(session.callbacks),
            "monitor": self.monitor(session, time.time()),
        }
