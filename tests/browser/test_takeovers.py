"""Takeovers from the room console in a real browser: a host sends text, watches it play through,
reorders and cancels the queue by hand, fires quick replies and plays Q&A answers, and the
sandbox (the vendor) holds what the console shows. No page is reloaded on the way."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from rooms.models import LiveSession
from takeovers.models import Takeover
from tests.factories import RoomFactory, ScriptFactory, UserFactory
from tests.integration.helpers import sandbox_session, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

BADGE = "#room-live .badge"
QUEUE = "#takeovers ol.queue li.takeover"
LOG = "#takeovers ol.log li"
# Spoken fast, so a short takeover plays through in about a second.
FAST = {"speech_seconds_per_char": 0.03, "min_sentence_seconds": 0.5}

# Every state each takeover's row shows, queue and log alike, keyed by the text it shows; a
# MutationObserver sees states too short for a poll. Gone if the page reloads.
RECORD_TAKEOVERS = """
() => {
  window.livedeckTakeovers = {};
  const record = () => {
    document.querySelectorAll("#takeovers li").forEach((li) => {
      const what = li.querySelector(".what");
      const found = /\\bstate-([a-z]+)/.exec(li.className);
      if (!what || !found) return;
      const key = what.firstChild ? what.firstChild.textContent.trim() : "";
      const seen = (window.livedeckTakeovers[key] = window.livedeckTakeovers[key] || []);
      if (seen[seen.length - 1] !== found[1]) seen.push(found[1]);
    });
  };
  record();
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, attributes: true});
}
"""

SETTLED = ["playing", "queued", "queued", "queued"]
RANK = {"pending": 0, "sent": 1, "queueing": 2, "queued": 3, "playing": 4, "done": 5, "cancelled": 5}


def _live_room(softsugar_account: Any, *hosts: Any) -> Any:
    script = ScriptFactory(quick_replies="Reply one is here\nReply two is here")
    return RoomFactory(
        account=softsugar_account,
        hosts=list(hosts),
        live_type="interactive",
        qa_library="demo-qa",
        script=script,
    )


def _open_console(page: Page, room: Any) -> None:
    page.goto(f"/rooms/{room.pk}/")
    expect(page.locator("#link .label")).to_have_text("Live updates on")
    page.evaluate(RECORD_TAKEOVERS)


def _go_live(page: Page, room: Any) -> LiveSession:
    page.get_by_role("button", name="Start live").click()
    expect(page.locator(BADGE)).to_have_attribute("data-state", "live", timeout=20_000)
    return LiveSession.objects.filter(room=room).open().get()


def _recorded(page: Page, text: str) -> list[str]:
    seen = page.evaluate("window.livedeckTakeovers")
    assert seen is not None, "the console reloaded"
    return list(seen.get(text, []))


def _send(page: Page, text: str, *, now: bool = False) -> None:
    composer = page.locator("#composer")
    composer.locator("textarea[name=content]").fill(text)
    if now:
        composer.get_by_label("Play now").check()
    composer.get_by_role("button", name="Send takeover").click()
    # The composer is reset once the server took it.
    expect(composer.locator("textarea[name=content]")).to_have_value("", timeout=10_000)


def _vendor(sandbox: httpx.Client, session: LiveSession) -> dict[str, Any]:
    return sandbox_session(sandbox, session.vendor_session_id)


def _vendor_queue(sandbox: httpx.Client, session: LiveSession) -> list[str]:
    return [item["commandTraceId"] for item in _vendor(sandbox, session)["queue"]]


def _trace(text: str) -> str:
    trace_id = wait_until(
        lambda: (
            Takeover.objects.filter(content=text)
            .exclude(trace_id="")
            .values_list("trace_id", flat=True)
            .first()
        ),
        timeout=10,
        what=f"a trace id for {text!r}",
    )
    return str(trace_id)


def _console_ids(page: Page) -> list[int]:
    return [int(x) for x in page.locator(QUEUE).evaluate_all("(rows) => rows.map((row) => row.dataset.id)")]


def _box(locator: Any) -> dict[str, float]:
    """Where an element is; None while a push is replacing it, so asked again."""
    return wait_until(locator.bounding_box, timeout=5, interval=0.05, what="a row on screen")


def _console_rows(page: Page) -> list[tuple[int, str]]:
    rows = page.locator(QUEUE).evaluate_all(
        "(rows) => rows.map((row) => [row.dataset.id, row.dataset.state])"
    )
    return [(int(pk), state) for pk, state in rows]


def _drag(page: Page, source: Any, target: Any) -> None:
    """Grab `source`'s handle and drop it on the top half of `target`, moving in steps and
    pausing on the way, as a hand does (SortableJS ignores rows still sliding into place)."""
    grip, box = _box(source.locator(".grip")), _box(target)
    page.mouse.move(grip["x"] + grip["width"] / 2, grip["y"] + grip["height"] / 2)
    page.mouse.down()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.3
    page.mouse.move(x, (grip["y"] + y) / 2, steps=8)
    page.wait_for_timeout(250)
    page.mouse.move(x, y, steps=8)
    page.wait_for_timeout(250)
    page.mouse.move(x, y - 2, steps=2)
    page.wait_for_timeout(250)
    page.mouse.up()


def test_a_text_takeover_plays_through_and_a_short_one_is_refused(
    pages: Any, softsugar_account: Any, sandbox_control: httpx.Client
) -> None:
    # About 5 s of speech, longer than the 2 s between heartbeat pushes: a push rendered before
    # the takeover started playing may reach the console after the one saying it plays.
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.2, "speech_seconds_per_char": 0.1})
    host = UserFactory(roles=["host"])
    room = _live_room(softsugar_account, host)
    page = pages.logged_in(host.username)
    _open_console(page, room)
    session = _go_live(page, room)

    # Nine characters: refused in words, nothing stored, nothing sent to the vendor.
    page.locator("#composer textarea[name=content]").fill("Too short")
    page.locator("#composer").get_by_role("button", name="Send takeover").click()
    expect(page.locator("#toasts .toast")).to_contain_text("at least 10 characters")
    assert not Takeover.objects.filter(session=session).exists()
    vendor = _vendor(sandbox_control, session)
    assert vendor["queue"] == [] and vendor["played"] == []
    expect(page.locator(QUEUE)).to_have_count(0)

    text = "Welcome to the show, everyone watching tonight!"
    _send(page, text)
    done = page.locator(LOG).filter(has_text=text)
    expect(done.locator(".badge")).to_have_text("Done", timeout=20_000)
    expect(page.locator(QUEUE)).to_have_count(0)

    states = [state for state in _recorded(page, text) if state in ("queued", "playing", "done")]
    assert states[-2:] == ["playing", "done"], states
    assert states == sorted(states, key=RANK.__getitem__), states
    played = _vendor(sandbox_control, session)["played"]
    assert [item["text"] for item in played] == [text]
    assert played[0]["outcome"] == "finished"


def test_hosts_reorder_and_cancel_the_queue_as_the_vendor_holds_it(
    pages: Any, softsugar_account: Any, sandbox_control: httpx.Client
) -> None:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.2}).raise_for_status()
    host, other = UserFactory(roles=["host"]), UserFactory(roles=["host"])
    room = _live_room(softsugar_account, host, other)
    page, watching = pages.logged_in(host.username), pages.logged_in(other.username)
    _open_console(page, room)
    _open_console(watching, room)
    session = _go_live(page, room)

    # At 0.2 s a character the first one plays for about 30 s: the others wait behind it.
    playing = (
        "This takeover plays for a long while, about half a minute, so that the takeovers queued "
        "behind it stay put while the host drags and cancels them."
    )
    waiting = ["First waiting takeover", "Second waiting takeover", "Third waiting takeover"]
    # One at a time, each once the vendor has the one before: sends are not ordered among
    # themselves (two worker processes may send two takeovers at once).
    traces: dict[str, str] = {}
    for text in [playing, *waiting]:
        _send(page, text)
        traces[text] = _trace(text)
        wait_until(
            lambda: _vendor_queue(sandbox_control, session) == list(traces.values()),
            timeout=10,
            what=f"{len(traces)} takeovers in the vendor's queue",
        )
    ids = {text: Takeover.objects.get(trace_id=trace_id).pk for text, trace_id in traces.items()}
    # Both consoles show the vendor's order, none of them still pending (a push rendered before
    # the send may land after it; the next one puts it right).
    for console in (page, watching):
        wait_until(
            lambda c=console: _console_rows(c) == [(ids[t], s) for t, s in zip(traces, SETTLED, strict=True)],
            timeout=10,
            what="the four takeovers on the console",
        )
    rows = page.locator(QUEUE)
    expect(rows.first.locator(".badge")).to_have_text("Playing")

    # Drag the third waiting one to the top of those waiting: the vendor moves it right after
    # the one playing, and both consoles show the vendor's order.
    third, first = rows.filter(has_text=waiting[2]), rows.filter(has_text=waiting[0])
    _drag(page, third, first)
    moved = [playing, waiting[2], waiting[0], waiting[1]]
    wait_until(
        lambda: _vendor_queue(sandbox_control, session) == [traces[t] for t in moved],
        timeout=10,
        what="the vendor's queue in the dragged order",
    )
    for console in (page, watching):
        wait_until(
            lambda c=console: _console_ids(c) == [ids[t] for t in moved], timeout=10, what="moved order"
        )

    # Cancel one: gone from the queue here, there and on the vendor.
    page.locator(f'{QUEUE}[data-id="{ids[waiting[0]]}"]').get_by_role("button", name="Cancel").click()
    left = [playing, waiting[2], waiting[1]]
    for console in (page, watching):
        wait_until(
            lambda c=console: _console_ids(c) == [ids[t] for t in left], timeout=10, what="one cancelled"
        )
    assert _vendor_queue(sandbox_control, session) == [traces[t] for t in left]
    cancelled = {item["commandTraceId"]: item for item in _vendor(sandbox_control, session)["played"]}
    assert cancelled[traces[waiting[0]]]["outcome"] == "cancelled"
    expect(page.locator(LOG).filter(has_text=waiting[0]).locator(".badge")).to_have_text("Cancelled")

    # Cancel all (after the confirm): both queues empty, the avatar back on its script.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#takeovers").get_by_role("button", name="Cancel all").click()
    for console in (page, watching):
        expect(console.locator(QUEUE)).to_have_count(0)
        expect(console.locator("#takeovers ol.queue li.empty")).to_be_visible()
    wait_until(
        lambda: _vendor_queue(sandbox_control, session) == [], timeout=10, what="an empty vendor queue"
    )
    outcomes = {
        item["commandTraceId"]: item["outcome"] for item in _vendor(sandbox_control, session)["played"]
    }
    assert {outcomes[traces[t]] for t in left} == {"cancelled"}
    assert _recorded(page, waiting[2])[-1] == "cancelled"


def test_quick_replies_and_qa_answers_play_and_show_in_the_log(
    pages: Any, softsugar_account: Any, sandbox_control: httpx.Client
) -> None:
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.2, **FAST}).raise_for_status()
    host = UserFactory(roles=["host"])
    room = _live_room(softsugar_account, host)
    page = pages.logged_in(host.username)
    _open_console(page, room)
    session = _go_live(page, room)

    page.get_by_role("button", name="1. Reply one is here").click()
    reply = page.locator(LOG).filter(has_text="Quick reply 1: Reply one is here")
    expect(reply.locator(".badge")).to_have_text("Done", timeout=20_000)
    played = _vendor(sandbox_control, session)["played"]
    assert [(item["source"], item["text"]) for item in played] == [("quick", "Reply one is here")]

    ask = page.locator("form", has=page.locator("input[name=question]"))
    ask.locator("input[name=question]").fill("How much is shipping?")
    ask.get_by_role("button", name="Ask").click()
    answer = "Shipping is free on every order."
    expect(page.locator("#qa-answer blockquote.answer")).to_have_text(answer)
    page.locator("#qa-answer").get_by_role("button", name="Play answer now").click()
    row = page.locator(LOG).filter(has_text=answer)
    expect(row.locator(".badge")).to_have_text("Done", timeout=20_000)
    expect(row.locator(".tag")).to_have_text("Q&A")
    takeover = Takeover.objects.get(session=session, content=answer)
    assert takeover.source == Takeover.Source.QA and takeover.interrupt
    assert [item["text"] for item in _vendor(sandbox_control, session)["played"]][-1] == answer
