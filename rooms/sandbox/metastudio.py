"""Emulated Huawei Cloud MetaStudio smart live platform, written from metastudio-create-smart-live-room.txt
and metastudio-smart-live-notes.md, with the official SDK's models where both are silent.

Every call is under ``/v1/{project_id}`` and authenticates with an AK/SK signature (SDK-HMAC-SHA256,
``X-Sdk-Date`` within 15 minutes, ``X-Project-Id`` required) or an IAM token (``X-Auth-Token``).
Errors are HTTP statuses with ``{"error_code", "error_msg"}``:

* 400 ``MSS.00000003`` invalid parameter (``MSS.00000002`` when the body is not a JSON object), and
  wrong state: a second job in a room, a command to a job that is not PROCESSING, stopping an ended job
* 401 ``MSS.00000001`` no or bad signature, unknown AK or token, X-Sdk-Date out of the window
* 403 ``MSS.00010009`` the project in the path (or X-Project-Id) is not the credentials' project
* 404 ``MSS.00000003`` unknown room, job or rule library; ``MSS.00010003`` unknown path
* 5xx ``MSS.00000004`` sandbox faults and internal errors

Choices where the documents are silent, kept deliberately:

* Update (PUT) replaces the room body whole, as create takes it; a running job keeps its copy.
  Deleting a room with a running job is refused. A TEMP room is deleted when its job ends; a
  TEMPLATE room cannot go live.
* A job is WAITING for ``create_delay`` seconds, then PROCESSING; stop makes it SUCCEED (also from
  WAITING); the end of the last round makes it SUCCEED on its own. ``job_run_config.single_job_in_room``
  false lets a room run a second job.
* A command's ``result`` is "SUCCESS", or for GET_CURRENT_PLAYING_SCRIPTS and GET_LIVE_JOB_CONFIG_INFO
  a JSON string (LivePlayingScriptList plus ``round`` and ``playing``; the room as the job sees it).
* An insert's ``play_type`` defaults to the room's ``interaction_config.play_type`` (INSERT).
* The insert-commands list holds the queued inserts, not the one on air.
* live-event-report accepts the ``auth_key``/``expires_time`` of the job's live_event_report_url
  (query or ``x-mss-auth-key``/``x-mss-expires-time`` headers) instead of AK/SK; ``refresh_url=true``
  answers a new URL. Events to a WAITING job are counted but match no rule.
* Rules with reply_mode CALLBACK or INTELLIGENT_REPLY are matched and recorded, nothing is called.
* An empty ``callback_event_type`` subscribes to nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .callbacks import CallbackSender
from .config import SandboxConfig
from .metastudio_auth import SignatureError, parse_authorization, verify
from .metastudio_live import LivePlayer, flatten
from .metastudio_models import (
    AccountBody,
    ControlSmartLive,
    InteractionRule,
    InteractionRuleGroup,
    JobQuery,
    KillBody,
    LiveEvent,
    LiveEventReportQuery,
    LiveExitConfig,
    PageQuery,
    PlayAudioInfo,
    PlayPolicy,
    PlayTextInfo,
    RefreshOutputUrl,
    ReportLiveEvent,
    RewriteInteractionRules,
    RewritePlayScript,
    RoomQuery,
    RtmpBody,
    RuleGroupQuery,
    SmartLayerConfig,
    SmartLiveRoom,
    StartSmartLive,
)
from .metastudio_rules import match_event
from .metastudio_state import (
    AUTO,
    BLOCKED,
    EXTERNAL,
    FAILED,
    INTERNAL_ERROR,
    INVALID_BODY,
    PROCESSING,
    SUCCEED,
    TENANT_MISMATCH,
    WAITING,
    Account,
    Insert,
    Job,
    MetaStudioError,
    Output,
    Room,
    bad_request,
    not_found,
    parse_rfc3339,
    rfc3339,
    unauthorized,
)
from .web import HttpError, Request, Response, Router, describe_validation_error

ModelT = TypeVar("ModelT", bound=BaseModel)

PREFIX = "/v1/"
BASE = "/v1/{project_id}"
ROOM = f"{BASE}/smart-live-rooms/{{room_id}}"
JOB = f"{ROOM}/smart-live-jobs/{{job_id}}"
GROUP = f"{BASE}/smart-live-interaction-rule-groups/{{group_id}}"
# Preloaded so that `make run` works without provisioning.
DEFAULT_ACCOUNT = Account(
    ak="sandbox-ak", sk="sandbox-sk", project_id="sandbox-project", token="sandbox-iam-token"
)
RTC_APP_ID = "sandbox-rtc-app"
OK = "SUCCESS"


def describe(exc: ValidationError, prefix: str = "") -> str:
    return describe_validation_error(exc, prefix).replace("Value error, ", "")


def parse_body(request: Request, model: type[ModelT]) -> tuple[dict[str, Any], ModelT]:
    """The JSON object as sent and the same validated; an empty body is ``{}``."""
    if request.body and "application/json" not in request.headers.get("content-type", ""):
        raise MetaStudioError(400, INVALID_BODY, "Invalid body: Content-Type must be application/json")
    try:
        raw = json.loads(request.body or b"{}")
    except ValueError as exc:
        raise MetaStudioError(400, INVALID_BODY, "Invalid body: not JSON") from exc
    if not isinstance(raw, dict):
        raise MetaStudioError(400, INVALID_BODY, "Invalid body: must be a JSON object")
    return raw, validate(model, raw)


def validate(model: type[ModelT], value: Any, prefix: str = "") -> ModelT:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise bad_request(describe(exc, prefix)) from exc


def parse_query(request: Request, model: type[ModelT]) -> ModelT:
    return validate(model, request.query)


def page(items: list[Any], query: PageQuery) -> list[Any]:
    return items[query.offset : query.offset + query.limit]


def states_of(value: str | None) -> set[str] | None:
    return {part.strip() for part in value.split(",") if part.strip()} if value else None


class MetaStudio:
    """All MetaStudio state of the sandbox and the HTTP handlers that act on it."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, Account] = {}
        self.rooms: dict[str, Room] = {}
        self.jobs: dict[str, Job] = {}
        self.rule_groups: dict[str, dict[str, Any]] = {}
        self.callbacks = CallbackSender()
        self.player = LivePlayer(config, self.callbacks, self.end_job)
        default = DEFAULT_ACCOUNT
        self.provision(
            default.ak, AccountBody(sk=default.sk, project_id=default.project_id, token=default.token)
        )

    # --- accounts and housekeeping ----------------------------------------------------------------

    def provision(self, ak: str, body: AccountBody) -> Account:
        previous = self.accounts.get(ak)
        if previous is not None and previous.token:
            self.tokens.pop(previous.token, None)
        account = Account(ak=ak, sk=body.sk, project_id=body.project_id, token=body.token)
        self.accounts[ak] = account
        if account.token:
            self.tokens[account.token] = account
        return account

    def provision_all(self, entries: Iterable[dict[str, Any]]) -> None:
        """Accounts-file entries of ``kind`` "metastudio": ``ak``, ``sk``, ``project_id``, ``token``."""
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("kind") != "metastudio":
                continue
            ak = entry.get("ak")
            if not isinstance(ak, str) or not ak:
                raise ValueError("a MetaStudio account needs an ak")
            fields = {key: entry[key] for key in ("sk", "project_id", "token") if key in entry}
            self.provision(ak, AccountBody.model_validate(fields))

    async def reset(self) -> None:
        """Forget rooms, jobs and rule libraries; accounts stay."""
        players = [job.player for job in self.jobs.values() if job.player is not None]
        for job in list(self.jobs.values()):
            self.end_job(job, FAILED, "sandbox reset", notify=False)
        await asyncio.gather(*players, return_exceptions=True)
        self.rooms.clear()
        self.jobs.clear()
        self.rule_groups.clear()
        await self.callbacks.reset()

    # --- authentication ("Request signing") -------------------------------------------------------

    def authenticate(self, request: Request) -> Account:
        project = request.path_params["project_id"]
        authorization = request.headers.get("authorization")
        if authorization:
            account = self._signed_by(request, authorization)
        else:
            token = request.headers.get("x-auth-token")
            if not token:
                raise unauthorized("no Authorization (AK/SK signature) or X-Auth-Token header")
            found = self.tokens.get(token)
            if found is None:
                raise unauthorized("X-Auth-Token is not a valid IAM token")
            account = found
        user_id = request.headers.get("x-app-userid", "")
        if not user_id.isascii():  # 表2: "第三方用户ID。不允许输入中文。"
            raise bad_request("invalid parameter X-App-UserId: must not contain Chinese characters")
        if project != account.project_id:
            raise MetaStudioError(
                403,
                TENANT_MISMATCH,
                f"urlTenantId is not equal tokenTenantId: project {project} is not the credentials' project",
            )
        return account

    def _signed_by(self, request: Request, authorization: str) -> Account:
        try:
            auth = parse_authorization(authorization)
        except SignatureError as exc:
            raise unauthorized(str(exc)) from exc
        account = self.accounts.get(auth.ak)
        if account is None:
            raise unauthorized(f"unknown access key {auth.ak}")
        try:
            verify(
                auth=auth,
                sk=account.sk,
                method=request.method,
                path=request.path,
                query=request.query,
                headers=request.headers,
                body=request.body,
            )
        except SignatureError as exc:
            raise unauthorized(str(exc)) from exc
        header_project = request.headers.get("x-project-id")
        if not header_project:
            raise unauthorized("X-Project-Id header is required with AK/SK authentication")
        if header_project != account.project_id:
            raise MetaStudioError(
                403, TENANT_MISMATCH, f"X-Project-Id {header_project} is not the project of {auth.ak}"
            )
        return account

    def _room(self, request: Request) -> Room:
        account = self.authenticate(request)
        room_id = request.path_params["room_id"]
        room = self.rooms.get(room_id)
        if room is None or room.project_id != account.project_id:
            raise not_found(f"room {room_id} not found")
        return room

    def _job(self, request: Request, room: Room | None = None) -> Job:
        room = room or self._room(request)
        job_id = request.path_params["job_id"]
        job = self.jobs.get(job_id)
        if job is None or job.room is not room:
            raise not_found(f"job {job_id} not found in room {room.room_id}")
        return job

    # --- rooms ------------------------------------------------------------------------------------

    async def h_create_room(self, request: Request) -> Response:
        # 创建智能直播间 (metastudio-create-smart-live-room.txt)
        account = self.authenticate(request)
        raw, spec = parse_body(request, SmartLiveRoom)
        now = time.time()
        room = Room(str(uuid.uuid4()), account.project_id, raw, spec, now, now)
        self.rooms[room.room_id] = room
        return Response({"room_id": room.room_id})

    async def h_list_rooms(self, request: Request) -> Response:
        account = self.authenticate(request)
        query = parse_query(request, RoomQuery)
        wanted = states_of(query.live_state)
        found = [
            room
            for room in self.rooms.values()
            if room.project_id == account.project_id
            and (not query.room_name or query.room_name in room.spec.room_name)
            and (not query.room_type or room.spec.room_type == query.room_type)
            and (wanted is None or (room.last_job.state if room.last_job else "NULL") in wanted)
        ]
        found.sort(key=lambda room: room.created_at, reverse=True)
        return Response({"count": len(found), "smart_live_rooms": [r.summary() for r in page(found, query)]})

    async def h_show_room(self, request: Request) -> Response:
        return Response(self._room(request).describe())

    async def h_update_room(self, request: Request) -> Response:
        room = self._room(request)
        room.body, room.spec = parse_body(request, SmartLiveRoom)
        room.updated_at = time.time()
        return Response(room.describe())

    async def h_delete_room(self, request: Request) -> Response:
        room = self._room(request)
        running = [job for job in self.jobs.values() if job.room is room and job.running]
        if running:
            raise bad_request(
                f"room {room.room_id} has a live job running ({running[0].job_id}); stop it first"
            )
        del self.rooms[room.room_id]
        return Response({})

    # --- jobs -------------------------------------------------------------------------------------

    async def h_start_job(self, request: Request) -> Response:
        # The notes' "Start live".
        room = self._room(request)
        raw, start = parse_body(request, StartSmartLive)
        if room.spec.room_type == "TEMPLATE":
            raise bad_request(f"room {room.room_id} is a TEMPLATE and cannot go live")
        single = start.job_run_config.single_job_in_room if start.job_run_config else True
        running = [job for job in self.jobs.values() if job.room is room and job.running]
        if single and running:
            other = running[0]
            raise bad_request(
                f"room {room.room_id} already has a live job running ({other.job_id}, {other.state})"
            )
        job = self._new_job(request, room, raw, start)
        self.jobs[job.job_id] = job
        room.last_job = job
        if self.config.create_delay > 0:
            loop = asyncio.get_running_loop()
            job.timers["live"] = loop.call_later(self.config.create_delay, self._go_live, job)
        else:
            self._go_live(job)
        return Response(
            {
                "job_id": job.job_id,
                "rtc_room_info": job.rtc,
                "live_event_report_url": job.report_url,
                "live_event_callback_config": (
                    job.callback.model_dump(exclude_none=True) if job.callback else None
                ),
                "live_warning_info": self._warnings(job),
                "limit_duration": job.exit_config.max_live_duration or 0,
            }
        )

    def _new_job(self, request: Request, room: Room, raw: dict[str, Any], start: StartSmartLive) -> Job:
        spec = room.spec
        now = time.time()
        job_id = uuid.uuid4().hex
        config = {**room.describe(), **{key: value for key, value in raw.items() if value is not None}}
        policy = start.play_policy or spec.play_policy or PlayPolicy()
        interaction = spec.interaction_config
        urls = start.output_urls if start.output_urls is not None else spec.output_urls or []
        keys = start.stream_keys if start.stream_keys is not None else spec.stream_keys or []
        job = Job(
            job_id=job_id,
            room=room,
            project_id=room.project_id,
            room_name=spec.room_name,
            config=config,
            scene_scripts=list(spec.scene_scripts or []),
            rules=list(spec.interaction_rules or []),
            policy=policy,
            play_type=interaction.play_type if interaction else "INSERT",
            ignore_current_sentence=interaction.ignore_current_sentence if interaction else False,
            callback=start.live_event_callback_config or spec.live_event_callback_config,
            exit_config=(policy.live_exit_config or LiveExitConfig()).model_copy(),
            rtc=self._rtc_room(policy.need_independent_capture_client, now),
            report_secret=secrets.token_hex(16),
            report_url="",
            state=WAITING,
            created_at=now,
            updated_at=now,
            outputs=[Output(url, keys[i] if i < len(keys) else "") for i, url in enumerate(urls)],
        )
        host = request.headers.get("host", "127.0.0.1")
        job.report_url = self._report_url(job, f"http://{host}")
        return job

    @staticmethod
    def _rtc_room(capture: bool, now: float) -> dict[str, Any]:
        # PlayPolicy.need_independent_capture_client: "true: 分配CAPTURE、PLAYER两个RTC用户".
        kinds = ["CAPTURE", "PLAYER"] if capture else ["PLAYER"]
        users = [
            {
                "user_type": kind,
                "user_id": secrets.token_hex(8),
                "signature": secrets.token_urlsafe(48),
                "ctime": int(now) + 86_400,
            }
            for kind in kinds
        ]
        return {"app_id": RTC_APP_ID, "room_id": "ms-" + uuid.uuid4().hex, "users": users}

    def _report_url(self, job: Job, base: str) -> str:
        expires = int((time.time() + self.config.metastudio_report_url_seconds) * 1000)
        path = f"/v1/{job.project_id}/smart-live-rooms/{job.room.room_id}/smart-live-jobs/{job.job_id}"
        return (
            f"{base}{path}/live-event-report?auth_key={self._auth_key(job, expires)}&expires_time={expires}"
        )

    @staticmethod
    def _auth_key(job: Job, expires: int) -> str:
        message = f"{job.job_id}:{expires}".encode()
        return hmac.new(job.report_secret.encode(), message, hashlib.sha256).hexdigest()

    def _warnings(self, job: Job) -> list[dict[str, str]]:
        """live_warning_info: the risks the vendor lists (LiveWarningItem), judged loosely."""
        paragraphs = flatten(job.scene_scripts)
        seconds = sum(self.player.paragraph_speech(job, p).total for p in paragraphs)
        checks = {
            "TOO_LESSS_SCRIPT_ITEMS": len(paragraphs) < 3,
            "TOO_SHORT_SCRIPT_TIME": seconds < 60,
            "TOO_LESS_DANMAKU_RULES": not any(rule.event_type == 1 for rule in job.rules),
            "RANDOM_PLAY_CLOSED": job.policy.random_play_mode == "NONE",
            "ROTATION_MODEL_CLOSED": not job.room.spec.backup_model_asset_ids,
        }
        return [{"warning_type": name} for name, risky in checks.items() if risky]

    def _go_live(self, job: Job) -> None:
        job.timers.pop("live", None)
        if job.state != WAITING:
            return
        now = time.time()
        job.state = PROCESSING
        job.started_at = job.updated_at = now
        self.player.go_live(job)

    def end_job(self, job: Job, state: str, reason: str, *, notify: bool = True) -> None:
        """End a running job: SUCCEED, FAILED or BLOCKED; links END (when it was live and ``notify``)."""
        if not job.running:
            return
        was_live = job.state == PROCESSING
        now = time.time()
        job.state = state
        job.ended_at = job.updated_at = now
        job.end_reason = reason
        if state == FAILED and job.error_info is None:
            job.error_info = {"error_code": INTERNAL_ERROR, "error_msg": reason}
        self.player.stop(job, was_live=was_live and notify)
        if job.room.spec.room_type == "TEMP":
            self.rooms.pop(job.room.room_id, None)

    def _filtered_jobs(self, jobs: Iterable[Job], query: JobQuery) -> list[Job]:
        wanted = states_of(query.state)
        since = parse_rfc3339(query.create_since, "create_since") if query.create_since else None
        until = parse_rfc3339(query.create_until, "create_until") if query.create_until else None
        found = [
            job
            for job in jobs
            if (wanted is None or job.state in wanted)
            and (since is None or job.created_at >= since)
            and (until is None or job.created_at <= until)
            and (not query.room_name or query.room_name in job.room_name)
        ]
        key = "updated_at" if query.sort_key == "update_time" else "created_at"
        found.sort(key=lambda job: getattr(job, key), reverse=query.sort_dir == "desc")
        return found

    def _job_list(self, jobs: Iterable[Job], query: JobQuery) -> Response:
        found = self._filtered_jobs(jobs, query)
        now = time.time()
        return Response(
            {"count": len(found), "smart_live_jobs": [j.describe(now) for j in page(found, query)]}
        )

    async def h_list_room_jobs(self, request: Request) -> Response:
        room = self._room(request)
        query = parse_query(request, JobQuery)
        return self._job_list((job for job in self.jobs.values() if job.room is room), query)

    async def h_list_jobs(self, request: Request) -> Response:
        account = self.authenticate(request)
        query = parse_query(request, JobQuery)
        return self._job_list(
            (job for job in self.jobs.values() if job.project_id == account.project_id), query
        )

    async def h_show_job(self, request: Request) -> Response:
        return Response(self._job(request).describe(time.time()))

    async def h_stop_job(self, request: Request) -> Response:
        job = self._job(request)
        if not job.running:
            raise bad_request(f"job {job.job_id} has already ended ({job.state})")
        self.end_job(job, SUCCEED, "stopped by the customer")
        return Response({})

    # --- commands ---------------------------------------------------------------------------------

    async def h_command(self, request: Request) -> Response:
        job = self._job(request)
        _, body = parse_body(request, ControlSmartLive)
        if job.state != PROCESSING:
            raise bad_request(f"job {job.job_id} is {job.state}; commands need a PROCESSING job")
        command_id = uuid.uuid4().hex
        result = self._run_command(job, body.command, body.params or {}, command_id)
        job.updated_at = time.time()
        return Response({"command_id": command_id, "command": body.command, "result": result})

    def _run_command(self, job: Job, command: str, params: dict[str, Any], command_id: str) -> str:
        player = self.player
        if command == "INSERT_PLAY_SCRIPT":
            text_info = validate(PlayTextInfo, params, "params")
            play_type = text_info.play_type or job.play_type
            self._insert(job, command_id, command, params, EXTERNAL, play_type, text_info.words, None)
        elif command == "INSERT_PLAY_AUDIO":
            audio_info = validate(PlayAudioInfo, params, "params")
            play_type = audio_info.play_type or job.play_type
            self._insert(job, command_id, command, params, EXTERNAL, play_type, "", audio_info.audio_url)
        elif command == "CLEAN_UP_INSERT_COMMAND":
            player.clean_up(job)
        elif command == "REWRITE_PLAY_SCRIPT":
            scripts = validate(RewritePlayScript, params, "params").scene_scripts
            player.rewrite_scripts(job, scripts)
            job.config["scene_scripts"] = params["scene_scripts"]
        elif command == "REWRITE_INTERACTION_RULES":
            job.rules = validate(RewriteInteractionRules, params, "params").interaction_rules
            job.rule_state.clear()
            job.config["interaction_rules"] = params["interaction_rules"]
        elif command == "REFRESH_OUTPUT_URL":
            refresh = validate(RefreshOutputUrl, params, "params")
            player.refresh_outputs(job, refresh.output_urls, refresh.stream_keys or [])
            job.config["output_urls"] = refresh.output_urls
            job.config["stream_keys"] = refresh.stream_keys or []
        elif command == "SHOW_LAYER":
            layer = validate(SmartLayerConfig, params, "params")
            player.show_layer(job, layer, "SHOW_LAYER", layer.display_duration)
        elif command == "RESET_EXIT_CONFIG":
            changes = validate(LiveExitConfig, params, "params").model_dump(exclude_none=True)
            job.exit_config = job.exit_config.model_copy(update=changes)
            policy = dict(job.config.get("play_policy") or {})
            policy["live_exit_config"] = job.exit_config.model_dump(exclude_none=True)
            job.config["play_policy"] = policy
            player.arm_exit(job)
        elif command == "GET_CURRENT_PLAYING_SCRIPTS":
            return json.dumps(self._playing_scripts(job), ensure_ascii=False)
        elif command == "GET_LIVE_JOB_CONFIG_INFO":
            return json.dumps(job.config, ensure_ascii=False)
        return OK

    def _insert(
        self,
        job: Job,
        command_id: str,
        command: str,
        params: dict[str, Any],
        source: str,
        play_type: str,
        text: str,
        audio_url: str | None,
        *,
        rule_index: str | None = None,
        layers: list[SmartLayerConfig] | None = None,
    ) -> Insert:
        item = Insert(
            command_id=command_id,
            command=command,
            params=params,
            source=source,
            play_type=play_type,
            text=text,
            audio_url=audio_url,
            speech=self.player.insert_speech(job, text, audio_url),
            accepted_at=time.time(),
            rule_index=rule_index or params.get("rule_index"),
            layers=layers or [],
        )
        self.player.enqueue(job, item)
        return item

    def _playing_scripts(self, job: Job) -> dict[str, Any]:
        """LivePlayingScriptList, and which paragraph is on air."""
        scenes: list[dict[str, Any]] = []
        last_scene = None
        for paragraph in job.paragraphs:
            if paragraph.scene_index != last_scene:
                last_scene = paragraph.scene_index
                scene = paragraph.scene
                scenes.append(
                    {
                        "script_name": scene.script_name,
                        "model_asset_id": scene.model_asset_id,
                        "shoot_scripts": [],
                    }
                )
            scenes[-1]["shoot_scripts"].append(paragraph.playing_item())
        current = job.paragraph if self.player.plays_script(job) else None
        playing = None
        if current is not None:
            playing = {
                "index": job.cursor,
                "script_name": current.scene.script_name,
                "sequence_no": current.sequence_no,
                "title": current.title,
            }
        return {"scene_scripts": scenes, "round": job.round, "playing": playing}

    async def h_insert_commands(self, request: Request) -> Response:
        job = self._job(request)
        query = parse_query(request, PageQuery)
        items = [item.item() for item in job.inserts]
        return Response({"count": len(items), "insert_commands": page(items, query)})

    # --- live events ------------------------------------------------------------------------------

    async def h_report_events(self, request: Request) -> Response:
        query = parse_query(request, LiveEventReportQuery)
        auth_key = query.auth_key or request.headers.get("x-mss-auth-key")
        # The report URL carries its own key, so a danmaku feed can post without the AK/SK.
        job = self._job_by_report_key(request, auth_key, query) if auth_key else self._job(request)
        _, report = parse_body(request, ReportLiveEvent)
        if not job.running:
            raise bad_request(f"job {job.job_id} has ended ({job.state})")
        now = time.time()
        job.reports += 1
        for event in report.events:
            job.events += 1
            job.events_by_type[event.type] = job.events_by_type.get(event.type, 0) + 1
            if job.state == PROCESSING:
                self._apply_rules(job, event, now)
        if query.refresh_url:
            host = request.headers.get("host", "127.0.0.1")
            job.report_url = self._report_url(job, f"http://{host}")
        return Response({"live_event_report_url": job.report_url})

    def _job_by_report_key(self, request: Request, auth_key: str, query: LiveEventReportQuery) -> Job:
        params = request.path_params
        job = self.jobs.get(params["job_id"])
        if job is None or job.room.room_id != params["room_id"] or job.project_id != params["project_id"]:
            raise not_found(f"job {params['job_id']} not found in room {params['room_id']}")
        raw_expires = query.expires_time or request.headers.get("x-mss-expires-time")
        try:
            expires = int(raw_expires or "")
        except ValueError as exc:
            raise unauthorized("expires_time is required with auth_key") from exc
        if not hmac.compare_digest(self._auth_key(job, expires), auth_key):
            raise unauthorized("auth_key does not match this job")
        if expires < time.time() * 1000:
            raise unauthorized("the live_event_report_url has expired; ask for a new one (refresh_url)")
        return job

    def _apply_rules(self, job: Job, event: LiveEvent, now: float) -> None:
        scene = self.player.current_scene(job)
        hit = match_event(
            job.rules, job.rule_state, event, scene_name=scene.script_name if scene else None, now=now
        )
        if hit is None:
            return
        trigger = hit.rule.trigger
        assert trigger is not None
        record: dict[str, Any] = {
            "rule_index": hit.rule_index,
            "rule_name": hit.rule.rule_name,
            "event_type": event.type,
            "reply_mode": trigger.reply_mode,
            "at": now,
            "command_id": None,
        }
        if hit.reply_text or hit.reply_audio:
            command_id = uuid.uuid4().hex
            if hit.reply_text:
                command = "INSERT_PLAY_SCRIPT"
                params: dict[str, Any] = {"text_config": {"text": hit.reply_text}}
            else:
                command, params = "INSERT_PLAY_AUDIO", {"audio_url": hit.reply_audio}
            params.update(
                play_type=trigger.play_type, play_role=trigger.reply_role, rule_index=hit.rule_index
            )
            self._insert(
                job,
                command_id,
                command,
                params,
                AUTO,
                trigger.play_type,
                hit.reply_text or "",
                hit.reply_audio,
                rule_index=hit.rule_index,
                layers=hit.layers,
            )
            record.update(command_id=command_id, reply=hit.reply_text or hit.reply_audio)
        else:
            for layer in hit.layers:
                seconds = layer.display_duration or self.config.default_audio_seconds
                self.player.show_layer(job, layer, f"rule:{hit.rule_index}", seconds)
        job.rule_hits.append(record)

    # --- interaction rule libraries ---------------------------------------------------------------

    def _group(self, request: Request) -> dict[str, Any]:
        account = self.authenticate(request)
        group_id = request.path_params["group_id"]
        group = self.rule_groups.get(group_id)
        if group is None or group["project_id"] != account.project_id:
            raise not_found(f"interaction rule group {group_id} not found")
        return group

    @staticmethod
    def _rule_detail(raw: dict[str, Any], now: float) -> dict[str, Any]:
        return {**raw, "rule_id": uuid.uuid4().hex, "create_time": rfc3339(now), "update_time": rfc3339(now)}

    @staticmethod
    def _group_detail(group: dict[str, Any], *, rules: bool = True) -> dict[str, Any]:
        detail = {key: group[key] for key in ("group_id", "group_name", "create_time", "update_time")}
        if rules:
            detail["interaction_rules"] = list(group["rules"].values())
        return detail

    def _fill_group(self, group: dict[str, Any], raw: dict[str, Any], spec: InteractionRuleGroup) -> None:
        now = time.time()
        group["group_name"] = spec.group_name
        group["update_time"] = rfc3339(now)
        group["rules"] = {}
        for rule in raw.get("interaction_rules") or []:
            detail = self._rule_detail(rule, now)
            group["rules"][detail["rule_id"]] = detail

    async def h_create_group(self, request: Request) -> Response:
        account = self.authenticate(request)
        raw, spec = parse_body(request, InteractionRuleGroup)
        group_id = uuid.uuid4().hex
        group = {"group_id": group_id, "project_id": account.project_id, "create_time": rfc3339(time.time())}
        self._fill_group(group, raw, spec)
        self.rule_groups[group_id] = group
        return Response({"group_id": group_id})

    async def h_list_groups(self, request: Request) -> Response:
        account = self.authenticate(request)
        query = parse_query(request, RuleGroupQuery)
        since = parse_rfc3339(query.create_since, "create_since") if query.create_since else None
        until = parse_rfc3339(query.create_until, "create_until") if query.create_until else None
        found = [
            group
            for group in self.rule_groups.values()
            if group["project_id"] == account.project_id
            and (not query.group_name or query.group_name in group["group_name"])
            and (since is None or parse_rfc3339(group["create_time"], "create_time") >= since)
            and (until is None or parse_rfc3339(group["create_time"], "create_time") <= until)
        ]
        items = [self._group_detail(group, rules=False) for group in page(found, query)]
        return Response({"count": len(found), "interaction_rule_groups": items})

    async def h_show_group(self, request: Request) -> Response:
        return Response(self._group_detail(self._group(request)))

    async def h_update_group(self, request: Request) -> Response:
        group = self._group(request)
        raw, spec = parse_body(request, InteractionRuleGroup)
        self._fill_group(group, raw, spec)
        return Response(self._group_detail(group))

    async def h_delete_group(self, request: Request) -> Response:
        group = self._group(request)
        del self.rule_groups[group["group_id"]]
        return Response({})

    async def h_create_rule(self, request: Request) -> Response:
        group = self._group(request)
        raw, _ = parse_body(request, InteractionRule)
        detail = self._rule_detail(raw, time.time())
        group["rules"][detail["rule_id"]] = detail
        group["update_time"] = detail["update_time"]
        return Response(detail)

    def _rule(self, request: Request) -> tuple[dict[str, Any], str]:
        group = self._group(request)
        rule_id = request.path_params["rule_id"]
        if rule_id not in group["rules"]:
            raise not_found(f"interaction rule {rule_id} not found in group {group['group_id']}")
        return group, rule_id

    async def h_update_rule(self, request: Request) -> Response:
        group, rule_id = self._rule(request)
        raw, _ = parse_body(request, InteractionRule)
        previous = group["rules"][rule_id]
        now = rfc3339(time.time())
        group["rules"][rule_id] = {
            **raw,
            "rule_id": rule_id,
            "create_time": previous["create_time"],
            "update_time": now,
        }
        group["update_time"] = now
        return Response(group["rules"][rule_id])

    async def h_delete_rule(self, request: Request) -> Response:
        group, rule_id = self._rule(request)
        del group["rules"][rule_id]
        return Response({})

    # --- routes -----------------------------------------------------------------------------------

    def register(self, router: Router) -> None:
        groups = f"{BASE}/smart-live-interaction-rule-groups"
        routes = [
            ("POST", f"{BASE}/smart-live-rooms", self.h_create_room),
            ("GET", f"{BASE}/smart-live-rooms", self.h_list_rooms),
            ("GET", ROOM, self.h_show_room),
            ("PUT", ROOM, self.h_update_room),
            ("DELETE", ROOM, self.h_delete_room),
            ("POST", f"{ROOM}/smart-live-jobs", self.h_start_job),
            ("GET", f"{ROOM}/smart-live-jobs", self.h_list_room_jobs),
            ("GET", JOB, self.h_show_job),
            ("POST", f"{JOB}/stop", self.h_stop_job),
            ("POST", f"{JOB}/command", self.h_command),
            ("GET", f"{JOB}/command/insert-commands", self.h_insert_commands),
            ("POST", f"{JOB}/live-event-report", self.h_report_events),
            ("GET", f"{BASE}/smart-live-jobs", self.h_list_jobs),
            ("POST", groups, self.h_create_group),
            ("GET", groups, self.h_list_groups),
            ("GET", GROUP, self.h_show_group),
            ("PUT", GROUP, self.h_update_group),
            ("DELETE", GROUP, self.h_delete_group),
            ("POST", f"{GROUP}/rules", self.h_create_rule),
            ("PUT", f"{GROUP}/rules/{{rule_id}}", self.h_update_rule),
            ("DELETE", f"{GROUP}/rules/{{rule_id}}", self.h_delete_rule),
            ("PUT", "/_sandbox/metastudio/accounts/{ak}", self.h_put_account),
            ("GET", "/_sandbox/metastudio/accounts", self.h_list_accounts),
            ("GET", "/_sandbox/metastudio/jobs/{job_id}", self.h_inspect),
            ("POST", "/_sandbox/metastudio/jobs/{job_id}/kill", self.h_kill),
            ("POST", "/_sandbox/metastudio/jobs/{job_id}/rtmp", self.h_rtmp),
        ]
        for method, path, handler in routes:
            router.add(method, path, handler)

    # --- sandbox control and inspection -----------------------------------------------------------

    async def h_put_account(self, request: Request) -> Response:
        self.provision(request.path_params["ak"], request.parse(AccountBody))
        return Response({"ok": True})

    async def h_list_accounts(self, request: Request) -> Response:
        return Response([account.describe() for account in self.accounts.values()])

    def _any_job(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise HttpError(404, f"job {job_id} not found")
        return job

    async def h_inspect(self, request: Request) -> Response:
        """The program monitor: what the live shows and says now, and everything counted so far."""
        job = self._any_job(request.path_params["job_id"])
        now = time.time()
        return Response({**self.player.monitor(job, now), "job": job.describe(now)})

    async def h_kill(self, request: Request) -> Response:
        """End a job behind the customer's back: FAILED with error_info, or BLOCKED with a reason."""
        job = self._any_job(request.path_params["job_id"])
        body = request.parse(KillBody)
        if not job.running:
            raise HttpError(409, f"job {job.job_id} has already ended ({job.state})")
        if body.state == BLOCKED:
            job.block_reason = body.error_msg
        else:
            job.error_info = {"error_code": body.error_code, "error_msg": body.error_msg}
        self.end_job(job, body.state, body.error_msg)
        return Response({"ok": True, "state": job.state})

    async def h_rtmp(self, request: Request) -> Response:
        """Put every RTMP link of a live job in ``state`` (a broken link, a reconnection...)."""
        job = self._any_job(request.path_params["job_id"])
        body = request.parse(RtmpBody)
        if job.state != PROCESSING or not job.outputs:
            raise HttpError(409, f"job {job.job_id} has no RTMP link to change ({job.state})")
        for output in job.outputs:
            self.player.set_link(job, output, body.state)
        return Response({"ok": True, "outputs": [output.describe() for output in job.outputs]})
