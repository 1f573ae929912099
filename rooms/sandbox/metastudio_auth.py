"""MetaStudio's two signatures, written from metastudio-smart-live-notes.md alone.

* Checking a customer's request: AK/SK with SDK-HMAC-SHA256 ("Request signing"), or an IAM token.
* Signing the event callbacks the platform sends to a customer: MSS_A / MSS_A_HEAD ("Event callbacks
  to the customer", and 表29 LiveEventCallBackConfig of metastudio-create-smart-live-room.txt).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = 15 * 60
EMPTY_BODY_HASH = hashlib.sha256(b"").hexdigest()
# The headers a signature must cover for the date window and the target to mean anything.
REQUIRED_SIGNED = ("host", "x-sdk-date")

_AUTHORIZATION = re.compile(
    rf"^{ALGORITHM}\s+Access=(?P<ak>[^,\s]+),\s*SignedHeaders=(?P<headers>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)


class SignatureError(Exception):
    """Why a request's signature is refused (the message goes back to the caller)."""


@dataclass(frozen=True)
class Authorization:
    ak: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> Authorization:
    match = _AUTHORIZATION.match(value.strip())
    if match is None:
        raise SignatureError(
            f"Authorization must be '{ALGORITHM} Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>'"
        )
    names = tuple(match["headers"].split(";"))
    return Authorization(ak=match["ak"], signed_headers=names, signature=match["signature"].lower())


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Each path segment URL-encoded, always ending in "/"."""
    uri = "/".join(_encode(segment) for segment in path.split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: Mapping[str, str]) -> str:
    return "&".join(f"{_encode(key)}={_encode(query[key])}" for key in sorted(query))


def _header_text(value: str) -> str:
    # ASGI gives header bytes as latin-1; the client signed the UTF-8 text they encode.
    try:
        return value.encode("latin-1").decode("utf-8").strip()
    except UnicodeError:
        return value.strip()


def canonical_request(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    signed_headers: tuple[str, ...],
    body: bytes,
) -> str:
    lines = [f"{name}:{_header_text(headers.get(name, ''))}\n" for name in signed_headers]
    if not body:
        payload_hash = EMPTY_BODY_HASH
    else:
        # A client may leave a (large, non-JSON) body out: X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD.
        payload_hash = headers.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            "".join(lines),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(date: str, request: str) -> str:
    return f"{ALGORITHM}\n{date}\n{hashlib.sha256(request.encode()).hexdigest()}"


def sign(sk: str, to_sign: str) -> str:
    return hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def check_date(value: str | None, now: float) -> None:
    if not value:
        raise SignatureError("X-Sdk-Date header is missing")
    try:
        moment = datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise SignatureError(f"X-Sdk-Date must be {DATE_FORMAT} in UTC, got {value!r}") from exc
    if abs(now - moment) > MAX_CLOCK_SKEW:
        raise SignatureError(f"X-Sdk-Date {value} is more than 15 minutes away from the server's clock")


def verify(
    *,
    auth: Authorization,
    sk: str,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless ``auth`` signs this request with ``sk``; ``headers`` are lower-case."""
    check_date(headers.get("x-sdk-date"), time.time() if now is None else now)
    names = auth.signed_headers
    if list(names) != sorted(names) or any(name != name.lower() for name in names):
        raise SignatureError("SignedHeaders must be lower-case and sorted")
    for name in REQUIRED_SIGNED:
        if name not in names:
            raise SignatureError(f"SignedHeaders must include {name}")
    missing = [name for name in names if name not in headers]
    if missing:
        raise SignatureError(f"signed headers not in the request: {';'.join(missing)}")
    request = canonical_request(method, path, query, headers, names, body)
    expected = sign(sk, string_to_sign(headers["x-sdk-date"], request))
    if not hmac.compare_digest(expected, auth.signature):
        # The canonical request holds nothing secret and is what a client needs to find its mistake.
        raise SignatureError(f"signature does not match; canonical request was {request!r}")


# --- callbacks to the customer --------------------------------------------------------------------


def callback_uri(url: str) -> str:
    """Host + path + "?" + the query parameters sorted by name; no scheme, no "?" without a query."""
    parts = urlsplit(url)
    params = sorted((p for p in parts.query.split("&") if p), key=lambda p: p.partition("=")[0])
    return parts.netloc + parts.path + ("?" + "&".join(params) if params else "")


def hw_time(now: float) -> str:
    return format(int(now), "x")


def hw_secret(key: str, url: str, time_hex: str) -> str:
    return hmac.new(key.encode(), (callback_uri(url) + time_hex).encode(), hashlib.sha256).hexdigest()


def signed_callback(url: str, auth_type: str, key: str, now: float) -> tuple[str, dict[str, str]]:
    """The URL to post to and the extra headers, signed the way ``auth_type`` says."""
    if auth_type not in ("MSS_A", "MSS_A_HEAD"):
        return url, {}
    time_hex = hw_time(now)
    secret = hw_secret(key, url, time_hex)
    if auth_type == "MSS_A_HEAD":
        return url, {"x-hw-mss-secret": secret, "x-hw-mss-time": time_hex}
    separator = "&" if urlsplit(url).query else ("" if url.endswith("?") else "?")
    return f"{url}{separator}hwSecret={secret}&hwTime={time_hex}", {}
