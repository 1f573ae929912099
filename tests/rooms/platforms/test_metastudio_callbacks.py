"""MetaStudio callback verification against the document's worked example, and against anything
else a sender could put in a request: it is either MetaStudio's, once, or refused with a reason."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooms.platforms.metastudio_callbacks import (
    AuthType,
    CacheReplayStore,
    CallbackRefused,
    MemoryReplayStore,
    VerifiedCallback,
    callback_secret,
    callback_uri,
    hw_time,
    verify_callback,
)

# The worked example of the SDK's CustomPlatformAuthConfig (metastudio-smart-live-notes.md).
KEY = "GCTbw44s6MPLh4GqgDpnfuFHgy25Enly"
HOST = "api.example.com"
PATH = "/v1/products"
QUERY = {"live_id": "111", "limit": "10", "offset": "0"}
HW_TIME = "66df9308"
SECRET = "5e7fe8869a12a87ea966d9edbc02e38cd4ce62c73b8b05c638f15835e78902d7"
SENT_AT = 0x66DF9308
BODY = b'{"event_type":"RTMP_STREAM_STATE_CHANGE","message":"{\\"state\\":\\"CONNECTED\\"}"}'


class NoStore:
    """A replay store a test expects never to be asked."""

    def seen(self, key: str, ttl: int) -> bool:
        raise AssertionError("the replay store was consulted")


def head_call(**overrides: Any) -> dict[str, Any]:
    """The worked example, as an MSS_A_HEAD callback received 30 s after it was sent."""
    call: dict[str, Any] = {
        "auth_type": AuthType.MSS_A_HEAD,
        "method": "POST",
        "path": PATH,
        "query": dict(QUERY),
        "headers": {"Host": HOST, "X-HW-MSS-Secret": SECRET, "X-HW-MSS-Time": HW_TIME},
        "body": BODY,
        "key": KEY,
        "now": SENT_AT + 30,
        "replay_store": MemoryReplayStore(),
    }
    return call | overrides


def query_call(**overrides: Any) -> dict[str, Any]:
    """The worked example, as an MSS_A callback: the pair is appended to the callback URL's query."""
    query = QUERY | {"hwSecret": SECRET, "hwTime": HW_TIME}
    return head_call(auth_type=AuthType.MSS_A, query=query, headers={"Host": HOST}) | overrides


def refused(call: dict[str, Any]) -> str:
    with pytest.raises(CallbackRefused) as caught:
        verify_callback(**call)
    assert caught.value.reason
    return caught.value.reason


def test_the_document_example_uri_is_host_path_and_sorted_query() -> None:
    uri = callback_uri(HOST, PATH, {"live_id": "111", "offset": "0", "limit": "10"})
    assert uri == "api.example.com/v1/products?limit=10&live_id=111&offset=0"


def test_the_document_example_secret() -> None:
    assert (
        callback_secret(KEY, "api.example.com/v1/products?limit=10&live_id=111&offset=0", HW_TIME) == SECRET
    )


def test_hw_time_is_hex_unix_seconds() -> None:
    assert hw_time(SENT_AT + 0.9) == HW_TIME


def test_a_uri_without_a_query_has_no_question_mark() -> None:
    assert callback_uri("livedeck.example.com", "/callbacks/metastudio/k1/", {}) == (
        "livedeck.example.com/callbacks/metastudio/k1/"
    )


def test_the_document_example_is_accepted_with_the_pair_in_headers() -> None:
    verified = verify_callback(**head_call())
    assert verified == VerifiedCallback(auth_type=AuthType.MSS_A_HEAD, sent_at=SENT_AT, body=BODY)


def test_the_document_example_is_accepted_with_the_pair_in_the_query() -> None:
    verified = verify_callback(**query_call())
    assert verified.auth_type is AuthType.MSS_A
    assert verified.sent_at == SENT_AT


def test_a_secret_in_upper_case_hex_is_accepted() -> None:
    headers = {"Host": HOST, "x-hw-mss-secret": SECRET.upper(), "x-hw-mss-time": HW_TIME}
    verify_callback(**head_call(headers=headers))


def test_query_values_given_as_lists_are_accepted() -> None:
    query = {name: [value] for name, value in (QUERY | {"hwSecret": SECRET, "hwTime": HW_TIME}).items()}
    verify_callback(**query_call(query=query))


def test_the_host_argument_stands_in_for_the_host_header() -> None:
    headers = {"Host": "10.0.0.7:8000", "x-hw-mss-secret": SECRET, "x-hw-mss-time": HW_TIME}
    verify_callback(**head_call(headers=headers, host=HOST))
    assert "does not match" in refused(head_call(headers=headers))


def test_a_wrong_key_is_refused() -> None:
    assert "does not match" in refused(head_call(key="GCTbw44s6MPLh4GqgDpnfuFHgy25Enlz"))


@pytest.mark.parametrize(
    "change",
    [
        {"query": QUERY | {"limit": "11"}},
        {"query": QUERY | {"extra": "1"}},
        {"path": "/v1/products/"},
        {"headers": {"Host": "api.example.org", "x-hw-mss-secret": SECRET, "x-hw-mss-time": HW_TIME}},
    ],
)
def test_a_changed_url_is_refused(change: dict[str, Any]) -> None:
    assert "does not match" in refused(head_call(**change))


def test_a_changed_time_is_refused() -> None:
    headers = {"Host": HOST, "x-hw-mss-secret": SECRET, "x-hw-mss-time": "66df9309"}
    assert "does not match" in refused(head_call(headers=headers))


def test_an_empty_key_is_refused() -> None:
    assert "no callback key" in refused(head_call(key=""))


def test_a_time_as_old_as_the_window_is_accepted_and_older_is_refused() -> None:
    verify_callback(**head_call(now=SENT_AT + 300))
    assert "old" in refused(head_call(now=SENT_AT + 301))


def test_a_time_as_far_ahead_as_the_window_is_accepted_and_further_is_refused() -> None:
    verify_callback(**head_call(now=SENT_AT - 300))
    assert "ahead" in refused(head_call(now=SENT_AT - 301))


def test_the_window_is_a_parameter() -> None:
    assert "old" in refused(head_call(now=SENT_AT + 61, window=60))
    verify_callback(**head_call(now=SENT_AT + 60, window=60))


@pytest.mark.parametrize("window", [0, -1, float("nan"), float("inf")])
def test_a_window_that_is_not_a_positive_number_of_seconds_is_a_programming_error(window: float) -> None:
    with pytest.raises(ValueError):
        verify_callback(**head_call(window=window))


def test_a_replayed_callback_is_refused() -> None:
    store = MemoryReplayStore()
    verify_callback(**head_call(replay_store=store))
    assert "already" in refused(head_call(replay_store=store, now=SENT_AT + 31))
    assert "already" in refused(query_call(replay_store=store))


def test_two_events_sent_in_the_same_second_are_both_accepted() -> None:
    # The secret covers only the URL and the second: the events differ by their bodies alone.
    store = MemoryReplayStore()
    verify_callback(**head_call(replay_store=store, body=b'{"event_type": "SHOOT_SCRIPT_SWITCH"}'))
    verify_callback(**head_call(replay_store=store, body=b'{"event_type": "REPLY_COMMAND_FINISH"}'))
    assert "already" in refused(head_call(replay_store=store, body=b'{"event_type": "REPLY_COMMAND_FINISH"}'))


def test_a_callback_sent_later_with_its_own_time_is_accepted() -> None:
    store = MemoryReplayStore()
    verify_callback(**head_call(replay_store=store))
    later = hw_time(SENT_AT + 5)
    uri = callback_uri(HOST, PATH, QUERY)
    headers = {"Host": HOST, "x-hw-mss-secret": callback_secret(KEY, uri, later), "x-hw-mss-time": later}
    verify_callback(**head_call(replay_store=store, headers=headers))


def test_a_forged_pair_does_not_use_up_the_real_one() -> None:
    store = MemoryReplayStore()
    refused(head_call(replay_store=store, key="forger's guess"))
    refused(head_call(replay_store=store, now=SENT_AT + 1000))
    verify_callback(**head_call(replay_store=store))


def test_the_replay_store_remembers_a_pair_as_long_as_its_time_is_in_the_window() -> None:
    ttls: list[int] = []

    class Recording:
        def seen(self, key: str, ttl: int) -> bool:
            ttls.append(ttl)
            return False

    verify_callback(**head_call(replay_store=Recording(), now=SENT_AT + 30))
    verify_callback(**head_call(replay_store=Recording(), now=SENT_AT - 30))
    assert ttls == [271, 331]


def test_the_memory_store_forgets_after_the_ttl() -> None:
    clock = [100.0]
    store = MemoryReplayStore(clock=lambda: clock[0])
    assert not store.seen("pair", 10)
    assert store.seen("pair", 10)
    clock[0] = 110.0
    assert not store.seen("pair", 10)


def test_the_cache_store_remembers_a_pair_in_redis() -> None:
    store = CacheReplayStore(prefix=f"test:{secrets.token_hex(4)}:")
    assert not store.seen("66df9308:5e7f", 5)
    assert store.seen("66df9308:5e7f", 5)
    assert not CacheReplayStore(prefix=f"test:{secrets.token_hex(4)}:").seen("66df9308:5e7f", 5)


def test_a_replay_through_the_cache_store_is_refused() -> None:
    store = CacheReplayStore(prefix=f"test:{secrets.token_hex(4)}:")
    verify_callback(**head_call(replay_store=store))
    assert "already" in refused(head_call(replay_store=store))


def test_none_accepts_a_callback_without_a_signature() -> None:
    verified = verify_callback(
        **head_call(auth_type=AuthType.NONE, headers={}, query={}, key="", replay_store=NoStore())
    )
    assert verified == VerifiedCallback(auth_type=AuthType.NONE, sent_at=None, body=BODY)


def test_none_still_refuses_a_method_callbacks_do_not_use() -> None:
    assert "method" in refused(head_call(auth_type=AuthType.NONE, method="GET", replay_store=NoStore()))


def test_a_method_callbacks_do_not_use_is_refused() -> None:
    assert "method" in refused(head_call(method="DELETE"))
    verify_callback(**head_call(method="get", methods=("GET",)))


@pytest.mark.parametrize("missing", ["hwSecret", "hwTime"])
def test_a_query_without_the_pair_is_refused(missing: str) -> None:
    call = query_call()
    del call["query"][missing]
    assert missing in refused(call)


@pytest.mark.parametrize("missing", ["x-hw-mss-secret", "x-hw-mss-time", "host"])
def test_headers_without_the_pair_or_the_host_are_refused(missing: str) -> None:
    headers = {"host": HOST, "x-hw-mss-secret": SECRET, "x-hw-mss-time": HW_TIME}
    del headers[missing]
    assert missing in refused(head_call(headers=headers))


def test_a_pair_in_the_query_does_not_count_for_mss_a_head() -> None:
    assert "x-hw-mss-secret" in refused(query_call(auth_type=AuthType.MSS_A_HEAD))


def test_a_repeated_time_is_refused() -> None:
    query = QUERY | {"hwSecret": SECRET, "hwTime": [HW_TIME, "66df9309"]}
    assert "2 values" in refused(query_call(query=query))


def test_a_header_given_twice_with_two_values_is_refused() -> None:
    headers = {"Host": HOST, "x-hw-mss-secret": SECRET, "x-hw-mss-time": HW_TIME, "X-HW-MSS-TIME": "0"}
    assert "twice" in refused(head_call(headers=headers))


@pytest.mark.parametrize(
    "sent", ["", "0x66df9308", " 66df9308", "+66df9308", "66df_9308", "٦٦", "1" * 17, "66df9308g", "-1"]
)
def test_a_time_that_is_not_hex_unix_seconds_is_refused(sent: str) -> None:
    headers = {"Host": HOST, "x-hw-mss-secret": SECRET, "x-hw-mss-time": sent}
    assert "hwTime" in refused(head_call(headers=headers))


@pytest.mark.parametrize(
    "secret", ["", SECRET[:-1], SECRET + "0", SECRET[:-1] + "g", " " + SECRET[1:], "٦" * 64]
)
def test_a_secret_that_is_not_64_hex_digits_is_refused(secret: str) -> None:
    headers = {"Host": HOST, "x-hw-mss-secret": secret, "x-hw-mss-time": HW_TIME}
    assert "64 hex" in refused(head_call(headers=headers))


def test_a_lone_surrogate_in_the_url_is_refused() -> None:
    assert "UTF-8" in refused(head_call(path="/v1/\udc80"))
    assert "UTF-8" in refused(head_call(query={"x": "\ud800"}))


# Anything a sender could put in a request, with the names the verifier looks for among the rest.
any_text = st.text(max_size=20)
hex_text = st.text("0123456789abcdefABCDEF", max_size=70)
times = st.one_of(any_text, hex_text, st.sampled_from([HW_TIME, "0", "ffffffffffffffff"]))
secrets_ = st.one_of(any_text, hex_text, st.text("0123456789abcdef", min_size=64, max_size=64))
values = st.one_of(any_text, st.lists(any_text, max_size=3))
queries = st.dictionaries(
    st.one_of(any_text, st.sampled_from(["hwSecret", "hwTime", "limit"])),
    st.one_of(values, times, secrets_, st.lists(st.one_of(times, secrets_), max_size=3)),
    max_size=5,
)
headers = st.dictionaries(
    st.one_of(
        any_text, st.sampled_from(["Host", "host", "x-hw-mss-secret", "X-HW-MSS-TIME", "x-hw-mss-time"])
    ),
    st.one_of(any_text, times, secrets_),
    max_size=6,
)
instants = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(SENT_AT - 400, SENT_AT + 400).map(float)
)
signed_types = st.sampled_from([AuthType.MSS_A, AuthType.MSS_A_HEAD])
methods = st.one_of(st.sampled_from(["POST", "post"]), any_text)


@settings(max_examples=500, deadline=None)
@given(
    auth_type=signed_types,
    method=methods,
    path=any_text,
    query=queries,
    headers=headers,
    body=st.binary(max_size=50),
    key=st.one_of(any_text, st.just(KEY)),
    now=instants,
)
def test_anything_unsigned_is_refused_with_a_reason(
    auth_type: AuthType,
    method: str,
    path: str,
    query: dict[str, Any],
    headers: dict[str, str],
    body: bytes,
    key: str,
    now: float,
) -> None:
    call = {
        "auth_type": auth_type,
        "method": method,
        "path": path,
        "query": query,
        "headers": headers,
        "body": body,
        "key": key,
        "now": now,
        "replay_store": MemoryReplayStore(),
    }
    refused(call)


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(["x-hw-mss-secret", "x-hw-mss-time", "host"]),
    value=st.one_of(any_text, times, secrets_),
    now=instants,
)
def test_the_document_example_with_one_header_changed_is_refused(where: str, value: str, now: float) -> None:
    headers = {"host": HOST, "x-hw-mss-secret": SECRET, "x-hw-mss-time": HW_TIME}
    original = headers[where]
    headers[where] = value
    call = head_call(headers=headers, now=now)
    unchanged = value == original or (where == "x-hw-mss-secret" and value.lower() == SECRET)
    if unchanged and abs(now - SENT_AT) <= 300:
        # Not changed after all, and sent inside the window.
        verify_callback(**call)
    else:
        refused(call)


@settings(max_examples=300, deadline=None)
@given(
    method=methods, path=any_text, query=queries, headers=headers, body=st.binary(max_size=50), now=instants
)
def test_none_never_raises_anything_but_a_refusal(
    method: str, path: str, query: dict[str, Any], headers: dict[str, str], body: bytes, now: float
) -> None:
    call = head_call(
        auth_type=AuthType.NONE,
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        key="",
        now=now,
        replay_store=NoStore(),
    )
    try:
        verified = verify_callback(**call)
    except CallbackRefused as exc:
        assert "method" in exc.reason
    else:
        assert verified.body == body
