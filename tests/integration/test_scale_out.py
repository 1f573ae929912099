"""Several daphne processes and workers behind one Redis: a console connected to one web process
sees what a host did through another, because every change goes through the channel layer."""

from __future__ import annotations

import copy
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from tests.conftest import LIVE_ENV, provision_softsugar
from tests.factories import RoomFactory, UserFactory
from tests.integration.helpers import ConsoleSocket, login, room_action, state_of, wait_until
from tests.stack import Stack

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def two_of_each(
    django_db_setup: Any, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Two daphne and two Celery workers on a Redis of their own and the test database."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {**LIVE_ENV, "SANDBOX_URL": sandbox_url}
    if db["ENGINE"] == "config.sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    with Stack(Path(tmp_path_factory.mktemp("scale-out")), env=env) as stack:
        stack.sandbox_url = sandbox_url
        stack.start_redis()
        stack.start_web()
        stack.start_web()
        stack.start_worker(name="worker-a")
        stack.start_worker(name="worker-b")
        yield stack


def test_console_on_one_web_process_sees_a_start_served_by_another(
    transactional_db: None, two_of_each: Stack, sandbox_control: httpx.Client
) -> None:
    from rooms.models import PlatformAccount

    web_a, web_b = two_of_each.web_urls
    account = PlatformAccount.objects.create(
        name=f"Sandbox SoftSugar {secrets.token_hex(3)}",
        kind="softsugar",
        base_url=two_of_each.sandbox_url,
        sandbox=True,
        credentials={"token": secrets.token_urlsafe(16)},
    )
    provision_softsugar(
        two_of_each.sandbox_url, account.credential("token"), f"{web_a}{account.callback_path()}"
    )
    sandbox_control.put("/_sandbox/config", json={"create_delay": 0.5}).raise_for_status()
    host = UserFactory(roles=["host"])
    room = RoomFactory(account=account, hosts=[host])

    on_a = login(web_a, host.username)
    with closing(on_a), ConsoleSocket(web_b, room.pk, on_a.cookies["sessionid"]) as on_b:
        first = on_b.wait_for(lambda html: 'id="room-live"' in html, timeout=10, what="the first fragment")
        assert state_of(first) == "idle"

        started = room_action(on_a, room.pk, "start")
        assert started.status_code == 204, started.text

        # Pushed by daphne A while it served the POST, delivered by daphne B.
        on_b.wait_for_state("creating", timeout=10)
        on_b.wait_for_state("live", timeout=20)

        stopped = room_action(on_a, room.pk, "stop")
        assert stopped.status_code == 204, stopped.text
        on_b.wait_for_state("ended", timeout=20)


SENT = re.compile(r'<dd class="heartbeats-sent">(\d+)</dd>')


def _sent(html: str) -> int:
    found = SENT.search(html)
    return int(found.group(1)) if found else -1


def test_heartbeats_reach_consoles_on_either_web_process_and_unwatched_rooms_are_not_rendered(
    transactional_db: None,
    two_of_each: Stack,
    live_stack: Stack,
    sandbox_control: httpx.Client,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rooms import fragments, services
    from rooms.models import LiveSession, PlatformAccount
    from rooms.platforms import call
    from rooms.platforms.base import LiveState

    # This process is the worker, on the scale-out stack's Redis. The live stack's beat would
    # send these sessions' heartbeats itself (the database is shared): it stops for the test.
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"] = [two_of_each.redis_url]
    settings.CHANNEL_LAYERS = layers
    beat = next(proc for proc in live_stack.procs if proc.poll() is None and " beat " in f" {_argv(proc)} ")
    live_stack.kill(beat, signal.SIGTERM)
    try:
        time.sleep(1)  # a heartbeat task the beat already queued has run
        web_a, web_b = two_of_each.web_urls
        token = secrets.token_urlsafe(16)
        account = PlatformAccount.objects.create(
            name=f"Sandbox SoftSugar {secrets.token_hex(3)}",
            kind="softsugar",
            base_url=two_of_each.sandbox_url,
            sandbox=True,
            credentials={"token": token},
        )
        provision_softsugar(two_of_each.sandbox_url, token, "")
        host = UserFactory(roles=["host"])
        rooms = [RoomFactory(account=account, hosts=[host]) for _ in range(3)]
        for room in rooms:
            session = LiveSession.objects.create(room=room, account=account, state=LiveState.CREATING)
            info = call(
                account, lambda driver, room=room, session=session: driver.open_session(room, session)
            )
            LiveSession.objects.filter(pk=session.pk).update(
                vendor_session_id=info.vendor_session_id, state=LiveState.LIVE
            )
        rendered: list[int] = []
        render = fragments.room_live_html

        def recording(room: Any, session: Any) -> str:
            rendered.append(room.pk)
            return render(room, session)

        monkeypatch.setattr("rooms.fragments.room_live_html", recording)

        def beat_once() -> None:
            rendered.clear()
            LiveSession.objects.filter(room__in=rooms).update(next_heartbeat_at=timezone.now())
            assert services.heartbeats_send_due().sent == 3

        watched, also_watched, unwatched = rooms
        browser = login(web_a, host.username)
        cookie = browser.cookies["sessionid"]
        with closing(browser), ConsoleSocket(web_a, watched.pk, cookie) as on_a:
            with ConsoleSocket(web_b, also_watched.pk, cookie) as on_b:
                for console in (on_a, on_b):
                    console.wait_for(lambda html: _sent(html) == 0, timeout=10, what="the first fragment")
                for count in (1, 2, 3):
                    beat_once()
                    for console in (on_a, on_b):
                        console.wait_for(
                            lambda html, n=count: _sent(html) == n, timeout=1, what=f"Sent {count}"
                        )
                    assert sorted(rendered) == sorted([watched.pk, also_watched.pk])

                # Never pushed, yet a console opened now shows where the room is.
                with ConsoleSocket(web_b, unwatched.pk, cookie) as late:
                    first = late.wait_for(lambda html: 'id="room-live"' in html, timeout=10)
                    assert _sent(first) == 3
                    beat_once()
                    late.wait_for(lambda html: _sent(html) == 4, timeout=1, what="Sent 4 on the late console")
                    assert sorted(rendered) == sorted(room.pk for room in rooms)

            # Its console closed, a room costs no render again.
            wait_until(lambda: not services._watched([also_watched.pk, unwatched.pk]), timeout=5)
            beat_once()
            on_a.wait_for(lambda html: _sent(html) == 5, timeout=1, what="Sent 5")
            assert rendered == [watched.pk]
    finally:
        live_stack.start_beat()


def _argv(proc: subprocess.Popen[bytes]) -> str:
    return " ".join(str(arg) for arg in proc.args)
