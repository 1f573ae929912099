"""Fixtures for tests that drive the live stack (daphne, Celery, beat, the sandbox) over sockets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.factories import RoomFactory, UserFactory
from tests.integration.helpers import ConsoleSocket, login


@pytest.fixture
def host(transactional_db: None) -> Any:
    return UserFactory(roles=["host"])


@pytest.fixture
def room(softsugar_account: Any, host: Any) -> Any:
    return RoomFactory(account=softsugar_account, hosts=[host])


@pytest.fixture
def web(live_stack: Any, host: Any) -> Iterator[httpx.Client]:
    """The host, logged in on the live stack's daphne."""
    client = login(live_stack.web_urls[0], host.username)
    yield client
    client.close()


@pytest.fixture
def console(live_stack: Any, room: Any, web: httpx.Client) -> Iterator[ConsoleSocket]:
    """The room's console WebSocket, open as the host, with its first fragment read."""
    with ConsoleSocket(live_stack.web_urls[0], room.pk, web.cookies["sessionid"]) as socket:
        socket.wait_for(lambda html: 'id="room-live"' in html, timeout=10, what="the first fragment")
        yield socket


def open_session(room: Any) -> Any:
    from rooms.models import LiveSession

    return LiveSession.objects.filter(room=room).order_by("-created_at").first()
