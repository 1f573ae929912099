"""Catalog sync end to end: the Guiji driver fetches the sandbox's catalog over real sockets and
LiveDeck stores it; a voice-change trial comes back as a URL."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from materials import services
from materials.models import Anchor, AnchorScene, MaterialCategory, PublicMaterial, Voice, VoiceChangeVoice
from rooms.models import PlatformAccount
from tests.materials.conftest import GUIJI_HAS_CATALOG

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        not GUIJI_HAS_CATALOG,
        reason="the Guiji driver (rooms/platforms/guiji.py) does not offer a catalog yet",
    ),
]


@pytest.fixture
def guiji_account(db: None, sandbox_url: str, settings: Any) -> PlatformAccount:
    """A Guiji account the sandbox knows (its app id and secret provisioned there)."""
    app_id, app_secret = f"app-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    response = httpx.put(
        f"{sandbox_url}/_sandbox/guiji/accounts/{app_id}", json={"appSecret": app_secret}, timeout=10
    )
    response.raise_for_status()
    return PlatformAccount.objects.create(
        name=f"Sandbox Guiji {app_id}",
        kind=PlatformAccount.Kind.GUIJI,
        base_url=sandbox_url,
        sandbox=True,
        credentials={"app_id": app_id, "app_secret": app_secret, "mqtt_url": settings.MQTT_URL},
    )


def test_a_sync_stores_the_sandbox_catalog(guiji_account: PlatformAccount) -> None:
    report = services.catalog_sync(account_id=guiji_account.pk)

    assert report is not None
    assert report.voices == Voice.objects.filter(account=guiji_account).count() > 0
    assert report.anchors == Anchor.objects.filter(account=guiji_account).count() > 0
    assert report.scenes == AnchorScene.objects.filter(anchor__account=guiji_account).count() > 0
    assert report.categories == MaterialCategory.objects.filter(account=guiji_account).count() > 0
    assert report.materials == PublicMaterial.objects.filter(category__account=guiji_account).count()
    assert all(
        scene.code and scene.name for scene in AnchorScene.objects.filter(anchor__account=guiji_account)
    )
    status = services.catalog_sync_status(account_id=guiji_account.pk)
    assert status is not None and status.state == "done"


def test_a_second_sync_changes_nothing(guiji_account: PlatformAccount) -> None:
    first = services.catalog_sync(account_id=guiji_account.pk)
    voices = set(Voice.objects.filter(account=guiji_account).values_list("pk", flat=True))

    second = services.catalog_sync(account_id=guiji_account.pk)

    assert first is not None and second is not None
    assert second.removed == 0
    assert (second.voices, second.anchors, second.scenes) == (first.voices, first.anchors, first.scenes)
    assert set(Voice.objects.filter(account=guiji_account).values_list("pk", flat=True)) == voices


def test_a_voice_change_trial_comes_back_as_a_url(guiji_account: PlatformAccount) -> None:
    services.catalog_sync(account_id=guiji_account.pk)
    voice = VoiceChangeVoice.objects.filter(account=guiji_account).first()
    if voice is None:
        pytest.skip("the sandbox lists no voice-change voices for this account")

    url = services.voice_change_trial(account_id=guiji_account.pk, speaker=voice.speaker, text="Hello there")

    assert url.startswith(("http://", "https://"))
