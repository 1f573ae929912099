"""Guiji sessions over a real MQTT broker: make, Show, StreamPlay, heartbeats, layers, ends.

The helpers here (``MqttClient``, ``Live``, the ``live`` fixture) are shared with the playlist tests.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.stack import Stack

from .conftest import wait_until
from .test_guiji_http import ANDY_DESK, ANDY_STANDING, SUNNY, GuijiAccount

TOPIC_PUB = "live-proxy-0"
# Quick enough for a suite in seconds, slow enough to see the order of things.
FAST = {
    "create_delay": 0.05,
    "guiji_show_delay": 0.05,
    "speech_seconds_per_char": 0.01,
    "min_sentence_seconds": 0.2,
    "default_audio_seconds": 0.3,
}

Message = dict[str, Any]


class MqttClient:
    """The test's own MQTT connection: records what arrives, optionally answers HeartBeats."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.messages: list[tuple[float, str, Message]] = []
        self.answer_heartbeats = True
        self._changed = threading.Condition()
        self._subscribed: set[int] = set()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:10]}")
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        with self._changed:
            self._subscribed.add(mid)
            self._changed.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        payload = json.loads(message.payload)
        if self.answer_heartbeats and payload.get("method") == "HeartBeat":
            reply = {
                "id": payload["id"],
                "result": {"sessionId": payload["params"]["sessionId"], "message": "Heartbeat received."},
                "sessionId": payload["sessionId"],
                "sender": message.topic,
            }
            client.publish(TOPIC_PUB, json.dumps(reply), qos=1)
        with self._changed:
            self.messages.append((time.monotonic(), message.topic, payload))
            self._changed.notify_all()

    def subscribe(self, topic: str) -> None:
        _, mid = self.client.subscribe(topic, qos=1)
        with self._changed:
            assert self._changed.wait_for(lambda: mid in self._subscribed, timeout=5), (
                f"no SUBACK for {topic}"
            )

    def publish(self, message: Message, topic: str = TOPIC_PUB) -> None:
        self.client.publish(topic, json.dumps(message), qos=1).wait_for_publish(timeout=5)

    def wait(
        self, predicate: Callable[[str, Message], bool], timeout: float = 5.0, start: int = 0
    ) -> Message:
        """The first message (from index ``start``) matching ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for _, topic, message in self.messages[start:]:
                    if predicate(topic, message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching MQTT message within {timeout} s")
                self._changed.wait(left)

    def on(self, topic: str) -> list[Message]:
        with self._changed:
            return [message for _, t, message in self.messages if t == topic]

    def timed(self, topic: str) -> list[tuple[float, Message]]:
        with self._changed:
            return [(at, message) for at, t, message in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def res_list(ud_code: str = ANDY_STANDING, **extra_layers: Any) -> list[Message]:
    """The document's resList: an rtmp element, the anchor, an image, a background."""
    return [
        {"type": "center", "resOptions": {"name": "rtmp", "type": "rtmp"}},
        {
            "type": "center",
            "resOptions": {
                "type": "dthuman",
                "name": "dthuman",
                "audioDriven": {
                    "mode": "livestream",
                    "udCodeUsed": ud_code,
                    "randomPlay": False,
                    "templates": [
                        {
                            "sequence": [f"https://assets.livedeck.local/{ud_code}.mp4"],
                            "udCode": ud_code,
                            "matting": 0,
                        }
                    ],
                    "quarter": 0,
                },
            },
            "drawOptions": {"x": 0, "y": 0, "width": 1080, "height": 1920},
        },
        {
            "type": "fore",
            "resOptions": {"type": "image", "name": "image", "url": "https://assets.livedeck.local/fans.png"},
            "drawOptions": {"x": 28, "y": 94, "width": 386, "height": 332},
        },
        {
            "type": "back",
            "resOptions": {
                "name": "background",
                "type": "image",
                "url": "https://assets.livedeck.local/purple.png",
                "exclusive": {"SameNameInGroup": True},
            },
            "drawOptions": {"x": 0, "y": 0, "width": 1080, "height": 1920, "zidx": -1},
        },
    ]


class Live:
    """One Guiji session driven the way a client does: 3.17 over HTTP, then MQTT."""

    def __init__(self, account: GuijiAccount, client: MqttClient, live_id: int) -> None:
        self.account = account
        self.client = client
        self.live_id = live_id
        created = account.create_session(live_id)
        self.session_id: str = created["sessionId"]
        self.topic: str = created["topicSub"]
        self.next_id = 0
        client.subscribe(self.topic)

    def send(
        self, method: str, params: Message | None = None, *, request_id: int | None = None, **top: Any
    ) -> int:
        if request_id is None:
            self.next_id += 1
            request_id = self.next_id
        message = {
            "id": request_id,
            "method": method,
            "params": {"sessionId": self.session_id, **(params or {})},
            "sessionId": self.session_id,
            "sender": self.topic,
            **top,
        }
        self.client.publish({key: value for key, value in message.items() if value is not None})
        return request_id

    def reply(self, request_id: int, start: int = 0, timeout: float = 5.0) -> Message:
        def matches(topic: str, message: Message) -> bool:
            return topic == self.topic and message.get("id") == request_id and "method" not in message

        return self.client.wait(matches, timeout=timeout, start=start)

    def request(self, method: str, params: Message | None = None, **top: Any) -> Message:
        start = len(self.client.messages)
        return self.reply(self.send(method, params, **top), start=start)

    def result(self, method: str, params: Message | None = None, **top: Any) -> Message:
        answer = self.request(method, params, **top)
        assert "result" in answer, answer
        assert answer["sessionId"] == self.session_id
        result: Message = answer["result"]
        return result

    def error(self, method: str, params: Message | None = None, **top: Any) -> Message:
        answer = self.request(method, params, **top)
        assert "error" in answer, answer
        error: Message = answer["error"]
        assert error["sessionId"] == self.session_id
        return error

    def make_request(self, playlist: list[int], **overrides: Any) -> dict[str, Any]:
        params: Message = {
            "rule": "DTHumanLivestreamWithAudioRelay",
            "mode": "checkheartbeat",
            "videoSize": {"width": 1080, "height": 1920},
            "resList": res_list(),
            "playlist": playlist,
        }
        top: Message = {"liveId": self.live_id, "token": self.account.token, "livePlatform": 3}
        for key, value in overrides.items():
            if key.startswith("params__"):
                params[key.removeprefix("params__")] = value
            else:
                top[key] = value
        return {"params": params, **top}

    def make(self, playlist: list[int], *, streaming: bool = True, **overrides: Any) -> Message:
        """CreateNewSession; waits for "make sess complete!" (and StreamPlay when ``streaming``)."""
        request = self.make_request(playlist, **overrides)
        result = self.result("CreateNewSession", request.pop("params"), **request)
        assert result == {"message": "make sess complete!", "sessionId": self.session_id}
        if streaming:
            self.wait_state("StreamPlay")
        return result

    def states(self) -> list[Message]:
        return [m["params"] for m in self.client.on(self.topic) if m.get("method") == "SessionState"]

    def wait_state(self, state: str, timeout: float = 5.0, **fields: Any) -> Message:
        def matches(topic: str, message: Message) -> bool:
            if topic != self.topic or message.get("method") != "SessionState":
                return False
            params = message["params"]
            return bool(params.get("state") == state or params.get("status") == state) and all(
                params.get(key) == value for key, value in fields.items()
            )

        found: Message = self.client.wait(matches, timeout=timeout)["params"]
        return found

    def inspect(self) -> Message:
        response = self.account.control.get(f"/_sandbox/guiji/sessions/{self.session_id}")
        assert response.status_code == 200, response.text
        state: Message = response.json()
        return state


@pytest.fixture
def quick(control: httpx.Client) -> httpx.Client:
    control.put("/_sandbox/config", json=FAST)
    wait_until(lambda: control.get("/_sandbox/guiji/mqtt").json()["subscribed"], timeout=10)
    return control


@pytest.fixture
def account(sandbox_url: str, quick: httpx.Client) -> Iterator[GuijiAccount]:
    client = GuijiAccount(sandbox_url, quick)
    client.login()
    yield client
    client.close()


@pytest.fixture
def client(mqtt_url: str) -> Iterator[MqttClient]:
    connection = MqttClient(mqtt_url)
    yield connection
    connection.close()


@pytest.fixture
def live(account: GuijiAccount, client: MqttClient) -> Live:
    """A created (not yet made) session in a fresh live room."""
    return Live(account, client, account.room())


def line(account: GuijiAccount, live: Live, text: str = "Welcome to the show.") -> int:
    return account.text(live.live_id, text)


# --- making a session ---------------------------------------------------------------------------


def test_broker_status_names_the_run_broker(quick: httpx.Client, mqtt_url: str) -> None:
    status = quick.get("/_sandbox/guiji/mqtt").json()
    assert status == {"url": mqtt_url, "connected": True, "subscribed": True, "topicPub": TOPIC_PUB}


def test_make_answers_complete_then_show_then_stream_play(account: GuijiAccount, live: Live) -> None:
    first = line(account, live)
    request = live.make_request([first])
    started = time.monotonic()
    request_id = live.send("CreateNewSession", request.pop("params"), **request)
    reply = live.reply(request_id)
    assert time.monotonic() - started >= 0.05
    assert reply == {
        "id": request_id,
        "sessionId": live.session_id,
        "result": {"message": "make sess complete!", "sessionId": live.session_id},
    }
    show = live.wait_state("Show")
    assert show == {
        "sessionId": live.session_id,
        "state": "Show",
        "info": "Do you see me ? dthuman",
        "udCode": ANDY_STANDING,
        "id": "dthuman#1",
        "name": "dthuman",
        "type": "dthuman",
    }
    play = live.wait_state("StreamPlay")
    assert set(play["playaddr"]) == {"rtmp", "rtsp", "http-flv"}
    assert all(set(address) == {"lan", "wan"} for address in play["playaddr"].values())
    assert play["playaddr"]["rtmp"]["lan"].startswith("rtmp://")
    begin = live.wait_state("begin")
    assert begin == {
        "sessionId": live.session_id,
        "status": "begin",
        "type": "playList",
        "nowPcmId": first,
        "playList": f"[{first}]",
    }
    kinds = [p.get("state") or p.get("status") for p in live.states()]
    assert kinds[:3] == ["Show", "StreamPlay", "begin"]
    state = live.inspect()
    assert state["state"] == "streaming" and state["made"] is True
    assert state["anchor"]["udCode"] == ANDY_STANDING and state["videoSize"] == {
        "width": 1080,
        "height": 1920,
    }
    assert [layer["resOptions"]["name"] for layer in state["resList"]] == [
        "rtmp",
        "dthuman",
        "image",
        "background",
    ]
    assert state["madeAt"] < state["streamingAt"]


def test_get_path_answers_play_addresses_once_made(account: GuijiAccount, live: Live) -> None:
    params = {"liveId": live.live_id, "sessionId": live.session_id, "duration": 180}
    assert account.failure("GET", "/live/getPath", params=params) == (
        500,
        f"session {live.session_id} is not made yet",
    )
    live.make([line(account, live)])
    path = account.data("GET", "/live/getPath", params=params)
    assert path["ok"] is True and path["message"] == "success"
    addresses = path["data"]["playaddr"]
    assert set(addresses) == {"rtmp", "rtsp", "http_flv"} and path["data"]["rtmp"] == addresses["rtmp"]
    assert live.session_id in addresses["http_flv"]["wan"]
    assert account.failure("GET", "/live/getPath", params={**params, "liveId": 1})[0] == 500
    assert account.failure("GET", "/live/getPath", params={**params, "duration": "x"})[0] == 500
    assert account.failure("GET", "/live/getPath", params={**params, "sessionId": "nope"})[0] == 500


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"params__rule": "Other"}, -32602, "params.rule"),
        ({"params__mode": "nocheck"}, -32602, "params.mode"),
        ({"params__videoSize": {"width": 1080}}, -32602, "params.videoSize.height"),
        ({"params__playlist": []}, -32602, "params.playlist"),
        ({"params__playlist": ["1"]}, -32602, "params.playlist"),
        ({"params__resList": res_list()[2:]}, -32602, "exactly one dthuman"),
        ({"params__resList": [{**res_list()[1], "type": "fore"}]}, -32602, "center layer"),
        ({"params__resList": [{"type": "middle", "resOptions": {"type": "x", "name": "x"}}]}, -32602, "type"),
        ({"livePlatform": 2}, -32602, "livePlatform"),
        ({"liveId": None}, -32602, "liveId"),
        ({"liveId": 1}, -32602, "unknown liveId 1"),
        ({"token": "NOPE"}, -100502, "token expired"),
        ({"params__token": "NOPE"}, -100502, "token expired"),
        ({"params__playlist": [1]}, -32602, "unknown pcm id 1"),
        ({"params__resList": res_list("999")}, -32602, "unknown udCode 999"),
    ],
)
def test_make_refuses_bad_requests_and_can_be_retried(
    account: GuijiAccount, live: Live, overrides: dict[str, Any], code: int, message: str
) -> None:
    first = line(account, live)
    request = live.make_request([first], **overrides)
    error = live.error("CreateNewSession", request.pop("params"), **request)
    assert error["code"] == code and message in error["message"], error
    assert live.inspect()["state"] == "created"
    live.make([first])


def test_make_refuses_a_token_of_another_account(
    sandbox_url: str, quick: httpx.Client, account: GuijiAccount, live: Live
) -> None:
    other = GuijiAccount(sandbox_url, quick)
    other.login()
    request = live.make_request([line(account, live)], token=other.token)
    assert live.error("CreateNewSession", request.pop("params"), **request)["code"] == -100502


def test_the_room_scenes_are_accepted_as_ud_codes(account: GuijiAccount, client: MqttClient) -> None:
    robot = {
        "robotCode": "R1",
        "robotName": "Own",
        "sceneList": [{"sceneCode": "own-1", "sceneName": "Own 1"}],
    }
    live = Live(account, client, account.room(robotList=[robot]))
    live.make([line(account, live)], params__resList=res_list("own-1"))
    assert live.inspect()["anchor"]["udCode"] == "own-1"


def test_a_repeated_id_is_refused(account: GuijiAccount, live: Live) -> None:
    first = line(account, live)
    live.make([first])
    assert live.result("pushPlayListManager", {"action": "getPlayList"})["ok"] is True
    used = live.next_id
    start = len(live.client.messages)
    live.send("pushPlayListManager", {"action": "AddPlayList", "pcmIds": [first]}, request_id=used)
    answer = live.reply(used, start=start)
    assert answer == {
        "id": used,
        "sessionId": live.session_id,
        "error": {"sessionId": live.session_id, "message": "duplicate id", "code": -32600},
    }
    assert live.inspect()["playlist"] == [first]
    start = len(live.client.messages)
    live.send("DestroySession", {}, request_id=1)  # the id CreateNewSession used
    assert live.reply(1, start=start)["error"]["code"] == -32600
    assert live.inspect()["state"] == "streaming"


def test_requests_before_make_and_bad_envelopes(account: GuijiAccount, live: Live) -> None:
    error = live.error("pushPlayListManager", {"action": "getPlayList"})
    assert error == {"sessionId": live.session_id, "message": "session is not made yet", "code": -32000}
    assert live.error("Dance", {})["code"] == -32601
    assert live.error("getPlayList", {}, sender="someone/else")["code"] == -32600
    assert live.error("pushPlayListManager", {"sessionId": "other"})["code"] == -32602
    start = len(live.client.messages)
    live.client.publish({"id": "x", "method": "DestroySession", "sessionId": live.session_id, "params": {}})
    answer = live.client.wait(lambda t, m: t == live.topic and "error" in m, start=start)
    assert answer["error"]["code"] == -32600 and answer["id"] == "x"
    live.make([line(account, live)])
    assert live.error("CreateNewSession", {})["message"] == "session is already made"


def test_unknown_sessions_answer_404_only_to_senders_of_this_sandbox(
    account: GuijiAccount, client: MqttClient
) -> None:
    unknown = str(uuid.uuid4())
    mine = f"{account.mqtt_user}/topicSendClient{uuid.uuid4()}"
    foreign = f"someone-else/topicSendClient{uuid.uuid4()}"
    for topic in (mine, foreign):
        client.subscribe(topic)
        message = {
            "id": 3,
            "method": "DestroySession",
            "params": {"sessionId": unknown},
            "sessionId": unknown,
        }
        client.publish({**message, "sender": topic})
    answer = client.wait(lambda t, m: t == mine)
    assert answer == {
        "id": 3,
        "sessionId": unknown,
        "error": {"sessionId": unknown, "message": "session not found", "code": -404},
    }
    time.sleep(0.3)
    assert client.on(foreign) == []


# --- heartbeats ---------------------------------------------------------------------------------


def test_answered_heartbeats_keep_the_session_alive(
    quick: httpx.Client, account: GuijiAccount, live: Live
) -> None:
    quick.put("/_sandbox/config", json={"guiji_heartbeat_interval": 0.1, "guiji_heartbeat_threshold": 0.5})
    live.make([line(account, live)])
    time.sleep(1.2)
    beats = [m for m in live.client.on(live.topic) if m.get("method") == "HeartBeat"]
    assert len(beats) >= 8
    assert beats[0]["params"] == {"sessionId": f":---:{live.session_id}", "state": "Running"}
    assert len({beat["id"] for beat in beats}) == len(beats)
    state = live.inspect()
    assert state["state"] == "streaming"
    assert state["heartbeats"]["answered"] >= len(beats) - 1 and state["heartbeats"]["maxGap"] < 0.5
    summary = quick.get("/_sandbox/guiji/heartbeats").json()[live.session_id]
    assert summary["sent"] >= len(beats) and summary["answered"] >= len(beats) - 1
    assert 0.05 < summary["maxGap"] < 0.5


def test_unanswered_heartbeats_destroy_the_session(
    quick: httpx.Client, account: GuijiAccount, live: Live
) -> None:
    quick.put("/_sandbox/config", json={"guiji_heartbeat_interval": 0.1, "guiji_heartbeat_threshold": 0.6})
    live.client.answer_heartbeats = False
    live.make([line(account, live)], streaming=False)
    made = time.monotonic()
    destroy = live.wait_state("Destroy", timeout=3)
    assert destroy == {"sessionId": live.session_id, "state": "Destroy", "cause": "heartbeat timeout"}
    assert 0.4 < time.monotonic() - made < 1.5
    state = live.inspect()
    assert (state["state"], state["endedBy"], state["cause"]) == ("destroyed", "server", "heartbeat timeout")
    assert state["heartbeats"]["sent"] >= 4 and state["heartbeats"]["answered"] == 0
    assert live.error("pushPlayListManager", {"action": "getPlayList"}) == {
        "sessionId": live.session_id,
        "message": "session not found",
        "code": -404,
    }


def test_a_late_answer_to_an_earlier_heartbeat_still_counts(
    quick: httpx.Client, account: GuijiAccount, live: Live
) -> None:
    quick.put("/_sandbox/config", json={"guiji_heartbeat_interval": 0.1, "guiji_heartbeat_threshold": 0.8})
    live.client.answer_heartbeats = False
    live.make([line(account, live)])
    first = live.client.wait(lambda t, m: t == live.topic and m.get("method") == "HeartBeat")
    live.client.wait(
        lambda t, m: t == live.topic and m.get("method") == "HeartBeat" and m["id"] > first["id"] + 2
    )
    live.client.publish({"id": first["id"], "result": {}, "sessionId": live.session_id, "sender": live.topic})
    live.client.publish({"id": 99_999, "result": {}, "sessionId": live.session_id, "sender": live.topic})
    wait_until(lambda: live.inspect()["heartbeats"]["answered"] == 1)
    assert first["id"] not in live.inspect()["heartbeats"]["unanswered"]
    live.wait_state("Destroy", timeout=3)


# --- layers -------------------------------------------------------------------------------------


def test_modify_res_list_removes_by_name_and_replaces_same_name(account: GuijiAccount, live: Live) -> None:
    live.make([line(account, live)])
    new_background = {
        "type": "back",
        "resOptions": {
            "name": "background",
            "type": "image",
            "url": "https://assets.livedeck.local/glass.png",
            "exclusive": {"SameNameInGroup": True},
            "transport": "tcp",
        },
        "drawOptions": {"x": 0, "y": 0, "width": 1080, "height": 1920, "zidx": -1},
    }
    video = {
        "type": "fore",
        "resOptions": {
            "type": "player",
            "name": "video",
            "url": "https://x.test/v.mp4",
            "mute": True,
            "loop": -1,
        },
        "drawOptions": {"x": 760, "y": 908, "width": 250, "height": 585},
    }
    result = live.result(
        "ModifySessionResList",
        {
            "rmvRes": {"resList": [{"resOptions": {"name": "image"}}]},
            "addRes": {"resList": [new_background, video]},
        },
    )
    assert result == {"sessionId": live.session_id, "message": "modify res ok"}
    layers = live.inspect()["resList"]
    assert [layer["resOptions"]["name"] for layer in layers] == ["rtmp", "dthuman", "background", "video"]
    assert (
        layers[2]["resOptions"]["url"].endswith("glass.png") and layers[2]["resOptions"]["transport"] == "tcp"
    )
    assert layers[3]["resOptions"]["loop"] == -1
    assert live.result("ModifySessionResList", {"rmvRes": {"resList": [{"resOptions": {"name": "gone"}}]}})
    error = live.error("ModifySessionResList", {"rmvRes": {"resList": [{"resOptions": {"name": "dthuman"}}]}})
    assert error["code"] == -32602 and "dthuman" in error["message"]
    broken = {**video, "resOptions": {"type": "image", "name": "no-url"}}
    assert live.error("ModifySessionResList", {"addRes": {"resList": [broken]}})["code"] == -32602
    assert len(live.inspect()["resList"]) == 4


def test_switch_template_changes_the_anchor_and_shows_it(account: GuijiAccount, live: Live) -> None:
    live.make([line(account, live)])
    switch = {
        "name": "dthuman",
        "options": {
            "method": "switchTemplate",
            "args": {
                "drivenMode": "audioDriven",
                "audioDriven": {"udCode": SUNNY},
                "drawOptions": {"x": 240, "y": 570, "width": 1080, "height": 1920},
            },
        },
    }
    result = live.result("ExecSessionResList", {"executeList": [switch]})
    assert result["ok"] is True and result["sessionId"] == live.session_id
    show = live.wait_state("Show", udCode=SUNNY)
    assert show["id"] == "dthuman#2" and show["type"] == "dthuman"
    state = live.inspect()
    assert state["anchor"]["udCode"] == SUNNY
    assert state["anchor"]["drawOptions"] == {"x": 240, "y": 570, "width": 1080, "height": 1920}
    templates = state["resList"][1]["resOptions"]["audioDriven"]["templates"]
    assert [t["udCode"] for t in templates] == [ANDY_STANDING, SUNNY]
    bad = {**switch, "options": {"method": "switchTemplate", "args": {"audioDriven": {"udCode": "404"}}}}
    assert live.error("ExecSessionResList", {"executeList": [bad]})["message"] == "unknown udCode 404"
    wrong = {
        **switch,
        "options": {"method": "switchTemplate", "args": {"drivenMode": "video", "audioDriven": {}}},
    }
    assert live.error("ExecSessionResList", {"executeList": [wrong]})["code"] == -32602
    ghost = {**switch, "name": "ghost"}
    assert live.error("ExecSessionResList", {"executeList": [ghost]})["message"] == "no res named ghost"
    # Checked before anything applies: a bad second item leaves the first undone.
    desk = {**switch, "options": {"method": "switchTemplate", "args": {"audioDriven": {"udCode": ANDY_DESK}}}}
    assert live.error("ExecSessionResList", {"executeList": [desk, ghost]})["code"] == -32602
    assert live.inspect()["anchor"]["udCode"] == SUNNY


def test_push_streams_are_set_and_closed(account: GuijiAccount, live: Live) -> None:
    live.make([line(account, live)])

    def push(method: str, urls: list[str] | None) -> Message:
        args = {} if urls is None else {"pushurls": urls}
        return {"name": "rtmp", "options": {"method": method, "args": args}}

    one, two, three = "rtmp://a.test/live/1", "rtmps://b.test/live/2", "rtmp://c.test/live/3"
    assert (
        live.result("ExecSessionResList", {"executeList": [push("setpushstreams", [one, two])]})["ok"] is True
    )
    live.result("ExecSessionResList", {"executeList": [push("setpushstreams", [two, three])]})
    assert live.inspect()["pushUrls"] == [one, two, three]
    live.result("ExecSessionResList", {"executeList": [push("closepushstreams", [two])]})
    assert live.inspect()["pushUrls"] == [one, three]
    live.result("ExecSessionResList", {"executeList": [push("closepushstreams", None)]})
    assert live.inspect()["pushUrls"] == []
    error = live.error("ExecSessionResList", {"executeList": [push("setpushstreams", ["http://x.test/a"])]})
    assert error["code"] == -32602 and "rtmp://" in error["message"]
    assert live.error("ExecSessionResList", {"executeList": [push("setpushstreams", [])]})["code"] == -32602
    assert live.error("ExecSessionResList", {"executeList": [push("switchTemplate", [])]})["code"] == -32602


def test_push_streams_need_an_rtmp_element(account: GuijiAccount, live: Live) -> None:
    live.make([line(account, live)], params__resList=res_list()[1:])
    push = {
        "name": "rtmp",
        "options": {"method": "setpushstreams", "args": {"pushurls": ["rtmp://a.test/x"]}},
    }
    assert live.error("ExecSessionResList", {"executeList": [push]})["message"] == "no res named rtmp"


def test_set_res_draw_options(account: GuijiAccount, live: Live) -> None:
    live.make([line(account, live)])
    params = {"res": {"name": "dthuman", "drawOptions": {"x": 10, "y": 600, "width": 800, "alpha": 0.5}}}
    assert live.result("SetResDrawOptions", params) == {
        "message": "success",
        "ok": True,
        "info": "set res drawOptions ok!",
        "sessionId": live.session_id,
    }
    draw = live.inspect()["drawOptions"]
    assert draw["dthuman"] == {"x": 10, "y": 600, "width": 800, "height": 1920, "alpha": 0.5}
    assert draw["image"] == {"x": 28, "y": 94, "width": 386, "height": 332}
    bad = {"res": {"name": "dthuman", "drawOptions": {"alpha": 1.5}}}
    assert "alpha" in live.error("SetResDrawOptions", bad)["message"]
    assert live.error("SetResDrawOptions", {"res": {"name": "x", "drawOptions": {}}})["code"] == -32602


# --- ends ---------------------------------------------------------------------------------------


def test_destroy_session_closes_it(account: GuijiAccount, live: Live) -> None:
    live.make([line(account, live)])
    result = live.result("DestroySession", {"cause": "Client destroy"})
    assert result == {"sessionId": live.session_id, "ok": True, "info": "close sess ok"}
    state = live.inspect()
    assert (state["state"], state["endedBy"], state["cause"]) == ("destroyed", "client", "Client destroy")
    assert state["nowPlaying"] is None
    assert state["played"][-1]["outcome"] == "stopped"
    assert live.error("pushPlayListManager", {"action": "getPlayList"})["code"] == -404
    assert "Destroy" not in [p.get("state") for p in live.states()]
    record = account.data("GET", "/liveRecord/query")["records"][0]
    assert record["sessionId"] == live.session_id and record["liveStatusName"] == "Closed broadcast"


def test_destroy_session_works_before_make(live: Live) -> None:
    assert live.result("DestroySession", {})["info"] == "close sess ok"
    assert live.inspect()["cause"] == "Client destroy"


def test_kill_destroys_with_a_cause(quick: httpx.Client, account: GuijiAccount, live: Live) -> None:
    live.make([line(account, live)])
    kill = f"/_sandbox/guiji/sessions/{live.session_id}/kill"
    assert quick.post(kill, json={"cause": "render node lost"}).json() == {
        "ok": True,
        "cause": "render node lost",
    }
    assert live.wait_state("Destroy")["cause"] == "render node lost"
    assert quick.post(kill).status_code == 409
    assert quick.post("/_sandbox/guiji/sessions/nope/kill").status_code == 404
    assert quick.get("/_sandbox/guiji/sessions/nope").status_code == 404


def test_a_session_not_made_in_time_is_forgotten(
    quick: httpx.Client, account: GuijiAccount, live: Live
) -> None:
    quick.put("/_sandbox/config", json={"guiji_session_seconds": 0.3})
    late = Live(account, live.client, live.live_id)
    assert account.data("GET", "/liveRecord/query")["records"][0]["liveStatusName"] == "Not started"
    wait_until(lambda: late.inspect()["state"] == "destroyed", timeout=3)
    assert (late.inspect()["endedBy"], late.inspect()["cause"]) == ("expiry", "not made within 0.3 s")
    request = late.make_request([line(account, live)])
    assert late.error("CreateNewSession", request.pop("params"), **request)["code"] == -404


def test_live_records_list_each_session(account: GuijiAccount, live: Live) -> None:
    live.make([line(account, live)])
    second = Live(account, live.client, live.live_id)
    page = account.data("GET", "/liveRecord/query", params={"pageSize": 1})
    assert {"records", "list", "total", "pages", "size", "pageSize", "current"} <= set(page)
    assert page["total"] == 2 and page["pages"] == 2 and page["records"] == page["list"]
    newest = page["records"][0]
    assert newest["sessionId"] == second.session_id and newest["liveStatusName"] == "Not started"
    running = account.data("GET", "/liveRecord/query", params={"page": 2, "pageSize": 1})["records"][0]
    assert running["sessionId"] == live.session_id and running["liveStatusName"] == "Living"
    assert running["modeName"] == "Andy" and running["liveId"] == live.live_id
    assert running["cropName"] and len(running["beginTime"]) == 16 and running["endTime"] is None
    assert running["totalDurationStr"].count(":") == 2


def test_reset_forgets_guiji_sessions_but_keeps_accounts(
    quick: httpx.Client, account: GuijiAccount, live: Live
) -> None:
    live.make([line(account, live)])
    assert quick.post("/_sandbox/reset").json() == {"ok": True}
    assert quick.get(f"/_sandbox/guiji/sessions/{live.session_id}").status_code == 404
    assert quick.get("/_sandbox/guiji/heartbeats").json() == {}
    count = len(live.client.on(live.topic))
    time.sleep(0.5)
    assert len(live.client.on(live.topic)) == count  # nothing plays any more
    assert account.app_id in [a["appId"] for a in quick.get("/_sandbox/guiji/accounts").json()]
    assert account.data("GET", "/liveRecord/query")["total"] == 0
    assert account.data("GET", "/liveInfo/query", params={"id": live.live_id})["id"] == live.live_id


def test_the_sandbox_reconnects_and_resubscribes_after_a_broker_restart() -> None:
    with Stack(Path(tempfile.mkdtemp(prefix="guiji-broker-"))) as stack:
        url = stack.start_broker()
        sandbox = stack.start_sandbox(mqtt_url=url)
        with httpx.Client(base_url=sandbox, timeout=10) as control:
            wait_until(lambda: control.get("/_sandbox/guiji/mqtt").json()["subscribed"], timeout=10)
            broker = next(proc for proc in stack.procs if "mosquitto" in str(proc.args))
            stack.kill(broker)
            wait_until(lambda: not control.get("/_sandbox/guiji/mqtt").json()["connected"], timeout=10)
            stack.start_broker(port=int(url.rsplit(":", 1)[1]))
            wait_until(lambda: control.get("/_sandbox/guiji/mqtt").json()["subscribed"], timeout=15)
            control.put("/_sandbox/config", json=FAST)
            account = GuijiAccount(sandbox, control)
            account.login()
            client = MqttClient(url)
            try:
                live = Live(account, client, account.room())
                live.make([account.text(live.live_id, "Back on air.")])
            finally:
                client.close()
                account.close()
