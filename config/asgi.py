"""ASGI entry point: HTTP through Django, WebSockets through Channels routing."""

import os
from typing import Any

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Django must be set up before anything imports models (consumers do).
django.setup(set_prefix=False)


class OneHopHandler(ASGIHandler):
    """Django's ASGI handler, with the middleware and the view run in one worker thread.

    Django's own runs each synchronous middleware (all of Django's are) on its own hop to a
    worker thread and back, before and after the view: about 15 hops and 11.5 ms of daphne's
    CPU for a takeover POST on the development VM, against 8.9 ms in one hop. A host on air
    waits for that POST (bench/takeover.py). LiveDeck's views are all synchronous."""

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)


django_asgi_app: Any = OneHopHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

import rooms.routing  # noqa: E402
import takeovers.routing  # noqa: E402
from rooms.process import keep_loaded_for_life  # noqa: E402

http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.DEBUG else django_asgi_app

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(
                URLRouter(rooms.routing.websocket_urlpatterns + takeovers.routing.websocket_urlpatterns)
            )
        ),
    }
)

keep_loaded_for_life()
