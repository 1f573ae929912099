"""``manage.py mqtt_bridge``: listen to every open Guiji session over MQTT (see rooms.mqtt_bridge)."""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand

from rooms.mqtt_bridge import Bridge


class Command(BaseCommand):
    help = "Run the MQTT bridge for Guiji live sessions: answer heartbeats, apply session states."

    def handle(self, *args: Any, **options: Any) -> None:
        logging.getLogger("livedeck.mqtt_bridge").setLevel(logging.INFO)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        self.stdout.write("mqtt bridge running", ending="\n")
        self.stdout.flush()
        Bridge().run(stop)
