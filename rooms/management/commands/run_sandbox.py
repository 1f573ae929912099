"""``manage.py run_sandbox``: serve the vendor sandbox (no database needed)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from rooms.sandbox import DEFAULT_HOST, DEFAULT_PORT, serve


class Command(BaseCommand):
    help = "Serve the vendor sandbox (SoftSugar, Guiji, ...) with daphne."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default=DEFAULT_HOST)
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument("--accounts", help="JSON list of accounts to provision at start")
        parser.add_argument(
            "--mqtt-url",
            default=settings.MQTT_URL,
            help="MQTT broker Guiji sessions speak through (default: MQTT_URL); empty turns Guiji MQTT off",
        )
        parser.add_argument("--verbose", action="store_true", help="log every request")

    def handle(self, *args: Any, **options: Any) -> None:
        serve(
            options["host"],
            options["port"],
            options["accounts"],
            verbose=options["verbose"],
            mqtt_url=options["mqtt_url"] or None,
        )
