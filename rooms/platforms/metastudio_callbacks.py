"""Checking that a callback comes from MetaStudio (vendor-docs/metastudio-create-smart-live-room.txt,
表29 LiveEventCallBackConfig, auth_type and key; the worked example in
vendor-docs/metastudio-smart-live-notes.md, "Event callbacks to the customer").

MetaStudio signs a callback with the room's key: secret = hex HMAC-SHA256(key, URI + hwTime), where
URI is the callback URL without its scheme and with its query sorted by name, and hwTime the send
time in hex Unix seconds. MSS_A appends hwSecret and hwTime to the query, MSS_A_HEAD sends them as
the x-hw-mss-secret and x-hw-mss-time headers; NONE signs nothing, the URL being its own credential.

The signature covers neither the body nor an event id, so a captured callback could be sent again:
each (hwTime, secret, body) is accepted once, remembered in a `ReplayStore` for as long as its time
is inside the window. The body is part of it because the secret is the same for every event sent
in one second (a paragraph switch and a reply finishing often are): keying on the pair alone
would refuse the second of two real events.

`verify_callback` takes the request as parts and the time as `now`; it returns a `VerifiedCallback`
or raises `CallbackRefused(reason)`, and nothing else whatever the input.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from django.core.cache import BaseCache, caches

SECRET_PARAM = "hwSecret"
TIME_PARAM = "hwTime"
SECRET_HEADER = "x-hw-mss-secret"
TIME_HEADER = "x-hw-mss-time"
DEFAULT_WINDOW = 300
# hwTime is hex Unix seconds: 8 digits until 2106; 16 leaves room and bounds the work.
_HW_TIME = re.compile(r"[0-9a-fA-F]{1,16}")
_SECRET = re.compile(r"[0-9a-fA-F]{64}")

Query = Mapping[str, str | Sequence[str]]


class AuthType(enum.StrEnum):
    """表29 auth_type, as LiveDeck configured it on the room (MEITUAN_DEFAULT is not LiveDeck's)."""

    NONE = "NONE"
    MSS_A = "MSS_A"
    MSS_A_HEAD = "MSS_A_HEAD"


class CallbackRefused(Exception):
    """The callback is not MetaStudio's, or not any more; `reason` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VerifiedCallback:
    """A callback whose origin was checked; `sent_at` is hwTime in Unix seconds (None for NONE)."""

    auth_type: AuthType
    sent_at: int | None
    body: bytes


class ReplayStore(Protocol):
    def seen(self, key: str, ttl: int) -> bool:
        """True when `key` was recorded in the last `ttl` seconds; records it otherwise."""
        ...


class CacheReplayStore:
    """Remembers accepted pairs in Django's cache (Redis), shared by every web process:
    `cache.add` is atomic, so of two copies of one callback only the first is accepted."""

    def __init__(self, cache: BaseCache | None = None, *, prefix: str = "metastudio:callback:") -> None:
        self.cache = cache if cache is not None else caches["default"]
        self.prefix = prefix

    def seen(self, key: str, ttl: int) -> bool:
        return not self.cache.add(f"{self.prefix}{key}", 1, ttl)


class MemoryReplayStore:
    """Remembers accepted pairs in this process only: for tests and single-process tools."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._expiry: dict[str, float] = {}

    def seen(self, key: str, ttl: int) -> bool:
        now = self.clock()
        self._expiry = {k: until for k, until in self._expiry.items() if until > now}
        if key in self._expiry:
            return True
        self._expiry[key] = now + ttl
        return False


def hw_time(now: float) -> str:
    """hwTime for a callback sent at `now`: hex Unix seconds (表29 "hwTime=hex(timestamp)")."""
    return format(int(now), "x")


def callback_uri(host: str, path: str, query: Query) -> str:
    """URI(callback url) as the SDK's worked example builds it: host, path, and "?" with the query
    sorted by name (values of one name in the order given), no scheme; no "?" when there is no query.

    The document shows only values that need no encoding; others are percent-encoded here as in
    RFC 3986, and LiveDeck registers callback URLs whose path and query need none.
    """
    pairs = sorted(_pairs(query), key=lambda pair: pair[0])
    uri = f"{host}{quote(path, safe='/')}"
    if not pairs:
        return uri
    return uri + "?" + "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)


def callback_secret(key: str, uri: str, sent: str) -> str:
    """hwSecret / x-hw-mss-secret: hex HMAC-SHA256(key, URI + hwTime) (表29 auth_type)."""
    return hmac.new(key.encode(), (uri + sent).encode(), hashlib.sha256).hexdigest()


def verify_callback(
    *,
    auth_type: AuthType,
    method: str,
    path: str,
    query: Query,
    headers: Mapping[str, str],
    body: bytes,
    key: str,
    now: float,
    replay_store: ReplayStore,
    window: float = DEFAULT_WINDOW,
    host: str | None = None,
    methods: Collection[str] = ("POST",),
) -> VerifiedCallback:
    """Check one callback against the room's `auth_type` and `key` at time `now` (Unix seconds).

    `path` is decoded (Django's `request.path`), `query` maps each name to its value or values
    (`dict(request.GET.lists())`), `host` is the host the callback URL names (default: the Host
    header). An hwTime more than `window` seconds from `now` either way is refused, and so is a
    pair already accepted. Raises CallbackRefused, and only that, when the callback is not good;
    ValueError for an `auth_type` or `window` LiveDeck should not have configured, and whatever the
    replay store raises when it cannot be reached.
    """
    if not 0 < window < math.inf:
        raise ValueError(f"the window must be a positive number of seconds, not {window}")
    try:
        return _verify(
            auth_type=AuthType(auth_type),
            method=method,
            path=path,
            query=query,
            headers=headers,
            body=body,
            key=key,
            now=now,
            replay_store=replay_store,
            window=window,
            host=host,
            methods=methods,
        )
    except UnicodeEncodeError:
        # A lone surrogate in the host, path, query or key: nothing MetaStudio could have signed.
        raise CallbackRefused("the URL or the key is not valid UTF-8") from None


def _verify(
    *,
    auth_type: AuthType,
    method: str,
    path: str,
    query: Query,
    headers: Mapping[str, str],
    body: bytes,
    key: str,
    now: float,
    replay_store: ReplayStore,
    window: float,
    host: str | None,
    methods: Collection[str],
) -> VerifiedCallback:
    if method.upper() not in {allowed.upper() for allowed in methods}:
        raise CallbackRefused(f"method {method[:16]!r} is not allowed")
    if auth_type is AuthType.NONE:
        # "URL中自带认证": the unguessable key in LiveDeck's callback path, checked by the view.
        return VerifiedCallback(auth_type=auth_type, sent_at=None, body=body)
    if not key:
        raise CallbackRefused("no callback key is configured for this room")

    lower_headers = _lower(headers)
    if auth_type is AuthType.MSS_A:
        given_secret = _only(query, SECRET_PARAM)
        sent = _only(query, TIME_PARAM)
        signed_query = {
            name: values for name, values in query.items() if name not in (SECRET_PARAM, TIME_PARAM)
        }
    else:
        given_secret = _header(lower_headers, SECRET_HEADER)
        sent = _header(lower_headers, TIME_HEADER)
        signed_query = dict(query)
    if not _HW_TIME.fullmatch(sent):
        raise CallbackRefused("hwTime is not hex Unix seconds")
    if not _SECRET.fullmatch(given_secret):
        raise CallbackRefused("the secret is not 64 hex digits")

    sent_at = int(sent, 16)
    age = now - sent_at
    # Written so that a NaN `now` or `window` refuses rather than passes.
    if not age <= window:
        raise CallbackRefused(f"hwTime is {age:.0f} s old, more than {window:g} s")
    if not -window <= age:
        raise CallbackRefused(f"hwTime is {-age:.0f} s ahead, more than {window:g} s")

    if host is None:
        host = _header(lower_headers, "host")
    expected = callback_secret(key, callback_uri(host, path, signed_query), sent)
    if not hmac.compare_digest(expected, given_secret.lower()):
        raise CallbackRefused("the secret does not match the callback key")

    # Remembered until the pair's time leaves the window, after which the window refuses it. The
    # secret depends only on the URL and the second it was sent, so two events MetaStudio sends in
    # the same second carry the same pair: the body tells them apart, a replay repeats it.
    ttl = max(1, int(sent_at + window - now) + 1)
    digest = hashlib.sha256(body).hexdigest()
    if replay_store.seen(f"{sent}:{given_secret.lower()}:{digest}", ttl):
        raise CallbackRefused("this callback was already received")
    return VerifiedCallback(auth_type=auth_type, sent_at=sent_at, body=body)


def _pairs(query: Query) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, values in query.items():
        if isinstance(values, str):
            pairs.append((name, values))
        else:
            pairs.extend((name, value) for value in values)
    return pairs


def _only(query: Query, name: str) -> str:
    values = query.get(name)
    if isinstance(values, str):
        return values
    if values is None or len(values) == 0:
        raise CallbackRefused(f"the query has no {name}")
    if len(values) > 1:
        raise CallbackRefused(f"the query has {len(values)} values of {name}")
    return values[0]


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    lower: dict[str, str] = {}
    for name, value in headers.items():
        if lower.setdefault(name.lower(), value) != value:
            raise CallbackRefused(f"header {name} is given twice")
    return lower


def _header(headers: Mapping[str, str], name: str) -> str:
    try:
        return headers[name]
    except KeyError:
        raise CallbackRefused(f"the {name} header is missing") from None
