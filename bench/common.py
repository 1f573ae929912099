"""What every benchmark needs: a private world in a temp folder, bounded in time, and the
few helpers that turn samples into the printed figures.

A `World` owns a temp folder with its own SQLite file, its own redis-server and whatever
else the benchmark starts through `tests.stack.Stack`; leaving the `with` block (normally,
on an error, on Ctrl-C, on SIGTERM or when the time budget runs out) stops all of it.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import FrameType
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

import psutil  # noqa: E402

from tests.stack import Stack  # noqa: E402


class OutOfTime(Exception):
    """The benchmark's time budget ran out; everything it started is stopped on the way out."""


PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "FIELD_ENCRYPTION_KEY": secrets.token_urlsafe(50),
    "SECURE_SSL_REDIRECT": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
}


def loopback_client(base_url: str) -> Any:
    """An httpx client that sends Secure cookies over plain HTTP: a benchmark's client on
    loopback, standing in for a browser behind the TLS proxy of a production deployment."""
    import httpx

    client = httpx.Client(base_url=base_url, timeout=15)

    def keep_over_http(response: httpx.Response) -> None:
        for cookie in client.cookies.jar:
            cookie.secure = False

    client.event_hooks["response"] = [keep_over_http]
    return client


class World:
    """A temp folder, a SQLite database, a redis-server, Django set up on them, a `Stack`."""

    def __init__(
        self,
        name: str,
        *,
        budget: float,
        env: dict[str, str] | None = None,
        keep: bool = False,
        production: bool = False,
    ):
        """`production`: run with DEBUG off, as deployed (no query log, collected static files),
        over plain HTTP on loopback: the HTTPS redirect is off, and clients must send the Secure
        cookies themselves (`loopback_client`), as the TLS proxy in front of LiveDeck would."""
        self.name = name
        self.production = production
        self.budget = budget
        self.keep = keep
        self.folder = Path(tempfile.mkdtemp(prefix=f"livedeck-bench-{name}-"))
        self.env = {
            "DATABASE_URL": f"sqlite:///{self.folder / 'bench.sqlite3'}",
            "LIVEDECK_VAR_DIR": str(self.folder),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "CHANNEL_PREFIX": f"bench-{name}",
            **(PRODUCTION_ENV if production else {"DEBUG": "true"}),
            **(env or {}),
        }
        self.stack: Stack | None = None
        self.started = time.monotonic()
        self._failed = False

    def __enter__(self) -> World:
        signal.signal(signal.SIGALRM, self._out_of_time)
        signal.signal(signal.SIGTERM, self._terminated)
        signal.alarm(max(1, math.ceil(self.budget)))
        os.environ.update(self.env)
        self.stack = Stack(self.folder / "stack", env=self.env)
        redis_url = self.stack.start_redis()
        os.environ["REDIS_URL"] = redis_url
        # Settings read the environment on import: set up Django only now.
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        if self.production:
            call_command("collectstatic", verbosity=0, interactive=False)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        signal.alarm(0)
        self._failed = exc_type is not None
        if self.stack is not None:
            if self._failed:
                print(f"\n(logs of the failed run: {self.stack.folder})", file=sys.stderr)
            self.stack.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if not self.keep and not self._failed:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _out_of_time(self, signum: int, frame: FrameType | None) -> None:
        raise OutOfTime(f"{self.name}: the time budget of {self.budget:.0f}s ran out")

    @staticmethod
    def _terminated(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(f"terminated by signal {signum}")

    def elapsed(self) -> float:
        return time.monotonic() - self.started


# Figures ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def spread(values: list[float]) -> dict[str, float]:
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values, default=math.nan),
    }


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.inf


def goal(text: str, met: bool, figure: str = "") -> str:
    return f"  [{'PASS' if met else 'MISS'}] {text}" + (f": {figure}" if figure else "")


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.node()} · {psutil.cpu_count()} cores · Python {platform.python_version()} · "
        f"{platform.system()} {platform.release()} · load {load}"
    )


def header(title: str, settings: Iterable[tuple[str, Any]]) -> None:
    print(f"== {title} ==  {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    print(f"   machine: {machine()}")
    print("   " + " · ".join(f"{name} {value}" for name, value in settings))


# Processes ----------------------------------------------------------------------------------


class TreeCPU:
    """CPU seconds (user + system) used by a process and every process it forked.

    Each pid's last sample is kept, so a pool child that exits keeps counting what it used.
    """

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.seen: dict[int, float] = {}

    def sample(self) -> float:
        with contextlib.suppress(psutil.NoSuchProcess):
            for proc in [self.root, *self.root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = proc.cpu_times()
                    self.seen[proc.pid] = times.user + times.system
        return sum(self.seen.values())


class LogTail:
    """Follows a log file in a thread; each line matching `pattern` is kept with the
    monotonic time it was seen at (within `poll` seconds of being written)."""

    def __init__(self, path: Path, pattern: str, poll: float = 0.2) -> None:
        self.path = path
        self.pattern = re.compile(pattern)
        self.poll = poll
        self.matches: list[tuple[float, re.Match[str]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._offset = 0

    def start(self) -> LogTail:
        self._offset = self.path.stat().st_size if self.path.exists() else 0
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._read()

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            self._read()

    def _read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        end = chunk.rfind(b"\n") + 1
        self._offset += end
        now = time.monotonic()
        for line in chunk[:end].decode(errors="replace").splitlines():
            found = self.pattern.search(line)
            if found:
                self.matches.append((now, found))


def raise_open_files(wanted: int) -> int:
    """Raise this process's (and so its children's) open-file limit as far as allowed."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
