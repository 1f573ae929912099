"""Takeovers on the SoftSugar sandbox: interruptible command, queue, reorder, cancel, quick reply, Q&A."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import CallbackReceiver, Vendor, live_script, wait_until

LONG = "This takeover is long enough to keep playing for a while."  # 58 chars
SHORT = "Short but valid."  # 16 chars


@pytest.fixture
def slow(control: httpx.Client) -> httpx.Client:
    """Takeovers of LONG play for about 12 s: nothing moves on by itself during a test."""
    control.put("/_sandbox/config", json={"create_delay": 0, "speech_seconds_per_char": 0.2})
    return control


@pytest.fixture
def paused(sandbox_url: str, slow: httpx.Client, receiver: CallbackReceiver) -> Iterator[Vendor]:
    client = Vendor(sandbox_url, slow, callback_url=receiver.url)
    yield client
    client.close()


def command(vendor: Vendor, session_id: str, text: str, version: str = "v2") -> dict[str, Any]:
    param = json.dumps({"tts_query": {"content": text, "ssml": False}})
    path = f"/api/2dvh/{version}/material/live/channel/command"
    return vendor.post(path, {"sessionId": session_id, "param": param})


def test_queue_inserts_after_the_given_position(paused: Vendor) -> None:
    session_id = paused.open_session()
    a, b, c = (paused.queue(session_id, LONG) for _ in range(3))
    d = paused.queue(session_id, LONG, priority=1)
    assert paused.queue_ids(session_id) == [a, d, b, c]
    e = paused.queue(session_id, LONG, priority=3)
    assert paused.queue_ids(session_id) == [a, d, b, e, c]
    f = paused.queue(session_id, LONG, priority=99)
    assert paused.queue_ids(session_id)[-1] == f
    assert paused.inspect(session_id)["queue"][0]["startedAt"] is not None
    assert paused.monitor(session_id)["playing"] == a


def test_queue_refuses_priority_below_one_and_bad_params(paused: Vendor) -> None:
    session_id = paused.open_session()
    param = json.dumps({"tts_query": {"content": LONG}})
    assert paused.channel("command/queue", sessionId=session_id, param=param, priority=0)["code"] == 400
    assert paused.channel("command/queue", sessionId=session_id, param="{}")["code"] == 400
    assert paused.channel("command/queue", sessionId=session_id, param="nope")["code"] == 400
    assert paused.channel("command/queue", sessionId=session_id)["code"] == 400


def test_takeovers_need_a_ready_or_live_session(control: httpx.Client, paused: Vendor) -> None:
    control.put("/_sandbox/config", json={"create_delay": 5})
    session_id = paused.create()["data"]["sessionId"]
    param = json.dumps({"tts_query": {"content": LONG}})
    assert paused.channel("command/queue", sessionId=session_id, param=param)["code"] == 409
    assert command(paused, session_id, LONG)["code"] == 409


def test_reorder_moves_a_waiting_item(paused: Vendor) -> None:
    session_id = paused.open_session()
    a, b, c, d = (paused.queue(session_id, LONG) for _ in range(4))
    assert paused.channel("command/queue/reorder", sessionId=session_id, commandTraceId=d, priority=1)[
        "data"
    ] == {"isSuccess": True}
    assert paused.queue_ids(session_id) == [a, d, b, c]
    paused.channel("command/queue/reorder", sessionId=session_id, commandTraceId=d, priority=10)
    assert paused.queue_ids(session_id) == [a, b, c, d]
    playing = paused.channel("command/queue/reorder", sessionId=session_id, commandTraceId=a, priority=2)
    assert playing["code"] == 409
    assert (
        paused.channel("command/queue/reorder", sessionId=session_id, commandTraceId="x", priority=1)["code"]
        == 404
    )
    assert (
        paused.channel("command/queue/reorder", sessionId=session_id, commandTraceId=b, priority=0)["code"]
        == 400
    )


def test_cancel_one_several_or_all(paused: Vendor, receiver: CallbackReceiver) -> None:
    session_id = paused.open_session()
    a, b, c, d, e = (paused.queue(session_id, LONG) for _ in range(5))
    answer = paused.channel("command/cancel", sessionId=session_id, commandTraceId=b)["data"]
    assert answer["isSuccess"] is True and len(answer["commandFinishTime"]) == 19
    paused.channel("command/cancel", sessionId=session_id, commandTraceId=f"{c};{e}")
    assert paused.queue_ids(session_id) == [a, d]
    unknown = paused.channel("command/cancel", sessionId=session_id, commandTraceId=f"{d};nope")["data"]
    assert unknown["isSuccess"] is False and "nope" in unknown["message"]
    assert paused.queue_ids(session_id) == [a, d]
    paused.channel("command/cancel", sessionId=session_id, commandTraceId="-1")
    assert paused.queue_ids(session_id) == []
    played = {item["commandTraceId"]: item for item in paused.inspect(session_id)["played"]}
    assert played[a]["outcome"] == "cancelled" and played[a]["startedAt"] is not None
    for never in (b, c, d, e):
        assert played[never]["outcome"] == "cancelled" and played[never]["startedAt"] is None
    assert receiver.wait_for(session_id, 37, d)["taskResult"] == "cancelled"
    assert 36 not in receiver.statuses(session_id, d)
    wait_until(lambda: paused.monitor(session_id)["playing"] == "script")


def test_cancelling_the_playing_item_starts_the_next(paused: Vendor, receiver: CallbackReceiver) -> None:
    session_id = paused.open_session()
    a = paused.queue(session_id, LONG)
    b = paused.queue(session_id, LONG)
    paused.channel("command/cancel", sessionId=session_id, commandTraceId=a)
    receiver.wait_for(session_id, 36, b)
    assert paused.queue_ids(session_id) == [b]
    state = paused.inspect(session_id)
    cancelled = state["played"][0]
    assert cancelled["endedAt"] - cancelled["startedAt"] < 5


def test_items_play_in_order_with_callbacks_34_36_37(
    control: httpx.Client, vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    session_id = vendor_with_callbacks.open_session()
    ids = [vendor_with_callbacks.queue(session_id, SHORT) for _ in range(3)]
    for trace_id in ids:
        receiver.wait_for(session_id, 37, trace_id)
        assert receiver.statuses(session_id, trace_id) == [34, 36, 37]
    played = vendor_with_callbacks.inspect(session_id)["played"]
    assert [item["commandTraceId"] for item in played] == ids
    starts = [item["startedAt"] for item in played]
    ends = [item["endedAt"] for item in played]
    assert starts == sorted(starts) and all(ends[i] <= starts[i + 1] for i in range(2))
    call = receiver.wait_for(session_id, 37, ids[0])
    assert set(call) == {"sessionId", "status", "commandTraceId", "commandFinishTime"}
    assert vendor_with_callbacks.queue_ids(session_id) == []


def test_audio_takeover_plays_for_the_duration_in_its_url(
    vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    session_id = vendor_with_callbacks.open_session()
    trace_id = vendor_with_callbacks.queue(session_id, audio="https://example.com/a.mp3#duration=0.3")
    receiver.wait_for(session_id, 37, trace_id)
    item = vendor_with_callbacks.inspect(session_id)["played"][0]
    assert item["seconds"] == 0.3 and item["kind"] == "audio"
    assert 0.25 <= item["endedAt"] - item["startedAt"] < 3


def test_slow_preparation_answers_33_then_calls_back_34(
    control: httpx.Client, vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    control.put("/_sandbox/config", json={"prepare_threshold": 0.2})
    session_id = vendor_with_callbacks.open_session()
    param = json.dumps({"audio": "https://example.com/big.mp3#prepare=0.6&duration=0.2"})
    answer = vendor_with_callbacks.channel("command/queue", sessionId=session_id, param=param)["data"]
    assert answer["commandStatus"] == 33
    assert (
        vendor_with_callbacks.inspect(session_id)["preparing"][0]["commandTraceId"]
        == answer["commandTraceId"]
    )
    receiver.wait_for(session_id, 34, answer["commandTraceId"])
    receiver.wait_for(session_id, 37, answer["commandTraceId"])
    quick = json.dumps({"audio": "https://example.com/small.mp3#prepare=0.1&duration=0.2"})
    assert (
        vendor_with_callbacks.channel("command/queue", sessionId=session_id, param=quick)["data"][
            "commandStatus"
        ]
        == 34
    )


def test_a_preparing_item_can_be_cancelled_and_never_plays(
    control: httpx.Client, vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    control.put("/_sandbox/config", json={"prepare_threshold": 0.1})
    session_id = vendor_with_callbacks.open_session()
    param = json.dumps({"audio": "https://example.com/big.mp3#prepare=0.5"})
    trace_id = vendor_with_callbacks.channel("command/queue", sessionId=session_id, param=param)["data"][
        "commandTraceId"
    ]
    vendor_with_callbacks.channel("command/cancel", sessionId=session_id, commandTraceId=trace_id)
    receiver.wait_for(session_id, 37, trace_id)
    wait_until(lambda: vendor_with_callbacks.inspect(session_id)["preparing"] == [])
    assert vendor_with_callbacks.queue_ids(session_id) == []
    assert receiver.statuses(session_id, trace_id) == [37]


def test_takeover_text_under_ten_characters_fails_with_39(
    vendor_with_callbacks: Vendor, receiver: CallbackReceiver
) -> None:
    session_id = vendor_with_callbacks.open_session()
    trace_id = vendor_with_callbacks.queue(session_id, "Too short")
    call = receiver.wait_for(session_id, 39, trace_id)
    assert "10 characters" in call["taskResult"]
    assert receiver.statuses(session_id, trace_id) == [34, 39]


def test_interruptible_command_clears_the_queue_and_plays_now(
    paused: Vendor, receiver: CallbackReceiver
) -> None:
    session_id = paused.open_session()
    a, b = paused.queue(session_id, LONG), paused.queue(session_id, LONG)
    answer = command(paused, session_id, LONG)
    assert answer["code"] == 0 and answer["data"]["isSuccess"] is True
    now_playing = answer["data"]["commandTraceId"]
    assert paused.queue_ids(session_id) == [now_playing]
    assert receiver.wait_for(session_id, 37, b)["taskResult"] == "interrupted by a new takeover"
    receiver.wait_for(session_id, 36, now_playing)
    assert 34 not in receiver.statuses(session_id, now_playing)
    assert paused.monitor(session_id)["playing"] == now_playing
    assert a not in paused.queue_ids(session_id)


def test_legacy_command_answers_true(paused: Vendor) -> None:
    session_id = paused.open_session()
    assert command(paused, session_id, LONG, version="v1") == {"code": 0, "message": "success", "data": True}
    assert len(paused.queue_ids(session_id)) == 1


def test_a_queue_longer_than_fifteen_is_accepted_with_a_warning(paused: Vendor) -> None:
    session_id = paused.open_session()
    param = json.dumps({"tts_query": {"content": LONG}})
    messages = [
        paused.channel("command/queue", sessionId=session_id, param=param)["message"] for _ in range(16)
    ]
    assert messages[14] == "success"
    assert "recommended 15" in messages[15]
    assert len(paused.queue_ids(session_id)) == 16


def interactive_script() -> dict[str, Any]:
    return live_script(live_type="interactive", scene__quick_response=["Let me think about it.", "Hold on."])


def quick(vendor: Vendor, session_id: str, order: int) -> dict[str, Any]:
    param = json.dumps({"quick_response": True, "order": order})
    return vendor.post(
        "/api/2dvh/v2/material/live/channel/command/quick", {"sessionId": session_id, "param": param}
    )


def test_quick_reply_needs_an_interactive_script(paused: Vendor) -> None:
    session_id = paused.open_session()
    assert quick(paused, session_id, 0)["code"] == 409


def test_quick_reply_plays_now_and_refuses_a_second_one(paused: Vendor, receiver: CallbackReceiver) -> None:
    session_id = paused.open_session(interactive_script())
    waiting = paused.queue(session_id, LONG)
    answer = quick(paused, session_id, 0)
    assert answer["data"]["isSuccess"] is True
    trace_id = answer["data"]["commandTraceId"]
    assert paused.queue_ids(session_id) == [trace_id]
    assert receiver.wait_for(session_id, 37, waiting)["taskResult"] == "interrupted by a quick reply"
    wait_until(lambda: paused.monitor(session_id)["subtitle"] == "Let me think about it.")
    assert quick(paused, session_id, -1)["code"] == 409
    assert quick(paused, session_id, 2)["code"] == 400
    assert quick(paused, session_id, -2)["code"] == 400


def test_quick_reply_at_random(vendor: Vendor) -> None:
    session_id = vendor.open_session(interactive_script())
    assert quick(vendor, session_id, -1)["data"]["isSuccess"] is True


NLP = "/api/2dvh/v1/nlp/model/reply"


def ask(vendor: Vendor, app_id: str, query: str, **overrides: str) -> dict[str, Any]:
    body = {
        "appId": app_id,
        "device": "macos",
        "language": "zh",
        "query": query,
        "session": "s-1",
        "trace": "t-1",
    }
    body.update(overrides)
    return vendor.post(NLP, body)


def test_demo_qa_library_answers_by_keywords(vendor: Vendor) -> None:
    answer = ask(vendor, "demo-qa", "请问包邮吗")
    assert answer["answer"].startswith("本店全场包邮")
    assert set(answer) == {"answer", "device_id", "error_message", "language", "query", "session", "trace"}
    assert answer["error_message"] == "" and answer["device_id"] == "macos" and answer["trace"] == "t-1"
    assert ask(vendor, "demo-qa", "how much for shipping?")["answer"] == "Shipping is free on every order."
    assert ask(vendor, "demo-qa", "天气")["answer"] == ""


def test_qa_library_can_be_provisioned(control: httpx.Client, vendor: Vendor) -> None:
    pairs = [{"question": "Where is the toilet?", "answer": "The bathroom is on your right"}]
    assert control.put("/_sandbox/softsugar/qa/shop-1", json={"pairs": pairs}).json() == {
        "ok": True,
        "pairs": 1,
    }
    assert ask(vendor, "shop-1", "I want to go to the toilet")["answer"] == "The bathroom is on your right"


@pytest.mark.parametrize(
    ("app_id", "overrides", "mentions"),
    [
        ("unknown", {}, "not found"),
        ("demo-qa", {"device": "tv"}, "device"),
        ("demo-qa", {"language": "en"}, "language"),
        ("demo-qa", {"session": "has space"}, "session"),
        ("demo-qa", {"trace": "a_b"}, "trace"),
    ],
)
def test_qa_errors_are_reported_in_error_message(
    vendor: Vendor, app_id: str, overrides: dict[str, str], mentions: str
) -> None:
    answer = ask(vendor, app_id, "包邮吗", **overrides)
    assert answer["answer"] == "" and mentions in answer["error_message"]
