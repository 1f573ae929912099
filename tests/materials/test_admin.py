"""Admin lists and shows every catalog model, read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from materials.models import Anchor, AnchorScene, MaterialCategory, PublicMaterial, Voice, VoiceChangeVoice
from tests.materials.conftest import guiji_account, store

pytestmark = pytest.mark.django_db

MODELS = [Voice, Anchor, AnchorScene, VoiceChangeVoice, MaterialCategory, PublicMaterial]


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "x"))
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_admin_lists_searches_and_shows_catalog_rows(admin_client_: Client, model: Any) -> None:
    store(guiji_account())
    row = model.objects.first()
    info = (model._meta.app_label, model._meta.model_name)

    listing = admin_client_.get(reverse("admin:{}_{}_changelist".format(*info)), {"q": "a"})
    detail = admin_client_.get(reverse("admin:{}_{}_change".format(*info), args=[row.pk]))

    assert listing.status_code == 200
    assert detail.status_code == 200
    assert admin_client_.get(reverse("admin:{}_{}_add".format(*info))).status_code == 403


def test_admin_shows_anchor_covers_and_scene_counts(admin_client_: Client) -> None:
    store(guiji_account())

    html = admin_client_.get(reverse("admin:materials_anchor_changelist")).content.decode()

    assert 'src="https://assets.example.com/catalog/lin.jpg"' in html
    assert '<td class="field-scene_count">2</td>' in html
