from typing import Any

from django.http import HttpRequest

from rooms.selectors import is_producer, is_staff


def roles(request: HttpRequest) -> dict[str, Any]:
    """What the navigation shows: producers get scripts, staff the admin."""
    return {"roles": {"producer": is_producer(request.user), "staff": is_staff(request.user)}}
