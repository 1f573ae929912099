"""SoftSugar "Streaming Voice Takeover": the microphone WebSocket.

Upstream: ``{"code": 0, "message": "begin"}``, binary 16 kHz mono s16 PCM, ``{"code": 99, "message":
"eof"}``. Downstream: 1 authentication failed, 2 ready to receive, 4 stop sending (session ended),
5 failed (bad frame or message), 6 no live information, 7 takeover conflict, and 18/19/20 for HTTP
takeovers of the session while the socket is open.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .faults import Faults
from .softsugar_state import Session
from .web import Receive, Scope, Send

if TYPE_CHECKING:
    from .softsugar import SoftSugar

# Close code of a socket dropped by the ``drop_websockets`` fault (daphne allows 1000 or 3000-4999).
DROPPED_CLOSE_CODE = 4011

MIC_PATH = "/api/live-takeover-cc/v1/material/live/channel/command/microphone"

AUTH_FAILED = {"code": 1, "message": "Authentication failed"}
READY = {"code": 2, "message": "Server ready to receive"}
NOT_READY = {"code": 6, "message": "Server not ready to receive"}
CONFLICT = {"code": 7, "message": "Algorithm-side takeover conflict rejected"}


def failed(reason: str) -> dict[str, Any]:
    return {"code": 5, "message": f"Failed to send voice data: {reason}"}


class MicSocket:
    """One accepted microphone connection; sends never raise once the socket is gone."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.closed = False
        self.speaking = False  # between "begin" and "eof"

    async def send_json(self, message: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            await self._send({"type": "websocket.send", "text": json.dumps(message, ensure_ascii=False)})
        except Exception:  # the transport went away under us
            self.closed = True

    async def close(self, code: int = 1000) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            await self._send({"type": "websocket.close", "code": code})
        except Exception:
            return


async def serve_microphone(
    platform: SoftSugar, faults: Faults, scope: Scope, receive: Receive, send: Send
) -> None:
    """Accept, authenticate with the sessionToken in the URL, then count audio until disconnect."""
    if (await receive())["type"] != "websocket.connect":
        return
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    await send({"type": "websocket.accept"})
    peer = MicSocket(send)
    if faults.drop_websockets:
        await peer.close(DROPPED_CLOSE_CODE)
        return
    session = await _admit(platform, faults, scope, peer)
    if session is None:
        return
    session.mic_peers.add(peer)
    session.mic.connections += 1
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if peer.closed:
                continue
            if message.get("bytes") is not None:
                await _on_audio(session, peer, message["bytes"])
            elif message.get("text") is not None:
                await _on_text(session, peer, message["text"])
    finally:
        session.mic_peers.discard(peer)


async def _admit(platform: SoftSugar, faults: Faults, scope: Scope, peer: MicSocket) -> Session | None:
    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
    session = platform.sessions.get(query.get("sessionId", ""))
    scheme, _, token = query.get("Authorization", "").partition(" ")
    if session is None:
        refusal = NOT_READY
    elif faults.expired_token or scheme != "Bearer" or token != session.session_token:
        refusal = AUTH_FAILED
    elif query.get("clientType") != "BROWSER":
        refusal = failed("clientType must be BROWSER")
    elif not session.is_speaking:
        refusal = NOT_READY
    else:
        return session
    await peer.send_json(refusal)
    await peer.close()
    return None


async def _on_text(session: Session, peer: MicSocket, text: str) -> None:
    try:
        message = json.loads(text)
        code = message.get("code") if isinstance(message, dict) else None
    except ValueError:
        code = None
    if code == 0:
        await _begin(session, peer)
    elif code == 99:
        if peer.speaking:
            peer.speaking = False
            session.mic.utterances += 1
        else:
            await peer.send_json(failed("eof without begin"))
    else:
        await peer.send_json(failed("unknown message"))


async def _begin(session: Session, peer: MicSocket) -> None:
    # "If text/audio is being taken over, calling for microphone takeover requires cancelling
    # everything before starting."
    if not session.is_speaking:
        await peer.send_json(NOT_READY)
    elif session.queue or session.preparing:
        await peer.send_json(CONFLICT)
    else:
        peer.speaking = True
        await peer.send_json(READY)


async def _on_audio(session: Session, peer: MicSocket, frame: bytes) -> None:
    if not peer.speaking:
        session.mic.refused_frames += 1
        await peer.send_json(failed("send begin before voice data"))
    elif len(frame) % 2:
        session.mic.refused_frames += 1
        await peer.send_json(failed("PCM s16 frames must have an even number of bytes"))
    else:
        session.mic.frames += 1
        session.mic.bytes += len(frame)
