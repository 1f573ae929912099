"""Reads that several places need: who may see or run a room, and a room's current session."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db.models import QuerySet
from django.http import Http404

from rooms.models import LiveSession, Room

HOST, PRODUCER, STAFF = "host", "producer", "staff"

User = AuthUser | AnonymousUser


def user_roles(user: User) -> set[str]:
    if not user.is_authenticated:
        return set()
    roles = set(user.groups.values_list("name", flat=True))
    if user.is_superuser:
        roles.add(STAFF)
    return roles


def is_staff(user: User) -> bool:
    return STAFF in user_roles(user)


def is_producer(user: User) -> bool:
    return bool({PRODUCER, STAFF} & user_roles(user))


def rooms_operable_by(user: User) -> QuerySet[Room]:
    """Staff run every room; a host only the rooms granted to them."""
    roles = user_roles(user)
    rooms = Room.objects.select_related("account", "script")
    if STAFF in roles:
        return rooms.all()
    if HOST in roles and isinstance(user, AuthUser):
        return rooms.filter(hosts=user)
    return rooms.none()


def rooms_visible_to(user: User) -> QuerySet[Room]:
    """Producers see every room (to prepare it); hosts the ones they run."""
    if is_producer(user):
        return Room.objects.select_related("account", "script").all()
    return rooms_operable_by(user)


def operable_room(user: User, pk: int) -> Room:
    """The room `user` may run, or a 404 that does not tell other rooms exist."""
    room = rooms_operable_by(user).filter(pk=pk).first()
    if room is None:
        raise Http404("No room you run has that number.")
    return room


def can_operate(user: User, room: Room) -> bool:
    return rooms_operable_by(user).filter(pk=room.pk).exists()


def room_current_session(room: Room) -> LiveSession | None:
    """The room's open session, else its latest one."""
    sessions = LiveSession.objects.select_related("account").filter(room=room)
    return sessions.open().first() or sessions.first()


def sessions_latest_by_room(rooms: list[Room]) -> dict[int, LiveSession]:
    """Each room's current session, in one query."""
    latest: dict[int, LiveSession] = {}
    for session in LiveSession.objects.filter(room__in=rooms).order_by("-created_at"):
        assert session.room_id is not None
        current = latest.get(session.room_id)
        if current is None or (session.is_open and not current.is_open):
            latest[session.room_id] = session
    return latest


def paragraph_playing(session: LiveSession) -> int | None:
    """The index in the script of the paragraph the platform last said it switched to (MetaStudio
    reports each switch), or None before the first."""
    number = str(session.vendor_data.get("paragraph", {}).get("sequence_no", ""))
    return int(number) if number.isascii() and number.isdigit() else None
