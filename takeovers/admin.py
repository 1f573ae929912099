from django.contrib import admin

from takeovers.models import Takeover, TakeoverEvent


class TakeoverEventInline(admin.TabularInline):
    model = TakeoverEvent
    extra = 0
    readonly_fields = ["at", "state", "vendor_code", "note"]
    can_delete = False


@admin.register(Takeover)
class TakeoverAdmin(admin.ModelAdmin):
    list_display = ["__str__", "session", "state", "source", "created_at"]
    list_filter = ["state", "kind", "source"]
    search_fields = ["content", "trace_id"]
    readonly_fields = [field.name for field in Takeover._meta.fields]
    inlines = [TakeoverEventInline]

    def has_add_permission(self, request: object) -> bool:
        return False
