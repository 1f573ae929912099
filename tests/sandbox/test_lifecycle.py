"""Session lifecycle of the SoftSugar sandbox: create, heartbeat, start, close, queries, callbacks."""

from __future__ import annotations

import copy
import json
import re
import time
from typing import Any

import httpx
import pytest

from .conftest import CHANNEL, CREATE, PRELOADED_TOKEN, CallbackReceiver, Vendor, live_script, wait_until

TIME_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nobody"},
        {"Authorization": PRELOADED_TOKEN},
        {"Authorization": "Basic abc"},
    ],
)
def test_calls_without_a_known_bearer_token_are_401(sandbox_url: str, headers: dict[str, str]) -> None:
    response = httpx.post(f"{sandbox_url}{CHANNEL}/heartbeat", json={"sessionId": "x"}, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"code": 401, "message": "Unauthorized: invalid token", "data": None}


def test_accounts_file_provisions_softsugar_accounts_only(control: httpx.Client) -> None:
    accounts = {account["token"]: account for account in control.get("/_sandbox/softsugar/accounts").json()}
    assert accounts[PRELOADED_TOKEN]["maxSessions"] == 3
    assert "ignored-for-now" not in accounts


def test_create_with_delay_answers_32_then_calls_back_35(
    control: httpx.Client, vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    control.put("/_sandbox/config", json={"create_delay": 0.3})
    answer = vendor_with_callbacks.create(userData="room-7")
    data = answer["data"]
    assert answer["code"] == 0 and data["status"] == 32
    assert set(data) == {"sessionId", "sessionToken", "status"}
    call = receiver.wait_for(data["sessionId"], 35)
    assert set(call) == {"sessionId", "status", "rtcAppId", "rtcChannelId", "rtcUid", "rtcToken", "userData"}
    assert call["userData"] == "room-7"
    assert call["rtcUid"].isdigit() and int(call["rtcUid"]) <= 4_294_967_295
    assert receiver.content_types[0].startswith("application/json")
    stat = vendor_with_callbacks.http.get(f"{CHANNEL}/stat", params={"sessionId": data["sessionId"]}).json()
    assert stat["data"]["status"] == 35 and stat["data"]["rtcChannelId"] == call["rtcChannelId"]


def test_create_without_delay_answers_35_with_rtc_fields(vendor: Vendor) -> None:
    data = vendor.create()["data"]
    assert data["status"] == 35
    assert {"rtcAppId", "rtcChannelId", "rtcUid", "rtcToken"} <= set(data)
    assert len(data["rtcChannelId"]) <= 64


def test_callbacks_are_retried_after_a_failure(
    vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    receiver.fail_next = 1
    session_id = vendor_with_callbacks.create()["data"]["sessionId"]
    assert receiver.wait_for(session_id, 35)


def _scene(script: dict[str, Any]) -> dict[str, Any]:
    return script["sceneList"][0]  # type: ignore[no-any-return]


def _break(path: str, value: Any) -> dict[str, Any]:
    """The example script with ``path`` (dotted, ``scene`` = first scene) set to ``value`` or removed."""
    script = copy.deepcopy(live_script())
    *parents, leaf = path.split(".")
    target: Any = script
    for part in parents:
        target = _scene(target) if part == "scene" else target[part]
    if value is _REMOVE:
        del target[leaf]
    else:
        target[leaf] = value
    return script


_REMOVE = object()


@pytest.mark.parametrize(
    ("path", "value", "mentions"),
    [
        ("version", _REMOVE, "version"),
        ("recycle", -1, "recycle"),
        ("recycle", "0", "recycle"),
        ("stream_mode", _REMOVE, "stream_mode"),
        ("sceneList", [], "sceneList"),
        ("scene.digital_role", _REMOVE, "digital_role"),
        ("scene.digital_role.face_feature_id", _REMOVE, "face_feature_id"),
        ("scene.digital_role.url", _REMOVE, "url"),
        ("scene.tts_config.id", _REMOVE, "tts_config"),
        ("scene.tts_config.name", _REMOVE, "name"),
        ("scene.tts_config.vendor_id", _REMOVE, "tts_config"),
        ("scene.tts_config.language", _REMOVE, "language"),
        ("scene.tts_config.pitch_offset", 60.5, "pitch_offset"),
        ("scene.tts_config.pitch_offset", -61, "pitch_offset"),
        ("scene.tts_config.speed_ratio", 0.4, "speed_ratio"),
        ("scene.tts_config.speed_ratio", 2.1, "speed_ratio"),
        ("scene.tts_config.volume", 0, "volume"),
        ("scene.tts_config.volume", 401, "volume"),
        ("scene.tts_query", {"content": "太短了"}, "content"),
        ("resolution", [1920, 1920], "resolution"),
        ("resolution", [9, 100], "resolution"),
        ("resolution", [1080], "resolution"),
        ("bit_rate", 0, "bit_rate"),
        ("bit_rate", 7.5, "bit_rate"),
        ("live_type", "party", "live_type"),
    ],
)
def test_create_refuses_an_invalid_live_script(vendor: Vendor, path: str, value: Any, mentions: str) -> None:
    answer = vendor.create(_break(path, value))
    assert answer["code"] == 400, answer
    assert mentions in answer["message"]


def test_create_accepts_the_limits_of_each_range(vendor: Vendor) -> None:
    script = live_script(resolution=[1080, 1920], bit_rate=7, live_type="interactive")
    _scene(script)["tts_config"].update(pitch_offset=-60, speed_ratio=2, volume=1)
    assert vendor.create(script)["data"]["status"] == 35
    tiny = live_script(resolution=[10, 10], bit_rate=0.1)
    _scene(tiny)["tts_config"].update(pitch_offset=60, speed_ratio=0.5, volume=400)
    assert vendor.create(tiny)["data"]["status"] == 35


def test_create_refuses_a_param_that_is_not_json(vendor: Vendor) -> None:
    answer = vendor.post(CREATE, {"param": "{not json"})
    assert answer["code"] == 400 and "param" in answer["message"]
    assert vendor.post(CREATE, {})["code"] == 400


@pytest.mark.parametrize(
    ("change", "mentions"),
    [
        ({"urtcToken": None}, "urtcToken"),
        ({"urtcUid": "12a"}, "urtcUid"),
        ({"urtcUid": "4294967296"}, "urtcUid"),
        ({"urtcUid": 42}, "urtcUid"),
        ({"urtcChannelId": "c" * 65}, "urtcChannelId"),
        ({"urtcAppId": ""}, "urtcAppId"),
    ],
)
def test_external_rtc_app_needs_valid_fields(vendor: Vendor, change: dict[str, Any], mentions: str) -> None:
    extra: dict[str, Any] = {
        "urtcUseExternalApp": True,
        "urtcToken": "tok",
        "urtcUid": "4294967295",
        "urtcAppId": "app",
        "urtcChannelId": "c" * 64,
    }
    extra.update(change)
    extra = {key: value for key, value in extra.items() if value is not None}
    answer = vendor.create(**extra)
    assert answer["code"] == 400 and mentions in answer["message"], answer


def test_external_rtc_app_is_returned_as_given(vendor: Vendor) -> None:
    extra: dict[str, Any] = {
        "urtcUseExternalApp": True,
        "urtcToken": "t",
        "urtcUid": "7",
        "urtcAppId": "a",
        "urtcChannelId": "c",
    }
    data = vendor.create(**extra)["data"]
    assert (data["rtcToken"], data["rtcUid"], data["rtcAppId"], data["rtcChannelId"]) == ("t", "7", "a", "c")


def test_an_account_over_its_max_sessions_gets_98(sandbox_url: str, fast: httpx.Client) -> None:
    small = Vendor(sandbox_url, fast, max_sessions=1)
    assert small.create()["data"]["status"] == 35
    refused = small.create()["data"]
    assert refused["status"] == 98
    history = small.channel("history/list", status=98)["data"]
    assert [row["sessionId"] for row in history["result"]] == [refused["sessionId"]]
    small.close()


def test_the_platform_over_capacity_gives_97(fast: httpx.Client, vendor: Vendor) -> None:
    fast.put("/_sandbox/config", json={"capacity": 1})
    assert vendor.create()["data"]["status"] == 35
    assert vendor.create()["data"]["status"] == 97


def test_heartbeats_are_recorded_with_their_gaps(vendor: Vendor) -> None:
    session_id = vendor.open_session()
    for _ in range(3):
        assert vendor.channel("heartbeat", sessionId=session_id) == {
            "code": 0,
            "message": "success",
            "data": None,
        }
        time.sleep(0.05)
    state = vendor.inspect(session_id)
    assert state["heartbeats"] == 3 and len(state["heartbeatTimes"]) == 3
    assert 0.04 <= state["maxHeartbeatGap"] < 2
    gaps = vendor.control.get("/_sandbox/softsugar/heartbeat-gaps").json()
    assert gaps[session_id] == {"count": 3, "maxGap": state["maxHeartbeatGap"]}


def test_a_session_without_heartbeat_closes_as_50_with_a_callback(
    fast: httpx.Client, vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    fast.put("/_sandbox/config", json={"heartbeat_threshold": 1.0})
    kept = vendor_with_callbacks.open_session()
    lost = vendor_with_callbacks.open_session()
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        vendor_with_callbacks.channel("heartbeat", sessionId=kept)
        time.sleep(0.15)
    call = receiver.wait_for(lost, 50)
    assert "heartbeat" in call["taskResult"]
    assert vendor_with_callbacks.inspect(kept)["status"] == 2
    answer = vendor_with_callbacks.channel("heartbeat", sessionId=lost)
    assert answer["code"] == 409


def test_start_needs_status_35(control: httpx.Client, vendor: Vendor) -> None:
    control.put("/_sandbox/config", json={"create_delay": 0.3})
    session_id = vendor.create()["data"]["sessionId"]
    assert vendor.channel("start", sessionId=session_id)["code"] == 409
    wait_until(lambda: vendor.inspect(session_id)["status"] == 35)
    assert vendor.channel("start", sessionId=session_id) == {"code": 0, "message": "success", "data": True}
    assert vendor.channel("start", sessionId=session_id)["code"] == 409


def test_close_answers_true_and_calls_back_5(
    vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    session_id = vendor_with_callbacks.open_session()
    assert vendor_with_callbacks.channel("close", sessionId=session_id)["data"] is True
    assert receiver.wait_for(session_id, 5) == {"sessionId": session_id, "status": 5}
    assert vendor_with_callbacks.channel("close", sessionId=session_id)["code"] == 409
    stat = vendor_with_callbacks.http.get(f"{CHANNEL}/stat", params={"sessionId": session_id}).json()["data"]
    assert stat["status"] == 5 and "rtcToken" not in stat


def test_kill_closes_as_50_with_a_callback(vendor_with_callbacks: Vendor, receiver: CallbackReceiver) -> None:
    session_id = vendor_with_callbacks.open_session()
    assert vendor_with_callbacks.control.post(f"/_sandbox/softsugar/sessions/{session_id}/kill").json()["ok"]
    assert receiver.wait_for(session_id, 50)["taskResult"] == "session killed"
    assert (
        vendor_with_callbacks.control.post(f"/_sandbox/softsugar/sessions/{session_id}/kill").status_code
        == 409
    )


def test_callbacks_of_a_session_arrive_in_order(
    vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    session_id = vendor_with_callbacks.open_session()
    vendor_with_callbacks.channel("close", sessionId=session_id)
    wait_until(lambda: len(receiver.of(session_id)) == 2)
    assert receiver.statuses(session_id) == [35, 5]


def test_sessions_are_private_to_their_account(sandbox_url: str, fast: httpx.Client, vendor: Vendor) -> None:
    session_id = vendor.open_session()
    other = Vendor(sandbox_url, fast)
    for action in ("heartbeat", "start", "close", "command/queue/list"):
        answer = other.channel(action, sessionId=session_id)
        assert answer["code"] == 404 and session_id in answer["message"]
    assert other.http.get(f"{CHANNEL}/stat", params={"sessionId": session_id}).json()["code"] == 404
    assert other.channel("history/list")["data"]["result"] == []
    assert other.http.get(f"{CHANNEL}/running/list").json()["data"] == []
    other.close()


def test_unknown_session_and_missing_session_id(vendor: Vendor) -> None:
    assert vendor.channel("heartbeat", sessionId="nope")["code"] == 404
    assert vendor.channel("heartbeat")["code"] == 400
    assert vendor.http.get(f"{CHANNEL}/stat").json()["code"] == 400


def test_posts_must_be_json(vendor: Vendor) -> None:
    response = vendor.http.post(f"{CHANNEL}/heartbeat", content=b"sessionId=x")
    assert response.json()["code"] == 400 and "Content-Type" in response.json()["message"]


def test_unknown_paths_and_methods(vendor: Vendor) -> None:
    assert vendor.http.get("/api/2dvh/v1/nothing").status_code == 404
    assert vendor.http.get(f"{CHANNEL}/heartbeat").status_code == 405


def test_running_list_shows_open_sessions_only(vendor: Vendor) -> None:
    live = vendor.open_session()
    ready = vendor.open_session(live=False)
    closed = vendor.open_session()
    vendor.channel("close", sessionId=closed)
    running = vendor.http.get(f"{CHANNEL}/running/list").json()["data"]
    assert running == [{"sessionId": live, "status": 2}, {"sessionId": ready, "status": 35}]


def test_history_pages_filters_and_sorts(vendor: Vendor) -> None:
    ids = []
    for _ in range(3):
        session_id = vendor.open_session()
        ids.append(session_id)
    for session_id in reversed(ids):
        vendor.channel("close", sessionId=session_id)
    vendor.control.post(f"/_sandbox/softsugar/sessions/{vendor.open_session()}/kill")
    page = vendor.channel(
        "history/list", pageNo=1, pageSize=2, status=5, sortName="startTime", sortValue="asc"
    )
    data = page["data"]
    assert data["pagination"] == {
        "pageNo": 1,
        "numberPages": 2,
        "numberRecords": 3,
        "pageSize": 2,
        "startIndex": 0,
    }
    assert [row["sessionId"] for row in data["result"]] == ids[:2]
    row = data["result"][0]
    assert set(row) == {"sessionId", "startTime", "endTime", "status"}
    assert TIME_FORMAT.match(row["startTime"]) and TIME_FORMAT.match(row["endTime"])
    second = vendor.channel(
        "history/list", pageNo=2, pageSize=2, status=5, sortName="startTime", sortValue="asc"
    )
    assert [row["sessionId"] for row in second["data"]["result"]] == ids[2:]
    by_end = vendor.channel("history/list", status=5, sortName="endTime", sortValue="desc")["data"]["result"]
    assert by_end[0]["sessionId"] == ids[0]
    assert vendor.channel("history/list")["data"]["pagination"]["numberRecords"] == 4
    one = vendor.channel("history/list", sessionId=ids[1])["data"]["result"]
    assert [row["sessionId"] for row in one] == [ids[1]]
    assert vendor.channel("history/list", sortName="name")["code"] == 400
    assert vendor.channel("history/list", pageNo=0)["code"] == 400


def test_audience_rtc_token_needs_the_matching_channel(vendor: Vendor) -> None:
    data = vendor.create()["data"]
    path = "/api/2dvh/v1/material/rtc/token/audience"
    answer = vendor.post(path, {"sessionId": data["sessionId"], "rtcChannelId": data["rtcChannelId"]})
    assert answer["code"] == 0 and isinstance(answer["data"], str) and answer["data"]
    assert vendor.post(path, {"sessionId": data["sessionId"], "rtcChannelId": "other"})["code"] == 400
    assert vendor.post(path, {"sessionId": data["sessionId"]})["code"] == 400


def test_create_param_must_be_a_string(vendor: Vendor) -> None:
    answer = vendor.post(CREATE, {"param": live_script()})
    assert answer["code"] == 400 and "param" in answer["message"]


def test_user_data_comes_back_in_the_close_callback(
    vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    session_id = vendor_with_callbacks.create(userData=json.dumps({"room": 1}))["data"]["sessionId"]
    vendor_with_callbacks.channel("close", sessionId=session_id)
    assert receiver.wait_for(session_id, 5)["userData"] == '{"room": 1}'
