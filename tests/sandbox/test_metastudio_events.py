"""MetaStudio sandbox: live event reports, interaction rules and the replies they play."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import wait_until
from .test_metastudio_support import (
    MetaStudioApi,
    Receiver,
    callback_config,
    long_room,
    monitor,
    paragraph,
    room_body,
    scene,
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    yield recv
    recv.close()


def user(level: int = 1, name: str = "观众") -> dict[str, Any]:
    return {"userId": "2027271526", "name": name, "level": level, "badge": "", "badgeLevel": 0}


def event(kind: int, **content: Any) -> dict[str, Any]:
    return {
        "timestamp": int(time.time() * 1000),
        "type": kind,
        "content": json.dumps(content, ensure_ascii=False),
    }


def comment(text: str, level: int = 1) -> dict[str, Any]:
    return event(1, user=user(level), content=text)


def gift(number: int) -> dict[str, Any]:
    return event(
        4, user=user(), gift={"giftName": "玫瑰", "giftNum": number, "totalValue": number, "giftValue": 1}
    )


def rule(
    name: str, event_type: int, tags: list[dict[str, Any]], *replies: str, **trigger: Any
) -> dict[str, Any]:
    relation = trigger.pop("relation", "AND")
    priority = trigger.pop("priority", 500)
    return {
        "rule_name": name,
        "rule_index": name,
        "event_type": event_type,
        "hit_condition": {"relation": relation, "priority": priority, "tags": tags},
        "trigger": {
            "time_window": 0,
            "reply_mode": "SYSTEM_REPLY",
            "reply_texts": list(replies),
            "play_type": "APPEND",
            **trigger,
        },
    }


def tag(field: str, match: str, value: str, operation: str = "NONE") -> dict[str, Any]:
    return {"tag": field, "operation": operation, "match": match, "value": value}


def hits(control: httpx.Client, job_id: str) -> list[str]:
    return [hit["rule_index"] for hit in monitor(control, job_id)["rule_hits"]]


def test_reports_are_validated(api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    path = api.job_path(room_id, job_id) + "/live-event-report"
    cases = [
        ({"total": 2, "events": [comment("hi")]}, "total"),
        ({"events": [comment("hi")]}, "total"),
        ({"total": 1, "events": [{**comment("hi"), "type": 7}]}, "events.0.type"),
        ({"total": 1, "events": [{**comment("hi"), "type": "1"}]}, "events.0.type"),
        ({"total": 1, "events": [{"type": 1, "content": "{}"}]}, "events.0.timestamp"),
        ({"total": 1, "events": [{**comment("hi"), "content": "not json"}]}, "events.0.content"),
        ({"total": 1, "events": [{**comment("hi"), "content": {"user": {}}}]}, "events.0.content"),
    ]
    for body, mentions in cases:
        answer = api.call("POST", path, body, expect=400)
        assert answer["error_code"] == "MSS.00000003" and mentions in answer["error_msg"], (body, answer)


def test_events_are_counted_by_type(control: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    answer = api.report(room_id, job_id, [comment("你好"), comment("在吗"), event(2, user=user()), gift(1)])
    assert "/live-event-report?auth_key=" in answer["live_event_report_url"]
    api.report(room_id, job_id, [event(6, numberOfViewers=321)])
    counted = monitor(control, job_id)["events"]
    assert counted == {"reports": 2, "total": 5, "by_type": {"1": 2, "2": 1, "4": 1, "6": 1}}


def test_a_matching_system_reply_rule_plays_an_auto_insert(
    control: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    rules = [rule("问价", 1, [tag("content", "REGEX", "多少钱|价格")], "价格在小黄车里哦。")]
    body = long_room(
        sentences=12,
        interaction_rules=rules,
        live_event_callback_config=callback_config(receiver.base + "/cb", "REPLY_COMMAND_FINISH"),
    )
    room_id, job_id = api.live(body)
    api.report(room_id, job_id, [comment("这个多少钱?"), comment("主播好")])
    queued = api.inserts(room_id, job_id)
    assert len(queued) == 1
    auto = queued[0]
    assert auto["source"] == "AUTO" and auto["command"] == "INSERT_PLAY_SCRIPT"
    assert (
        auto["params"]["text_config"] == {"text": "价格在小黄车里哦。"}
        and auto["params"]["rule_index"] == "问价"
    )
    wait_until(lambda: receiver.events(), timeout=10)
    assert receiver.events()[0]["reply_id"] == auto["command_id"]
    view = monitor(control, job_id)
    assert view["rule_hits"][0]["command_id"] == auto["command_id"] and view["rule_hits"][0]["reply"]
    assert view["played_inserts"][0]["outcome"] == "played"


def test_tags_read_nested_fields_and_compare_numbers(control: httpx.Client, api: MetaStudioApi) -> None:
    rules = [
        rule("高等级", 1, [tag("level", "MATH_GE", "10"), tag("content", "REGEX", "^来了")], "欢迎大佬。"),
        rule("礼物", 4, [tag("gift.giftNum", "MATH_GT", "9")], "谢谢礼物。"),
        rule("入场", 2, [tag("name", "EQUAL", "小王")], "欢迎小王。"),
    ]
    room_id, job_id = api.live(long_room(interaction_rules=rules))
    api.report(
        room_id, job_id, [comment("来了", level=9), comment("来了", level=10), comment("我来了", level=50)]
    )
    api.report(room_id, job_id, [gift(9), gift(10)])
    api.report(room_id, job_id, [event(2, user=user(name="小李")), event(2, user=user(name="小王"))])
    assert hits(control, job_id) == ["高等级", "礼物", "入场"]


def test_sum_count_and_or_accumulate_until_the_rule_fires(control: httpx.Client, api: MetaStudioApi) -> None:
    rules = [
        rule("礼物累计", 4, [tag("giftNum", "MATH_GE", "10", operation="SUM")], "谢谢大家的礼物。"),
        rule("点赞", 3, [tag("userId", "MATH_GE", "3", operation="COUNT")], "谢谢点赞。"),
        rule(
            "任一", 1, [tag("content", "EQUAL", "1"), tag("content", "EQUAL", "2")], "收到。", relation="OR"
        ),
    ]
    room_id, job_id = api.live(long_room(interaction_rules=rules))
    api.report(room_id, job_id, [gift(4), gift(5)])
    assert hits(control, job_id) == []
    api.report(room_id, job_id, [gift(1), gift(9)])  # 10 reached at the third gift, then 9 again
    api.report(room_id, job_id, [event(3, user=user())] * 5)
    api.report(room_id, job_id, [comment("2"), comment("3")])
    assert hits(control, job_id) == ["礼物累计", "点赞", "任一"]


def test_time_window_suppresses_repeats(control: httpx.Client, api: MetaStudioApi) -> None:
    rules = [
        rule("一次", 1, [tag("content", "EQUAL", "once")], "只说一次。", time_window=-1),
        rule("一秒", 1, [tag("content", "EQUAL", "window")], "一秒一次。", time_window=1),
        rule("每次", 1, [tag("content", "EQUAL", "always")], "每次都说。", time_window=0),
    ]
    room_id, job_id = api.live(long_room(interaction_rules=rules))
    api.report(room_id, job_id, [comment("once"), comment("once"), comment("window"), comment("window")])
    api.report(room_id, job_id, [comment("always"), comment("always")])
    assert hits(control, job_id) == ["一次", "一秒", "每次", "每次"]
    time.sleep(1.05)
    api.report(room_id, job_id, [comment("once"), comment("window")])
    assert hits(control, job_id) == ["一次", "一秒", "每次", "每次", "一秒"]


def test_priority_and_the_reserved_fallback(control: httpx.Client, api: MetaStudioApi) -> None:
    rules = [
        rule("兜底", 1, [], "主播看到了。", relation="RESERVED"),
        rule("泛问", 1, [tag("content", "REGEX", "吗")], "在的。", priority=500),
        rule("发货", 1, [tag("content", "REGEX", "发货")], "48小时发货。", priority=1),
        {**rule("关闭", 1, [tag("content", "REGEX", ".*")], "不会说。", priority=0), "enabled": False},
        {
            **rule("别的场景", 1, [tag("content", "REGEX", ".*")], "不会说。", priority=0),
            "enabled_scenes": ["x"],
        },
    ]
    room_id, job_id = api.live(long_room(interaction_rules=rules))
    api.report(room_id, job_id, [comment("发货快吗"), comment("在吗"), comment("哈哈")])
    assert hits(control, job_id) == ["发货", "泛问", "兜底"]


def test_replies_are_chosen_in_order_by_default(control: httpx.Client, api: MetaStudioApi) -> None:
    rules = [rule("轮流", 2, [], "欢迎一。", "欢迎二。", "欢迎三。")]
    room_id, job_id = api.live(long_room(interaction_rules=rules))
    api.report(room_id, job_id, [event(2, user=user())] * 4)
    texts = [item["params"]["text_config"]["text"] for item in api.inserts(room_id, job_id)]
    assert texts == ["欢迎一。", "欢迎二。", "欢迎三。", "欢迎一。"]


def test_audio_replies_and_show_layer_rules(control: httpx.Client, api: MetaStudioApi) -> None:
    layer = {
        "layer_type": "IMAGE",
        "image_config": {"image_url": "https://e.com/heart.png", "display_duration": 5},
    }
    rules = [
        {
            **rule("音频", 4, []),
            "trigger": {
                "reply_mode": "SYSTEM_REPLY",
                "reply_audios": [{"audio_url": "https://e.com/thanks.mp3", "audio_name": "谢谢"}],
                "play_type": "APPEND",
            },
        },
        {**rule("点赞图层", 3, []), "trigger": {"reply_mode": "SHOW_LAYER", "layer_config": layer}},
        {**rule("回调", 2, []), "trigger": {"reply_mode": "CALLBACK", "reply_texts": ["x"]}},
    ]
    room_id, job_id = api.live(long_room(interaction_rules=rules))
    api.report(room_id, job_id, [gift(1), event(3, user=user()), event(2, user=user())])
    queued = api.inserts(room_id, job_id)
    assert [(i["command"], i["params"]["audio_url"]) for i in queued] == [
        ("INSERT_PLAY_AUDIO", "https://e.com/thanks.mp3")
    ]
    view = monitor(control, job_id)
    assert [shown["source"] for shown in view["layers"]] == ["rule:点赞图层"]
    assert [hit["reply_mode"] for hit in view["rule_hits"]] == ["SYSTEM_REPLY", "SHOW_LAYER", "CALLBACK"]


def test_rewritten_rules_replace_the_rooms(control: httpx.Client, api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room(interaction_rules=[rule("旧", 1, [], "旧规则。")]))
    new = [rule("新", 1, [tag("content", "EQUAL", "hi")], "新规则。")]
    api.command(room_id, job_id, "REWRITE_INTERACTION_RULES", {"interaction_rules": new})
    api.report(room_id, job_id, [comment("hello"), comment("hi")])
    assert hits(control, job_id) == ["新"]


def test_the_report_url_carries_its_own_key(
    control: httpx.Client, api: MetaStudioApi, sandbox_url: str
) -> None:
    room_id = api.create_room(long_room())
    url = api.start(room_id)["live_event_report_url"]
    body = {"total": 1, "events": [comment("hi")]}
    answer = httpx.post(url, json=body)
    assert answer.status_code == 200, answer.text
    parts = urlsplit(url)
    query = dict(pair.split("=") for pair in parts.query.split("&"))
    by_headers = httpx.post(
        f"{sandbox_url}{parts.path}",
        json=body,
        headers={"x-mss-auth-key": query["auth_key"], "x-mss-expires-time": query["expires_time"]},
    )
    assert by_headers.status_code == 200
    forged = httpx.post(url.replace("auth_key=", "auth_key=0"), json=body)
    assert forged.status_code == 401 and forged.json()["error_code"] == "MSS.00000001"
    no_key = httpx.post(f"{sandbox_url}{parts.path}", json=body)
    assert no_key.status_code == 401
    refreshed = httpx.post(url + "&refresh_url=true", json=body).json()["live_event_report_url"]
    assert refreshed != url and httpx.post(refreshed, json=body).status_code == 200
    job_id = parts.path.split("/")[-2]
    assert monitor(control, job_id)["events"]["total"] == 4


def test_an_expired_report_url_is_refused(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/config", json={"metastudio_report_url_seconds": 0.2})
    room_id = api.create_room(long_room())
    url = api.start(room_id)["live_event_report_url"]
    time.sleep(0.3)
    answer = httpx.post(url, json={"total": 0, "events": []})
    assert answer.status_code == 401 and "expired" in answer.json()["error_msg"]


def test_events_to_an_ended_job_are_refused(api: MetaStudioApi) -> None:
    room_id, job_id = api.live(long_room())
    api.stop(room_id, job_id)
    assert "ended" in api.report(room_id, job_id, [comment("hi")], expect=400)["error_msg"]


def test_events_to_a_waiting_job_are_counted_without_replies(
    control: httpx.Client, api: MetaStudioApi
) -> None:
    control.put("/_sandbox/config", json={"create_delay": 5})
    room_id = api.create_room(room_body(interaction_rules=[rule("任何", 1, [], "回复。")]))
    job_id = api.start(room_id)["job_id"]
    api.report(room_id, job_id, [comment("hi")])
    view = monitor(control, job_id)
    assert view["events"]["total"] == 1 and view["rule_hits"] == []


def test_rules_only_apply_in_their_scenes(control: httpx.Client, api: MetaStudioApi) -> None:
    long_text = "".join(f"第{i}句。" for i in range(60))
    body = room_body(
        scene_scripts=[
            scene("商品1", paragraph(1, "p", long_text)),
            scene("商品2", paragraph(1, "p", "短。")),
        ],
        interaction_rules=[
            {**rule("一", 1, [], "商品一的回复。"), "enabled_scenes": ["商品1"]},
            {**rule("二", 1, [], "商品二的回复。"), "enabled_scenes": ["商品2"]},
        ],
    )
    room_id, job_id = api.live(body)
    api.report(room_id, job_id, [comment("hi")])
    assert hits(control, job_id) == ["一"]
