"""The room console's WebSocket, through the real ASGI application (origin check, session auth)
and the real Redis channel layer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import application
from rooms import services
from rooms.models import LiveSession, Room
from rooms.platforms.base import LiveState, LiveStatus
from tests.factories import RoomFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def cookie_of(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def socket(room: Room, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/rooms/{room.pk}/", headers=list(headers))


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(scenario(), 20))


def test_an_unauthenticated_socket_is_refused() -> None:
    room = RoomFactory()

    async def scenario() -> tuple[bool, Any]:
        communicator = socket(room, ORIGIN)
        result = await communicator.connect()
        await communicator.disconnect()
        return result

    connected, code = run(scenario)
    assert connected is False
    assert code == 4403


def test_a_host_not_granted_the_room_is_refused() -> None:
    room = RoomFactory()
    stranger = UserFactory(roles=["host"])

    async def scenario() -> tuple[bool, Any]:
        communicator = socket(room, ORIGIN, cookie_of(stranger))
        result = await communicator.connect()
        await communicator.disconnect()
        return result

    connected, code = run(scenario)
    assert connected is False
    assert code == 4403


def test_a_socket_from_a_foreign_origin_is_refused() -> None:
    host = UserFactory(roles=["host"])
    room = RoomFactory(hosts=[host])

    async def scenario() -> tuple[bool, Any]:
        communicator = socket(room, (b"origin", b"https://evil.example.com"), cookie_of(host))
        result = await communicator.connect()
        await communicator.disconnect()
        return result

    connected, _ = run(scenario)
    assert connected is False


def test_a_granted_host_receives_the_live_fragment_on_connect() -> None:
    host = UserFactory(roles=["host"])
    room = RoomFactory(hosts=[host])
    LiveSession.objects.create(room=room, account=room.account, state=LiveState.LIVE, vendor_session_id="v-1")

    async def scenario() -> str:
        communicator = socket(room, ORIGIN, cookie_of(host))
        connected, _ = await communicator.connect()
        assert connected
        html = await communicator.receive_from()
        await communicator.disconnect()
        return str(html)

    html = run(scenario)
    assert 'id="room-live"' in html
    assert 'hx-swap-oob="true"' in html
    assert 'data-state="live"' in html


def test_a_granted_host_receives_what_is_broadcast_to_the_room() -> None:
    host = UserFactory(roles=["host"])
    room = RoomFactory(hosts=[host])
    session = LiveSession.objects.create(room=room, account=room.account, state=LiveState.CREATING)

    def become_ready() -> bool:
        return services.session_apply_status(
            session=session, status=LiveStatus(state=LiveState.READY, vendor_code="35")
        )

    async def scenario() -> tuple[str, str]:
        communicator = socket(room, ORIGIN, cookie_of(host))
        connected, _ = await communicator.connect()
        assert connected
        first = await communicator.receive_from()
        assert await sync_to_async(become_ready)()
        pushed = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return str(first), str(pushed)

    first, pushed = run(scenario)
    assert 'data-state="creating"' in first
    assert 'id="room-live"' in pushed
    assert 'data-state="ready"' in pushed


def test_a_console_does_not_receive_another_rooms_broadcasts() -> None:
    host = UserFactory(roles=["host"])
    room = RoomFactory(hosts=[host])
    other = RoomFactory(hosts=[host])

    async def scenario() -> bool:
        communicator = socket(room, ORIGIN, cookie_of(host))
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_from()
        await sync_to_async(services.room_broadcast)(room_id=other.pk)
        quiet = await communicator.receive_nothing(timeout=0.5)
        await sync_to_async(services.room_broadcast)(room_id=room.pk)
        pushed = await communicator.receive_from(timeout=5)
        await communicator.disconnect()
        return quiet and 'id="room-live"' in pushed

    assert run(scenario) is True


def test_staff_may_watch_any_room() -> None:
    staff = UserFactory(roles=["staff"])
    room = RoomFactory()

    async def scenario() -> bool:
        communicator = socket(room, ORIGIN, cookie_of(staff))
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return bool(connected)

    assert run(scenario) is True


def test_nothing_sent_on_the_socket_is_acted_on() -> None:
    host = UserFactory(roles=["host"])
    room = RoomFactory(hosts=[host])

    async def scenario() -> bool:
        communicator = socket(room, ORIGIN, cookie_of(host))
        await communicator.connect()
        await communicator.receive_from()
        await communicator.send_to(text_data='{"action": "start"}')
        quiet = await communicator.receive_nothing(timeout=0.3)
        await communicator.disconnect()
        return quiet

    assert run(scenario) is True
    assert not LiveSession.objects.exists()
