"""MetaStudio sandbox: live commands (inserts and their play types, the insert queue, rewrites,
outputs, layers, queries, exit configuration)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import httpx
import pytest

from .conftest import wait_until
from .test_metastudio_support import (
    FAST,
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

# At 0.05 s a character: a first sentence of more than a second (time for a command to land in
# it), then two of about half a second.
FIRST = "第一句话要慢慢地说很久很久很久很久很久。"
SENTENCES = FIRST + "第二句话慢慢地说。第三句话慢慢地说。"
INSERT_TEXT = "插播一条消息。"


@pytest.fixture
def slow(control: httpx.Client) -> httpx.Client:
    control.put("/_sandbox/config", json={**FAST, "speech_seconds_per_char": 0.05})
    return control


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    yield recv
    recv.close()


def aired(control: httpx.Client, job_id: str) -> list[str]:
    """What the job has said on air, in order, from the program monitor's log of sentences (polling
    the subtitle instead could miss a short sentence while this process is slow)."""
    return [said["subtitle"] for said in monitor(control, job_id)["aired"] if said["subtitle"]]


def hear(control: httpx.Client, job_id: str, *subtitles: str, timeout: float = 8.0) -> list[str]:
    """Wait until ``subtitles`` have been on air in this order; everything aired so far."""

    def heard() -> list[str] | None:
        said = aired(control, job_id)
        rest = iter(said)
        return said if all(any(s == wanted for s in rest) for wanted in subtitles) else None

    result: list[str] = wait_until(heard, timeout=timeout)
    return result


def _three_sentence_room(**extra: Any) -> dict[str, Any]:
    return room_body(
        scene_scripts=[scene("s", paragraph(1, "p1", SENTENCES), paragraph(2, "p2", "下一段落开始了。"))],
        play_policy={"repeat_count": -1, "random_play_mode": "NONE"},
        **extra,
    )


def _start_and_wait_for_first_sentence(
    api: MetaStudioApi, control: httpx.Client, body: dict[str, Any]
) -> tuple[str, str]:
    room_id, job_id = api.live(body)
    hear(control, job_id, FIRST)
    return room_id, job_id


def around(heard: list[str], said: str, before: int, after: int) -> list[str]:
    """What was on air just before and after the first time ``said`` was."""
    index = heard.index(said)
    return heard[max(index - before, 0) : index + after + 1]


def test_play_now_cuts_the_sentence_and_resumes_it(slow: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = _start_and_wait_for_first_sentence(api, slow, _three_sentence_room())
    command_id = api.say(room_id, job_id, INSERT_TEXT, "PLAY_NOW")
    heard = hear(slow, job_id, INSERT_TEXT, "第二句话慢慢地说。")
    assert around(heard, INSERT_TEXT, 1, 2) == [FIRST, INSERT_TEXT, FIRST, "第二句话慢慢地说。"], heard
    log = monitor(slow, job_id)["aired"]
    insert = next(said for said in log if said["subtitle"] == INSERT_TEXT)
    assert insert["kind"] == "insert" and insert["command_id"] == command_id
    assert [said["kind"] for said in log[:2]] == ["paragraph", "insert"]
    assert all(earlier["at"] <= later["at"] for earlier, later in pairwise(log))


def test_ignore_current_sentence_drops_the_rest_of_the_cut_sentence(
    slow: httpx.Client, api: MetaStudioApi
) -> None:
    body = _three_sentence_room(interaction_config={"play_type": "PLAY_NOW", "ignore_current_sentence": True})
    room_id, job_id = _start_and_wait_for_first_sentence(api, slow, body)
    api.say(room_id, job_id, INSERT_TEXT)  # the room's play_type: PLAY_NOW
    heard = hear(slow, job_id, INSERT_TEXT, "第二句话慢慢地说。")
    assert around(heard, INSERT_TEXT, 1, 1) == [FIRST, INSERT_TEXT, "第二句话慢慢地说。"], heard


def test_insert_waits_for_the_end_of_the_sentence(slow: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = _start_and_wait_for_first_sentence(api, slow, _three_sentence_room())
    api.say(room_id, job_id, INSERT_TEXT)  # the room's play_type by default: INSERT
    heard = hear(slow, job_id, INSERT_TEXT, "第二句话慢慢地说。")
    assert around(heard, INSERT_TEXT, 1, 1) == [FIRST, INSERT_TEXT, "第二句话慢慢地说。"], heard


def test_append_waits_for_the_end_of_the_paragraph(slow: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = _start_and_wait_for_first_sentence(api, slow, _three_sentence_room())
    api.say(room_id, job_id, INSERT_TEXT, "APPEND")
    heard = hear(slow, job_id, INSERT_TEXT, "下一段落开始了。")
    assert around(heard, INSERT_TEXT, 3, 1) == [
        FIRST,
        "第二句话慢慢地说。",
        "第三句话慢慢地说。",
        INSERT_TEXT,
        "下一段落开始了。",
    ], heard


def test_the_queue_orders_play_now_insert_then_append(slow: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = _start_and_wait_for_first_sentence(api, slow, _three_sentence_room())
    appended = api.say(room_id, job_id, "追加的话。", "APPEND")
    inserted = api.say(room_id, job_id, "插入的话。", "INSERT")
    queued = [item["command_id"] for item in api.inserts(room_id, job_id)]
    assert queued == [inserted, appended]
    api.say(room_id, job_id, "马上说的话。", "PLAY_NOW")
    heard = hear(slow, job_id, "马上说的话。", "插入的话。", "追加的话。")
    assert heard.index("马上说的话。") < heard.index("插入的话。") < heard.index("追加的话。")
    assert heard[heard.index("追加的话。") - 1] == "第三句话慢慢地说。"


def test_each_played_insert_reports_reply_command_finish(api: MetaStudioApi, receiver: Receiver) -> None:
    body = long_room(
        sentences=5, live_event_callback_config=callback_config(receiver.base + "/cb", "REPLY_COMMAND_FINISH")
    )
    room_id, job_id = api.live(body)
    first = api.say(room_id, job_id, "第一条回复。", "APPEND")
    audio = api.command(
        room_id, job_id, "INSERT_PLAY_AUDIO", {"audio_url": "https://e.com/a.mp3#duration=0.2"}
    )
    assert audio["command"] == "INSERT_PLAY_AUDIO" and audio["result"] == "SUCCESS"
    wait_until(lambda: len(receiver.events()) == 2, timeout=10)
    replies = receiver.events()
    # The audio takes the room's play_type (INSERT): it goes ahead of the APPEND.
    assert [event["reply_id"] for event in replies] == [audio["command_id"], first]
    assert replies[0]["room_id"] == room_id and replies[0]["job_id"] == job_id
    assert set(replies[0]) == {"event_type", "room_id", "job_id", "reply_id"}


def test_insert_commands_list_the_queue_and_clean_up_empties_it(
    control: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    body = long_room(
        live_event_callback_config=callback_config(receiver.base + "/cb", "REPLY_COMMAND_FINISH")
    )
    room_id, job_id = api.live(body)
    ids = [api.say(room_id, job_id, f"追加第{i}条。", "APPEND") for i in range(3)]
    audio = {"audio_url": "https://e.com/b.mp3", "play_type": "APPEND"}
    ids.append(api.command(room_id, job_id, "INSERT_PLAY_AUDIO", audio)["command_id"])
    items = api.inserts(room_id, job_id)
    assert [item["command_id"] for item in items] == ids
    assert items[0] == {
        "command_id": ids[0],
        "command": "INSERT_PLAY_SCRIPT",
        "params": {"text_config": {"text": "追加第0条。"}, "play_type": "APPEND"},
        "source": "EXTERNAL",
    }
    assert items[3]["params"] == audio
    path = api.job_path(room_id, job_id) + "/command/insert-commands"
    page = api.call("GET", path, offset=1, limit=2)
    assert page["count"] == 4 and [item["command_id"] for item in page["insert_commands"]] == ids[1:3]
    assert api.command(room_id, job_id, "CLEAN_UP_INSERT_COMMAND", {})["result"] == "SUCCESS"
    assert api.inserts(room_id, job_id) == []
    played = monitor(control, job_id)["played_inserts"]
    assert [item["outcome"] for item in played] == ["cleaned up"] * 4
    time.sleep(0.5)
    assert receiver.events() == []


def test_stop_drops_the_queue(control: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    api.say(room_id, job_id, "追加。", "APPEND")
    api.stop(room_id, job_id)
    assert monitor(control, job_id)["insert_queue"] == []
    api.call("GET", api.job_path(room_id, job_id) + "/command/insert-commands")


def test_rewrite_play_script_replaces_what_is_not_played_yet(
    slow: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    body = room_body(
        scene_scripts=[
            scene(
                "旧",
                paragraph(1, "p1", SENTENCES),
                paragraph(2, "p2", "旧二。"),
                paragraph(3, "p3", "旧三。"),
            )
        ],
        play_policy={"repeat_count": 1, "random_play_mode": "NONE"},
        live_event_callback_config=callback_config(receiver.base + "/cb", "SHOOT_SCRIPT_SWITCH"),
    )
    room_id, job_id = api.live(body)
    wait_until(lambda: receiver.events())
    new = [
        scene("新", paragraph(1, "q1", "新一。"), paragraph(2, "q2", "新二。"), paragraph(3, "q3", "新三。"))
    ]
    assert api.command(room_id, job_id, "REWRITE_PLAY_SCRIPT", {"scene_scripts": new})["result"] == "SUCCESS"
    wait_for_state(slow, job_id, "SUCCEED", timeout=10)
    wait_until(lambda: len(receiver.events()) == 6)
    titles = [event["shoot_script_title"] for event in receiver.events()]
    assert titles == ["p1", "q2", "q3", "q1", "q2", "q3"]


def test_rewrite_with_delay_waits_for_the_next_round(
    metastudio_fast: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    body = room_body(
        scene_scripts=[scene("旧", paragraph(1, "p1", SENTENCES * 3), paragraph(2, "p2", "旧二。"))],
        play_policy={"repeat_count": 1, "random_play_mode": "NONE", "is_rewrite_delay": True},
        live_event_callback_config=callback_config(receiver.base + "/cb", "SHOOT_SCRIPT_SWITCH"),
    )
    room_id, job_id = api.live(body)
    new = [scene("新", paragraph(1, "q1", "新一。"))]
    api.command(room_id, job_id, "REWRITE_PLAY_SCRIPT", {"scene_scripts": new})
    wait_for_state(metastudio_fast, job_id, "SUCCEED", timeout=10)
    wait_until(lambda: len(receiver.events()) == 3)
    assert [event["shoot_script_title"] for event in receiver.events()] == ["p1", "p2", "q1"]


def test_current_playing_scripts_tell_the_round_and_the_paragraph_on_air(api: MetaStudioApi) -> None:
    body = long_room(
        scene_scripts=[
            scene("商品1", paragraph(1, "开场", SENTENCES * 5), paragraph(2, "介绍", "好物。")),
            scene("商品2", paragraph(1, "下单", "下单。")),
        ]
    )
    room_id, job_id = api.live(body)
    answer = api.command(room_id, job_id, "GET_CURRENT_PLAYING_SCRIPTS")
    assert answer["command"] == "GET_CURRENT_PLAYING_SCRIPTS" and answer["command_id"]
    result = json.loads(answer["result"])
    assert result["scene_scripts"] == [
        {
            "script_name": "商品1",
            "model_asset_id": "anchor-商品1",
            "shoot_scripts": [
                {"sequence_no": 1, "title": "开场", "text": SENTENCES * 5},
                {"sequence_no": 2, "title": "介绍", "text": "好物。"},
            ],
        },
        {
            "script_name": "商品2",
            "model_asset_id": "anchor-商品2",
            "shoot_scripts": [{"sequence_no": 1, "title": "下单", "text": "下单。"}],
        },
    ]
    assert result["round"] == 1
    assert result["playing"] == {"index": 0, "script_name": "商品1", "sequence_no": 1, "title": "开场"}


def test_live_job_config_info_is_the_room_as_the_job_sees_it(api: MetaStudioApi) -> None:
    room_id = api.create_room(long_room(output_urls=["rtmp://room/live"], stream_keys=["k"]))
    job_id = api.start(room_id, {"output_urls": ["rtmp://start/live"]})["job_id"]
    rules = [
        {
            "rule_name": "新规则",
            "event_type": 1,
            "trigger": {"reply_mode": "SYSTEM_REPLY", "reply_texts": ["好"]},
        }
    ]
    api.command(room_id, job_id, "REWRITE_INTERACTION_RULES", {"interaction_rules": rules})
    api.command(
        room_id, job_id, "RESET_EXIT_CONFIG", {"max_live_duration": 168, "auto_stop_mode": "SCENE_END"}
    )
    config = json.loads(api.command(room_id, job_id, "GET_LIVE_JOB_CONFIG_INFO")["result"])
    assert config["room_id"] == room_id and config["room_name"] == room_body()["room_name"]
    assert config["output_urls"] == ["rtmp://start/live"] and config["stream_keys"] == ["k"]
    assert config["interaction_rules"] == rules
    assert config["play_policy"]["live_exit_config"] == {
        "max_live_duration": 168,
        "auto_stop_mode": "SCENE_END",
    }
    assert "interaction_rules" not in api.call("GET", f"/smart-live-rooms/{room_id}")


def test_refresh_output_url_ends_the_old_link_and_connects_the_new(
    control: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    body = long_room(
        output_urls=["rtmp://old.example.com/live"],
        stream_keys=["old-key"],
        live_event_callback_config=callback_config(receiver.base + "/cb", "RTMP_STREAM_STATE_CHANGE"),
    )
    room_id, job_id = api.live(body)
    wait_until(lambda: len(receiver.events()) == 2)
    params = {"output_urls": ["rtmp://new.example.com/live"], "stream_keys": ["new-key"]}
    assert api.command(room_id, job_id, "REFRESH_OUTPUT_URL", params)["result"] == "SUCCESS"
    wait_until(lambda: len(receiver.events()) == 5)
    changes = [(event["output_url"], event["stream_key"], event["state"]) for event in receiver.events()[2:]]
    assert changes == [
        ("rtmp://old.example.com/live", "old-key", "END"),
        ("rtmp://new.example.com/live", "new-key", "CONNECTING"),
        ("rtmp://new.example.com/live", "new-key", "CONNECTED"),
    ]
    view = monitor(control, job_id)
    assert [(o["output_url"], o["state"]) for o in view["outputs"]] == [
        ("rtmp://new.example.com/live", "CONNECTED")
    ]
    assert view["retired_outputs"][0]["state"] == "END"
    bad = api.command(room_id, job_id, "REFRESH_OUTPUT_URL", {"output_urls": ["a", "b"]}, expect=400)
    assert "params.output_urls" in bad["error_msg"]


def test_show_layer_puts_a_layer_on_the_monitor_for_its_duration(
    control: httpx.Client, api: MetaStudioApi
) -> None:
    room_id, job_id = api.live(long_room())
    layer = {
        "layer_type": "IMAGE",
        "position": {"dx": 10, "dy": 20, "layer_index": 5},
        "size": {"width": 300, "height": 200},
        "image_config": {"image_url": "https://example.com/coupon.png", "display_duration": 1},
    }
    assert api.command(room_id, job_id, "SHOW_LAYER", layer)["result"] == "SUCCESS"
    shown = monitor(control, job_id)["layers"]
    assert len(shown) == 1 and shown[0]["image_config"]["image_url"] == "https://example.com/coupon.png"
    assert shown[0]["source"] == "SHOW_LAYER" and shown[0]["until"] is not None
    sticky = {"layer_type": "TEXT", "text_config": {"text_context": "限时优惠", "text_type": "STATIC"}}
    api.command(room_id, job_id, "SHOW_LAYER", sticky)
    wait_until(
        lambda: [layer["layer_type"] for layer in monitor(control, job_id)["layers"]] == ["TEXT"], timeout=3
    )
    assert api.command(room_id, job_id, "SHOW_LAYER", {"layer_type": "AUDIO"}, expect=400)


def test_reset_exit_config_can_end_the_live(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"metastudio_exit_time_scale": 0.0001})
    room_id, job_id = api.live(long_room())
    bad = api.command(room_id, job_id, "RESET_EXIT_CONFIG", {"max_live_duration": 169}, expect=400)
    assert "max_live_duration" in bad["error_msg"]
    api.command(
        room_id, job_id, "RESET_EXIT_CONFIG", {"max_live_duration": 1, "auto_stop_mode": "FORCE_EXIT"}
    )
    assert monitor(control, job_id)["exit_config"] == {"max_live_duration": 1, "auto_stop_mode": "FORCE_EXIT"}
    wait_for_state(control, job_id, "SUCCEED")


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        ({"command": "DANCE"}, "command"),
        ({}, "command"),
        ({"command": "INSERT_PLAY_SCRIPT", "params": {}}, "text_config.text"),
        ({"command": "INSERT_PLAY_SCRIPT", "params": {"text_config": {"text": ""}}}, "text_config.text"),
        (
            {"command": "INSERT_PLAY_SCRIPT", "params": {"text": "hi", "play_type": "SOON"}},
            "params.play_type",
        ),
        ({"command": "INSERT_PLAY_AUDIO", "params": {}}, "params.audio_url"),
        ({"command": "REWRITE_PLAY_SCRIPT", "params": {"scene_scripts": []}}, "params.scene_scripts"),
        ({"command": "REWRITE_INTERACTION_RULES", "params": {}}, "params.interaction_rules"),
        ({"command": "RESET_EXIT_CONFIG", "params": {"auto_stop_mode": "LATER"}}, "auto_stop_mode"),
        ({"command": "INSERT_PLAY_SCRIPT", "params": "text"}, "params"),
    ],
)
def test_a_bad_command_is_400_with_a_reason(api: MetaStudioApi, body: dict[str, Any], mentions: str) -> None:
    room_id, job_id = api.live(long_room())
    answer = api.call("POST", api.job_path(room_id, job_id) + "/command", body, expect=400)
    assert answer["error_code"] == "MSS.00000003" and mentions in answer["error_msg"], answer


def test_the_flat_text_param_is_accepted_too(control: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    command_id = api.command(
        room_id, job_id, "INSERT_PLAY_SCRIPT", {"text": "平铺的文字。", "play_type": "APPEND"}
    )["command_id"]
    assert monitor(control, job_id)["insert_queue"][0]["text"] == "平铺的文字。"
    assert api.inserts(room_id, job_id)[0]["command_id"] == command_id


def test_commands_need_a_processing_job(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"create_delay": 5})
    room_id = api.create_room()
    job_id = api.start(room_id)["job_id"]
    answer = api.command(room_id, job_id, "INSERT_PLAY_SCRIPT", {"text": "hi"}, expect=400)
    assert "WAITING" in answer["error_msg"] and "PROCESSING" in answer["error_msg"]
