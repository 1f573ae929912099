"""The catalog services: storing a platform's lists, asking for a sync, and the sync task."""

from __future__ import annotations

from typing import Any

import pytest

from materials import services, tasks
from materials.models import Anchor, AnchorScene, MaterialCategory, PublicMaterial, Voice, VoiceChangeVoice
from rooms.platforms.base import CatalogAnchor, CatalogCategory, CatalogMaterial, CatalogVoice, PlatformError
from tests.factories import AccountFactory, RoomFactory
from tests.materials.conftest import SCENE_SITTING, SCENE_STANDING, guiji_account, needs_catalog_driver, store

pytestmark = pytest.mark.django_db


# Storing ------------------------------------------------------------------------------------


def test_store_copies_every_list_of_the_catalog() -> None:
    account = guiji_account()

    report = store(account)

    assert (report.voices, report.anchors, report.scenes) == (2, 2, 3)
    assert (report.voice_changes, report.categories, report.materials, report.removed) == (1, 2, 3, 0)
    abby = Voice.objects.get(account=account, speaker="144")
    assert (abby.name, abby.custom, abby.tts_source, abby.language, abby.gender) == (
        "Abby",
        False,
        10,
        "en",
        "Female Voice",
    )
    assert abby.sample_url.endswith("/abby.wav") and abby.cover_url.endswith("/abby.jpg")
    assert Voice.objects.get(account=account, speaker="77").custom is True
    lin = Anchor.objects.get(account=account, code="robot-lin")
    assert (lin.vendor_id, lin.description, lin.custom) == (12312, "Warm presenter", False)
    sitting = lin.scenes.get(code="scene-sit")
    assert (sitting.proportion, sitting.posture, sitting.duration_seconds) == ("9:16", "2", 71)
    assert sitting.video_cover_url.endswith("/lin-sit-template.mp4")
    assert sitting.example_url.endswith("/lin-sit-preview.mp4")
    assert VoiceChangeVoice.objects.get(account=account).speaker == "vc-1"
    stickers = MaterialCategory.objects.get(account=account, vendor_id=10000)
    assert sorted(stickers.materials.values_list("name", flat=True)) == ["Shopping cart", "Thumbs up"]
    thumbs = PublicMaterial.objects.get(category=stickers, vendor_id=13)
    assert (thumbs.kind, thumbs.url, thumbs.cover_url) == (
        "gif",
        "https://assets.example.com/catalog/thumbs.gif",
        "https://assets.example.com/catalog/thumbs.gif",
    )


def test_storing_the_same_catalog_twice_updates_rows_in_place() -> None:
    account = guiji_account()
    store(account)
    first = {model: set(model.objects.values_list("pk", flat=True)) for model in (Voice, AnchorScene)}

    store(
        account,
        voices=[
            CatalogVoice(speaker="144", name="Abby (new)", custom=False, tts_source=10),
            CatalogVoice(speaker="77", name="Our brand voice", custom=True),
        ],
    )

    assert {model: set(model.objects.values_list("pk", flat=True)) for model in (Voice, AnchorScene)} == first
    assert Voice.objects.get(speaker="144").name == "Abby (new)"
    assert Voice.objects.get(speaker="144").sample_url == ""
    assert PublicMaterial.objects.count() == 3


def test_a_platform_voice_and_a_custom_voice_may_share_a_speaker_id() -> None:
    account = guiji_account()

    store(
        account,
        voices=[
            CatalogVoice(speaker="9", name="Platform nine", custom=False),
            CatalogVoice(speaker="9", name="Our nine", custom=True),
        ],
    )

    assert sorted(Voice.objects.values_list("name", flat=True)) == ["Our nine", "Platform nine"]


def test_rows_the_platform_no_longer_lists_are_removed() -> None:
    account = guiji_account()
    store(account)

    report = store(
        account,
        voices=[CatalogVoice(speaker="144", name="Abby", custom=False)],
        anchors=[CatalogAnchor(code="robot-lin", name="Lin", custom=False, scenes=(SCENE_SITTING,))],
        voice_changes=[],
        categories=[CatalogCategory(10000, "Stickers")],
        materials_by_category={10000: [CatalogMaterial(13, "Thumbs up")]},
    )

    assert list(Voice.objects.values_list("speaker", flat=True)) == ["144"]
    assert list(Anchor.objects.values_list("code", flat=True)) == ["robot-lin"]
    assert list(AnchorScene.objects.values_list("code", flat=True)) == ["scene-sit"]
    assert not VoiceChangeVoice.objects.exists()
    assert list(MaterialCategory.objects.values_list("vendor_id", flat=True)) == [10000]
    assert list(PublicMaterial.objects.values_list("vendor_id", flat=True)) == [13]
    # A voice; the standing scene, Max and his scene; a voice change; the cart, the banner and
    # the banner's category.
    assert report.removed == 8


def test_an_empty_catalog_empties_the_account_but_not_other_accounts() -> None:
    account, other = guiji_account(), guiji_account()
    store(account)
    store(other)

    store(account, voices=[], anchors=[], voice_changes=[], categories=[], materials_by_category={})

    assert not Voice.objects.filter(account=account).exists()
    assert not Anchor.objects.filter(account=account).exists()
    assert not PublicMaterial.objects.filter(category__account=account).exists()
    assert Voice.objects.filter(account=other).count() == 2
    assert AnchorScene.objects.filter(anchor__account=other).count() == 3
    assert PublicMaterial.objects.filter(category__account=other).count() == 3


def test_a_scene_a_room_opens_with_is_kept_with_its_anchor_when_the_platform_drops_it() -> None:
    account = guiji_account()
    store(account)
    scene = AnchorScene.objects.get(code="max-1")
    RoomFactory(name="Night show", account=account, anchor_scene=scene)

    report = store(account, anchors=[])

    assert list(AnchorScene.objects.values_list("code", flat=True)) == ["max-1"]
    assert list(Anchor.objects.values_list("code", flat=True)) == ["robot-max"]
    assert report.kept_scene_ids == [scene.pk]
    assert report.kept_scene_names == ["Max · Desk"]
    assert "a room still uses it" in report.summary()


def test_a_scene_a_room_may_switch_to_is_kept_and_the_rest_of_its_anchor_goes() -> None:
    account = guiji_account()
    store(account)
    standing = AnchorScene.objects.get(code="scene-stand")
    room = RoomFactory(account=account)
    room.switch_scenes.add(standing)

    report = store(account, anchors=[CatalogAnchor(code="robot-max", name="Max", custom=True, scenes=())])

    assert set(AnchorScene.objects.values_list("code", flat=True)) == {"scene-stand"}
    assert set(Anchor.objects.values_list("code", flat=True)) == {"robot-lin", "robot-max"}
    assert list(room.switch_scenes.all()) == [standing]
    assert report.kept_scene_ids == [standing.pk]


def test_a_scene_back_on_the_platform_is_updated_not_duplicated() -> None:
    account = guiji_account()
    store(account)
    scene = AnchorScene.objects.get(code="scene-stand")
    RoomFactory(account=account, anchor_scene=scene)
    store(account, anchors=[])

    report = store(account)

    assert report.kept_scene_ids == []
    assert AnchorScene.objects.filter(code="scene-stand").get().pk == scene.pk
    assert AnchorScene.objects.count() == 3


def test_voice_changes_not_listed_leave_the_stored_ones_alone() -> None:
    account = guiji_account()
    store(account)

    report = store(account, voice_changes=None)

    assert VoiceChangeVoice.objects.filter(account=account).count() == 1
    assert report.voice_changes == 0


def test_the_summary_says_what_was_stored() -> None:
    account = guiji_account()

    summary = store(account).summary()

    assert summary == (
        "2 voices, 2 anchors with 3 scenes, 1 voice-change voices, 3 public materials in 2 categories."
    )


def test_scene_duplicates_in_one_list_make_one_row() -> None:
    account = guiji_account()

    report = store(
        account,
        anchors=[
            CatalogAnchor(code="robot-lin", name="Lin", custom=False, scenes=(SCENE_SITTING, SCENE_SITTING)),
            CatalogAnchor(code="robot-lin", name="Lin", custom=False, scenes=(SCENE_STANDING,)),
        ],
    )

    assert (report.anchors, report.scenes) == (1, 2)
    assert AnchorScene.objects.count() == 2


# Asking for a sync ----------------------------------------------------------------------------


def test_a_sync_of_an_account_without_a_catalog_is_refused() -> None:
    account = AccountFactory()  # SoftSugar has no catalog

    with pytest.raises(services.SyncRefused, match="cannot fetch a catalog"):
        services.catalog_sync_request(account=account)

    assert services.catalog_sync_status(account_id=account.pk) is None


def test_syncing_an_account_without_a_catalog_fails_for_good() -> None:
    account = AccountFactory()

    with pytest.raises(PlatformError) as caught:
        services.catalog_sync(account_id=account.pk)

    assert caught.value.permanent


def test_syncing_an_account_deleted_meanwhile_does_nothing() -> None:
    assert services.catalog_sync(account_id=987654) is None


def test_the_task_notes_a_refusal_without_retrying() -> None:
    account = AccountFactory()  # SoftSugar has no catalog

    result = tasks.catalog_sync_task.apply(args=[account.pk])

    assert result.successful()
    status = services.catalog_sync_status(account_id=account.pk)
    assert status is not None and status.state == "failed"
    assert status.message.startswith("The platform refused: ")


def test_the_beat_entry_skips_accounts_whose_platform_has_no_catalog(published: list[Any]) -> None:
    AccountFactory()

    assert tasks.catalog_sync_all.apply().get() == 0
    assert [name for name, _ in published if name.startswith("materials.")] == []


@needs_catalog_driver
def test_sync_now_is_queued_once_after_commit(
    django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    account = guiji_account()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        status = services.catalog_sync_request(account=account)
        again = services.catalog_sync_request(account=account)

    assert (status.state, again.state) == ("queued", "queued")
    assert len(callbacks) == 1
    assert published == [("materials.tasks.catalog_sync_task", (account.pk,))]


@needs_catalog_driver
def test_the_beat_entry_queues_every_account_with_a_catalog(
    django_capture_on_commit_callbacks: Any, published: list[Any]
) -> None:
    accounts = [guiji_account(), guiji_account()]
    AccountFactory()

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.catalog_sync_all.apply().get() == 2

    assert sorted(args for _, args in published) == sorted((account.pk,) for account in accounts)


@needs_catalog_driver
def test_a_failed_fetch_is_retried_then_noted() -> None:
    account = guiji_account(base_url="http://127.0.0.1:9")  # nothing listens there

    result = tasks.catalog_sync_task.apply(args=[account.pk])

    status = services.catalog_sync_status(account_id=account.pk)
    assert status is not None and status.state == "failed", result.traceback
    assert "tries" in status.message or "refused" in status.message
