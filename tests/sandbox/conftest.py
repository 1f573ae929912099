"""Run the sandbox in a subprocess on a free port and drive it over real sockets.

The sandbox needs no Django, so these tests start it with ``python -m rooms.sandbox``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PRELOADED_TOKEN = "preloaded-softsugar-token"
CREATE = "/api/2dvh/v2/material/live/channel/create"
CHANNEL = "/api/2dvh/v1/material/live/channel"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll until ``predicate`` returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def start_server(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/_sandbox/health"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited: {process.stderr.read().decode() if process.stderr else ''}")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("sandbox did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    accounts = tmp_path_factory.mktemp("sandbox") / "accounts.json"
    entries = [
        {"kind": "softsugar", "token": PRELOADED_TOKEN, "callbackUrl": "", "maxSessions": 3},
        {"kind": "guiji", "token": "ignored-for-now"},
    ]
    accounts.write_text(json.dumps(entries))
    port = free_port()
    command = [sys.executable, "-m", "rooms.sandbox", "--port", str(port), "--accounts", str(accounts)]
    process = start_server(command, port)
    yield f"http://127.0.0.1:{port}"
    stop_server(process)


@pytest.fixture
def control(sandbox_url: str) -> Iterator[httpx.Client]:
    """A client for ``/_sandbox`` paths; the sandbox is reset before each test."""
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        assert client.post("/_sandbox/reset").json() == {"ok": True}
        yield client


class CallbackReceiver:
    """A tiny HTTP server that records the JSON callbacks the sandbox posts to it."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.content_types: list[str] = []
        self.fail_next = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.fail_next > 0:
                    receiver.fail_next -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.content_types.append(self.headers.get("Content-Type", ""))
                receiver.calls.append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/softsugar/key/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def of(self, session_id: str) -> list[dict[str, Any]]:
        return [call for call in self.calls if call["sessionId"] == session_id]

    def statuses(self, session_id: str, trace_id: str | None = None) -> list[int]:
        return [
            call["status"]
            for call in self.of(session_id)
            if trace_id is None or call.get("commandTraceId") == trace_id
        ]

    def wait_for(self, session_id: str, status: int, trace_id: str | None = None) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for call in self.of(session_id):
                if call["status"] == status and (trace_id is None or call.get("commandTraceId") == trace_id):
                    return call
            return None

        found: dict[str, Any] = wait_until(find)
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    recv = CallbackReceiver()
    yield recv
    recv.close()


class Vendor:
    """A customer account on the sandbox, talking the vendor API with its token."""

    def __init__(
        self, sandbox_url: str, control: httpx.Client, callback_url: str = "", max_sessions: int = 20
    ):
        self.token = f"tok-{uuid.uuid4().hex}"
        self.control = control
        body = {"callbackUrl": callback_url, "maxSessions": max_sessions}
        assert control.put(f"/_sandbox/softsugar/accounts/{self.token}", json=body).json() == {"ok": True}
        self.http = httpx.Client(
            base_url=sandbox_url, timeout=10, headers={"Authorization": f"Bearer {self.token}"}
        )

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def channel(self, action: str, **body: Any) -> dict[str, Any]:
        return self.post(f"{CHANNEL}/{action}", body)

    def create(self, script: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
        return self.post(CREATE, {"param": json.dumps(script or live_script()), **extra})

    def open_session(self, script: dict[str, Any] | None = None, *, live: bool = True) -> str:
        """A session in 35 (or 2 when ``live``); assumes create_delay 0."""
        answer = self.create(script)
        assert answer["code"] == 0 and answer["data"]["status"] == 35, answer
        session_id: str = answer["data"]["sessionId"]
        if live:
            assert self.channel("start", sessionId=session_id)["data"] is True
        return session_id

    def inspect(self, session_id: str) -> dict[str, Any]:
        return self.control.get(f"/_sandbox/softsugar/sessions/{session_id}").json()  # type: ignore[no-any-return]

    def monitor(self, session_id: str) -> dict[str, Any]:
        response = self.http.get(f"/_sandbox/softsugar/sessions/{session_id}/monitor")
        return response.json()  # type: ignore[no-any-return]

    def queue(
        self, session_id: str, text: str | None = None, *, audio: str | None = None, **extra: Any
    ) -> str:
        param: dict[str, Any] = {"tts_query": {"content": text, "ssml": False}} if text else {"audio": audio}
        answer = self.channel("command/queue", sessionId=session_id, param=json.dumps(param), **extra)
        assert answer["code"] == 0, answer
        return answer["data"]["commandTraceId"]  # type: ignore[no-any-return]

    def queue_ids(self, session_id: str) -> list[str]:
        return self.channel("command/queue/list", sessionId=session_id)["data"]["commandTraceIds"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.http.close()


@pytest.fixture
def fast(control: httpx.Client) -> httpx.Client:
    """Sessions are ready at once and speech is quick."""
    control.put(
        "/_sandbox/config",
        json={"create_delay": 0, "speech_seconds_per_char": 0.01, "min_sentence_seconds": 0.1},
    )
    return control


@pytest.fixture
def vendor(sandbox_url: str, fast: httpx.Client) -> Iterator[Vendor]:
    client = Vendor(sandbox_url, fast)
    yield client
    client.close()


@pytest.fixture
def vendor_with_callbacks(
    sandbox_url: str, fast: httpx.Client, receiver: CallbackReceiver
) -> Iterator[Vendor]:
    client = Vendor(sandbox_url, fast, callback_url=receiver.url)
    yield client
    client.close()


def live_script(**overrides: Any) -> dict[str, Any]:
    """The document's example script; ``overrides`` patch top-level keys or, with ``scene__``, the scene."""
    scene: dict[str, Any] = {
        "digital_role": {
            "id": 1,
            "face_feature_id": "0325_nina_s3_beauty",
            "name": "小李",
            "url": "https://example.com/materials/77/0325_nina_s3_beauty.zip",
            "position": {"x": 10, "y": 60},
            "scale": 1,
        },
        "tts_config": {
            "id": "nina",
            "name": "nina",
            "vendor_id": 3,
            "language": "zh-CN",
            "pitch_offset": 0.0,
            "speed_ratio": 1,
            "volume": 400,
        },
        "tts_query": {
            "content": "商汤科技是一家行业领先的人工智能软件公司。以坚持原创,让AI引领人类进步为使命。"
        },
        "backgrounds": [
            {
                "type": 0,
                "name": "背景",
                "url": "https://example.com/background.png",
                "rect": [0, 0, 1080, 1920],
                "cycle": True,
                "start": 0,
                "duration": -1,
            }
        ],
    }
    script: dict[str, Any] = {"version": "0.0.1", "recycle": 0, "stream_mode": True, "sceneList": [scene]}
    for key, value in overrides.items():
        if key.startswith("scene__"):
            scene[key.removeprefix("scene__")] = value
        else:
            script[key] = value
    return script


# MetaStudio ------------------------------------------------------------------------------------


@pytest.fixture
def metastudio_fast(control: httpx.Client) -> httpx.Client:
    """The sandbox with MetaStudio's delays cut short."""
    from .test_metastudio_support import FAST

    control.put("/_sandbox/config", json=FAST)
    return control


@pytest.fixture
def api(sandbox_url: str, metastudio_fast: httpx.Client) -> Iterator[Any]:
    """A MetaStudio API client signing with the sandbox's preloaded AK/SK."""
    from .test_metastudio_support import MetaStudioApi

    client = MetaStudioApi(sandbox_url)
    yield client
    client.close()
