"""The MetaStudio driver against the notes and the room document, byte for byte, through
httpx.MockTransport: paths, queries, signed headers, bodies, answers and refusals.

Calls that need no room rows use unsaved model instances; the room body, opening a session and
the SDK oracle are in test_metastudio_room.py, with rows from the database.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from rooms.models import LiveSession, PlatformAccount, Room
from rooms.platforms import driver_class
from rooms.platforms.base import (
    AudienceEvent,
    Capability,
    HistoryEntry,
    LiveState,
    LiveStatus,
    NowPlaying,
    Paragraph,
    PlatformError,
    RtcInfo,
    ShownLayer,
    TakeoverRequest,
    TakeoverState,
    VendorRoom,
)
from rooms.platforms.metastudio import MetaStudioDriver
from rooms.platforms.metastudio_auth import (
    DATE_FORMAT,
    canonical_request,
    payload_hash,
    signature,
    string_to_sign,
)

BASE = "https://metastudio.cn-north-4.example.com"
PROJECT = "70b76xxxxxx34253880af501cdxxxxxx"
API = f"/v1/{PROJECT}"
AK = "HPUAL7TTMZ0EXAMPLEAK"
SK = "qQ8yWv4tX9EXAMPLEsecretKEYzjL3nT6pR2mB5cD"
ROOM_ID = "26f06524-4f75-4b3a-a853-b649a21aaf66"
JOB_ID = "e87104f76d7546ce8a46ac6b04c49c3c"
JOB = f"{API}/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"
COMMAND = f"{JOB}/command"


def make_account(**credentials: str) -> PlatformAccount:
    values = {"project_id": PROJECT, "access_key": AK, "secret_key": SK, "callback_secret": "k" * 32}
    return PlatformAccount(
        id=7,
        name="MetaStudio main",
        kind=PlatformAccount.Kind.METASTUDIO,
        base_url=f"{BASE}/",
        credentials={**values, **credentials},
        callback_key="cb-key",
    )


def make_session(account: PlatformAccount | None = None, **overrides: Any) -> LiveSession:
    room = Room(id=3, name="Room A", ms_play_type="INSERT")
    fields: dict[str, Any] = {
        "id": 11,
        "account": account or make_account(),
        "room": room,
        "vendor_session_id": JOB_ID,
        "vendor_data": {"live_id": ROOM_ID},
        "state": LiveState.LIVE,
    }
    return LiveSession(**(fields | overrides))


Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeMetaStudio:
    """Answers by method and path (after /v1/{project_id}): the next canned answer, the last one
    again when they run out; records every request."""

    def __init__(self, routes: dict[tuple[str, str], Answer | list[Answer]] | None = None) -> None:
        self.routes = {
            key: value if isinstance(value, list) else [value] for key, value in (routes or {}).items()
        }
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        assert path.startswith(API), path
        answers = self.routes.get((request.method, path.removeprefix(API)))
        if not answers:
            return httpx.Response(404, json={"error_code": "MSS.00010003", "error_msg": "no such path"})
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def run(self, account: PlatformAccount, call: Callable[[MetaStudioDriver], Awaitable[Any]]) -> Any:
        async def go() -> Any:
            async with httpx.AsyncClient(transport=httpx.MockTransport(self.handler)) as client:
                return await call(MetaStudioDriver(account, client))

        return asyncio.run(go())

    @property
    def only(self) -> httpx.Request:
        assert len(self.requests) == 1, [str(r.url) for r in self.requests]
        return self.requests[0]


def ok(body: Any = None) -> httpx.Response:
    return httpx.Response(200, json={} if body is None else body)


def command_answer(command: str, result: Any = "SUCCESS", command_id: str = "cmd-1") -> httpx.Response:
    return ok({"command_id": command_id, "command": command, "result": result})


def assert_signed(request: httpx.Request, *, ak: str = AK, sk: str = SK) -> list[str]:
    """The Authorization header verifies with the signer's own steps; returns the signed names."""
    match = re.fullmatch(
        r"SDK-HMAC-SHA256 Access=(\S+), SignedHeaders=(\S+), Signature=([0-9a-f]{64})",
        request.headers["Authorization"],
    )
    assert match is not None, request.headers["Authorization"]
    assert match[1] == ak
    names = match[2].split(";")
    raw_path, _, raw_query = request.url.raw_path.decode().partition("?")
    canonical = canonical_request(
        request.method,
        raw_path,
        parse_qsl(raw_query, keep_blank_values=True),
        {name: request.headers[name] for name in names},
        payload_hash(request.content),
    )
    sdk_date = datetime.strptime(request.headers["X-Sdk-Date"], DATE_FORMAT)
    assert signature(sk, string_to_sign(sdk_date, canonical)) == match[3]
    assert {"host", "x-sdk-date", "x-project-id"} <= set(names)
    return names


def assert_sent(
    request: httpx.Request,
    method: str,
    path: str,
    body: bytes = b"",
    query: list[tuple[str, str]] | None = None,
) -> None:
    assert request.method == method
    assert request.url.path == path
    assert sorted(parse_qsl(request.url.query.decode(), keep_blank_values=True)) == sorted(query or [])
    assert request.content == body
    assert request.headers["X-Project-Id"] == PROJECT
    if body:
        assert request.headers["Content-Type"] == "application/json"
    assert_signed(request)


def compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def job(state: str = "PROCESSING", **fields: Any) -> dict[str, Any]:
    return {
        "job_id": JOB_ID,
        "room_id": ROOM_ID,
        "room_name": "Room A",
        "state": state,
        "duration": 12.5,
        "start_time": "2024-09-10T08:30:00Z",
        "end_time": None,
        "create_time": "2024-09-10T08:29:50Z",
        "rtc_room_info": {
            "app_id": "rtc-app",
            "room_id": "rtc-room-9",
            "users": [
                {
                    "user_type": "RENDER",
                    "user_id": "render-1",
                    "signature": "sig-render",
                    "ctime": 1725960000,
                },
                {
                    "user_type": "PLAYER",
                    "user_id": "player-1",
                    "signature": "sig-player",
                    "ctime": 1725960000,
                },
            ],
        },
        **fields,
    }


# The driver and what it can do ------------------------------------------------------------------


def test_registry_picks_the_metastudio_driver_for_metastudio_accounts() -> None:
    assert driver_class("metastudio") is MetaStudioDriver


def test_capabilities_are_what_metastudio_does_exactly() -> None:
    caps = MetaStudioDriver(make_account(), httpx.AsyncClient()).capabilities
    assert {
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
    } == caps
    assert not caps & {Capability.CANCEL_ONE, Capability.REORDER, Capability.QUICK_REPLY, Capability.QA}
    assert Capability.MIC not in caps and Capability.PREVIEW not in caps


# Authentication -----------------------------------------------------------------------------------


def test_requests_are_signed_with_the_accounts_ak_sk_and_carry_the_project() -> None:
    vendor = FakeMetaStudio({("GET", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"): ok(job())})
    vendor.run(make_account(), lambda d: d.status(make_session()))
    request = vendor.only
    names = assert_signed(request)
    assert names == sorted(names)
    assert request.headers["Host"] == "metastudio.cn-north-4.example.com"
    assert re.fullmatch(r"\d{8}T\d{6}Z", request.headers["X-Sdk-Date"])
    assert "X-App-UserId" not in request.headers
    assert "X-Auth-Token" not in request.headers


def test_the_app_user_id_is_sent_and_signed_when_the_account_has_one() -> None:
    vendor = FakeMetaStudio({("GET", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"): ok(job())})
    account = make_account(app_user_id="livedeck-user-1")
    vendor.run(account, lambda d: d.status(make_session(account)))
    assert vendor.only.headers["X-App-UserId"] == "livedeck-user-1"
    assert "x-app-userid" in assert_signed(vendor.only)


def test_an_iam_token_is_sent_instead_of_a_signature() -> None:
    vendor = FakeMetaStudio({("GET", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"): ok(job())})
    account = make_account(iam_token="MIIZ-iam-token", app_user_id="u1")
    vendor.run(account, lambda d: d.status(make_session(account)))
    request = vendor.only
    assert request.headers["X-Auth-Token"] == "MIIZ-iam-token"
    assert request.headers["X-Project-Id"] == PROJECT
    assert request.headers["X-App-UserId"] == "u1"
    assert "Authorization" not in request.headers and "X-Sdk-Date" not in request.headers


@pytest.mark.parametrize(
    "credentials",
    [{"project_id": ""}, {"access_key": ""}, {"secret_key": ""}, {"app_user_id": "用户"}],
)
def test_an_account_that_cannot_sign_fails_before_reaching_the_vendor(credentials: dict[str, str]) -> None:
    vendor = FakeMetaStudio()
    account = make_account(**credentials)
    with pytest.raises(PlatformError) as raised:
        vendor.run(account, lambda d: d.status(make_session(account)))
    assert raised.value.permanent
    assert vendor.requests == []


def test_calls_for_a_session_without_a_job_fail_before_reaching_the_vendor() -> None:
    vendor = FakeMetaStudio()
    for session in (make_session(vendor_session_id=""), make_session(vendor_data={})):
        with pytest.raises(PlatformError) as raised:
            vendor.run(make_account(), lambda d, s=session: d.status(s))
        assert raised.value.permanent
    assert vendor.requests == []


# Jobs: state, heartbeat, stop, lists ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "state", "reason"),
    [
        ({"state": "WAITING"}, LiveState.CREATING, ""),
        ({"state": "PROCESSING"}, LiveState.LIVE, ""),
        ({"state": "SUCCEED"}, LiveState.ENDED, ""),
        (
            {"state": "FAILED", "error_info": {"error_code": "MSS.00000004", "error_msg": "Internal Error"}},
            LiveState.FAILED,
            "The live failed: Internal Error (MSS.00000004)",
        ),
        ({"state": "FAILED", "error_info": None}, LiveState.FAILED, "The live failed"),
        (
            {"state": "BLOCKED", "block_reason": "违规内容"},
            LiveState.DROPPED,
            "MetaStudio blocked the live: 违规内容",
        ),
    ],
)
def test_status_maps_the_job_state_and_keeps_the_vendors_name(
    fields: dict[str, Any], state: LiveState, reason: str
) -> None:
    vendor = FakeMetaStudio(
        {("GET", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"): ok(job(**fields))}
    )
    status = vendor.run(make_account(), lambda d: d.status(make_session()))
    assert_sent(vendor.only, "GET", JOB)
    assert status == LiveStatus(
        state=state,
        vendor_code=fields["state"],
        reason=reason,
        rtc=RtcInfo(app_id="rtc-app", channel_id="rtc-room-9", uid="player-1", token="sig-player"),
    )


def test_a_job_without_an_rtc_room_has_no_rtc() -> None:
    vendor = FakeMetaStudio(
        {("GET", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"): ok(job(rtc_room_info=None))}
    )
    assert vendor.run(make_account(), lambda d: d.status(make_session())).rtc is None


def test_a_job_state_the_notes_do_not_list_is_a_transient_error() -> None:
    vendor = FakeMetaStudio(
        {("GET", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"): ok(job(state="PAUSED"))}
    )
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.status(make_session()))
    assert not raised.value.permanent and raised.value.code == "malformed"


def test_heartbeat_shows_the_job_so_the_beat_notices_one_that_ended() -> None:
    vendor = FakeMetaStudio(
        {("GET", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"): ok(job(state="SUCCEED"))}
    )
    status = vendor.run(make_account(), lambda d: d.heartbeat(make_session()))
    assert_sent(vendor.only, "GET", JOB)
    assert status is not None and status.state is LiveState.ENDED


def test_close_posts_stop_without_a_body() -> None:
    vendor = FakeMetaStudio({("POST", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}/stop"): ok()})
    vendor.run(make_account(), lambda d: d.close(make_session()))
    assert_sent(vendor.only, "POST", f"{JOB}/stop")
    assert "Content-Type" not in vendor.only.headers


def test_close_of_a_job_the_vendor_no_longer_knows_is_done() -> None:
    gone = httpx.Response(404, json={"error_code": "MSS.00000003", "error_msg": "job not found"})
    vendor = FakeMetaStudio({("POST", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}/stop"): gone})
    vendor.run(make_account(), lambda d: d.close(make_session()))


def test_close_refused_for_another_reason_says_why() -> None:
    refused = httpx.Response(400, json={"error_code": "MSS.00000003", "error_msg": "job has already ended"})
    vendor = FakeMetaStudio({("POST", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}/stop"): refused})
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.close(make_session()))
    assert raised.value.permanent and raised.value.code == "MSS.00000003"
    assert "job has already ended" in str(raised.value)


def test_running_lists_waiting_and_processing_jobs_of_the_account_page_by_page() -> None:
    first = [job(state="PROCESSING", job_id=f"job-{n}") for n in range(100)]
    second = [job(state="WAITING", job_id="job-100")]
    vendor = FakeMetaStudio(
        {
            ("GET", "/smart-live-jobs"): [
                ok({"count": 101, "smart_live_jobs": first}),
                ok({"count": 101, "smart_live_jobs": second}),
            ]
        }
    )
    running = vendor.run(make_account(), lambda d: d.running())
    assert len(vendor.requests) == 2
    for request, offset in zip(vendor.requests, ("0", "100"), strict=True):
        assert_sent(
            request,
            "GET",
            f"{API}/smart-live-jobs",
            query=[("offset", offset), ("limit", "100"), ("state", "WAITING,PROCESSING")],
        )
    assert len(running) == 101
    assert running[0].vendor_session_id == "job-0" and running[0].status.state is LiveState.LIVE
    assert running[-1].vendor_session_id == "job-100"
    assert (running[-1].status.state, running[-1].status.vendor_code) == (LiveState.CREATING, "WAITING")


def test_running_with_no_jobs_is_an_empty_list() -> None:
    vendor = FakeMetaStudio({("GET", "/smart-live-jobs"): ok({"count": 0, "smart_live_jobs": None})})
    assert vendor.run(make_account(), lambda d: d.running()) == []


def test_history_lists_ended_jobs_newest_first_with_offset_and_limit() -> None:
    ended = [
        job(state="SUCCEED", job_id="job-a", end_time="2024-09-10T10:00:00Z"),
        job(
            state="FAILED", job_id="job-b", start_time=None, error_info={"error_code": "E1", "error_msg": "x"}
        ),
    ]
    vendor = FakeMetaStudio({("GET", "/smart-live-jobs"): ok({"count": 23, "smart_live_jobs": ended})})
    page = vendor.run(make_account(), lambda d: d.history(page=3, page_size=10))
    assert_sent(
        vendor.only,
        "GET",
        f"{API}/smart-live-jobs",
        query=[
            ("offset", "20"),
            ("limit", "10"),
            ("state", "SUCCEED,FAILED,BLOCKED"),
            ("sort_key", "create_time"),
            ("sort_dir", "desc"),
        ],
    )
    assert (page.page, page.pages, page.total) == (3, 3, 23)
    assert page.entries[0] == HistoryEntry(
        vendor_session_id="job-a",
        status=LiveStatus(
            state=LiveState.ENDED,
            vendor_code="SUCCEED",
            rtc=RtcInfo(app_id="rtc-app", channel_id="rtc-room-9", uid="player-1", token="sig-player"),
        ),
        started="2024-09-10T08:30:00Z",
        ended="2024-09-10T10:00:00Z",
    )
    # A job that never started is dated by its creation.
    assert page.entries[1].started == "2024-09-10T08:29:50Z"
    assert page.entries[1].status.reason == "The live failed: x (E1)"


# Takeovers: inserted commands ------------------------------------------------------------------


def test_a_text_takeover_inserts_a_script_as_the_room_plays_takeovers() -> None:
    vendor = FakeMetaStudio(
        {("POST", COMMAND[len(API) :]): command_answer("INSERT_PLAY_SCRIPT", command_id="c-9")}
    )
    receipt = vendor.run(
        make_account(), lambda d: d.takeover(make_session(), TakeoverRequest(text="欢迎来到直播间"))
    )
    assert_sent(
        vendor.only,
        "POST",
        COMMAND,
        '{"command":"INSERT_PLAY_SCRIPT","params":{"text_config":{"text":"欢迎来到直播间"},"play_type":"INSERT"}}'.encode(),
    )
    assert receipt.trace_id == "c-9"
    assert receipt.state is TakeoverState.QUEUED


def test_an_interrupting_takeover_plays_now() -> None:
    vendor = FakeMetaStudio({("POST", COMMAND[len(API) :]): command_answer("INSERT_PLAY_SCRIPT")})
    vendor.run(
        make_account(),
        lambda d: d.takeover(
            make_session(), TakeoverRequest(text="<speak>hi</speak>", ssml=True), interrupt=True
        ),
    )
    assert json.loads(vendor.only.content)["params"] == {
        "text_config": {"text": "<speak>hi</speak>"},
        "play_type": "PLAY_NOW",
    }


def test_an_audio_takeover_inserts_audio_appended_when_the_room_says_so() -> None:
    vendor = FakeMetaStudio({("POST", COMMAND[len(API) :]): command_answer("INSERT_PLAY_AUDIO")})
    session = make_session()
    assert session.room is not None
    session.room.ms_play_type = "APPEND"
    vendor.run(
        make_account(),
        lambda d: d.takeover(session, TakeoverRequest(audio_url="https://cdn.example.com/a.mp3"), position=2),
    )
    assert vendor.only.content == (
        b'{"command":"INSERT_PLAY_AUDIO","params":{"audio_url":"https://cdn.example.com/a.mp3","play_type":"APPEND"}}'
    )


def test_a_takeover_without_text_or_audio_is_refused_before_calling() -> None:
    vendor = FakeMetaStudio()
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.takeover(make_session(), TakeoverRequest()))
    assert raised.value.permanent and vendor.requests == []


def test_a_takeover_answer_without_a_command_id_is_a_transient_error() -> None:
    vendor = FakeMetaStudio({("POST", COMMAND[len(API) :]): ok({"command": "INSERT_PLAY_SCRIPT"})})
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.takeover(make_session(), TakeoverRequest(text="hello")))
    assert not raised.value.permanent


def test_cancel_all_cleans_up_the_inserted_commands() -> None:
    vendor = FakeMetaStudio({("POST", COMMAND[len(API) :]): command_answer("CLEAN_UP_INSERT_COMMAND")})
    vendor.run(make_account(), lambda d: d.cancel(make_session(), None))
    assert_sent(vendor.only, "POST", COMMAND, b'{"command":"CLEAN_UP_INSERT_COMMAND","params":{}}')


def test_cancel_of_chosen_takeovers_is_refused_because_metastudio_clears_only_all() -> None:
    vendor = FakeMetaStudio()
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.cancel(make_session(), ["c-1"]))
    assert raised.value.permanent and "only clear all" in str(raised.value)
    vendor.run(make_account(), lambda d: d.cancel(make_session(), []))
    assert vendor.requests == []


def test_queue_lists_the_inserted_commands_not_yet_played() -> None:
    items = [
        {
            "command_id": "c-1",
            "command": "INSERT_PLAY_SCRIPT",
            "params": {"text_config": {"text": "a"}},
            "source": "EXTERNAL",
        },
        {"command_id": "c-2", "command": "INSERT_PLAY_AUDIO", "params": None, "source": "AUTO"},
    ]
    vendor = FakeMetaStudio(
        {("GET", f"{COMMAND[len(API) :]}/insert-commands"): ok({"count": 2, "insert_commands": items})}
    )
    assert vendor.run(make_account(), lambda d: d.queue(make_session())) == ["c-1", "c-2"]
    assert_sent(vendor.only, "GET", f"{COMMAND}/insert-commands", query=[("offset", "0"), ("limit", "100")])


# The show during a live -------------------------------------------------------------------------------


def test_refresh_output_sends_the_new_rtmp_url_and_key() -> None:
    vendor = FakeMetaStudio({("POST", COMMAND[len(API) :]): command_answer("REFRESH_OUTPUT_URL")})
    vendor.run(
        make_account(), lambda d: d.refresh_output(make_session(), "rtmp://push.example.com/live", "k-1")
    )
    assert_sent(
        vendor.only,
        "POST",
        COMMAND,
        b'{"command":"REFRESH_OUTPUT_URL","params":{"output_urls":["rtmp://push.example.com/live"],'
        b'"stream_keys":["k-1"]}}',
    )


@pytest.mark.parametrize(
    ("layer", "params"),
    [
        (
            ShownLayer(
                kind="IMAGE", x=10, y=-20, width=300, height=200, seconds=15, url="https://a.example/x.png"
            ),
            {
                "layer_type": "IMAGE",
                "position": {"dx": 10, "dy": -20, "layer_index": 100},
                "size": {"width": 300, "height": 200},
                "image_config": {"image_url": "https://a.example/x.png", "display_duration": 15},
            },
        ),
        (
            ShownLayer(
                kind="video", x=0, y=0, width=640, height=360, seconds=30, url="https://a.example/v.mp4"
            ),
            {
                "layer_type": "VIDEO",
                "position": {"dx": 0, "dy": 0, "layer_index": 100},
                "size": {"width": 640, "height": 360},
                "video_config": {"video_url": "https://a.example/v.mp4", "display_duration": 30},
            },
        ),
        (
            ShownLayer(
                kind="TEXT",
                x=100,
                y=1500,
                width=800,
                height=120,
                seconds=10,
                text="限时优惠",
                font_size=48,
                font_color="#FF0000",
                layer_index=90,
            ),
            {
                "layer_type": "TEXT",
                "position": {"dx": 100, "dy": 1500, "layer_index": 90},
                "size": {"width": 800, "height": 120},
                "text_config": {
                    "text_type": "STATIC",
                    "text_context": "限时优惠",
                    "font_size": 48,
                    "font_color": "#FF0000",
                    "display_duration": 10,
                },
            },
        ),
    ],
)
def test_show_layer_sends_the_layer_for_its_seconds(layer: ShownLayer, params: dict[str, Any]) -> None:
    vendor = FakeMetaStudio({("POST", COMMAND[len(API) :]): command_answer("SHOW_LAYER")})
    vendor.run(make_account(), lambda d: d.show_layer(make_session(), layer))
    assert_sent(vendor.only, "POST", COMMAND, compact({"command": "SHOW_LAYER", "params": params}))


def test_a_layer_metastudio_would_refuse_is_refused_before_calling() -> None:
    vendor = FakeMetaStudio()
    layer = ShownLayer(
        kind="IMAGE", x=0, y=0, width=0, height=10, seconds=5000, url="https://a.example/x.png"
    )
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.show_layer(make_session(), layer))
    assert raised.value.permanent and vendor.requests == []


def test_reset_exit_sends_the_exit_config() -> None:
    vendor = FakeMetaStudio({("POST", COMMAND[len(API) :]): command_answer("RESET_EXIT_CONFIG")})
    vendor.run(
        make_account(),
        lambda d: d.reset_exit(
            make_session(),
            max_live_duration=168,
            auto_stop_mode="FORCE_EXIT",
            max_exception_waiting_duration=60,
        ),
    )
    # The example of the SDK's ControlSmartLiveReq, byte for byte.
    assert_sent(
        vendor.only,
        "POST",
        COMMAND,
        b'{"command":"RESET_EXIT_CONFIG","params":{"max_live_duration":168,"auto_stop_mode":"FORCE_EXIT",'
        b'"max_exception_waiting_duration":60}}',
    )


@pytest.mark.parametrize(
    "config",
    [
        {"max_live_duration": 169, "auto_stop_mode": "FORCE_EXIT", "max_exception_waiting_duration": 0},
        {"max_live_duration": 1, "auto_stop_mode": "LATER", "max_exception_waiting_duration": 0},
        {"max_live_duration": 1, "auto_stop_mode": "SCRIPT_END", "max_exception_waiting_duration": 61},
    ],
)
def test_an_exit_config_out_of_range_is_refused_before_calling(config: dict[str, Any]) -> None:
    vendor = FakeMetaStudio()
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.reset_exit(make_session(), **config))
    assert raised.value.permanent and vendor.requests == []


PLAYING = {
    "scene_scripts": [
        {
            "script_name": "Morning show",
            "model_asset_id": "a5d2",
            "shoot_scripts": [
                {"sequence_no": 0, "title": "开场", "text": "大家好"},
                {"sequence_no": 1, "title": "商品", "text": "今天的商品"},
                {"sequence_no": 2, "title": None, "text": "再见"},
            ],
        }
    ]
}


@pytest.mark.parametrize("result", [json.dumps(PLAYING, ensure_ascii=False), PLAYING])
def test_now_playing_reads_the_round_and_the_paragraph_the_last_switch_named(result: Any) -> None:
    vendor = FakeMetaStudio(
        {("POST", COMMAND[len(API) :]): command_answer("GET_CURRENT_PLAYING_SCRIPTS", result)}
    )
    session = make_session(
        vendor_data={
            "live_id": ROOM_ID,
            "paragraph": {"scene": "Morning show", "sequence_no": "1", "title": "商品"},
        }
    )
    now = vendor.run(make_account(), lambda d: d.now_playing(session))
    assert_sent(vendor.only, "POST", COMMAND, b'{"command":"GET_CURRENT_PLAYING_SCRIPTS","params":{}}')
    assert now == NowPlaying(
        scene="Morning show",
        paragraphs=(
            Paragraph(sequence_no=0, title="开场", text="大家好"),
            Paragraph(sequence_no=1, title="商品", text="今天的商品"),
            Paragraph(sequence_no=2, title="", text="再见"),
        ),
        playing=1,
    )


def test_now_playing_without_a_switch_in_this_round_says_none_plays() -> None:
    vendor = FakeMetaStudio(
        {("POST", COMMAND[len(API) :]): command_answer("GET_CURRENT_PLAYING_SCRIPTS", json.dumps(PLAYING))}
    )
    other_scene = make_session(
        vendor_data={"live_id": ROOM_ID, "paragraph": {"scene": "Other", "sequence_no": "1"}}
    )
    assert vendor.run(make_account(), lambda d: d.now_playing(other_scene)).playing is None
    assert vendor.run(make_account(), lambda d: d.now_playing(make_session())).playing is None


def test_now_playing_with_a_result_that_is_not_the_list_is_a_transient_error() -> None:
    vendor = FakeMetaStudio(
        {("POST", COMMAND[len(API) :]): command_answer("GET_CURRENT_PLAYING_SCRIPTS", "SUCCESS")}
    )
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.now_playing(make_session()))
    assert not raised.value.permanent and raised.value.code == "malformed"


ROOM_DETAIL = {
    "room_id": ROOM_ID,
    "room_name": "Room A",
    "room_state": "ENABLE",
    "priv_data": '{"livedeck_room":3}',
    "scene_scripts": [
        {
            "script_name": "Morning show",
            "shoot_scripts": [{"sequence_no": 0, "title": "开场", "text_config": {"text": "大家好"}}],
        }
    ],
    "interaction_config": {"play_type": "APPEND", "ignore_current_sentence": False},
    "interaction_rules": [{"rule_name": "r1"}, {"rule_name": "r2"}],
    "output_urls": ["rtmp://push.example.com/live"],
    "video_config": {"width": 1080, "height": 1920},
}
SHOWN_ROOM = VendorRoom(
    vendor_room_id=ROOM_ID,
    name="Room A",
    state="ENABLE",
    livedeck_room_id=3,
    paragraphs=(Paragraph(sequence_no=0, title="开场", text="大家好"),),
    rules=2,
    output_urls=("rtmp://push.example.com/live",),
    play_type="APPEND",
)


def test_job_config_reads_the_room_as_the_job_sees_it() -> None:
    vendor = FakeMetaStudio(
        {("POST", COMMAND[len(API) :]): command_answer("GET_LIVE_JOB_CONFIG_INFO", json.dumps(ROOM_DETAIL))}
    )
    assert vendor.run(make_account(), lambda d: d.job_config(make_session())) == SHOWN_ROOM
    assert vendor.only.content == b'{"command":"GET_LIVE_JOB_CONFIG_INFO","params":{}}'


# Live events -------------------------------------------------------------------------------------------


def test_report_events_posts_each_event_with_its_content_as_a_json_string() -> None:
    vendor = FakeMetaStudio(
        {
            ("POST", f"{JOB[len(API) :]}/live-event-report"): ok(
                {"live_event_report_url": "https://x.example/r"}
            )
        }
    )
    events = [
        AudienceEvent(
            kind="comment",
            user_id="2027271526",
            name="小明",
            level=17,
            text="多少钱",
            timestamp_ms=1694481224245,
        ),
        AudienceEvent(kind="enter", user_id="2978899271", name="u2", level=1, timestamp_ms=1694481227655),
        AudienceEvent(kind="like", user_id="u3", name="u3", timestamp_ms=1694481227656),
        AudienceEvent(
            kind="gift",
            user_id="douyin_95882940927",
            name="纯爱战士熙熙",
            level=2,
            gift_name="小星星",
            gift_num=10,
            gift_value=3,
            timestamp_ms=1690531652862,
        ),
        AudienceEvent(kind="viewers", viewers=5466, timestamp_ms=1694481236886),
    ]
    vendor.run(make_account(), lambda d: d.report_events(make_session(), events))

    def user(user_id: str, name: str, level: int) -> str:
        return f'{{"userId":"{user_id}","name":"{name}","level":{level},"badge":"","badgeLevel":0}}'

    contents = [
        f'{{"user":{user("2027271526", "小明", 17)},"content":"多少钱"}}',
        f'{{"user":{user("2978899271", "u2", 1)}}}',
        f'{{"user":{user("u3", "u3", 0)}}}',
        f'{{"user":{user("douyin_95882940927", "纯爱战士熙熙", 2)},'
        '"gift":{"giftName":"小星星","giftNum":10,"totalValue":30,"giftValue":3}}',
        '{"numberOfViewers":5466}',
    ]
    expected = {
        "total": 5,
        "events": [
            {"timestamp": event.timestamp_ms, "type": kind, "content": content}
            for event, kind, content in zip(events, (1, 2, 3, 4, 6), contents, strict=True)
        ],
    }
    assert_sent(vendor.only, "POST", f"{JOB}/live-event-report", compact(expected))


def test_an_event_without_a_time_is_dated_now() -> None:
    vendor = FakeMetaStudio({("POST", f"{JOB[len(API) :]}/live-event-report"): ok()})
    before = int(time.time() * 1000)
    vendor.run(
        make_account(), lambda d: d.report_events(make_session(), [AudienceEvent(kind="like", user_id="u")])
    )
    stamp = json.loads(vendor.only.content)["events"][0]["timestamp"]
    assert before <= stamp <= int(time.time() * 1000)


def test_no_events_send_nothing_and_an_unknown_kind_is_refused() -> None:
    vendor = FakeMetaStudio()
    vendor.run(make_account(), lambda d: d.report_events(make_session(), []))
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.report_events(make_session(), [AudienceEvent(kind="follow")]))
    assert raised.value.permanent and vendor.requests == []


# Vendor rooms --------------------------------------------------------------------------------------------


def test_list_rooms_reads_every_page_and_the_livedeck_room_of_each() -> None:
    rooms = [
        {
            "room_id": f"r-{n}",
            "room_name": f"Room {n}",
            "room_state": "ENABLE",
            "priv_data": f'{{"livedeck_room":{n}}}',
        }
        for n in range(100)
    ]
    last = [{"room_id": "r-x", "room_name": "Theirs", "priv_data": "not json", "last_job_status": "SUCCEED"}]
    vendor = FakeMetaStudio(
        {
            ("GET", "/smart-live-rooms"): [
                ok({"count": 101, "smart_live_rooms": rooms}),
                ok({"count": 101, "smart_live_rooms": last}),
            ]
        }
    )
    listed = vendor.run(make_account(), lambda d: d.list_rooms())
    assert_sent(
        vendor.requests[0], "GET", f"{API}/smart-live-rooms", query=[("offset", "0"), ("limit", "100")]
    )
    assert_sent(
        vendor.requests[1], "GET", f"{API}/smart-live-rooms", query=[("offset", "100"), ("limit", "100")]
    )
    assert listed[5] == VendorRoom(vendor_room_id="r-5", name="Room 5", state="ENABLE", livedeck_room_id=5)
    assert listed[-1] == VendorRoom(vendor_room_id="r-x", name="Theirs", last_job_state="SUCCEED")


def test_show_room_reads_its_paragraphs_rules_and_output() -> None:
    vendor = FakeMetaStudio({("GET", f"/smart-live-rooms/{ROOM_ID}"): ok(ROOM_DETAIL)})
    assert vendor.run(make_account(), lambda d: d.show_room(ROOM_ID)) == SHOWN_ROOM
    assert_sent(vendor.only, "GET", f"{API}/smart-live-rooms/{ROOM_ID}")


def test_delete_room_deletes_and_a_room_already_gone_is_deleted() -> None:
    gone = httpx.Response(404, json={"error_code": "MSS.00000003", "error_msg": "room not found"})
    vendor = FakeMetaStudio({("DELETE", f"/smart-live-rooms/{ROOM_ID}"): [ok(), gone]})
    vendor.run(make_account(), lambda d: d.delete_room(ROOM_ID))
    vendor.run(make_account(), lambda d: d.delete_room(ROOM_ID))
    assert_sent(vendor.requests[0], "DELETE", f"{API}/smart-live-rooms/{ROOM_ID}")


def test_ids_are_encoded_as_path_segments() -> None:
    vendor = FakeMetaStudio({("DELETE", "/smart-live-rooms/a%2Fb c"): ok()})
    vendor.run(make_account(), lambda d: d.delete_room("a/b c"))
    assert vendor.only.url.raw_path.decode() == f"{API}/smart-live-rooms/a%2Fb%20c"
    assert_signed(vendor.only)


# Errors ("Errors") --------------------------------------------------------------------------------------


def status_error(*answers: Answer) -> PlatformError:
    vendor = FakeMetaStudio({("GET", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}"): list(answers)})
    with pytest.raises(PlatformError) as raised:
        vendor.run(make_account(), lambda d: d.status(make_session()))
    return raised.value


@pytest.mark.parametrize(
    ("status", "code", "message"),
    [
        (400, "MSS.00000003", "MetaStudio refused the request: Invalid parameter (HTTP 400)"),
        (401, "MSS.00000001", "MetaStudio refused the account's credentials: Unauthorized (HTTP 401)"),
        (403, "MSS.00010009", "MetaStudio refused the account's credentials: Forbidden (HTTP 403)"),
        (404, "MSS.00000003", "MetaStudio refused the request: Not found (HTTP 404)"),
    ],
)
def test_client_errors_are_permanent_with_the_vendors_code_and_message(
    status: int, code: str, message: str
) -> None:
    words = {400: "Invalid parameter", 401: "Unauthorized", 403: "Forbidden", 404: "Not found"}[status]
    error = status_error(httpx.Response(status, json={"error_code": code, "error_msg": words}))
    assert error.permanent
    assert error.code == code
    assert error.message == message


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_server_errors_timeouts_and_rate_limits_are_transient(status: int) -> None:
    error = status_error(
        httpx.Response(status, json={"error_code": "MSS.00000004", "error_msg": "Internal Error"})
    )
    assert not error.permanent
    assert error.code == "MSS.00000004"
    assert "Internal Error" in error.message


def test_an_error_without_the_documented_body_still_reads_well() -> None:
    error = status_error(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert not error.permanent
    assert error.code == "502"
    assert error.message == "MetaStudio could not do it now: Bad Gateway (HTTP 502)"


@pytest.mark.parametrize(
    ("failure", "code"),
    [(httpx.ReadTimeout("slow"), "timeout"), (httpx.ConnectError("refused"), "network")],
)
def test_timeouts_and_connection_failures_are_transient(failure: Exception, code: str) -> None:
    error = status_error(failure)
    assert not error.permanent and error.code == code


@pytest.mark.parametrize("body", [b"<html>maintenance</html>", b'{"job_id": ""}', b"[]"])
def test_a_success_that_is_not_the_documented_json_is_transient(body: bytes) -> None:
    error = status_error(httpx.Response(200, content=body))
    assert not error.permanent and error.code == "malformed"


# Callbacks (表29 callback_event_type) ----------------------------------------------------------------------

# The document's own examples (the REPLY_COMMAND_FINISH one with its stray quote mended).
SWITCH = (
    r'{"event_type":  "SHOOT_SCRIPT_SWITCH",'
    r'"message":"{\"room_id\":\"26f065244f754b3aa853b649a21aaf66\",\"job_id\":\"e87104f76d7546ce8a46ac6b04c49c3c\",'
    r'\"scene_script_name\":\"商品1\",\"shoot_script_sequence_no\":\"2\",\"shoot_script_title\":\"段落2\"}"}'
)
RTMP = (
    r'{"event_type":  "RTMP_STREAM_STATE_CHANGE",'
    r'"message":"{\"room_id\":\"26f065244f754b3aa853b649a21aaf66\",\"job_id\":\"e87104f76d7546ce8a46ac6b04c49c3c\",'
    r'\"output_url\":\"rtmp://xxx/xx/xx\",\"stream_key\":\"live-secret-key-123\",\"state\":\"CONNECTED\"}"}'
)
FINISH = (
    r'{"event_type":  "REPLY_COMMAND_FINISH",'
    r'"message":"{\"room_id\":\"26f065244f754b3aa853b649a21aaf66\",\"job_id\":\"e87104f76d7546ce8a46ac6b04c49c3c\",'
    r'\"reply_id\":\"c0ffee\"}"}'
)


def test_a_reply_finished_callback_is_a_takeover_event_of_the_job() -> None:
    event = MetaStudioDriver.parse_callback(FINISH.encode())
    assert event.vendor_session_id == JOB_ID
    assert event.status is None
    assert event.kind == "status"
    assert (event.command_trace_id, event.command_code) == ("c0ffee", "REPLY_COMMAND_FINISH")


def test_a_paragraph_switch_callback_names_the_scene_and_paragraph() -> None:
    event = MetaStudioDriver.parse_callback(SWITCH.encode())
    assert event.vendor_session_id == JOB_ID
    assert event.status is None and event.command_trace_id == ""
    assert event.kind == "paragraph"
    assert event.data == {"scene": "商品1", "sequence_no": "2", "title": "段落2"}


def test_an_rtmp_callback_names_the_output_and_masks_its_stream_key() -> None:
    event = MetaStudioDriver.parse_callback(RTMP.encode())
    assert event.kind == "rtmp"
    assert event.data == {"output_url": "rtmp://xxx/xx/xx", "stream_key": "liv…-123", "state": "CONNECTED"}


def test_a_callback_whose_message_is_an_object_reads_the_same() -> None:
    body = {"event_type": "SHOOT_SCRIPT_SWITCH", "message": {"job_id": JOB_ID, "shoot_script_sequence_no": 2}}
    event = MetaStudioDriver.parse_callback(compact(body))
    assert event.data == {"scene": "", "sequence_no": "2", "title": ""}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"event_type": "LIVE_PROGRESS", "message": "{}"}',
        b'{"event_type": "REPLY_COMMAND_FINISH"}',
        b'{"event_type": "REPLY_COMMAND_FINISH", "message": "not json"}',
        b'{"event_type": "REPLY_COMMAND_FINISH", "message": "{\\"job_id\\": \\"j\\"}"}',
        b'{"event_type": "SHOOT_SCRIPT_SWITCH", "message": "{\\"shoot_script_sequence_no\\": \\"1\\"}"}',
        b'{"event_type": "RTMP_STREAM_STATE_CHANGE", '
        b'"message": "{\\"job_id\\": \\"j\\", \\"state\\": \\"UP\\"}"}',
    ],
)
def test_a_malformed_callback_is_a_permanent_error(body: bytes) -> None:
    with pytest.raises(PlatformError) as raised:
        MetaStudioDriver.parse_callback(body)
    assert raised.value.permanent and raised.value.code == "malformed"
