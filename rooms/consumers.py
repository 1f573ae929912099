"""The room console's WebSocket: pushes the room's live fragment on every change."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from rooms import fragments
from rooms.models import Room
from rooms.selectors import room_current_session, rooms_operable_by


@database_sync_to_async
def _live_html(user: Any, room_id: int) -> str | None:
    room = rooms_operable_by(user).filter(pk=room_id).first()
    if room is None:
        return None
    return fragments.room_live_html(room, room_current_session(room))


class RoomConsumer(AsyncWebsocketConsumer):
    """`ws/rooms/<id>/`: one per open console; group `room.<id>`."""

    group: str | None = None

    async def connect(self) -> None:
        room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        # Join before reading the state, so no change can fall between the two: a change made
        # before the join was not pushed here (rooms_broadcast skips rooms nobody watches) and
        # is in what is read.
        self.group = Room(pk=room_id).group_name
        await self.channel_layer.group_add(self.group, self.channel_name)
        html = await _live_html(self.scope["user"], room_id)
        if html is None:
            await self.close(code=4403)
            return
        await self.accept()
        await self.send(text_data=html)

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Consoles act over HTTP (CSRF-checked forms); nothing is taken from this socket."""

    async def room_state(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["html"])
