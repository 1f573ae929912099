"""The room console in a real browser: a host starts, watches and stops a live without reloading,
a second host on the same room sees every change, and a host without the room is kept out."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.factories import RoomFactory, UserFactory
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.browser]

BADGE = "#room-live .badge"


# Every state the badge shows, in order, however briefly: a short state (CREATING) cannot slip
# between two polls of the test.
RECORD_STATES = """
() => {
  window.livedeckStates = [];
  const record = () => {
    const badge = document.querySelector("#room-live .badge");
    const state = badge && badge.dataset.state;
    if (state && window.livedeckStates[window.livedeckStates.length - 1] !== state) {
      window.livedeckStates.push(state);
    }
  };
  record();
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, attributes: true});
}
"""


def _open_console(page: Page, room: Any) -> None:
    """From the rooms list to the room's console, with its live link up."""
    page.locator(f'article[data-room="{room.pk}"]').get_by_role("link", name="Open console").click()
    page.wait_for_url(f"**/rooms/{room.pk}/")
    expect(page.locator("#link .label")).to_have_text("Live updates on")
    # Gone if the page ever reloads: every change below must arrive over the WebSocket.
    page.evaluate(RECORD_STATES)


def _states(page: Page) -> list[str]:
    states = page.evaluate("window.livedeckStates")
    assert states is not None, "the console reloaded"
    return list(states)


def _expect_state(state: str, *pages: Page, timeout: float = 20_000) -> None:
    for page in pages:
        expect(page.locator(BADGE)).to_have_attribute("data-state", state, timeout=timeout)


def _sent(page: Page) -> int:
    return int(page.locator("#room-live .heartbeats-sent").inner_text())


def _stop(page: Page) -> str:
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Stop live").click()
    wait_until(lambda: asked, timeout=10, what="the confirm dialog")
    return asked[0]


def test_hosts_run_a_live_from_the_console_and_both_see_it_change(
    pages: Any, softsugar_account: Any, sandbox_control: httpx.Client
) -> None:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 1.0}).raise_for_status()
    first, second = UserFactory(roles=["host"]), UserFactory(roles=["host"])
    room = RoomFactory(account=softsugar_account, hosts=[first, second])
    driving, watching = pages.logged_in(first.username), pages.logged_in(second.username)
    for page in (driving, watching):
        _open_console(page, room)
    _expect_state("idle", driving, watching)

    # Warm up, then go live: READY holds until the host says so.
    driving.get_by_role("button", name="Warm up only").click()
    _expect_state("ready", driving, watching)
    expect(watching.get_by_role("button", name="Go live")).to_be_visible()
    driving.get_by_role("button", name="Go live").click()
    _expect_state("live", driving, watching)
    expect(driving.locator(BADGE)).to_have_text("Live")

    sent = _sent(driving)
    wait_until(lambda: _sent(driving) > sent and _sent(watching) > sent, timeout=20, what="more heartbeats")

    assert _stop(driving) == "Stop the live for every viewer?"
    _expect_state("ended", driving, watching)
    expect(watching.get_by_role("button", name="Start live")).to_be_visible()

    # Start live goes all the way to LIVE on its own.
    driving.get_by_role("button", name="Start live").click()
    _expect_state("live", driving, watching)
    _stop(watching)
    _expect_state("ended", driving, watching)

    for page in (driving, watching):
        states = _states(page)
        assert states[:5] == ["idle", "creating", "ready", "live", "ended"], states
        assert states[5] == "creating" and states[-2:] == ["live", "ended"], states


WS_OUTCOME = """
async (path) => await new Promise((resolve) => {
  const socket = new WebSocket(`ws://${location.host}${path}`);
  socket.onopen = () => { resolve("open"); socket.close(); };
  socket.onerror = () => resolve("refused");
  socket.onclose = () => resolve("refused");
  setTimeout(() => resolve("no answer"), 10000);
})
"""


def test_a_host_not_granted_the_room_gets_404_and_no_websocket(
    transactional_db: None, pages: Any, live_stack: Any
) -> None:
    owner, outsider = UserFactory(roles=["host"]), UserFactory(roles=["host"])
    theirs = RoomFactory(hosts=[owner])
    mine = RoomFactory(hosts=[outsider])
    page = pages.logged_in(outsider.username)

    expect(page.locator(f'article[data-room="{mine.pk}"]')).to_be_visible()
    expect(page.locator(f'article[data-room="{theirs.pk}"]')).to_have_count(0)

    answer = page.goto(f"/rooms/{theirs.pk}/")
    assert answer is not None and answer.status == 404
    page.goto("/")
    assert page.evaluate(WS_OUTCOME, f"/ws/rooms/{mine.pk}/") == "open"
    assert page.evaluate(WS_OUTCOME, f"/ws/rooms/{theirs.pk}/") == "refused"
