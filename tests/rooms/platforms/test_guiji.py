"""The Guiji driver's HTTP calls (section 3 of the vendor document), byte for byte, through
httpx.MockTransport: the token and its sharing between processes, rooms, materials, catalogs,
live records and play addresses, and every refusal in words.

The token cache is the real Redis of the test run; each test's account has credentials of its
own, so that no test sees another's token.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync

from materials.models import Material
from rooms.models import LiveSession, PlatformAccount
from rooms.platforms import driver_class
from rooms.platforms import guiji as guiji_module
from rooms.platforms.base import (
    Capability,
    CatalogAnchor,
    CatalogCategory,
    CatalogMaterial,
    CatalogScene,
    CatalogVoice,
    CatalogVoiceChange,
    HistoryEntry,
    LiveState,
    LiveStatus,
    PlatformError,
    RunningSession,
)
from rooms.platforms.guiji import GuijiDriver
from tests.rooms.platforms.guiji_factories import AnchorFactory, AnchorSceneFactory, GuijiRoomFactory

BASE = "https://meta.guiji.example"
API = f"{BASE}/live-manager"
OK_MSG = "处理成功"


def make_account(**overrides: Any) -> PlatformAccount:
    fields: dict[str, Any] = {
        "id": secrets.randbelow(10**9),
        "name": "Guiji main",
        "kind": PlatformAccount.Kind.GUIJI,
        "base_url": f"{BASE}/",
        "credentials": {
            "app_id": f"app-{secrets.token_hex(4)}",
            "app_secret": secrets.token_hex(8),
            "mqtt_url": "mqtt://127.0.0.1:1883",
        },
    }
    return PlatformAccount(**(fields | overrides))


def answer(data: Any = None, *, code: int = 200, msg: str = OK_MSG) -> httpx.Response:
    return httpx.Response(200, json={"code": code, "msg": msg, "success": code == 200, "data": data})


def token_data(token: str, **overrides: Any) -> dict[str, Any]:
    return {
        "token": token,
        "expirationTime": 3600,
        "startTime": "2023-07-01 18:01:14",
        "endTime": "2023-07-31 18:01:19",
        "mqttUser": "user1",
        "mqttPassword": "password1",
    } | overrides


Answerer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeGuiji:
    """Answers by path (after /live-manager): the next canned answer, the last one again when
    only one is left. The token call answers a new token each time unless told otherwise."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Answerer]] = {}
        self.requests: list[httpx.Request] = []
        self.tokens = 0

    def on(self, path: str, *answers: Answerer) -> FakeGuiji:
        self.routes.setdefault(path, []).extend(answers)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/live-manager")
        queued = self.routes.get(path)
        if not queued and path == "/open/accessToken":
            self.tokens += 1
            return answer(token_data(f"token-{self.tokens}"))
        assert queued, f"unexpected request {request.method} {request.url}"
        found = queued.pop(0) if len(queued) > 1 else queued[0]
        if isinstance(found, Exception):
            raise found
        if isinstance(found, httpx.Response):
            return found
        return found(request)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == f"/live-manager{path}"]

    @property
    def token_requests(self) -> list[httpx.Request]:
        return self.calls("/open/accessToken")

    def run(
        self, call: Callable[[GuijiDriver], Awaitable[Any]], account: PlatformAccount | None = None
    ) -> Any:
        async def go() -> Any:
            async with httpx.AsyncClient(transport=httpx.MockTransport(self)) as client:
                return await call(GuijiDriver(account or make_account(), client))

        # async_to_sync: the driver's database reads run in this (the test's) thread.
        return async_to_sync(go)()


def assert_sent(
    request: httpx.Request, method: str, url: str, body: bytes | None = None, *, token: str = "token-1"
) -> None:
    assert request.method == method
    assert str(request.url) == url
    assert request.headers["token"] == token
    assert request.headers["source"] == "sdk"
    if body is None:
        assert request.content == b""
        assert "Content-Type" not in request.headers
    else:
        assert request.headers["Content-Type"] == "application/json"
        assert request.content == body


class Speech:
    tts_source = 10
    tts_speaker = "12"
    tts_volume = 0.0
    tts_intonation = 2.0
    tts_speed_rate = 10.0
    tts_f0up_key = 12
    change_voice_speaker = "11"


# Driver identity


def test_registry_picks_the_guiji_driver_for_guiji_accounts() -> None:
    assert driver_class("guiji") is GuijiDriver


def test_capabilities_are_the_playlist_and_stage_controls_with_reorder_emulated() -> None:
    vendor_driver = GuijiDriver(make_account(), httpx.AsyncClient())
    sandbox_driver = GuijiDriver(make_account(sandbox=True), httpx.AsyncClient())
    assert vendor_driver.capabilities == {
        Capability.TAKEOVER_INTERRUPT,
        Capability.TAKEOVER_QUEUE,
        Capability.REORDER,
        Capability.CANCEL_ONE,
        Capability.PLAY_ADDRESSES,
        Capability.BACKGROUND,
        Capability.ANCHOR_SWITCH,
        Capability.PUSH_STREAMS,
        Capability.ANCHOR_LAYOUT,
        Capability.CATALOG,
        Capability.HISTORY,
        Capability.RUNNING_LIST,
        Capability.VENDOR_HEARTBEAT,
    }
    # On the sandbox, a program monitor too.
    assert sandbox_driver.capabilities == vendor_driver.capabilities | {Capability.PREVIEW}
    assert GuijiDriver.emulated == {Capability.REORDER}


def test_start_and_heartbeat_send_nothing() -> None:
    vendor = FakeGuiji()
    session = LiveSession(id=1, vendor_session_id="s-1", state=LiveState.READY)

    assert vendor.run(lambda driver: driver.start(session)) is None
    assert vendor.run(lambda driver: driver.heartbeat(session)) is None
    assert vendor.requests == []


# 3.1 Obtain token


def test_token_is_asked_with_app_id_and_secret_and_no_token_header() -> None:
    account = make_account(credentials={"app_id": "appid-1", "app_secret": "secret-秘密", "mqtt_url": ""})
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer({"id": 12312}))

    vendor.run(lambda driver: driver.room_query("12312"), account)

    request = vendor.token_requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{API}/open/accessToken"
    assert request.headers["Content-Type"] == "application/json"
    assert request.content == '{"appId":"appid-1","appSecret":"secret-秘密"}'.encode()
    assert "token" not in request.headers
    assert "source" not in request.headers


def test_every_call_after_the_token_carries_token_and_source_headers() -> None:
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer({"id": 12312}))

    vendor.run(lambda driver: driver.room_query("12312"))

    assert_sent(vendor.requests[1], "GET", f"{API}/openApi/liveInfo/query?id=12312")


def test_token_is_shared_through_the_cache_by_every_driver_of_the_account() -> None:
    account = make_account()
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer({"id": 1}))

    vendor.run(lambda driver: driver.room_query("1"), account)
    vendor.run(lambda driver: driver.room_query("1"), account)

    assert len(vendor.token_requests) == 1
    assert [r.headers["token"] for r in vendor.calls("/openApi/liveInfo/query")] == ["token-1", "token-1"]


def test_new_credentials_get_a_new_token() -> None:
    account = make_account()
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer({"id": 1}))
    vendor.run(lambda driver: driver.room_query("1"), account)

    account.credentials = account.credentials | {"app_secret": "a-new-secret"}
    vendor.run(lambda driver: driver.room_query("1"), account)

    assert len(vendor.token_requests) == 2
    assert b"a-new-secret" in vendor.token_requests[1].content


def test_token_is_fetched_again_shortly_before_its_expiration_time(monkeypatch: pytest.MonkeyPatch) -> None:
    account = make_account()
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer({"id": 1}))
    clock = [1_000_000.0]
    monkeypatch.setattr(guiji_module, "_now", lambda: clock[0])

    vendor.run(lambda driver: driver.room_query("1"), account)
    clock[0] += 3600 - 61  # a minute and a second left: still good
    vendor.run(lambda driver: driver.room_query("1"), account)
    assert len(vendor.token_requests) == 1

    clock[0] += 2  # less than a minute left: fetched again before it runs out
    vendor.run(lambda driver: driver.room_query("1"), account)

    assert len(vendor.token_requests) == 2
    assert [r.headers["token"] for r in vendor.calls("/openApi/liveInfo/query")] == [
        "token-1",
        "token-1",
        "token-2",
    ]


def test_a_refused_token_is_fetched_again_once_and_the_call_sent_again() -> None:
    vendor = FakeGuiji().on(
        "/openApi/liveInfo/query",
        answer(code=100502, msg="Token has expired"),
        answer({"id": 7, "liveName": "My live room"}),
    )

    info = vendor.run(lambda driver: driver.room_query("7"))

    assert info.liveName == "My live room"
    paths = [r.url.path.removeprefix("/live-manager") for r in vendor.requests]
    assert paths == [
        "/open/accessToken",
        "/openApi/liveInfo/query",
        "/open/accessToken",
        "/openApi/liveInfo/query",
    ]
    assert [r.headers["token"] for r in vendor.calls("/openApi/liveInfo/query")] == ["token-1", "token-2"]


def test_a_token_refused_twice_is_a_transient_error() -> None:
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer(code=100502, msg="Token has expired"))

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.room_query("7"))

    assert caught.value.permanent is False
    assert caught.value.code == "100502"
    assert len(vendor.token_requests) == 2


def test_twenty_concurrent_calls_of_one_driver_fetch_one_token() -> None:
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer({"id": 1}))

    async def twenty(driver: GuijiDriver) -> list[Any]:
        return list(await asyncio.gather(*(driver.room_query("1") for _ in range(20))))

    assert len(vendor.run(twenty)) == 20
    assert len(vendor.token_requests) == 1


def test_twenty_drivers_at_once_fetch_one_token_between_them() -> None:
    """As twenty processes would: each driver its own memory, the cache and its lock shared."""
    account = make_account()
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer({"id": 1}))

    def slow_token(request: httpx.Request) -> httpx.Response:
        vendor.tokens += 1
        return answer(token_data(f"token-{vendor.tokens}"))

    vendor.on("/open/accessToken", slow_token)

    async def go() -> list[Any]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(vendor)) as client:
            drivers = [GuijiDriver(account, client) for _ in range(20)]
            return list(await asyncio.gather(*(driver.room_query("1") for driver in drivers)))

    assert len(async_to_sync(go)()) == 20
    assert len(vendor.token_requests) == 1
    assert {r.headers["token"] for r in vendor.calls("/openApi/liveInfo/query")} == {"token-1"}


def test_twenty_calls_refused_with_an_expired_token_fetch_one_new_token() -> None:
    refused: set[str] = set()

    def expire_first_token(request: httpx.Request) -> httpx.Response:
        if request.headers["token"] == "token-1":
            refused.add("token-1")
            return answer(code=100502, msg="Token has expired")
        return answer({"id": 1})

    vendor = FakeGuiji().on("/openApi/liveInfo/query", expire_first_token)

    async def twenty(driver: GuijiDriver) -> list[Any]:
        return list(await asyncio.gather(*(driver.room_query("1") for _ in range(20))))

    assert len(vendor.run(twenty)) == 20
    assert refused == {"token-1"}
    assert len(vendor.token_requests) == 2


def test_mqtt_login_comes_with_the_token() -> None:
    assert FakeGuiji().run(lambda driver: driver.mqtt_login()) == ("user1", "password1")


@pytest.mark.parametrize(
    ("code", "data", "words"),
    [
        (100503, None, "Guiji does not know this app id and app secret: the app secret (or app id) is wrong"),
        (
            100504,
            {"startTime": "2023-07-01 18:01:14"},
            "The Guiji key is not valid yet (from 2023-07-01 18:01:14)",
        ),
        (100505, {"endTime": "2023-07-31 18:01:19"}, "The Guiji key expired on 2023-07-31 18:01:19"),
        (100505, None, "The Guiji key expired"),
    ],
)
def test_a_refused_key_is_a_permanent_error_in_words(code: int, data: Any, words: str) -> None:
    vendor = FakeGuiji().on("/open/accessToken", answer(data, code=code, msg="xx"))

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.room_query("1"))

    assert caught.value.message == words
    assert caught.value.permanent is True
    assert caught.value.code == str(code)
    assert vendor.calls("/openApi/liveInfo/query") == []


def test_a_key_that_expires_while_in_use_says_when_from_the_token() -> None:
    vendor = FakeGuiji().on(
        "/openApi/liveInfo/query",
        answer({"id": 1}),
        answer(code=100505, msg="The user's secret key has expired"),
    )

    async def twice(driver: GuijiDriver) -> Any:
        await driver.room_query("1")
        return await driver.room_query("1")

    with pytest.raises(PlatformError) as caught:
        vendor.run(twice)

    assert caught.value.message == "The Guiji key expired on 2023-07-31 18:01:19"
    assert caught.value.permanent is True


def test_no_token_and_other_failures_are_permanent_with_the_vendors_words() -> None:
    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer(code=100501, msg="Token cannot be empty"))
    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.room_query("1"))
    assert (caught.value.permanent, caught.value.code) == (True, "100501")
    assert caught.value.message == "Guiji received no token with the request"

    vendor = FakeGuiji().on("/openApi/liveInfo/query", answer(code=500, msg="直播间不存在"))
    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.room_query("1"))
    assert (caught.value.permanent, caught.value.code, caught.value.message) == (True, "500", "直播间不存在")


def test_missing_credentials_are_a_permanent_error_without_a_call() -> None:
    vendor = FakeGuiji()
    account = make_account(credentials={"app_id": "", "app_secret": ""})

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.room_query("1"), account)

    assert caught.value.permanent is True
    assert vendor.requests == []


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (httpx.Response(502, text="bad gateway"), "502"),
        (httpx.Response(200, text="<html>maintenance</html>"), "malformed"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "network"),
    ],
)
def test_transport_failures_are_transient(failure: Answerer, code: str) -> None:
    vendor = FakeGuiji().on("/openApi/liveInfo/query", failure)

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.room_query("1"))

    assert (caught.value.permanent, caught.value.code) == (False, code)


def test_an_answer_without_the_documented_data_is_transient() -> None:
    vendor = FakeGuiji().on("/openApi/customizedMaterial/upload", answer(None))

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.text_upload("1234", "Hello there", Speech()))

    assert (caught.value.permanent, caught.value.code) == (False, "malformed")


# 3.2-3.5 Live rooms


def make_room_with_scenes() -> Any:
    anchor = AnchorFactory(vendor_id=12312, code="123123", name="Anchor Name", cover_url="", description="")
    opening = AnchorSceneFactory(
        anchor=anchor,
        code="123123123",
        name="Scene Name 1",
        video_cover_url="https://www.guiji.ai/demo/2079_1080x1920_0_480.mp4",
    )
    second = AnchorSceneFactory(
        anchor=anchor,
        code="123123122",
        name="Scene Name 2",
        proportion="9:16",
        posture="2",
        duration_seconds=71,
        example_url="https://www.guiji.ai/demo/83db.mp4",
        video_cover_url="https://www.guiji.ai/demo/2079_1080x1920_0_481.mp4",
    )
    other = AnchorFactory(
        account=anchor.account,
        vendor_id=None,
        code="12333",
        name="Anchor Name 1",
        cover_url="https://robot.guiji.ai/demo/22874.jpg",
        description="Description",
    )
    third = AnchorSceneFactory(anchor=other, code="12312333", name="Scene Name 3", video_cover_url="")
    room = GuijiRoomFactory(
        account=anchor.account, anchor_scene=opening, name="My live room", cutin_flag=True
    )
    room.switch_scenes.set([third, second, opening])
    return room


ROBOT_LIST = (
    '[{"id":12312,"robotCode":"123123","robotName":"Anchor Name","sceneList":['
    '{"sceneCode":"123123123","sceneName":"Scene Name 1",'
    '"videoCoverUrl":"https://www.guiji.ai/demo/2079_1080x1920_0_480.mp4"},'
    '{"sceneCode":"123123122","proportion":"9:16","posture":"2","duration":71,"sceneName":"Scene Name 2",'
    '"exampleUrl":"https://www.guiji.ai/demo/83db.mp4",'
    '"videoCoverUrl":"https://www.guiji.ai/demo/2079_1080x1920_0_481.mp4"}]},'
    '{"coverUrl":"https://robot.guiji.ai/demo/22874.jpg","robotDesc":"Description","robotCode":"12333",'
    '"robotName":"Anchor Name 1","sceneList":[{"sceneCode":"12312333","sceneName":"Scene Name 3"}]}]'
)


@pytest.mark.django_db
def test_room_create_posts_the_rooms_scenes_grouped_by_anchor() -> None:
    room = make_room_with_scenes()
    vendor = FakeGuiji().on("/openApi/liveInfo/create", answer(12312))

    live_id = vendor.run(lambda driver: driver.room_create(room), room.account)

    assert live_id == "12312"
    body = '{"cutinFlag":true,"liveName":"My live room","robotList":' + ROBOT_LIST + "}"
    assert_sent(vendor.requests[1], "POST", f"{API}/openApi/liveInfo/create", body.encode())


@pytest.mark.django_db
def test_room_sync_updates_the_vendors_room_when_the_room_has_one() -> None:
    room = make_room_with_scenes()
    room.vendor_room_id = "12312"
    room.cutin_flag = False
    vendor = FakeGuiji().on("/openApi/liveInfo/update", answer(True))

    live_id = vendor.run(lambda driver: driver.room_sync(room), room.account)

    assert live_id == "12312"
    body = '{"id":12312,"cutinFlag":false,"liveName":"My live room","robotList":' + ROBOT_LIST + "}"
    assert_sent(vendor.requests[1], "POST", f"{API}/openApi/liveInfo/update", body.encode())


@pytest.mark.django_db
def test_room_sync_creates_the_vendors_room_when_the_room_has_none() -> None:
    room = GuijiRoomFactory(name="Plain", anchor_scene=None)
    vendor = FakeGuiji().on("/openApi/liveInfo/create", answer(99))

    assert vendor.run(lambda driver: driver.room_sync(room), room.account) == "99"
    assert vendor.requests[1].content == b'{"cutinFlag":true,"liveName":"Plain","robotList":[]}'


@pytest.mark.django_db
def test_a_room_update_the_vendor_refuses_is_permanent() -> None:
    room = GuijiRoomFactory(vendor_room_id="5", anchor_scene=None)
    vendor = FakeGuiji().on("/openApi/liveInfo/update", answer(False))

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.room_update(room), room.account)

    assert caught.value.permanent is True


def test_room_query_and_list_are_gets_with_the_query_string() -> None:
    live = {
        "id": 12312,
        "cutinFlag": True,
        "liveName": "My live room",
        "robotList": [{"id": 12312, "robotCode": "123123", "robotName": " Anchor Name", "sceneList": []}],
    }
    page = {"records": [live], "total": 1, "pages": 1, "size": 10}
    vendor = (
        FakeGuiji()
        .on("/openApi/liveInfo/query", answer(live))
        .on("/openApi/liveInfo/queryByPage", answer(page))
    )

    account = make_account()
    info = vendor.run(lambda driver: driver.room_query("12312"), account)
    listed = vendor.run(lambda driver: driver.room_list(page=2, page_size=5), account)

    assert info.robotList[0].robotCode == "123123"
    assert listed.records[0].id == 12312
    assert_sent(vendor.calls("/openApi/liveInfo/query")[0], "GET", f"{API}/openApi/liveInfo/query?id=12312")
    assert_sent(
        vendor.calls("/openApi/liveInfo/queryByPage")[0],
        "GET",
        f"{API}/openApi/liveInfo/queryByPage?page=2&pageSize=5",
    )


def test_a_room_id_that_is_not_a_number_is_refused_without_a_call() -> None:
    vendor = FakeGuiji()

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.room_query("abc"))

    assert caught.value.permanent is True
    assert vendor.calls("/openApi/liveInfo/query") == []


# 3.6-3.7 Materials


def test_text_upload_posts_the_text_with_its_speech_settings_in_the_tables_order() -> None:
    vendor = FakeGuiji().on("/openApi/customizedMaterial/upload", answer(12312))

    material_id = vendor.run(
        lambda driver: driver.text_upload(
            "1234", "The product we are selling today is XXXX", Speech(), description="This is a text script"
        )
    )

    assert material_id == "12312"
    body = (
        '{"liveId":1234,"materialType":"TEXT","changeVoiceSpeaker":"11",'
        '"materialDescription":"This is a text script","text":"The product we are selling today is XXXX",'
        '"ttsSource":10,"ttsSpeaker":"12","volume":0.0,"intonation":2.0,"speedRate":10.0,"f0upKey":12}'
    )
    assert_sent(vendor.requests[1], "POST", f"{API}/openApi/customizedMaterial/upload", body.encode())


def test_text_upload_leaves_out_an_unset_voice_change_and_keeps_chinese_unescaped() -> None:
    vendor = FakeGuiji().on("/openApi/customizedMaterial/upload", answer(1))
    speech = Speech()
    speech.change_voice_speaker = ""

    vendor.run(lambda driver: driver.text_upload("1234", "欢迎来到直播间", speech))

    assert (
        vendor.requests[1].content
        == (
            '{"liveId":1234,"materialType":"TEXT","text":"欢迎来到直播间","ttsSource":10,"ttsSpeaker":"12",'
            '"volume":0.0,"intonation":2.0,"speedRate":10.0,"f0upKey":12}'
        ).encode()
    )


def test_text_upload_without_a_voice_is_refused_without_a_call() -> None:
    vendor = FakeGuiji()
    speech = Speech()
    speech.tts_speaker = ""

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.text_upload("1234", "Hello there", speech))

    assert caught.value.permanent is True
    assert vendor.requests == []


def test_material_upload_sends_a_text_material_with_its_own_speech() -> None:
    material = Material(
        kind=Material.Kind.TEXT,
        name="Welcome",
        text="Welcome, everyone",
        tts_source=3,
        tts_speaker="w1",
        tts_volume=1.0,
        tts_intonation=-1.0,
        tts_speed_rate=0.5,
        tts_f0up_key=-2,
    )
    vendor = FakeGuiji().on("/openApi/customizedMaterial/upload", answer(55))

    assert vendor.run(lambda driver: driver.material_upload("9", material)) == "55"
    assert vendor.requests[1].content == (
        b'{"liveId":9,"materialType":"TEXT","materialDescription":"Welcome","text":"Welcome, everyone",'
        b'"ttsSource":3,"ttsSpeaker":"w1","volume":1.0,"intonation":-1.0,"speedRate":0.5,"f0upKey":-2}'
    )


def test_material_upload_sends_an_audio_material_by_its_url() -> None:
    material = Material(
        kind=Material.Kind.AUDIO,
        name="This is an audio script",
        url="https://www.guiji.ai/demo/material/asdasdasd.wav",
        change_voice_speaker="11",
    )
    vendor = FakeGuiji().on("/openApi/customizedMaterial/upload", answer(56))

    assert vendor.run(lambda driver: driver.material_upload("1234", material)) == "56"
    body = (
        b'{"liveId":1234,"materialType":"AUDIO","changeVoiceSpeaker":"11",'
        b'"materialDescription":"This is an audio script",'
        b'"materialUrl":"https://www.guiji.ai/demo/material/asdasdasd.wav"}'
    )
    assert_sent(vendor.requests[1], "POST", f"{API}/openApi/customizedMaterial/upload", body)


def test_material_upload_refuses_images_and_video() -> None:
    vendor = FakeGuiji()

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.material_upload("1", Material(kind=Material.Kind.IMAGE, name="x")))

    assert caught.value.permanent is True
    assert vendor.requests == []


def test_material_query_posts_the_room_and_page() -> None:
    page = {
        "records": [
            {"id": 3123, "materialType": "TEXT", "text": "A paragraph", "duration": 0, "liveId": 12320},
            {
                "id": 312376,
                "materialType": "AUDIO",
                "materialUrl": "https://x/a.wav",
                "duration": 14040,
                "liveId": 12320,
            },
        ],
        "total": 2,
        "size": 10,
        "current": 1,
    }
    vendor = FakeGuiji().on("/openApi/customizedMaterial/query", answer(page))

    found = vendor.run(lambda driver: driver.material_query("12320"))

    assert [m.id for m in found.records] == [3123, 312376]
    assert_sent(
        vendor.requests[1],
        "POST",
        f"{API}/openApi/customizedMaterial/query",
        b'{"liveId":12320,"page":1,"pageSize":10}',
    )


# 3.8-3.14 Catalogs


def voice(n: int, **overrides: Any) -> dict[str, Any]:
    return {
        "id": 330 + n,
        "ttsName": f"Abby {n}",
        "ttsIntroduction": "Female Voice | English",
        "ttsSpeaker": str(144 + n),
        "ttsCategory": "Female voice, English",
        "ttsAudition": f"https://tts.guiji.ai/source/{n}.wav",
        "ttsCover": f"https://tts.guiji.ai/{n}.jpg",
        "ttsSource": 10,
        "languages": ["en"],
        "ssmlFlag": True,
        "f0upKeyFlag": True,
        "userCategory": "Female Voice",
    } | overrides


def test_catalog_voices_reads_every_platform_page_then_the_customized_voices() -> None:
    vendor = (
        FakeGuiji()
        .on(
            "/openApi/speaker/platformList",
            answer({"total": 3, "current": 1, "pageSize": 100, "records": [voice(0), voice(1)]}),
            answer(
                {"total": 3, "current": 2, "pageSize": 100, "records": [voice(2, languages=["cn", "en"])]}
            ),
        )
        .on("/openApi/speaker/customizedList", answer([voice(9, ttsName="Mine")]))
    )

    voices = vendor.run(lambda driver: driver.catalog_voices())

    assert [str(r.url) for r in vendor.requests[1:]] == [
        f"{API}/openApi/speaker/platformList?page=1&pageSize=100",
        f"{API}/openApi/speaker/platformList?page=2&pageSize=100",
        f"{API}/openApi/speaker/customizedList",
    ]
    assert voices[0] == CatalogVoice(
        speaker="144",
        name="Abby 0",
        custom=False,
        tts_source=10,
        language="en",
        gender="Female Voice",
        sample_url="https://tts.guiji.ai/source/0.wav",
        cover_url="https://tts.guiji.ai/0.jpg",
    )
    assert voices[2].language == "cn,en"
    assert [(v.speaker, v.custom) for v in voices] == [
        ("144", False),
        ("145", False),
        ("146", False),
        ("153", True),
    ]


def test_catalog_anchors_lists_platform_and_customized_anchors_with_scenes() -> None:
    robot = {
        "id": 12312,
        "robotCode": "123123",
        "robotName": " Anchor Name",
        "coverUrl": "https://robot.guiji.ai/demo/22874.jpg",
        "robotDesc": "Description",
        "sceneList": [
            {
                "sceneCode": "123123123",
                "sceneName": "Scene Name 1",
                "proportion": "9:16",
                "posture": 2,
                "duration": 71,
                "exampleUrl": "https://www.guiji.ai/demo/83db.mp4",
                "videoCoverUrl": "https://www.guiji.ai/demo/2079.mp4",
                "sceneType": 0,
                "coverUrl": "https://www.guiji.ai/demo/fde0.png",
            }
        ],
    }
    vendor = (
        FakeGuiji()
        .on("/openApi/robot/platformList", answer([robot]))
        .on("/openApi/robot/customizedList", answer([{"id": 5, "robotCode": "mine", "robotName": "Mine"}]))
    )

    anchors = vendor.run(lambda driver: driver.catalog_anchors())

    assert_sent(vendor.requests[1], "GET", f"{API}/openApi/robot/platformList")
    assert_sent(vendor.requests[2], "GET", f"{API}/openApi/robot/customizedList")
    assert anchors == [
        CatalogAnchor(
            code="123123",
            name=" Anchor Name",
            custom=False,
            vendor_id=12312,
            description="Description",
            cover_url="https://robot.guiji.ai/demo/22874.jpg",
            scenes=(
                CatalogScene(
                    code="123123123",
                    name="Scene Name 1",
                    proportion="9:16",
                    posture="2",
                    duration_seconds=71,
                    example_url="https://www.guiji.ai/demo/83db.mp4",
                    video_cover_url="https://www.guiji.ai/demo/2079.mp4",
                    cover_url="https://www.guiji.ai/demo/fde0.png",
                ),
            ),
        ),
        CatalogAnchor(code="mine", name="Mine", custom=True, vendor_id=5),
    ]


def test_catalog_voice_changes_reads_every_page() -> None:
    def change(n: int) -> dict[str, Any]:
        return {
            "id": n,
            "speakerCode": f"c{n}",
            "speakerName": f"Voice {n}",
            "ttsAudition": f"https://x/{n}.wav",
        }

    vendor = FakeGuiji().on(
        "/openApi/voice/changeVoiceList",
        answer({"current": 1, "records": [change(1), change(2)], "total": 3, "size": 100}),
        answer({"current": 2, "records": [change(3)], "total": 3, "size": 100}),
    )

    changes = vendor.run(lambda driver: driver.catalog_voice_changes())

    assert changes == [
        CatalogVoiceChange(speaker="c1", name="Voice 1", sample_url="https://x/1.wav"),
        CatalogVoiceChange(speaker="c2", name="Voice 2", sample_url="https://x/2.wav"),
        CatalogVoiceChange(speaker="c3", name="Voice 3", sample_url="https://x/3.wav"),
    ]
    assert str(vendor.requests[2].url) == f"{API}/openApi/voice/changeVoiceList?page=2&pageSize=100"


def test_a_list_that_does_not_count_its_records_is_read_until_a_short_page() -> None:
    vendor = FakeGuiji().on(
        "/openApi/voice/changeVoiceList",
        # The document's own example says total 0 beside two records.
        answer(
            {"current": 1, "records": [{"speakerCode": "a"}, {"speakerCode": "b"}], "total": 0, "size": 10}
        ),
    )

    changes = vendor.run(lambda driver: driver.catalog_voice_changes())

    assert [c.speaker for c in changes] == ["a", "b"]
    assert len(vendor.calls("/openApi/voice/changeVoiceList")) == 1


def test_voice_changes_not_enabled_for_the_account_are_a_permanent_error() -> None:
    vendor = FakeGuiji().on(
        "/openApi/voice/changeVoiceList", answer(code=500, msg="no voice change permission")
    )

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.catalog_voice_changes())

    assert caught.value.permanent is True


def test_voice_change_trial_posts_the_speech_settings_and_returns_the_file() -> None:
    # The document's example spells the key "filePath\t".
    vendor = FakeGuiji().on(
        "/openApi/speaker/syncSynthesisWavAndChangeVoice",
        answer({"duration": 71, "filePath\t": "https://www.guiji.ai/demo/83db.wav"}),
    )

    url = vendor.run(lambda driver: driver.voice_change_trial("11", "hello", speech=Speech()))

    assert url == "https://www.guiji.ai/demo/83db.wav"
    body = (
        b'{"changeVoiceSpeaker":"11","ttsSource":10,"ttsSpeaker":"12","volume":0.0,"intonation":2.0,'
        b'"speedRate":10.0,"f0upKey":12}'
    )
    assert_sent(vendor.requests[1], "POST", f"{API}/openApi/speaker/syncSynthesisWavAndChangeVoice", body)


def test_voice_change_trial_without_speech_speaks_with_the_platforms_first_voice() -> None:
    vendor = (
        FakeGuiji()
        .on("/openApi/speaker/platformList", answer({"total": 9, "records": [voice(0)]}))
        .on(
            "/openApi/speaker/syncSynthesisWavAndChangeVoice",
            answer({"filePath": "https://x/t.wav", "duration": 3}),
        )
    )

    assert vendor.run(lambda driver: driver.voice_change_trial("c7", "hello")) == "https://x/t.wav"
    assert str(vendor.requests[1].url) == f"{API}/openApi/speaker/platformList?page=1&pageSize=1"
    assert vendor.requests[2].content == (
        b'{"changeVoiceSpeaker":"c7","ttsSource":10,"ttsSpeaker":"144","volume":0.0,"intonation":0.0,"speedRate":0.0}'
    )


def test_catalog_categories_and_their_public_materials() -> None:
    categories = [
        {"id": 123, "parentCode": "12312312", "name": "video", "code": "10000"},
        {"id": 5, "parentCode": None, "name": "实时挂件", "code": "50000"},
    ]
    material = {
        "id": 13,
        "code": "10001",
        "name": "大拇指点赞",
        "categoryCode": "10000",
        "fileUrl": "https://x/like.gif",
        "fileType": "gif",
        "coverUrl": "https://x/like-cover.gif",
    }
    vendor = (
        FakeGuiji()
        .on("/openApi/materialCategory/query", answer(categories))
        .on("/openApi/material/query", answer({"records": [material], "total": 1, "size": 100, "current": 1}))
    )

    account = make_account()
    found = vendor.run(lambda driver: driver.catalog_categories(), account)
    materials = vendor.run(lambda driver: driver.catalog_materials(found[0]), account)

    assert found == [
        CatalogCategory(vendor_id=123, name="video", code="10000"),
        CatalogCategory(vendor_id=5, name="实时挂件", code="50000"),
    ]
    assert materials == [
        CatalogMaterial(
            vendor_id=13,
            name="大拇指点赞",
            kind="gif",
            url="https://x/like.gif",
            cover_url="https://x/like-cover.gif",
        )
    ]
    assert_sent(
        vendor.calls("/openApi/materialCategory/query")[0], "GET", f"{API}/openApi/materialCategory/query"
    )
    assert_sent(
        vendor.calls("/openApi/material/query")[0],
        "GET",
        f"{API}/openApi/material/query?code=10000&page=1&pageSize=100",
    )


def test_catalog_materials_of_a_stored_category_looks_its_code_up() -> None:
    vendor = (
        FakeGuiji()
        .on("/openApi/materialCategory/query", answer([{"id": 5, "name": "挂件", "code": "50000"}]))
        .on("/openApi/material/query", answer({"records": [], "total": 0}))
    )

    assert (
        vendor.run(lambda driver: driver.catalog_materials(CatalogCategory(vendor_id=5, name="挂件"))) == []
    )
    assert str(vendor.calls("/openApi/material/query")[0].url).endswith("?code=50000&page=1&pageSize=100")


# 3.15 Live records


def record(n: int, status: str = "Closed broadcast", **overrides: Any) -> dict[str, Any]:
    return {
        "id": 17800 + n,
        "sessionId": f"session-{n}",
        "beginTime": "2023-07-20 19:55",
        "liveId": 1246107,
        "cropName": "guiji company",
        "liveName": "ai anchor live",
        "modeName": "andy",
        "liveStatusName": status,
        "duration": 0.37,
    } | overrides


def test_history_is_one_page_of_live_records() -> None:
    vendor = FakeGuiji().on(
        "/openApi/liveRecord/query",
        answer({"records": [record(1, "Living"), record(2)], "total": 1146, "size": 2, "current": 3}),
    )

    page = vendor.run(lambda driver: driver.history(page=3, page_size=2))

    assert_sent(vendor.requests[1], "GET", f"{API}/openApi/liveRecord/query?page=3&pageSize=2")
    assert page.entries == [
        HistoryEntry(
            vendor_session_id="session-1",
            status=LiveStatus(state=LiveState.LIVE, vendor_code="Living"),
            started="2023-07-20 19:55",
            ended="",
        ),
        HistoryEntry(
            vendor_session_id="session-2",
            status=LiveStatus(state=LiveState.ENDED, vendor_code="Closed broadcast"),
            started="2023-07-20 19:55",
            ended="",
        ),
    ]
    assert (page.page, page.pages, page.total) == (3, 573, 1146)


def test_history_reads_the_tables_field_names_too() -> None:
    vendor = FakeGuiji().on(
        "/openApi/liveRecord/query", answer({"list": [record(1)], "total": 1, "pages": 1, "pageSize": 10})
    )

    page = vendor.run(lambda driver: driver.history())

    assert [e.vendor_session_id for e in page.entries] == ["session-1"]
    assert page.pages == 1


def test_running_lists_the_living_sessions_of_every_page() -> None:
    vendor = FakeGuiji().on(
        "/openApi/liveRecord/query",
        answer(
            {"records": [record(1, "Living"), record(2)], "total": 3, "size": 100, "current": 1, "pages": 2}
        ),
        answer({"records": [record(3, "直播中")], "total": 3, "size": 100, "current": 2, "pages": 2}),
    )

    running = vendor.run(lambda driver: driver.running())

    assert running == [
        RunningSession("session-1", LiveStatus(state=LiveState.LIVE, vendor_code="Living")),
        RunningSession("session-3", LiveStatus(state=LiveState.LIVE, vendor_code="直播中")),
    ]
    assert [str(r.url) for r in vendor.requests[1:]] == [
        f"{API}/openApi/liveRecord/query?page=1&pageSize=100",
        f"{API}/openApi/liveRecord/query?page=2&pageSize=100",
    ]


def test_status_is_the_sessions_live_record() -> None:
    vendor = FakeGuiji().on(
        "/openApi/liveRecord/query",
        answer({"records": [record(1, "Living"), record(2)], "total": 2, "size": 100, "current": 1}),
    )
    closed = LiveSession(id=1, vendor_session_id="session-2", state=LiveState.LIVE)
    living = LiveSession(id=2, vendor_session_id="session-1", state=LiveState.LIVE)

    account = make_account()
    assert vendor.run(lambda driver: driver.status(closed), account) == LiveStatus(
        state=LiveState.ENDED, vendor_code="Closed broadcast"
    )
    assert vendor.run(lambda driver: driver.status(living), account).state is LiveState.LIVE


def test_status_of_a_session_the_records_do_not_list_raises() -> None:
    vendor = FakeGuiji().on("/openApi/liveRecord/query", answer({"records": [record(1)], "total": 1}))

    with pytest.raises(PlatformError) as caught:
        vendor.run(
            lambda driver: driver.status(LiveSession(id=1, vendor_session_id="elsewhere", state="live"))
        )

    assert caught.value.code == "not-found"


# 3.16 Play addresses


PLAYADDR = {
    "rtmp": {"lan": "rtmp://192.168.0.1:1935/x/y", "wan": "rtmp://172.16.103.14:1935/x/y"},
    "rtsp": {"lan": "rtsp://192.168.0.1:554/x/y", "wan": "rtsp://172.16.103.14:554/x/y"},
    "http_flv": {"lan": "http://192.168.0.1:8080/x/y", "wan": "http://172.16.103.14:8080/x/y"},
}


def test_stream_path_gets_the_play_addresses_by_protocol() -> None:
    vendor = FakeGuiji().on(
        "/openApi/live/getPath",
        answer({"message": "success", "ok": True, "info": "ok", "data": {"playaddr": PLAYADDR}}),
    )
    session = LiveSession(
        id=1, vendor_session_id="2221b2a-2168", state=LiveState.READY, vendor_data={"live_id": "1123123"}
    )

    addresses = vendor.run(lambda driver: driver.stream_path(session, 180))

    assert_sent(
        vendor.requests[1],
        "GET",
        f"{API}/openApi/live/getPath?liveId=1123123&sessionId=2221b2a-2168&duration=180",
    )
    assert addresses == {
        "rtmp": PLAYADDR["rtmp"],
        "rtsp": PLAYADDR["rtsp"],
        "http-flv": PLAYADDR["http_flv"],
    }


def test_stream_path_reads_a_bare_playaddr_and_defaults_its_duration() -> None:
    vendor = FakeGuiji().on(
        "/openApi/live/getPath",
        answer({"message": "success", "ok": True, "info": "", "data": {"rtmp": PLAYADDR["rtmp"]}}),
    )
    session = LiveSession(id=1, vendor_session_id="s", state=LiveState.READY, vendor_data={"live_id": "7"})

    assert vendor.run(lambda driver: driver.stream_path(session)) == {"rtmp": PLAYADDR["rtmp"]}
    assert str(vendor.requests[1].url).endswith("?liveId=7&sessionId=s&duration=3600")


def test_stream_path_not_ready_is_transient() -> None:
    vendor = FakeGuiji().on(
        "/openApi/live/getPath", answer({"message": "not ready", "ok": False, "info": "not ready"})
    )
    session = LiveSession(id=1, vendor_session_id="s", state=LiveState.READY, vendor_data={"live_id": "7"})

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.stream_path(session))

    assert (caught.value.permanent, caught.value.message) == (False, "not ready")
