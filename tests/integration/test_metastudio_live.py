"""A MetaStudio live end to end over real sockets: daphne, the Celery worker and the sandbox's
MetaStudio platform, which signs the callbacks it sends. Audience events typed on the console
reach the platform in batches and its rules answer them; a callback LiveDeck cannot verify is
refused with 401 and changes nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from rooms.models import LiveSession
from rooms.platforms.metastudio_callbacks import callback_secret, hw_time
from tests.integration.helpers import csrf_post, login, room_action, wait_until

pytestmark = pytest.mark.usefixtures("transactional_db")


def _job(control: httpx.Client, session: LiveSession) -> dict[str, Any]:
    answer = control.get(f"/_sandbox/metastudio/jobs/{session.vendor_session_id}")
    answer.raise_for_status()
    return dict(answer.json())


def _live(room: Any) -> LiveSession:
    def live() -> LiveSession | None:
        session = LiveSession.objects.filter(room=room).order_by("-created_at").first()
        return session if session and session.state == "live" else None

    return wait_until(live, timeout=30, what="the MetaStudio live to be LIVE")


@pytest.fixture
def web(live_stack: Any, guiji_host: Any) -> Any:
    client = login(live_stack.web_urls[0], guiji_host.username)
    yield client
    client.close()


def test_comments_reach_the_platform_in_batches_and_its_rules_answer(
    live_stack: Any, metastudio_room: Any, web: httpx.Client, metastudio_control: httpx.Client
) -> None:
    assert room_action(web, metastudio_room.pk, "start").status_code == 204
    session = _live(metastudio_room)
    assert (
        session.vendor_data["live_id"]
        == metastudio_room.__class__.objects.get(pk=metastudio_room.pk).vendor_room_id
    )

    comments = ["hello there", "what is the price?", "nice shirt", "love it", "where do you ship?"]
    for text in comments:
        answer = csrf_post(
            web, f"/rooms/{metastudio_room.pk}/audience/", {"kind": "comment", "name": "ann", "text": text}
        )
        assert answer.status_code == 204, answer.text

    def reported() -> dict[str, Any] | None:
        job = _job(metastudio_control, session)
        return job if job["events"]["total"] == len(comments) else None

    job = wait_until(reported, timeout=15, what="the five comments on the platform")
    # Typed within a second, they went in fewer calls than comments.
    assert job["events"]["reports"] < len(comments)
    # The room's rule (REGEX "price") matched one and the platform replied on its own.
    assert len(job["rule_hits"]) == 1
    wait_until(
        lambda: any(
            "pinned link" in item["text"] for item in _job(metastudio_control, session)["played_inserts"]
        ),
        timeout=20,
        what="the rule's reply played",
    )
    assert room_action(web, metastudio_room.pk, "stop").status_code == 204


def test_a_callback_with_a_bad_signature_is_refused_and_changes_nothing(
    live_stack: Any, metastudio_room: Any, web: httpx.Client, metastudio_control: httpx.Client
) -> None:
    assert room_action(web, metastudio_room.pk, "start").status_code == 204
    session = _live(metastudio_room)
    account = metastudio_room.account
    url = f"{live_stack.web_urls[0]}{account.callback_path()}"
    message = {"room_id": session.vendor_data["live_id"], "job_id": session.vendor_session_id}
    message |= {"scene_script_name": "x", "shoot_script_sequence_no": "2", "shoot_script_title": "Forged"}
    body = json.dumps({"event_type": "SHOOT_SCRIPT_SWITCH", "message": json.dumps(message)})
    sent = hw_time(time.time())
    host = url.split("://", 1)[1].split("/", 1)[0]
    uri = f"{host}{account.callback_path()}"
    good = callback_secret(account.credential("callback_secret"), uri, sent)
    headers = {"Content-Type": "application/json", "x-hw-mss-time": sent}

    forged = httpx.post(url, content=body, headers=headers | {"x-hw-mss-secret": "0" * 64})
    unsigned = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
    stale_time = hw_time(time.time() - 600)
    stale = httpx.post(
        url,
        content=body,
        headers={
            "x-hw-mss-time": stale_time,
            "x-hw-mss-secret": callback_secret(account.credential("callback_secret"), uri, stale_time),
        },
    )

    assert (forged.status_code, unsigned.status_code, stale.status_code) == (401, 401, 401)
    session.refresh_from_db()
    assert session.vendor_data.get("paragraph", {}).get("shoot_script_title") != "Forged"
    # Signed with the account's key, it is applied once; the same pair again is a replay.
    accepted = httpx.post(url, content=body, headers=headers | {"x-hw-mss-secret": good})
    replayed = httpx.post(url, content=body, headers=headers | {"x-hw-mss-secret": good})
    assert (accepted.status_code, replayed.status_code) == (200, 401)
    assert room_action(web, metastudio_room.pk, "stop").status_code == 204


def test_queued_replies_wait_their_turn_and_cancel_all_clears_them(
    live_stack: Any, metastudio_room: Any, web: httpx.Client, metastudio_control: httpx.Client
) -> None:
    # Paragraphs spoken slowly, so the replies wait behind the sentence on air.
    metastudio_control.put("/_sandbox/config", json={"speech_seconds_per_char": 0.3}).raise_for_status()
    assert room_action(web, metastudio_room.pk, "start").status_code == 204
    session = _live(metastudio_room)
    texts = ["The first reply waits for the sentence to end.", "The second reply waits behind the first."]
    for text in texts:
        answer = csrf_post(
            web, f"/rooms/{metastudio_room.pk}/takeovers/", {"kind": "text", "content": text, "mode": "queue"}
        )
        assert answer.status_code == 204, answer.text
    audio = "https://assets.example.com/audio/jingle.mp3#duration=4"
    answer = csrf_post(
        web, f"/rooms/{metastudio_room.pk}/takeovers/", {"kind": "audio", "audio_url": audio, "mode": "queue"}
    )
    assert answer.status_code == 204, answer.text

    queued = wait_until(
        lambda: (
            (job := _job(metastudio_control, session))["insert_queue"]
            and len(job["insert_queue"]) == 3
            and job
        ),
        timeout=15,
        what="three inserts queued on the platform",
    )
    assert [item["command"] for item in queued["insert_queue"]] == [
        "INSERT_PLAY_SCRIPT",
        "INSERT_PLAY_SCRIPT",
        "INSERT_PLAY_AUDIO",
    ]
    assert csrf_post(web, f"/rooms/{metastudio_room.pk}/takeovers/cancel/").status_code == 204

    wait_until(
        lambda: not _job(metastudio_control, session)["insert_queue"], timeout=15, what="the queue cleared"
    )
    wait_until(
        lambda: set(session.takeovers.values_list("state", flat=True)) == {"cancelled"},
        timeout=15,
        what="every reply cancelled on the console",
    )
    # The platform dropped all three before any was spoken.
    assert {item["outcome"] for item in _job(metastudio_control, session)["played_inserts"]} == {"cleaned up"}
    assert room_action(web, metastudio_room.pk, "stop").status_code == 204
