from django.contrib import admin
from django.db import models
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from materials.models import (
    Anchor,
    AnchorScene,
    Material,
    MaterialCategory,
    PublicMaterial,
    Voice,
    VoiceChangeVoice,
)

# As rooms' admin does: a URL typed without a scheme is https.
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Material)
class MaterialAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "kind", "url", "duration_seconds"]
    list_filter = ["kind"]
    search_fields = ["name", "text"]


class CatalogAdmin(admin.ModelAdmin):
    """Catalog rows are copies of what a platform lists: the catalog sync writes them, admin reads them
    (and may delete one, which the next sync brings back if the platform still lists it)."""

    formfield_overrides = HTTPS_URLS

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def _cover(url: str) -> str:
    return format_html('<img src="{}" alt="" style="height:40px;border-radius:4px">', url) if url else "—"


@admin.register(Voice)
class VoiceAdmin(CatalogAdmin):
    list_display = ["name", "speaker", "account", "custom", "language", "gender", "tts_source", "synced_at"]
    list_filter = ["account", "custom", "language", "gender"]
    search_fields = ["name", "speaker"]


class AnchorSceneInline(admin.TabularInline):
    model = AnchorScene
    formfield_overrides = HTTPS_URLS
    fields = ["name", "code", "proportion", "posture", "duration_seconds", "video_cover_url", "cover_url"]
    extra = 0
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Anchor)
class AnchorAdmin(CatalogAdmin):
    list_display = ["name", "cover", "code", "account", "custom", "scene_count", "synced_at"]
    list_filter = ["account", "custom"]
    search_fields = ["name", "code", "description"]
    inlines = [AnchorSceneInline]

    @admin.display(description="Cover")
    def cover(self, anchor: Anchor) -> str:
        return _cover(anchor.cover_url)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Anchor]:
        return super().get_queryset(request).select_related("account").annotate(scene_total=Count("scenes"))

    @admin.display(description="Scenes", ordering="scene_total")
    def scene_count(self, anchor: Anchor) -> int:
        return int(anchor.scene_total)  # type: ignore[attr-defined]


@admin.register(AnchorScene)
class AnchorSceneAdmin(CatalogAdmin):
    list_display = ["name", "cover", "anchor", "code", "proportion", "posture", "duration_seconds"]
    list_filter = ["anchor__account", "proportion", "posture"]
    list_select_related = ["anchor"]
    search_fields = ["name", "code", "anchor__name"]

    @admin.display(description="Cover")
    def cover(self, scene: AnchorScene) -> str:
        return _cover(scene.cover_url)


@admin.register(VoiceChangeVoice)
class VoiceChangeVoiceAdmin(CatalogAdmin):
    list_display = ["name", "speaker", "account", "synced_at"]
    list_filter = ["account"]
    search_fields = ["name", "speaker"]


@admin.register(MaterialCategory)
class MaterialCategoryAdmin(CatalogAdmin):
    list_display = ["name", "vendor_id", "account", "synced_at"]
    list_filter = ["account"]
    search_fields = ["name"]


@admin.register(PublicMaterial)
class PublicMaterialAdmin(CatalogAdmin):
    list_display = ["name", "cover", "kind", "category", "vendor_id", "synced_at"]
    list_filter = ["category__account", "kind", "category"]
    list_select_related = ["category"]
    search_fields = ["name"]

    @admin.display(description="Cover")
    def cover(self, material: PublicMaterial) -> str:
        return _cover(material.cover_url)
