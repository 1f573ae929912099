"""What LiveDeck does with the platforms' catalogs: store them, fetch them, and try a voice change.

The catalog rows are copies of what a platform lists for an account. `catalog_store` makes the
stored copy match the platform's list; `catalog_sync` fetches that list through the account's
driver. How the last sync went is kept in the cache, where every process sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from config.celery import app as celery_app
from materials.models import (
    Anchor,
    AnchorScene,
    Material,
    MaterialCategory,
    PublicMaterial,
    Voice,
    VoiceChangeVoice,
)
from materials.selectors import account_has_catalog, catalog_accounts, scenes_in_use
from rooms.models import PlatformAccount, Room
from rooms.platforms import call
from rooms.platforms.base import (
    CatalogAnchor,
    CatalogCategory,
    CatalogMaterial,
    CatalogVoice,
    CatalogVoiceChange,
    Driver,
    PlatformError,
)

log = logging.getLogger(__name__)

# How long the outcome of a sync is remembered; a sync runs every few hours.
STATUS_SECONDS = 7 * 24 * 3600
# A sync asked for this recently and not yet finished is not asked for again.
PENDING_FOR = timedelta(minutes=10)


class SyncRefused(Exception):
    """A sync that cannot be asked for; the message says why, in words."""


# Storing ------------------------------------------------------------------------------------


@dataclass
class CatalogReport:
    """What one store did: rows stored per kind, rows removed, and scenes kept for rooms."""

    voices: int = 0
    anchors: int = 0
    scenes: int = 0
    voice_changes: int = 0
    categories: int = 0
    materials: int = 0
    removed: int = 0
    # Scenes the platform no longer lists that a room still opens with or switches to.
    kept_scene_ids: list[int] = field(default_factory=list)
    kept_scene_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"{self.voices} voices, {self.anchors} anchors with {self.scenes} scenes, "
            f"{self.voice_changes} voice-change voices, {self.materials} public materials "
            f"in {self.categories} categories"
        )
        if self.removed:
            text += f"; removed {self.removed} no longer offered"
        if self.kept_scene_names:
            text += (
                f"; kept {', '.join(self.kept_scene_names)}: gone from the platform, but a room still uses it"
            )
        return ". ".join([text, *self.notes]) + "."


def catalog_store(
    *,
    account: PlatformAccount,
    voices: Sequence[CatalogVoice],
    anchors: Sequence[CatalogAnchor],
    voice_changes: Sequence[CatalogVoiceChange] | None,
    categories: Sequence[CatalogCategory],
    materials_by_category: Mapping[int, Sequence[CatalogMaterial]],
) -> CatalogReport:
    """Make the account's stored catalog match the platform's lists, in one transaction.

    Rows the platform no longer lists are removed, except anchor scenes a room still uses (and
    their anchors). `voice_changes=None` leaves the stored voice-change voices as they are (the
    account may not be allowed to list them); `materials_by_category` is keyed by category vendor id.
    """
    report = CatalogReport()
    with transaction.atomic():
        _store_voices(account, voices, report)
        _store_anchors(account, anchors, report)
        if voice_changes is not None:
            _store_voice_changes(account, voice_changes, report)
        _store_categories(account, categories, materials_by_category, report)
    return report


def _store_voices(account: PlatformAccount, voices: Sequence[CatalogVoice], report: CatalogReport) -> None:
    seen = []
    for voice in voices:
        row, _ = Voice.objects.update_or_create(
            account=account,
            custom=voice.custom,
            speaker=voice.speaker,
            defaults={
                "name": voice.name,
                "tts_source": voice.tts_source,
                "language": voice.language,
                "gender": voice.gender,
                "sample_url": voice.sample_url,
                "cover_url": voice.cover_url,
            },
        )
        seen.append(row.pk)
    report.voices = len(set(seen))
    report.removed += Voice.objects.filter(account=account).exclude(pk__in=seen).delete()[0]


def _store_anchors(account: PlatformAccount, anchors: Sequence[CatalogAnchor], report: CatalogReport) -> None:
    in_use = scenes_in_use(account)
    seen_anchors, seen_scenes = [], []
    for anchor in anchors:
        row, _ = Anchor.objects.update_or_create(
            account=account,
            custom=anchor.custom,
            code=anchor.code,
            defaults={
                "vendor_id": anchor.vendor_id,
                "name": anchor.name,
                "description": anchor.description,
                "cover_url": anchor.cover_url,
            },
        )
        seen_anchors.append(row.pk)
        for scene in anchor.scenes:
            scene_row, _ = AnchorScene.objects.update_or_create(
                anchor=row,
                code=scene.code,
                defaults={
                    "name": scene.name,
                    "proportion": scene.proportion,
                    "posture": scene.posture,
                    "duration_seconds": scene.duration_seconds,
                    "example_url": scene.example_url,
                    "video_cover_url": scene.video_cover_url,
                    "cover_url": scene.cover_url,
                },
            )
            seen_scenes.append(scene_row.pk)
    report.anchors = len(set(seen_anchors))
    report.scenes = len(set(seen_scenes))

    # A room's opening scene is PROTECTed, and a switch scene would silently vanish from the room:
    # both stay (with their anchor) until no room uses them.
    gone = AnchorScene.objects.filter(anchor__account=account).exclude(pk__in=seen_scenes)
    for kept in gone.select_related("anchor").filter(pk__in=in_use):
        report.kept_scene_ids.append(kept.pk)
        report.kept_scene_names.append(str(kept))
    report.removed += gone.exclude(pk__in=in_use).delete()[0]
    report.removed += (
        Anchor.objects.filter(account=account)
        .exclude(pk__in=seen_anchors)
        .exclude(scenes__pk__in=in_use)
        .delete()[0]
    )


def _store_voice_changes(
    account: PlatformAccount, voice_changes: Sequence[CatalogVoiceChange], report: CatalogReport
) -> None:
    seen = []
    for voice in voice_changes:
        row, _ = VoiceChangeVoice.objects.update_or_create(
            account=account,
            speaker=voice.speaker,
            defaults={"name": voice.name, "sample_url": voice.sample_url},
        )
        seen.append(row.pk)
    report.voice_changes = len(set(seen))
    report.removed += VoiceChangeVoice.objects.filter(account=account).exclude(pk__in=seen).delete()[0]


def _store_categories(
    account: PlatformAccount,
    categories: Sequence[CatalogCategory],
    materials_by_category: Mapping[int, Sequence[CatalogMaterial]],
    report: CatalogReport,
) -> None:
    seen_categories, seen_materials = [], []
    for category in categories:
        row, _ = MaterialCategory.objects.update_or_create(
            account=account, vendor_id=category.vendor_id, defaults={"name": category.name}
        )
        seen_categories.append(row.pk)
        for material in materials_by_category.get(category.vendor_id, ()):
            material_row, _ = PublicMaterial.objects.update_or_create(
                category=row,
                vendor_id=material.vendor_id,
                defaults={
                    "name": material.name,
                    "kind": material.kind,
                    "url": material.url,
                    "cover_url": material.cover_url,
                },
            )
            seen_materials.append(material_row.pk)
    report.categories = len(set(seen_categories))
    report.materials = len(set(seen_materials))
    report.removed += (
        PublicMaterial.objects.filter(category__account=account).exclude(pk__in=seen_materials).delete()[0]
    )
    report.removed += (
        MaterialCategory.objects.filter(account=account).exclude(pk__in=seen_categories).delete()[0]
    )


# Fetching -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fetched:
    voices: list[CatalogVoice]
    anchors: list[CatalogAnchor]
    voice_changes: list[CatalogVoiceChange] | None
    voice_change_problem: str
    categories: list[CatalogCategory]
    materials_by_category: dict[int, list[CatalogMaterial]]


async def _catalog_fetch(driver: Driver) -> _Fetched:
    # One list after another: this runs in the background every few hours, and the vendor's rate
    # limits are not documented.
    voices = await driver.catalog_voices()
    anchors = await driver.catalog_anchors()
    try:
        voice_changes: list[CatalogVoiceChange] | None = await driver.catalog_voice_changes()
        problem = ""
    except PlatformError as exc:
        # Guiji lists voice changes only for accounts its support has enabled (3.11): the rest of
        # the catalog is still worth storing.
        if not exc.permanent:
            raise
        voice_changes, problem = None, f"Voice-change voices not listed: {exc}"
    categories = await driver.catalog_categories()
    materials = {category.vendor_id: await driver.catalog_materials(category) for category in categories}
    return _Fetched(voices, anchors, voice_changes, problem, categories, materials)


def catalog_sync(*, account_id: int) -> CatalogReport | None:
    """Fetch the account's whole catalog from its platform and store it. Raises PlatformError
    when the platform fails; None when the account is gone."""
    account = PlatformAccount.objects.filter(pk=account_id).first()
    if account is None:
        return None
    if not account_has_catalog(account):
        raise PlatformError(
            f"LiveDeck cannot fetch a catalog for {account.get_kind_display()} accounts.", permanent=True
        )
    started = timezone.now()
    _status_set(account_id, "running", started=started)
    fetched = call(account, _catalog_fetch)
    report = catalog_store(
        account=account,
        voices=fetched.voices,
        anchors=fetched.anchors,
        voice_changes=fetched.voice_changes,
        categories=fetched.categories,
        materials_by_category=fetched.materials_by_category,
    )
    if fetched.voice_change_problem:
        report.notes.append(fetched.voice_change_problem)
    _status_set(
        account_id, "done", started=started, message=report.summary(), kept_scene_ids=report.kept_scene_ids
    )
    log.info("catalog of %s synced: %s", account, report.summary())
    return report


def catalog_sync_request(*, account: PlatformAccount) -> SyncStatus:
    """Queue a sync of the account's catalog, unless one is already on its way."""
    if not account_has_catalog(account):
        raise SyncRefused(f"LiveDeck cannot fetch a catalog for {account.get_kind_display()} accounts yet.")
    status = catalog_sync_status(account_id=account.pk)
    if status is not None and status.pending and timezone.now() - status.at < PENDING_FOR:
        return status
    status = _status_set(account.pk, "queued")
    account_id = account.pk
    transaction.on_commit(
        lambda: celery_app.send_task("materials.tasks.catalog_sync_task", args=(account_id,))
    )
    return status


def catalog_sync_request_all() -> int:
    """Queue a sync of every account that has a catalog; returns how many were queued."""
    accounts = catalog_accounts()
    for account in accounts:
        catalog_sync_request(account=account)
    return len(accounts)


def catalog_sync_note_error(*, account_id: int, message: str) -> None:
    """Remember that the account's last sync failed, for the catalog page to say so."""
    _status_set(account_id, "failed", message=message)


# What the last sync did ----------------------------------------------------------------------


@dataclass(frozen=True)
class SyncStatus:
    """Where the account's latest sync is: queued, running, done or failed, since `at`."""

    state: str
    at: datetime
    message: str = ""
    started: datetime | None = None
    kept_scene_ids: tuple[int, ...] = ()

    @property
    def pending(self) -> bool:
        return self.state in ("queued", "running")


def _status_key(account_id: int) -> str:
    return f"materials:catalog-sync:{account_id}"


def _status_set(account_id: int, state: str, **fields: Any) -> SyncStatus:
    status = SyncStatus(
        state=state,
        at=timezone.now(),
        message=fields.get("message", ""),
        started=fields.get("started"),
        kept_scene_ids=tuple(fields.get("kept_scene_ids", ())),
    )
    cache.set(_status_key(account_id), vars(status), STATUS_SECONDS)
    return status


def catalog_sync_status(*, account_id: int) -> SyncStatus | None:
    """The account's latest sync as the cache remembers it, or None."""
    stored = cache.get(_status_key(account_id))
    return SyncStatus(**stored) if stored else None


# Voice change ---------------------------------------------------------------------------------


def voice_change_trial(*, account_id: int, speaker: str, text: str) -> str:
    """The URL of `text` spoken in the voice-change voice `speaker`; raises PlatformError."""
    account = PlatformAccount.objects.get(pk=account_id)
    if not account_has_catalog(account):
        raise PlatformError(
            f"LiveDeck cannot try voice changes on {account.get_kind_display()} accounts.", permanent=True
        )
    return call(account, lambda driver: driver.voice_change_trial(speaker, text))


def material_upload(*, material: Material, room: Room) -> str:
    """Upload a library material to the Guiji room's platform (3.6) and keep the id Guiji gave it,
    which is what a playlist names. The room is created there first if it does not exist yet."""
    if room.account.kind != PlatformAccount.Kind.GUIJI:
        raise PlatformError(
            f"{room.name} is not a Guiji room; only Guiji keeps uploaded materials.", permanent=True
        )

    async def upload(driver: Any) -> tuple[str, str]:
        live_id = room.vendor_room_id or await driver.room_sync(room)
        return live_id, await driver.material_upload(live_id, material)

    live_id, vendor_id = call(room.account, upload)
    if room.vendor_room_id != live_id:
        Room.objects.filter(pk=room.pk).update(vendor_room_id=live_id)
        room.vendor_room_id = live_id  # the next upload goes to the same vendor room
    Material.objects.filter(pk=material.pk).update(vendor_material_id=vendor_id)
    material.vendor_material_id = vendor_id
    return vendor_id
