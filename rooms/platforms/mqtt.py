"""MQTT requests and replies for drivers whose sessions speak over a broker (Guiji, 4.2).

One link per (broker URL, user) and process: a paho client whose network thread runs on its
own (`loop_start`), shared by every coroutine and event loop of the process. A request
subscribes the session's reply topic (QoS 1, once per topic), publishes the message (QoS 1)
and waits for the reply with the same (sessionId, id). The waiting future belongs to the
caller's running loop, which may be a fresh loop of `async_to_sync` on every call; paho's
thread resolves it through `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import certifi
import paho.mqtt.client as paho
from asgiref.sync import sync_to_async
from django.core.cache import cache
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from rooms.platforms.base import PlatformError

QOS = 1
# Refusals that a retry cannot fix (MQTT 3.1.1 CONNACK codes 4 and 5, and their MQTT 5 names).
_REFUSED = ("bad user name or password", "not authorized", "bad username or password")

Listener = Callable[[str, bytes], None]


@dataclass
class _Waiter:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]

    def resolve(self, value: Any) -> None:
        # Called from paho's thread; the loop may have closed since (its caller gave up).
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._set, value)

    def fail(self, error: BaseException) -> None:
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._fail, error)

    def _set(self, value: Any) -> None:
        if not self.future.done():
            self.future.set_result(value)

    def _fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


@dataclass
class _Topic:
    subscribed: bool = False
    mid: int | None = None
    waiters: list[_Waiter] = field(default_factory=list)


class Link:
    """A connection to one broker as one user; replies are matched to requests by (sessionId, id)."""

    def __init__(self, url: str, user: str, password: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise PlatformError(f"The MQTT broker address is not mqtt:// or mqtts://: {url}", permanent=True)
        secure = parts.scheme in ("mqtts", "ssl")
        self.url = url
        self.user = user
        self.password = password
        self.pid = os.getpid()
        self._lock = threading.Lock()
        self._connected = False
        self._connect_waiters: list[_Waiter] = []
        self._topics: dict[str, _Topic] = {}
        self._replies: dict[tuple[str, str], _Waiter] = {}
        self._listeners: list[Listener] = []

        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"livedeck-{uuid.uuid4().hex[:16]}",
            clean_session=True,
        )
        if user:
            client.username_pw_set(user, password)
        if secure:
            client.tls_set_context(ssl.create_default_context(cafile=certifi.where()))
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.connect_async(
            parts.hostname or "127.0.0.1", parts.port or (8883 if secure else 1883), keepalive=30
        )
        client.loop_start()
        self._client = client

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()

    def listen(self, listener: Listener) -> None:
        """Call `listener(topic, payload)` in paho's thread for every message that is not a reply
        to one of this link's requests (server pushes: heartbeats, session states)."""
        with self._lock:
            self._listeners.append(listener)

    async def request(
        self, topic_pub: str, topic_sub: str, message: Mapping[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Publish `message` on `topic_pub` and return the reply that comes back on `topic_sub`
        with the message's sessionId and id. Raises a transient PlatformError on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        await self._wait_connected(deadline)
        await self._wait_subscribed(topic_sub, deadline)
        key = (str(message["sessionId"]), str(message["id"]))
        waiter = _Waiter(loop, loop.create_future())
        with self._lock:
            self._replies[key] = waiter
        try:
            payload = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
            info = self._client.publish(topic_pub, payload, qos=QOS)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise PlatformError(
                    f"Could not send to the MQTT broker ({paho.error_string(info.rc)})", code="mqtt"
                )
            try:
                reply: dict[str, Any] = await asyncio.wait_for(
                    waiter.future, max(0.0, deadline - loop.time())
                )
            except TimeoutError:
                method = message.get("method", "the request")
                raise PlatformError(
                    f"The platform did not answer {method} within {timeout:g} s", code="timeout"
                ) from None
            return reply
        finally:
            with self._lock:
                if self._replies.get(key) is waiter:
                    del self._replies[key]

    def forget(self, topic: str) -> None:
        """Stop listening to a topic (its session is over)."""
        with self._lock:
            known = self._topics.pop(topic, None)
        if known is not None:
            self._client.unsubscribe(topic)

    # Waiting for paho's thread, from the caller's loop.

    async def _wait_connected(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._connected:
                return
            waiter = _Waiter(loop, loop.create_future())
            self._connect_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter.future, max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise PlatformError("Could not reach the MQTT broker", code="mqtt") from None
        finally:
            with self._lock, contextlib.suppress(ValueError):
                self._connect_waiters.remove(waiter)

    async def _wait_subscribed(self, topic: str, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            known = self._topics.get(topic)
            if known is not None and known.subscribed:
                return
            if known is None:
                known = self._topics[topic] = _Topic()
            if known.mid is None:
                # Under the lock, so that the SUBACK cannot be handled before its mid is known.
                # Not connected: on_connect subscribes every known topic.
                result, mid = self._client.subscribe(topic, qos=QOS)
                if result == MQTTErrorCode.MQTT_ERR_SUCCESS:
                    known.mid = mid
            waiter = _Waiter(loop, loop.create_future())
            known.waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter.future, max(0.0, deadline - loop.time()))
        except TimeoutError:
            raise PlatformError(
                f"The MQTT broker did not confirm the subscription to {topic}", code="mqtt"
            ) from None
        finally:
            with self._lock, contextlib.suppress(ValueError):
                known.waiters.remove(waiter)

    # paho's thread

    def _on_connect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            # paho keeps trying; the requests waiting now are told why it failed.
            permanent = any(word in str(reason).lower() for word in _REFUSED)
            error = PlatformError(
                f"The MQTT broker refused LiveDeck: {reason}", permanent=permanent, code="mqtt"
            )
            with self._lock:
                waiters, self._connect_waiters = self._connect_waiters, []
            for waiter in waiters:
                waiter.fail(error)
            return
        with self._lock:
            self._connected = True
            waiters, self._connect_waiters = self._connect_waiters, []
            # A clean session forgets subscriptions: make them again.
            for topic, known in self._topics.items():
                known.subscribed = False
                result, mid = client.subscribe(topic, qos=QOS)
                known.mid = mid if result == MQTTErrorCode.MQTT_ERR_SUCCESS else None
        for waiter in waiters:
            waiter.resolve(None)

    def _on_disconnect(
        self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        with self._lock:
            self._connected = False

    def _on_subscribe(
        self, client: paho.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        refused = any(reason.is_failure for reason in reasons)
        with self._lock:
            found = next(((topic, known) for topic, known in self._topics.items() if known.mid == mid), None)
            if found is None:
                return
            topic, known = found
            known.subscribed = not refused
            if refused:
                known.mid = None
            waiters, known.waiters = known.waiters, []
        for waiter in waiters:
            if refused:
                refusal = f"The MQTT broker refused the subscription to {topic}"
                waiter.fail(PlatformError(refusal, code="mqtt"))
            else:
                waiter.resolve(None)

    def _on_message(self, client: paho.Client, userdata: Any, message: paho.MQTTMessage) -> None:
        payload = bytes(message.payload)
        reply = _as_reply(payload)
        if reply is not None:
            with self._lock:
                waiter = self._replies.pop(_reply_key(reply), None)
            if waiter is not None:
                waiter.resolve(reply)
                return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(message.topic, payload)


def _as_reply(payload: bytes) -> dict[str, Any] | None:
    """The message as a dict when it is a reply (an id with a result or an error), else None."""
    try:
        decoded = json.loads(payload)
    except ValueError:
        return None
    if isinstance(decoded, dict) and "id" in decoded and ("result" in decoded or "error" in decoded):
        return decoded
    return None


def _reply_key(reply: dict[str, Any]) -> tuple[str, str]:
    # The session id is beside the id (4.2.3 and 4.2.7 replies), else inside result or error (4.2.5).
    session_id = reply.get("sessionId")
    if not session_id:
        inner = reply.get("result") or reply.get("error") or {}
        session_id = inner.get("sessionId", "") if isinstance(inner, dict) else ""
    return str(session_id), str(reply["id"])


_links: dict[tuple[str, str], Link] = {}
_links_lock = threading.Lock()


def link(url: str, user: str, password: str) -> Link:
    """The process's link to the broker at `url` as `user`, connected on first use."""
    key = (url, user)
    with _links_lock:
        found = _links.get(key)
        # A forked worker inherits the parent's links without their threads: start its own.
        if found is not None and found.pid == os.getpid() and found.password == password:
            return found
        if found is not None and found.pid == os.getpid():
            found.close()
        created = _links[key] = Link(url, user, password)
        return created


def close_all() -> None:
    """Close every link of this process (tests, shutdown)."""
    with _links_lock:
        links = [found for found in _links.values() if found.pid == os.getpid()]
        _links.clear()
    for found in links:
        found.close()


def _id_key(session_id: str) -> str:
    return f"mqtt:message-id:{session_id}"


async def next_message_id(session_id: str) -> int:
    """A message id never used before in this session, by any process (Redis INCR)."""
    return await sync_to_async(_next_id, thread_sensitive=False)(_id_key(session_id))


def _next_id(key: str) -> int:
    # No expiry: a live may run for weeks, and an id must never come round again within it.
    # The sync incr is Redis's INCR; the cache's async aincr is a get and a set, not atomic.
    cache.add(key, 0, timeout=None)
    return int(cache.incr(key))


async def forget_message_ids(session_id: str) -> None:
    """Drop the session's id counter once the session is over."""
    await cache.adelete(_id_key(session_id))
