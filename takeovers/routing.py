from django.urls import re_path

from takeovers.consumers import mic_relay

websocket_urlpatterns = [
    # An ASGI app, not a view: Channels' URLRouter takes either; django-stubs knows only views.
    re_path(r"^ws/rooms/(?P<room_id>\d+)/mic/$", mic_relay),  # type: ignore[arg-type]
]
