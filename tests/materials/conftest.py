"""Fixtures for the catalog tests: a cache of each test's own, catalogs built from real dataclasses."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import before_task_publish

from materials.services import catalog_store
from rooms.models import PlatformAccount
from rooms.platforms import driver_class
from rooms.platforms.base import (
    Capability,
    CatalogAnchor,
    CatalogCategory,
    CatalogMaterial,
    CatalogScene,
    CatalogVoice,
    CatalogVoiceChange,
    PlatformError,
)
from tests.factories import AccountFactory


def _guiji_has_catalog() -> bool:
    try:
        return Capability.CATALOG in driver_class(PlatformAccount.Kind.GUIJI).base_capabilities
    except PlatformError:
        return False


GUIJI_HAS_CATALOG = _guiji_has_catalog()
needs_catalog_driver = pytest.mark.skipif(
    not GUIJI_HAS_CATALOG, reason="the Guiji driver (rooms/platforms/guiji.py) does not offer a catalog yet"
)


@pytest.fixture(autouse=True)
def own_cache(settings: Any) -> None:
    """Sync status lives in the cache; a test's own memory cache keeps tests (whose account ids
    repeat after rollbacks) from reading each other's."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": secrets.token_hex(8),
        }
    }


@pytest.fixture
def published() -> Iterator[list[tuple[str, tuple[Any, ...]]]]:
    """Every Celery task really published to the broker: (name, args)."""
    sent: list[tuple[str, tuple[Any, ...]]] = []

    def record(sender: str, body: Any, **kwargs: Any) -> None:
        sent.append((sender, tuple(body[0])))

    before_task_publish.connect(record, weak=False)
    yield sent
    before_task_publish.disconnect(record)


def guiji_account(**fields: Any) -> PlatformAccount:
    values: dict[str, Any] = {
        "kind": PlatformAccount.Kind.GUIJI,
        "credentials": {"app_id": "app", "app_secret": "secret", "mqtt_url": "mqtt://127.0.0.1:9"},
        **fields,
    }
    return AccountFactory(**values)


ASSETS = "https://assets.example.com/catalog"

SCENE_SITTING = CatalogScene(
    code="scene-sit",
    name="Studio, sitting",
    proportion="9:16",
    posture="2",
    duration_seconds=71,
    example_url=f"{ASSETS}/lin-sit-preview.mp4",
    video_cover_url=f"{ASSETS}/lin-sit-template.mp4",
    cover_url=f"{ASSETS}/lin-sit.png",
)
SCENE_STANDING = CatalogScene(
    code="scene-stand",
    name="Shop floor, standing",
    proportion="16:9",
    posture="1",
    duration_seconds=40,
    video_cover_url=f"{ASSETS}/lin-stand-template.mp4",
    cover_url=f"{ASSETS}/lin-stand.png",
)


def catalog(**changes: Any) -> dict[str, Any]:
    """A small catalog, as a driver returns it; `changes` replaces whole lists."""
    lists: dict[str, Any] = {
        "voices": [
            CatalogVoice(
                speaker="144",
                name="Abby",
                custom=False,
                tts_source=10,
                language="en",
                gender="Female Voice",
                sample_url=f"{ASSETS}/abby.wav",
                cover_url=f"{ASSETS}/abby.jpg",
            ),
            CatalogVoice(speaker="77", name="Our brand voice", custom=True, language="cn"),
        ],
        "anchors": [
            CatalogAnchor(
                code="robot-lin",
                name="Lin",
                custom=False,
                vendor_id=12312,
                description="Warm presenter",
                cover_url=f"{ASSETS}/lin.jpg",
                scenes=(SCENE_SITTING, SCENE_STANDING),
            ),
            CatalogAnchor(code="robot-max", name="Max", custom=True, scenes=(CatalogScene("max-1", "Desk"),)),
        ],
        "voice_changes": [
            CatalogVoiceChange(speaker="vc-1", name="Cartoon", sample_url=f"{ASSETS}/cartoon.wav"),
        ],
        "categories": [CatalogCategory(10000, "Stickers"), CatalogCategory(50000, "Live pendants")],
        "materials_by_category": {
            10000: [
                CatalogMaterial(13, "Thumbs up", "gif", f"{ASSETS}/thumbs.gif", f"{ASSETS}/thumbs.gif"),
                CatalogMaterial(14, "Shopping cart", "gif", f"{ASSETS}/cart.gif", f"{ASSETS}/cart.gif"),
            ],
            50000: [CatalogMaterial(20, "Sale banner", "png", f"{ASSETS}/sale.png")],
        },
    }
    lists.update(changes)
    return lists


def store(account: PlatformAccount, **changes: Any) -> Any:
    return catalog_store(account=account, **catalog(**changes))
