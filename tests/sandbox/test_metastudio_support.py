"""Helpers for the MetaStudio sandbox tests (no tests here).

Requests are signed with the official SDK's own ``Signer`` (huaweicloudsdkcore), not with the
sandbox's code, so that every test also checks the sandbox against the reference client. Callback
signatures are checked with a few lines of HMAC written here from the notes, for the same reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Generator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from .conftest import wait_until

AK, SK, PROJECT, TOKEN = "sandbox-ak", "sandbox-sk", "sandbox-project", "sandbox-iam-token"
# Fast enough that a paragraph of a few words lasts a few tenths of a second.
FAST = {
    "create_delay": 0,
    "speech_seconds_per_char": 0.01,
    "min_sentence_seconds": 0.1,
    "metastudio_rtmp_connect_seconds": 0.05,
}


class SdkSigned(httpx.Auth):
    """Sign each request exactly as huaweicloudsdkcore's Signer does (AK/SK, SDK-HMAC-SHA256)."""

    def __init__(self, ak: str, sk: str, project_id: str | None, date: str | None = None) -> None:
        self.signer = Signer(BasicCredentials(ak, sk))
        self.project_id = project_id
        self.date = date

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        headers: dict[str, str] = {}
        if "content-type" in request.headers:
            headers["Content-Type"] = request.headers["content-type"]
        if self.project_id:
            headers["X-Project-Id"] = self.project_id
        if self.date:
            headers["X-Sdk-Date"] = self.date
        sdk_request = SdkRequest(
            method=request.method,
            schema=request.url.scheme,
            host=request.url.netloc.decode(),
            resource_path=request.url.path,
            query_params=list(request.url.params.multi_items()),
            header_params=headers,
            body=request.content,
        )
        signed = self.signer.sign(sdk_request)
        for name, value in signed.header_params.items():
            request.headers[name] = value
        yield request


class MetaStudioApi:
    """A customer of the sandbox's MetaStudio, signing with AK/SK (or sending a token)."""

    def __init__(
        self,
        base_url: str,
        *,
        ak: str = AK,
        sk: str = SK,
        project_id: str = PROJECT,
        token: str | None = None,
    ) -> None:
        self.project_id = project_id
        auth: httpx.Auth | None = None if token else SdkSigned(ak, sk, project_id)
        headers = {"X-Auth-Token": token} if token else {}
        self.http = httpx.Client(base_url=base_url, timeout=10, auth=auth, headers=headers)

    def url(self, path: str) -> str:
        return f"/v1/{self.project_id}{path}"

    def call(self, method: str, path: str, body: Any = None, *, expect: int = 200, **params: Any) -> Any:
        response = self.http.request(method, self.url(path), json=body, params=params or None)
        assert response.status_code == expect, response.text
        return response.json()

    def create_room(self, body: dict[str, Any] | None = None) -> str:
        room_id: str = self.call("POST", "/smart-live-rooms", body or room_body())["room_id"]
        return room_id

    def start(self, room_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("POST", f"/smart-live-rooms/{room_id}/smart-live-jobs", body or {})
        return answer

    def live(
        self, body: dict[str, Any] | None = None, start: dict[str, Any] | None = None
    ) -> tuple[str, str]:
        """A room and its job, PROCESSING (assumes create_delay 0)."""
        room_id = self.create_room(body)
        job_id: str = self.start(room_id, start)["job_id"]
        return room_id, job_id

    def job_path(self, room_id: str, job_id: str) -> str:
        return f"/smart-live-rooms/{room_id}/smart-live-jobs/{job_id}"

    def job(self, room_id: str, job_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.call("GET", self.job_path(room_id, job_id))
        return answer

    def stop(self, room_id: str, job_id: str, *, expect: int = 200) -> Any:
        return self.call("POST", self.job_path(room_id, job_id) + "/stop", expect=expect)

    def command(
        self, room_id: str, job_id: str, command: str, params: Any = None, *, expect: int = 200
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"command": command}
        if params is not None:
            body["params"] = params
        answer: dict[str, Any] = self.call(
            "POST", self.job_path(room_id, job_id) + "/command", body, expect=expect
        )
        return answer

    def say(self, room_id: str, job_id: str, text: str, play_type: str | None = None) -> str:
        params: dict[str, Any] = {"text_config": {"text": text}}
        if play_type:
            params["play_type"] = play_type
        command_id: str = self.command(room_id, job_id, "INSERT_PLAY_SCRIPT", params)["command_id"]
        return command_id

    def inserts(self, room_id: str, job_id: str) -> list[dict[str, Any]]:
        answer = self.call("GET", self.job_path(room_id, job_id) + "/command/insert-commands", limit=100)
        items: list[dict[str, Any]] = answer["insert_commands"]
        return items

    def report(self, room_id: str, job_id: str, events: list[dict[str, Any]], *, expect: int = 200) -> Any:
        body = {"total": len(events), "events": events}
        return self.call("POST", self.job_path(room_id, job_id) + "/live-event-report", body, expect=expect)

    def close(self) -> None:
        self.http.close()


def monitor(control: httpx.Client, job_id: str) -> dict[str, Any]:
    response = control.get(f"/_sandbox/metastudio/jobs/{job_id}")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def wait_for_state(control: httpx.Client, job_id: str, state: str, timeout: float = 5.0) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: (view := monitor(control, job_id))["state"] == state and view, timeout=timeout
    )
    return found


def paragraph(sequence_no: int, title: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"sequence_no": sequence_no, "title": title, "text_config": {"text": text}, **extra}


def scene(name: str, *paragraphs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "script_name": name,
        "model_asset_id": f"anchor-{name}",
        "voice_config": {"voice_asset_id": "voice-1"},
        "background_config": [
            {"background_type": "IMAGE", "background_config": f"https://example.com/{name}.png"}
        ],
        "shoot_scripts": list(paragraphs),
    }
    body.update(extra)
    return body


def room_body(**overrides: Any) -> dict[str, Any]:
    """The document's example room (表3), with two paragraphs and no repeat."""
    body: dict[str, Any] = {
        "room_name": "大自然的传说",
        "room_description": "课件",
        "scene_scripts": [
            scene(
                "商品1", paragraph(1, "开场", "大家好,我是云笙。"), paragraph(2, "介绍", "今天介绍一款好物。")
            )
        ],
        "play_policy": {"repeat_count": 0, "random_play_mode": "NONE"},
    }
    body.update(overrides)
    return body


def long_room(sentences: int = 39, **overrides: Any) -> dict[str, Any]:
    """One paragraph of many sentences that loops forever: there is always something on air."""
    text = "".join(f"第{i}句话。" for i in range(1, sentences + 1))
    body = {
        "scene_scripts": [scene("长场景", paragraph(1, "长段落", text))],
        "play_policy": {"repeat_count": -1, "random_play_mode": "NONE"},
        **overrides,
    }
    return room_body(**body)


class Receiver:
    """Records every callback the sandbox posts: path, query, headers and JSON body."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = urlsplit(self.path)
                receiver.calls.append(
                    {
                        "path": parts.path,
                        "raw_query": parts.query,
                        "query": dict(parse_qsl(parts.query)),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(body),
                    }
                )
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The decoded messages, in arrival order, each with its event_type."""
        found = []
        for call in self.calls:
            body = call["body"]
            if event_type is None or body["event_type"] == event_type:
                found.append({"event_type": body["event_type"], **json.loads(body["message"])})
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def callback_config(
    url: str, *events: str, auth_type: str = "NONE", key: str | None = None
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "live_event_type_callback_url": url,
        "auth_type": auth_type,
        "callback_event_type": list(events)
        or ["SHOOT_SCRIPT_SWITCH", "RTMP_STREAM_STATE_CHANGE", "REPLY_COMMAND_FINISH"],
    }
    if key is not None:
        config["key"] = key
    return config


def expected_secret(key: str, url: str, hw_time: str) -> str:
    """hwSecret as the notes define it, computed independently of the sandbox."""
    parts = urlsplit(url)
    query = "&".join(sorted(parts.query.split("&"), key=lambda p: p.split("=")[0])) if parts.query else ""
    uri = parts.netloc + parts.path + (f"?{query}" if query else "")
    return hmac.new(key.encode(), (uri + hw_time).encode(), hashlib.sha256).hexdigest()
