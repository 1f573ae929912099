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


def takeovers_context(room: Room, session: LiveSession | None) -> dict[str, Any]:
    from takeovers.models import QUEUE_LIMIT
    from takeovers.selectors import takeovers_for_console

    open_session = session if session and session.is_open else None
    return {
        "room": room,
        "session": session,
        "caps": capabilities(room),
        "queue_limit": QUEUE_LIMIT,
        **takeovers_for_console(open_session),
    }


def room_takeovers_html(room: Room, session: LiveSession | None) -> str:
    """The queue and the log of what played."""
    return render_to_string("rooms/console.html#takeovers", takeovers_context(room, session))


def room_live_html(room: Room, session: LiveSession | None) -> str:
    """Everything a console shows that changes during a live: its state card, queue and log.
    The composer is not in it, so a push never wipes what a host is typing."""
    return render_to_string("rooms/console.html#live", live_context(room, session)) + room_takeovers_html(
        room, session
    )
