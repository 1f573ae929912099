"""How LiveDeck authenticates to Huawei Cloud MetaStudio (vendor-docs/metastudio-smart-live-notes.md,
"Request signing"; vendor-docs/metastudio-create-smart-live-room.txt, 表2 请求Header参数).

Two `httpx.Auth`s, so that a driver's client authenticates every request it sends: `AkSkAuth`
signs with an access key pair (SDK-HMAC-SHA256, as Huawei Cloud's API gateway checks it) and
`TokenAuth` sends an IAM token. The signing steps are module functions too, so that the sandbox
can check a signature with the code that makes one.

The official Python SDK (huaweicloudsdkcore's `Signer`) is the reference: the tests sign the same
requests with both and require the same Authorization header. It is a test dependency only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote

import httpx

ALGORITHM = "SDK-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DATE_HEADER = "X-Sdk-Date"
PROJECT_HEADER = "X-Project-Id"
USER_HEADER = "X-App-UserId"
TOKEN_HEADER = "X-Auth-Token"
SECURITY_TOKEN_HEADER = "X-Security-Token"
# Set by the caller to "UNSIGNED-PAYLOAD" to leave a (large, non-JSON) body out of the signature.
CONTENT_HASH_HEADER = "X-Sdk-Content-Sha256"
EMPTY_BODY_HASH = hashlib.sha256(b"").hexdigest()


def is_signed_header(name: str) -> bool:
    """Host, Content-Type and the X- headers are signed; names with "_" never are (as in the SDK).

    The gateway checks exactly the headers named in SignedHeaders, and the SDK's own requests carry
    unsigned ones too; leaving out those the HTTP stack adds and a proxy may rewrite (Accept-Encoding,
    Connection, Content-Length, User-Agent) keeps a signature valid across the way.
    """
    lower = name.lower()
    return "_" not in lower and (lower in ("host", "content-type") or lower.startswith("x-"))


def _encode(text: str) -> str:
    # Every character but the unreserved ones, UTF-8 percent-encoded ("Request signing").
    return quote(text, safe="~")


def canonical_uri(raw_path: str) -> str:
    """Each segment of the decoded path percent-encoded, always ending in "/" (so a path with and
    without its trailing slash sign the same)."""
    path = "/".join(_encode(segment) for segment in unquote(raw_path).split("/"))
    return path if path.endswith("/") else f"{path}/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The decoded query pairs sorted by name, then value, each then percent-encoded.

    The SDK sorts before it encodes, so a name such as "中" sorts after "z" even though "%E4"
    would sort before it.
    """
    return "&".join(f"{_encode(name)}={_encode(value)}" for name, value in sorted(pairs))


def payload_hash(body: bytes, content_hash: str | None = None) -> str:
    """Hex SHA-256 of the body; an X-Sdk-Content-Sha256 value stands in for a non-empty body."""
    if not body:
        return EMPTY_BODY_HASH
    if content_hash:
        return content_hash
    return hashlib.sha256(body).hexdigest()


def signed_header_names(headers: Mapping[str, str]) -> str:
    return ";".join(sorted(name.lower() for name in headers))


def canonical_request(
    method: str, raw_path: str, query: Iterable[tuple[str, str]], headers: Mapping[str, str], body_hash: str
) -> str:
    """Method, URI, query, `name:value` lines of the signed headers, their names, the body's hash."""
    lines = "".join(
        f"{name}:{value.strip()}\n" for name, value in sorted((k.lower(), v) for k, v in headers.items())
    )
    return "\n".join(
        (
            method.upper(),
            canonical_uri(raw_path),
            canonical_query(query),
            lines,
            signed_header_names(headers),
            body_hash,
        )
    )


def string_to_sign(sdk_date: datetime, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{sdk_date.strftime(DATE_FORMAT)}\n{digest}"


def signature(sk: str, to_sign: str) -> str:
    return hmac.new(sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def authorization(ak: str, signed_headers: str, sig: str) -> str:
    return f"{ALGORITHM} Access={ak}, SignedHeaders={signed_headers}, Signature={sig}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _MetaStudioAuth(httpx.Auth):
    def __init__(self, *, project_id: str = "", app_user_id: str = "") -> None:
        # 表2: X-App-UserId "不允许输入中文"; a header has to be ASCII to be sent as it is anyway.
        if not app_user_id.isascii():
            raise ValueError("X-App-UserId must be ASCII")
        self.project_id = project_id
        self.app_user_id = app_user_id

    def _identify(self, request: httpx.Request) -> None:
        if self.project_id:
            request.headers[PROJECT_HEADER] = self.project_id
        if self.app_user_id:
            request.headers[USER_HEADER] = self.app_user_id


class AkSkAuth(_MetaStudioAuth):
    """Signs every request with an access key pair ("Request signing", AK/SK).

    `security_token` is for temporary keys from IAM's security token service. `clock` gives the
    X-Sdk-Date of requests that do not bring their own.
    """

    requires_request_body = True

    def __init__(
        self,
        ak: str,
        sk: str,
        *,
        project_id: str = "",
        app_user_id: str = "",
        security_token: str = "",
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not ak or not sk:
            raise ValueError("MetaStudio AK/SK signing needs both the AK and the SK")
        super().__init__(project_id=project_id, app_user_id=app_user_id)
        self.ak = ak
        self._sk = sk
        self.security_token = security_token
        self.clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Add X-Sdk-Date (unless the request has one), the project, user and security-token
        headers and Authorization, and put the query in the SDK's order and encoding, so that the
        gateway sees the request line the SDK would send."""
        self._identify(request)
        if self.security_token:
            request.headers[SECURITY_TOKEN_HEADER] = self.security_token
        if DATE_HEADER in request.headers:
            # As the SDK does: a date the caller set is kept, and must be in the gateway's format.
            sdk_date = datetime.strptime(request.headers[DATE_HEADER], DATE_FORMAT)
        else:
            sdk_date = self.clock().astimezone(UTC)
            request.headers[DATE_HEADER] = sdk_date.strftime(DATE_FORMAT)

        raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
        query = parse_qsl(raw_query, keep_blank_values=True)
        sorted_query = canonical_query(query)
        if raw_query != sorted_query:
            request.url = request.url.copy_with(query=sorted_query.encode("ascii") or None)
        headers = {name: request.headers[name] for name in request.headers if is_signed_header(name)}
        body_hash = payload_hash(request.content, request.headers.get(CONTENT_HASH_HEADER))
        canonical = canonical_request(request.method, raw_path, query, headers, body_hash)
        sig = signature(self._sk, string_to_sign(sdk_date, canonical))
        request.headers["Authorization"] = authorization(self.ak, signed_header_names(headers), sig)


class TokenAuth(_MetaStudioAuth):
    """Sends an IAM user token on every request (表2 X-Auth-Token), instead of signing."""

    def __init__(self, token: str, *, project_id: str = "", app_user_id: str = "") -> None:
        if not token:
            raise ValueError("MetaStudio token auth needs an IAM token")
        super().__init__(project_id=project_id, app_user_id=app_user_id)
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[TOKEN_HEADER] = self._token
        self._identify(request)
        yield request
