"""Test fixtures: a private Redis for the whole run, the sandbox, and a live LiveDeck stack
(daphne, a Celery worker, beat) sharing the test database, all on loopback ports."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.stack import Stack

# Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests
# make between browser steps are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

_RUN_DIR = Path(tempfile.mkdtemp(prefix="livedeck-tests-"))
_services = Stack(_RUN_DIR / "services")

# What the live stack runs with: heartbeats every 2 s so tests see many of them.
LIVE_ENV = {
    "HEARTBEAT_INTERVAL": "2",
    "HEARTBEAT_SCAN_SECONDS": "0.5",
    "HEARTBEAT_JITTER": "0.2",
    "STATUS_POLL_SECONDS": "0.5",
    "DEBUG": "true",
}


def pytest_configure(config: pytest.Config) -> None:
    """Point everything at a Redis of our own before anything connects to one."""
    from django.conf import settings

    # A test database of this run's own, so two runs on one machine cannot clobber each other.
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        settings.DATABASES["default"]["TEST"]["NAME"] = str(_RUN_DIR / "test.sqlite3")
    url = os.environ.get("LIVEDECK_TEST_REDIS_URL") or _services.start_redis()
    os.environ["REDIS_URL"] = url
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [url]
    settings.CACHES["default"]["LOCATION"] = url
    settings.CELERY_BROKER_URL = url
    from config.celery import app

    app.conf.broker_url = url


def pytest_unconfigure(config: pytest.Config) -> None:
    _services.stop()


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    """The sandbox platform, running as `manage.py run_sandbox` does."""
    with Stack(_RUN_DIR / "sandbox") as stack:
        yield stack.start_sandbox()


@pytest.fixture(scope="session")
def live_stack(django_db_setup: Any, django_db_blocker: Any, sandbox_url: str) -> Iterator[Stack]:
    """daphne + one Celery worker + beat on the test database, talking to the sandbox."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {**LIVE_ENV, "SANDBOX_URL": sandbox_url, "REDIS_URL": os.environ["REDIS_URL"]}
    if db["ENGINE"].endswith("sqlite3"):
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    stack = Stack(_RUN_DIR / "live", env=env)
    stack.sandbox_url = sandbox_url
    try:
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def sandbox_control(sandbox_url: str) -> Iterator[httpx.Client]:
    """The sandbox's control endpoints; faults and config are reset after each test."""
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        client.post("/_sandbox/reset")
        yield client
        client.delete("/_sandbox/faults")
        client.put("/_sandbox/config", json={"create_delay": 0.3, "heartbeat_threshold": 180})


def provision_softsugar(sandbox_url: str, token: str, callback_url: str) -> None:
    response = httpx.put(
        f"{sandbox_url}/_sandbox/softsugar/accounts/{token}", json={"callbackUrl": callback_url}, timeout=10
    )
    response.raise_for_status()


@pytest.fixture
def softsugar_account(transactional_db: None, live_stack: Stack) -> Any:
    """A SoftSugar account on the sandbox whose callbacks reach the live stack's daphne."""
    from rooms.models import PlatformAccount

    account = PlatformAccount.objects.create(
        name=f"Sandbox SoftSugar {secrets.token_hex(3)}",
        kind="softsugar",
        base_url=live_stack.sandbox_url,
        sandbox=True,
        credentials={"token": secrets.token_urlsafe(16)},
    )
    provision_softsugar(
        live_stack.sandbox_url,
        account.credential("token"),
        f"{live_stack.web_urls[0]}{account.callback_path()}",
    )
    return account
