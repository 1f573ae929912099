from django.contrib import admin

from materials.models import Material


@admin.register(Material)
class MaterialAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "url", "duration_seconds"]
    list_filter = ["kind"]
    search_fields = ["name", "text"]
