"""Sandbox-only endpoints: config, faults, reset, inspection, monitor, and the ways to start it."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx
import pytest

from .conftest import CHANNEL, ROOT, Vendor, free_port, live_script, start_server, stop_server, wait_until

FIRST = "商汤科技是一家行业领先的人工智能软件公司。"
SECOND = "以坚持原创,让AI引领人类进步为使命。"


def test_health(control: httpx.Client) -> None:
    assert control.get("/_sandbox/health").json() == {"ok": True}


def test_config_is_read_and_partially_updated(control: httpx.Client) -> None:
    defaults = control.get("/_sandbox/config").json()
    assert defaults["create_delay"] == 2.0 and defaults["heartbeat_threshold"] == 180.0
    assert defaults["capacity"] == 1000 and defaults["prepare_delay"] == 0.0
    assert defaults["speech_seconds_per_char"] == 0.2
    changed = control.put("/_sandbox/config", json={"create_delay": 0.5}).json()
    assert changed == {**defaults, "create_delay": 0.5}
    assert control.put("/_sandbox/config", json={"create_delay": -1}).status_code == 400
    assert control.put("/_sandbox/config", json={"bogus": 1}).status_code == 400
    assert control.get("/_sandbox/config").json()["create_delay"] == 0.5
    control.post("/_sandbox/reset")
    assert control.get("/_sandbox/config").json() == defaults


def test_latency_fault_delays_vendor_paths_only(control: httpx.Client, vendor: Vendor) -> None:
    session_id = vendor.open_session()
    control.put("/_sandbox/faults", json={"latency_ms": 300})
    started = time.monotonic()
    assert vendor.channel("heartbeat", sessionId=session_id)["code"] == 0
    assert time.monotonic() - started >= 0.29
    started = time.monotonic()
    control.get("/_sandbox/health")
    assert time.monotonic() - started < 0.29


def test_error_rate_fault_answers_503(control: httpx.Client, vendor: Vendor) -> None:
    control.put("/_sandbox/faults", json={"error_rate": 1.0})
    response = vendor.http.post(f"{CHANNEL}/heartbeat", json={"sessionId": "x"})
    assert response.status_code == 503 and response.json()["code"] == 503
    assert control.get("/_sandbox/health").status_code == 200
    control.delete("/_sandbox/faults")
    assert vendor.http.post(f"{CHANNEL}/heartbeat", json={"sessionId": "x"}).status_code == 200


def test_timeout_fault_hangs_the_listed_paths(control: httpx.Client, vendor: Vendor) -> None:
    session_id = vendor.open_session(live=False)
    control.put("/_sandbox/faults", json={"timeout_paths": [f"{CHANNEL}/heartbeat"]})
    with pytest.raises(httpx.ReadTimeout):
        vendor.http.post(f"{CHANNEL}/heartbeat", json={"sessionId": session_id}, timeout=0.5)
    assert vendor.channel("start", sessionId=session_id)["code"] == 0


def test_expired_token_fault_answers_401_until_reset(control: httpx.Client, vendor: Vendor) -> None:
    session_id = vendor.open_session()
    faults = control.put("/_sandbox/faults", json={"expired_token": True}).json()
    assert faults["expired_token"] is True and faults["latency_ms"] == 0
    response = vendor.http.post(f"{CHANNEL}/heartbeat", json={"sessionId": session_id})
    assert response.status_code == 401
    assert control.delete("/_sandbox/faults").json()["expired_token"] is False
    assert vendor.channel("heartbeat", sessionId=session_id)["code"] == 0


def test_faults_refuse_unknown_keys(control: httpx.Client) -> None:
    assert control.put("/_sandbox/faults", json={"latency": 5}).status_code == 400
    assert control.put("/_sandbox/faults", json={"error_rate": 2}).status_code == 400


def test_reset_forgets_sessions_but_keeps_accounts(control: httpx.Client, vendor: Vendor) -> None:
    session_id = vendor.open_session()
    control.post("/_sandbox/reset")
    assert control.get(f"/_sandbox/softsugar/sessions/{session_id}").status_code == 404
    tokens = [account["token"] for account in control.get("/_sandbox/softsugar/accounts").json()]
    assert vendor.token in tokens


def test_accounts_can_be_updated(control: httpx.Client, vendor: Vendor) -> None:
    control.put(
        f"/_sandbox/softsugar/accounts/{vendor.token}", json={"maxSessions": 2, "callbackUrl": "http://x/"}
    )
    account = next(
        a for a in control.get("/_sandbox/softsugar/accounts").json() if a["token"] == vendor.token
    )
    assert account == {
        "kind": "softsugar",
        "token": vendor.token,
        "callbackUrl": "http://x/",
        "maxSessions": 2,
        "openSessions": 0,
    }
    assert (
        control.put(f"/_sandbox/softsugar/accounts/{vendor.token}", json={"maxSessions": -1}).status_code
        == 400
    )


def test_inspection_shows_the_whole_session(control: httpx.Client, vendor: Vendor) -> None:
    session_id = vendor.open_session()
    vendor.channel("heartbeat", sessionId=session_id)
    state = vendor.inspect(session_id)
    expected = {
        "status",
        "createdAt",
        "heartbeats",
        "heartbeatTimes",
        "maxHeartbeatGap",
        "queue",
        "played",
        "mic",
    }
    assert expected <= set(state)
    assert state["status"] == 2 and state["heartbeats"] == 1
    assert control.get("/_sandbox/softsugar/sessions/nope").status_code == 404


def test_kill_can_report_an_exception_status(control: httpx.Client, vendor: Vendor) -> None:
    session_id = vendor.open_session()
    kill = f"/_sandbox/softsugar/sessions/{session_id}/kill"
    assert control.post(kill, json={"status": 99}).status_code == 409
    assert control.post(kill, json={"status": 9, "reason": "GPU lost"}).json() == {"ok": True, "status": 9}
    assert vendor.inspect(session_id)["taskResult"] == "GPU lost"


def test_monitor_speaks_the_script_sentence_by_sentence(control: httpx.Client, vendor: Vendor) -> None:
    control.put("/_sandbox/config", json={"speech_seconds_per_char": 0.03})
    session_id = vendor.open_session()
    view = vendor.monitor(session_id)
    assert view == {
        "status": 2,
        "anchor": "小李",
        "background": "背景",
        "backgroundUrl": "https://example.com/background.png",
        "subtitle": FIRST,
        "playing": "script",
    }
    wait_until(lambda: vendor.monitor(session_id)["subtitle"] == SECOND)
    wait_until(lambda: vendor.monitor(session_id)["subtitle"] == FIRST)  # recycle 0 loops


def test_monitor_stops_after_the_last_recycle(vendor: Vendor) -> None:
    session_id = vendor.open_session(live_script(recycle=1))
    wait_until(lambda: vendor.monitor(session_id)["playing"] is None)
    assert vendor.monitor(session_id)["subtitle"] == ""


def test_monitor_shows_the_takeover_and_its_background(control: httpx.Client, vendor: Vendor) -> None:
    control.put("/_sandbox/config", json={"speech_seconds_per_char": 0.2})
    session_id = vendor.open_session()
    param = {
        "tts_query": {"content": "Breaking news from the studio. More later."},
        "backgrounds": {
            "url": "https://example.com/news.png",
            "rect": [0, 0, 1080, 1920],
            "start": 0,
            "duration": -1,
        },
    }
    answer = vendor.post(
        "/api/2dvh/v2/material/live/channel/command", {"sessionId": session_id, "param": json.dumps(param)}
    )
    view = vendor.monitor(session_id)
    assert view["playing"] == answer["data"]["commandTraceId"]
    assert view["subtitle"] == "Breaking news from the studio."
    assert view["backgroundUrl"] == "https://example.com/news.png"


def test_monitor_of_a_closed_session_is_silent(vendor: Vendor) -> None:
    session_id = vendor.open_session()
    vendor.channel("close", sessionId=session_id)
    view = vendor.monitor(session_id)
    assert view["status"] == 5 and view["playing"] is None and view["subtitle"] == ""


def test_monitor_needs_the_owner_token(sandbox_url: str, vendor: Vendor) -> None:
    session_id = vendor.open_session()
    assert httpx.get(f"{sandbox_url}/_sandbox/softsugar/sessions/{session_id}/monitor").status_code == 401
    headers = {"Authorization": "Bearer preloaded-softsugar-token"}
    response = httpx.get(f"{sandbox_url}/_sandbox/softsugar/sessions/{session_id}/monitor", headers=headers)
    assert response.status_code == 404


async def _raw_posts(port: int, token: str, path: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep-alive HTTP/1.1 over plain asyncio streams: a light client, so the server is what is measured."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for body in bodies:
        payload = json.dumps(body).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: sandbox\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        )
        writer.write(head.encode() + payload)
        await writer.drain()
        headers = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in headers.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        answers.append(json.loads(await reader.readexactly(length)))
    writer.close()
    return answers


def test_three_thousand_heartbeats_with_latency_are_fast(sandbox_url: str, control: httpx.Client) -> None:
    port = int(sandbox_url.rsplit(":", 1)[1])
    bench = Vendor(sandbox_url, control, max_sessions=300)
    control.put("/_sandbox/config", json={"create_delay": 0})
    create = {"param": json.dumps(live_script())}

    async def run() -> float:
        made = await asyncio.gather(
            *(
                _raw_posts(port, bench.token, "/api/2dvh/v2/material/live/channel/create", [create] * 10)
                for _ in range(30)
            )
        )
        ids = [answer["data"]["sessionId"] for batch in made for answer in batch]
        await asyncio.to_thread(control.put, "/_sandbox/faults", json={"latency_ms": 50})
        started = time.monotonic()
        beats = [[{"sessionId": ids[(w * 10 + i) % 300]} for i in range(30)] for w in range(100)]
        answers = await asyncio.gather(
            *(_raw_posts(port, bench.token, f"{CHANNEL}/heartbeat", b) for b in beats)
        )
        elapsed = time.monotonic() - started
        assert all(answer["code"] == 0 for batch in answers for answer in batch)
        return elapsed

    elapsed = asyncio.run(run())
    assert elapsed < 20, f"3,000 heartbeats took {elapsed:.1f} s"
    gaps = control.get("/_sandbox/softsugar/heartbeat-gaps").json()
    assert sum(entry["count"] for entry in gaps.values()) == 3000
    bench.close()


def test_manage_py_run_sandbox_serves_the_same_app(tmp_path: Any) -> None:
    if not (ROOT / "manage.py").exists():
        pytest.skip("manage.py is not there yet")
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"kind": "softsugar", "token": "from-file", "maxSessions": 1}]))
    port = free_port()
    command = [sys.executable, "manage.py", "run_sandbox", "--port", str(port), "--accounts", str(accounts)]
    process = start_server(command, port)
    try:
        listed = httpx.get(f"http://127.0.0.1:{port}/_sandbox/softsugar/accounts").json()
        assert [account["token"] for account in listed] == ["from-file"]
    finally:
        stop_server(process)
