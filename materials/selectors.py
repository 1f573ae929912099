"""Reads of the platform catalogs: which accounts have one, and what is stored for an account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from materials.models import Anchor, AnchorScene, MaterialCategory, PublicMaterial, Voice, VoiceChangeVoice
from rooms.models import PlatformAccount, Room
from rooms.platforms import driver_class
from rooms.platforms.base import Capability, PlatformError


def account_has_catalog(account: PlatformAccount) -> bool:
    """True when LiveDeck can fetch the account's catalog: its driver exists and offers one."""
    try:
        return Capability.CATALOG in driver_class(account.kind).base_capabilities
    except PlatformError:
        return False


def catalog_accounts() -> list[PlatformAccount]:
    """Every account whose catalog can be synced."""
    return [account for account in PlatformAccount.objects.all() if account_has_catalog(account)]


def catalog_accounts_shown() -> list[PlatformAccount]:
    """The accounts the catalog page offers: those that can sync, and those with rows already stored
    (kept from an earlier sync even if their driver is away)."""
    stored = PlatformAccount.objects.filter(
        Q(pk__in=Voice.objects.values("account"))
        | Q(pk__in=Anchor.objects.values("account"))
        | Q(pk__in=VoiceChangeVoice.objects.values("account"))
        | Q(pk__in=MaterialCategory.objects.values("account"))
    )
    stored_pks = set(stored.values_list("pk", flat=True))
    return [
        account
        for account in PlatformAccount.objects.order_by("name")
        if account.pk in stored_pks or account_has_catalog(account)
    ]


@dataclass(frozen=True)
class CatalogCounts:
    voices: int
    anchors: int
    voice_changes: int
    materials: int

    @property
    def empty(self) -> bool:
        return not (self.voices or self.anchors or self.voice_changes or self.materials)


def catalog_counts(account: PlatformAccount) -> CatalogCounts:
    return CatalogCounts(
        voices=Voice.objects.filter(account=account).count(),
        anchors=Anchor.objects.filter(account=account).count(),
        voice_changes=VoiceChangeVoice.objects.filter(account=account).count(),
        materials=PublicMaterial.objects.filter(category__account=account).count(),
    )


def catalog_last_synced(account: PlatformAccount) -> datetime | None:
    """When a row of the account's catalog was last seen on the platform."""
    times = [
        model.objects.filter(account=account).aggregate(at=Max("synced_at"))["at"]
        for model in (Voice, Anchor, VoiceChangeVoice, MaterialCategory)
    ]
    return max((at for at in times if at is not None), default=None)


def catalog_voices(account: PlatformAccount) -> QuerySet[Voice]:
    return Voice.objects.filter(account=account).order_by("-custom", "name")


def catalog_anchors(account: PlatformAccount) -> QuerySet[Anchor]:
    return (
        Anchor.objects.filter(account=account)
        .order_by("-custom", "name")
        .prefetch_related(Prefetch("scenes", queryset=AnchorScene.objects.order_by("name")))
    )


def catalog_voice_changes(account: PlatformAccount) -> QuerySet[VoiceChangeVoice]:
    return VoiceChangeVoice.objects.filter(account=account)


def catalog_categories(account: PlatformAccount) -> QuerySet[MaterialCategory]:
    return (
        MaterialCategory.objects.filter(account=account)
        .annotate(material_count=Count("materials"))
        .prefetch_related(Prefetch("materials", queryset=PublicMaterial.objects.order_by("name")))
    )


def scene_rooms(account: PlatformAccount) -> dict[int, list[str]]:
    """The account's anchor scenes that rooms open with or may switch to, with those rooms' names."""
    scenes = AnchorScene.objects.filter(anchor__account=account)
    uses = list(Room.objects.filter(anchor_scene__in=scenes).values_list("anchor_scene", "name"))
    uses += Room.switch_scenes.through.objects.filter(anchorscene__in=scenes).values_list(
        "anchorscene", "room__name"
    )
    rooms: dict[int, list[str]] = {}
    for scene_id, name in uses:
        if name not in rooms.setdefault(scene_id, []):
            rooms[scene_id].append(name)
    return rooms


def scenes_in_use(account: PlatformAccount) -> set[int]:
    """The account's anchor scenes a room uses; the sync never deletes these."""
    return set(scene_rooms(account))
