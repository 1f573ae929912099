"""The sandbox's connection to the MQTT broker Guiji sessions speak through.

paho runs its network loop in its own thread (``loop_start``): it connects, reconnects by itself
when the broker goes away, and subscribes ``live-proxy-0`` again on every connect. Each message is
handed to the asyncio loop with ``call_soon_threadsafe``, so all session state changes happen there.
Publishing is thread-safe in paho and is done from the asyncio loop.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from .guiji_state import TOPIC_PUB

logger = logging.getLogger("rooms.sandbox.guiji")

QOS = 1
KEEPALIVE_SECONDS = 15
SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}

Handler = Callable[[str, bytes], None]


def masked(url: str) -> str:
    """The broker URL without its password, for logs and the control API."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


class MqttLink:
    """One client connection: subscribes the vendor's topicPub, publishes to sessions' topicSub."""

    def __init__(self, url: str, on_message: Handler) -> None:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError(f"broker URL must be mqtt://host:port or mqtts://host:port, not {url!r}")
        tls = SCHEMES[parts.scheme]
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or (8883 if tls else 1883)
        self.connected = False
        self.subscribed = False
        self._handler = on_message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unreachable_logged = False
        client_id = f"livedeck-sandbox-{uuid.uuid4().hex[:12]}"
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        if parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        if tls:
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.client.connect_async(self.host, self.port, keepalive=KEEPALIVE_SECONDS)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """QoS 1; while the broker is away paho keeps the message and sends it after reconnecting."""
        self.client.publish(topic, json.dumps(message, ensure_ascii=False), qos=QOS)

    def describe(self) -> dict[str, Any]:
        return {"url": masked(self.url), "connected": self.connected, "subscribed": self.subscribed}

    # --- paho's thread ---------------------------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            logger.warning("Guiji MQTT: broker %s refused the connection: %s", masked(self.url), reason)
            return
        self.connected = True
        self._unreachable_logged = False
        client.subscribe(TOPIC_PUB, qos=QOS)
        logger.info("Guiji MQTT: connected to %s", masked(self.url))

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        if not self._unreachable_logged:
            self._unreachable_logged = True
            logger.warning("Guiji MQTT: cannot reach broker %s; retrying", masked(self.url))

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if self.connected:
            logger.warning("Guiji MQTT: lost broker %s (%s); reconnecting", masked(self.url), reason)
        self.connected = False
        self.subscribed = False

    def _on_subscribe(
        self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any
    ) -> None:
        self.subscribed = all(not reason.is_failure for reason in reasons)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._handler, message.topic, bytes(message.payload))
        except RuntimeError:  # the loop closed while the process stops
            return
