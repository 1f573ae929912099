"""Small clients for driving the live stack the way a browser would: log in over HTTP, act on a
room with the CSRF token, and listen on a room console's WebSocket."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.sync.client import ClientConnection, connect

PASSWORD = "pass-word-123"
CREATE_PATH = "/api/2dvh/v2/material/live/channel/create"
STATE = re.compile(r'id="room-live"[^>]*data-state="([a-z_]+)"')


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 20.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll until `predicate` returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not met within {timeout} s")
        time.sleep(interval)


def login(
    base_url: str, username: str, password: str = PASSWORD, client: httpx.Client | None = None
) -> httpx.Client:
    """An httpx client (a new one, or `client`) logged in through the login form, as a browser
    would be."""
    client = client or httpx.Client(base_url=base_url, timeout=15)
    page = client.get("/login/")
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match, "the login page has no CSRF token"
    answer = client.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": match.group(1), "next": ""},
    )
    assert answer.status_code == 302, f"login of {username} failed: {answer.status_code}"
    assert client.cookies.get("sessionid"), "no session cookie after logging in"
    return client


def csrf_post(client: httpx.Client, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
    """A POST the way the console's htmx sends it: CSRF token in the header, from the cookie."""
    headers = {"X-CSRFToken": client.cookies.get("csrftoken") or "", "HX-Request": "true"}
    return client.post(path, data=data or {}, headers=headers)


def room_action(client: httpx.Client, room_id: int, action: str) -> httpx.Response:
    return csrf_post(client, f"/rooms/{room_id}/actions/{action}/")


def state_of(html: str) -> str | None:
    """The live state a console fragment shows (`idle` when the room never ran)."""
    match = STATE.search(html)
    return match.group(1) if match else None


class ConsoleSocket:
    """A room console's WebSocket, opened with a logged-in user's session cookie."""

    def __init__(self, base_url: str, room_id: int, session_cookie: str) -> None:
        parts = urlsplit(base_url)
        self.url = f"ws://{parts.netloc}/ws/rooms/{room_id}/"
        self.connection: ClientConnection = connect(
            self.url,
            origin=f"{parts.scheme}://{parts.netloc}",  # type: ignore[arg-type]
            additional_headers={"Cookie": f"sessionid={session_cookie}"},
            open_timeout=10,
        )
        self.messages: list[str] = []

    def __enter__(self) -> ConsoleSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.connection.close()

    @property
    def states(self) -> list[str | None]:
        return [state_of(html) for html in self.messages]

    def wait_for(self, predicate: Callable[[str], bool], *, timeout: float = 20.0, what: str = "") -> str:
        """Read pushed fragments until one satisfies `predicate`; return it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                last = self.messages[-1] if self.messages else "nothing"
                raise AssertionError(
                    f"{what or 'the expected fragment'} was not pushed within {timeout} s; "
                    f"states seen: {self.states}; last: {last[:1500]}"
                )
            try:
                html = str(self.connection.recv(timeout=left))
            except TimeoutError:
                continue
            self.messages.append(html)
            if predicate(html):
                return html

    def wait_for_state(self, state: str, *, timeout: float = 20.0) -> str:
        return self.wait_for(lambda html: state_of(html) == state, timeout=timeout, what=f"state {state!r}")


def sandbox_session(sandbox: httpx.Client, vendor_session_id: str) -> dict[str, Any]:
    answer = sandbox.get(f"/_sandbox/softsugar/sessions/{vendor_session_id}")
    answer.raise_for_status()
    return dict(answer.json())


def live_script() -> str:
    """A minimal valid live script (the vendor document's example), as the escaped `param`."""
    scene = {
        "digital_role": {
            "face_feature_id": "0325_nina_s3_beauty",
            "name": "Nina",
            "url": "https://assets.example.com/anchors/nina.zip",
            "position": {"x": 0, "y": 0},
            "scale": 1,
        },
        "tts_config": {
            "id": "nina",
            "name": "Nina",
            "vendor_id": 3,
            "language": "zh-CN",
            "pitch_offset": 0.0,
            "speed_ratio": 1,
            "volume": 100,
        },
        "tts_query": {"content": "Hello everyone, welcome to the live stream tonight."},
    }
    return json.dumps({"version": "0.0.1", "recycle": 0, "stream_mode": True, "sceneList": [scene]})
