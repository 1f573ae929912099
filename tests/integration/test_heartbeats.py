"""Heartbeats keep a live session alive on the vendor; when they fail the console says so, and
when they stop the vendor drops the session and every console is told why."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from tests.integration.conftest import open_session
from tests.integration.helpers import ConsoleSocket, room_action, sandbox_session, state_of

pytestmark = [pytest.mark.integration]

# Seconds without a heartbeat before the sandbox drops a session (status 50). The live stack
# sends one every 2 s, so a gap this long only happens when heartbeats stop.
THRESHOLD = 4.0


def _numbers(label: str, html: str) -> list[int]:
    return [int(n) for n in re.findall(rf"<dt>{label}</dt><dd[^>]*>(\d+)</dd>", html)]


def _sent(html: str) -> int:
    return max(_numbers("Sent", html), default=-1)


def _failures(html: str) -> int:
    return max(_numbers("Failures in a row", html), default=-1)


def _go_live(room: Any, web: httpx.Client, console: ConsoleSocket, sandbox: httpx.Client) -> Any:
    sandbox.put("/_sandbox/config", json={"create_delay": 0.3, "heartbeat_threshold": THRESHOLD})
    assert room_action(web, room.pk, "start").status_code == 204
    console.wait_for_state("live", timeout=20)
    return open_session(room)


def test_failing_heartbeats_put_the_console_at_risk_until_they_succeed_again(
    room: Any, web: httpx.Client, console: ConsoleSocket, sandbox_control: httpx.Client
) -> None:
    session = _go_live(room, web, console, sandbox_control)
    # A long threshold: this test is about failures LiveDeck sees, not the vendor dropping.
    sandbox_control.put("/_sandbox/config", json={"heartbeat_threshold": 120}).raise_for_status()
    console.wait_for(lambda html: _sent(html) >= 1, timeout=15, what="a first heartbeat")

    sandbox_control.put("/_sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    html = console.wait_for(lambda html: "At risk" in html, timeout=20, what="the At risk warning")

    assert state_of(html) == "live"
    assert "at-risk" in html  # the badge is marked too
    failures = [_failures(pushed) for pushed in console.messages]
    assert {1, 2, 3} <= set(failures), f"failures did not climb one by one: {failures}"
    session.refresh_from_db()
    assert session.state == "live"
    assert session.heartbeat_failures >= 3
    assert not session.last_heartbeat_ok
    assert "503" in session.last_heartbeat_error

    sandbox_control.delete("/_sandbox/faults").raise_for_status()
    html = console.wait_for(
        lambda html: _failures(html) == 0 and "At risk" not in html, timeout=15, what="recovery"
    )
    assert state_of(html) == "live"


def test_heartbeats_keep_a_session_live_past_the_threshold_and_it_drops_when_they_stop(
    live_stack: Any, room: Any, web: httpx.Client, console: ConsoleSocket, sandbox_control: httpx.Client
) -> None:
    session = _go_live(room, web, console, sandbox_control)

    # Three times the threshold: only heartbeats can keep the sandbox from dropping it.
    live_until = time.monotonic() + 3 * THRESHOLD
    while time.monotonic() < live_until:
        assert sandbox_session(sandbox_control, session.vendor_session_id)["status"] == 2
        time.sleep(1.0)
    seen = sandbox_session(sandbox_control, session.vendor_session_id)
    assert seen["status"] == 2
    assert seen["heartbeats"] >= 4
    assert 0 < seen["maxHeartbeatGap"] < THRESHOLD
    html = console.wait_for(lambda html: _sent(html) >= 4, timeout=10, what="a Sent count of 4")
    assert state_of(html) == "live"
    sent = [_sent(pushed) for pushed in console.messages if _sent(pushed) >= 0]
    assert sent == sorted(sent) and len(set(sent)) >= 4, f"the console's Sent count did not climb: {sent}"
    session.refresh_from_db()
    assert session.state == "live" and session.heartbeats_sent >= 4 and session.heartbeat_failures == 0

    workers = [p for p in live_stack.procs if p.poll() is None and " worker " in f" {' '.join(p.args)} "]
    assert workers, "the live stack has no worker running"
    try:
        for worker in workers:
            live_stack.kill(worker)
        html = console.wait_for_state("dropped", timeout=THRESHOLD + 20)
        assert "heartbeat lost" in html
        session.refresh_from_db()
        assert (session.state, session.vendor_code) == ("dropped", "50")
        assert f"heartbeat lost for more than {THRESHOLD:g} seconds" in session.reason
        assert sandbox_session(sandbox_control, session.vendor_session_id)["status"] == 50
    finally:
        live_stack.start_worker()
