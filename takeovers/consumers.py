"""Push-to-talk: `ws/rooms/<id>/mic/` relays the host's microphone to the vendor's microphone socket.

The browser sends binary frames of 16 kHz mono signed 16-bit little-endian PCM (640 bytes = 20 ms)
and a text `{"code": 99, "message": "eof"}` when the button is let go. The relay answers in JSON,
`{"code": <vendor code or null>, "state": ..., "words": ...}`, where `state` is what the console
shows: connecting, talking, info, refused (a bad frame, the socket stays open), error (the socket
closes after it), ended.

Why a plain ASGI application and not a Channels consumer: this socket joins no group and takes no
channel-layer message, so what a consumer adds would sit on the per-frame path for nothing: a
channel name and a layer receive loop per socket, and for every frame a fresh task plus an
`asyncio.wait` (`await_many_dispatch`) before the handler runs. Per-message overhead is the
cost of this path (DESIGN.md, "Hot paths"), so the relay keeps only what it needs. Measured
(bench/mic_relay.py, bench/README.md "mic_relay"): no frame lost or reordered up to 200 streams
on one daphne, 2.3x-2.9x the CPU per frame of a bare websockets receiver, added p50 under 1 ms
up to 60 streams, knee between 90 and 140 (between runs and loads); daphne's memory over a
10-minute soak is not settled yet (see there). (A consumer variant was not run side by side.) The
app still sits behind the same `AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))`
as the room console, so origin and login are checked as everywhere else.

Per connection, and once: the room (may this user run it?), its open session, the vendor's mic
endpoint; then all queued and playing takeovers are cancelled (Streaming Voice Takeover: the
vendor refuses the microphone with code 7 while one plays), the vendor socket opened, `begin`
sent and code 2 awaited. Frames that arrive meanwhile wait in a buffer of at most 2 s of audio.
Per frame: a length check and one `send` upstream; no database, no logging, no channel layer.
Upstream health: a ping every 0.4 s that must be answered within 1.2 s, so a stalled or dropped
vendor socket is reported within 2 s; more than 2 s of audio waiting in the write buffer is
reported the same way. Either closes both sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import websockets
from channels.db import database_sync_to_async
from django.utils import timezone
from websockets.asyncio.client import ClientConnection

from rooms.models import LiveSession
from rooms.platforms import connect, driver_class
from rooms.platforms.base import LiveState, MicEndpoint, PlatformError, TakeoverState
from rooms.selectors import room_current_session, rooms_operable_by
from rooms.services import room_broadcast
from takeovers.models import Takeover
from takeovers.services import takeover_mark, takeover_progress

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

SAMPLE_RATE = 16_000
BYTES_PER_SECOND = SAMPLE_RATE * 2  # mono s16
MAX_FRAME = BYTES_PER_SECOND // 10  # 100 ms; the worklet sends 20 ms (640 bytes)
MAX_PENDING = 2 * BYTES_PER_SECOND  # at most 2 s of audio held for a slow vendor
PING_EVERY = 0.4
PONG_WITHIN = 1.2  # PING_EVERY + PONG_WITHIN < 2 s: a stall is reported within 2 s
SETUP_TIMEOUT = 8.0

# Streaming Voice Takeover: the upstream control messages.
BEGIN = json.dumps({"code": 0, "message": "begin"})
EOF = json.dumps({"code": 99, "message": "eof"})
READY_CODE = 2
TAKEOVER_CODES = {18: "ws18", 19: "ws19", 20: "ws20"}

# Streaming Voice Takeover, "Response Elements": the vendor's codes in the host's words.
WORDS = {
    1: ("error", "The platform refused the session's token (code 1). Restart the live to get a new one."),
    2: ("talking", "On air: the avatar speaks with your voice."),
    4: ("error", "The platform stopped taking voice (code 4): the live ended or its voice link broke."),
    5: ("refused", "The platform could not use the audio (code 5)"),
    6: ("error", "The platform is not ready for voice (code 6): the live is not on air yet."),
    7: (
        "error",
        "The platform refused the microphone (code 7): a text or audio takeover is still queued "
        "or playing. Cancel it and try again.",
    ),
    18: ("info", "A takeover finished or was cancelled (code 18)."),
    19: ("info", "A takeover started playing (code 19)."),
    20: ("info", "A takeover was queued (code 20)."),
}
CLOSING_CODES = {1, 4, 6, 7}

# Close codes for the browser socket (daphne allows 1000 and 3000-4999).
FORBIDDEN, NOT_LIVE, VENDOR_REFUSED, VENDOR_LOST, TOO_SLOW = 4403, 4409, 4422, 4502, 4504


class Refusal(Exception):
    """Why push-to-talk cannot start or must stop, in the host's words, with the close code."""

    def __init__(self, words: str, close_code: int, vendor_code: int | None = None) -> None:
        super().__init__(words)
        self.words = words
        self.close_code = close_code
        self.vendor_code = vendor_code


@database_sync_to_async
def _mic_session(user: Any, room_id: int) -> tuple[LiveSession, MicEndpoint]:
    """The room's open session and where its voice goes; raises Refusal when there is none."""
    room = rooms_operable_by(user).filter(pk=room_id).first()
    if room is None:
        raise Refusal("You do not run this room, or you are logged out.", FORBIDDEN)
    session = room_current_session(room)
    if session is None or not session.is_open or session.stop_requested or not session.vendor_session_id:
        raise Refusal("The room is not live: start it before talking.", NOT_LIVE)
    if session.live_state is LiveState.CREATING:
        raise Refusal("The platform is still creating the stream; talk once it is ready.", NOT_LIVE)
    try:
        endpoint = driver_class(session.account.kind)(session.account, None).mic_endpoint(session)  # type: ignore[arg-type]
    except PlatformError as exc:
        raise Refusal(f"No microphone for this live: {exc}", NOT_LIVE) from None
    if endpoint is None:
        raise Refusal(f"{session.account.get_kind_display()} has no push-to-talk microphone.", NOT_LIVE)
    return session, endpoint


@database_sync_to_async
def _mark_cancelled_for_mic(session: LiveSession) -> None:
    """The vendor cancelled everything: say so on each takeover LiveDeck still shows as active."""
    now = timezone.now()
    changed = False
    for takeover in Takeover.objects.filter(session=session).active():
        changed |= takeover_mark(
            takeover=takeover, state=TakeoverState.CANCELLED, note="cancelled for the microphone", at=now
        )
    if changed and session.room_id:
        room_broadcast(room_id=session.room_id)


@database_sync_to_async
def _progress(session: LiveSession, trace_id: str, code: int) -> None:
    takeover_progress(session=session, trace_id=trace_id, code=TAKEOVER_CODES[code])


class MicRelay:
    """One push-to-talk socket: the browser on one side, the vendor's microphone on the other."""

    def __init__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        self.scope = scope
        self.receive = receive
        self.browser_send = send
        self.upstream: ClientConnection | None = None  # set once `begin` was answered with 2
        self.backlog: deque[bytes | str] = deque()  # frames (and eof) that came before that
        self.backlog_bytes = 0
        self.browser_open = False
        self.eof_sent = False
        self.stopped = False
        self.finished = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.session: LiveSession | None = None

    @classmethod
    async def asgi(cls, scope: Any, receive: Receive, send: Send) -> None:
        await cls(scope, receive, send).run()

    # The browser side ----------------------------------------------------------------------

    async def tell(self, state: str, words: str, code: int | None = None) -> None:
        if not self.browser_open:
            return
        message = json.dumps({"code": code, "state": state, "words": words})
        try:
            await self.browser_send({"type": "websocket.send", "text": message})
        except Exception:  # the browser went away under us: nothing to tell
            self.browser_open = False

    async def end(self, state: str, words: str, close_code: int, code: int | None = None) -> None:
        """Tell the browser why, then close its socket; the upstream is closed by `run`."""
        if self.finished.is_set():
            return
        self.finished.set()
        self.stopped = True  # a plain flag: the per-frame check
        await self.tell(state, words, code)
        if self.browser_open:
            self.browser_open = False
            with contextlib.suppress(Exception):
                await self.browser_send({"type": "websocket.close", "code": close_code, "reason": ""})

    async def run(self) -> None:
        if (await self.receive())["type"] != "websocket.connect":
            return
        room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        try:
            self.session, endpoint = await _mic_session(self.scope.get("user"), room_id)
        except Refusal as refusal:
            # Accepted only to say why: a refused handshake reaches the page without a reason.
            await self.browser_send({"type": "websocket.accept", "subprotocol": None, "headers": []})
            self.browser_open = True
            await self.end("error", refusal.words, refusal.close_code)
            await self._drain_browser()
            return
        await self.browser_send({"type": "websocket.accept", "subprotocol": None, "headers": []})
        self.browser_open = True
        setup = self._spawn(self._open_upstream(self.session, endpoint))
        try:
            await self._relay_from_browser()
        finally:
            await self._wind_down(setup)

    async def _relay_from_browser(self) -> None:
        """The hot path: every frame the browser sends, checked and passed on."""
        receive = self.receive
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return  # websocket.disconnect
            frame = message.get("bytes")
            if frame is not None:
                size = len(frame)
                if size == 0 or size & 1 or size > MAX_FRAME:
                    await self._refuse_frame(size)
                    continue
                upstream = self.upstream
                if upstream is None or self.stopped:
                    if not self.stopped:
                        await self._hold(frame)
                    continue
                if upstream.transport.get_write_buffer_size() > MAX_PENDING:
                    await self.end(
                        "error",
                        "The platform is taking the audio too slowly (over 2 s behind); "
                        "push-to-talk stopped.",
                        TOO_SLOW,
                    )
                    continue
                try:
                    await upstream.send(frame)
                except websockets.ConnectionClosed:
                    continue  # the upstream reader reports it
            elif not await self._on_text(message.get("text") or ""):
                return

    async def _refuse_frame(self, size: int) -> None:
        if size == 0:
            why = "the frame is empty"
        elif size & 1:
            why = f"{size} bytes is not a whole number of 16-bit samples"
        else:
            why = f"{size} bytes is more than {MAX_FRAME} (100 ms of 16 kHz audio) in one frame"
        await self.tell("refused", f"Audio frame refused: {why}. Send 16 kHz mono 16-bit PCM.")

    async def _hold(self, item: bytes | str) -> None:
        """Keep what comes before the vendor is ready, up to 2 s of audio."""
        self.backlog.append(item)
        self.backlog_bytes += len(item)
        if self.backlog_bytes > MAX_PENDING:
            self.backlog.clear()
            await self.end(
                "error",
                "The platform took over 2 s to accept the microphone; push-to-talk stopped.",
                TOO_SLOW,
            )

    async def _on_text(self, text: str) -> bool:
        """The browser's control messages: only eof. Returns False when the socket should stop."""
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        if not isinstance(message, dict) or message.get("code") != 99:
            await self.tell("refused", 'Only binary PCM frames and {"code": 99, "message": "eof"} are taken.')
            return True
        if self.upstream is None:
            if not self.finished.is_set():
                self.backlog.append(EOF)
            return True
        await self._send_eof(self.upstream)
        return True

    async def _send_eof(self, upstream: ClientConnection) -> None:
        if self.eof_sent:
            return
        self.eof_sent = True
        with contextlib.suppress(websockets.ConnectionClosed):
            await upstream.send(EOF)

    # The vendor side -----------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _open_upstream(self, session: LiveSession, endpoint: MicEndpoint) -> None:
        await self.tell("connecting", "Cancelling queued takeovers and opening the microphone…")
        try:
            upstream = await asyncio.wait_for(self._connect(session, endpoint), SETUP_TIMEOUT)
        except Refusal as refusal:
            await self.end("error", refusal.words, refusal.close_code, refusal.vendor_code)
            return
        except TimeoutError:
            await self.end("error", "The platform did not open the microphone in time.", VENDOR_LOST)
            return
        if self.finished.is_set():
            await upstream.close()
            return
        # Hand over in order: the backlog first, then `self.upstream` for the receive loop.
        while self.backlog:
            item = self.backlog.popleft()
            if item is EOF:
                await self._send_eof(upstream)
            else:
                with contextlib.suppress(websockets.ConnectionClosed):
                    await upstream.send(item)
        self.backlog_bytes = 0
        self.upstream = upstream
        self._spawn(self._watch(upstream))
        await self._relay_from_vendor(upstream)

    async def _connect(self, session: LiveSession, endpoint: MicEndpoint) -> ClientConnection:
        """Cancel every takeover, open the vendor's socket, send begin and wait for code 2."""
        # Streaming Voice Takeover: "calling for microphone takeover requires cancelling
        # everything before starting".
        try:
            async with connect(session.account) as driver:
                await driver.cancel(session, None)
        except PlatformError as exc:
            # The vendor has the last word: with something still playing it answers 7.
            await self.tell("info", f"Could not cancel the takeovers first ({exc}); trying anyway.")
        else:
            await _mark_cancelled_for_mic(session)
        try:
            upstream = await websockets.connect(
                endpoint.url,
                additional_headers=endpoint.headers or None,
                open_timeout=5,
                ping_interval=None,  # `_watch` pings, with a tighter deadline
                close_timeout=1,
                write_limit=4 * MAX_PENDING,  # never wait in send; `MAX_PENDING` is checked per frame
                max_queue=64,
                compression=None,
            )
        except (OSError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            raise Refusal(f"Could not reach the platform's microphone ({exc}).", VENDOR_LOST) from None
        with contextlib.suppress(websockets.ConnectionClosed):
            await upstream.send(BEGIN)  # a vendor that refuses at once may close before this
        try:
            answer = await upstream.recv()
        except websockets.ConnectionClosed:
            raise Refusal("The platform closed the microphone before it was ready.", VENDOR_LOST) from None
        code, message = _parse(answer)
        if code == READY_CODE:
            await self.tell("talking", WORDS[READY_CODE][1], READY_CODE)
            return upstream
        await upstream.close()
        state_words = WORDS.get(code) if code is not None else None
        words = state_words[1] if state_words else f"The platform did not accept the microphone: {message}"
        raise Refusal(words, VENDOR_REFUSED, code)

    async def _relay_from_vendor(self, upstream: ClientConnection) -> None:
        """The vendor's codes, as words for the console; takeover progress goes to the database."""
        try:
            async for answer in upstream:
                code, message = _parse(answer)
                if code in TAKEOVER_CODES and self.session is not None:
                    trace_id = _trace_id(answer)
                    if trace_id:
                        self._spawn(_progress(self.session, trace_id, code))
                state, words = WORDS.get(code, ("info", f"The platform says: {message}"))  # type: ignore[arg-type]
                if code == 5 and message:
                    words = f"{words}: {message}"
                if code in CLOSING_CODES:
                    await self.end(state, words, VENDOR_REFUSED, code)
                    return
                await self.tell(state, words, code)
        except websockets.ConnectionClosed:
            pass
        if not self.finished.is_set():
            code = upstream.close_code
            detail = f" (close code {code})" if code and code != 1000 else ""
            await self.end(
                "error", f"The platform closed the microphone{detail}; push-to-talk stopped.", VENDOR_LOST
            )

    async def _watch(self, upstream: ClientConnection) -> None:
        """Report a vendor socket that stops answering pings (a stall) within 2 s."""
        while not self.finished.is_set():
            try:
                async with asyncio.timeout(PONG_WITHIN):
                    pong = await upstream.ping()
                    await pong
            except TimeoutError:
                await self.end(
                    "error",
                    f"The platform stopped answering for over {PONG_WITHIN:.1f} s; push-to-talk stopped.",
                    VENDOR_LOST,
                )
                upstream.transport.abort()
                return
            except websockets.ConnectionClosed:
                return  # the upstream reader reports it
            await asyncio.sleep(PING_EVERY)

    async def _wind_down(self, setup: asyncio.Task[Any]) -> None:
        """The browser left (or was told to): let held audio reach the vendor, then close."""
        if not setup.done() and not self.finished.is_set():
            # A short press: the vendor may still be opening; what was said still goes through.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SETUP_TIMEOUT):
                    while self.upstream is None and not setup.done():
                        await asyncio.sleep(0.02)
        self.finished.set()
        upstream = self.upstream
        if upstream is not None:
            await self._send_eof(upstream)
            with contextlib.suppress(Exception):
                await upstream.close()
        for task in list(self.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.browser_open:
            self.browser_open = False
            with contextlib.suppress(Exception):
                await self.browser_send({"type": "websocket.close", "code": 1000, "reason": ""})

    async def _drain_browser(self) -> None:
        """After closing, wait for daphne's disconnect so the app ends cleanly."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                while (await self.receive())["type"] != "websocket.disconnect":
                    pass


def _parse(answer: str | bytes) -> tuple[int | None, str]:
    try:
        message = json.loads(answer)
        code = message.get("code")
        return (int(code) if code is not None else None), str(message.get("message", ""))
    except (ValueError, TypeError, AttributeError):
        return None, str(answer)[:200]


def _trace_id(answer: str | bytes) -> str:
    with contextlib.suppress(ValueError, TypeError, AttributeError):
        return str(json.loads(answer)["data"]["commandTraceId"])
    return ""


mic_relay = MicRelay.asgi
