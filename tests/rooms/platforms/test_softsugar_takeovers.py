"""The SoftSugar driver's takeover calls against the vendor document, byte for byte.

Sections: "Interruptible Live Takeover", "... with Queueing", "Live Broadcast Takeover
Reordering / Cancellation / Queue Inquiry", "Live Chat Handoff", "Streaming Voice Takeover",
"Live NLP Q&A", and "Live Stream Takeover JSON Definition Explanation" for `param`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from rooms.platforms.base import Overlay, PlatformError, Receipt, TakeoverRequest, TakeoverState
from tests.rooms.platforms.test_softsugar import (
    API,
    SESSION_BODY,
    SESSION_ID,
    TOKEN,
    FakeVendor,
    answer,
    assert_sent,
    make_account,
    make_session,
    parse,
)

TEXT = "尊敬的观众朋友们,大家好!下面插播一段新闻."
SONG = "https://cdn.example.com/audio/song.mp3"
COMMAND = f"{API}/v2/material/live/channel/command"
QUEUE = f"{API}/v1/material/live/channel/command/queue"
REORDER = f"{API}/v1/material/live/channel/command/queue/reorder"
CANCEL = f"{API}/v1/material/live/channel/command/cancel"
QUEUE_LIST = f"{API}/v1/material/live/channel/command/queue/list"
QUICK = f"{API}/v2/material/live/channel/command/quick"
NLP = f"{API}/v1/nlp/model/reply"


def takeover(item: TakeoverRequest, vendor: FakeVendor, **kwargs: Any) -> Receipt:
    return vendor.run(lambda driver: driver.takeover(make_session(), item, **kwargs))


def command_body(param: str) -> bytes:
    """The v2 command body the way the vendor's example writes it: `param` JSON-escaped."""
    return json.dumps(
        {"sessionId": SESSION_ID, "param": param}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def param_of(request: httpx.Request) -> dict[str, Any]:
    """The takeover JSON inside the body's escaped `param` string."""
    raw = json.loads(request.content)["param"]
    assert isinstance(raw, str), "param must be a JSON-escaped string, not an object"
    return dict(json.loads(raw))


def traced(trace_id: str = "trace-1") -> httpx.Response:
    return answer({"isSuccess": True, "commandTraceId": trace_id})


# Interruptible Live Takeover (v2 command) -------------------------------------------------


def test_an_interrupt_with_text_posts_the_escaped_tts_query_to_the_v2_command() -> None:
    vendor = FakeVendor(traced("trace-now"))

    receipt = takeover(TakeoverRequest(text=TEXT), vendor, interrupt=True)

    expected = (
        '{"sessionId":"' + SESSION_ID + '",'
        r'"param":"{\"tts_query\":{\"content\":\"尊敬的观众朋友们,大家好!下面插播一段新闻.\",\"ssml\":false}}"}'
    )
    assert_sent(vendor.only_request, "POST", COMMAND, expected.encode())
    assert param_of(vendor.only_request) == {"tts_query": {"content": TEXT, "ssml": False}}
    assert receipt == Receipt(trace_id="trace-now", state=TakeoverState.SENT, message="success")


def test_an_interrupt_with_ssml_says_so_in_the_tts_query() -> None:
    ssml = '<speak>请看<break time="500ms"/>这一段新闻,非常重要。</speak>'
    vendor = FakeVendor(traced())

    takeover(TakeoverRequest(text=ssml, ssml=True), vendor, interrupt=True)

    param = '{"tts_query":{"content":' + json.dumps(ssml, ensure_ascii=False) + ',"ssml":true}}'
    assert_sent(vendor.only_request, "POST", COMMAND, command_body(param))
    assert param_of(vendor.only_request) == {"tts_query": {"content": ssml, "ssml": True}}


def test_an_interrupt_with_audio_only_sends_the_audio_and_no_tts_query() -> None:
    vendor = FakeVendor(traced())

    takeover(TakeoverRequest(audio_url=SONG), vendor, interrupt=True)

    assert_sent(vendor.only_request, "POST", COMMAND, command_body(f'{{"audio":"{SONG}"}}'))
    assert param_of(vendor.only_request) == {"audio": SONG}


def test_an_interrupt_with_text_and_audio_sends_both_and_leaves_the_choice_to_the_vendor() -> None:
    # The vendor's takeover JSON: "if both tts_query and audio exist, tts_query is prioritized".
    vendor = FakeVendor(traced())

    takeover(TakeoverRequest(text=TEXT, audio_url=SONG), vendor, interrupt=True)

    param = '{"tts_query":{"content":"' + TEXT + '","ssml":false},"audio":"' + SONG + '"}'
    assert_sent(vendor.only_request, "POST", COMMAND, command_body(param))
    assert list(param_of(vendor.only_request)) == ["tts_query", "audio"]


def test_overlays_send_foregrounds_as_a_list_and_the_background_as_one_object() -> None:
    item = TakeoverRequest(
        text=TEXT,
        foregrounds=(Overlay(url="https://cdn.example.com/fg.png", rect=(0, 0, 310, 88), duration_ms=100),),
        background=Overlay(url="https://cdn.example.com/bg.png"),
    )
    vendor = FakeVendor(traced())

    takeover(item, vendor, interrupt=True)

    param = (
        '{"tts_query":{"content":"' + TEXT + '","ssml":false},'
        '"foregrounds":[{"url":"https://cdn.example.com/fg.png","rect":[0,0,310,88],"start":0,"duration":100}],'
        '"backgrounds":{"url":"https://cdn.example.com/bg.png","rect":[0,0,1080,1920],"start":0,"duration":-1}}'
    )
    assert_sent(vendor.only_request, "POST", COMMAND, command_body(param))
    sent = param_of(vendor.only_request)
    assert isinstance(sent["foregrounds"], list)
    assert isinstance(sent["backgrounds"], dict)


def test_a_takeover_with_neither_text_nor_audio_is_refused_before_calling() -> None:
    vendor = FakeVendor()

    with pytest.raises(PlatformError) as caught:
        takeover(TakeoverRequest(), vendor, interrupt=True)

    assert caught.value.permanent is True
    assert vendor.requests == []


def test_an_interrupt_the_vendor_answers_is_success_false_is_a_permanent_error() -> None:
    vendor = FakeVendor(answer({"isSuccess": False}, message="takeover busy"))

    with pytest.raises(PlatformError) as caught:
        takeover(TakeoverRequest(text=TEXT), vendor, interrupt=True)

    assert caught.value.permanent is True
    assert "takeover busy" in str(caught.value)


def test_an_interrupt_without_a_trace_id_is_refused_since_it_could_not_be_cancelled() -> None:
    vendor = FakeVendor(answer({"isSuccess": True}))

    with pytest.raises(PlatformError):
        takeover(TakeoverRequest(text=TEXT), vendor, interrupt=True)


# Interruptible Live Takeover with Queueing ------------------------------------------------


def queued(status: int, trace_id: str = "trace-q", message: str = "success") -> httpx.Response:
    return answer({"commandStatus": status, "commandTraceId": trace_id}, message=message)


def test_a_queued_takeover_without_position_leaves_priority_out_so_it_goes_to_the_end() -> None:
    vendor = FakeVendor(queued(34))

    takeover(TakeoverRequest(text=TEXT), vendor)

    param = '{"tts_query":{"content":"' + TEXT + '","ssml":false}}'
    assert_sent(vendor.only_request, "POST", QUEUE, command_body(param))
    assert "priority" not in json.loads(vendor.only_request.content)


def test_a_queued_takeover_at_a_position_sends_it_as_the_priority() -> None:
    vendor = FakeVendor(queued(34))

    takeover(TakeoverRequest(audio_url=SONG), vendor, position=2)

    expected = (
        '{"sessionId":"' + SESSION_ID + '","priority":2,"param":"{\\"audio\\":\\"' + SONG + '\\"}"}'
    ).encode()
    assert_sent(vendor.only_request, "POST", QUEUE, expected)
    assert param_of(vendor.only_request) == {"audio": SONG}


def test_a_queued_takeover_carries_its_overlays_too() -> None:
    item = TakeoverRequest(text=TEXT, background=Overlay(url="https://cdn.example.com/bg.png"))
    vendor = FakeVendor(queued(34))

    takeover(item, vendor, position=1)

    assert param_of(vendor.only_request)["backgrounds"] == {
        "url": "https://cdn.example.com/bg.png",
        "rect": [0, 0, 1080, 1920],
        "start": 0,
        "duration": -1,
    }


def test_status_34_means_the_takeover_joined_the_queue() -> None:
    receipt = takeover(TakeoverRequest(text=TEXT), FakeVendor(queued(34, "trace-34")))

    assert receipt == Receipt(
        trace_id="trace-34", state=TakeoverState.QUEUED, vendor_code="34", message="success"
    )


def test_status_33_means_the_vendor_is_still_preparing_it() -> None:
    vendor = FakeVendor(queued(33, "trace-33", message="initialising"))

    receipt = takeover(TakeoverRequest(audio_url=SONG), vendor)

    assert receipt == Receipt(
        trace_id="trace-33", state=TakeoverState.QUEUEING, vendor_code="33", message="initialising"
    )


def test_a_queue_answer_without_a_trace_id_is_a_transient_error() -> None:
    vendor = FakeVendor(answer({"commandStatus": 34}))

    with pytest.raises(PlatformError) as caught:
        takeover(TakeoverRequest(text=TEXT), vendor)

    assert caught.value.permanent is False
    assert caught.value.code == "malformed"


# Reordering, cancellation, queue inquiry ---------------------------------------------------


def test_reorder_posts_the_trace_id_and_the_new_priority() -> None:
    vendor = FakeVendor(answer({"isSuccess": True}))

    vendor.run(lambda driver: driver.reorder(make_session(), "trace-2", 1))

    body = f'{{"sessionId":"{SESSION_ID}","commandTraceId":"trace-2","priority":1}}'.encode()
    assert_sent(vendor.only_request, "POST", REORDER, body)


def test_a_reorder_the_vendor_refuses_is_a_permanent_error_with_its_reason() -> None:
    vendor = FakeVendor(answer({"isSuccess": False, "message": "trace-2 is playing"}))

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.reorder(make_session(), "trace-2", 1))

    assert caught.value.permanent is True
    assert caught.value.message == "trace-2 is playing"


@pytest.mark.parametrize(
    ("trace_ids", "sent"),
    [(["trace-1"], "trace-1"), (["trace-1", "trace-2", "trace-3"], "trace-1;trace-2;trace-3"), (None, "-1")],
    ids=["one", "several-joined-with-semicolons", "all"],
)
def test_cancel_posts_the_trace_ids_in_one_call(trace_ids: list[str] | None, sent: str) -> None:
    vendor = FakeVendor(answer({"isSuccess": True, "commandFinishTime": "2024-09-25 15:07:44"}))

    vendor.run(lambda driver: driver.cancel(make_session(), trace_ids))

    body = f'{{"sessionId":"{SESSION_ID}","commandTraceId":"{sent}"}}'.encode()
    assert_sent(vendor.only_request, "POST", CANCEL, body)


def test_cancelling_an_empty_list_sends_nothing() -> None:
    vendor = FakeVendor()

    vendor.run(lambda driver: driver.cancel(make_session(), []))

    assert vendor.requests == []


def test_a_cancel_the_vendor_refuses_is_a_permanent_error_with_its_reason() -> None:
    vendor = FakeVendor(answer({"isSuccess": False, "message": "commandTraceId not found: trace-9"}))

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.cancel(make_session(), ["trace-9"]))

    assert caught.value.permanent is True
    assert caught.value.code == "cancel"
    assert caught.value.message == "commandTraceId not found: trace-9"


def test_queue_posts_the_session_and_returns_the_trace_ids_in_the_vendors_order() -> None:
    vendor = FakeVendor(answer({"commandTraceIds": ["trace-3", "trace-1", "trace-2"]}))

    order = vendor.run(lambda driver: driver.queue(make_session()))

    assert_sent(vendor.only_request, "POST", QUEUE_LIST, SESSION_BODY)
    assert order == ["trace-3", "trace-1", "trace-2"]


@pytest.mark.parametrize("data", [{"commandTraceIds": []}, {}, {"commandTraceIds": None}], ids=str)
def test_an_empty_or_absent_queue_is_an_empty_list(data: dict[str, Any]) -> None:
    assert FakeVendor(answer(data)).run(lambda driver: driver.queue(make_session())) == []


# Live Chat Handoff (quick replies) ----------------------------------------------------------


@pytest.mark.parametrize("index", [0, 3, -1])
def test_a_quick_reply_posts_its_order_to_v2_quick(index: int) -> None:
    vendor = FakeVendor(traced("trace-quick"))

    receipt = vendor.run(lambda driver: driver.quick_reply(make_session(), index))

    param = f'{{"quick_response":true,"order":{index}}}'
    assert_sent(vendor.only_request, "POST", QUICK, command_body(param))
    assert param_of(vendor.only_request) == {"quick_response": True, "order": index}
    assert receipt == Receipt(trace_id="trace-quick", state=TakeoverState.PLAYING)


def test_a_quick_reply_the_vendor_refuses_is_a_permanent_error() -> None:
    vendor = FakeVendor(answer({"isSuccess": False}, message="a quick reply is already playing"))

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda driver: driver.quick_reply(make_session(), 0))

    assert caught.value.permanent is True
    assert "already playing" in str(caught.value)


# A non-zero code on any takeover call -----------------------------------------------------


REFUSED = answer(None, code=409, message="session is not ready or live (status 5)")
CALLS = {
    "interrupt": lambda d: d.takeover(make_session(), TakeoverRequest(text=TEXT), interrupt=True),
    "queue": lambda d: d.takeover(make_session(), TakeoverRequest(text=TEXT), position=1),
    "reorder": lambda d: d.reorder(make_session(), "trace-1", 2),
    "cancel": lambda d: d.cancel(make_session(), ["trace-1"]),
    "cancel-all": lambda d: d.cancel(make_session(), None),
    "queue-list": lambda d: d.queue(make_session()),
    "quick-reply": lambda d: d.quick_reply(make_session(), 0),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_a_non_zero_code_is_a_permanent_error_with_the_vendors_message(name: str) -> None:
    vendor = FakeVendor(REFUSED)

    with pytest.raises(PlatformError) as caught:
        vendor.run(CALLS[name])

    assert caught.value.permanent is True
    assert caught.value.code == "409"
    assert caught.value.message == "session is not ready or live (status 5)"


@pytest.mark.parametrize("name", list(CALLS))
def test_every_takeover_call_needs_the_vendors_session_id(name: str) -> None:
    vendor = FakeVendor()
    session = make_session(vendor_session_id="")
    calls = {
        "interrupt": lambda d: d.takeover(session, TakeoverRequest(text=TEXT), interrupt=True),
        "queue": lambda d: d.takeover(session, TakeoverRequest(text=TEXT), position=1),
        "reorder": lambda d: d.reorder(session, "trace-1", 2),
        "cancel": lambda d: d.cancel(session, ["trace-1"]),
        "cancel-all": lambda d: d.cancel(session, None),
        "queue-list": lambda d: d.queue(session),
        "quick-reply": lambda d: d.quick_reply(session, 0),
    }

    with pytest.raises(PlatformError):
        vendor.run(calls[name])

    assert vendor.requests == []


# Live NLP Q&A -------------------------------------------------------------------------------


def nlp(answer_text: str = "", error: str = "") -> httpx.Response:
    # The Q&A answer is flat: no code/message/data envelope.
    return httpx.Response(
        200,
        json={
            "answer": answer_text,
            "device_id": "windows",
            "error_message": error,
            "language": "zh",
            "query": "洗手间在哪里?",
            "session": "s",
            "trace": "t",
        },
    )


def test_ask_posts_the_documented_fields_to_the_nlp_reply() -> None:
    vendor = FakeVendor(nlp("在您的右手边。"))

    reply = vendor.run(lambda driver: driver.ask(make_session(), "洗手间在哪里?", library="qa-lib-7"))

    request = vendor.only_request
    assert request.method == "POST"
    assert str(request.url) == NLP
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert list(body) == ["appId", "device", "language", "query", "session", "trace"]
    assert body["appId"] == "qa-lib-7"
    assert body["device"] in {"ios", "android", "windows", "macos"}
    assert body["language"] == "zh"
    assert body["query"] == "洗手间在哪里?"
    assert "洗手间在哪里?".encode() in request.content  # UTF-8, not \u escapes
    for field in ("session", "trace"):
        assert re.fullmatch(r"[0-9A-Za-z-]+", body[field]), f"{field} must be digits, letters and '-'"
    assert SESSION_ID in body["session"]
    assert reply == "在您的右手边。"


def test_ask_uses_one_session_per_live_and_a_new_trace_per_question() -> None:
    vendor = FakeVendor(nlp("一"), nlp("二"))

    async def twice(driver: Any) -> None:
        await driver.ask(make_session(), "第一个问题", library="qa")
        await driver.ask(make_session(), "第二个问题", library="qa")

    vendor.run(twice)

    first, second = (json.loads(r.content) for r in vendor.requests)
    assert first["session"] == second["session"]
    assert first["trace"] != second["trace"]


def test_ask_without_a_match_is_none() -> None:
    assert FakeVendor(nlp("")).run(lambda d: d.ask(make_session(), "无关的问题", library="qa")) is None


def test_an_error_message_from_the_qa_library_is_a_permanent_error() -> None:
    vendor = FakeVendor(nlp(error="Q&A library not found: qa"))

    with pytest.raises(PlatformError) as caught:
        vendor.run(lambda d: d.ask(make_session(), "问题", library="qa"))

    assert caught.value.permanent is True
    assert caught.value.code == "qa"
    assert "Q&A library not found: qa" in caught.value.message


# Streaming Voice Takeover (microphone endpoint) ----------------------------------------------


MIC_PATH = "/api/live-takeover-cc/v1/material/live/channel/command/microphone"


@pytest.mark.parametrize(
    ("base", "scheme"),
    [("https://aigc.softsugar.com/", "wss"), ("http://127.0.0.1:8100", "ws")],
)
def test_the_mic_endpoint_is_the_websocket_of_the_accounts_host(base: str, scheme: str) -> None:
    from rooms.platforms.softsugar import SoftSugarDriver

    account = make_account(base_url=base)
    session = make_session(account=account, session_token="MTZiMjQz")
    driver = SoftSugarDriver(account, httpx.AsyncClient())

    endpoint = driver.mic_endpoint(session)

    host = urlsplit(base).netloc
    assert endpoint is not None
    assert endpoint.url == (
        f"{scheme}://{host}{MIC_PATH}?clientType=BROWSER&sessionId={SESSION_ID}&Authorization=Bearer+MTZiMjQz"
    )
    assert endpoint.headers == {}


def test_the_mic_token_is_url_encoded_so_base64_survives_the_query() -> None:
    from rooms.platforms.softsugar import SoftSugarDriver

    token = "ab+c/d=="
    account = make_account()
    driver = SoftSugarDriver(account, httpx.AsyncClient())

    endpoint = driver.mic_endpoint(make_session(account=account, session_token=token))

    assert endpoint is not None
    query = urlsplit(endpoint.url).query
    assert "ab%2Bc%2Fd%3D%3D" in query
    assert parse_qs(query) == {
        "clientType": ["BROWSER"],
        "sessionId": [SESSION_ID],
        "Authorization": [f"Bearer {token}"],
    }


def test_there_is_no_mic_endpoint_before_the_vendor_gave_a_session_token() -> None:
    from rooms.platforms.softsugar import SoftSugarDriver

    driver = SoftSugarDriver(make_account(), httpx.AsyncClient())

    with pytest.raises(PlatformError) as caught:
        driver.mic_endpoint(make_session(session_token=""))

    assert caught.value.permanent is True


# Takeover callbacks (Live Streaming Status Callback Parameters) -----------------------------


@pytest.mark.parametrize("code", [34, 36, 37, 39])
def test_a_takeover_callback_is_a_takeover_event_with_its_trace_and_code(code: int) -> None:
    event = parse(
        {
            "sessionId": SESSION_ID,
            "status": code,
            "commandTraceId": "trace-7",
            "commandFinishTime": "2024-09-25 15:07:44",
            "userData": "livedeck-session-42",
        }
    )

    assert event.status is None
    assert event.vendor_session_id == SESSION_ID
    assert event.command_trace_id == "trace-7"
    assert event.command_code == str(code)
    assert event.detail == ""


def test_a_takeover_exception_callback_carries_the_task_result_as_detail() -> None:
    event = parse({"sessionId": SESSION_ID, "status": 39, "commandTraceId": "t", "taskResult": "TTS failed"})

    assert (event.command_code, event.detail) == ("39", "TTS failed")


def test_a_cancelled_takeover_arrives_as_37_with_the_vendors_reason() -> None:
    event = parse({"sessionId": SESSION_ID, "status": 37, "commandTraceId": "t", "taskResult": "cancelled"})

    assert (event.command_code, event.detail) == ("37", "cancelled")


def test_status_33_is_not_a_callback_the_vendor_sends() -> None:
    with pytest.raises(PlatformError) as caught:
        parse({"sessionId": SESSION_ID, "status": 33, "commandTraceId": "t"})

    assert caught.value.code == "malformed"
