"""The console's live fragment, rendered once and sent to every console of a room."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from rooms.models import LiveSession, Room
from rooms.platforms import driver_class
from rooms.platforms.base import Capability, LiveState, PlatformError


def capabilities(room: Room) -> set[str]:
    """What the room's platform can do, as the template reads it; empty when it has no driver."""
    try:
        caps = driver_class(room.account.kind).base_capabilities
    except PlatformError:
        return set()
    if room.account.sandbox:
        caps = caps | {Capability.PREVIEW}
    return {cap.value for cap in caps}


def actions(session: LiveSession | None) -> set[str]:
    """The buttons that make sense now: a button a host cannot use is not shown."""
    if session is None or not session.is_open:
        return {"start", "warm_up"}
    if session.stop_requested:
        return set()
    if session.live_state is LiveState.READY and not session.auto_start:
        return {"go_live", "stop"}
    return {"stop"}


def live_context(room: Room, session: LiveSession | None) -> dict[str, Any]:
    caps = capabilities(room)
    return {
        "room": room,
        "session": session,
        "caps": caps,
        "has_driver": bool(caps),
        "actions": actions(session) if caps else set(),
    }


def room_live_html(room: Room, session: LiveSession | None) -> str:
    return render_to_string("rooms/console.html#live", live_context(room, session))
