"""The MQTT bridge: Guiji's live sessions speak over MQTT, and this process listens for LiveDeck.

For every open Guiji session it subscribes the session's topic (topicSub), answers each
HeartBeat at once with the same id (guiji-live-manager-api.txt 4.2.8), and turns SessionState
messages into LiveDeck events: StreamPlay -> LIVE with the play addresses, Destroy -> DROPPED
with the cause, Show -> the anchor on stage, playlist begin/end -> takeover and paragraph
progress. Requests (CreateNewSession, playlist actions, ...) are the driver's, sent from the
worker; their replies reach the driver on its own connection and are ignored here.

Threads: paho's network thread answers heartbeats and queues everything else; the main thread
does the database work (finding sessions to watch, recording heartbeats, applying states), so a
slow database never delays a heartbeat answer. The connection is a persistent MQTT session
(clean_session off, QoS 1), so what the vendor sent while the bridge was down is delivered when
it is back, and every watched topic is subscribed again on each connect: restarting the bridge
or the broker loses no live.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import redis
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from rooms import services
from rooms.models import OPEN_STATES, LiveSession, PlatformAccount
from rooms.platforms import call
from rooms.platforms.base import LiveState, LiveStatus, PlatformError
from rooms.platforms.guiji_models import (
    HeartBeat,
    PlaylistProgress,
    Reply,
    SessionDestroyed,
    Show,
    StreamPlay,
    heartbeat_reply,
    parse_server_message,
)

log = logging.getLogger("livedeck.mqtt_bridge")

QOS = 1


@dataclass
class Watched:
    """An open Guiji session the bridge listens to."""

    session_id: int
    vendor_session_id: str
    topic_sub: str
    topic_pub: str
    link: Link
    caught_up: bool = False


@dataclass
class Link:
    """One connection to a broker, shared by every session of the accounts that use it."""

    key: str
    client: mqtt.Client
    topics: set[str] = field(default_factory=set)
    connected: threading.Event = field(default_factory=threading.Event)


class Bridge:
    def __init__(self) -> None:
        self.links: dict[str, Link] = {}
        self.watched: dict[str, Watched] = {}  # by topic
        self.events: queue.Queue[tuple[Watched, Any]] = queue.Queue()
        self._beats: dict[int, tuple[int, datetime]] = {}
        self._beats_lock = threading.Lock()
        self._logins: dict[int, tuple[str, str]] = {}
        self._wake = threading.Event()

    # --- main thread ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Watch, answer and apply until `stop` is set."""
        threading.Thread(target=self._listen_for_wakes, args=(stop,), daemon=True).start()
        next_scan = next_flush = 0.0
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_scan or self._wake.is_set():
                self._wake.clear()
                self._guarded(self.scan)
                next_scan = now + settings.MQTT_BRIDGE_SCAN_SECONDS
            if now >= next_flush:
                self._guarded(self.flush_heartbeats)
                next_flush = now + 1.0
            try:
                watched, message = self.events.get(timeout=0.1)
            except queue.Empty:
                continue
            self._guarded(lambda event=(watched, message): self.apply(*event))
        for link in self.links.values():
            link.client.disconnect()
            link.client.loop_stop()

    def _listen_for_wakes(self, stop: threading.Event) -> None:
        """Scan at once when a session was just opened (services.bridge_wake)."""
        while not stop.is_set():
            try:
                with redis.Redis.from_url(settings.REDIS_URL) as client, client.pubsub() as pubsub:
                    pubsub.subscribe(services.BRIDGE_CHANNEL)
                    while not stop.is_set():
                        if pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0):
                            self._wake.set()
            except redis.RedisError as exc:
                log.warning(
                    "bridge wake-ups lost (%s); scanning every %ss", exc, settings.MQTT_BRIDGE_SCAN_SECONDS
                )
                stop.wait(2)

    def _guarded(self, work: Any) -> None:
        try:
            close_old_connections()
            work()
        except Exception:
            log.exception("mqtt bridge step failed")

    def scan(self) -> None:
        """Watch every open Guiji session; forget the ones that ended."""
        sessions = list(
            LiveSession.objects.filter(account__kind=PlatformAccount.Kind.GUIJI, state__in=OPEN_STATES)
            .exclude(vendor_session_id="")
            .select_related("account", "room")
        )
        open_topics = set()
        for session in sessions:
            topic = str(session.vendor_data.get("topic_sub", ""))
            if not topic:
                continue
            open_topics.add(topic)
            if topic not in self.watched:
                self._watch(session, topic)
            watched = self.watched.get(topic)
            if watched and not watched.caught_up:
                self._catch_up(session, watched)
        for topic in set(self.watched) - open_topics:
            watched = self.watched.pop(topic)
            watched.link.topics.discard(topic)
            watched.link.client.unsubscribe(topic)
            log.info("no longer watching session %s", watched.vendor_session_id)

    def _watch(self, session: LiveSession, topic: str) -> None:
        link = self._link(session)
        if link is None:
            return
        watched = Watched(
            session_id=session.pk,
            vendor_session_id=session.vendor_session_id,
            topic_sub=topic,
            topic_pub=str(session.vendor_data.get("topic_pub", "")),
            link=link,
        )
        self.watched[topic] = watched
        link.topics.add(topic)
        link.client.subscribe(topic, qos=QOS)
        log.info("watching session %s on %s", session.vendor_session_id, topic)

    def _link(self, session: LiveSession) -> Link | None:
        account = session.account
        url = str(session.vendor_data.get("mqtt_url") or account.credential("mqtt_url") or settings.MQTT_URL)
        login = self._logins.get(account.pk)
        if login is None:
            try:
                login = call(account, lambda driver: driver.mqtt_login())  # type: ignore[attr-defined]
            except PlatformError as exc:
                log.warning("no MQTT login for %s yet: %s", account, exc)
                return None
            self._logins[account.pk] = login
        user, password = login
        key = f"{url}|{user}"
        link = self.links.get(key)
        if link is None:
            link = self._connect(key, url, user, password)
            self.links[key] = link
        return link

    def _connect(self, key: str, url: str, user: str, password: str) -> Link:
        parts = urlsplit(url)
        # A stable client id keeps the broker's session (and its queued messages) across restarts.
        client_id = "livedeck-bridge-" + hashlib.sha256(key.encode()).hexdigest()[:16]
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        if user:
            client.username_pw_set(user, password)
        link = Link(key=key, client=client)
        client.on_connect = lambda c, u, flags, reason, props: self._on_connect(link, reason)
        client.on_disconnect = lambda c, u, flags, reason, props: self._on_disconnect(link, reason)
        client.on_message = lambda c, u, message: self._on_message(link, message)
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.connect_async(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=30)
        client.loop_start()
        return link

    def _catch_up(self, session: LiveSession, watched: Watched) -> None:
        """A session made before the bridge subscribed may have said StreamPlay unheard: ask
        the platform for its play addresses (3.16) instead."""
        if session.live_state is not LiveState.READY or session.vendor_data.get("playaddr"):
            watched.caught_up = True
            return
        # Give StreamPlay its time first: it normally follows the make reply within a second.
        ready_for = (timezone.now() - (session.ready_at or session.created_at)).total_seconds()
        if ready_for < settings.GUIJI_STREAM_GRACE_SECONDS:
            return
        watched.caught_up = True
        try:
            addresses = call(session.account, lambda driver: driver.stream_path(session))  # type: ignore[attr-defined]
        except PlatformError as exc:
            log.info("play addresses of %s not available yet: %s", session.vendor_session_id, exc)
            watched.caught_up = False
            return
        self._stream_play(watched, addresses, code="getPath")

    def flush_heartbeats(self) -> None:
        with self._beats_lock:
            beats, self._beats = self._beats, {}
        if beats:
            services.heartbeats_received(beats=beats)
        ids = [watched.session_id for watched in self.watched.values()]
        if ids:
            services.heartbeats_flag_silent(
                session_ids=ids,
                silent_after=settings.GUIJI_SILENT_SECONDS,
                interval=settings.GUIJI_SILENT_SECONDS / 3,
            )

    def apply(self, watched: Watched, message: Any) -> None:
        """Turn one SessionState message into LiveDeck's events."""
        session = LiveSession.objects.select_related("account").filter(pk=watched.session_id).first()
        if session is None:
            return
        if isinstance(message, StreamPlay):
            self._stream_play(watched, message.addresses())
        elif isinstance(message, SessionDestroyed):
            stopping = session.stop_requested
            status = LiveStatus(
                state=LiveState.ENDED if stopping else LiveState.DROPPED,
                vendor_code="Destroy",
                reason=f"The platform destroyed the session: {message.cause}" if not stopping else "",
            )
            services.session_apply_status(session=session, status=status)
        elif isinstance(message, Show):
            if message.type == "dthuman":
                services.session_vendor_note(session_id=session.pk, changes={"showing": message.ud_code})
        elif isinstance(message, PlaylistProgress):
            self._progress(session, message)

    def _stream_play(
        self, watched: Watched, addresses: dict[str, dict[str, str]], code: str = "StreamPlay"
    ) -> None:
        session = LiveSession.objects.select_related("account").get(pk=watched.session_id)
        services.session_vendor_note(session_id=session.pk, changes={"playaddr": addresses}, broadcast=False)
        session.refresh_from_db()
        if (
            not services.session_apply_status(
                session=session, status=LiveStatus(state=LiveState.LIVE, vendor_code=code)
            )
            and session.room_id
        ):
            services.room_broadcast(room_id=session.room_id)

    def _progress(self, session: LiveSession, message: PlaylistProgress) -> None:
        from takeovers.services import takeover_progress

        pcm = str(message.now_pcm_id)
        show = [str(item) for item in session.vendor_data.get("playlist", [])]
        if pcm in show:
            # A paragraph of the show's script: show what the avatar is saying.
            now = {"pcm": pcm, "status": message.status, "at": timezone.now().isoformat()}
            services.session_vendor_note(session_id=session.pk, changes={"now_playing": now})
        else:
            takeover_progress(session=session, trace_id=pcm, code=f"gj-{message.status}")

    # --- paho's thread ----------------------------------------------------------------------

    def _on_connect(self, link: Link, reason: Any) -> None:
        log.warning("mqtt bridge connected to %s: %s", link.key.split("|")[0], reason)
        for topic in list(link.topics):
            link.client.subscribe(topic, qos=QOS)
        link.connected.set()

    def _on_disconnect(self, link: Link, reason: Any) -> None:
        link.connected.clear()
        log.warning("mqtt bridge lost %s: %s; reconnecting", link.key.split("|")[0], reason)

    def _on_message(self, link: Link, message: mqtt.MQTTMessage) -> None:
        watched = self.watched.get(message.topic)
        if watched is None:
            return
        try:
            parsed = parse_server_message(message.payload)
        except PlatformError as exc:
            log.warning("unreadable message on %s: %s", message.topic, exc)
            return
        if isinstance(parsed, HeartBeat):
            # Answered here and now: the database never delays a heartbeat.
            reply = heartbeat_reply(parsed, watched.vendor_session_id, watched.topic_sub)
            link.client.publish(watched.topic_pub, reply, qos=QOS)
            with self._beats_lock:
                count, _ = self._beats.get(watched.session_id, (0, timezone.now()))
                self._beats[watched.session_id] = (count + 1, timezone.now())
        elif not isinstance(parsed, Reply):
            self.events.put((watched, parsed))
