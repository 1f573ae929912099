"""The SoftSugar driver against the vendor document, byte for byte, through httpx.MockTransport.

Model instances are built unsaved: the driver only reads them, and the tests need no database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from rooms.models import LiveSession, PlatformAccount, Room, Script
from rooms.platforms import driver_class
from rooms.platforms.base import Capability, LiveState, LiveStatus, PlatformError, RtcInfo
from rooms.platforms.softsugar import SoftSugarDriver

TOKEN = "ss-Token-7f3a"
BASE = "https://aigc.softsugar.com"
API = f"{BASE}/api/2dvh"
OPENING = "商汤科技是一家行业领先的人工智能软件公司。"


def make_account(**overrides: Any) -> PlatformAccount:
    fields: dict[str, Any] = {
        "id": 1,
        "name": "SoftSugar main",
        "kind": PlatformAccount.Kind.SOFTSUGAR,
        # A trailing slash, as people paste it: the driver must not double it.
        "base_url": f"{BASE}/",
        "credentials": {"token": TOKEN},
    }
    return PlatformAccount(**(fields | overrides))


def make_script(**overrides: Any) -> Script:
    fields: dict[str, Any] = {
        "id": 2,
        "name": "Morning show",
        "anchor_name": "小李",
        "face_feature_id": "0325_nina_s3_beauty",
        "anchor_package_url": "https://cdn.example.com/anchors/nina.zip",
        "anchor_x": 10,
        "anchor_y": 60,
        "anchor_scale": 1.0,
        "voice_id": "nina",
        "voice_name": "nina",
        "voice_vendor_id": 3,
        "voice_language": "zh-CN",
        "voice_pitch": 0.0,
        "voice_speed": 1.0,
        "voice_volume": 400,
        "opening_text": OPENING,
        "opening_ssml": False,
        "background_name": "背景",
        "background_type": Script.BackgroundType.IMAGE,
        "background_url": "https://cdn.example.com/bg.png",
        "background_loop": True,
    }
    return Script(**(fields | overrides))


def make_room(account: PlatformAccount | None = None, script: Script | None = None, **overrides: Any) -> Room:
    fields: dict[str, Any] = {
        "id": 3,
        "name": "Room A",
        "account": account or make_account(),
        "script": script or make_script(),
        "live_type": Room.LiveType.LIVE,
        "resolution_width": 1080,
        "resolution_height": 1920,
        "bitrate": 3.5,
    }
    return Room(**(fields | overrides))


def make_session(**overrides: Any) -> LiveSession:
    account = make_account()
    fields: dict[str, Any] = {
        "id": 42,
        "account": account,
        "room": make_room(account),
        "vendor_session_id": "8bfeb2bd58474547a87520643cc2d8df",
        "session_token": "mic-token",
        "state": LiveState.LIVE,
        "rtc_channel_id": "channel-9",
    }
    return LiveSession(**(fields | overrides))


SESSION_ID = "8bfeb2bd58474547a87520643cc2d8df"
SESSION_BODY = f'{{"sessionId":"{SESSION_ID}"}}'.encode()


def answer(data: Any = None, *, code: int = 0, message: str = "success") -> httpx.Response:
    return httpx.Response(200, json={"code": code, "message": message, "data": data})


class FakeVendor:
    """Answers each request with the next canned answer (or raises it), recording what it got."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        next_answer = self.answers.pop(0)
        if isinstance(next_answer, Exception):
            raise next_answer
        return next_answer

    def run(
        self, call: Callable[[SoftSugarDriver], Awaitable[Any]], account: PlatformAccount | None = None
    ) -> Any:
        async def go() -> Any:
            async with httpx.AsyncClient(transport=httpx.MockTransport(self)) as client:
                return await call(SoftSugarDriver(account or make_account(), client))

        return asyncio.run(go())

    @property
    def only_request(self) -> httpx.Request:
        assert len(self.requests) == 1
        return self.requests[0]


def assert_sent(request: httpx.Request, method: str, url: str, body: bytes = b"") -> None:
    assert request.method == method
    assert str(request.url) == url
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == body


# The live script of make_room(), written out as the vendor's request example writes it.
EXPECTED_CREATE_BODY = (
    r'{"param":"{\"version\":\"0.0.2\",\"recycle\":0,\"stream_mode\":true,\"resolution\":[1080,1920],'
    r"\"bit_rate\":3.5,\"live_type\":\"live\",\"sceneList\":[{\"digital_role\":{"
    r"\"face_feature_id\":\"0325_nina_s3_beauty\",\"name\":\"小李\","
    r"\"url\":\"https://cdn.example.com/anchors/nina.zip\",\"position\":{\"x\":10,\"y\":60},"
    r"\"scale\":1.0},\"tts_config\":{\"id\":\"nina\",\"name\":\"nina\",\"vendor_id\":3,"
    r"\"language\":\"zh-CN\",\"pitch_offset\":0.0,\"speed_ratio\":1.0,\"volume\":400},"
    r"\"tts_query\":{\"content\":\"商汤科技是一家行业领先的人工智能软件公司。\",\"ssml\":false},"
    r"\"backgrounds\":[{\"type\":0,\"name\":\"背景\",\"url\":\"https://cdn.example.com/bg.png\","
    r'\"rect\":[0,0,1080,1920],\"cycle\":true,\"start\":0,\"duration\":-1}]}]}",'
    r'"userData":"livedeck-session-42"}'
).encode()

EXPECTED_LIVE_SCRIPT = {
    "version": "0.0.2",
    "recycle": 0,
    "stream_mode": True,
    "resolution": [1080, 1920],
    "bit_rate": 3.5,
    "live_type": "live",
    "sceneList": [
        {
            "digital_role": {
                "face_feature_id": "0325_nina_s3_beauty",
                "name": "小李",
                "url": "https://cdn.example.com/anchors/nina.zip",
                "position": {"x": 10, "y": 60},
                "scale": 1.0,
            },
            "tts_config": {
                "id": "nina",
                "name": "nina",
                "vendor_id": 3,
                "language": "zh-CN",
                "pitch_offset": 0.0,
                "speed_ratio": 1.0,
                "volume": 400,
            },
            "tts_query": {"content": OPENING, "ssml": False},
            "backgrounds": [
                {
                    "type": 0,
                    "name": "背景",
                    "url": "https://cdn.example.com/bg.png",
                    "rect": [0, 0, 1080, 1920],
                    "cycle": True,
                    "start": 0,
                    "duration": -1,
                }
            ],
        }
    ],
}

READY_DATA = {
    "sessionId": SESSION_ID,
    "sessionToken": "mic-token",
    "status": 35,
    "rtcAppId": "app-1",
    "rtcChannelId": "channel-9",
    "rtcUid": "1001",
    "rtcToken": "rtc-token",
}
READY_RTC = RtcInfo(app_id="app-1", channel_id="channel-9", uid="1001", token="rtc-token")


def open_new_session(vendor: FakeVendor, room: Room | None = None) -> Any:
    room = room or make_room()
    session = LiveSession(id=42, account=room.account, room=room, state=LiveState.CREATING)
    return vendor.run(lambda driver: driver.open_session(room, session))


# Driver identity


def test_registry_picks_the_softsugar_driver_for_softsugar_accounts() -> None:
    assert driver_class("softsugar") is SoftSugarDriver


def test_capabilities_add_the_program_monitor_only_on_sandbox_accounts() -> None:
    vendor_driver = SoftSugarDriver(make_account(), httpx.AsyncClient())
    sandbox_driver = SoftSugarDriver(make_account(sandbox=True), httpx.AsyncClient())

    assert vendor_driver.capabilities == {
        Capability.SEPARATE_START,
        Capability.HEARTBEAT,
        Capability.RTC,
        Capability.AUDIENCE_TOKEN,
        Capability.RUNNING_LIST,
        Capability.HISTORY,
        Capability.TAKEOVER_INTERRUPT,
        Capability.TAKEOVER_QUEUE,
        Capability.REORDER,
        Capability.CANCEL_ONE,
        Capability.QUICK_REPLY,
        Capability.QA,
        Capability.MIC,
        Capability.SSML,
        Capability.TAKEOVER_OVERLAYS,
    }
    assert sandbox_driver.capabilities == vendor_driver.capabilities | {Capability.PREVIEW}


# Create a Live Broadcasting Room


def test_open_session_posts_the_escaped_live_script_to_v2_create_with_bearer_token() -> None:
    vendor = FakeVendor(answer(READY_DATA))

    open_new_session(vendor)

    assert_sent(vendor.only_request, "POST", f"{API}/v2/material/live/channel/create", EXPECTED_CREATE_BODY)


def test_open_session_param_decodes_to_the_rooms_live_script() -> None:
    vendor = FakeVendor(answer(READY_DATA))

    open_new_session(vendor)

    body = json.loads(vendor.only_request.content)
    assert set(body) == {"param", "userData"}
    assert json.loads(body["param"]) == EXPECTED_LIVE_SCRIPT
    assert body["userData"] == "livedeck-session-42"


def test_open_session_keeps_chinese_text_unescaped_in_utf8() -> None:
    vendor = FakeVendor(answer(READY_DATA))

    open_new_session(vendor)

    assert OPENING.encode() in vendor.only_request.content
    assert b"\\u" not in vendor.only_request.content


def test_open_session_sends_the_rooms_own_agora_app_when_it_uses_external_rtc() -> None:
    vendor = FakeVendor(answer(READY_DATA))
    room = make_room(
        external_rtc=True,
        rtc_app_id="our-agora-app",
        rtc_token="our-agora-token",
        rtc_uid="4294967295",
        rtc_channel_id="our-channel",
    )

    open_new_session(vendor, room)

    body = json.loads(vendor.only_request.content)
    assert list(body) == [
        "param",
        "urtcUseExternalApp",
        "urtcToken",
        "urtcUid",
        "urtcAppId",
        "urtcChannelId",
        "userData",
    ]
    assert body["urtcUseExternalApp"] is True
    assert body["urtcToken"] == "our-agora-token"
    assert body["urtcUid"] == "4294967295"  # a string, as the document types it
    assert body["urtcAppId"] == "our-agora-app"
    assert body["urtcChannelId"] == "our-channel"
    assert body["userData"] == "livedeck-session-42"
    assert json.loads(body["param"]) == EXPECTED_LIVE_SCRIPT


def test_open_session_leaves_out_optional_parts_the_room_does_not_set() -> None:
    vendor = FakeVendor(answer(READY_DATA))
    script = make_script(background_url="", anchor_name="", opening_ssml=True)
    room = make_room(script=script, live_type=Room.LiveType.INTERACTIVE, resolution_width=720, bitrate=2.0)

    open_new_session(vendor, room)

    body = json.loads(vendor.only_request.content)
    assert "urtcUseExternalApp" not in body
    live_script = json.loads(body["param"])
    scene = live_script["sceneList"][0]
    assert "backgrounds" not in scene
    assert "name" not in scene["digital_role"]
    assert scene["tts_query"] == {"content": OPENING, "ssml": True}
    assert live_script["live_type"] == "interactive"
    assert live_script["resolution"] == [720, 1920]
    assert live_script["bit_rate"] == 2.0


def test_open_session_sends_a_looping_video_background_on_the_vendors_canvas() -> None:
    vendor = FakeVendor(answer(READY_DATA))
    script = make_script(
        background_type=Script.BackgroundType.VIDEO, background_loop=False, background_name=""
    )
    room = make_room(script=script, resolution_width=1920, resolution_height=1080)

    open_new_session(vendor, room)

    background = json.loads(json.loads(vendor.only_request.content)["param"])["sceneList"][0]["backgrounds"]
    assert background == [
        {
            "type": 1,
            "name": "Background",
            "url": "https://cdn.example.com/bg.png",
            "rect": [0, 0, 1080, 1920],
            "cycle": False,
            "start": 0,
            "duration": -1,
        }
    ]


def test_open_session_returns_ids_ready_state_and_rtc_when_the_stream_is_ready() -> None:
    info = open_new_session(FakeVendor(answer(READY_DATA)))

    assert info.vendor_session_id == SESSION_ID
    assert info.session_token == "mic-token"
    assert info.status == LiveStatus(
        state=LiveState.READY, vendor_code="35", rtc=READY_RTC, session_token="mic-token"
    )


def test_open_session_comes_back_creating_without_rtc_while_the_vendor_initialises() -> None:
    data = {"sessionId": SESSION_ID, "sessionToken": "mic-token", "status": 32, "someNewField": 1}

    info = open_new_session(FakeVendor(answer(data)))

    assert info.status == LiveStatus(state=LiveState.CREATING, vendor_code="32", session_token="mic-token")


@pytest.mark.parametrize(
    ("code", "state", "reason"),
    [
        (9, LiveState.FAILED, "The vendor reported an exception"),
        (97, LiveState.NO_CAPACITY, "The platform has no free channel"),
        (98, LiveState.NO_CAPACITY, "Your account has no free channel"),
    ],
)
def test_open_session_reports_why_the_vendor_could_not_open_the_room(
    code: int, state: LiveState, reason: str
) -> None:
    info = open_new_session(FakeVendor(answer({"sessionId": SESSION_ID, "sessionToken": "", "status": code})))

    assert info.status == LiveStatus(state=state, vendor_code=str(code), reason=reason)


def test_open_session_accepts_a_numeric_rtc_uid() -> None:
    info = open_new_session(FakeVendor(answer(READY_DATA | {"rtcUid": 1001})))

    assert info.status.rtc == READY_RTC


def test_open_session_without_a_session_id_in_the_answer_is_a_transient_error() -> None:
    with pytest.raises(PlatformError) as caught:
        open_new_session(FakeVendor(answer({"status": 35})))

    assert caught.value.permanent is False
    assert caught.value.code == "malformed"


# Start Live Stream, Live Stream Status Monitoring, Close Live Broadcast


def test_start_posts_the_session_id_to_v1_start() -> None:
    vendor = FakeVendor(answer(True))

    assert vendor.run(lambda driver: driver.start(make_session())) is None

    assert_sent(vendor.only_request, "POST", f"{API}/v1/material/live/channel/start", SESSION_BODY)


def test_start_that_the_vendor_answers_false_is_a_transient_error() -> None:
    with pytest.raises(PlatformError) as caught:
        FakeVendor(answer(False)).run(lambda driver: driver.start(make_session()))

    assert caught.value.permanent is False
    assert caught.value.message == "The vendor did not start the live"


def test_heartbeat_sends_session_id_with_bearer_token() -> None:
    vendor = FakeVendor(httpx.Response(200, json={"code": 0, "message": "success"}))

    assert vendor.run(lambda driver: driver.heartbeat(make_session())) is None

    assert_sent(vendor.only_request, "POST", f"{API}/v1/material/live/channel/heartbeat", SESSION_BODY)


def test_close_posts_the_session_id_to_v1_close() -> None:
    vendor = FakeVendor(answer(True))

    assert vendor.run(lambda driver: driver.close(make_session())) is None

    assert_sent(vendor.only_request, "POST", f"{API}/v1/material/live/channel/close", SESSION_BODY)


def test_close_that_the_vendor_answers_false_is_retried_because_the_session_still_bills() -> None:
    with pytest.raises(PlatformError) as caught:
        FakeVendor(answer(False)).run(lambda driver: driver.close(make_session()))

    assert caught.value.permanent is False


def test_calls_for_a_session_without_vendor_id_fail_before_reaching_the_vendor() -> None:
    vendor = FakeVendor()

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.heartbeat(make_session(vendor_session_id="")))

    assert caught.value.permanent is True
    assert vendor.requests == []


def test_calls_from_an_account_without_token_fail_before_reaching_the_vendor() -> None:
    vendor = FakeVendor()

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.running(), account=make_account(credentials={}))

    assert caught.value.permanent is True
    assert vendor.requests == []


# Query Session Status


def test_status_gets_stat_with_the_session_id_in_the_query() -> None:
    vendor = FakeVendor(answer(READY_DATA | {"status": 2}))

    status = vendor.run(lambda driver: driver.status(make_session()))

    assert_sent(vendor.only_request, "GET", f"{API}/v1/material/live/channel/stat?sessionId={SESSION_ID}")
    assert status == LiveStatus(
        state=LiveState.LIVE, vendor_code="2", rtc=READY_RTC, session_token="mic-token"
    )


@pytest.mark.parametrize(
    ("code", "state", "reason"),
    [
        (32, LiveState.CREATING, ""),
        (35, LiveState.READY, ""),
        (2, LiveState.LIVE, ""),
        (5, LiveState.ENDED, ""),
        (50, LiveState.DROPPED, "Closed by the vendor: heartbeat lost or link broken"),
        (9, LiveState.FAILED, "The vendor reported an exception"),
        (99, LiveState.FAILED, "Initialization failed"),
        (97, LiveState.NO_CAPACITY, "The platform has no free channel"),
        (98, LiveState.NO_CAPACITY, "Your account has no free channel"),
    ],
)
def test_status_maps_every_vendor_code_onto_one_state_and_keeps_the_code(
    code: int, state: LiveState, reason: str
) -> None:
    status = FakeVendor(answer({"status": code})).run(lambda driver: driver.status(make_session()))

    assert status == LiveStatus(state=state, vendor_code=str(code), reason=reason)


def test_status_with_a_code_the_document_does_not_list_is_a_transient_error() -> None:
    with pytest.raises(PlatformError) as caught:
        FakeVendor(answer({"status": 42})).run(lambda driver: driver.status(make_session()))

    assert caught.value.permanent is False
    assert "unknown session status 42" in caught.value.message


# Query Ongoing Session List, Query History Session List


def test_running_gets_the_list_without_a_body() -> None:
    vendor = FakeVendor(answer([{"sessionId": "a", "status": 2}, {"sessionId": "b", "status": 32}]))

    sessions = vendor.run(lambda driver: driver.running())

    assert_sent(vendor.only_request, "GET", f"{API}/v1/material/live/channel/running/list")
    assert [(s.vendor_session_id, s.status.state, s.status.vendor_code) for s in sessions] == [
        ("a", LiveState.LIVE, "2"),
        ("b", LiveState.CREATING, "32"),
    ]


def test_running_with_no_data_is_an_empty_list() -> None:
    assert FakeVendor(answer(None)).run(lambda driver: driver.running()) == []


def test_history_posts_page_and_size_and_reads_the_pagination() -> None:
    data = {
        "pagination": {"pageNo": 2, "numberPages": 3, "numberRecords": 25, "pageSize": 10, "startIndex": 10},
        "result": [
            {
                "sessionId": "a",
                "startTime": "2023-02-17 16:53:26",
                "endTime": "2023-02-18 10:03:21",
                "status": 5,
            },
            {
                "sessionId": "b",
                "startTime": "2023-02-17 16:56:26",
                "endTime": "2023-02-17 17:43:19",
                "status": 9,
            },
        ],
    }
    vendor = FakeVendor(answer(data))

    page = vendor.run(lambda driver: driver.history(page=2, page_size=10))

    assert_sent(
        vendor.only_request,
        "POST",
        f"{API}/v1/material/live/channel/history/list",
        b'{"pageNo":2,"pageSize":10}',
    )
    assert (page.page, page.pages, page.total) == (2, 3, 25)
    assert [(e.vendor_session_id, e.status.state, e.started, e.ended) for e in page.entries] == [
        ("a", LiveState.ENDED, "2023-02-17 16:53:26", "2023-02-18 10:03:21"),
        ("b", LiveState.FAILED, "2023-02-17 16:56:26", "2023-02-17 17:43:19"),
    ]


# Get RTC Token


def test_audience_token_posts_the_session_and_its_rtc_channel() -> None:
    vendor = FakeVendor(answer("007eJxTYGD8ItJX2zMjMu2BfJybs"))

    token = vendor.run(lambda driver: driver.audience_token(make_session()))

    assert token == "007eJxTYGD8ItJX2zMjMu2BfJybs"
    assert_sent(
        vendor.only_request,
        "POST",
        f"{API}/v1/material/rtc/token/audience",
        f'{{"sessionId":"{SESSION_ID}","rtcChannelId":"channel-9"}}'.encode(),
    )


def test_audience_token_for_a_session_without_rtc_channel_is_refused_before_calling() -> None:
    vendor = FakeVendor()

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.audience_token(make_session(rtc_channel_id="")))

    assert caught.value.permanent is True
    assert vendor.requests == []


def test_audience_token_missing_from_the_answer_is_a_transient_error() -> None:
    with pytest.raises(PlatformError) as caught:
        FakeVendor(answer(None)).run(lambda driver: driver.audience_token(make_session()))

    assert caught.value.permanent is False


# The sandbox's program monitor


def test_preview_reads_the_sandbox_monitor_with_the_same_token() -> None:
    monitor = {
        "status": 2,
        "anchor": "小李",
        "background": "背景",
        "backgroundUrl": "https://cdn.example.com/bg.png",
        "subtitle": "Welcome to the show",
        "playing": "trace-7",
    }
    vendor = FakeVendor(httpx.Response(200, json=monitor))

    preview = vendor.run(lambda driver: driver.preview(make_session()), account=make_account(sandbox=True))

    assert_sent(vendor.only_request, "GET", f"{BASE}/_sandbox/softsugar/sessions/{SESSION_ID}/monitor")
    assert preview.state == "live"
    assert (preview.anchor, preview.background, preview.background_url, preview.subtitle) == (
        "小李",
        "背景",
        "https://cdn.example.com/bg.png",
        "Welcome to the show",
    )
    assert preview.extra == {"playing": "trace-7"}


def test_preview_of_an_idle_avatar_plays_nothing() -> None:
    vendor = FakeVendor(httpx.Response(200, json={"status": 35, "playing": None}))

    preview = vendor.run(lambda driver: driver.preview(make_session()), account=make_account(sandbox=True))

    assert preview.state == "ready"
    assert preview.extra == {"playing": ""}


def test_preview_is_refused_on_vendor_accounts() -> None:
    vendor = FakeVendor()

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.preview(make_session()))

    assert caught.value.permanent is True
    assert vendor.requests == []


# Errors, classified in one place


def heartbeat_error(*answers: httpx.Response | Exception) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        FakeVendor(*answers).run(lambda driver: driver.heartbeat(make_session()))
    return caught.value


def test_a_timeout_is_transient() -> None:
    error = heartbeat_error(httpx.ReadTimeout("read timed out"))

    assert (error.permanent, error.code, error.message) == (
        False,
        "timeout",
        "SoftSugar did not answer in time",
    )


def test_a_connection_failure_is_transient() -> None:
    error = heartbeat_error(httpx.ConnectError("connection refused"))

    assert (error.permanent, error.code) == (False, "network")
    assert error.message == "Could not reach SoftSugar (ConnectError)"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_vendor_server_error_is_transient(status: int) -> None:
    error = heartbeat_error(httpx.Response(status, text="Service Unavailable"))

    assert (error.permanent, error.code) == (False, str(status))
    assert error.message == f"The vendor had a server error (HTTP {status})"


def test_rate_limiting_is_transient() -> None:
    error = heartbeat_error(httpx.Response(429))

    assert (error.permanent, error.code) == (False, "429")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_permanent(status: int) -> None:
    error = heartbeat_error(httpx.Response(status, json={"code": status, "message": "invalid token"}))

    assert (error.permanent, error.code) == (True, str(status))
    assert error.message == "The vendor refused the account's token"


@pytest.mark.parametrize("status", [400, 404, 405])
def test_other_client_errors_are_permanent(status: int) -> None:
    error = heartbeat_error(httpx.Response(status))

    assert (error.permanent, error.code) == (True, str(status))
    assert error.message == f"The vendor rejected the request (HTTP {status})"


def test_a_non_zero_code_is_permanent_with_the_vendors_message() -> None:
    error = heartbeat_error(answer(code=10002, message="session not found"))

    assert (error.permanent, error.code, error.message) == (True, "10002", "session not found")
    assert str(error) == "session not found (10002)"


def test_a_non_zero_code_without_message_still_reads_well() -> None:
    error = heartbeat_error(httpx.Response(200, json={"code": 500, "message": None}))

    assert (error.permanent, error.code) == (True, "500")
    assert error.message == "The vendor refused the request without saying why"


def test_a_non_zero_code_wins_over_missing_data() -> None:
    with pytest.raises(PlatformError) as caught:
        FakeVendor(answer(code=3001, message="No free channel")).run(
            lambda driver: driver.status(make_session())
        )

    assert (caught.value.permanent, caught.value.code, caught.value.message) == (
        True,
        "3001",
        "No free channel",
    )


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>502 Bad Gateway</html>"),
        httpx.Response(200, content=b'{"code": 0, "mess'),
        httpx.Response(200, content=b"\xff\xfe not utf-8"),
        httpx.Response(200, json={"message": "no code"}),
        httpx.Response(200, json=[1, 2, 3]),
        httpx.Response(200, json={"code": "zero"}),
    ],
    ids=["html", "cut-off", "not-utf8", "no-code", "not-an-object", "code-not-a-number"],
)
def test_a_body_that_is_not_the_documented_json_is_transient(response: httpx.Response) -> None:
    error = heartbeat_error(response)

    assert (error.permanent, error.code) == (False, "malformed")


# Live Streaming Status Callback Parameters


def parse(body: dict[str, Any] | bytes) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return SoftSugarDriver.parse_callback(raw)


def test_a_ready_callback_carries_the_state_rtc_and_user_data() -> None:
    event = parse(
        {
            "sessionId": SESSION_ID,
            "rtcAppId": "app-1",
            "rtcChannelId": "channel-9",
            "rtcUid": "1001",
            "rtcToken": "rtc-token",
            "status": 35,
            "userData": "livedeck-session-42",
        }
    )

    assert event.vendor_session_id == SESSION_ID
    assert event.status == LiveStatus(state=LiveState.READY, vendor_code="35", rtc=READY_RTC)
    assert event.user_data == "livedeck-session-42"
    assert (event.command_trace_id, event.command_code) == ("", "")


@pytest.mark.parametrize(
    ("code", "state", "reason"),
    [
        (5, LiveState.ENDED, ""),
        (50, LiveState.DROPPED, "Closed by the vendor: heartbeat lost or link broken"),
        (9, LiveState.FAILED, "The vendor reported an exception"),
        (99, LiveState.FAILED, "Initialization failed"),
    ],
)
def test_a_session_callback_maps_its_status(code: int, state: LiveState, reason: str) -> None:
    event = parse({"sessionId": SESSION_ID, "status": code, "userData": "livedeck-session-42"})

    assert event.status == LiveStatus(state=state, vendor_code=str(code), reason=reason)
    assert event.command_trace_id == ""


def test_a_failure_callback_adds_the_vendors_task_result_to_the_reason() -> None:
    event = parse({"sessionId": SESSION_ID, "status": 99, "taskResult": "anchor package not found"})

    assert event.status.reason == "Initialization failed: anchor package not found"
    assert event.detail == "anchor package not found"


@pytest.mark.parametrize("code", [34, 36, 37, 39])
def test_a_takeover_callback_has_no_session_status_but_the_trace_and_code(code: int) -> None:
    event = parse(
        {
            "sessionId": SESSION_ID,
            "status": code,
            "commandTraceId": "trace-7",
            "commandFinishTime": "2024-09-25 15:07:44",
            "taskResult": "",
            "userData": "livedeck-session-42",
        }
    )

    assert event.status is None
    assert (event.vendor_session_id, event.command_trace_id, event.command_code) == (
        SESSION_ID,
        "trace-7",
        str(code),
    )
    assert event.user_data == "livedeck-session-42"


def test_a_takeover_exception_callback_keeps_the_vendors_error() -> None:
    event = parse(
        {"sessionId": SESSION_ID, "status": 39, "commandTraceId": "trace-7", "taskResult": "TTS failed"}
    )

    assert event.detail == "TTS failed"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[]",
        b'{"status": 35}',
        b'{"sessionId": "", "status": 35}',
        b'{"sessionId": "abc"}',
        b'{"sessionId": "abc", "status": "ready"}',
        b'{"sessionId": "abc", "status": 42}',
        b'{"sessionId": "abc", "status": 37}',
    ],
    ids=[
        "not-json",
        "empty",
        "not-an-object",
        "no-session-id",
        "empty-session-id",
        "no-status",
        "status-not-a-number",
        "unknown-status",
        "takeover-without-trace-id",
    ],
)
def test_a_malformed_callback_is_a_permanent_error(body: bytes) -> None:
    with pytest.raises(PlatformError) as caught:
        parse(body)

    assert caught.value.permanent is True
    assert caught.value.code == "malformed"
