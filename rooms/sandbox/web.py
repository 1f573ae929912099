"""Minimal ASGI plumbing: a request object, JSON responses and a path router.

The sandbox stays framework-free on purpose: it must start in well under a second, answer thousands
of small requests per second from one process, and share no code with LiveDeck's Django side.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ModelT = TypeVar("ModelT", bound=BaseModel)

# Business error codes, answered with HTTP 200 the way the vendor reports failures in the body.
INVALID_PARAMETER = 400
NOT_FOUND = 404
WRONG_STATE = 409


class ApiError(Exception):
    """A business error: HTTP 200 with a non-zero ``code`` and a readable ``message``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class HttpError(Exception):
    """An error answered with a non-200 HTTP status (auth failures, unknown paths, faults)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


@dataclass
class Response:
    """A JSON response; every sandbox answer is JSON."""

    body: Any
    status: int = 200

    async def send(self, send: Send) -> None:
        payload = json.dumps(self.body, ensure_ascii=False).encode()
        headers = [
            (b"content-type", b"application/json; charset=utf-8"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


def ok(data: Any = None, message: str = "success") -> Response:
    """The vendor's success envelope."""
    return Response({"code": 0, "message": message, "data": data})


def error_response(error: ApiError | HttpError) -> Response:
    """Render an error in the vendor's envelope (HTTP status only for `HttpError`)."""
    status = error.status if isinstance(error, HttpError) else 200
    code = error.status if isinstance(error, HttpError) else error.code
    return Response({"code": code, "message": error.message, "data": None}, status=status)


@dataclass
class Request:
    """One HTTP request with its body already read."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    client_host: str
    path_params: dict[str, str] = field(default_factory=dict)

    @classmethod
    async def from_asgi(cls, scope: Scope, receive: Receive) -> Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = scope.get("client") or ("", 0)
        return cls(
            method=scope["method"],
            path=scope["path"],
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)),
            headers=headers,
            body=await read_body(receive),
            client_host=str(client[0]),
        )

    def parse(self, model: type[ModelT]) -> ModelT:
        """Validate the JSON body against ``model``; a bad body is the caller's fault (code 400)."""
        if self.body and "application/json" not in self.headers.get("content-type", ""):
            raise ApiError(INVALID_PARAMETER, "Content-Type must be application/json")
        try:
            return model.model_validate_json(self.body or b"{}")
        except ValidationError as exc:
            raise ApiError(INVALID_PARAMETER, describe_validation_error(exc)) from exc

    def parse_dict(self) -> dict[str, Any]:
        """The JSON body as an object, for endpoints that take partial updates."""
        try:
            value = json.loads(self.body or b"{}")
        except ValueError as exc:
            raise ApiError(INVALID_PARAMETER, "request body must be JSON") from exc
        if not isinstance(value, dict):
            raise ApiError(INVALID_PARAMETER, "request body must be a JSON object")
        return value


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    """Turn pydantic's first error into one line such as ``invalid parameter sceneList.0.url: ...``."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if prefix:
        where = f"{prefix}.{where}" if where else prefix
    return f"invalid parameter {where}: {first['msg']}" if where else f"invalid parameter: {first['msg']}"


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


Handler = Callable[[Request], Awaitable[Response]]


class Router:
    """Method + path routing with ``{name}`` placeholders; static paths are a dict lookup."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, Handler]] = {}
        self._patterns: list[tuple[re.Pattern[str], dict[str, Handler]]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        if "{" not in path:
            self._static.setdefault(path, {})[method] = handler
            return
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")
        for pattern, methods in self._patterns:
            if pattern.pattern == regex.pattern:
                methods[method] = handler
                return
        self._patterns.append((regex, {method: handler}))

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]]:
        """Find the handler; raise 404 for an unknown path and 405 for a known path, wrong method."""
        methods = self._static.get(path)
        params: dict[str, str] = {}
        if methods is None:
            for pattern, candidate in self._patterns:
                match = pattern.match(path)
                if match:
                    methods, params = candidate, match.groupdict()
                    break
        if methods is None:
            raise HttpError(404, f"Not Found: {path}")
        handler = methods.get(method)
        if handler is None:
            raise HttpError(405, f"Method Not Allowed: {method} {path}")
        return handler, params
