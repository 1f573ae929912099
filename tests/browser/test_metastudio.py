"""A MetaStudio room from the console in a real browser: a host starts the live and sees the
script's paragraphs play, inserts a takeover, moves the RTMP output, rewrites a paragraph not
yet spoken and hears the sandbox speak the new words, and stops. Every step is confirmed by the
platform's signed callbacks reaching LiveDeck, and checked on the sandbox (the vendor)."""

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
NEW_WORDS = "And finally, the linen shirt comes in a brand new colour tonight."


def _job(control: httpx.Client, session: LiveSession) -> dict[str, Any]:
    answer = control.get(f"/_sandbox/metastudio/jobs/{session.vendor_session_id}")
    answer.raise_for_status()
    return dict(answer.json())


def test_a_host_runs_a_metastudio_live_from_the_console(
    pages: Any, metastudio_room: Any, guiji_host: Any, metastudio_control: httpx.Client
) -> None:
    # Paragraphs of ~30 characters take ~3 s: time to rewrite the third before the avatar gets there.
    metastudio_control.put("/_sandbox/config", json={"speech_seconds_per_char": 0.1}).raise_for_status()
    page = pages.logged_in(guiji_host.username)
    page.goto(f"/rooms/{metastudio_room.pk}/")
    expect(page.locator("#link .label")).to_have_text("Live updates on")
    # MetaStudio can only clear every inserted reply: no reordering, no quick replies, no mic.
    expect(page.locator("#mic")).to_have_count(0)

    page.get_by_role("button", name="Start live").click()
    expect(page.locator(BADGE)).to_have_text("Live", timeout=30_000)
    session = LiveSession.objects.get(room=metastudio_room, state="live")

    # Rewrite the third paragraph while the first is spoken.
    third = metastudio_room.script.paragraphs.all()[2]
    rewrite = page.locator("form.rewrite")
    rewrite.locator("select[name=paragraph]").select_option(str(third.pk))
    expect(rewrite.locator("textarea[name=text]")).to_have_value(third.text)
    rewrite.locator("textarea[name=text]").fill(NEW_WORDS)
    rewrite.get_by_role("button", name="Save and send to the live").click()
    expect(page.locator("#toasts .toast")).to_contain_text("Saved")

    # The platform reports each paragraph it switches to (signed SHOOT_SCRIPT_SWITCH callbacks).
    expect(page.locator(".paragraphs li.playing")).to_have_count(1, timeout=15_000)
    # ... and speaks the new words when it reaches the third: the program monitor shows them.
    expect(page.locator("#preview .subtitle")).to_contain_text("brand new colour", timeout=30_000)
    expect(page.locator(".paragraphs li").nth(2)).to_contain_text("brand new colour")

    # A typed takeover: inserted, played, and reported finished (REPLY_COMMAND_FINISH).
    text = "Thanks for joining, the discount code is LIVE10 for the next hour."
    page.locator("#composer textarea[name=content]").fill(text)
    page.locator("#composer input[name=mode][value=now]").check()
    page.locator("#composer button[type=submit]").click()
    log_row = page.locator("#takeovers ol.log li", has_text="the discount code is LIVE10")
    expect(log_row.locator(".badge")).to_have_text("Done", timeout=30_000)
    takeover = Takeover.objects.get(session=session, content=text)
    played = [item["command_id"] for item in _job(metastudio_control, session)["played_inserts"]]
    assert takeover.trace_id in played

    # Move the RTMP output during the live (RTMP_STREAM_STATE_CHANGE callbacks show the links).
    output = page.locator("form.output")
    output.locator("input[name=url]").fill("rtmp://backup.example.com/live")
    output.locator("input[name=stream_key]").fill("second-key")
    output.get_by_role("button", name="Change the output").click()
    links = page.locator(".show-state")
    expect(links).to_contain_text("rtmp://backup.example.com/live", timeout=15_000)
    expect(links.locator("div", has_text="backup.example.com")).to_contain_text("connected")
    outputs = _job(metastudio_control, session)["outputs"]
    assert [item["output_url"] for item in outputs] == ["rtmp://backup.example.com/live"]

    # Nothing the host did was refused (the only toast was the rewrite's).
    expect(page.locator("#toasts .toast", has_text="refused")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop live").click()
    expect(page.locator(BADGE)).to_have_text("Ended", timeout=30_000)
    wait_until(
        lambda: _job(metastudio_control, session)["state"] == "SUCCEED", timeout=10, what="job stopped"
    )
