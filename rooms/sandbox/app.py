"""The sandbox ASGI application: vendor paths, ``/_sandbox`` control paths, faults and housekeeping.

Vendor paths (``/api/...``, ``/live-manager/...``, ``/v1/...``) go through the fault switches;
``/_sandbox/...`` never does and is only served to loopback clients. Guiji paths answer in Guiji's own
envelope, MetaStudio paths (``/v1/...``) in MetaStudio's ``{"error_code", "error_msg"}``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from typing import Any

from pydantic import ValidationError

from .callbacks import CallbackSender
from .config import SandboxConfig
from .faults import Faults, apply_http_faults
from .guiji import PREFIX as GUIJI_PREFIX
from .guiji import Guiji
from .guiji_state import GuijiError
from .metastudio import PREFIX as METASTUDIO_PREFIX
from .metastudio import MetaStudio
from .metastudio_state import UNAUTHORIZED, MetaStudioError
from .softsugar import SoftSugar
from .softsugar_mic import MIC_PATH, serve_microphone
from .web import (
    ApiError,
    ClientGone,
    HttpError,
    Receive,
    Request,
    Response,
    Router,
    Scope,
    Send,
    describe_validation_error,
    error_response,
)

logger = logging.getLogger("rooms.sandbox")

SWEEP_SECONDS = 0.5
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class SandboxApp:
    """One process holding every emulated vendor's state."""

    def __init__(self, *, verbose: bool = False, mqtt_url: str | None = None) -> None:
        self.verbose = verbose
        self.mqtt_url = mqtt_url
        self.config = SandboxConfig()
        self.faults = Faults()
        self.callbacks = CallbackSender()
        self.softsugar = SoftSugar(self.config, self.callbacks)
        self.guiji = Guiji(self.config, verbose=verbose)
        self.metastudio = MetaStudio(self.config)
        self.router = Router()
        self.router.add("GET", "/_sandbox/health", self.h_health)
        self.router.add("GET", "/_sandbox/config", self.h_get_config)
        self.router.add("PUT", "/_sandbox/config", self.h_put_config)
        self.router.add("GET", "/_sandbox/faults", self.h_get_faults)
        self.router.add("PUT", "/_sandbox/faults", self.h_put_faults)
        self.router.add("DELETE", "/_sandbox/faults", self.h_delete_faults)
        self.router.add("POST", "/_sandbox/reset", self.h_reset)
        self.softsugar.register(self.router)
        self.guiji.register(self.router)
        self.metastudio.register(self.router)
        self._sweeper: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        self._start_housekeeping()
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)

    def startup(self, loop: asyncio.AbstractEventLoop) -> None:
        """Connect Guiji to its MQTT broker; ``serve()`` calls this before the first request."""
        self.guiji.live.start(loop, self.mqtt_url)

    def _start_housekeeping(self) -> None:
        """Start the heartbeat sweep on first use (daphne has no lifespan events)."""
        if self._sweeper is None or self._sweeper.done():
            loop = asyncio.get_running_loop()
            self.startup(loop)
            self._sweeper = loop.create_task(self._sweep_forever())

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                self.softsugar.sweep(time.time())
            except Exception:
                logger.exception("heartbeat sweep failed")

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._start_housekeeping()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            request = await Request.from_asgi(scope, receive)
        except ClientGone:
            return
        response = await self._respond(request)
        if self.verbose:
            logger.info("%s %s -> %s %s", request.method, request.path, response.status, _code(response))
        await response.send(send)

    async def _respond(self, request: Request) -> Response:
        guiji = request.path.startswith(GUIJI_PREFIX)
        metastudio = request.path.startswith(METASTUDIO_PREFIX)
        try:
            if request.path.startswith("/_sandbox/"):
                if request.client_host not in LOOPBACK:
                    raise HttpError(403, "sandbox control is loopback only")
            elif guiji:
                expired = functools.partial(self.guiji.expired_token_fault, request.path)
                await apply_http_faults(self.faults, request.path, expired_token=expired)
            elif metastudio:
                await apply_http_faults(self.faults, request.path, expired_token=_metastudio_expired)
            else:
                await apply_http_faults(self.faults, request.path)
            handler, request.path_params = self.router.resolve(request.method, request.path)
            return await handler(request)
        except GuijiError as error:
            return error.response()
        except MetaStudioError as error:
            return error.response()
        except HttpError as error:
            if guiji:
                return GuijiError(error.status, error.message, status=error.status).response()
            if metastudio:
                return MetaStudioError.from_status(error.status, error.message).response()
            return error_response(error)
        except ApiError as error:
            if request.path.startswith("/_sandbox/"):  # control paths speak plain HTTP statuses
                return error_response(HttpError(error.code, error.message))
            return error_response(error)
        except Exception:
            logger.exception("sandbox handler failed: %s %s", request.method, request.path)
            if guiji:
                return GuijiError(500, "sandbox internal error", status=500).response()
            if metastudio:
                return MetaStudioError.from_status(500, "sandbox internal error").response()
            return Response({"code": 500, "message": "sandbox internal error"}, status=500)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == MIC_PATH:
            await serve_microphone(self.softsugar, self.faults, scope, receive, send)
            return
        await receive()
        await send({"type": "websocket.close"})  # before accept: daphne answers 403

    # --- /_sandbox control -----------------------------------------------------------------------

    async def h_health(self, request: Request) -> Response:
        return Response({"ok": True})

    async def h_get_config(self, request: Request) -> Response:
        return Response(self.config.model_dump())

    async def h_put_config(self, request: Request) -> Response:
        """Partial update: only the keys given change."""
        try:
            self.config.update(request.parse_dict())
        except ValidationError as exc:
            raise HttpError(400, describe_validation_error(exc)) from exc
        return Response(self.config.model_dump())

    async def h_get_faults(self, request: Request) -> Response:
        return Response(self.faults.model_dump())

    async def h_put_faults(self, request: Request) -> Response:
        """Replace the whole fault set; keys left out are switched off."""
        new = request.parse(Faults)
        self._set_faults(new)
        return Response(self.faults.model_dump())

    async def h_delete_faults(self, request: Request) -> Response:
        self._set_faults(Faults())
        return Response(self.faults.model_dump())

    def _set_faults(self, new: Faults) -> None:
        # Mutate in place: the microphone handlers hold a reference to this object.
        for name in Faults.model_fields:
            setattr(self.faults, name, getattr(new, name))
        if self.faults.drop_websockets:
            self.softsugar.drop_mic_peers()

    async def h_reset(self, request: Request) -> Response:
        """Clear every session, undelivered callback, fault and config change; accounts stay."""
        await self.softsugar.reset()
        await self.guiji.reset()
        await self.metastudio.reset()
        await self.callbacks.reset()
        self._set_faults(Faults())
        self.config.restore_defaults()
        return Response({"ok": True})


def _metastudio_expired() -> Exception:
    return MetaStudioError(401, UNAUTHORIZED, "Unauthorized: the token has expired (sandbox fault)")


def _code(response: Response) -> Any:
    if not isinstance(response.body, dict):
        return None
    return response.body.get("code", response.body.get("error_code"))
