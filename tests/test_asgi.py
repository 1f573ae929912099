"""The ASGI entry point daphne serves: Django's pages through one thread hop per request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from asgiref.testing import ApplicationCommunicator
from django.core.handlers.asgi import ASGIHandler

from config.asgi import OneHopHandler

pytestmark = pytest.mark.django_db(transaction=True)


def _get(app: Any, path: str) -> tuple[int, bytes]:
    return asyncio.run(_request(app, path))


async def _request(app: Any, path: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(app, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)
    return start["status"], body


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function run in a worker thread from the event loop."""
    seen: list[str] = []
    original = SyncToAsync.__call__

    async def counted(self: SyncToAsync, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    return seen


def test_pages_are_served_with_their_middleware(hops: list[str]) -> None:
    status, body = _get(OneHopHandler(), "/login/")

    assert status == 200
    assert b'name="csrfmiddlewaretoken"' in body
    status, _ = _get(OneHopHandler(), "/")
    assert status == 302  # to the login page: sessions, auth and the view ran


def test_middleware_and_view_take_one_hop_instead_of_one_each(hops: list[str]) -> None:
    _get(ASGIHandler(), "/login/")
    stock = len(hops)
    hops.clear()

    _get(OneHopHandler(), "/login/")

    assert hops.count("BaseHandler.get_response") == 1
    # Besides it only Django's own: the request signals and closing the response.
    assert len(hops) <= stock - 10, (stock, hops)
