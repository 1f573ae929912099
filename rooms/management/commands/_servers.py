"""Shared by the commands that start a local server (Redis, the MQTT broker) for `make run`."""

from __future__ import annotations

import os
import shutil
import socket
import time


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_forever(message: str) -> None:
    """Keep the process slot alive (honcho stops everything when one process exits)."""
    print(message, flush=True)
    while True:
        time.sleep(3600)


def exec_first(candidates: list[list[str]], what: str) -> None:
    """Replace this process with the first candidate whose program exists."""
    for argv in candidates:
        program = argv[0] if os.path.isabs(argv[0]) else shutil.which(argv[0])
        if program and os.path.exists(program):
            print(f"starting {what}: {' '.join(argv)}", flush=True)
            os.execv(program, [program, *argv[1:]])
    raise SystemExit(f"No {what} found: install it (make deps does) or set its URL to one that runs.")
