"""The Guiji session protocol over MQTT (4.2), as LiveDeck reads it.

Clients publish every request (and every HeartBeat reply) on ``live-proxy-0``; the server publishes
everything for a session on that session's topicSub. Replies are ``{"id", "sessionId", "result"}``
or ``{"id", "sessionId", "error": {"sessionId", "message", "code"}}``.

Error codes (the document gives none but the examples' negative numbers; these follow JSON-RPC):

* -32600 invalid request: a repeated id ("duplicate id"), no integer id, a sender that is not the
  session's topicSub
* -32601 unknown method
* -32602 invalid params: a field missing or wrong, unknown liveId, unknown pcm id, unknown udCode,
  unknown res name, a playlist action the list refuses ("index moved", ...)
* -32000 wrong state: anything but CreateNewSession and DestroySession before the session is made,
  CreateNewSession on a session being made or made
* -404 session not found (never created here, or ended: DestroySession, Destroy, expiry, reset)
* -100502 token expired (unknown or expired token in CreateNewSession), -100504 / -100505 for the
  account's secret key, as in HTTP

Several servers may share one broker (each test stack runs its own sandbox): a message about a
session this sandbox does not know is answered only when its sender names one of its accounts.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from .guiji_models import (
    DestroyParams,
    DrawParams,
    Envelope,
    ExecParams,
    MakeEnvelope,
    MakeParams,
    ModifyParams,
    PlaylistParams,
    PushArgs,
    SwitchArgs,
)
from .guiji_mqtt import MqttLink
from .guiji_playlist import Entry, Playlist, PlaylistError
from .guiji_state import (
    BY_CLIENT,
    BY_EXPIRY,
    BY_SERVER,
    CREATED,
    DESTROYED,
    LIVE,
    MADE,
    MAKING,
    STREAMING,
    TOKEN_EXPIRED,
    TOPIC_PUB,
    GuijiError,
    Session,
    play_addresses,
)
from .speech import Speech
from .web import describe_validation_error

if TYPE_CHECKING:
    from .guiji import Guiji

logger = logging.getLogger("rooms.sandbox.guiji")

ModelT = TypeVar("ModelT", bound=BaseModel)

INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
WRONG_STATE = -32000
SESSION_NOT_FOUND = -404

HEARTBEAT_PREFIX = ":---:"
OUTSTANDING_KEPT = 100
ANCHOR = "dthuman"


class SessionError(Exception):
    """A request refused: answered as the reply's ``error``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def validate(model: type[ModelT], value: Any, prefix: str = "") -> ModelT:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        message = describe_validation_error(exc, prefix).replace("Value error, ", "")
        raise SessionError(INVALID_PARAMS, message) from exc


def compact(ids: list[int]) -> str:
    """The playList string as the document writes it: "[6,9,12,33]"."""
    return json.dumps(ids, separators=(",", ":"))


class GuijiLive:
    """Sessions from CreateNewSession to their end: replies, heartbeats, playlist, layers."""

    def __init__(self, platform: Guiji, *, verbose: bool = False) -> None:
        self.platform = platform
        self.config = platform.config
        self.verbose = verbose
        self.link: MqttLink | None = None
        self.started = False
        self.methods: dict[str, Callable[[Session, Envelope, dict[str, Any]], dict[str, Any] | None]] = {
            "CreateNewSession": self.make,
            "DestroySession": self.destroy_request,
            "pushPlayListManager": self.playlist_action,
            "ModifySessionResList": self.modify_res,
            "ExecSessionResList": self.exec_res,
            "SetResDrawOptions": self.draw_options,
        }

    # --- the broker ------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop, url: str | None) -> None:
        """Connect to the broker (once); without a URL, sessions can be created but never made."""
        if self.started:
            return
        self.started = True
        if not url:
            logger.warning("Guiji MQTT is off (no broker URL): 3.17 answers but sessions can never be made")
            return
        self.link = MqttLink(url, self.on_message)
        self.link.start(loop)

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()

    def describe_link(self) -> dict[str, Any]:
        if self.link is None:
            return {"url": None, "connected": False, "subscribed": False, "topicPub": TOPIC_PUB}
        return {**self.link.describe(), "topicPub": TOPIC_PUB}

    def publish(self, topic: str, message: dict[str, Any], session: Session | None = None) -> None:
        if session is not None:
            session.sent.append(message)
        if self.verbose:
            logger.info("guiji mqtt -> %s %s", topic, json.dumps(message, ensure_ascii=False)[:500])
        if self.link is not None:
            self.link.publish(topic, message)

    def reply(self, session: Session, request_id: Any, result: dict[str, Any]) -> None:
        self.publish(
            session.topic_sub, {"id": request_id, "sessionId": session.session_id, "result": result}, session
        )

    def fail(
        self,
        topic: str,
        session_id: str,
        request_id: Any,
        code: int,
        message: str,
        session: Session | None = None,
    ) -> None:
        error = {"sessionId": session_id, "message": message, "code": code}
        self.publish(topic, {"id": request_id, "sessionId": session_id, "error": error}, session)

    def push(self, session: Session, method: str, params: dict[str, Any]) -> int:
        """A server message (HeartBeat, SessionState) with the session's own id counter; returns the id."""
        message_id = session.message_id()
        message = {"id": message_id, "sessionId": session.session_id, "method": method, "params": params}
        self.publish(session.topic_sub, message, session)
        return message_id

    def push_state(self, session: Session, params: dict[str, Any]) -> None:
        """A SessionState sent after the reply being built, unless the session ends first."""

        def send() -> None:
            if session.state in LIVE:
                self.push(session, "SessionState", {"sessionId": session.session_id, **params})

        asyncio.get_running_loop().call_soon(send)

    # --- incoming --------------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> None:
        """Everything clients publish on topicPub; runs on the asyncio loop."""
        try:
            raw = json.loads(payload)
        except ValueError:
            logger.info("guiji mqtt: dropped a message that is not JSON: %r", payload[:200])
            return
        if not isinstance(raw, dict):
            return
        if self.verbose:
            logger.info("guiji mqtt <- %s", json.dumps(raw, ensure_ascii=False)[:500])
        try:
            self._dispatch(raw)
        except Exception:
            logger.exception("guiji mqtt: handling %s failed", raw.get("method"))

    def _dispatch(self, raw: dict[str, Any]) -> None:
        params = raw.get("params")
        session_id = raw.get("sessionId")
        if not isinstance(session_id, str) and isinstance(params, dict):
            session_id = params.get("sessionId")
        session = self.platform.sessions.get(session_id) if isinstance(session_id, str) else None
        request_id = raw.get("id")
        if "method" not in raw:
            if session is not None:
                self.heartbeat_answer(session, raw)
            return
        if session is None:
            sender = raw.get("sender")
            if isinstance(sender, str) and self.platform.owns_topic(sender):
                self.fail(sender, str(session_id), request_id, SESSION_NOT_FOUND, "session not found")
            return
        topic = session.topic_sub
        if not session.alive:
            self.fail(topic, session.session_id, request_id, SESSION_NOT_FOUND, "session not found", session)
            return
        try:
            envelope = validate(Envelope, raw)
        except SessionError as error:
            self.fail(topic, session.session_id, request_id, INVALID_REQUEST, error.message, session)
            return
        try:
            result = self._call(session, envelope, raw)
        except SessionError as error:
            self.fail(topic, session.session_id, envelope.id, error.code, error.message, session)
            return
        if result is not None:
            self.reply(session, envelope.id, result)

    def _call(self, session: Session, envelope: Envelope, raw: dict[str, Any]) -> dict[str, Any] | None:
        if envelope.sender != session.topic_sub:
            raise SessionError(INVALID_REQUEST, "sender must be the session's topicSub")
        if envelope.id in session.request_ids:
            raise SessionError(INVALID_REQUEST, "duplicate id")
        session.request_ids.add(envelope.id)
        handler = self.methods.get(envelope.method)
        if handler is None:
            raise SessionError(METHOD_NOT_FOUND, f"unknown method {envelope.method}")
        if envelope.params.get("sessionId") != session.session_id:
            raise SessionError(INVALID_PARAMS, "params.sessionId must be the session's id")
        if envelope.method not in ("CreateNewSession", "DestroySession") and session.state not in LIVE:
            raise SessionError(WRONG_STATE, "session is not made yet")
        return handler(session, envelope, raw)

    # --- 4.2.3 CreateNewSession ------------------------------------------------------------------

    def make(self, session: Session, envelope: Envelope, raw: dict[str, Any]) -> dict[str, Any] | None:
        if session.state == MAKING:
            raise SessionError(WRONG_STATE, "session is being made")
        if session.state != CREATED:
            raise SessionError(WRONG_STATE, "session is already made")
        request = validate(MakeEnvelope, raw)
        params = validate(MakeParams, request.params, "params")
        for token in filter(None, (request.token, params.token)):
            self._check_token(session, token)
        if request.liveId != session.room.id:
            raise SessionError(INVALID_PARAMS, f"unknown liveId {request.liveId}")
        self._check_pcm_ids(session, params.playlist)
        driven = params.anchor.resOptions.audioDriven
        if driven is None or self.platform.scene(session.account, session.room, driven.udCodeUsed) is None:
            raise SessionError(INVALID_PARAMS, f"unknown udCode {driven.udCodeUsed if driven else None}")
        session.state = MAKING
        session.cancel_timer("expire")
        session.video_size = params.videoSize.model_dump()
        session.layers = [res.model_dump(exclude_none=True) for res in params.resList]
        session.playlist = Playlist(
            params.playlist,
            speech_of=self._speech_of,
            notify=lambda status, entry, ids: self._playlist_state(session, status, entry, ids),
            silence_seconds=lambda: self.config.guiji_silence_seconds,
        )
        loop = asyncio.get_running_loop()
        session.timers["make"] = loop.call_later(self.config.create_delay, self._made, session, envelope.id)
        return None

    def _check_token(self, session: Session, token: str) -> None:
        try:
            account = self.platform.check_token(token)
        except GuijiError as error:
            message = "token expired" if error.code == TOKEN_EXPIRED else error.msg
            raise SessionError(-error.code, message) from error
        if account is not session.account:
            raise SessionError(-TOKEN_EXPIRED, "token expired")

    def _check_pcm_ids(self, session: Session, pcm_ids: list[int]) -> None:
        unknown = [pcm_id for pcm_id in pcm_ids if self.platform.material_of(session.account, pcm_id) is None]
        if unknown:
            raise SessionError(INVALID_PARAMS, f"unknown pcm id {', '.join(map(str, unknown))}")

    def _speech_of(self, pcm_id: int) -> Speech:
        config = self.config
        return self.platform.materials[pcm_id].speech(
            per_char=config.speech_seconds_per_char,
            minimum=config.min_sentence_seconds,
            default_audio_seconds=config.default_audio_seconds,
        )

    def _made(self, session: Session, request_id: int) -> None:
        session.timers.pop("make", None)
        if session.state != MAKING:
            return
        session.state = MADE
        session.made_at = time.time()
        self.reply(session, request_id, {"message": "make sess complete!", "sessionId": session.session_id})
        loop = asyncio.get_running_loop()
        session.timers["heartbeat"] = loop.call_later(
            self.config.guiji_heartbeat_interval, self._heartbeat, session
        )
        self._watch_answers(session)
        session.timers["show"] = loop.call_later(self.config.guiji_show_delay, self._go_live, session)

    def _go_live(self, session: Session) -> None:
        """The anchor shows, the stream is pushed to the relay, the show starts playing."""
        session.timers.pop("show", None)
        if session.state != MADE:
            return
        self._show(session)
        session.state = STREAMING
        session.streaming_at = time.time()
        playaddr = play_addresses(session.session_id, "http-flv")
        self.push(
            session,
            "SessionState",
            {"sessionId": session.session_id, "state": "StreamPlay", "playaddr": playaddr},
        )
        if session.playlist is not None:
            session.playlist.start()

    def _show(self, session: Session, *, deferred: bool = False) -> None:
        session.shows[ANCHOR] = session.shows.get(ANCHOR, 0) + 1
        params = {
            "state": "Show",
            "info": f"Do you see me ? {ANCHOR}",
            "udCode": session.ud_code,
            "id": f"{ANCHOR}#{session.shows[ANCHOR]}",
            "name": ANCHOR,
            "type": ANCHOR,
        }
        if deferred:
            self.push_state(session, params)
        else:
            self.push(session, "SessionState", {"sessionId": session.session_id, **params})

    # --- 4.2.8 HeartBeat -------------------------------------------------------------------------

    def _heartbeat(self, session: Session) -> None:
        if session.state not in LIVE:
            return
        params = {"sessionId": HEARTBEAT_PREFIX + session.session_id, "state": "Running"}
        message_id = self.push(session, "HeartBeat", params)
        session.heartbeats_sent += 1
        session.outstanding[message_id] = time.time()
        while len(session.outstanding) > OUTSTANDING_KEPT:
            session.outstanding.pop(next(iter(session.outstanding)))
        loop = asyncio.get_running_loop()
        session.timers["heartbeat"] = loop.call_later(
            self.config.guiji_heartbeat_interval, self._heartbeat, session
        )

    def _watch_answers(self, session: Session) -> None:
        """(Re)start the countdown to Destroy: ``guiji_heartbeat_threshold`` without an answer."""
        session.cancel_timer("deadline")
        loop = asyncio.get_running_loop()
        session.timers["deadline"] = loop.call_later(
            self.config.guiji_heartbeat_threshold, self.destroy, session, "heartbeat timeout"
        )

    def heartbeat_answer(self, session: Session, raw: dict[str, Any]) -> None:
        """A reply on topicPub with the HeartBeat's id keeps the session alive."""
        if session.state not in LIVE or not isinstance(raw.get("result"), dict):
            return
        heartbeat_id = raw.get("id")
        if not isinstance(heartbeat_id, int) or session.outstanding.pop(heartbeat_id, None) is None:
            return
        session.record_answer(time.time())
        self._watch_answers(session)

    # --- ends ------------------------------------------------------------------------------------

    def end(self, session: Session, by: str, cause: str) -> None:
        """Stop everything the session runs; it stays readable for inspection and 3.15."""
        session.cancel_timers()
        if session.playlist is not None:
            session.playlist.stop()
        session.state = DESTROYED
        session.ended_at = time.time()
        session.ended_by = by
        session.cause = cause

    def destroy(self, session: Session, cause: str) -> None:
        """The server gives up on the session: SessionState Destroy, then it is gone."""
        if not session.alive:
            return
        params = {"sessionId": session.session_id, "state": "Destroy", "cause": cause}
        self.push(session, "SessionState", params)
        self.end(session, BY_SERVER, cause)

    def expire(self, session: Session) -> None:
        """3.17's expirationTime passed without CreateNewSession."""
        session.timers.pop("expire", None)
        if session.state == CREATED:
            self.end(session, BY_EXPIRY, f"not made within {self.config.guiji_session_seconds:g} s")

    def destroy_request(self, session: Session, envelope: Envelope, raw: dict[str, Any]) -> dict[str, Any]:
        # 4.2.5 DestroySession
        params = validate(DestroyParams, envelope.params, "params")
        self.end(session, BY_CLIENT, params.cause or "Client destroy")
        return {"sessionId": session.session_id, "ok": True, "info": "close sess ok"}

    # --- 4.2.7 pushPlayListManager ---------------------------------------------------------------

    def playlist_action(self, session: Session, envelope: Envelope, raw: dict[str, Any]) -> dict[str, Any]:
        params = validate(PlaylistParams, envelope.params, "params")
        playlist = session.playlist
        assert playlist is not None  # made sessions have one
        pcm_ids = params.pcmIds or []
        self._check_pcm_ids(session, pcm_ids)
        try:
            if params.action == "AddPlayList":
                playlist.add(pcm_ids)
            elif params.action == "insertPlayList":
                playlist.insert(params.index or 0, pcm_ids)
            elif params.action == "insertPlayListAtSilent":
                playlist.insert_at_silent(1 if params.index is None else params.index, pcm_ids)
            elif params.action == "delPlayListIndex":
                playlist.delete(params.index or 0, params.oldPcmId)
        except PlaylistError as error:
            raise SessionError(INVALID_PARAMS, str(error)) from error
        return {"sessionId": session.session_id, "ok": True, "message": "", "data": playlist.ids()}

    def _playlist_state(self, session: Session, status: str, entry: Entry, ids: list[int]) -> None:
        params = {"status": status, "type": entry.kind, "nowPcmId": entry.pcm_id, "playList": compact(ids)}
        self.push_state(session, params)

    # --- 4.2.4, 4.2.6, 4.2.9, 4.2.10 layers ------------------------------------------------------

    def _layer(self, session: Session, name: str) -> dict[str, Any]:
        for layer in session.layers:
            if layer["resOptions"]["name"] == name:
                return layer
        raise SessionError(INVALID_PARAMS, f"no res named {name}")

    def modify_res(self, session: Session, envelope: Envelope, raw: dict[str, Any]) -> dict[str, Any]:
        # 4.2.4 ModifySessionResList: remove by name, then add (SameNameInGroup replaces)
        params = validate(ModifyParams, envelope.params, "params")
        removed = {res.resOptions.name for res in (params.rmvRes.resList if params.rmvRes else [])}
        added = params.addRes.resList if params.addRes else []
        if ANCHOR in removed:
            raise SessionError(INVALID_PARAMS, "the dthuman res cannot be removed")
        if any(res.resOptions.type == ANCHOR for res in added):
            raise SessionError(
                INVALID_PARAMS, "a session has one dthuman res; switch it with ExecSessionResList"
            )
        layers = [layer for layer in session.layers if layer["resOptions"]["name"] not in removed]
        for res in added:
            if res.resOptions.exclusive is not None and res.resOptions.exclusive.SameNameInGroup:
                layers = [
                    layer
                    for layer in layers
                    if not (layer["type"] == res.type and layer["resOptions"]["name"] == res.resOptions.name)
                ]
            layers.append(res.model_dump(exclude_none=True))
        session.layers = layers
        return {"sessionId": session.session_id, "message": "modify res ok"}

    def exec_res(self, session: Session, envelope: Envelope, raw: dict[str, Any]) -> dict[str, Any]:
        # 4.2.6 switchTemplate, 4.2.9 setpushstreams / closepushstreams; all checked before any applies
        params = validate(ExecParams, envelope.params, "params")
        changes: list[Callable[[], None]] = []
        switched = False
        for number, item in enumerate(params.executeList):
            layer = self._layer(session, item.name)
            kind, method = layer["resOptions"]["type"], item.options.method
            where = f"params.executeList.{number}.options.args"
            if kind == ANCHOR and method == "switchTemplate":
                switch = validate(SwitchArgs, item.options.args, where)
                scene = self.platform.scene(session.account, session.room, switch.audioDriven.udCode)
                if scene is None:
                    raise SessionError(INVALID_PARAMS, f"unknown udCode {switch.audioDriven.udCode}")
                changes.append(functools.partial(self._switch, layer, switch, scene))
                switched = True
            elif kind == "rtmp" and method in ("setpushstreams", "closepushstreams"):
                push = validate(PushArgs, item.options.args, where)
                if method == "setpushstreams" and not push.pushurls:
                    raise SessionError(
                        INVALID_PARAMS, f"invalid parameter {where}.pushurls: setpushstreams needs urls"
                    )
                changes.append(functools.partial(self._push_urls, session, method, push.pushurls))
            else:
                raise SessionError(INVALID_PARAMS, f"{method} is not a method of res {item.name} ({kind})")
        for change in changes:
            change()
        if switched:
            self._show(session, deferred=True)
        return {"sessionId": session.session_id, "ok": True, "message": "exec res list ok"}

    @staticmethod
    def _switch(layer: dict[str, Any], switch: SwitchArgs, scene: dict[str, Any]) -> None:
        driven = layer["resOptions"]["audioDriven"]
        code = switch.audioDriven.udCode
        driven["udCodeUsed"] = code
        if all(template["udCode"] != code for template in driven["templates"]):
            driven["templates"].append(
                {"sequence": [scene.get("videoCoverUrl", "")], "udCode": code, "matting": 0}
            )
        if switch.drawOptions is not None:
            layer["drawOptions"] = {
                **layer.get("drawOptions", {}),
                **switch.drawOptions.model_dump(exclude_none=True),
            }

    @staticmethod
    def _push_urls(session: Session, method: str, urls: list[str]) -> None:
        if method == "setpushstreams":
            session.push_urls += [url for url in urls if url not in session.push_urls]
        elif urls:
            session.push_urls = [url for url in session.push_urls if url not in urls]
        else:
            session.push_urls = []

    def draw_options(self, session: Session, envelope: Envelope, raw: dict[str, Any]) -> dict[str, Any]:
        # 4.2.10 SetResDrawOptions
        params = validate(DrawParams, envelope.params, "params")
        layer = self._layer(session, params.res.name)
        layer["drawOptions"] = {
            **layer.get("drawOptions", {}),
            **params.res.drawOptions.model_dump(exclude_none=True),
        }
        return {
            "message": "success",
            "ok": True,
            "info": "set res drawOptions ok!",
            "sessionId": session.session_id,
        }

    # --- inspection ------------------------------------------------------------------------------

    def _subtitle(self, playing: dict[str, Any] | None) -> str:
        material = self.platform.materials.get(playing["pcmId"]) if playing else None
        if material is None:
            return ""
        return material.text or f"(audio {material.url})"

    def describe(self, session: Session) -> dict[str, Any]:
        """Everything a test may want to assert on, times as Unix timestamps."""
        anchor = session.anchor
        playlist = session.playlist.describe() if session.playlist is not None else {}
        return {
            "sessionId": session.session_id,
            "appId": session.account.app_id,
            "liveId": session.room.id,
            "name": session.name,
            "topicSub": session.topic_sub,
            "topicPub": TOPIC_PUB,
            "state": session.state,
            "made": session.made,
            "createdAt": session.created_at,
            "madeAt": session.made_at,
            "streamingAt": session.streaming_at,
            "endedAt": session.ended_at,
            "endedBy": session.ended_by,
            "cause": session.cause,
            "videoSize": session.video_size,
            "resList": session.layers,
            "anchor": {
                "udCode": session.ud_code,
                "drawOptions": anchor.get("drawOptions") if anchor else None,
                "shows": session.shows.get(ANCHOR, 0),
            },
            "drawOptions": {
                layer["resOptions"]["name"]: layer.get("drawOptions") for layer in session.layers
            },
            "pushUrls": list(session.push_urls),
            "playlist": session.playlist.ids() if session.playlist is not None else [],
            "playlistItems": playlist.get("playlist", []),
            "show": playlist.get("show", []),
            "nowPlaying": playlist.get("nowPlaying"),
            # What a program monitor shows: the words of the item playing, as a subtitle.
            "subtitle": self._subtitle(playlist.get("nowPlaying")),
            "played": playlist.get("played", []),
            "rounds": playlist.get("rounds", 0),
            "heartbeats": {
                "sent": session.heartbeats_sent,
                "answered": session.heartbeats_answered,
                "unanswered": sorted(session.outstanding),
                "lastAnswerAt": session.last_answer_at,
                "maxGap": session.max_gap,
            },
            "requestIds": sorted(session.request_ids),
            "sent": list(session.sent),
        }
