"""Test fixtures: a private Redis and MQTT broker for the whole run, the sandbox, and a live
LiveDeck stack (daphne, a Celery worker, beat) sharing the test database, all on loopback ports."""

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
    if settings.DATABASES["default"]["ENGINE"] == "config.sqlite":
        settings.DATABASES["default"]["TEST"]["NAME"] = str(_RUN_DIR / "test.sqlite3")
    url = os.environ.get("LIVEDECK_TEST_REDIS_URL") or _services.start_redis()
    os.environ["REDIS_URL"] = url
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [url]
    settings.CACHES["default"]["LOCATION"] = url
    settings.CELERY_BROKER_URL = url
    from config.celery import app

    app.conf.broker_url = url
    # Every process the run starts (sandboxes included) inherits this broker through MQTT_URL.
    mqtt = os.environ.get("LIVEDECK_TEST_MQTT_URL") or _services.start_broker()
    os.environ["MQTT_URL"] = mqtt
    settings.MQTT_URL = mqtt


def pytest_unconfigure(config: pytest.Config) -> None:
    _services.stop()


@pytest.fixture(scope="session")
def mqtt_url() -> str:
    """The run's private MQTT broker (mosquitto on a loopback port), started in pytest_configure."""
    return os.environ["MQTT_URL"]


@pytest.fixture(scope="session")
def sandbox_url(mqtt_url: str) -> Iterator[str]:
    """The sandbox platform, running as `manage.py run_sandbox` does."""
    with Stack(_RUN_DIR / "sandbox") as stack:
        yield stack.start_sandbox(mqtt_url=mqtt_url)


@pytest.fixture(scope="session")
def live_stack(django_db_setup: Any, django_db_blocker: Any, sandbox_url: str) -> Iterator[Stack]:
    """daphne + one Celery worker + beat on the test database, talking to the sandbox."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    env = {
        **LIVE_ENV,
        "SANDBOX_URL": sandbox_url,
        "REDIS_URL": os.environ["REDIS_URL"],
        "MQTT_URL": os.environ["MQTT_URL"],
    }
    if db["ENGINE"] == "config.sqlite":
        env["DATABASE_URL"] = f"sqlite:///{db['NAME']}"
    stack = Stack(_RUN_DIR / "live", env=env)
    stack.sandbox_url = sandbox_url
    try:
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        stack.start_bridge()
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


# MetaStudio ----------------------------------------------------------------------------------

# Paragraphs and takeovers spoken fast, so a test hears several in a few seconds.
METASTUDIO_CONFIG = {"create_delay": 0.3, "speech_seconds_per_char": 0.03, "min_sentence_seconds": 0.5}


@pytest.fixture
def metastudio_control(sandbox_control: httpx.Client) -> httpx.Client:
    """The sandbox's control endpoints, with MetaStudio's timings shrunk for tests (reset after each)."""
    sandbox_control.put("/_sandbox/config", json=METASTUDIO_CONFIG).raise_for_status()
    return sandbox_control


@pytest.fixture
def metastudio_account(transactional_db: None, live_stack: Stack, metastudio_control: httpx.Client) -> Any:
    """A MetaStudio account (AK/SK) on the sandbox; its callbacks reach the live stack's daphne."""
    from rooms.models import PlatformAccount

    access_key = secrets.token_hex(10)
    account = PlatformAccount.objects.create(
        name=f"Sandbox MetaStudio {access_key[:6]}",
        kind="metastudio",
        base_url=live_stack.sandbox_url,
        sandbox=True,
        credentials={
            "project_id": secrets.token_hex(16),
            "access_key": access_key,
            "secret_key": secrets.token_urlsafe(30),
        },
    )
    metastudio_control.put(
        f"/_sandbox/metastudio/accounts/{access_key}",
        json={"sk": account.credential("secret_key"), "project_id": account.credential("project_id")},
    ).raise_for_status()
    return account


@pytest.fixture
def metastudio_room(metastudio_account: Any, guiji_host: Any) -> Any:
    """A MetaStudio room with three paragraphs, an RTMP output and a rule answering price questions."""
    from rooms.models import ScriptParagraph
    from tests.factories import RoomFactory, ScriptFactory

    script = ScriptFactory(ms_model_asset_id="anchor-nina", ms_voice_asset_id="voice-nina")
    for position, text in enumerate(
        ["Welcome to the show, everyone.", "Here is the travel mug.", "And here is the linen shirt."]
    ):
        ScriptParagraph.objects.create(
            script=script, position=position, title=f"Part {position + 1}", text=text
        )
    room = RoomFactory(
        account=metastudio_account,
        script=script,
        hosts=[guiji_host],
        push_urls="rtmp://live.example.com/app",
        stream_key="first-key",
    )
    room.rules.create(name="Price", match="REGEX", value="price", reply_texts="It is in the pinned link.")
    return room


# Guiji ---------------------------------------------------------------------------------------

# The sandbox's platform anchors (rooms/sandbox/guiji_catalog.py): what a catalog sync would store.
GUIJI_SCENES = [
    ("R12312", "Andy", "369590278856773", "Andy standing"),
    ("R12312", "Andy", "369590278856774", "Andy at the desk"),
]
# Heartbeats every second, destroyed after 6 s unanswered; spoken fast so takeovers play in a second or two.
GUIJI_CONFIG = {
    "create_delay": 0.3,
    "guiji_heartbeat_interval": 1.0,
    "guiji_heartbeat_threshold": 6.0,
    "speech_seconds_per_char": 0.03,
    "min_sentence_seconds": 0.5,
}


@pytest.fixture
def guiji_control(sandbox_control: httpx.Client) -> httpx.Client:
    """The sandbox's control endpoints, with Guiji's timings shrunk for tests (reset after each)."""
    sandbox_control.put("/_sandbox/config", json=GUIJI_CONFIG).raise_for_status()
    return sandbox_control


@pytest.fixture
def guiji_account(transactional_db: None, live_stack: Stack, guiji_control: httpx.Client) -> Any:
    """A Guiji account on the sandbox, speaking MQTT through the run's broker."""
    from rooms.models import PlatformAccount

    app_id = secrets.token_hex(8)
    account = PlatformAccount.objects.create(
        name=f"Sandbox Guiji {app_id[:6]}",
        kind="guiji",
        base_url=live_stack.sandbox_url,
        sandbox=True,
        credentials={
            "app_id": app_id,
            "app_secret": secrets.token_urlsafe(16),
            "mqtt_url": os.environ["MQTT_URL"],
        },
    )
    guiji_control.put(
        f"/_sandbox/guiji/accounts/{app_id}", json={"appSecret": account.credential("app_secret")}
    ).raise_for_status()
    return account


@pytest.fixture
def guiji_host(transactional_db: None) -> Any:
    from tests.factories import UserFactory

    return UserFactory(roles=["host"])


@pytest.fixture
def guiji_room(guiji_account: Any, guiji_host: Any) -> Any:
    """A room on the Guiji account that opens with Andy standing and may switch to Andy at the desk."""
    from materials.models import Anchor, AnchorScene
    from tests.factories import RoomFactory

    scenes = []
    for code, name, scene_code, scene_name in GUIJI_SCENES:
        anchor, _ = Anchor.objects.get_or_create(
            account=guiji_account, code=code, defaults={"name": name, "vendor_id": 12312}
        )
        scene, _ = AnchorScene.objects.get_or_create(
            anchor=anchor,
            code=scene_code,
            defaults={
                "name": scene_name,
                "video_cover_url": f"https://assets.livedeck.local/guiji/scenes/{scene_code}_1080x1920.mp4",
            },
        )
        scenes.append(scene)
    room = RoomFactory(account=guiji_account, hosts=[guiji_host], anchor_scene=scenes[0])
    # Xiaoyun, a platform voice of the sandbox's catalog.
    room.script.tts_speaker, room.script.tts_source = "201", 10
    room.script.save()
    room.switch_scenes.add(scenes[1])
    return room
