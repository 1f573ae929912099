"""The Guiji sandbox over HTTP: tokens, live rooms, materials, catalogs, faults, accounts.

The helpers here (``GuijiAccount``) are shared with the MQTT tests of the other test_guiji files.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rooms.sandbox import build_app

TOKEN_PATH = "/live-manager/open/accessToken"
API = "/live-manager/openApi"
ANDY_STANDING = "369590278856773"
ANDY_DESK = "369590278856774"
SUNNY = "369590278856781"
TEXT_TTS = {"ttsSource": 10, "ttsSpeaker": "201", "volume": 0, "intonation": 1.5, "speedRate": -2}


class GuijiAccount:
    """A Guiji customer on the sandbox, speaking the HTTP API with its token."""

    def __init__(self, sandbox_url: str, control: httpx.Client, **account: Any) -> None:
        self.app_id = f"app{uuid.uuid4().hex[:12]}"
        self.secret = uuid.uuid4().hex
        self.control = control
        body = {"appSecret": self.secret, **account}
        assert control.put(f"/_sandbox/guiji/accounts/{self.app_id}", json=body).json() == {"ok": True}
        self.http = httpx.Client(base_url=sandbox_url, timeout=10)
        self.token = ""
        self.mqtt_user = ""

    def login(self) -> dict[str, Any]:
        answer = self.http.post(TOKEN_PATH, json={"appId": self.app_id, "appSecret": self.secret}).json()
        assert answer["code"] == 200, answer
        data: dict[str, Any] = answer["data"]
        self.token = data["token"]
        self.mqtt_user = data["mqttUser"]
        self.http.headers.update({"token": self.token, "source": "sdk"})
        return data

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(method, f"{API}{path}", **kwargs)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def data(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(method, path, **kwargs)
        assert answer["code"] == 200 and answer["success"] is True, answer
        return answer["data"]

    def failure(self, method: str, path: str, **kwargs: Any) -> tuple[int, str]:
        answer = self.call(method, path, **kwargs)
        assert answer["success"] is False and answer["data"] is None, answer
        return answer["code"], answer["msg"]

    def room(self, name: str = "Evening show", **body: Any) -> int:
        live_id: int = self.data(
            "POST", "/liveInfo/create", json={"cutinFlag": True, "liveName": name, **body}
        )
        return live_id

    def text(self, live_id: int, text: str, **body: Any) -> int:
        upload = {"liveId": live_id, "materialType": "TEXT", "text": text, **TEXT_TTS, **body}
        material_id: int = self.data("POST", "/customizedMaterial/upload", json=upload)
        return material_id

    def audio(self, live_id: int, url: str) -> int:
        upload = {"liveId": live_id, "materialType": "AUDIO", "materialUrl": url}
        material_id: int = self.data("POST", "/customizedMaterial/upload", json=upload)
        return material_id

    def create_session(self, live_id: int, name: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"liveId": live_id} if name is None else {"liveId": live_id, "name": name}
        data: dict[str, Any] = self.data("POST", "/live/createLiveSession", json=body)
        return data

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def guiji(sandbox_url: str, control: httpx.Client) -> Iterator[GuijiAccount]:
    account = GuijiAccount(sandbox_url, control)
    account.login()
    yield account
    account.close()


# --- 3.1 and the token checks -------------------------------------------------------------------


def test_access_token_answers_token_window_and_mqtt_login(sandbox_url: str, control: httpx.Client) -> None:
    account = GuijiAccount(
        sandbox_url,
        control,
        mqttUser="1000043",
        mqttPassword="pw",
        keyStart="2023-07-01 18:01:14",
        keyEnd="2099-07-31 18:01:19",
    )
    data = account.login()
    assert set(data) == {"token", "expirationTime", "startTime", "endTime", "mqttUser", "mqttPassword"}
    assert len(data["token"]) == 128 and data["token"].isupper()
    assert data["expirationTime"] == 3600
    assert (data["startTime"], data["endTime"]) == ("2023-07-01 18:01:14", "2099-07-31 18:01:19")
    assert (data["mqttUser"], data["mqttPassword"]) == ("1000043", "pw")
    assert account.data("GET", "/robot/customizedList")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"appId": "nobody", "appSecret": "x"}, 100503),
        ({"appSecret": "x"}, 500),
        ({"appId": 5, "appSecret": "x"}, 500),
    ],
)
def test_access_token_refuses_unknown_credentials(sandbox_url: str, body: dict[str, Any], code: int) -> None:
    answer = httpx.post(f"{sandbox_url}{TOKEN_PATH}", json=body).json()
    assert answer["code"] == code and answer["success"] is False and answer["msg"]


def test_access_token_refuses_a_wrong_secret(sandbox_url: str, guiji: GuijiAccount) -> None:
    answer = httpx.post(
        f"{sandbox_url}{TOKEN_PATH}", json={"appId": guiji.app_id, "appSecret": "wrong"}
    ).json()
    assert answer == {"code": 100503, "msg": "Invalid appId or appSecret", "success": False, "data": None}


def test_access_token_outside_the_key_window_is_100504_or_100505(
    sandbox_url: str, control: httpx.Client
) -> None:
    now = time.time()
    early = GuijiAccount(sandbox_url, control, keyStart=now + 3600)
    late = GuijiAccount(sandbox_url, control, keyStart=now - 7200, keyEnd=now - 3600)
    for account, code in ((early, 100504), (late, 100505)):
        body = {"appId": account.app_id, "appSecret": account.secret}
        assert account.http.post(TOKEN_PATH, json=body).json()["code"] == code


def test_calls_without_token_with_unknown_token_or_without_source(
    sandbox_url: str, guiji: GuijiAccount
) -> None:
    path = f"{sandbox_url}{API}/robot/platformList"
    assert httpx.get(path).json()["code"] == 100501
    assert httpx.get(path, headers={"source": "sdk", "token": ""}).json()["code"] == 100501
    assert httpx.get(path, headers={"source": "sdk", "token": "ABC"}).json() == {
        "code": 100502,
        "msg": "Token has expired",
        "success": False,
        "data": None,
    }
    answer = httpx.get(path, headers={"token": guiji.token}).json()
    assert answer["code"] == 500 and "source" in answer["msg"]
    assert httpx.get(path, headers={"token": guiji.token, "source": "sdk"}).json()["code"] == 200


def test_a_token_lives_while_it_is_used_and_expires_when_idle(
    control: httpx.Client, guiji: GuijiAccount
) -> None:
    control.put("/_sandbox/config", json={"guiji_token_seconds": 0.6})
    assert guiji.login()["expirationTime"] == 1
    for _ in range(4):  # 1.2 s in all, each use restarts the token's life
        assert guiji.call("GET", "/robot/platformList")["code"] == 200
        time.sleep(0.3)
    time.sleep(0.5)
    assert guiji.call("GET", "/robot/platformList")["code"] == 100502
    guiji.login()
    assert guiji.call("GET", "/robot/platformList")["code"] == 200


def test_a_key_that_expires_after_login_answers_100505(control: httpx.Client, guiji: GuijiAccount) -> None:
    control.put(
        f"/_sandbox/guiji/accounts/{guiji.app_id}",
        json={"appSecret": guiji.secret, "keyStart": time.time() - 60, "keyEnd": time.time() - 1},
    )
    assert guiji.failure("GET", "/robot/platformList") == (100505, "The user's secret key has expired")


# --- 3.2 - 3.5 live rooms -----------------------------------------------------------------------


ROBOT = {
    "id": 12312,
    "robotCode": "123123",
    "robotName": "Anchor Name",
    "sceneList": [
        {"sceneCode": "123123123", "sceneName": "Scene Name 1", "videoCoverUrl": "https://x.test/1.mp4"},
        {"sceneCode": "123123122", "sceneName": "Scene Name 2", "proportion": "9:16", "posture": "2"},
    ],
}


def test_live_room_create_query_update_and_list(guiji: GuijiAccount) -> None:
    live_id = guiji.room("My live room", robotList=[ROBOT, {**ROBOT, "id": None, "robotCode": "12333"}])
    assert isinstance(live_id, int)
    room = guiji.data("GET", "/liveInfo/query", params={"id": live_id})
    assert room["id"] == live_id and room["cutinFlag"] is True and room["liveName"] == "My live room"
    assert room["robotList"][0] == ROBOT
    assert "id" not in room["robotList"][1]
    assert guiji.data("POST", "/liveInfo/update", json={"id": live_id, "liveName": "Renamed"}) is True
    room = guiji.data("GET", "/liveInfo/query", params={"id": live_id})
    assert room["liveName"] == "Renamed" and room["cutinFlag"] is True and len(room["robotList"]) == 2
    assert guiji.data("POST", "/liveInfo/update", json={"id": live_id, "cutinFlag": False, "robotList": []})
    room = guiji.data("GET", "/liveInfo/query", params={"id": live_id})
    assert room["cutinFlag"] is False and room["robotList"] == []

    others = [guiji.room(f"Room {n}") for n in range(3)]
    page = guiji.data("GET", "/liveInfo/queryByPage", params={"page": 1, "pageSize": 3})
    assert set(page) == {"records", "total", "pages", "size"}
    assert (page["total"], page["pages"], page["size"]) == (4, 2, 3)
    assert [r["id"] for r in page["records"]] == others[::-1]
    last = guiji.data("GET", "/liveInfo/queryByPage", params={"page": 2, "pageSize": 3})
    assert [r["id"] for r in last["records"]] == [live_id]
    assert guiji.data("GET", "/liveInfo/queryByPage")["size"] == 10


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"cutinFlag": True}, "liveName"),
        ({"liveName": "x"}, "cutinFlag"),
        ({"cutinFlag": "yes", "liveName": "x"}, "cutinFlag"),
        (
            {"cutinFlag": True, "liveName": "x", "robotList": [{"robotCode": "1", "robotName": "a"}]},
            "sceneList",
        ),
        (
            {"cutinFlag": True, "liveName": "x", "robotList": [{**ROBOT, "sceneList": [{"sceneCode": "1"}]}]},
            "sceneName",
        ),
        (
            {
                "cutinFlag": True,
                "liveName": "x",
                "robotList": [
                    {**ROBOT, "sceneList": [{"sceneCode": "1", "sceneName": "a", "proportion": "4:3"}]}
                ],
            },
            "proportion",
        ),
    ],
)
def test_live_room_create_validates_the_body(guiji: GuijiAccount, body: dict[str, Any], field: str) -> None:
    code, msg = guiji.failure("POST", "/liveInfo/create", json=body)
    assert code == 500 and field in msg and "Traceback" not in msg


def test_live_rooms_of_other_accounts_are_not_found(
    sandbox_url: str, control: httpx.Client, guiji: GuijiAccount
) -> None:
    other = GuijiAccount(sandbox_url, control)
    other.login()
    live_id = other.room()
    assert guiji.failure("GET", "/liveInfo/query", params={"id": live_id}) == (
        500,
        f"live room {live_id} not found",
    )
    assert guiji.failure("POST", "/liveInfo/update", json={"id": live_id, "liveName": "x"})[0] == 500
    assert guiji.failure("GET", "/liveInfo/query", params={"id": "abc"})[0] == 500
    assert guiji.failure("GET", "/liveInfo/query")[0] == 500
    assert guiji.data("GET", "/liveInfo/queryByPage")["total"] == 0


def test_bad_json_and_content_type_answer_500(guiji: GuijiAccount) -> None:
    code, msg = guiji.failure(
        "POST", "/liveInfo/create", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert code == 500 and "JSON" in msg
    code, msg = guiji.failure(
        "POST", "/liveInfo/create", content=b"a=b", headers={"content-type": "text/plain"}
    )
    assert code == 500 and "Content-Type" in msg


# --- 3.6 - 3.7 materials ------------------------------------------------------------------------


def test_materials_upload_and_query(guiji: GuijiAccount) -> None:
    live_id = guiji.room()
    text_id = guiji.text(
        live_id, "The product we are selling today is great.", f0upKey=12, changeVoiceSpeaker="11"
    )
    audio_id = guiji.audio(live_id, "https://assets.livedeck.local/a.wav#duration=14.04")
    plain_audio = guiji.audio(live_id, "https://assets.livedeck.local/b.wav")
    page = guiji.data("POST", "/customizedMaterial/query", json={"liveId": live_id})
    assert set(page) == {"records", "total", "current", "size"}
    assert (page["total"], page["current"], page["size"]) == (3, 1, 10)
    by_id = {record["id"]: record for record in page["records"]}
    assert [r["id"] for r in page["records"]] == [plain_audio, audio_id, text_id]
    assert by_id[text_id]["materialType"] == "TEXT" and by_id[text_id]["duration"] == 0
    assert by_id[text_id]["text"] == "The product we are selling today is great."
    assert by_id[audio_id]["duration"] == 14040 and by_id[audio_id]["materialUrl"].startswith("https://")
    assert by_id[plain_audio]["duration"] == 5000  # default_audio_seconds
    assert by_id[text_id]["liveId"] == live_id and len(by_id[text_id]["createdTime"]) == 19
    texts = guiji.data("POST", "/customizedMaterial/query", json={"liveId": live_id, "materialType": "TEXT"})
    assert [r["id"] for r in texts["records"]] == [text_id]
    second = guiji.data(
        "POST", "/customizedMaterial/query", json={"liveId": live_id, "page": 2, "pageSize": 2}
    )
    assert [r["id"] for r in second["records"]] == [text_id] and second["current"] == 2


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"ttsSpeaker": None}, "ttsSpeaker"),
        ({"text": None, "volume": None}, "text, volume"),
        ({"text": "   "}, "blank"),
        ({"volume": 20.5}, "volume"),
        ({"intonation": -21}, "intonation"),
        ({"speedRate": "fast"}, "speedRate"),
        ({"f0upKey": 21}, "f0upKey"),
        ({"f0upKey": 1.5}, "f0upKey"),
        ({"materialType": "VIDEO"}, "materialType"),
        ({"materialType": "AUDIO"}, "materialUrl"),
        ({"materialType": "AUDIO", "materialUrl": "ftp://x/a.wav"}, "materialUrl"),
        ({"liveId": "1"}, "liveId"),
    ],
)
def test_material_upload_validates_the_body(
    guiji: GuijiAccount, change: dict[str, Any], expected: str
) -> None:
    live_id = guiji.room()
    body = {"liveId": live_id, "materialType": "TEXT", "text": "Hello there.", **TEXT_TTS}
    body.update(change)
    body = {key: value for key, value in body.items() if value is not None}
    code, msg = guiji.failure("POST", "/customizedMaterial/upload", json=body)
    assert code == 500 and expected in msg, msg


def test_materials_need_a_live_room_of_the_account(guiji: GuijiAccount) -> None:
    code, msg = guiji.failure(
        "POST", "/customizedMaterial/upload", json={"liveId": 1, "materialType": "TEXT"}
    )
    assert code == 500 and "required" in msg
    upload = {"liveId": 1, "materialType": "AUDIO", "materialUrl": "https://x.test/a.wav"}
    assert guiji.failure("POST", "/customizedMaterial/upload", json=upload) == (500, "live room 1 not found")
    assert guiji.failure("POST", "/customizedMaterial/query", json={"liveId": 1}) == (
        500,
        "live room 1 not found",
    )


# --- 3.8 - 3.14 catalogs ------------------------------------------------------------------------


def test_platform_and_customized_voices(guiji: GuijiAccount) -> None:
    page = guiji.data("GET", "/speaker/platformList", params={"pageSize": 3})
    assert set(page) == {"records", "total", "size", "current"} and page["total"] >= 3
    assert len(page["records"]) == 3
    voice = page["records"][0]
    expected = {"id", "ttsName", "ttsIntroduction", "ttsSpeaker", "ttsCategory", "ttsAudition", "ttsCover"}
    expected |= {"ttsSource", "languages", "ssmlFlag", "f0upKeyFlag", "userCategory"}
    assert set(voice) == expected and voice["ttsAudition"].startswith("https://")
    mine = guiji.data("GET", "/speaker/customizedList")
    assert len(mine) == 1 and "id" not in mine[0] and mine[0]["ttsSpeaker"]


def test_platform_and_customized_anchors_have_scenes(guiji: GuijiAccount) -> None:
    anchors = guiji.data("GET", "/robot/platformList")
    assert len(anchors) == 2 and all(len(anchor["sceneList"]) == 2 for anchor in anchors)
    scene = anchors[0]["sceneList"][0]
    assert scene["sceneCode"] == ANDY_STANDING
    assert {"videoCoverUrl", "coverUrl", "sceneType", "duration", "posture", "proportion"} <= set(scene)
    assert {"id", "robotCode", "robotName", "coverUrl", "robotDesc"} <= set(anchors[0])
    mine = guiji.data("GET", "/robot/customizedList")
    assert len(mine) == 1 and mine[0]["sceneList"][0]["videoCoverUrl"].startswith("https://")


def test_voice_change_list_and_trial(guiji: GuijiAccount) -> None:
    page = guiji.data("GET", "/voice/changeVoiceList")
    assert set(page) == {"records", "total", "current", "size"} and page["total"] == 3
    assert set(page["records"][0]) == {"id", "speakerCode", "speakerName", "ttsAudition", "ttsCover"}
    body = {
        "changeVoiceSpeaker": "vc-11",
        "intonation": 2.0,
        "speedRate": 10,
        "ttsSource": 10,
        "ttsSpeaker": "12",
    }
    trial = guiji.data("POST", "/speaker/syncSynthesisWavAndChangeVoice", json={**body, "volume": 0})
    assert set(trial) == {"duration", "filePath"} and trial["duration"] >= 1
    assert trial["filePath"].startswith("https://") and ".wav" in trial["filePath"]
    code, msg = guiji.failure("POST", "/speaker/syncSynthesisWavAndChangeVoice", json=body)
    assert code == 500 and "volume" in msg
    code, msg = guiji.failure(
        "POST", "/speaker/syncSynthesisWavAndChangeVoice", json={**body, "volume": -20.1}
    )
    assert code == 500 and "volume" in msg


def test_public_material_categories_and_materials(guiji: GuijiAccount) -> None:
    categories = guiji.data("GET", "/materialCategory/query")
    assert [c["code"] for c in categories] == ["10000", "50000"]
    assert set(categories[0]) == {"id", "parentCode", "name", "code"}
    assert [c["code"] for c in guiji.data("GET", "/materialCategory/query", params={"code": "50000"})] == [
        "50000"
    ]
    stickers = guiji.data("GET", "/material/query", params={"code": "10000"})
    assert stickers["total"] == 3 and {m["categoryCode"] for m in stickers["records"]} == {"10000"}
    assert set(stickers["records"][0]) == {
        "id",
        "code",
        "name",
        "categoryCode",
        "fileUrl",
        "fileType",
        "coverUrl",
    }
    found = guiji.data("GET", "/material/query", params={"parentCode": "50000", "name": "countdown"})
    assert [m["code"] for m in found["records"]] == ["50001"]
    paged = guiji.data("GET", "/material/query", params={"code": "10000", "page": 2, "pageSize": 2})
    assert len(paged["records"]) == 1 and paged["current"] == 2
    code, msg = guiji.failure("GET", "/material/query", params={"name": "x"})
    assert code == 500 and "code and parentCode" in msg


# --- 3.17 and the paths -------------------------------------------------------------------------


def test_create_live_session_answers_topics(guiji: GuijiAccount) -> None:
    live_id = guiji.room()
    data = guiji.create_session(live_id, name="test session")
    assert set(data) == {"liveId", "sessionId", "expirationTime", "topicSub", "topicPub"}
    assert data["liveId"] == live_id and data["expirationTime"] == 30 and data["topicPub"] == "live-proxy-0"
    assert data["topicSub"].startswith(f"{guiji.mqtt_user}/topicSendClient")
    assert uuid.UUID(data["topicSub"].split("topicSendClient")[1])
    assert uuid.UUID(data["sessionId"])
    assert guiji.create_session(live_id)["sessionId"] != data["sessionId"]
    assert guiji.failure("POST", "/live/createLiveSession", json={"liveId": 1}) == (
        500,
        "live room 1 not found",
    )
    assert guiji.failure("POST", "/live/createLiveSession", json={})[0] == 500


def test_unknown_paths_and_methods_answer_in_the_envelope(sandbox_url: str) -> None:
    response = httpx.get(f"{sandbox_url}{API}/nothing/here")
    assert response.status_code == 404 and response.json()["success"] is False
    response = httpx.get(f"{sandbox_url}{API}/liveInfo/create")
    assert response.status_code == 405 and response.json()["code"] == 405


# --- faults -------------------------------------------------------------------------------------


def test_faults_apply_to_guiji_paths(control: httpx.Client, guiji: GuijiAccount) -> None:
    control.put("/_sandbox/faults", json={"expired_token": True})
    assert guiji.failure("GET", "/robot/platformList") == (100502, "Token has expired")
    assert guiji.login()["token"]  # 3.1 takes no token: the fault leaves it alone
    control.put("/_sandbox/faults", json={"error_rate": 1.0})
    response = guiji.http.get(f"{API}/robot/platformList")
    assert (
        response.status_code == 503 and response.json()["code"] == 503 and response.json()["success"] is False
    )
    control.put("/_sandbox/faults", json={"latency_ms": 300})
    started = time.monotonic()
    assert guiji.data("GET", "/robot/platformList")
    assert time.monotonic() - started >= 0.29
    control.delete("/_sandbox/faults")
    assert guiji.data("GET", "/robot/platformList")


# --- control ------------------------------------------------------------------------------------


def test_accounts_are_provisioned_listed_and_validated(control: httpx.Client, sandbox_url: str) -> None:
    account = GuijiAccount(sandbox_url, control, mqttUser="user1", keyStart=0)
    listed = {a["appId"]: a for a in control.get("/_sandbox/guiji/accounts").json()}
    entry = listed[account.app_id]
    assert entry["kind"] == "guiji" and entry["appSecret"] == account.secret and entry["mqttUser"] == "user1"
    assert entry["keyStart"] == "1970-01-01 08:00:00" and entry["mqttPassword"]
    assert control.put("/_sandbox/guiji/accounts/x", json={}).status_code == 400
    assert control.put("/_sandbox/guiji/accounts/x", json={"appSecret": "s", "bogus": 1}).status_code == 400
    bad_window = {"appSecret": "s", "keyStart": 100, "keyEnd": 50}
    assert control.put("/_sandbox/guiji/accounts/x", json=bad_window).status_code == 400
    assert (
        control.put("/_sandbox/guiji/accounts/x", json={"appSecret": "s", "keyEnd": "soon"}).status_code
        == 400
    )
    # The accounts file of this run holds a "guiji" entry without credentials: skipped, not fatal.
    assert "ignored-for-now" not in listed


def test_accounts_file_provisions_guiji_entries_in_both_spellings(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    entries = [
        {"kind": "guiji", "app_id": "demo-app", "app_secret": "demo-secret", "callbackUrl": "http://x/"},
        {"kind": "guiji", "appId": "camel-app", "appSecret": "camel-secret", "mqttUser": "u7"},
        {"kind": "guiji", "token": "no-credentials"},
        {"kind": "softsugar", "token": "ss"},
    ]
    accounts.write_text(json.dumps(entries))
    app = build_app(accounts_file=accounts)
    assert set(app.guiji.accounts) == {"demo-app", "camel-app"}
    assert app.guiji.accounts["demo-app"].app_secret == "demo-secret"
    assert app.guiji.accounts["camel-app"].mqtt_user == "u7"
    assert set(app.softsugar.accounts) == {"ss"}


def test_config_has_the_guiji_knobs(control: httpx.Client) -> None:
    config = control.get("/_sandbox/config").json()
    assert config["guiji_heartbeat_interval"] == 5.0 and config["guiji_heartbeat_threshold"] == 20.0
    assert config["guiji_silence_seconds"] == 0.3 and config["guiji_token_seconds"] == 3600.0
    assert config["guiji_session_seconds"] == 30.0 and config["guiji_show_delay"] == 0.5
    assert control.put("/_sandbox/config", json={"guiji_heartbeat_interval": 0}).status_code == 400
