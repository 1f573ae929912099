"""Push-to-talk in a real browser: Chromium's fake microphone, held for 3 s, reaches the sandbox as
3 s of 16 kHz PCM (within 10%), through the AudioWorklet, the relay and the vendor socket."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from rooms.models import LiveSession
from rooms.platforms.base import LiveState
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.factories import RoomFactory, UserFactory
from tests.integration.helpers import wait_until

pytestmark = [pytest.mark.browser]

FAKE_MEDIA = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]
HOLD = 3.0


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """This module's Chromium has a fake microphone (a beeping tone) and grants it unasked."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *FAKE_MEDIA])
        yield chromium
        chromium.close()


def _mic(sandbox: httpx.Client, vendor_id: str) -> dict[str, Any]:
    return dict(sandbox.get(f"/_sandbox/softsugar/sessions/{vendor_id}").json()["mic"])


def _hold(page: Page, seconds: float) -> None:
    button = page.get_by_role("button", name="Hold to talk")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    time.sleep(seconds)
    page.mouse.up()
    expect(page.locator(".mic-status")).to_contain_text("Sent", timeout=10_000)


def _log_console(page: Page) -> list[str]:
    lines: list[str] = []
    page.on("console", lambda message: lines.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: lines.append(f"error: {error}"))
    return lines


def test_holding_the_button_sends_the_time_held_as_16_khz_pcm(
    pages: Any, softsugar_account: Any, sandbox_control: httpx.Client
) -> None:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.3}).raise_for_status()
    host = UserFactory(roles=["host"])
    room = RoomFactory(account=softsugar_account, hosts=[host])
    page = pages.logged_in(host.username)
    logged = _log_console(page)
    page.goto(f"/rooms/{room.pk}/")
    expect(page.locator("#link .label")).to_have_text("Live updates on")
    expect(page.locator(".mic-off")).to_be_visible()  # not live: no button yet

    page.get_by_role("button", name="Start live").click()
    expect(page.locator("#room-live")).to_have_attribute("data-state", "live", timeout=20_000)
    button = page.get_by_role("button", name="Hold to talk")
    expect(button).to_be_enabled()
    session = LiveSession.objects.get(room=room, state=LiveState.LIVE)
    vendor_id = session.vendor_session_id

    # The first hold asks for the microphone and opens the audio graph; the second starts at once.
    _hold(page, 0.6)
    first = wait_until(lambda: (m := _mic(sandbox_control, vendor_id))["openSockets"] == 0 and m, timeout=10)
    assert first["utterances"] == 1 and first["seconds"] > 0.2, first

    _hold(page, HOLD)
    expect(page.locator(".mic-meter")).to_have_attribute("aria-valuenow", "0")
    second = wait_until(
        lambda: (m := _mic(sandbox_control, vendor_id))["utterances"] == 2 and m["openSockets"] == 0 and m,
        timeout=10,
    )
    seconds = second["seconds"] - first["seconds"]
    print(f"held {HOLD:.1f} s; the sandbox counted {seconds:.3f} s of 16 kHz PCM")
    assert seconds == pytest.approx(HOLD, rel=0.10), (second, logged)
    assert second["refusedFrames"] == 0 and second["connections"] == 2
    assert second["bytes"] % 2 == 0


def test_the_level_meter_moves_while_talking_and_space_is_push_to_talk(
    pages: Any, softsugar_account: Any, sandbox_control: httpx.Client
) -> None:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.3}).raise_for_status()
    host = UserFactory(roles=["host"])
    room = RoomFactory(account=softsugar_account, hosts=[host])
    page = pages.logged_in(host.username)
    page.goto(f"/rooms/{room.pk}/")
    page.get_by_role("button", name="Start live").click()
    expect(page.locator("#room-live")).to_have_attribute("data-state", "live", timeout=20_000)
    page.evaluate(
        """() => {
          window.livedeckLevels = [];
          const meter = document.querySelector('.mic-meter');
          new MutationObserver(() => window.livedeckLevels.push(+meter.getAttribute('aria-valuenow')))
            .observe(meter, {attributes: true});
        }"""
    )
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.down("Space")
    expect(page.locator(".mic-status")).to_have_attribute("data-state", "talking", timeout=10_000)
    time.sleep(1.0)
    page.keyboard.up("Space")
    expect(page.locator(".mic-status")).to_contain_text("Sent", timeout=10_000)
    assert max(page.evaluate("window.livedeckLevels")) > 20  # the fake device beeps
    vendor_id = LiveSession.objects.get(room=room, state=LiveState.LIVE).vendor_session_id
    mic = wait_until(lambda: (m := _mic(sandbox_control, vendor_id))["utterances"] == 1 and m, timeout=10)
    assert mic["seconds"] > 0.5
