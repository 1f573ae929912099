"""MetaStudio sandbox: AK/SK signatures, IAM tokens, projects, accounts, faults and error shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from rooms.sandbox.config import SandboxConfig
from rooms.sandbox.metastudio import MetaStudio
from rooms.sandbox.metastudio_auth import SignatureError, parse_authorization, verify

from .test_metastudio_support import AK, PROJECT, SK, TOKEN, MetaStudioApi, SdkSigned, room_body

ROOMS = f"/v1/{PROJECT}/smart-live-rooms"


def _sdk_signed(method: str, path: str, query: list[tuple[str, str]], body: bytes) -> SdkRequest:
    request = SdkRequest(
        method=method,
        schema="https",
        host="metastudio.example.com",
        resource_path=path,
        query_params=query,
        header_params={"Content-Type": "application/json", "X-Project-Id": PROJECT},
        body=body,
    )
    return Signer(BasicCredentials(AK, SK)).sign(request)


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


@pytest.mark.parametrize(
    ("method", "path", "query", "body"),
    [
        ("POST", f"/v1/{PROJECT}/smart-live-rooms", [], b'{"room_name": "a"}'),
        ("GET", f"/v1/{PROJECT}/smart-live-jobs", [("state", "WAITING,PROCESSING"), ("limit", "5")], b""),
        ("GET", f"/v1/{PROJECT}/smart-live-rooms", [("room_name", "大自然 的~传说")], b""),
    ],
)
def test_the_sandbox_accepts_what_the_official_signer_signs(
    method: str, path: str, query: list[tuple[str, str]], body: bytes
) -> None:
    signed = _sdk_signed(method, path, query, body)
    headers = _lower(signed.header_params)
    verify(
        auth=parse_authorization(headers["authorization"]),
        sk=SK,
        method=method,
        path=path,
        query=dict(query),
        headers=headers,
        body=body,
    )


def test_a_changed_body_breaks_the_signature() -> None:
    path = f"/v1/{PROJECT}/smart-live-rooms"
    signed = _sdk_signed("POST", path, [], b'{"room_name": "a"}')
    headers = _lower(signed.header_params)
    with pytest.raises(SignatureError, match="canonical request"):
        verify(
            auth=parse_authorization(headers["authorization"]),
            sk=SK,
            method="POST",
            path=path,
            query={},
            headers=headers,
            body=b'{"room_name": "b"}',
        )


def test_aksk_and_token_both_authenticate(sandbox_url: str, control: httpx.Client) -> None:
    signed = MetaStudioApi(sandbox_url)
    room_id = signed.create_room()
    by_token = MetaStudioApi(sandbox_url, token=TOKEN)
    assert by_token.call("GET", f"/smart-live-rooms/{room_id}")["room_id"] == room_id
    signed.close()
    by_token.close()


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Auth-Token": "nobody"}, {"Authorization": "Bearer abc"}, {"Authorization": "SDK-HMAC-SHA256 x"}],
)
def test_requests_without_valid_credentials_are_401(
    sandbox_url: str, control: httpx.Client, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{sandbox_url}{ROOMS}", headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert set(body) == {"error_code", "error_msg"}
    assert body["error_code"] == "MSS.00000001"


def test_a_wrong_secret_key_is_401_with_the_canonical_request(
    sandbox_url: str, control: httpx.Client
) -> None:
    response = httpx.get(f"{sandbox_url}{ROOMS}", auth=SdkSigned(AK, "not-the-sk", PROJECT))
    assert response.status_code == 401
    assert "signature does not match" in response.json()["error_msg"]
    assert "GET\\n/v1/sandbox-project/smart-live-rooms/\\n" in response.json()["error_msg"]


def test_an_unknown_access_key_is_401(sandbox_url: str, control: httpx.Client) -> None:
    response = httpx.get(f"{sandbox_url}{ROOMS}", auth=SdkSigned("who", SK, PROJECT))
    assert response.status_code == 401 and "who" in response.json()["error_msg"]


@pytest.mark.parametrize("minutes", [-16, 16])
def test_a_date_more_than_15_minutes_away_is_401(
    sandbox_url: str, control: httpx.Client, minutes: int
) -> None:
    date = (datetime.now(UTC) + timedelta(minutes=minutes)).strftime("%Y%m%dT%H%M%SZ")
    response = httpx.get(f"{sandbox_url}{ROOMS}", auth=SdkSigned(AK, SK, PROJECT, date=date))
    assert response.status_code == 401 and "15 minutes" in response.json()["error_msg"]


def test_a_date_within_15_minutes_is_accepted(sandbox_url: str, control: httpx.Client) -> None:
    date = (datetime.now(UTC) - timedelta(minutes=14)).strftime("%Y%m%dT%H%M%SZ")
    assert httpx.get(f"{sandbox_url}{ROOMS}", auth=SdkSigned(AK, SK, PROJECT, date=date)).status_code == 200


def test_aksk_needs_the_project_header(sandbox_url: str, control: httpx.Client) -> None:
    response = httpx.get(f"{sandbox_url}{ROOMS}", auth=SdkSigned(AK, SK, None))
    assert response.status_code == 401 and "X-Project-Id" in response.json()["error_msg"]


def test_a_project_that_is_not_the_accounts_is_refused(sandbox_url: str, control: httpx.Client) -> None:
    other = "/v1/someone-elses-project/smart-live-rooms"
    response = httpx.get(f"{sandbox_url}{other}", auth=SdkSigned(AK, SK, PROJECT))
    assert response.status_code == 403
    assert response.json()["error_code"] == "MSS.00010009"
    by_token = httpx.get(f"{sandbox_url}{other}", headers={"X-Auth-Token": TOKEN})
    assert by_token.status_code == 403 and "someone-elses-project" in by_token.json()["error_msg"]
    header = httpx.get(f"{sandbox_url}{ROOMS}", auth=SdkSigned(AK, SK, "someone-elses-project"))
    assert header.status_code == 403


def test_accounts_are_provisioned_and_projects_are_separate(sandbox_url: str, control: httpx.Client) -> None:
    body = {"sk": "second-sk", "project_id": "second-project", "token": "second-token"}
    assert control.put("/_sandbox/metastudio/accounts/second-ak", json=body).json() == {"ok": True}
    accounts = {account["ak"]: account for account in control.get("/_sandbox/metastudio/accounts").json()}
    assert accounts[AK] == {"kind": "metastudio", "ak": AK, "project_id": PROJECT, "token": TOKEN}
    assert accounts["second-ak"]["project_id"] == "second-project" and "sk" not in accounts["second-ak"]
    second = MetaStudioApi(sandbox_url, ak="second-ak", sk="second-sk", project_id="second-project")
    first = MetaStudioApi(sandbox_url)
    room_id = second.create_room()
    assert second.call("GET", "/smart-live-rooms")["count"] == 1
    assert first.call("GET", "/smart-live-rooms")["count"] == 0
    first.call("GET", f"/smart-live-rooms/{room_id}", expect=404)
    by_token = MetaStudioApi(sandbox_url, project_id="second-project", token="second-token")
    assert by_token.call("GET", f"/smart-live-rooms/{room_id}")["room_name"] == room_body()["room_name"]
    for client in (first, second, by_token):
        client.close()


def test_provisioning_refuses_a_body_without_a_project(control: httpx.Client) -> None:
    assert control.put("/_sandbox/metastudio/accounts/x", json={"sk": "s"}).status_code == 400


def test_reprovisioning_replaces_the_token(sandbox_url: str, control: httpx.Client) -> None:
    control.put("/_sandbox/metastudio/accounts/rot", json={"sk": "s", "project_id": "p", "token": "old"})
    control.put("/_sandbox/metastudio/accounts/rot", json={"sk": "s", "project_id": "p", "token": "new"})
    old = httpx.get(f"{sandbox_url}/v1/p/smart-live-rooms", headers={"X-Auth-Token": "old"})
    new = httpx.get(f"{sandbox_url}/v1/p/smart-live-rooms", headers={"X-Auth-Token": "new"})
    assert (old.status_code, new.status_code) == (401, 200)


def test_unknown_paths_and_methods_answer_in_the_vendor_shape(api: MetaStudioApi) -> None:
    assert api.call("GET", "/no-such-thing", expect=404)["error_code"] == "MSS.00010003"
    assert api.call("PATCH", "/smart-live-rooms", expect=405)["error_code"] == "MSS.00010004"


def test_faults_apply_to_metastudio_paths(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/faults", json={"error_rate": 1})
    answer = api.call("GET", "/smart-live-rooms", expect=503)
    assert answer["error_code"] == "MSS.00000004"
    assert control.get("/_sandbox/metastudio/accounts").status_code == 200
    control.put("/_sandbox/faults", json={"expired_token": True})
    assert api.call("GET", "/smart-live-rooms", expect=401)["error_code"] == "MSS.00000001"
    control.delete("/_sandbox/faults")
    assert api.call("GET", "/smart-live-rooms")["count"] == 0


def test_timeout_fault_hangs_a_listed_metastudio_path(control: httpx.Client, api: MetaStudioApi) -> None:
    control.put("/_sandbox/faults", json={"timeout_paths": [f"/v1/{PROJECT}/smart-live-rooms"]})
    with pytest.raises(httpx.ReadTimeout):
        api.http.get(f"/v1/{PROJECT}/smart-live-rooms", timeout=0.5)


def test_the_app_user_id_must_not_be_chinese(api: MetaStudioApi) -> None:
    path = f"/v1/{PROJECT}/smart-live-rooms"
    assert api.http.get(path, headers={"X-App-UserId": "user-42"}).status_code == 200
    refused = api.http.get(path, headers={"X-App-UserId": "用户".encode()})
    assert refused.status_code == 400 and "X-App-UserId" in refused.json()["error_msg"]


def test_accounts_file_entries_are_provisioned() -> None:
    platform = MetaStudio(SandboxConfig())
    entry = {
        "kind": "metastudio",
        "ak": "file-ak",
        "sk": "file-sk",
        "project_id": "file-project",
        "token": "t",
    }
    platform.provision_all([entry, {"kind": "softsugar", "token": "x"}])
    assert platform.accounts["file-ak"].project_id == "file-project" and platform.tokens["t"].ak == "file-ak"
    assert set(platform.accounts) == {"sandbox-ak", "file-ak"}
    for broken in ({"kind": "metastudio", "ak": None, "sk": "s", "project_id": "p"}, {**entry, "sk": None}):
        with pytest.raises(ValueError):
            platform.provision_all([broken])
