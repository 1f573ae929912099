"""The MQTT bridge process: keeps one connection to the broker that Guiji sessions speak through.

Guiji sessions (subscribing to each live session's topic, answering HeartBeat, turning
SessionState into LiveDeck events) arrive with the Guiji driver; until then the bridge holds
the connection, reconnects on its own, and reports its health in the log.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from django.conf import settings
from django.core.management.base import BaseCommand

log = logging.getLogger("livedeck.mqtt_bridge")


class Command(BaseCommand):
    help = "Run the MQTT bridge for Guiji live sessions."

    def handle(self, *args: Any, **options: Any) -> None:
        url = urlparse(settings.MQTT_URL)
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="livedeck-bridge", clean_session=True
        )
        if url.username:
            client.username_pw_set(url.username, url.password)
        client.on_connect = lambda c, u, flags, reason, props: log.warning(
            "mqtt bridge connected: %s", reason
        )
        client.on_disconnect = lambda c, u, flags, reason, props: log.warning(
            "mqtt bridge disconnected: %s", reason
        )
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        client.connect_async(url.hostname or "127.0.0.1", url.port or 1883, keepalive=30)
        client.loop_start()
        stop.wait()
        client.loop_stop()
        client.disconnect()
