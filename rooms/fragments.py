"""The console's live fragment, rendered once and sent to every console of a room."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from rooms.models import LiveSession, Room
from rooms.platforms import driver_class
from rooms.platforms.base import Capability, Driver, LiveState, PlatformError
from rooms.selectors import paragraph_playing


def capabilities(room: Room) -> set[str]:
    """What the room's platform can do, as the template reads it; empty when it has no driver."""
    try:
        driver = driver_class(room.account.kind)
    except PlatformError:
        return set()
    caps = driver.base_capabilities
    if room.account.sandbox and driver.preview is not Driver.preview:
        caps = caps | {Capability.PREVIEW}
    return {cap.value for cap in caps}


def emulated(room: Room) -> set[str]:
    """Capabilities the driver makes up with what the vendor has; the console says so."""
    try:
        return {cap.value for cap in driver_class(room.account.kind).emulated}
    except PlatformError:
        return set()


def actions(session: LiveSession | None, caps: set[str]) -> set[str]:
    """The buttons that make sense now: a button a host cannot use is not shown."""
    if session is None or not session.is_open:
        # Warming up (ready, not yet streaming) needs a vendor that starts streams separately.
        return {"start", "warm_up"} if Capability.SEPARATE_START.value in caps else {"start"}
    if session.stop_requested:
        return set()
    if session.live_state is LiveState.READY and not session.auto_start:
        return {"go_live", "stop"}
    return {"stop"}


def now_playing(session: LiveSession | None) -> dict[str, Any] | None:
    """Which paragraph of the show's script the avatar is on, where the vendor reports it."""
    if session is None or not session.is_open:
        return None
    playing = session.vendor_data.get("now_playing")
    show = [str(pcm) for pcm in session.vendor_data.get("playlist", [])]
    if not playing or playing.get("pcm") not in show:
        return None
    return {"number": show.index(playing["pcm"]) + 1, "total": len(show), "status": playing.get("status")}


def show_paragraphs(room: Room, session: LiveSession | None) -> list[dict[str, Any]]:
    """The script's paragraphs as the platform plays them (MetaStudio reports each switch):
    those already spoken this round, the one being spoken, and those still to come."""
    if session is None or not session.is_open:
        return []
    playing = paragraph_playing(session)
    current = -1 if playing is None else playing
    return [
        {
            "number": index + 1,
            "title": paragraph.title,
            "text": paragraph.text,
            "state": "done" if index < current else "playing" if index == current else "next",
        }
        for index, paragraph in enumerate(room.script.paragraphs.all())
    ]


def live_context(room: Room, session: LiveSession | None) -> dict[str, Any]:
    caps = capabilities(room)
    return {
        "paragraphs": show_paragraphs(room, session) if "now_playing" in caps else [],
        "now_playing": now_playing(session),
        "room": room,
        "session": session,
        "caps": caps,
        "has_driver": bool(caps),
        "actions": actions(session, caps) if caps else set(),
    }


def takeovers_context(room: Room, session: LiveSession | None) -> dict[str, Any]:
    from takeovers.models import QUEUE_LIMIT
    from takeovers.selectors import takeovers_for_console

    shown = takeovers_for_console(session)  # after a live, its log stays on show until the next
    if not (session and session.is_open):
        shown["queue"] = []
    return {
        "room": room,
        "session": session,
        "caps": capabilities(room),
        "emulated": emulated(room),
        "queue_limit": QUEUE_LIMIT,
        **shown,
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
