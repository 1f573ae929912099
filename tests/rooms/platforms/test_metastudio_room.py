"""The MetaStudio room from LiveDeck's rows (表3-表35), opening a session (create or update the
room, start a job), rewriting the show during a live, and the official SDK as an oracle: the
same room and start body built with huaweicloudsdkmetastudio's model classes must be the same
JSON as LiveDeck's."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.utils.http_utils import sanitize_for_serialization
from huaweicloudsdkmetastudio.v1 import model as sdk

from rooms.models import LiveSession, Room, ScriptLayer
from rooms.platforms.base import LiveState, Paragraph, PlatformError, RtcInfo
from rooms.platforms.metastudio import room_body, start_body
from tests.factories import (
    InteractionRuleFactory,
    MetaStudioAccountFactory,
    MetaStudioRoomFactory,
    MetaStudioScriptFactory,
    ScriptLayerFactory,
    ScriptParagraphFactory,
)
from tests.rooms.platforms.test_metastudio_driver import (
    AK,
    API,
    BASE,
    JOB_ID,
    PROJECT,
    ROOM_ID,
    SK,
    FakeMetaStudio,
    assert_sent,
    command_answer,
    compact,
    ok,
)

pytestmark = pytest.mark.django_db
SITE = "https://livedeck.example"
SECRET = "GCTbw44s6MPLh4GqgDpnfuFHgy25Enly"


def load(room: Room) -> Room:
    """The room as the service hands it to the driver."""
    return (
        Room.objects.select_related("script", "account")
        .prefetch_related("script__paragraphs", "script__layers", "rules")
        .get(pk=room.pk)
    )


@pytest.fixture(autouse=True)
def site(settings: Any) -> None:
    settings.SITE_URL = SITE


@pytest.fixture
def show() -> Room:
    """A room with everything MetaStudio's room has a field for."""
    account = MetaStudioAccountFactory(
        base_url=f"{BASE}/",
        credentials={"project_id": PROJECT, "access_key": AK, "secret_key": SK, "callback_secret": SECRET},
    )
    script = MetaStudioScriptFactory(
        name="Morning show",
        ms_voice_speed=110,
        ms_voice_pitch=90,
        ms_voice_volume=150,
        ms_repeat_count=3,
        ms_random_play_mode="SCRIPT_ITEM",
        background_url="https://assets.example.com/backgrounds/studio.png",
    )
    # Made out of order: the paragraphs go by position, the layers by layer order.
    ScriptParagraphFactory(script=script, position=2, title="", text="下单链接在下方。")
    ScriptParagraphFactory(script=script, position=1, title="开场", text="大家好，欢迎来到直播间！")
    ScriptLayerFactory(
        script=script,
        kind=ScriptLayer.Kind.TEXT,
        x=100,
        y=1600,
        width=880,
        height=120,
        layer_index=30,
        url="",
        text="测试文字水印",
        font_name="HarmonyOS_Sans_SC_Regular",
        font_size=48,
        font_color="#FF0000",
    )
    ScriptLayerFactory(script=script, x=-20, y=40, width=300, height=200, layer_index=10)
    ScriptLayerFactory(
        script=script,
        kind=ScriptLayer.Kind.VIDEO,
        x=0,
        y=1200,
        width=1080,
        height=608,
        layer_index=20,
        url="https://assets.example.com/layers/promo.mp4",
        video_cover_url="https://assets.example.com/layers/promo.jpg",
        loop_count=3,
    )
    room = MetaStudioRoomFactory(
        name="Room A",
        description="课件",
        account=account,
        script=script,
        bitrate=3.5,
        push_urls="rtmp://push.example.com/live\n",
        stream_key="stream-key-1",
        backup_anchor_ids="m-backup-1\nm-backup-2\n",
        ms_play_type="APPEND",
        ms_ignore_current_sentence=True,
        callback_auth="MSS_A_HEAD",
        co_streamer_voice_id="co-voice-1",
        co_streamer_action="VOLUME_DOWN",
    )
    InteractionRuleFactory(
        room=room,
        name="Price",
        event_type=1,
        tag="content",
        match="REGEX",
        value="多少钱|价格",
        reply_texts="今天特价 99 元。\n看下方链接。\n",
        reply_order="ORDER",
        time_window=30,
        priority=10,
    )
    InteractionRuleFactory(
        room=room,
        name="Big gift",
        enabled=False,
        event_type=4,
        tag="giftNum",
        match="MATH_GE",
        value="10",
        reply_texts="谢谢大哥的礼物！",
        reply_order="RANDOM",
        time_window=-1,
        priority=500,
    )
    return load(room)


def callback_url(room: Room) -> str:
    return f"{SITE}/callbacks/metastudio/{room.account.callback_key}/"


def expected_room(room: Room) -> dict[str, Any]:
    return {
        "room_name": "Room A",
        "room_description": "课件",
        "room_type": "NORMAL",
        "scene_scripts": [
            {
                "script_name": "Morning show",
                "model_asset_id": "a5d295cdb345c11bd9f36bc22ced3a7a",
                "voice_config": {
                    "voice_asset_id": "b6e306dec456d22ce0a47cd33dfe4b8b",
                    "speed": 110,
                    "pitch": 90,
                    "volume": 150,
                },
                "background_config": [
                    {
                        "background_type": "IMAGE",
                        "background_config": "https://assets.example.com/backgrounds/studio.png",
                    }
                ],
                "layer_config": [
                    {
                        "layer_type": "IMAGE",
                        "position": {"dx": -20, "dy": 40, "layer_index": 10},
                        "size": {"width": 300, "height": 200},
                        "image_config": {"image_url": "https://assets.example.com/layers/logo.png"},
                    },
                    {
                        "layer_type": "VIDEO",
                        "position": {"dx": 0, "dy": 1200, "layer_index": 20},
                        "size": {"width": 1080, "height": 608},
                        "video_config": {
                            "video_url": "https://assets.example.com/layers/promo.mp4",
                            "video_cover_url": "https://assets.example.com/layers/promo.jpg",
                            "loop_count": 3,
                        },
                    },
                    {
                        "layer_type": "TEXT",
                        "position": {"dx": 100, "dy": 1600, "layer_index": 30},
                        "size": {"width": 880, "height": 120},
                        # 表11's own example: "测试文字水印" is 5rWL6K+V5paH5a2X5rC05Y2w.
                        "text_config": {
                            "text_context": "5rWL6K+V5paH5a2X5rC05Y2w",
                            "font_name": "HarmonyOS_Sans_SC_Regular",
                            "font_size": 48,
                            "font_color": "#FF0000",
                        },
                    },
                ],
                "shoot_scripts": [
                    {"sequence_no": 0, "title": "开场", "text_config": {"text": "大家好，欢迎来到直播间！"}},
                    {"sequence_no": 1, "text_config": {"text": "下单链接在下方。"}},
                ],
            }
        ],
        "interaction_config": {"play_type": "APPEND", "ignore_current_sentence": True},
        "interaction_rules": [
            {
                "rule_name": "Price",
                "enabled": True,
                "event_type": 1,
                "hit_condition": {
                    "relation": "AND",
                    "priority": 10,
                    "tags": [
                        {"tag": "content", "operation": "NONE", "match": "REGEX", "value": "多少钱|价格"}
                    ],
                },
                "trigger": {
                    "time_window": 30,
                    "reply_mode": "SYSTEM_REPLY",
                    "reply_texts": ["今天特价 99 元。", "看下方链接。"],
                    "reply_order": "ORDER",
                },
            },
            {
                "rule_name": "Big gift",
                "enabled": False,
                "event_type": 4,
                "hit_condition": {
                    "relation": "AND",
                    "priority": 500,
                    "tags": [{"tag": "giftNum", "operation": "NONE", "match": "MATH_GE", "value": "10"}],
                },
                "trigger": {
                    "time_window": -1,
                    "reply_mode": "SYSTEM_REPLY",
                    "reply_texts": ["谢谢大哥的礼物！"],
                    "reply_order": "RANDOM",
                },
            },
        ],
        "play_policy": {
            "repeat_count": 3,
            "auto_play_script": True,
            "play_mode": "TEXT",
            "random_play_mode": "SCRIPT_ITEM",
        },
        "video_config": {
            "clip_mode": "RESIZE",
            "codec": "H264",
            "bitrate": 3500,
            "width": 1080,
            "height": 1920,
            "frame_rate": "25",
        },
        "output_urls": ["rtmp://push.example.com/live"],
        "stream_keys": ["stream-key-1"],
        "backup_model_asset_ids": ["m-backup-1", "m-backup-2"],
        "live_event_callback_config": {
            "live_event_type_callback_url": callback_url(room),
            "auth_type": "MSS_A_HEAD",
            "key": SECRET,
            "callback_event_type": [
                "SHOOT_SCRIPT_SWITCH",
                "RTMP_STREAM_STATE_CHANGE",
                "REPLY_COMMAND_FINISH",
            ],
        },
        "co_streamer_config": {
            "voice_config": {"voice_asset_id": "co-voice-1"},
            "streamer_action": "VOLUME_DOWN",
        },
        "priv_data": json.dumps({"livedeck_room": room.pk}, separators=(",", ":")),
    }


def expected_start(room: Room) -> dict[str, Any]:
    whole = expected_room(room)
    return {
        "video_config": whole["video_config"],
        "play_policy": whole["play_policy"],
        "output_urls": whole["output_urls"],
        "stream_keys": whole["stream_keys"],
        "live_event_callback_config": whole["live_event_callback_config"],
        "view_mode": "VERTICAL",
    }


# The room body ------------------------------------------------------------------------------------


def test_room_body_is_the_whole_show_field_for_field(show: Room, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        body = room_body(show)
    assert body.dump() == expected_room(show)
    # Sent as compact UTF-8, Chinese unescaped, in the document's field order.
    assert body.encode() == compact(expected_room(show))


def test_start_body_is_the_rooms_video_play_policy_output_and_callbacks(
    show: Room, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        body = start_body(show)
    assert body.encode() == compact(expected_start(show))


def test_a_landscape_room_starts_in_landscape_view(show: Room) -> None:
    show.resolution_width, show.resolution_height = 1920, 1080
    assert start_body(show).dump()["view_mode"] == "LANDSCAPE"


def test_a_bare_room_sends_only_what_it_has(settings: Any) -> None:
    script = MetaStudioScriptFactory(background_url="", opening_text="Hello everyone, this is the opening.")
    room = load(MetaStudioRoomFactory(script=script, callback_auth="NONE", bitrate=4))
    body = room_body(room).dump()
    assert set(body) == {
        "room_name",
        "room_type",
        "scene_scripts",
        "interaction_config",
        "interaction_rules",
        "play_policy",
        "video_config",
        "live_event_callback_config",
        "priv_data",
    }
    # A script without paragraphs speaks its opening text.
    assert body["scene_scripts"][0]["shoot_scripts"] == [
        {"sequence_no": 0, "text_config": {"text": "Hello everyone, this is the opening."}}
    ]
    assert body["interaction_rules"] == []
    assert body["video_config"]["bitrate"] == 4000
    # Unsigned callbacks carry no key: the URL is the credential.
    assert body["live_event_callback_config"] == {
        "live_event_type_callback_url": callback_url(room),
        "auth_type": "NONE",
        "callback_event_type": ["SHOOT_SCRIPT_SWITCH", "RTMP_STREAM_STATE_CHANGE", "REPLY_COMMAND_FINISH"],
    }


def test_a_push_url_without_stream_key_sends_no_keys() -> None:
    room = load(MetaStudioRoomFactory(push_urls="rtmp://push.example.com/live"))
    body = room_body(room).dump()
    assert body["output_urls"] == ["rtmp://push.example.com/live"]
    assert "stream_keys" not in body


def test_a_room_metastudio_would_refuse_is_refused_before_sending(show: Room) -> None:
    show.name = "x" * 257
    with pytest.raises(PlatformError) as raised:
        room_body(show)
    assert raised.value.permanent and "room_name" in str(raised.value)


# Opening a session ----------------------------------------------------------------------------------


def session_for(room: Room, **fields: Any) -> LiveSession:
    return LiveSession.objects.create(room=room, account=room.account, state=LiveState.CREATING, **fields)


STARTED = {
    "job_id": JOB_ID,
    "rtc_room_info": {
        "app_id": "rtc-app",
        "room_id": "rtc-room-9",
        "users": [{"user_type": "PLAYER", "user_id": "player-1", "signature": "sig-player", "ctime": 1}],
    },
    "live_event_report_url": "https://report.example.com/events?auth_key=abc",
    "live_event_callback_config": {"auth_type": "MSS_A_HEAD"},
    "live_warning_info": [{"warning_type": "TOO_LESS_DANMAKU_RULES"}],
    "limit_duration": 0,
}


def test_open_session_creates_the_room_then_starts_a_job(show: Room, django_assert_num_queries: Any) -> None:
    session = session_for(show)
    vendor = FakeMetaStudio(
        {
            ("POST", "/smart-live-rooms"): ok({"room_id": ROOM_ID}),
            ("POST", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs"): ok(STARTED),
        }
    )
    with django_assert_num_queries(0):
        info = vendor.run(show.account, lambda d: d.open_session(show, session))
    create, start = vendor.requests
    assert_sent(create, "POST", f"{API}/smart-live-rooms", compact(expected_room(show)))
    assert_sent(
        start, "POST", f"{API}/smart-live-rooms/{ROOM_ID}/smart-live-jobs", compact(expected_start(show))
    )
    assert info.vendor_session_id == JOB_ID
    assert info.session_token == ""
    assert info.status.state is LiveState.CREATING
    assert info.status.vendor_code == "WAITING"
    assert info.status.rtc == RtcInfo(
        app_id="rtc-app", channel_id="rtc-room-9", uid="player-1", token="sig-player"
    )
    assert info.vendor_data == {
        "live_id": ROOM_ID,
        "live_event_report_url": "https://report.example.com/events?auth_key=abc",
        "rtc": {"app_id": "rtc-app", "channel_id": "rtc-room-9", "uid": "player-1"},
        "callback_auth": "MSS_A_HEAD",
        "warnings": ["TOO_LESS_DANMAKU_RULES"],
        "limit_duration": 0,
    }


def test_open_session_updates_a_room_the_vendor_has(show: Room) -> None:
    show.vendor_room_id = ROOM_ID
    vendor = FakeMetaStudio(
        {
            ("PUT", f"/smart-live-rooms/{ROOM_ID}"): ok({"room_id": ROOM_ID, "room_name": "Room A"}),
            ("POST", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs"): ok(STARTED),
        }
    )
    session = session_for(show)
    info = vendor.run(show.account, lambda d: d.open_session(show, session))
    update, _start = vendor.requests
    assert_sent(update, "PUT", f"{API}/smart-live-rooms/{ROOM_ID}", compact(expected_room(show)))
    assert info.vendor_data["live_id"] == ROOM_ID


def test_open_session_creates_the_room_again_when_the_vendor_lost_it(show: Room) -> None:
    show.vendor_room_id = "lost-room"
    lost = httpx.Response(404, json={"error_code": "MSS.00000003", "error_msg": "room not found"})
    vendor = FakeMetaStudio(
        {
            ("PUT", "/smart-live-rooms/lost-room"): lost,
            ("POST", "/smart-live-rooms"): ok({"room_id": ROOM_ID}),
            ("POST", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs"): ok(STARTED),
        }
    )
    session = session_for(show)
    info = vendor.run(show.account, lambda d: d.open_session(show, session))
    assert [(r.method, r.url.path) for r in vendor.requests] == [
        ("PUT", f"{API}/smart-live-rooms/lost-room"),
        ("POST", f"{API}/smart-live-rooms"),
        ("POST", f"{API}/smart-live-rooms/{ROOM_ID}/smart-live-jobs"),
    ]
    assert info.vendor_data["live_id"] == ROOM_ID


def test_open_session_stops_when_the_update_is_refused_otherwise(show: Room) -> None:
    show.vendor_room_id = ROOM_ID
    refused = httpx.Response(400, json={"error_code": "MSS.00000003", "error_msg": "Invalid parameter"})
    vendor = FakeMetaStudio({("PUT", f"/smart-live-rooms/{ROOM_ID}"): refused})
    session = session_for(show)
    with pytest.raises(PlatformError) as raised:
        vendor.run(show.account, lambda d: d.open_session(show, session))
    assert raised.value.permanent and len(vendor.requests) == 1


def test_a_room_created_for_a_job_that_was_refused_is_deleted_again(show: Room) -> None:
    refused = httpx.Response(400, json={"error_code": "MSS.00000003", "error_msg": "no resources"})
    vendor = FakeMetaStudio(
        {
            ("POST", "/smart-live-rooms"): ok({"room_id": ROOM_ID}),
            ("POST", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs"): refused,
            ("DELETE", f"/smart-live-rooms/{ROOM_ID}"): ok(),
        }
    )
    session = session_for(show)
    with pytest.raises(PlatformError) as raised:
        vendor.run(show.account, lambda d: d.open_session(show, session))
    assert raised.value.permanent and "no resources" in str(raised.value)
    assert_sent(vendor.requests[-1], "DELETE", f"{API}/smart-live-rooms/{ROOM_ID}")


def test_a_start_that_timed_out_keeps_the_room_it_may_be_running_in(show: Room) -> None:
    vendor = FakeMetaStudio(
        {
            ("POST", "/smart-live-rooms"): ok({"room_id": ROOM_ID}),
            ("POST", f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs"): httpx.ReadTimeout("slow"),
        }
    )
    session = session_for(show)
    with pytest.raises(PlatformError) as raised:
        vendor.run(show.account, lambda d: d.open_session(show, session))
    assert not raised.value.permanent
    assert [r.method for r in vendor.requests] == ["POST", "POST"]


# Rewriting the show during a live ------------------------------------------------------------------


def live(room: Room) -> LiveSession:
    session = session_for(room, vendor_session_id=JOB_ID, vendor_data={"live_id": ROOM_ID})
    session.room = room
    return session


COMMAND_PATH = f"/smart-live-rooms/{ROOM_ID}/smart-live-jobs/{JOB_ID}/command"


def test_rewrite_script_replaces_the_scenes_paragraphs(show: Room, django_assert_num_queries: Any) -> None:
    vendor = FakeMetaStudio({("POST", COMMAND_PATH): command_answer("REWRITE_PLAY_SCRIPT")})
    paragraphs = [Paragraph(sequence_no=1, title="新", text="新的第二段。")]
    session = live(show)
    with django_assert_num_queries(0):
        vendor.run(show.account, lambda d: d.rewrite_script(session, paragraphs))
    scene = expected_room(show)["scene_scripts"][0] | {
        "shoot_scripts": [{"sequence_no": 1, "title": "新", "text_config": {"text": "新的第二段。"}}]
    }
    assert_sent(
        vendor.only,
        "POST",
        f"{API}{COMMAND_PATH}",
        compact({"command": "REWRITE_PLAY_SCRIPT", "params": {"scene_scripts": [scene]}}),
    )


def test_rewrite_rules_sends_the_rooms_rules(show: Room, django_assert_num_queries: Any) -> None:
    vendor = FakeMetaStudio({("POST", COMMAND_PATH): command_answer("REWRITE_INTERACTION_RULES")})
    session = live(show)
    with django_assert_num_queries(0):
        vendor.run(show.account, lambda d: d.rewrite_rules(session, show))
    assert_sent(
        vendor.only,
        "POST",
        f"{API}{COMMAND_PATH}",
        compact(
            {
                "command": "REWRITE_INTERACTION_RULES",
                "params": {"interaction_rules": expected_room(show)["interaction_rules"]},
            }
        ),
    )


# The official SDK as an oracle -------------------------------------------------------------------------


def sdk_scene(room: Room) -> Any:
    script = room.script
    layers = []
    for layer in script.layers.all():
        position = sdk.LayerPositionConfig(dx=layer.x, dy=layer.y, layer_index=layer.layer_index)
        size = sdk.LayerSizeConfig(width=layer.width, height=layer.height)
        if layer.kind == "IMAGE":
            layers.append(
                sdk.LayerConfig(
                    layer_type="IMAGE",
                    position=position,
                    size=size,
                    image_config=sdk.ImageLayerConfig(layer.url),
                )
            )
        elif layer.kind == "VIDEO":
            video = sdk.VideoLayerConfig(
                video_url=layer.url, video_cover_url=layer.video_cover_url, loop_count=layer.loop_count
            )
            layers.append(
                sdk.LayerConfig(layer_type="VIDEO", position=position, size=size, video_config=video)
            )
        else:
            text = sdk.TextLayerConfig(
                text_context="5rWL6K+V5paH5a2X5rC05Y2w",
                font_name=layer.font_name,
                font_size=layer.font_size,
                font_color=layer.font_color,
            )
            layers.append(sdk.LayerConfig(layer_type="TEXT", position=position, size=size, text_config=text))
    return sdk.LiveVideoScriptInfo(
        script_name=script.name,
        model_asset_id=script.ms_model_asset_id,
        voice_config=sdk.VoiceConfig(
            voice_asset_id=script.ms_voice_asset_id,
            speed=script.ms_voice_speed,
            pitch=script.ms_voice_pitch,
            volume=script.ms_voice_volume,
        ),
        background_config=[
            sdk.BackgroundConfigInfo(background_type="IMAGE", background_config=script.background_url)
        ],
        layer_config=layers,
        shoot_scripts=[
            sdk.LiveShootScriptItem(
                sequence_no=number,
                title=paragraph.title or None,
                text_config=sdk.TextConfig(text=paragraph.text),
            )
            for number, paragraph in enumerate(script.paragraphs.all())
        ],
    )


def sdk_rules(room: Room) -> list[Any]:
    return [
        sdk.LiveRoomInteractionRuleInfo(
            rule_name=rule.name,
            enabled=rule.enabled,
            event_type=rule.event_type,
            hit_condition=sdk.HitCondition(
                relation="AND",
                priority=rule.priority,
                tags=[
                    sdk.HitConditionTag(tag=rule.tag, operation="NONE", match=rule.match, value=rule.value)
                ],
            ),
            trigger=sdk.TriggerProcess(
                time_window=rule.time_window,
                reply_mode="SYSTEM_REPLY",
                reply_texts=rule.reply_list(),
                reply_order=rule.reply_order,
            ),
        )
        for rule in room.rules.all()
    ]


def sdk_common(room: Room) -> dict[str, Any]:
    return {
        "play_policy": sdk.PlayPolicy(
            repeat_count=room.script.ms_repeat_count,
            auto_play_script=True,
            play_mode="TEXT",
            random_play_mode=room.script.ms_random_play_mode,
        ),
        "video_config": sdk.VideoConfig(
            clip_mode="RESIZE",
            codec="H264",
            bitrate=3500,
            width=room.resolution_width,
            height=room.resolution_height,
            frame_rate="25",
        ),
        "output_urls": room.push_url_list(),
        "stream_keys": [room.stream_key],
    }


def test_the_sdk_builds_the_same_create_room_body(show: Room) -> None:
    request = sdk.CreateSmartLiveRoomReq(
        room_name=show.name,
        room_description=show.description,
        room_type="NORMAL",
        scene_scripts=[sdk_scene(show)],
        interaction_config=sdk.LiveRoomInteractionConfig(play_type="APPEND", ignore_current_sentence=True),
        interaction_rules=sdk_rules(show),
        backup_model_asset_ids=show.backup_anchor_list(),
        live_event_callback_config=sdk.LiveRoomEventCallBackConfig(
            live_event_type_callback_url=callback_url(show),
            auth_type="MSS_A_HEAD",
            key=SECRET,
            callback_event_type=["SHOOT_SCRIPT_SWITCH", "RTMP_STREAM_STATE_CHANGE", "REPLY_COMMAND_FINISH"],
        ),
        co_streamer_config=sdk.CoStreamerConfig(
            voice_config=sdk.VoiceConfig(voice_asset_id="co-voice-1"), streamer_action="VOLUME_DOWN"
        ),
        priv_data=f'{{"livedeck_room":{show.pk}}}',
        **sdk_common(show),
    )
    assert json.loads(room_body(show).encode()) == json.loads(json.dumps(sanitize_for_serialization(request)))


def test_the_sdk_builds_the_same_start_job_body(show: Room) -> None:
    request = sdk.StartSmartLiveReq(
        live_event_callback_config=sdk.LiveEventCallBackConfig(
            live_event_type_callback_url=callback_url(show),
            auth_type="MSS_A_HEAD",
            key=SECRET,
            callback_event_type=["SHOOT_SCRIPT_SWITCH", "RTMP_STREAM_STATE_CHANGE", "REPLY_COMMAND_FINISH"],
        ),
        view_mode="VERTICAL",
        **sdk_common(show),
    )
    assert json.loads(start_body(show).encode()) == json.loads(
        json.dumps(sanitize_for_serialization(request))
    )


def test_the_sdk_builds_the_same_takeover_and_exit_commands() -> None:
    from rooms.platforms.metastudio_models import Command, LiveExitConfig, PlayTextInfo, TextConfig

    ours = Command(
        command="INSERT_PLAY_SCRIPT",
        params=PlayTextInfo(text_config=TextConfig(text="你好"), play_type="PLAY_NOW"),
    )
    theirs = sdk.ControlSmartLiveReq(
        command="INSERT_PLAY_SCRIPT", params={"text_config": {"text": "你好"}, "play_type": "PLAY_NOW"}
    )
    assert json.loads(ours.encode()) == sanitize_for_serialization(theirs)
    exit_config = LiveExitConfig(
        max_live_duration=2, auto_stop_mode="SCENE_END", max_exception_waiting_duration=5
    )
    theirs = sdk.ControlSmartLiveReq(
        command="RESET_EXIT_CONFIG",
        params=sanitize_for_serialization(
            sdk.LiveExitConfig(
                max_live_duration=2, auto_stop_mode="SCENE_END", max_exception_waiting_duration=5
            )
        ),
    )
    assert json.loads(Command(command="RESET_EXIT_CONFIG", params=exit_config).encode()) == (
        sanitize_for_serialization(theirs)
    )


def test_the_sdk_reads_a_start_answer_and_a_job_as_the_driver_does() -> None:
    from rooms.platforms.metastudio_models import Job, StartedJob

    started = StartedJob.model_validate(STARTED)
    theirs = sdk.StartSmartLiveResponse(
        job_id=JOB_ID,
        rtc_room_info=sdk.RTCRoomInfoList(
            app_id="rtc-app",
            room_id="rtc-room-9",
            users=[sdk.RTCUserInfo(user_type="PLAYER", user_id="player-1", signature="sig-player", ctime=1)],
        ),
        live_event_report_url=STARTED["live_event_report_url"],
        live_warning_info=[sdk.LiveWarningItem(warning_type="TOO_LESS_DANMAKU_RULES")],
        limit_duration=0,
    )
    assert started.model_dump(exclude_none=True) == {
        key: value
        for key, value in sanitize_for_serialization(theirs).items()
        if key in StartedJob.model_fields
    }
    job = Job.model_validate(
        {"job_id": JOB_ID, "state": "BLOCKED", "block_reason": "违规", "room_id": ROOM_ID}
    )
    assert set(Job.model_fields) <= set(sdk.ShowSmartLiveResponse.attribute_map.values())
    assert job.state in ("WAITING", "PROCESSING", "SUCCEED", "FAILED", "BLOCKED")
