"""Several daphne processes and workers behind one Redis: a console connected to one web process
sees what a host did through another, because every change goes through the channel layer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LIVE_ENV, provision_softsugar
from tests.factories import RoomFactory, UserFactory
from tests.integration.helpers import ConsoleSocket, login, room_action, state_of
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
    if db["ENGINE"].endswith("sqlite3"):
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
        assert started.status_code == 200, started.text
        assert state_of(started.text) == "creating"

        # Pushed by daphne A while it served the POST, delivered by daphne B.
        on_b.wait_for_state("creating", timeout=10)
        on_b.wait_for_state("live", timeout=20)

        stopped = room_action(on_a, room.pk, "stop")
        assert stopped.status_code == 200, stopped.text
        on_b.wait_for_state("ended", timeout=20)
