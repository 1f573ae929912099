"""The catalog pages: what each platform account offers producers, a sync button and voice-change trials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest as DjangoHttpRequest
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from materials import selectors, services
from materials.forms import TRIAL_MAX_CHARS, VoiceChangeTrialForm
from materials.models import AnchorScene
from rooms.models import PlatformAccount
from rooms.platforms.base import PlatformError
from rooms.selectors import is_producer


class HttpRequest(DjangoHttpRequest):
    """A request as django-htmx's middleware leaves it."""

    htmx: HtmxDetails


TABS = {
    "voices": "Voices",
    "anchors": "Anchors & scenes",
    "voice-changes": "Voice change",
    "materials": "Public materials",
}


def _require_producer(request: HttpRequest) -> None:
    if not is_producer(request.user):
        raise PermissionDenied("Producers and staff see the platform catalogs.")


def _sync_context(account: PlatformAccount) -> dict[str, Any]:
    last_synced = selectors.catalog_last_synced(account)
    return {
        "account": account,
        "can_sync": selectors.account_has_catalog(account),
        "status": services.catalog_sync_status(account_id=account.pk),
        "last_synced": last_synced,
        "synced_recently": last_synced is not None and timezone.now() - last_synced < timedelta(minutes=1),
        "sync_every": _every(settings.CATALOG_SYNC_SECONDS),
    }


def _every(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    minutes = max(1, round(seconds / 60))
    return "minute" if minutes == 1 else f"{minutes} minutes"


@dataclass(frozen=True)
class SceneRow:
    scene: AnchorScene
    rooms: list[str]  # the rooms that open with it or may switch to it
    kept: bool  # gone from the platform, kept because a room uses it


@dataclass
class Trial:
    """A voice-change trial as its row shows it: the form, and the audio or what went wrong."""

    form: VoiceChangeTrialForm | None = None
    url: str = ""
    problem: str = ""


def _page_context(
    account: PlatformAccount | None, tab: str, trials: dict[int, Trial] | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {"accounts": selectors.catalog_accounts_shown(), "account": account, "tab": tab}
    if account is None:
        return context
    counts = selectors.catalog_counts(account)
    sync = _sync_context(account)
    context.update(sync)
    context.update(
        counts=counts,
        tabs=[(key, label, getattr(counts, key.replace("-", "_"))) for key, label in TABS.items()],
        trial_max=TRIAL_MAX_CHARS,
    )
    if tab == "voices":
        context["voices"] = selectors.catalog_voices(account)
    elif tab == "anchors":
        status: services.SyncStatus | None = sync["status"]
        kept = set(status.kept_scene_ids) if status else set()
        rooms = selectors.scene_rooms(account)
        context["anchors"] = [
            (
                anchor,
                [SceneRow(scene, rooms.get(scene.pk, []), scene.pk in kept) for scene in anchor.scenes.all()],
            )
            for anchor in selectors.catalog_anchors(account)
        ]
    elif tab == "voice-changes":
        trials = trials or {}
        context["voice_changes"] = [
            (voice, trials.get(voice.pk, Trial())) for voice in selectors.catalog_voice_changes(account)
        ]
    else:
        context["categories"] = selectors.catalog_categories(account)
    return context


@login_required
@require_GET
def catalog(request: HttpRequest, account_pk: int | None = None) -> HttpResponse:
    """The catalog of one account (the first one when none is named), one tab at a time."""
    _require_producer(request)
    if account_pk is None:
        accounts = selectors.catalog_accounts_shown()
        account = accounts[0] if accounts else None
    else:
        account = get_object_or_404(PlatformAccount, pk=account_pk)
    tab = request.GET.get("tab", "voices")
    if tab not in TABS:
        tab = "voices"
    if request.htmx and account is not None:
        # The sync notice polls while a sync is on its way; once it is over, the page reloads to show it.
        response = render(request, "materials/catalog.html#sync", _sync_context(account))
        status = services.catalog_sync_status(account_id=account.pk)
        if request.GET.get("poll") and (status is None or not status.pending):
            response["HX-Refresh"] = "true"
        return response
    return render(request, "materials/catalog.html", _page_context(account, tab))


@login_required
@require_POST
def catalog_sync(request: HttpRequest, account_pk: int) -> HttpResponse:
    """Sync now: queue a fetch of the account's catalog from its platform."""
    _require_producer(request)
    account = get_object_or_404(PlatformAccount, pk=account_pk)
    try:
        services.catalog_sync_request(account=account)
    except services.SyncRefused as exc:
        if request.htmx:
            return HttpResponse(str(exc), status=409, content_type="text/plain; charset=utf-8")
        messages.error(request, str(exc))
        return redirect("catalog-account", account_pk=account.pk)
    if request.htmx:
        return render(request, "materials/catalog.html#sync", {**_sync_context(account), "just_asked": True})
    messages.success(
        request, f"Sync of {account.name} queued: this page shows the new catalog once it is in."
    )
    return redirect("catalog-account", account_pk=account.pk)


@login_required
@require_POST
def voice_change_trial(request: HttpRequest, account_pk: int) -> HttpResponse:
    """Speak the producer's sentence in a voice-change voice, and play it back."""
    _require_producer(request)
    account = get_object_or_404(PlatformAccount, pk=account_pk)
    form = VoiceChangeTrialForm(request.POST, account=account)
    trial = Trial(form=form)
    if form.is_valid():
        try:
            trial.url = services.voice_change_trial(
                account_id=account.pk, speaker=form.cleaned_data["speaker"], text=form.cleaned_data["text"]
            )
        except PlatformError as exc:
            trial.problem = f"The platform could not make the trial: {exc}"
    voice = form.voice
    if voice is None:
        # No row to answer in: the voice is gone (or was never this account's).
        message = str((form.errors.get("speaker") or ["Pick a voice to try."])[0])
        if request.htmx:
            return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
        messages.error(request, message)
        return redirect(f"{reverse('catalog-account', args=[account.pk])}?tab=voice-changes")
    if request.htmx:
        context = {"account": account, "voice": voice, "trial": trial, "trial_max": TRIAL_MAX_CHARS}
        return render(request, "materials/catalog.html#trial", context)
    return render(
        request, "materials/catalog.html", _page_context(account, "voice-changes", trials={voice.pk: trial})
    )
