"""MetaStudio sandbox: smart live rooms (create, list, show, update, delete) and rule libraries."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .test_metastudio_support import PROJECT, MetaStudioApi, paragraph, room_body, scene

_REMOVE = object()


def _full_room() -> dict[str, Any]:
    """Every table of the document used once, at the edges of its ranges."""
    return room_body(
        room_type="NORMAL",
        scene_scripts=[
            scene(
                "商品1",
                paragraph(
                    0,
                    "t" * 256,
                    "大家好。",
                    audio_config={"audio_url": "https://example.com/a.mp3", "asset_id": "a" * 64},
                    relation_product={"product_id": "p1", "product_title": "好物"},
                ),
                voice_config={"voice_asset_id": "v", "speed": 200, "pitch": 50, "volume": 240},
                layer_config=[
                    {
                        "layer_type": "IMAGE",
                        "position": {"dx": -1920, "dy": 3840, "layer_index": 100},
                        "size": {"width": 7680, "height": 1},
                        "image_config": {"image_url": "https://example.com/l.png"},
                    },
                    {"layer_type": "TEXT", "text_config": {"text_context": "5rWL6K+V", "font_size": 120}},
                    {
                        "layer_type": "VIDEO",
                        "video_config": {"video_url": "https://e.com/v.mp4", "loop_count": -1},
                    },
                ],
                background_config=[{"background_type": "COLOR", "background_color_config": "#000000"}],
            )
        ],
        interaction_config={"play_type": "PLAY_NOW", "ignore_current_sentence": True},
        interaction_rules=[
            {
                "rule_name": "问价",
                "event_type": 1,
                "hit_condition": {
                    "relation": "AND",
                    "priority": 999,
                    "tags": [{"tag": "content", "match": "REGEX", "value": "多少钱|价格"}],
                },
                "trigger": {"time_window": 7200, "reply_mode": "SYSTEM_REPLY", "reply_texts": ["a"] * 5},
            }
        ],
        play_policy={"repeat_count": 100, "play_mode": "AUDIO", "random_play_mode": "SCENE_AND_SCRIPT_ITEM"},
        video_config={"codec": "H264", "bitrate": 8000, "width": 1920, "height": 1080, "frame_rate": "25"},
        output_urls=["rtmp://push.example.com/live"],
        stream_keys=["key-1"],
        backup_model_asset_ids=["b"] * 5,
        live_event_callback_config={
            "live_event_type_callback_url": "https://example.com/cb?x=1",
            "auth_type": "MSS_A",
            "key": "k" * 32,
            "callback_event_type": ["SHOOT_SCRIPT_SWITCH"],
        },
        rtc_callback_config={"rtc_callback_event_type": ["LIVE_PROGRESS"]},
        review_config={"no_need_review": True},
        co_streamer_config={"voice_config": {"voice_asset_id": "co"}, "streamer_action": "SILENCE"},
        priv_data="x" * 8192,
        relation_live_platform_info={"platform_id": "meituan", "live_id": "live_1-2"},
    )


def test_a_room_is_kept_exactly_as_sent(api: MetaStudioApi) -> None:
    body = _full_room()
    room_id = api.create_room(body)
    shown = api.call("GET", f"/smart-live-rooms/{room_id}")
    for key, value in body.items():
        assert shown[key] == value, key
    assert shown["room_id"] == room_id and shown["room_state"] == "ENABLE"
    assert shown["view_mode"] == "LANDSCAPE"
    assert shown["create_time"].endswith("Z") and shown["script_version"].isdigit()


def test_the_documents_example_creates_a_room(api: MetaStudioApi) -> None:
    example = {
        "room_name": "大自然的传说",
        "room_description": "课件",
        "scene_scripts": [
            {
                "script_name": "大自然的传说 一",
                "model_asset_id": "a5d295cdb345c11bd9f36bc22ced3a7a",
                "voice_config": {"voice_asset_id": "a5d295cdb345c11bd9f36bc22ced3a7a"},
                "background_config": [
                    {"background_type": "IMAGE", "background_config": "978f893e1de4553c183b7a805e6290f5"}
                ],
                "shoot_scripts": [{"sequence_no": 1, "text_config": {"text": "大家好,我是云笙"}}],
            }
        ],
        "live_event_callback_config": {
            "live_event_type_callback_url": "https://xxx/xxx/xxx?xxx=xxx",
            "auth_type": "NONE",
            "callback_event_type": ["SHOOT_SCRIPT_SWITCH"],
        },
    }
    room_id = api.create_room(example)
    assert api.call("GET", f"/smart-live-rooms/{room_id}")["view_mode"] == "VERTICAL"


def _break(path: str, value: Any) -> dict[str, Any]:
    """The full room with ``path`` (dotted, numbers index lists) set to ``value`` or removed."""
    body = copy.deepcopy(_full_room())
    *parents, leaf = path.split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(leaf) if leaf.isdigit() else leaf
    if value is _REMOVE:
        del target[key]
    else:
        target[key] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "mentions"),
    [
        ("room_name", _REMOVE, "room_name"),
        ("room_name", "", "room_name"),
        ("room_name", "n" * 257, "room_name"),
        ("room_description", "d" * 1025, "room_description"),
        ("room_type", "PARTY", "room_type"),
        ("scene_scripts.0.script_name", _REMOVE, "script_name"),
        ("scene_scripts.0.shoot_scripts", _REMOVE, "shoot_scripts"),
        ("scene_scripts.0.model_asset_id", "m" * 65, "model_asset_id"),
        ("scene_scripts.0.voice_config.voice_asset_id", _REMOVE, "voice_asset_id"),
        ("scene_scripts.0.voice_config.speed", 201, "speed"),
        ("scene_scripts.0.voice_config.speed", "100", "speed"),
        ("scene_scripts.0.voice_config.pitch", 49, "pitch"),
        ("scene_scripts.0.voice_config.volume", 89, "volume"),
        ("scene_scripts.0.background_config.0.background_type", "VIDEO", "background_type"),
        ("scene_scripts.0.background_config.0", {"background_type": "IMAGE"}, "background_config"),
        ("scene_scripts.0.layer_config.0.layer_type", "AUDIO", "layer_type"),
        ("scene_scripts.0.layer_config.0.position.layer_index", 0, "layer_index"),
        ("scene_scripts.0.layer_config.0.position.dx", 3841, "dx"),
        ("scene_scripts.0.layer_config.0.position.dy", _REMOVE, "dy"),
        ("scene_scripts.0.layer_config.0.size.width", 7681, "width"),
        ("scene_scripts.0.layer_config.1.text_config.font_size", 121, "font_size"),
        ("scene_scripts.0.layer_config.2.video_config.loop_count", -2, "loop_count"),
        ("scene_scripts.0.shoot_scripts.0.sequence_no", -1, "sequence_no"),
        ("scene_scripts.0.shoot_scripts.0.title", "t" * 257, "title"),
        ("scene_scripts.0.shoot_scripts.0.text_config", {}, "text"),
        ("interaction_config.play_type", "LATER", "play_type"),
        ("interaction_rules.0.event_type", 101, "event_type"),
        ("interaction_rules.0.hit_condition.priority", 1000, "priority"),
        ("interaction_rules.0.hit_condition.relation", "XOR", "relation"),
        ("interaction_rules.0.hit_condition.tags.0.match", "LIKE", "match"),
        ("interaction_rules.0.hit_condition.tags.0.value", "(", "regular expression"),
        ("interaction_rules.0.trigger.time_window", 7201, "time_window"),
        ("interaction_rules.0.trigger.reply_texts", ["a"] * 6, "reply_texts"),
        ("interaction_rules.0.trigger.reply_mode", "INTELLIGENT_REPLY", "robot_id"),
        ("play_policy.repeat_count", -2, "repeat_count"),
        ("play_policy.repeat_count", 101, "repeat_count"),
        ("play_policy.play_mode", "VIDEO", "play_mode"),
        ("video_config.bitrate", 999, "bitrate"),
        ("video_config.width", 1280, "1080x1920"),
        ("video_config.height", _REMOVE, "height"),
        ("output_urls", ["rtmp://a", "rtmp://b"], "output_urls"),
        ("backup_model_asset_ids", ["b"] * 6, "backup_model_asset_ids"),
        ("live_event_callback_config.key", "k" * 33, "key"),
        ("live_event_callback_config.key", _REMOVE, "key is required"),
        ("live_event_callback_config.auth_type", "BASIC", "auth_type"),
        ("live_event_callback_config.callback_event_type", ["EVERYTHING"], "callback_event_type"),
        ("priv_data", "x" * 8193, "priv_data"),
        ("relation_live_platform_info.live_id", "直播", "live_id"),
    ],
)
def test_an_invalid_room_is_400_naming_the_field(
    api: MetaStudioApi, path: str, value: Any, mentions: str
) -> None:
    answer = api.call("POST", "/smart-live-rooms", _break(path, value), expect=400)
    assert answer["error_code"] == "MSS.00000003"
    assert mentions in answer["error_msg"], answer


def test_a_body_that_is_not_a_json_object_is_400(api: MetaStudioApi) -> None:
    path = f"/v1/{PROJECT}/smart-live-rooms"
    for content in (b"[1]", b"{not json"):
        response = api.http.post(path, content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.json()["error_code"] == "MSS.00000002"


def test_rooms_are_listed_newest_first_with_filters_and_pages(api: MetaStudioApi) -> None:
    first = api.create_room(room_body(room_name="早场"))
    second = api.create_room(room_body(room_name="晚场", room_type="TEMP"))
    listed = api.call("GET", "/smart-live-rooms")
    assert listed["count"] == 2
    assert [room["room_id"] for room in listed["smart_live_rooms"]] == [second, first]
    item = listed["smart_live_rooms"][1]
    assert item["project_id"] == PROJECT and item["model_infos"] == [{"model_asset_id": "anchor-商品1"}]
    assert item["last_job_status"] is None
    assert api.call("GET", "/smart-live-rooms", room_name="晚")["count"] == 1
    assert api.call("GET", "/smart-live-rooms", room_type="TEMP")["smart_live_rooms"][0]["room_id"] == second
    page = api.call("GET", "/smart-live-rooms", offset=1, limit=1)
    assert page["count"] == 2 and [r["room_id"] for r in page["smart_live_rooms"]] == [first]
    api.start(first)
    assert api.call("GET", "/smart-live-rooms", live_state="PROCESSING")["count"] == 1
    assert api.call("GET", "/smart-live-rooms", live_state="NULL")["smart_live_rooms"][0]["room_id"] == second
    assert api.call("GET", "/smart-live-rooms", limit=101, expect=400)["error_code"] == "MSS.00000003"
    assert "offset" in api.call("GET", "/smart-live-rooms", offset="x", expect=400)["error_msg"]


def test_update_replaces_the_room_and_delete_forgets_it(api: MetaStudioApi) -> None:
    room_id = api.create_room()
    before = api.call("GET", f"/smart-live-rooms/{room_id}")
    new = room_body(room_name="新名字", room_description=None)
    del new["room_description"]
    updated = api.call("PUT", f"/smart-live-rooms/{room_id}", new)
    assert updated["room_name"] == "新名字" and "room_description" not in updated
    assert updated["create_time"] == before["create_time"]
    assert api.call("PUT", f"/smart-live-rooms/{room_id}", {"room_name": ""}, expect=400)
    assert api.call("DELETE", f"/smart-live-rooms/{room_id}") == {}
    assert api.call("GET", f"/smart-live-rooms/{room_id}", expect=404)["error_code"] == "MSS.00000003"
    api.call("DELETE", f"/smart-live-rooms/{room_id}", expect=404)


def test_a_room_on_air_cannot_be_deleted(api: MetaStudioApi) -> None:
    room_id, job_id = api.live()
    assert "stop it first" in api.call("DELETE", f"/smart-live-rooms/{room_id}", expect=400)["error_msg"]
    api.stop(room_id, job_id)
    assert api.call("DELETE", f"/smart-live-rooms/{room_id}") == {}


# --- interaction rule libraries ----------------------------------------------------------------


RULE = {
    "rule_name": "欢迎",
    "event_type": 2,
    "hit_condition": {"relation": "AND", "tags": []},
    "trigger": {"time_window": 0, "reply_mode": "SYSTEM_REPLY", "reply_texts": ["欢迎来到直播间"]},
}


def test_rule_libraries_are_kept_with_their_rules(api: MetaStudioApi) -> None:
    groups = "/smart-live-interaction-rule-groups"
    group_id = api.call("POST", groups, {"group_name": "通用", "interaction_rules": [RULE]})["group_id"]
    shown = api.call("GET", f"{groups}/{group_id}")
    assert shown["group_name"] == "通用" and len(shown["interaction_rules"]) == 1
    assert shown["interaction_rules"][0]["rule_name"] == "欢迎" and shown["interaction_rules"][0]["rule_id"]
    listed = api.call("GET", groups)
    assert listed["count"] == 1 and "interaction_rules" not in listed["interaction_rule_groups"][0]
    assert api.call("GET", groups, group_name="没有")["count"] == 0
    rule = api.call("POST", f"{groups}/{group_id}/rules", {**RULE, "rule_name": "第二条"})
    changed = api.call("PUT", f"{groups}/{group_id}/rules/{rule['rule_id']}", {**RULE, "rule_name": "改名"})
    assert changed["rule_name"] == "改名" and changed["create_time"] == rule["create_time"]
    assert [r["rule_name"] for r in api.call("GET", f"{groups}/{group_id}")["interaction_rules"]] == [
        "欢迎",
        "改名",
    ]
    assert api.call("DELETE", f"{groups}/{group_id}/rules/{rule['rule_id']}") == {}
    api.call("DELETE", f"{groups}/{group_id}/rules/{rule['rule_id']}", expect=404)
    renamed = api.call("PUT", f"{groups}/{group_id}", {"group_name": "新库"})
    assert renamed["group_name"] == "新库" and renamed["interaction_rules"] == []
    assert api.call("POST", groups, {"group_name": ""}, expect=400)
    bad_rule = {**RULE, "event_type": 101}
    assert "event_type" in api.call("POST", f"{groups}/{group_id}/rules", bad_rule, expect=400)["error_msg"]
    assert api.call("DELETE", f"{groups}/{group_id}") == {}
    api.call("GET", f"{groups}/{group_id}", expect=404)
