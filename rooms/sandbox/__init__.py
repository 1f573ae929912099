"""The sandbox: an in-memory emulator of the vendor platforms LiveDeck drives.

It is written from the vendor documents alone and shares no code with ``rooms.platforms`` (neither
imports the other), so a misreading in a driver is caught here instead of being copied. It needs
neither Django nor a database: ``serve()`` runs it under daphne, ``python -m rooms.sandbox`` and
``manage.py run_sandbox`` both call it.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from pydantic import TypeAdapter

from .app import SandboxApp
from .softsugar_models import AccountFileEntry

__all__ = ["SandboxApp", "build_app", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100


def build_app(*, accounts_file: str | Path | None = None, verbose: bool = False) -> SandboxApp:
    """A fresh application, with the accounts of ``accounts_file`` provisioned."""
    app = SandboxApp(verbose=verbose)
    if accounts_file:
        raw = json.loads(Path(accounts_file).read_text(encoding="utf-8"))
        entries = TypeAdapter(list[AccountFileEntry]).validate_python(raw)
        app.softsugar.provision_all(entries)
    return app


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    accounts_file: str | Path | None = None,
    *,
    verbose: bool = False,
) -> None:
    """Serve the sandbox with daphne until interrupted."""
    from daphne.access import AccessLogGenerator
    from daphne.server import Server

    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(message)s")
    app = build_app(accounts_file=accounts_file, verbose=verbose)
    interface = host.replace(":", r"\:")

    def ready() -> None:
        print(f"sandbox listening on http://{host}:{port}", flush=True)

    server = Server(
        application=app,
        endpoints=[f"tcp:port={port}:interface={interface}"],
        action_logger=AccessLogGenerator(sys.stdout) if verbose else None,
        verbosity=1 if verbose else 0,
        ready_callable=ready,
    )
    server.run()
    if server.abort_start:
        raise SystemExit(1)
