"""MetaStudio sandbox: event callbacks signed as LiveEventCallBackConfig.auth_type says."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from rooms.sandbox.metastudio_auth import callback_uri, hw_secret, signed_callback

from .conftest import wait_until
from .test_metastudio_support import (
    MetaStudioApi,
    Receiver,
    callback_config,
    expected_secret,
    long_room,
)

KEY = "GCTbw44s6MPLh4GqgDpnfuFHgy25Enly"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recv = Receiver()
    yield recv
    recv.close()


def test_the_signer_matches_the_notes_test_vector() -> None:
    url = "https://api.example.com/v1/products?offset=0&limit=10&live_id=111"
    assert callback_uri(url) == "api.example.com/v1/products?limit=10&live_id=111&offset=0"
    assert (
        hw_secret(KEY, url, "66df9308") == "5e7fe8869a12a87ea966d9edbc02e38cd4ce62c73b8b05c638f15835e78902d7"
    )
    assert expected_secret(KEY, url, "66df9308") == hw_secret(KEY, url, "66df9308")


def test_uri_has_no_scheme_and_no_question_mark_without_a_query() -> None:
    assert (
        callback_uri("http://127.0.0.1:8000/callbacks/metastudio/k/")
        == "127.0.0.1:8000/callbacks/metastudio/k/"
    )


def test_signed_callback_places_the_signature_by_auth_type() -> None:
    now = 0x66DF9308
    url = "https://api.example.com/v1/products?limit=10&live_id=111&offset=0"
    secret = "5e7fe8869a12a87ea966d9edbc02e38cd4ce62c73b8b05c638f15835e78902d7"
    assert signed_callback(url, "NONE", KEY, now) == (url, {})
    assert signed_callback(url, "MSS_A", KEY, now) == (f"{url}&hwSecret={secret}&hwTime=66df9308", {})
    headers = {"x-hw-mss-secret": secret, "x-hw-mss-time": "66df9308"}
    assert signed_callback(url, "MSS_A_HEAD", KEY, now) == (url, headers)
    bare = "https://h/cb"
    assert signed_callback(bare, "MSS_A", KEY, now)[0].startswith("https://h/cb?hwSecret=")


def _first_switch(api: MetaStudioApi, receiver: Receiver, url: str, auth_type: str) -> dict[str, object]:
    config = callback_config(url, "SHOOT_SCRIPT_SWITCH", auth_type=auth_type, key=KEY)
    api.live(long_room(live_event_callback_config=config))
    wait_until(lambda: receiver.calls)
    return receiver.calls[0]


def test_mss_a_appends_hw_secret_and_hw_time_to_the_query(api: MetaStudioApi, receiver: Receiver) -> None:
    url = f"{receiver.base}/callbacks/metastudio/acct/?b=2&a=1"
    call = _first_switch(api, receiver, url, "MSS_A")
    query = call["query"]
    assert isinstance(query, dict)
    assert (query["a"], query["b"]) == ("1", "2")
    assert abs(int(query["hwTime"], 16) - time.time()) < 60
    assert query["hwSecret"] == expected_secret(KEY, url, query["hwTime"])
    assert "x-hw-mss-secret" not in call["headers"]  # type: ignore[operator]


def test_mss_a_head_signs_with_headers(api: MetaStudioApi, receiver: Receiver) -> None:
    url = f"{receiver.base}/callbacks/metastudio/acct/"
    call = _first_switch(api, receiver, url, "MSS_A_HEAD")
    headers = call["headers"]
    assert isinstance(headers, dict)
    assert call["query"] == {}
    assert headers["x-hw-mss-secret"] == expected_secret(KEY, url, headers["x-hw-mss-time"])
    body = call["body"]
    assert isinstance(body, dict) and set(body) == {"event_type", "message"}
    assert body["event_type"] == "SHOOT_SCRIPT_SWITCH" and isinstance(json.loads(body["message"]), dict)


def test_none_sends_no_signature(api: MetaStudioApi, receiver: Receiver) -> None:
    call = _first_switch(api, receiver, f"{receiver.base}/cb?token=abc", "NONE")
    assert call["query"] == {"token": "abc"}
    assert "x-hw-mss-secret" not in call["headers"]  # type: ignore[operator]


def test_only_subscribed_event_types_are_sent(
    control: httpx.Client, api: MetaStudioApi, receiver: Receiver
) -> None:
    config = callback_config(f"{receiver.base}/cb", "REPLY_COMMAND_FINISH")
    room_id, job_id = api.live(long_room(output_urls=["rtmp://x/y"], live_event_callback_config=config))
    command_id = api.say(room_id, job_id, "谢谢。", "PLAY_NOW")
    wait_until(lambda: receiver.calls)
    time.sleep(0.2)
    assert [event["event_type"] for event in receiver.events()] == ["REPLY_COMMAND_FINISH"]
    assert receiver.events()[0]["reply_id"] == command_id
    recorded = control.get(f"/_sandbox/metastudio/jobs/{job_id}").json()["callbacks"]
    assert {"SHOOT_SCRIPT_SWITCH", "RTMP_STREAM_STATE_CHANGE"} <= {
        c["event_type"] for c in recorded if not c["sent"]
    }
