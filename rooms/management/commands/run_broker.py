"""Start the MQTT broker for local runs: mosquitto from PATH, else the embedded amqtt broker."""

from __future__ import annotations

import shutil
import sys
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand

from rooms.management.commands._servers import exec_first, port_open, wait_forever


class Command(BaseCommand):
    help = "Run a local MQTT broker on MQTT_URL's port (loopback only)."

    def handle(self, *args: Any, **options: Any) -> None:
        url = urlparse(settings.MQTT_URL)
        host, port = url.hostname or "127.0.0.1", url.port or 1883
        if port_open(host, port):
            wait_forever(f"An MQTT broker already answers on {host}:{port}; using it.")
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        if shutil.which("mosquitto"):
            conf = settings.VAR_DIR / "mosquitto.conf"
            conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
            exec_first([["mosquitto", "-c", str(conf)]], "MQTT broker")
        conf = settings.VAR_DIR / "amqtt.yaml"
        listener = f"listeners:\n  default:\n    type: tcp\n    bind: 127.0.0.1:{port}\n"
        conf.write_text(f"{listener}auth:\n  allow-anonymous: true\n")
        amqtt = shutil.which("amqtt") or str(settings.BASE_DIR / ".venv-tools" / "bin" / "amqtt")
        exec_first(
            [
                [amqtt, "-c", str(conf)],
                [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)],
            ],
            "MQTT broker",
        )
