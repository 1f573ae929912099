from django.urls import re_path

from takeovers.consumers import mic_relay

websocket_urlpatterns = [
    re_path(r"^ws/rooms/(?P<room_id>\d+)/mic/$", mic_relay),
]
