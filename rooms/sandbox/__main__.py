"""``python -m rooms.sandbox [--host H] [--port P] [--accounts FILE] [--mqtt-url URL] [--verbose]``.

No Django needed. The broker URL defaults to the ``MQTT_URL`` environment variable (the one
LiveDeck's settings read); without either, Guiji sessions cannot be made.
"""

from __future__ import annotations

import argparse
import os

from . import DEFAULT_HOST, DEFAULT_PORT, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rooms.sandbox", description="Run the vendor sandbox.")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--accounts", help="JSON list of accounts to provision at start")
    parser.add_argument(
        "--mqtt-url", default=os.environ.get("MQTT_URL") or None, help="MQTT broker for Guiji sessions"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.accounts, verbose=args.verbose, mqtt_url=args.mqtt_url)


if __name__ == "__main__":
    main()
