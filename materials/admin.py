from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from materials import services
from materials.models import (
    Anchor,
    AnchorScene,
    Material,
    MaterialCategory,
    PublicMaterial,
    Voice,
    VoiceChangeVoice,
)
from rooms.models import PlatformAccount, Room
from rooms.platforms.base import PlatformError

# As rooms' admin does: a URL typed without a scheme is https.
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


class UploadForm(ActionForm):
    room = forms.ModelChoiceField(
        queryset=Room.objects.filter(account__kind=PlatformAccount.Kind.GUIJI),
        required=False,
        label="Guiji room (for Upload to Guiji)",
    )


@admin.register(Material)
class MaterialAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "kind", "url", "duration_seconds", "vendor_material_id"]
    list_filter = ["kind"]
    search_fields = ["name", "text"]
    readonly_fields = ["vendor_material_id"]
    action_form = UploadForm
    actions = ["upload_to_guiji"]

    @admin.action(description="Upload to Guiji (pick the room below)")
    def upload_to_guiji(self, request: HttpRequest, queryset: QuerySet[Material]) -> None:
        # The action form's own choices are set by admin per request: read only the room here.
        try:
            room = UploadForm.base_fields["room"].clean(request.POST.get("room") or None)
        except ValidationError:
            room = None
        if room is None:
            self.message_user(request, "Pick the Guiji room to upload to.", messages.ERROR)
            return
        uploaded, refused = 0, []
        for material in queryset:
            if material.kind not in (Material.Kind.TEXT, Material.Kind.AUDIO):
                refused.append(f"{material.name}: Guiji takes text and audio materials only")
                continue
            try:
                services.material_upload(material=material, room=room)
            except PlatformError as exc:
                refused.append(f"{material.name}: {exc}")
            else:
                uploaded += 1
        if uploaded:
            self.message_user(request, f"Uploaded {uploaded} material(s) to {room.name}.", messages.SUCCESS)
        for problem in refused:
            self.message_user(request, problem, messages.ERROR)


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
