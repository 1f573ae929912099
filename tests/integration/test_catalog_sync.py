"""Catalog sync end to end: the Guiji driver fetches the sandbox's catalog over real sockets and
LiveDeck stores it; a voice-change trial comes back as a URL; a staff member uploads library
materials to a Guiji room from admin and the ids Guiji gave them are kept."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from materials import services
from materials.models import Anchor, AnchorScene, MaterialCategory, PublicMaterial, Voice, VoiceChangeVoice
from rooms.models import PlatformAccount
from rooms.platforms import call

pytestmark = [pytest.mark.integration]


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


def test_staff_upload_library_materials_to_a_guiji_room_and_keep_their_ids(
    guiji_account: PlatformAccount,
) -> None:
    from django.test import Client
    from django.urls import reverse

    from materials.models import Material
    from tests.factories import RoomFactory, UserFactory

    services.catalog_sync(account_id=guiji_account.pk)
    scene = AnchorScene.objects.filter(anchor__account=guiji_account).first()
    room = RoomFactory(account=guiji_account, anchor_scene=scene)
    text = Material.objects.create(
        kind="text", name="Welcome", text="Welcome to the show, everyone!", tts_speaker="201", tts_source=10
    )
    audio = Material.objects.create(kind="audio", name="Jingle", url="https://assets.livedeck.local/a.wav")
    image = Material.objects.create(kind="image", name="Logo", url="https://assets.livedeck.local/logo.png")
    staff = UserFactory(roles=["staff"], is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)

    answer = client.post(
        reverse("admin:materials_material_changelist"),
        {"action": "upload_to_guiji", "room": room.pk, "_selected_action": [text.pk, audio.pk, image.pk]},
        follow=True,
    )

    assert answer.status_code == 200
    page = answer.content.decode()
    assert "Uploaded 2 material(s)" in page, [str(m) for m in answer.context["messages"]]
    assert "Logo: Guiji takes text and audio materials only" in page
    text.refresh_from_db()
    audio.refresh_from_db()
    room.refresh_from_db()
    assert text.vendor_material_id and audio.vendor_material_id
    assert room.vendor_room_id
    # The platform holds them under those ids, in that room (3.7).
    held = {
        str(item.id): item
        for kind in ("TEXT", "AUDIO")
        for item in call(
            guiji_account,
            lambda driver, kind=kind: driver.material_query(room.vendor_room_id, material_type=kind),  # type: ignore[attr-defined]
        ).records
    }
    assert held[text.vendor_material_id].text == "Welcome to the show, everyone!"
    assert held[audio.vendor_material_id].materialUrl == "https://assets.livedeck.local/a.wav"
