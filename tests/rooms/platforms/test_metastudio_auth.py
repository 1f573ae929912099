"""LiveDeck's MetaStudio signer against the official SDK's (huaweicloudsdkcore `Signer`, through
`BasicCredentials.sign_request` as the SDK's clients call it): the same request, at the same
X-Sdk-Date, must carry the same Authorization header and the same query string."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from rooms.platforms.metastudio_auth import (
    EMPTY_BODY_HASH,
    AkSkAuth,
    TokenAuth,
    canonical_query,
    canonical_uri,
    is_signed_header,
)

AK = "HPUAL7TTMZ0EXAMPLEAK"
SK = "qQ8yWv4tX9EXAMPLEsecretKEYzjL3nT6pR2mB5cD"
PROJECT = "70b76xxxxxx34253880af501cdxxxxxx"
HOST = "metastudio.cn-north-4.myhuaweicloud.com"
SDK_DATE = "20240910T083000Z"
JSON = "application/json"
ROOMS = f"/v1/{PROJECT}/smart-live-rooms"
CREATE_ROOM = {
    "room_name": "大自然的传说",
    "room_description": "课件",
    "scene_scripts": [{"script_name": "大自然的传说 一", "shoot_scripts": [{"sequence_no": 1}]}],
}


def encode_path(path: str) -> str:
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


def sdk_sign(
    method: str,
    resource_path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    *,
    security_token: str = "",
) -> SdkRequest:
    """Sign as the SDK does: its clients pass the path with each parameter percent-encoded, the
    query as pairs and the headers as a dict, and sign through the credentials."""
    request = SdkRequest(
        method=method,
        schema="https",
        host=HOST,
        resource_path=resource_path,
        query_params=list(query),
        header_params=dict(headers),
        body=body,
    )
    credentials = BasicCredentials(AK, SK, PROJECT)
    if security_token:
        credentials.with_security_token(security_token)
    return credentials.sign_request(request)


def livedeck_sign(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    **auth: str,
) -> httpx.Request:
    request = httpx.Request(method, f"https://{HOST}{path}", params=query, headers=headers, content=body)
    AkSkAuth(AK, SK, project_id=PROJECT, **auth).sign(request)
    return request


def assert_same_as_sdk(
    method: str,
    path: str,
    query: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    **auth: str,
) -> httpx.Request:
    query = query or []
    sent = {"X-Sdk-Date": SDK_DATE} | ({"Content-Type": JSON} if body else {}) | (headers or {})
    user = {"X-App-UserId": auth["app_user_id"]} if "app_user_id" in auth else {}
    ours = livedeck_sign(method, path, query, sent, body, **auth)
    security_token = auth.get("security_token", "")
    theirs = sdk_sign(method, encode_path(path), query, sent | user, body, security_token=security_token)
    assert ours.headers["Authorization"] == theirs.header_params["Authorization"]
    _, _, sdk_query = theirs.uri.partition("?")
    assert ours.url.query.decode() == sdk_query
    return ours


def test_create_room_with_a_json_body_signs_as_the_sdk_does() -> None:
    body = json.dumps(CREATE_ROOM, ensure_ascii=False).encode()
    request = assert_same_as_sdk("POST", ROOMS, body=body)
    assert request.headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={AK}, ")
    assert "SignedHeaders=content-type;host;x-project-id;x-sdk-date," in request.headers["Authorization"]


def test_json_content_type_with_a_charset_still_signs_the_body() -> None:
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    assert_same_as_sdk("PUT", f"{ROOMS}/26f06524", body=b'{"room_name":"x"}', headers=headers)


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
def test_an_empty_body_signs_as_the_sdk_does(method: str) -> None:
    assert_same_as_sdk(method, f"{ROOMS}/26f06524-4f75-4b3a-a853-b649a21aaf66")


def test_query_with_several_and_repeated_keys_and_characters_to_encode() -> None:
    query = [
        ("state", "PROCESSING"),
        ("limit", "10"),
        ("room_name", "直播间 A&B=C+D/E"),
        ("state", "WAITING"),
        ("sort_key", "create_time"),
        ("offset", "0"),
        ("state", "BLOCKED"),
        ("create_since", "2024-09-10T08:30:00Z"),
        ("empty", ""),
        ("tilde~star*", "~*!'()"),
    ]
    request = assert_same_as_sdk("GET", f"/v1/{PROJECT}/smart-live-jobs", query)
    # The query is sent as the SDK sends it: sorted by name then value, RFC 3986 encoded.
    assert request.url.query.decode().startswith("create_since=2024-09-10T08%3A30%3A00Z&empty=&limit=10&")
    assert "state=BLOCKED&state=PROCESSING&state=WAITING" in request.url.query.decode()


def test_query_names_sort_before_they_are_encoded() -> None:
    query = [("中", "1"), ("z", "2"), ("A", "3")]
    assert_same_as_sdk("GET", ROOMS, query)
    assert canonical_query(query) == "A=3&z=2&%E4%B8%AD=1"


def test_a_chinese_room_name_in_the_path_signs_as_the_sdk_does() -> None:
    request = assert_same_as_sdk("GET", f"{ROOMS}/大自然的传说 一/smart-live-jobs")
    assert request.url.raw_path.startswith(f"{ROOMS}/%E5%A4%A7".encode())


@pytest.mark.parametrize("path", [ROOMS, f"{ROOMS}/"])
def test_a_path_with_and_without_its_trailing_slash_signs_as_the_sdk_does(path: str) -> None:
    assert_same_as_sdk("GET", path, [("limit", "10")])


def test_a_trailing_slash_does_not_change_the_signature() -> None:
    without = livedeck_sign("GET", ROOMS, [], {"X-Sdk-Date": SDK_DATE}, b"")
    with_slash = livedeck_sign("GET", f"{ROOMS}/", [], {"X-Sdk-Date": SDK_DATE}, b"")
    assert without.headers["Authorization"] == with_slash.headers["Authorization"]
    assert canonical_uri(ROOMS) == canonical_uri(f"{ROOMS}/") == f"{ROOMS}/"


def test_app_user_id_and_security_token_are_signed_as_the_sdk_signs_them() -> None:
    request = assert_same_as_sdk(
        "POST", ROOMS, body=b"{}", app_user_id="livedeck-host-7", security_token="sts-token-abc"
    )
    assert request.headers["X-App-UserId"] == "livedeck-host-7"
    assert "x-app-userid;x-project-id;x-sdk-date;x-security-token," in request.headers["Authorization"]


def test_an_unsigned_payload_header_stands_in_for_the_body_as_in_the_sdk() -> None:
    # The SDK marks every non-JSON body UNSIGNED-PAYLOAD by itself; LiveDeck only when asked.
    headers = {"Content-Type": "application/octet-stream", "X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"}
    assert_same_as_sdk("PUT", f"{ROOMS}/r1/cover", body=b"\x89PNG\r\n", headers=headers)


def test_other_x_headers_are_signed_with_their_values_trimmed() -> None:
    request = assert_same_as_sdk("GET", ROOMS, headers={"X-Request-Tag": "  room 7\t"})
    assert "x-request-tag" in request.headers["Authorization"]


def test_headers_the_http_stack_adds_are_not_signed() -> None:
    assert [name for name in ("Host", "Content-Type", "X-Sdk-Date", "X-Project-Id") if is_signed_header(name)]
    assert not [
        name
        for name in ("Accept", "Accept-Encoding", "Connection", "Content-Length", "User-Agent", "X_Under")
        if is_signed_header(name)
    ]


def test_the_clock_gives_x_sdk_date_when_the_request_has_none() -> None:
    auth = AkSkAuth(AK, SK, project_id=PROJECT, clock=lambda: datetime(2024, 9, 10, 8, 30, tzinfo=UTC))
    request = httpx.Request("GET", f"https://{HOST}{ROOMS}")
    auth.sign(request)
    assert request.headers["X-Sdk-Date"] == SDK_DATE
    theirs = sdk_sign("GET", ROOMS, [], {"X-Sdk-Date": SDK_DATE}, b"")
    assert request.headers["Authorization"] == theirs.header_params["Authorization"]


def test_a_client_with_the_auth_sends_the_sdk_headers() -> None:
    body = json.dumps(CREATE_ROOM, ensure_ascii=False).encode()
    query = [("limit", "10"), ("offset", "0"), ("room_name", "大自然")]
    theirs = sdk_sign("POST", ROOMS, query, {"X-Sdk-Date": SDK_DATE, "Content-Type": JSON}, body)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"room_id": "26f06524-4f75-4b3a-a853-b649a21aaf66"})

    clock = lambda: datetime(2024, 9, 10, 8, 30, tzinfo=UTC)  # noqa: E731
    auth = AkSkAuth(AK, SK, project_id=PROJECT, clock=clock)
    with httpx.Client(
        auth=auth, transport=httpx.MockTransport(handler), base_url=f"https://{HOST}"
    ) as client:
        response = client.post(ROOMS, params=query, content=body, headers={"Content-Type": JSON})
    assert response.json()["room_id"]
    (sent,) = seen
    for name in ("Authorization", "X-Sdk-Date", "X-Project-Id", "Host", "Content-Type"):
        assert sent.headers[name] == theirs.header_params[name], name
    assert sent.url.raw_path == theirs.uri.encode()
    assert sent.content == body


def test_an_async_client_with_the_auth_signs_too() -> None:
    theirs = sdk_sign("GET", ROOMS, [("limit", "5")], {"X-Sdk-Date": SDK_DATE}, b"")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 0, "smart_live_rooms": []})

    async def call() -> None:
        auth = AkSkAuth(AK, SK, project_id=PROJECT)
        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(auth=auth, transport=transport) as client:
            await client.get(f"https://{HOST}{ROOMS}", params={"limit": 5}, headers={"X-Sdk-Date": SDK_DATE})

    asyncio.run(call())
    assert seen[0].headers["Authorization"] == theirs.header_params["Authorization"]


def test_token_auth_sends_the_token_and_the_project() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    auth = TokenAuth("MIIT-iam-token", project_id=PROJECT, app_user_id="host-1")
    with httpx.Client(auth=auth, transport=httpx.MockTransport(handler)) as client:
        client.get(f"https://{HOST}{ROOMS}")
    (sent,) = seen
    assert sent.headers["X-Auth-Token"] == "MIIT-iam-token"
    assert sent.headers["X-Project-Id"] == PROJECT
    assert sent.headers["X-App-UserId"] == "host-1"
    assert "Authorization" not in sent.headers
    assert "X-Sdk-Date" not in sent.headers


def test_an_app_user_id_in_chinese_is_refused() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        AkSkAuth(AK, SK, app_user_id="主播")
    with pytest.raises(ValueError, match="ASCII"):
        TokenAuth("token", app_user_id="主播")


def test_signing_needs_both_keys() -> None:
    with pytest.raises(ValueError):
        AkSkAuth(AK, "")
    with pytest.raises(ValueError):
        TokenAuth("")


def test_an_empty_body_hashes_as_the_empty_string() -> None:
    assert EMPTY_BODY_HASH == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


# Any text a query can carry: every code point that UTF-8 can encode.
query_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
query_names = st.one_of(st.sampled_from(["limit", "offset", "state", "room_name"]), query_text)
queries = st.lists(st.tuples(query_names, query_text), max_size=8)
segments = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=10).filter(
    lambda segment: segment not in (".", "..")
)


@settings(max_examples=300, deadline=None)
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), query=queries, body=st.binary(max_size=200))
def test_random_queries_and_bodies_sign_as_the_sdk_does(
    method: str, query: list[tuple[str, str]], body: bytes
) -> None:
    assert_same_as_sdk(method, f"{ROOMS}/r1/smart-live-jobs", query, body=body)


@settings(max_examples=300, deadline=None)
@given(path=st.lists(segments, min_size=1, max_size=4), trailing=st.booleans(), query=queries)
def test_random_paths_sign_as_the_sdk_does(
    path: list[str], trailing: bool, query: list[tuple[str, str]]
) -> None:
    # Both get the path encoded as the SDK's client encodes path parameters; a segment may hold "/".
    encoded = "/" + "/".join(quote(segment, safe="") for segment in path) + ("/" if trailing else "")
    request = httpx.Request("GET", f"https://{HOST}{encoded}", params=query, headers={"X-Sdk-Date": SDK_DATE})
    AkSkAuth(AK, SK, project_id=PROJECT).sign(request)
    theirs = sdk_sign("GET", encoded, query, {"X-Sdk-Date": SDK_DATE}, b"")
    assert request.headers["Authorization"] == theirs.header_params["Authorization"]
