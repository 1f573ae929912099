from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from rooms import services
from rooms.fields import mask
from rooms.forms import PlatformAccountAdminForm
from rooms.models import (
    InteractionRule,
    LiveSession,
    PlatformAccount,
    Room,
    Script,
    ScriptLayer,
    ScriptParagraph,
)
from rooms.platforms.base import PlatformError

# The admin passes its own formfield_callback, which replaces the forms' `https_urls`:
# say it again here, so a URL typed without a scheme is https in admin too.
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}
SESSION_SECRETS = ["session_token", "rtc_token"]


@admin.register(PlatformAccount)
class PlatformAccountAdmin(admin.ModelAdmin):
    form = PlatformAccountAdminForm
    formfield_overrides = HTTPS_URLS
    list_display = ["name", "kind", "base_url", "sandbox", "credentials_shown"]
    list_filter = ["kind", "sandbox"]
    readonly_fields = ["callback_url", "credentials_shown"]

    @admin.display(description="Credentials")
    def credentials_shown(self, account: PlatformAccount) -> str:
        return ", ".join(
            f"{name} {value or '(not set)'}" for name, value in account.masked_credentials().items()
        )

    @admin.display(description="Callback URL to give the vendor")
    def callback_url(self, account: PlatformAccount) -> str:
        from django.conf import settings

        return (
            f"{settings.SITE_URL}{account.callback_path()}"
            if account.pk
            else "Shown once the account is saved."
        )


class ParagraphInline(admin.TabularInline):
    model = ScriptParagraph
    extra = 0


class LayerInline(admin.StackedInline):
    model = ScriptLayer
    formfield_overrides = HTTPS_URLS
    extra = 0


class RuleInline(admin.StackedInline):
    model = InteractionRule
    extra = 0


@admin.register(Script)
class ScriptAdmin(admin.ModelAdmin):
    formfield_overrides = HTTPS_URLS
    inlines = [ParagraphInline, LayerInline]
    list_display = ["name", "anchor_name", "voice_name", "updated_at"]
    search_fields = ["name", "opening_text"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    inlines = [RuleInline]
    list_display = ["name", "account", "live_type", "script", "vendor_room_id"]
    list_filter = ["account", "live_type"]
    filter_horizontal = ["hosts"]
    search_fields = ["name"]
    actions = ["delete_vendor_rooms"]

    @admin.action(description="Delete the selected rooms' own rooms on the platform (MetaStudio)")
    def delete_vendor_rooms(self, request: HttpRequest, queryset: QuerySet[Room]) -> None:
        for room in queryset.select_related("account"):
            try:
                services.vendor_room_delete(room=room)
            except (services.ActionRefused, PlatformError) as exc:
                self.message_user(request, f"{room}: {exc}", messages.WARNING)
            else:
                self.message_user(request, f"{room}: its room on the platform is deleted.", messages.SUCCESS)


@admin.register(LiveSession)
class LiveSessionAdmin(admin.ModelAdmin):
    list_display = ["__str__", "state", "vendor_code", "created_at", "heartbeats_sent", "heartbeat_failures"]
    list_filter = ["state", "account"]
    search_fields = ["vendor_session_id", "room__name"]
    # The session's microphone and RTC tokens are secrets: shown masked, like the console does.
    exclude = SESSION_SECRETS
    readonly_fields = [
        *(field.name for field in LiveSession._meta.fields if field.name not in SESSION_SECRETS),
        "session_token_shown",
        "rtc_token_shown",
    ]
    actions = ["stop_sessions"]

    @admin.display(description="Session token")
    def session_token_shown(self, session: LiveSession) -> str:
        return mask(session.session_token)

    @admin.display(description="RTC token")
    def rtc_token_shown(self, session: LiveSession) -> str:
        return mask(session.rtc_token)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Stop the selected live sessions on the platform")
    def stop_sessions(self, request: HttpRequest, queryset: QuerySet[LiveSession]) -> None:
        stopped = 0
        for session in queryset.open():
            services.session_stop(session=session)
            stopped += 1
        self.message_user(request, f"Asked the platform to stop {stopped} session(s).", messages.SUCCESS)
