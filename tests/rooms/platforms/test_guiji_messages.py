"""What the Guiji server pushes over MQTT (4.2.8), parsed for the bridge, and the heartbeat reply
the bridge sends back, byte for byte. The payloads are the document's examples."""

from __future__ import annotations

import json

import pytest

from rooms.platforms.base import PlatformError
from rooms.platforms.guiji import (
    HeartBeat,
    OtherMessage,
    PlaylistProgress,
    Reply,
    SessionDestroyed,
    Show,
    StreamPlay,
    heartbeat_reply,
    parse_server_message,
)

SID = "d910232b-c8b2-4243-a2fb-8ba9c84e31ec"
TOPIC_SUB = "1000043/topicSendClient0a7382ed-9191-4f02-9997-28d7a7832aea"


def parse(message: dict[str, object]) -> object:
    return parse_server_message(json.dumps(message).encode())


def test_a_heartbeat_is_parsed_with_its_session_id_unprefixed() -> None:
    message = parse(
        {"id": 15, "method": "HeartBeat", "params": {"sessionId": f":---:{SID}", "state": "Running"}}
    )

    assert isinstance(message, HeartBeat)
    assert (message.id, message.session_id, message.state) == (15, SID, "Running")


def test_the_heartbeat_reply_is_the_documents_example_byte_for_byte() -> None:
    beat = parse_server_message(
        b'{"id":15,"method":"HeartBeat","params":{"sessionId":":---:'
        + SID.encode()
        + b'","state":"Running"}}'
    )
    assert isinstance(beat, HeartBeat)

    assert (
        heartbeat_reply(beat, SID, TOPIC_SUB)
        == (
            f'{{"id":15,"result":{{"sessionId":":---:{SID}","message":"Heartbeat received."}},'
            f'"sessionId":"{SID}","sender":"{TOPIC_SUB}"}}'
        ).encode()
    )


def test_session_destroyed_carries_its_cause() -> None:
    message = parse(
        {
            "id": 73,
            "method": "SessionState",
            "params": {"sessionId": SID, "state": "Destroy", "cause": "heartbeat timeout"},
        }
    )

    assert isinstance(message, SessionDestroyed)
    assert (message.session_id, message.cause) == (SID, "heartbeat timeout")


def test_stream_play_gives_the_play_addresses_by_protocol() -> None:
    playaddr = {
        "rtmp": {"lan": "rtmp://192.168.0.1:1935/x/y", "wan": "rtmp://172.16.103.14:1935/x/y"},
        "rtsp": {"lan": "rtsp://192.168.0.1:554/x/y", "wan": "rtsp://172.16.103.14:554/x/y"},
        "http-flv": {"lan": "http://192.168.0.1:8080/x/y", "wan": "http://172.16.103.14:8080/x/y"},
    }
    message = parse(
        {
            "id": 73,
            "method": "SessionState",
            "params": {"sessionId": SID, "state": "StreamPlay", "playaddr": playaddr},
        }
    )

    assert isinstance(message, StreamPlay)
    assert message.session_id == SID
    assert message.addresses() == playaddr


def test_show_says_which_layer_and_scene_came_on() -> None:
    message = parse(
        {
            "id": 27,
            "sessionId": SID,
            "method": "SessionState",
            "params": {
                "sessionId": SID,
                "state": "Show",
                "info": "Do you see me ? dthuman",
                "udCode": "369590278856773",
                "id": "dthuman#1",
                "name": "dthuman",
                "type": "dthuman",
            },
        }
    )

    assert isinstance(message, Show)
    assert (message.type, message.ud_code, message.name) == ("dthuman", "369590278856773", "dthuman")


@pytest.mark.parametrize(("kind", "inserted"), [("playList", False), ("insertlist", True)])
def test_playlist_progress_gives_the_item_and_the_list(kind: str, inserted: bool) -> None:
    message = parse(
        {
            "id": 27,
            "sessionId": SID,
            "method": "SessionState",
            "params": {
                "sessionId": SID,
                "status": "begin",
                "type": kind,
                "nowPcmId": 6,
                "playList": "[6,9,12,33]",
            },
        }
    )

    assert isinstance(message, PlaylistProgress)
    assert (message.status, message.now_pcm_id, message.playlist, message.inserted) == (
        "begin",
        6,
        [6, 9, 12, 33],
        inserted,
    )


def test_replies_are_parsed_as_replies() -> None:
    result = parse({"id": 2, "result": {"sessionId": SID, "ok": True, "info": "close sess ok"}})
    error = parse(
        {"id": 3, "sessionId": SID, "error": {"sessionId": SID, "message": "duplicate id", "code": -32600}}
    )

    assert isinstance(result, Reply)
    assert result.session_id == SID
    assert isinstance(error, Reply)
    assert error.error is not None
    assert (error.error.code, error.error.message) == (-32600, "duplicate id")


def test_unknown_states_and_methods_are_other_messages() -> None:
    state = parse({"id": 1, "method": "SessionState", "params": {"sessionId": SID, "state": "Hide"}})
    method = parse({"id": 1, "method": "Unknown", "params": {"sessionId": f":---:{SID}"}})

    assert isinstance(state, OtherMessage)
    assert isinstance(method, OtherMessage)
    assert method.session_id == SID


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b'{"id":1,"method":"HeartBeat","params":{}}',
        b'{"id":1,"method":"SessionState","params":{"sessionId":"s","status":"begin","nowPcmId":"x"}}',
    ],
)
def test_malformed_messages_are_a_permanent_error(payload: bytes) -> None:
    with pytest.raises(PlatformError) as caught:
        parse_server_message(payload)

    assert (caught.value.permanent, caught.value.code) == (True, "malformed")
