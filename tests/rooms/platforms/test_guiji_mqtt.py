"""The Guiji driver's MQTT side (4.2) over a real broker: a mosquitto of the test's own, and a
paho client that plays Guiji's session server on topicPub. Every message the driver publishes
is checked byte for byte; the server keeps a playlist, so that takeovers, cancels, reorders and
the queue are seen to land where they should."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as paho
import pytest
from asgiref.sync import async_to_sync
from paho.mqtt.enums import CallbackAPIVersion

from rooms.models import LiveSession, Room, Script
from rooms.platforms import guiji as guiji_module
from rooms.platforms import mqtt
from rooms.platforms.base import (
    AnchorLayout,
    LiveState,
    LiveStatus,
    PlatformError,
    TakeoverRequest,
    TakeoverState,
)
from tests.rooms.platforms.guiji_factories import AnchorSceneFactory, GuijiRoomFactory
from tests.rooms.platforms.test_guiji import FakeGuiji, answer, make_account
from tests.stack import free_port, wait_for_port

# Debian installs the broker among the system daemons, which are not on every user's PATH.
MOSQUITTO = shutil.which("mosquitto", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"])) or ""
SHOW = 312612


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A mosquitto on a free loopback port; its URL."""
    if not MOSQUITTO:
        pytest.skip("mosquitto is not installed")
    folder = tmp_path_factory.mktemp("mosquitto")
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    log = folder / "mosquitto.log"
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, proc, log)
        yield f"mqtt://127.0.0.1:{port}"
    finally:
        mqtt.close_all()
        proc.terminate()
        proc.wait(timeout=10)


def compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


class FakeServer:
    """Guiji's session server as the shared reading describes it: one playlist per session,
    replies with the request's id and sessionId on the sender's topic."""

    def __init__(self, url: str, topic_pub: str) -> None:
        self.payloads: list[bytes] = []
        self.playlist: list[int] = []
        self.answer: Callable[[dict[str, Any]], dict[str, Any] | None] = self.default_answer
        # Called once after the next getPlayList is answered (e.g. the playing item ends).
        self.after_get: Callable[[], None] | None = None
        self.received = threading.Condition()
        port = int(url.rsplit(":", 1)[1])
        subscribed = threading.Event()
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"fake-guiji-{secrets.token_hex(4)}")
        client.on_connect = lambda c, u, flags, reason, props: c.subscribe(topic_pub, qos=1)
        client.on_subscribe = lambda c, u, mid, reasons, props: subscribed.set()
        client.on_message = self._on_message
        client.connect("127.0.0.1", port)
        client.loop_start()
        assert subscribed.wait(5)
        self.client = client

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def push(self, topic: str, message: dict[str, Any], *, wait: bool = True) -> None:
        """Publish as the server; `wait=False` from inside a handler (paho's own thread)."""
        info = self.client.publish(topic, compact(message), qos=1)
        if wait:
            info.wait_for_publish(5)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(payload) for payload in self.payloads]

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        payload = bytes(message.payload)
        with self.received:
            self.payloads.append(payload)
            self.received.notify_all()
        request = json.loads(payload)
        reply = self.answer(request)
        if reply is not None:
            client.publish(request["sender"], compact(reply), qos=1)
        if request["method"] == "pushPlayListManager" and request["params"].get("action") == "getPlayList":
            after, self.after_get = self.after_get, None
            if after:
                after()

    def default_answer(self, request: dict[str, Any]) -> dict[str, Any] | None:
        method, sid, params = request["method"], request["sessionId"], request["params"]
        if method == "CreateNewSession":
            self.playlist = list(params["playlist"])
            return ok(request, {"message": "make sess complete!", "sessionId": sid})
        if method == "pushPlayListManager":
            return self.playlist_action(request)
        if method == "DestroySession":
            # As 4.2.5's example: the session id only inside the result.
            return {"id": request["id"], "result": {"sessionId": sid, "ok": True, "info": "close sess ok"}}
        if method == "SetResDrawOptions":
            return ok(
                request,
                {"message": "success", "ok": True, "info": "set res drawOptions ok!", "sessionId": sid},
            )
        return ok(request, {"sessionId": sid, "message": "modify res ok"})

    def playlist_action(self, request: dict[str, Any]) -> dict[str, Any]:
        params = request["params"]
        action, ids, index = params["action"], params.get("pcmIds", []), params.get("index")
        if action == "AddPlayList":
            self.playlist.extend(ids)
        elif action == "insertPlayList":
            if index == 0 and self.playlist:
                return error(request, "index 0 is playing")
            self.playlist[index:index] = ids
        elif action == "insertPlayListAtSilent":
            self.playlist[1:1] = ids
        elif action == "delPlayListIndex":
            if index >= len(self.playlist):
                return error(request, "index out of range")
            if "oldPcmId" in params and self.playlist[index] != params["oldPcmId"]:
                return error(request, "index moved")
            del self.playlist[index]
        return ok(
            request,
            {"sessionId": request["sessionId"], "ok": True, "message": "", "data": list(self.playlist)},
        )


def ok(request: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    return {"id": request["id"], "sessionId": request["sessionId"], "result": result}


def error(request: dict[str, Any], message: str, code: int = -1) -> dict[str, Any]:
    sid = request["sessionId"]
    return {
        "id": request["id"],
        "sessionId": sid,
        "error": {"sessionId": sid, "message": message, "code": code},
    }


@pytest.fixture
def topics() -> tuple[str, str, str]:
    """A session id and its topics, new for each test (message ids start at 1)."""
    sid = str(uuid.uuid4())
    return sid, f"user1/topicSendClient{uuid.uuid4()}", f"live-proxy-{secrets.token_hex(4)}"


@pytest.fixture
def server(broker: str, topics: tuple[str, str, str]) -> Iterator[FakeServer]:
    fake = FakeServer(broker, topics[2])
    yield fake
    fake.stop()


def make_script(**overrides: Any) -> Script:
    fields: dict[str, Any] = {
        "id": 2,
        "name": "Morning show",
        "face_feature_id": "-",
        "anchor_package_url": "https://cdn.example.com/-.zip",
        "voice_id": "-",
        "voice_name": "-",
        "opening_text": "Welcome to the morning show, everyone.",
        "background_url": "https://cdn.example.com/bg.png",
        "tts_source": 10,
        "tts_speaker": "12",
        "tts_volume": 0.0,
        "tts_intonation": 2.0,
        "tts_speed_rate": 10.0,
        "tts_f0up_key": 12,
        "change_voice_speaker": "",
    }
    return Script(**(fields | overrides))


def make_session(broker: str, topics: tuple[str, str, str], **script: Any) -> LiveSession:
    sid, topic_sub, topic_pub = topics
    account = make_account()
    room = Room(id=3, name="Room A", account=account, script=make_script(**script), vendor_room_id="1246464")
    return LiveSession(
        id=42,
        account=account,
        room=room,
        vendor_session_id=sid,
        state=LiveState.LIVE,
        vendor_data={
            "live_id": "1246464",
            "topic_sub": topic_sub,
            "topic_pub": topic_pub,
            "playlist": [SHOW],
            "mqtt_url": broker,
            "expiration": 30,
            "video_size": [1080, 1920],
        },
    )


def envelope(sid: str, topic_sub: str, n: int, method: str, params: str) -> bytes:
    """A 4.2.2 request as LiveDeck sends it; `params` is the JSON after its sessionId."""
    return (
        f'{{"id":{n},"method":"{method}","params":{{"sessionId":"{sid}"{params}}},'
        f'"sessionId":"{sid}","sender":"{topic_sub}"}}'
    ).encode()


# 4.2.3 MakeSession


def open_vendor(topics: tuple[str, str, str]) -> FakeGuiji:
    sid, topic_sub, topic_pub = topics
    created = {
        "liveId": 1246464,
        "sessionId": sid,
        "expirationTime": 30,
        "topicSub": topic_sub,
        "topicPub": topic_pub,
    }
    return (
        FakeGuiji()
        .on("/openApi/liveInfo/create", answer(1246464))
        .on("/openApi/liveInfo/update", answer(True))
        .on("/openApi/customizedMaterial/upload", answer(SHOW))
        .on("/openApi/live/createLiveSession", answer(created))
    )


def make_room(broker: str, **overrides: Any) -> Room:
    scene = AnchorSceneFactory(
        code="369590278856773",
        name="Standing",
        video_cover_url="https://cdn.example.com/model/2646_1080x1920_0_300.mp4",
        anchor__account__credentials={"app_id": secrets.token_hex(4), "app_secret": "s", "mqtt_url": broker},
    )
    room = GuijiRoomFactory(
        account=scene.anchor.account,
        anchor_scene=scene,
        name="Room A",
        script__opening_text="Welcome to the morning show, everyone.",
        script__tts_speaker="12",
        **overrides,
    )
    return Room.objects.get(pk=room.pk)


STAGE_START = (
    '[{"type":"center","resOptions":{"name":"rtmp","type":"rtmp"}},'
    '{"type":"center","resOptions":{"type":"aivoicedistort","name":"aivoicedistort","distortState":false,'
    '"speekerId":0}},'
    '{"type":"center","resOptions":{"type":"dthuman","name":"dthuman","audioDriven":{"mode":"livestream",'
    '"udCodeUsed":"369590278856773","templates":[{"sequence":['
    '"https://cdn.example.com/model/2646_1080x1920_0_300.mp4"],"udCode":"369590278856773","matting":0}],'
    '"quarter":0}},"drawOptions":{"x":0,"y":0,"width":1080,"height":1920}}'
)


@pytest.mark.django_db
def test_open_session_makes_the_session_with_the_rooms_stage_and_the_opening_text(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, topic_pub = topics
    room = make_room(broker)
    session = LiveSession(id=42, account=room.account, room=room, state=LiveState.CREATING)
    vendor = open_vendor(topics)

    info = vendor.run(lambda driver: driver.open_session(room, session), room.account)

    paths = [r.url.path.removeprefix("/live-manager") for r in vendor.requests]
    assert paths == [
        "/open/accessToken",
        "/openApi/liveInfo/create",
        "/openApi/customizedMaterial/upload",
        "/openApi/live/createLiveSession",
    ]
    assert vendor.requests[2].content == (
        b'{"liveId":1246464,"materialType":"TEXT","materialDescription":"Opening text",'
        b'"text":"Welcome to the morning show, everyone.","ttsSource":10,"ttsSpeaker":"12",'
        b'"volume":0.0,"intonation":2.0,"speedRate":1.5,"f0upKey":0}'
    )
    assert vendor.requests[3].content == b'{"liveId":1246464,"name":"Room A"}'
    assert vendor.requests[3].headers["token"] == "token-1"
    assert server.payloads == [
        (
            f'{{"id":1,"method":"CreateNewSession","sessionId":"{sid}","liveId":1246464,"token":"token-1",'
            f'"livePlatform":3,"params":{{"sessionId":"{sid}","rule":"DTHumanLivestreamWithAudioRelay",'
            f'"mode":"checkheartbeat","videoSize":{{"width":1080,"height":1920}},"resList":{STAGE_START},'
            '{"type":"back","resOptions":{"name":"background","type":"image",'
            '"url":"https://assets.example.com/backgrounds/studio.png","exclusive":{"SameNameInGroup":true}},'
            '"drawOptions":{"x":0,"y":0,"width":1080,"height":1920,"zidx":-1}}],'
            f'"playlist":[{SHOW}]}},"sender":"{topic_sub}"}}'
        ).encode()
    ]
    assert info.vendor_session_id == sid
    assert info.session_token == ""
    assert info.status == LiveStatus(state=LiveState.READY, vendor_code="make-complete")
    assert info.vendor_data == {
        "live_id": "1246464",
        "topic_sub": topic_sub,
        "topic_pub": topic_pub,
        "playlist": [SHOW],
        "mqtt_url": broker,
        "expiration": 30,
        "video_size": [1080, 1920],
    }


@pytest.mark.django_db
def test_open_session_adds_overlay_voice_change_and_a_looping_video_background(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    room = make_room(
        broker,
        vendor_room_id="1246464",
        resolution_width=720,
        resolution_height=1280,
        overlay_url="https://cdn.example.com/join-fans.png",
        overlay_x=28,
        overlay_y=94,
        overlay_width=386,
        overlay_height=332,
        script__change_voice_speaker="11",
        script__background_type=Script.BackgroundType.VIDEO,
        script__background_url="https://cdn.example.com/bg.mp4",
        script__background_loop=True,
    )
    session = LiveSession(id=42, account=room.account, room=room, state=LiveState.CREATING)
    vendor = open_vendor(topics)

    info = vendor.run(lambda driver: driver.open_session(room, session), room.account)

    assert vendor.calls("/openApi/liveInfo/create") == []
    assert vendor.calls("/openApi/liveInfo/update")[0].content.startswith(b'{"id":1246464,')
    assert b'"changeVoiceSpeaker":"11"' in vendor.calls("/openApi/customizedMaterial/upload")[0].content
    params = server.messages[0]["params"]
    assert params["videoSize"] == {"width": 720, "height": 1280}
    assert params["resList"][1] == {
        "type": "center",
        "resOptions": {
            "type": "aivoicedistort",
            "name": "aivoicedistort",
            "distortState": True,
            "speekerId": 11,
        },
    }
    assert params["resList"][2]["drawOptions"] == {"x": 0, "y": 0, "width": 720, "height": 1280}
    assert params["resList"][3] == {
        "type": "fore",
        "resOptions": {"type": "image", "name": "image", "url": "https://cdn.example.com/join-fans.png"},
        "drawOptions": {"x": 28, "y": 94, "width": 386, "height": 332},
    }
    assert params["resList"][4] == {
        "type": "back",
        "resOptions": {
            "name": "background",
            "type": "player",
            "url": "https://cdn.example.com/bg.mp4",
            "mute": True,
            "loop": -1,
            "exclusive": {"SameNameInGroup": True},
        },
        "drawOptions": {"x": 0, "y": 0, "width": 720, "height": 1280, "zidx": -1},
    }
    assert info.vendor_data["video_size"] == [720, 1280]


@pytest.mark.django_db
def test_open_session_sends_the_switch_scenes_to_the_vendors_room(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    room = make_room(broker)
    extra = AnchorSceneFactory(anchor=room.anchor_scene.anchor, code="369590278856774", name="Sitting")
    room.switch_scenes.add(extra)
    room = Room.objects.get(pk=room.pk)
    vendor = open_vendor(topics)

    vendor.run(
        lambda driver: driver.open_session(room, LiveSession(id=1, room=room, state="creating")), room.account
    )

    robots = json.loads(vendor.calls("/openApi/liveInfo/create")[0].content)["robotList"]
    assert [scene["sceneCode"] for scene in robots[0]["sceneList"]] == ["369590278856773", "369590278856774"]


@pytest.mark.django_db
def test_open_session_without_an_anchor_scene_is_refused_before_any_room_is_made(broker: str) -> None:
    room = make_room(broker)
    room.anchor_scene = None
    vendor = FakeGuiji()

    with pytest.raises(PlatformError) as caught:
        vendor.run(
            lambda driver: driver.open_session(room, LiveSession(id=1, room=room, state="creating")),
            room.account,
        )

    assert caught.value.permanent is True
    assert vendor.calls("/openApi/liveInfo/create") == []


@pytest.mark.django_db
def test_open_session_refused_by_the_server_is_permanent_with_its_reason(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.answer = lambda request: error(request, "unknown pcm id", code=-32602)
    room = make_room(broker)

    with pytest.raises(PlatformError) as caught:
        open_vendor(topics).run(
            lambda driver: driver.open_session(room, LiveSession(id=1, room=room, state="creating")),
            room.account,
        )

    assert caught.value.permanent is True
    assert caught.value.message == "Guiji refused CreateNewSession: unknown pcm id"
    assert caught.value.code == "-32602"


@pytest.mark.django_db
def test_open_session_with_a_token_the_server_no_longer_takes_fetches_one_and_asks_again(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    def expired_once(request: dict[str, Any]) -> dict[str, Any] | None:
        if request["token"] == "token-1":
            return error(request, "token expired", code=-100502)
        return server.default_answer(request)

    server.answer = expired_once
    room = make_room(broker)
    vendor = open_vendor(topics)

    info = vendor.run(
        lambda driver: driver.open_session(room, LiveSession(id=1, room=room, state="creating")), room.account
    )

    assert info.status.state is LiveState.READY
    assert [(m["id"], m["token"]) for m in server.messages] == [(1, "token-1"), (2, "token-2")]
    assert len(vendor.token_requests) == 2


@pytest.mark.django_db
def test_open_session_the_server_never_answers_is_transient(
    broker: str, server: FakeServer, topics: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server.answer = lambda request: None
    monkeypatch.setattr(guiji_module, "CREATE_REPLY_SECONDS", 0.5)
    room = make_room(broker)

    with pytest.raises(PlatformError) as caught:
        open_vendor(topics).run(
            lambda driver: driver.open_session(room, LiveSession(id=1, room=room, state="creating")),
            room.account,
        )

    assert (caught.value.permanent, caught.value.code) == (False, "timeout")
    assert "CreateNewSession" in caught.value.message


# 4.2.5 DestroySession


def test_close_destroys_the_session(broker: str, server: FakeServer, topics: tuple[str, str, str]) -> None:
    sid, topic_sub, _ = topics
    session = make_session(broker, topics)

    FakeGuiji().run(lambda driver: driver.close(session), session.account)

    assert server.payloads == [envelope(sid, topic_sub, 1, "DestroySession", ',"cause":"Client destroy"')]


def test_close_of_a_session_the_server_no_longer_knows_is_done(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.answer = lambda request: error(request, "session not found", code=-404)
    session = make_session(broker, topics)

    FakeGuiji().run(lambda driver: driver.close(session), session.account)

    assert len(server.payloads) == 1


def test_close_without_topics_says_guiji_ends_it_by_itself() -> None:
    session = LiveSession(id=1, vendor_session_id="orphan", state=LiveState.LIVE, vendor_data={})

    with pytest.raises(PlatformError) as caught:
        FakeGuiji().run(lambda driver: driver.close(session))

    assert caught.value.permanent is True
    assert caught.value.code == "no-topics"


# 4.2.7 The playlist: takeovers, cancel, reorder, queue


def takeover(
    broker: str, session: LiveSession, item: TakeoverRequest, *, upload_id: int, **options: Any
) -> tuple[Any, FakeGuiji]:
    vendor = FakeGuiji().on("/openApi/customizedMaterial/upload", answer(upload_id))
    return vendor.run(lambda driver: driver.takeover(session, item, **options), session.account), vendor


def test_takeover_interrupting_uploads_the_text_and_inserts_it_at_silence(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    server.playlist = [SHOW]
    session = make_session(broker, topics, change_voice_speaker="11")

    receipt, vendor = takeover(
        broker, session, TakeoverRequest(text="Flash sale now!"), upload_id=312613, interrupt=True
    )

    assert vendor.calls("/openApi/customizedMaterial/upload")[0].content == (
        b'{"liveId":1246464,"materialType":"TEXT","changeVoiceSpeaker":"11","materialDescription":"Takeover",'
        b'"text":"Flash sale now!","ttsSource":10,"ttsSpeaker":"12","volume":0.0,"intonation":2.0,'
        b'"speedRate":10.0,"f0upKey":12}'
    )
    assert server.payloads == [
        envelope(
            sid, topic_sub, 1, "pushPlayListManager", ',"action":"insertPlayListAtSilent","pcmIds":[312613]'
        )
    ]
    assert receipt.trace_id == "312613"
    assert receipt.state is TakeoverState.QUEUED
    assert receipt.vendor_code == "insertPlayListAtSilent"
    assert server.playlist == [SHOW, 312613]


def test_takeover_at_a_position_inserts_it_at_that_index(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    server.playlist = [SHOW, 501, 502]
    session = make_session(broker, topics)

    receipt, _ = takeover(broker, session, TakeoverRequest(text="Second"), upload_id=503, position=2)

    assert server.payloads == [
        envelope(
            sid, topic_sub, 1, "pushPlayListManager", ',"action":"insertPlayList","index":2,"pcmIds":[503]'
        )
    ]
    assert receipt.vendor_code == "insertPlayList"
    assert server.playlist == [SHOW, 501, 503, 502]


def test_takeover_without_a_position_is_added_at_the_end(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    server.playlist = [SHOW, 501]
    session = make_session(broker, topics)

    takeover(broker, session, TakeoverRequest(text="Last"), upload_id=504)

    assert server.payloads == [
        envelope(sid, topic_sub, 1, "pushPlayListManager", ',"action":"AddPlayList","pcmIds":[504]')
    ]
    assert server.playlist == [SHOW, 501, 504]


def test_takeover_of_an_audio_file_uploads_an_audio_material(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.playlist = [SHOW]
    session = make_session(broker, topics)

    receipt, vendor = takeover(
        broker, session, TakeoverRequest(audio_url="https://cdn.example.com/jingle.wav"), upload_id=600
    )

    assert vendor.calls("/openApi/customizedMaterial/upload")[0].content == (
        b'{"liveId":1246464,"materialType":"AUDIO","materialDescription":"Takeover",'
        b'"materialUrl":"https://cdn.example.com/jingle.wav"}'
    )
    assert receipt.trace_id == "600"
    assert server.playlist == [SHOW, 600]


def test_takeover_the_server_refuses_is_permanent(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.playlist = [SHOW]
    session = make_session(broker, topics)

    with pytest.raises(PlatformError) as caught:
        takeover(broker, session, TakeoverRequest(text="Now"), upload_id=700, position=0)

    assert caught.value.permanent is True
    assert caught.value.message == "Guiji refused pushPlayListManager: index 0 is playing"


def test_queue_is_the_playlist_without_the_show(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    server.playlist = [501, SHOW, 502, 503]
    session = make_session(broker, topics)

    assert FakeGuiji().run(lambda driver: driver.queue(session), session.account) == ["501", "502", "503"]
    assert server.payloads == [envelope(sid, topic_sub, 1, "pushPlayListManager", ',"action":"getPlayList"')]


def test_cancel_deletes_those_takeovers_highest_index_first_with_their_ids(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    server.playlist = [SHOW, 501, 502, 503, 504]
    session = make_session(broker, topics)

    FakeGuiji().run(lambda driver: driver.cancel(session, ["502", "504", "999"]), session.account)

    assert server.payloads == [
        envelope(sid, topic_sub, 1, "pushPlayListManager", ',"action":"getPlayList"'),
        envelope(
            sid, topic_sub, 2, "pushPlayListManager", ',"action":"delPlayListIndex","oldPcmId":504,"index":4'
        ),
        envelope(
            sid, topic_sub, 3, "pushPlayListManager", ',"action":"delPlayListIndex","oldPcmId":502,"index":2'
        ),
    ]
    assert server.playlist == [SHOW, 501, 503]


def test_cancel_all_deletes_every_takeover_the_playing_one_too_but_not_the_show(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.playlist = [501, SHOW, 502]
    session = make_session(broker, topics)

    FakeGuiji().run(lambda driver: driver.cancel(session, None), session.account)

    assert [m["params"].get("index") for m in server.messages] == [None, 2, 0]
    assert server.playlist == [SHOW]


def test_cancel_reads_the_playlist_again_when_it_moved_meanwhile(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.playlist = [SHOW, 501, 502]
    server.after_get = lambda: server.playlist.pop(0)  # the show's item ends right after the read
    session = make_session(broker, topics)

    FakeGuiji().run(lambda driver: driver.cancel(session, ["502"]), session.account)

    actions = [(m["params"]["action"], m["params"].get("index")) for m in server.messages]
    assert actions == [
        ("getPlayList", None),
        ("delPlayListIndex", 2),
        ("getPlayList", None),
        ("delPlayListIndex", 1),
    ]
    assert server.playlist == [501]


def test_cancel_of_nothing_sends_nothing(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    session = make_session(broker, topics)

    FakeGuiji().run(lambda driver: driver.cancel(session, []), session.account)

    assert server.payloads == []


def test_reorder_deletes_the_takeover_and_inserts_it_at_the_position(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    server.playlist = [SHOW, 501, 502, 503]
    session = make_session(broker, topics)

    FakeGuiji().run(lambda driver: driver.reorder(session, "503", 1), session.account)

    assert server.payloads == [
        envelope(sid, topic_sub, 1, "pushPlayListManager", ',"action":"getPlayList"'),
        envelope(
            sid, topic_sub, 2, "pushPlayListManager", ',"action":"delPlayListIndex","oldPcmId":503,"index":3'
        ),
        envelope(
            sid, topic_sub, 3, "pushPlayListManager", ',"action":"insertPlayList","index":1,"pcmIds":[503]'
        ),
    ]
    assert server.playlist == [SHOW, 503, 501, 502]


def test_reorder_to_where_it_is_sends_only_the_read(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.playlist = [SHOW, 501, 502]
    session = make_session(broker, topics)

    FakeGuiji().run(lambda driver: driver.reorder(session, "502", 2), session.account)

    assert len(server.payloads) == 1


@pytest.mark.parametrize(("playlist", "code"), [([SHOW, 501], "gone"), ([777, SHOW], "playing")])
def test_reorder_of_a_takeover_not_waiting_in_the_playlist_is_refused(
    broker: str, server: FakeServer, topics: tuple[str, str, str], playlist: list[int], code: str
) -> None:
    server.playlist = playlist
    session = make_session(broker, topics)

    with pytest.raises(PlatformError) as caught:
        FakeGuiji().run(lambda driver: driver.reorder(session, "777", 1), session.account)

    assert (caught.value.permanent, caught.value.code) == (True, code)


# 4.2.4, 4.2.6, 4.2.9, 4.2.10 The stage


def test_set_background_replaces_the_background_back_layer(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    session = make_session(broker, topics)

    FakeGuiji().run(
        lambda driver: driver.set_background(session, "https://cdn.example.com/glass.png"), session.account
    )

    assert server.payloads == [
        envelope(
            sid,
            topic_sub,
            1,
            "ModifySessionResList",
            ',"rmvRes":{"resList":[]},"addRes":{"resList":[{"type":"back","resOptions":{"name":"background",'
            '"type":"image","url":"https://cdn.example.com/glass.png","exclusive":{"SameNameInGroup":true}},'
            '"drawOptions":{"x":0,"y":0,"width":1080,"height":1920,"zidx":-1}}]}',
        )
    ]


def test_switch_anchor_switches_the_template_over_the_whole_video(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    session = make_session(broker, topics)
    session.vendor_data["video_size"] = [720, 1280]

    FakeGuiji().run(lambda driver: driver.switch_anchor(session, "369590278856774"), session.account)

    assert server.payloads == [
        envelope(
            sid,
            topic_sub,
            1,
            "ExecSessionResList",
            ',"executeList":[{"name":"dthuman","options":{"method":"switchTemplate","args":{'
            '"drivenMode":"audioDriven","audioDriven":{"udCode":"369590278856774"},'
            '"drawOptions":{"x":0,"y":0,"width":720,"height":1280}}}}]',
        )
    ]


@pytest.mark.parametrize(("on", "method"), [(True, "setpushstreams"), (False, "closepushstreams")])
def test_push_streams_sets_and_closes_the_rtmp_push_urls(
    broker: str, server: FakeServer, topics: tuple[str, str, str], on: bool, method: str
) -> None:
    sid, topic_sub, _ = topics
    session = make_session(broker, topics)
    urls = ["rtmp://push.example.com/live/a", "rtmps://push.example.com/live/b"]

    FakeGuiji().run(lambda driver: driver.push_streams(session, urls, on=on), session.account)

    assert server.payloads == [
        envelope(
            sid,
            topic_sub,
            1,
            "ExecSessionResList",
            f',"executeList":[{{"name":"rtmp","options":{{"method":"{method}","args":{{'
            '"pushurls":["rtmp://push.example.com/live/a","rtmps://push.example.com/live/b"]}}}]',
        )
    ]


def test_push_streams_refuses_urls_that_are_not_rtmp(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    session = make_session(broker, topics)

    with pytest.raises(PlatformError) as caught:
        FakeGuiji().run(lambda driver: driver.push_streams(session, ["https://x"], on=True), session.account)

    assert caught.value.permanent is True
    assert server.payloads == []


def test_anchor_layout_sets_the_avatars_draw_options(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    session = make_session(broker, topics)

    FakeGuiji().run(
        lambda driver: driver.anchor_layout(
            session, AnchorLayout(x=10, y=600, width=800, height=200, alpha=0.5)
        ),
        session.account,
    )

    assert server.payloads == [
        envelope(
            sid,
            topic_sub,
            1,
            "SetResDrawOptions",
            ',"res":{"name":"dthuman","drawOptions":{"x":10,"y":600,"width":800,"height":200,"alpha":0.5}}',
        )
    ]


def test_anchor_layout_the_server_says_not_ok_is_refused(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.answer = lambda request: ok(request, {"message": "fail", "ok": False, "info": "no such res"})
    session = make_session(broker, topics)

    with pytest.raises(PlatformError) as caught:
        FakeGuiji().run(
            lambda driver: driver.anchor_layout(session, AnchorLayout(x=0, y=0, width=1, height=1)),
            session.account,
        )

    assert (caught.value.permanent, caught.value.message) == (True, "no such res")


# The link: ids, matching, loops


def test_message_ids_never_repeat_within_a_session_across_drivers(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.playlist = [SHOW]
    session = make_session(broker, topics)

    async def many(driver: Any) -> None:
        await asyncio.gather(*(driver.queue(session) for _ in range(10)))

    FakeGuiji().run(many, session.account)
    FakeGuiji().run(many, session.account)

    assert sorted(m["id"] for m in server.messages) == list(range(1, 21))


def test_a_reply_is_matched_by_session_and_id_among_other_messages(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    server.playlist = [SHOW, 501]

    def noisy(request: dict[str, Any]) -> dict[str, Any] | None:
        # A heartbeat, a reply for another session with the same id, and one for another id first.
        beat = {"id": 15, "method": "HeartBeat", "params": {"sessionId": f":---:{sid}", "state": "Running"}}
        server.push(topic_sub, beat, wait=False)
        other = {"id": request["id"], "sessionId": "another", "result": {"ok": True, "data": [9]}}
        server.push(topic_sub, other, wait=False)
        later = {"id": request["id"] + 100, "sessionId": sid, "result": {"ok": True, "data": [8]}}
        server.push(topic_sub, later, wait=False)
        return server.default_answer(request)

    server.answer = noisy
    session = make_session(broker, topics)

    assert FakeGuiji().run(lambda driver: driver.queue(session), session.account) == ["501"]


def test_one_link_serves_fresh_event_loops_one_after_another(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    server.playlist = [SHOW, 501]
    session = make_session(broker, topics)
    account = session.account

    for _ in range(3):
        assert FakeGuiji().run(lambda driver: driver.queue(session), account) == ["501"]
    assert mqtt.link(broker, "user1", "password1") is mqtt.link(broker, "user1", "password1")


def test_a_request_nobody_answers_times_out_transiently(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, topic_pub = topics
    server.answer = lambda request: None

    async def ask() -> Any:
        link = mqtt.link(broker, "user1", "password1")
        message = {
            "id": 1,
            "method": "pushPlayListManager",
            "params": {},
            "sessionId": sid,
            "sender": topic_sub,
        }
        return await link.request(topic_pub, topic_sub, message, 0.3)

    with pytest.raises(PlatformError) as caught:
        async_to_sync(ask)()

    assert (caught.value.permanent, caught.value.code) == (False, "timeout")
    assert caught.value.message == "The platform did not answer pushPlayListManager within 0.3 s"


def test_a_broker_nobody_listens_on_is_transient() -> None:
    async def ask() -> Any:
        link = mqtt.link(f"mqtt://127.0.0.1:{free_port()}", "nobody", "")
        message = {"id": 1, "method": "getPlayList", "params": {}, "sessionId": "s", "sender": "t"}
        return await link.request("p", "t", message, 0.3)

    with pytest.raises(PlatformError) as caught:
        async_to_sync(ask)()

    assert (caught.value.permanent, caught.value.code) == (False, "mqtt")


def test_listeners_hear_what_is_not_a_reply(
    broker: str, server: FakeServer, topics: tuple[str, str, str]
) -> None:
    sid, topic_sub, _ = topics
    heard: list[tuple[str, bytes]] = []
    link = mqtt.link(broker, "listener", "")
    link.listen(lambda topic, payload: heard.append((topic, payload)))
    server.playlist = [SHOW]

    async def ask() -> Any:
        message = {
            "id": 1,
            "method": "pushPlayListManager",
            "params": {"sessionId": sid, "action": "getPlayList"},
            "sessionId": sid,
            "sender": topic_sub,
        }
        return await link.request(topics[2], topic_sub, message, 5)

    reply = async_to_sync(ask)()
    beat = {"id": 15, "method": "HeartBeat", "params": {"sessionId": f":---:{sid}", "state": "Running"}}
    server.push(topic_sub, beat)
    for _ in range(100):
        if heard:
            break
        threading.Event().wait(0.02)

    assert reply["result"]["data"] == [SHOW]
    assert heard == [(topic_sub, compact(beat))]


def test_a_new_password_gets_a_new_link(broker: str) -> None:
    first = mqtt.link(broker, "rotating", "one")
    second = mqtt.link(broker, "rotating", "two")

    assert first is not second
    assert mqtt.link(broker, "rotating", "two") is second
