"""Reads of takeovers that the console and the broadcasts share."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from rooms.models import LiveSession
from rooms.platforms.base import TakeoverState
from rooms.selectors import User, rooms_operable_by
from takeovers.models import ACTIVE_STATES, Takeover


def takeovers_for_console(session: LiveSession | None) -> dict[str, list[Takeover]]:
    """The queue (in the vendor's order) and the log of what played, newest first, for the console.

    Both reads stay small however long the live: every push used to load every takeover the
    live ever had (40 ms per push after 1,000). The log is the last ones stored (the session's
    index is in id order, so SQLite reads just those), shown by the time they were made."""
    if session is None:
        return {"queue": [], "log": []}
    waiting = Q(state__in=[*ACTIVE_STATES, TakeoverState.PENDING.value])
    queue = list(session.takeovers.filter(waiting).in_queue_order())
    played = list(session.takeovers.exclude(waiting).order_by("-pk")[: settings.TAKEOVER_LOG_LENGTH])
    played.sort(key=lambda t: t.created_at, reverse=True)
    return {"queue": queue, "log": played}


def live_session_operable(user: User, room_id: int) -> LiveSession | None:
    """The open session of a room `user` may run, in one read (the room is a subquery); None when
    the room is not live or not the user's."""
    rooms = rooms_operable_by(user).filter(pk=room_id)
    return LiveSession.objects.filter(room__in=rooms).open().first()
