"""The console's takeover controls: composer, queue (drag, cancel), quick replies, Q&A."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from rooms.models import LiveSession
from rooms.selectors import operable_room
from rooms.services import ActionRefused
from takeovers import services
from takeovers.forms import TakeoverForm
from takeovers.selectors import live_session_operable


def _refused(message: str, status: int = 409) -> HttpResponse:
    """Shown to the host as a toast; nothing was changed."""
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _live_session(request: HttpRequest, pk: int) -> LiveSession:
    """The room's open session, in one read: a host on air is waiting for what comes next."""
    session = live_session_operable(request.user, pk)
    if session is None:
        operable_room(request.user, pk)  # a 404 for a room that is not the user's
        raise ActionRefused("The room is not live: start it before taking over.")
    return session


def _accepted() -> HttpResponse:
    """Stored and on its way. The queue and log reach every console, this one too, through
    the room's socket once the vendor has answered, in order; a fragment in this answer could
    arrive after a newer push and show the queue as it was."""
    return HttpResponse(status=204)


@login_required
@require_POST
def takeover_create(request: HttpRequest, pk: int) -> HttpResponse:
    form = TakeoverForm(request.POST)
    if not form.is_valid():
        return _refused(form.first_error(), status=400)
    try:
        session = _live_session(request, pk)
        services.takeover_enqueue(session=session, draft=form.draft(), user=request.user)
    except ActionRefused as exc:
        return _refused(str(exc))
    return _accepted()


@login_required
@require_POST
def takeover_cancel(request: HttpRequest, pk: int, takeover_id: int | None = None) -> HttpResponse:
    try:
        session = _live_session(request, pk)
        # With the session loaded too: `only("pk")` read it back in a second query.
        chosen = (
            None
            if takeover_id is None
            else list(session.takeovers.filter(pk=takeover_id).only("pk", "session"))
        )
        if chosen == []:
            raise ActionRefused("That takeover is not in this live.")
        services.takeover_cancel(session=session, takeovers=chosen)
    except ActionRefused as exc:
        return _refused(str(exc))
    return _accepted()


@login_required
@require_POST
def takeover_move(request: HttpRequest, pk: int, takeover_id: int) -> HttpResponse:
    try:
        position = int(request.POST.get("position", ""))
    except ValueError:
        return _refused("Say where to move it: a position from 1.", status=400)
    try:
        session = _live_session(request, pk)
        takeover = session.takeovers.filter(pk=takeover_id).first()
        if takeover is None:
            raise ActionRefused("That takeover is not in this live.")
        services.queue_reorder(session=session, takeover=takeover, position=position)
    except ActionRefused as exc:
        return _refused(str(exc))
    return _accepted()


@login_required
@require_POST
def quick_reply(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        index = int(request.POST.get("index", ""))
    except ValueError:
        return _refused("Pick a quick reply.", status=400)
    try:
        session = _live_session(request, pk)
        services.quick_reply_fire(session=session, index=index, user=request.user)
    except ActionRefused as exc:
        return _refused(str(exc))
    return _accepted()


@login_required
@require_POST
def qa_ask(request: HttpRequest, pk: int) -> HttpResponse:
    question = request.POST.get("question", "")
    try:
        session = _live_session(request, pk)
        answer = services.qa_ask(session=session, question=question)
    except ActionRefused as exc:
        return _refused(str(exc))
    context = {"room": session.room, "question": question.strip(), "answer": answer}
    return render(request, "rooms/console.html#qa_answer", context)
