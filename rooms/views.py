"""Pages and HTMX fragments for rooms, scripts and orphans; the vendor callback endpoint."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from materials.models import Material
from rooms import fragments, services
from rooms.forms import (
    AnchorForm,
    AudienceForm,
    BackgroundForm,
    ExitForm,
    LayerFormSet,
    LayoutForm,
    OutputForm,
    ParagraphFormSet,
    ParagraphRewriteForm,
    PushForm,
    RoomForm,
    RuleFormSet,
    ScriptForm,
    ShowLayerForm,
)
from rooms.models import LiveSession, PlatformAccount, Room, Script
from rooms.platforms import call
from rooms.platforms.base import AudienceEvent, Capability, PlatformError
from rooms.platforms.metastudio_callbacks import CallbackRefused
from rooms.selectors import (
    is_producer,
    is_staff,
    operable_room,
    room_current_session,
    rooms_operable_by,
    rooms_visible_to,
    sessions_latest_by_room,
)

log = logging.getLogger(__name__)

# A callback body larger than this is not a vendor status report.
CALLBACK_MAX_BYTES = 64 * 1024


def _refused(message: str, status: int = 409) -> HttpResponse:
    """An action the host cannot do now: the console shows the message as a toast."""
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _toast(message: str) -> HttpResponse:
    """Done: the console says so in a toast (htmx fires the event named in HX-Trigger)."""
    return HttpResponse(status=204, headers={"HX-Trigger": json.dumps({"livedeckToast": message})})


def _operable_room(request: HttpRequest, pk: int) -> Room:
    return operable_room(request.user, pk)


@login_required
def room_list(request: HttpRequest) -> HttpResponse:
    rooms = list(rooms_visible_to(request.user))
    operable = set(rooms_operable_by(request.user).values_list("pk", flat=True))
    latest = sessions_latest_by_room(rooms)
    context = {
        "rows": [(room, latest.get(room.pk), room.pk in operable) for room in rooms],
        "can_edit": is_producer(request.user),
        "show_orphans": bool(operable) or is_staff(request.user),
    }
    template = "rooms/list.html#rooms" if request.htmx else "rooms/list.html"
    return render(request, template, context)


@login_required
def room_console(request: HttpRequest, pk: int) -> HttpResponse:
    room = _operable_room(request, pk)
    session = room_current_session(room)
    history = LiveSession.objects.filter(room=room).exclude(pk=getattr(session, "pk", None))[:8]
    context = {
        **fragments.live_context(room, session),
        **fragments.takeovers_context(room, session),
        "history": history,
        "can_edit": is_producer(request.user),
        "quick_replies": room.script.quick_reply_list(),
        "audio_materials": Material.objects.filter(kind=Material.Kind.AUDIO),
        "image_materials": Material.objects.filter(kind=Material.Kind.IMAGE),
        "scenes": room.scenes(),
        "script_paragraphs": list(room.script.paragraphs.all()),
    }
    return render(request, "rooms/console.html", context)


@login_required
@require_POST
def room_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    room = _operable_room(request, pk)
    session = room_current_session(room)
    try:
        if action in ("start", "warm_up"):
            session = services.session_open(room=room, user=request.user, auto_start=action == "start")
        elif action in ("go_live", "stop") and session is not None:
            if action == "go_live":
                services.session_go_live(session=session)
            else:
                services.session_stop(session=session)
        else:
            return _refused("There is no live to do that to.")
    except services.ActionRefused as exc:
        return _refused(str(exc))
    # Every console, this one too, is shown the change through the room's socket, where pushes
    # arrive in the order they were read (`services.console_lock`). A fragment in this answer
    # could arrive after a newer push and show the host a state already gone ("Stopping" after
    # "Ended").
    return HttpResponse(status=204)


def _form_problem(form: forms.Form) -> str:
    return "; ".join(f"{error}" for errors in form.errors.values() for error in errors)


@login_required
@require_POST
def room_stage(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """A host changes the stage during a live: background, anchor, push targets, the avatar's place."""
    room = _operable_room(request, pk)
    session = room_current_session(room)
    if action not in services.STAGE_ACTIONS:
        return _refused("There is no such stage change.", status=404)
    if session is None or not session.is_open:
        return _refused("The stage can change only while a live is open.")
    params: dict[str, Any]
    if action == "background":
        background = BackgroundForm(request.POST)
        if not background.is_valid():
            return _refused(_form_problem(background), status=400)
        params = {"url": background.cleaned_data["url"]}
    elif action == "anchor":
        anchor = AnchorForm(request.POST, room=room)
        if not anchor.is_valid():
            return _refused("Pick one of the room's anchor scenes.", status=400)
        scene = anchor.cleaned_data["scene"]
        params = {"scene_code": scene.code, "scene_name": str(scene)}
    elif action in ("push_on", "push_off"):
        push = PushForm(request.POST)
        if not push.is_valid():
            return _refused(_form_problem(push), status=400)
        params = {"urls": push.cleaned_data["urls"]}
    elif action in SHOW_FORMS:
        form = SHOW_FORMS[action](request.POST)
        if not form.is_valid():
            return _refused(_form_problem(form), status=400)
        params = dict(form.cleaned_data)
    elif action == "rules":
        params = {}
    else:
        layout = LayoutForm(request.POST)
        if not layout.is_valid():
            return _refused(_form_problem(layout), status=400)
        params = dict(layout.cleaned_data)
    try:
        services.stage_change(session=session, action=action, params=params)
    except services.ActionRefused as exc:
        return _refused(str(exc))
    return HttpResponse(status=204)


# The show during a MetaStudio live: its output, a layer, when it stops.
SHOW_FORMS: dict[str, type[forms.Form]] = {"output": OutputForm, "layer": ShowLayerForm, "exit": ExitForm}


@login_required
@require_POST
def room_paragraph(request: HttpRequest, pk: int) -> HttpResponse:
    """Rewrite a paragraph the avatar has not reached yet, during the live."""
    room = _operable_room(request, pk)
    session = room_current_session(room)
    form = ParagraphRewriteForm(request.POST)
    if not form.is_valid():
        return _refused(_form_problem(form), status=400)
    if session is None:
        return _refused("Paragraphs can be rewritten only while a live is open.")
    data = form.cleaned_data
    try:
        services.paragraph_rewrite(
            session=session, paragraph_id=data["paragraph"], title=data["title"], text=data["text"]
        )
    except services.ActionRefused as exc:
        return _refused(str(exc))
    return _toast("Saved; the platform plays the new text when it reaches that paragraph.")


@login_required
@require_POST
def room_audience(request: HttpRequest, pk: int) -> HttpResponse:
    """An audience event typed on the console, reported to the platform as its comment feed would."""
    room = _operable_room(request, pk)
    session = room_current_session(room)
    form = AudienceForm(request.POST)
    if not form.is_valid():
        return _refused(_form_problem(form), status=400)
    if session is None:
        return _refused("Audience events go to the platform only while a live is open.")
    data = form.cleaned_data
    event = AudienceEvent(
        kind=data["kind"],
        user_id=f"console-{request.user.pk}",
        name=data["name"],
        text=data["text"],
        gift_name=data["gift_name"],
        gift_num=data["gift_num"] or 0,
        timestamp_ms=int(time.time() * 1000),
    )
    try:
        services.audience_report(session=session, events=[event])
    except services.ActionRefused as exc:
        return _refused(str(exc))
    return _toast("Sent to the platform's interaction rules.")


@login_required
@require_GET
def room_preview(request: HttpRequest, pk: int) -> HttpResponse:
    room = _operable_room(request, pk)
    session = room_current_session(room)
    preview, problem = None, ""
    if session and session.is_open and session.vendor_session_id:
        if Capability.PREVIEW.value not in fragments.capabilities(room):
            problem = "The program monitor is available on the sandbox platform."
        else:
            try:
                preview = call(room.account, lambda driver: driver.preview(session))
            except PlatformError as exc:
                problem = f"The monitor is not answering: {exc}"
    context = {"room": room, "session": session, "preview": preview, "problem": problem}
    return render(request, "rooms/console.html#preview", context)


@login_required
@require_POST
def room_audience_token(request: HttpRequest, pk: int) -> HttpResponse:
    room = _operable_room(request, pk)
    session = room_current_session(room)
    if session is None or not session.is_open or not session.rtc_channel_id:
        return _refused("The stream has no RTC channel yet.")
    try:
        token = call(room.account, lambda driver: driver.audience_token(session))
    except PlatformError as exc:
        return _refused(f"The platform gave no audience token: {exc}", status=502)
    return render(request, "rooms/console.html#audience_token", {"token": token, "session": session})


def _require_producer(request: HttpRequest) -> None:
    if not is_producer(request.user):
        raise PermissionDenied("Producers prepare scripts and rooms.")


@login_required
def room_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_producer(request)
    room = get_object_or_404(Room.objects.select_related("account"), pk=pk)
    form = RoomForm(request.POST or None, instance=room)
    # Interaction rules are matched by the platform itself on MetaStudio.
    rules = RuleFormSet(request.POST or None, instance=room, prefix="rules") if _has_rules(room) else None
    if request.method == "POST" and form.is_valid() and (rules is None or rules.is_valid()):
        with transaction.atomic():
            form.save()
            if rules is not None:
                rules.save()
        messages.success(request, f"Saved {room.name}. The next live uses these settings.")
        return redirect("room-list")
    return render(request, "rooms/room_form.html", {"form": form, "room": room, "rules": rules})


def _has_rules(room: Room) -> bool:
    return room.account.kind == PlatformAccount.Kind.METASTUDIO


@login_required
def script_list(request: HttpRequest) -> HttpResponse:
    _require_producer(request)
    return render(request, "rooms/script_list.html", {"scripts": Script.objects.prefetch_related("rooms")})


@login_required
def script_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    _require_producer(request)
    script = get_object_or_404(Script, pk=pk) if pk else None
    data = request.POST or None
    form = ScriptForm(data, instance=script)
    # Blank rows come after the paragraphs there are.
    after = max((p.position for p in script.paragraphs.all()), default=-1) + 1 if script else 0
    extra = [{"position": after + n} for n in range(ParagraphFormSet.extra)]
    paragraphs = ParagraphFormSet(data, instance=script, prefix="paragraphs", initial=extra)
    layers = LayerFormSet(data, instance=script, prefix="layers")
    valid = request.method == "POST" and all([form.is_valid(), paragraphs.is_valid(), layers.is_valid()])
    if valid:
        with transaction.atomic():
            script = form.save()
            for formset in (paragraphs, layers):
                formset.instance = script
                formset.save()
        messages.success(request, f"Saved the script {script.name}.")
        return redirect("script-list")
    context = {"form": form, "script": script, "paragraphs": paragraphs, "layers": layers}
    return render(request, "rooms/script_form.html", context)


def _orphan_accounts(request: HttpRequest) -> list[PlatformAccount]:
    if is_staff(request.user):
        return list(PlatformAccount.objects.all())
    return list(PlatformAccount.objects.filter(rooms__in=rooms_operable_by(request.user)).distinct())


def _orphans_fragment(request: HttpRequest) -> HttpResponse:
    orphans, problems = services.orphans_find(accounts=_orphan_accounts(request))
    return render(
        request, "rooms/list.html#orphans", {"orphans": orphans, "problems": problems, "scanned": True}
    )


@login_required
@require_GET
def orphan_list(request: HttpRequest) -> HttpResponse:
    return _orphans_fragment(request)


@login_required
@require_POST
def orphan_close(request: HttpRequest) -> HttpResponse:
    accounts = {account.pk: account for account in _orphan_accounts(request)}
    account_pk = request.POST.get("account", "")
    account = accounts.get(int(account_pk)) if account_pk.isascii() and account_pk.isdigit() else None
    vendor_session_id = request.POST.get("session", "").strip()
    if account is None or not vendor_session_id:
        return _refused("Pick an orphan session to close.", status=400)
    try:
        services.orphan_close(account=account, vendor_session_id=vendor_session_id)
    except PlatformError as exc:
        return _refused(f"The platform did not close it: {exc}", status=502)
    # Not `orphan_list`: it only answers GET, and this is the POST that closed one.
    return _orphans_fragment(request)


@csrf_exempt
@require_POST
def callback(request: HttpRequest, kind: str, key: str) -> JsonResponse:
    """A vendor's status callback. The URL's key is unguessable: it is how an unsigned
    callback proves where it comes from."""
    account = PlatformAccount.objects.filter(kind=kind, callback_key=key).first()
    if account is None:
        return JsonResponse({"error": "unknown callback address"}, status=404)
    if len(request.body) > CALLBACK_MAX_BYTES:
        return JsonResponse({"error": "body too large"}, status=413)
    try:
        if account.kind == PlatformAccount.Kind.METASTUDIO:
            signed = services.SignedCallback(
                method=request.method or "",
                path=request.path,
                query=dict(request.GET.lists()),
                headers=dict(request.headers),
                body=request.body,
            )
            changed = services.metastudio_callback_receive(account=account, request=signed)
        else:
            changed = services.callback_receive(account=account, body=request.body)
    except CallbackRefused as exc:
        log.warning("refused callback for %s: %s", account, exc.reason)
        return JsonResponse({"error": "signature not accepted"}, status=401)
    except PlatformError as exc:
        log.warning("bad callback for %s: %s", account, exc)
        return JsonResponse({"error": exc.message}, status=400)
    return JsonResponse({"ok": True, "changed": changed})
