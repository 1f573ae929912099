"""A Guiji room from the console in a real browser: a host starts the live and sees it on air
with its play addresses, inserts a typed takeover into the playlist and sees it play, switches
the anchor, changes the background, and stops. The sandbox (the vendor) confirms each step."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from rooms.models import LiveSession
from takeovers.models import Takeover
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

BADGE = "#room-live .badge"
BACKGROUND = "https://assets.livedeck.local/backgrounds/night-market.png"


def _vendor(control: httpx.Client, session: LiveSession) -> dict[str, Any]:
    answer = control.get(f"/_sandbox/guiji/sessions/{session.vendor_session_id}")
    answer.raise_for_status()
    return dict(answer.json())


def test_a_host_runs_a_guiji_live_from_the_console(
    pages: Any, guiji_room: Any, guiji_host: Any, guiji_control: httpx.Client
) -> None:
    page = pages.logged_in(guiji_host.username)
    page.goto(f"/rooms/{guiji_room.pk}/")
    expect(page.locator("#link .label")).to_have_text("Live updates on")
    # Guiji has no separate warm-up, no SSML and no per-takeover overlays: the console does not offer them.
    expect(page.get_by_role("button", name="Warm up only")).to_have_count(0)
    expect(page.locator("input[name=kind][value=ssml]")).to_have_count(0)

    page.get_by_role("button", name="Start live").click()
    expect(page.locator(BADGE)).to_have_text("Live", timeout=30_000)
    session = LiveSession.objects.get(room=guiji_room, state="live")
    addresses = page.locator(".play-addresses")
    expect(addresses).to_contain_text("rtmp")
    expect(addresses).to_contain_text(session.vendor_data["playaddr"]["http-flv"]["wan"])

    # A typed takeover, played now: inserted into the playlist, cutting the script at a silence.
    text = "Welcome to the night market special, everything ships tomorrow."
    page.locator("#composer textarea[name=content]").fill(text)
    page.locator("#composer input[name=mode][value=now]").check()
    page.locator("#composer button[type=submit]").click()
    log_row = page.locator("#takeovers ol.log li", has_text="Welcome to the night market")
    expect(log_row.locator(".badge")).to_have_text("Done", timeout=30_000)
    takeover = Takeover.objects.get(session=session, content=text)
    played = [
        item for item in _vendor(guiji_control, session)["played"] if str(item["pcmId"]) == takeover.trace_id
    ]
    assert played, "the sandbox never played the takeover"

    # Switch the anchor to the room's second scene.
    second = guiji_room.scenes()[1]
    page.locator(".stage select[name=scene]").select_option(str(second.pk))
    page.get_by_role("button", name="Switch anchor").click()
    expect(page.locator(".stage-state")).to_contain_text(second.name, timeout=15_000)
    assert _vendor(guiji_control, session)["anchor"]["udCode"] == second.code

    # Change the background.
    page.locator(".stage input[name=url]").fill(BACKGROUND)
    page.get_by_role("button", name="Change background").click()
    expect(page.locator(".stage-state")).to_contain_text("night-market", timeout=15_000)
    layers = _vendor(guiji_control, session)["resList"]
    backgrounds = [layer for layer in layers if layer["resOptions"]["name"] == "background"]
    assert [layer["resOptions"]["url"] for layer in backgrounds] == [BACKGROUND]

    # Nothing the host did was refused, and nothing failed on the way (no toast).
    expect(page.locator("#toasts .toast")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop live").click()
    expect(page.locator(BADGE)).to_have_text("Ended", timeout=30_000)
    wait_until(lambda: _vendor(guiji_control, session)["state"] == "destroyed", timeout=10, what="destroyed")
