"""MetaStudio sandbox: live jobs (start, states, stop, lists), paragraphs on air, RTMP links, exits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from .conftest import wait_until
from .test_metastudio_support import (
    PROJECT,
    MetaStudioApi,
    Receiver,
    callback_config,
    long_room,
    monitor,
    paragraph,
    room_body,
    scene,
    wait_for_state,
)

# More than a second at 0.05 s a character: the monitor is sure to see it.
LONG_SENTENCE = "第一句话说得很长很长很长很长很长很长很长很长很长很长。"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    yield recv
    recv.close()


def test_a_job_waits_then_processes(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"create_delay": 0.3})
    room_id = api.create_room()
    answer = api.start(room_id)
    assert set(answer) >= {
        "job_id",
        "rtc_room_info",
        "live_event_report_url",
        "live_warning_info",
        "limit_duration",
    }
    job_id = answer["job_id"]
    rtc = answer["rtc_room_info"]
    assert rtc["app_id"] and rtc["room_id"]
    assert [user["user_type"] for user in rtc["users"]] == ["PLAYER"]
    assert {"user_id", "signature", "ctime"} <= set(rtc["users"][0]) and rtc["users"][0][
        "ctime"
    ] > time.time()
    report = urlsplit(answer["live_event_report_url"])
    assert report.netloc == urlsplit(api.http.base_url.__str__()).netloc
    assert (
        report.path == f"/v1/{PROJECT}/smart-live-rooms/{room_id}/smart-live-jobs/{job_id}/live-event-report"
    )
    assert {"auth_key", "expires_time"} <= dict(parse_qsl(report.query)).keys()
    assert answer["limit_duration"] == 0
    assert {"warning_type": "TOO_LESS_DANMAKU_RULES"} in answer["live_warning_info"]
    shown = api.job(room_id, job_id)
    assert shown["state"] == "WAITING" and shown["start_time"] is None and shown["duration"] == 0
    assert shown["room_name"] == room_body()["room_name"]
    processing = wait_until(lambda: (job := api.job(room_id, job_id))["state"] == "PROCESSING" and job)
    assert processing["start_time"].endswith("Z")
    assert processing["rtc_room_info"] == rtc


def test_a_capture_client_gets_its_own_rtc_user(api: MetaStudioApi) -> None:
    room_id = api.create_room(room_body(play_policy={"need_independent_capture_client": True}))
    users = api.start(room_id)["rtc_room_info"]["users"]
    assert [user["user_type"] for user in users] == ["CAPTURE", "PLAYER"]


def test_one_running_job_per_room(api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    path = f"/smart-live-rooms/{room_id}/smart-live-jobs"
    refused = api.call("POST", path, {}, expect=400)
    assert refused["error_code"] == "MSS.00000003" and job_id in refused["error_msg"]
    second = api.start(room_id, {"job_run_config": {"single_job_in_room": False}})["job_id"]
    assert second != job_id
    api.stop(room_id, job_id)
    api.stop(room_id, second)
    assert api.start(room_id)["job_id"]


def test_stop_ends_the_job_succeed(api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    time.sleep(0.2)
    assert api.stop(room_id, job_id) == {}
    job = api.job(room_id, job_id)
    assert job["state"] == "SUCCEED" and job["end_time"].endswith("Z") and job["duration"] >= 0.2
    answer = api.stop(room_id, job_id, expect=400)
    assert "already ended" in answer["error_msg"]
    time.sleep(0.2)
    assert api.job(room_id, job_id)["duration"] == job["duration"]


def test_a_waiting_job_can_be_stopped(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"create_delay": 5})
    room_id = api.create_room()
    job_id = api.start(room_id)["job_id"]
    api.stop(room_id, job_id)
    assert api.job(room_id, job_id)["state"] == "SUCCEED"


def test_unknown_rooms_and_jobs_are_404(api: MetaStudioApi) -> None:
    room_id = api.create_room()
    assert (
        api.call("GET", "/smart-live-rooms/nope/smart-live-jobs/x", expect=404)["error_code"]
        == "MSS.00000003"
    )
    assert (
        "not found"
        in api.call("GET", f"/smart-live-rooms/{room_id}/smart-live-jobs/x", expect=404)["error_msg"]
    )


def test_a_start_body_is_validated_and_overrides_the_room(
    control: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    room_id = api.create_room(
        long_room(output_urls=["rtmp://room.example.com/live"], stream_keys=["room-key"])
    )
    bad = api.call(
        "POST", f"/smart-live-rooms/{room_id}/smart-live-jobs", {"output_urls": ["a", "b"]}, expect=400
    )
    assert "output_urls" in bad["error_msg"]
    start = {
        "output_urls": ["rtmp://start.example.com/live"],
        "stream_keys": ["start-key"],
        "live_event_callback_config": callback_config(receiver.base + "/cb", "RTMP_STREAM_STATE_CHANGE"),
    }
    job_id = api.start(room_id, start)["job_id"]
    view = wait_until(lambda: (v := monitor(control, job_id))["outputs"][0]["state"] == "CONNECTED" and v)
    assert view["outputs"][0]["output_url"] == "rtmp://start.example.com/live"
    assert view["outputs"][0]["history"] == ["CONNECTING", "CONNECTED"]
    wait_until(lambda: len(receiver.events()) == 2)
    states = [(e["state"], e["output_url"], e["stream_key"]) for e in receiver.events()]
    assert states == [
        ("CONNECTING", "rtmp://start.example.com/live", "start-key"),
        ("CONNECTED", "rtmp://start.example.com/live", "start-key"),
    ]
    api.stop(room_id, job_id)
    wait_until(lambda: len(receiver.events()) == 3)
    assert receiver.events()[-1]["state"] == "END"
    assert receiver.events()[-1]["job_id"] == job_id and receiver.events()[-1]["room_id"] == room_id


def test_paragraphs_play_in_order_with_switch_callbacks(
    control: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    body = room_body(
        scene_scripts=[
            scene("商品1", paragraph(1, "开场", "大家好。"), paragraph(2, "介绍", "这是好物。")),
            scene(
                "商品2",
                paragraph(
                    7, "下单", "快下单。", relation_product={"product_id": "p9", "product_title": "好物"}
                ),
            ),
        ],
        play_policy={"repeat_count": 1, "random_play_mode": "NONE"},
        live_event_callback_config=callback_config(receiver.base + "/cb?room=1", "SHOOT_SCRIPT_SWITCH"),
        relation_live_platform_info={"platform_id": "p", "live_id": "L1"},
    )
    room_id, job_id = api.live(body)
    ended = wait_for_state(control, job_id, "SUCCEED")
    assert ended["end_reason"] == "the script has been played to its end"
    wait_until(lambda: len(receiver.events()) == 6)
    switches = [
        (e["scene_script_name"], e["shoot_script_sequence_no"], e["shoot_script_title"])
        for e in receiver.events()
    ]
    round_one = [("商品1", "1", "开场"), ("商品1", "2", "介绍"), ("商品2", "7", "下单")]
    assert switches == round_one * 2
    last = receiver.events()[-1]
    assert last["room_id"] == room_id and last["job_id"] == job_id
    assert (last["product_id"], last["product_title"], last["live_id"]) == ("p9", "好物", "L1")
    assert receiver.calls[0]["path"] == "/cb" and receiver.calls[0]["query"] == {"room": "1"}
    assert receiver.calls[0]["headers"]["content-type"].startswith("application/json")
    assert api.job(room_id, job_id)["state"] == "SUCCEED"


def test_the_monitor_shows_the_program_on_air(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"speech_seconds_per_char": 0.05})
    body = room_body(
        scene_scripts=[scene("商品1", paragraph(1, "开场", LONG_SENTENCE + "第二句话。"))],
        play_policy={"repeat_count": -1},
    )
    room_id, job_id = api.live(body)
    view = wait_until(lambda: (v := monitor(control, job_id))["subtitle"] and v)
    assert view["state"] == "PROCESSING" and view["anchor"] == "anchor-商品1" and view["voice"] == "voice-1"
    assert view["background"]["background_config"] == "https://example.com/商品1.png"
    assert view["subtitle"] == LONG_SENTENCE
    assert view["paragraph"] == {
        "index": 0,
        "scene_script_name": "商品1",
        "sequence_no": 1,
        "title": "开场",
        "sentence": 0,
    }
    assert view["round"] == 1 and view["job"]["state"] == "PROCESSING"
    wait_until(lambda: monitor(control, job_id)["subtitle"] == "第二句话。")
    wait_until(lambda: monitor(control, job_id)["round"] == 2)
    api.stop(room_id, job_id)
    stopped = monitor(control, job_id)
    assert stopped["subtitle"] == "" and stopped["state"] == "SUCCEED"


def test_voice_speed_changes_how_long_a_paragraph_lasts(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"speech_seconds_per_char": 0.02, "min_sentence_seconds": 0})
    text = "这一句有二十个字这一句有二十个字这一句有。"
    timings = {}
    for speed in (50, 200):
        body = room_body(
            scene_scripts=[
                scene("s", paragraph(1, "p", text), voice_config={"voice_asset_id": "v", "speed": speed})
            ]
        )
        _, job_id = api.live(body)
        started = time.monotonic()
        wait_for_state(control, job_id, "SUCCEED")
        timings[speed] = time.monotonic() - started
    assert timings[50] > 2 * timings[200]


def test_a_room_without_paragraphs_stays_on_air(control: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = api.live(room_body(scene_scripts=[], play_policy={"play_mode": "NO_PRESET"}))
    time.sleep(0.3)
    assert monitor(control, job_id)["state"] == "PROCESSING"
    api.stop(room_id, job_id)


def test_jobs_are_listed_per_room_and_per_account(api: MetaStudioApi) -> None:
    first_room = api.create_room(room_body(room_name="早场"))
    second_room = api.create_room(long_room(room_name="晚场"))
    first = api.start(first_room)["job_id"]
    api.stop(first_room, first)
    second = api.start(first_room)["job_id"]
    api.stop(first_room, second)
    third = api.start(second_room)["job_id"]
    in_room = api.call("GET", f"/smart-live-rooms/{first_room}/smart-live-jobs")
    assert in_room["count"] == 2 and [j["job_id"] for j in in_room["smart_live_jobs"]] == [first, second]
    everything = api.call("GET", "/smart-live-jobs", sort_dir="desc")
    assert [j["job_id"] for j in everything["smart_live_jobs"]] == [third, second, first]
    assert api.call("GET", "/smart-live-jobs", state="PROCESSING")["smart_live_jobs"][0]["job_id"] == third
    assert api.call("GET", "/smart-live-jobs", state="WAITING,SUCCEED")["count"] == 2
    assert api.call("GET", "/smart-live-jobs", room_name="晚")["count"] == 1
    paged = api.call("GET", "/smart-live-jobs", offset=1, limit=1, sort_key="create_time")
    assert paged["count"] == 3 and [j["job_id"] for j in paged["smart_live_jobs"]] == [second]
    future = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.call("GET", "/smart-live-jobs", create_since=future)["count"] == 0
    assert api.call("GET", "/smart-live-jobs", create_until=future)["count"] == 3
    assert (
        "create_since"
        in api.call("GET", "/smart-live-jobs", create_since="yesterday", expect=400)["error_msg"]
    )
    assert api.call("GET", "/smart-live-jobs", sort_key="name", expect=400)["error_code"] == "MSS.00000003"
    rooms = {r["room_id"]: r for r in api.call("GET", "/smart-live-rooms")["smart_live_rooms"]}
    assert (
        rooms[second_room]["last_job_status"] == "PROCESSING"
        and rooms[first_room]["last_job_status"] == "SUCCEED"
    )


def test_a_killed_job_fails_with_error_info(
    control: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    body = long_room(
        output_urls=["rtmp://push.example.com/x"],
        live_event_callback_config=callback_config(receiver.base + "/cb", "RTMP_STREAM_STATE_CHANGE"),
    )
    room_id, job_id = api.live(body)
    kill = {"error_code": "MSS.00000004", "error_msg": "render node lost"}
    assert control.post(f"/_sandbox/metastudio/jobs/{job_id}/kill", json=kill).json() == {
        "ok": True,
        "state": "FAILED",
    }
    job = api.job(room_id, job_id)
    assert job["state"] == "FAILED" and job["error_info"] == kill and job["end_time"]
    wait_until(lambda: receiver.events() and receiver.events()[-1]["state"] == "END")
    assert control.post(f"/_sandbox/metastudio/jobs/{job_id}/kill", json={}).status_code == 409
    assert control.post("/_sandbox/metastudio/jobs/nope/kill", json={}).status_code == 404
    assert (
        api.command(room_id, job_id, "GET_CURRENT_PLAYING_SCRIPTS", expect=400)["error_code"]
        == "MSS.00000003"
    )


def test_a_blocked_job_says_why(control: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    control.post(
        f"/_sandbox/metastudio/jobs/{job_id}/kill", json={"state": "BLOCKED", "error_msg": "违规内容"}
    )
    job = api.job(room_id, job_id)
    assert (job["state"], job["block_reason"]) == ("BLOCKED", "违规内容")


def test_a_temp_room_goes_away_with_its_job(api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room(room_type="TEMP"))
    api.stop(room_id, job_id)
    api.call("GET", f"/smart-live-rooms/{room_id}", expect=404)
    assert [job["job_id"] for job in api.call("GET", "/smart-live-jobs")["smart_live_jobs"]] == [job_id]


def test_a_template_room_cannot_go_live(api: MetaStudioApi) -> None:
    room_id = api.create_room(room_body(room_type="TEMPLATE"))
    assert (
        "TEMPLATE"
        in api.call("POST", f"/smart-live-rooms/{room_id}/smart-live-jobs", {}, expect=400)["error_msg"]
    )


def test_max_live_duration_stops_the_live(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"metastudio_exit_time_scale": 0.0001})  # an hour is 0.36 s
    policy = {
        "repeat_count": -1,
        "live_exit_config": {"max_live_duration": 1, "auto_stop_mode": "FORCE_EXIT"},
    }
    room_id = api.create_room(long_room(play_policy=policy))
    assert api.start(room_id)["limit_duration"] == 1
    job_id = api.call("GET", f"/smart-live-rooms/{room_id}/smart-live-jobs")["smart_live_jobs"][0]["job_id"]
    ended = wait_for_state(control, job_id, "SUCCEED")
    assert "FORCE_EXIT" in ended["end_reason"]
    assert 0.3 <= api.job(room_id, job_id)["duration"] < 2


def test_segment_end_waits_for_the_paragraph(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"metastudio_exit_time_scale": 0.0001})
    text = "".join(f"第{i}句。" for i in range(8))  # 8 sentences of 0.1 s: longer than the 0.36 s "hour"
    policy = {
        "repeat_count": -1,
        "live_exit_config": {"max_live_duration": 1, "auto_stop_mode": "SEGMENT_END"},
    }
    room_id, job_id = api.live(
        room_body(scene_scripts=[scene("s", paragraph(1, "p", text))], play_policy=policy)
    )
    ended = wait_for_state(control, job_id, "SUCCEED")
    assert "SEGMENT_END" in ended["end_reason"]
    assert api.job(room_id, job_id)["duration"] >= 0.75


def test_a_broken_rtmp_link_fails_the_job_after_the_waiting_time(
    control: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    control.put("/_sandbox/config", json={"metastudio_exit_time_scale": 0.01})  # a minute is 0.6 s
    body = long_room(
        output_urls=["rtmp://push.example.com/x"],
        live_event_callback_config=callback_config(receiver.base + "/cb", "RTMP_STREAM_STATE_CHANGE"),
        play_policy={"repeat_count": -1, "live_exit_config": {"max_exception_waiting_duration": 1}},
    )
    room_id, job_id = api.live(body)
    wait_until(lambda: monitor(control, job_id)["outputs"][0]["state"] == "CONNECTED")
    assert (
        control.post(f"/_sandbox/metastudio/jobs/{job_id}/rtmp", json={"state": "DISCONNECTED"}).status_code
        == 200
    )
    time.sleep(0.1)
    control.post(f"/_sandbox/metastudio/jobs/{job_id}/rtmp", json={"state": "CONNECTED"})
    time.sleep(0.7)
    assert monitor(control, job_id)["state"] == "PROCESSING"
    control.post(f"/_sandbox/metastudio/jobs/{job_id}/rtmp", json={"state": "RECONNECTING"})
    failed = wait_for_state(control, job_id, "FAILED")
    assert "RTMP" in failed["error_info"]["error_msg"]
    wait_until(lambda: [e["state"] for e in receiver.events()][-1:] == ["END"])
    states = [e["state"] for e in receiver.events()]
    assert states == ["CONNECTING", "CONNECTED", "DISCONNECTED", "CONNECTED", "RECONNECTING", "END"]
    assert api.job(room_id, job_id)["error_info"]["error_code"] == "MSS.00000004"


def test_reset_forgets_rooms_and_jobs_but_keeps_accounts(control: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    assert control.post("/_sandbox/reset").json() == {"ok": True}
    assert api.call("GET", "/smart-live-rooms")["count"] == 0
    api.call("GET", f"/smart-live-rooms/{room_id}", expect=404)
    assert api.call("GET", "/smart-live-jobs")["count"] == 0
    assert control.get(f"/_sandbox/metastudio/jobs/{job_id}").status_code == 404
    assert api.create_room()
