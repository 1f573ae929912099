"""Takeovers: what a host (or a rule, or the Q&A box) makes the avatar say during a live."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from rooms.models import LiveSession
from rooms.platforms.base import TakeoverState

ACTIVE_STATES = [s.value for s in TakeoverState if s.is_active]
# The vendor recommends at most 15 takeovers in its queue (softsugar: command/queue).
QUEUE_LIMIT = 15
# Where each state's time is kept, so latencies can be read off one row.
STAMPS = {
    TakeoverState.SENT: "sent_at",
    TakeoverState.QUEUEING: "queued_at",
    TakeoverState.QUEUED: "queued_at",
    TakeoverState.PLAYING: "playing_at",
    TakeoverState.DONE: "done_at",
    TakeoverState.FAILED: "done_at",
    TakeoverState.CANCELLED: "done_at",
}
# States move forward only; QUEUEING and QUEUED may both be skipped.
STATE_RANK = {
    TakeoverState.PENDING: 0,
    TakeoverState.SENT: 1,
    TakeoverState.QUEUEING: 2,
    TakeoverState.QUEUED: 3,
    TakeoverState.PLAYING: 4,
    TakeoverState.DONE: 5,
    TakeoverState.FAILED: 5,
    TakeoverState.CANCELLED: 5,
}


class TakeoverQuerySet(models.QuerySet["Takeover"]):
    def active(self) -> TakeoverQuerySet:
        return self.filter(state__in=ACTIVE_STATES)

    def in_queue_order(self) -> TakeoverQuerySet:
        return self.order_by(models.F("queue_position").asc(nulls_last=True), "created_at")


class Takeover(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", "Text"
        SSML = "ssml", "SSML"
        AUDIO = "audio", "Audio"
        QUICK_REPLY = "quick_reply", "Quick reply"
        MIC = "mic", "Microphone"

    class Source(models.TextChoices):
        HOST = "host", "Host"
        RULE = "rule", "Rule"
        QA = "qa", "Q&A"

    session = models.ForeignKey(LiveSession, on_delete=models.CASCADE, related_name="takeovers")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TEXT)
    content = models.TextField(blank=True, help_text="Text or SSML to speak; the question for Q&A answers.")
    audio_url = models.URLField("audio URL", max_length=500, blank=True)
    foreground_url = models.URLField("foreground image URL", max_length=500, blank=True)
    background_url = models.URLField("background image URL", max_length=500, blank=True)
    quick_reply_index = models.IntegerField(null=True, blank=True)
    interrupt = models.BooleanField(default=False, help_text="Played at once, cutting off what was playing.")
    requested_position = models.PositiveIntegerField(null=True, blank=True)
    queue_position = models.PositiveIntegerField(
        null=True, blank=True, help_text="Place in the vendor's queue."
    )
    trace_id = models.CharField(max_length=200, blank=True)
    state = models.CharField(
        max_length=20,
        choices=[(s.value, s.name.title()) for s in TakeoverState],
        default=TakeoverState.PENDING,
    )
    vendor_code = models.CharField(max_length=20, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.HOST)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    playing_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = TakeoverQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(fields=["session", "state"]),
            # Vendor reports find their takeover by both: SQLite, with an index on each, walked
            # every takeover of the live for the one with the vendor's trace id.
            models.Index(fields=["session", "trace_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.trace_id or self.pk}: {self.summary}"

    @property
    def takeover_state(self) -> TakeoverState:
        return TakeoverState(self.state)

    @property
    def is_active(self) -> bool:
        return self.takeover_state.is_active

    @property
    def summary(self) -> str:
        if self.kind == self.Kind.QUICK_REPLY:
            number = "any" if self.quick_reply_index == -1 else (self.quick_reply_index or 0) + 1
            return f"Quick reply {number}: {self.content[:60]}" if self.content else f"Quick reply {number}"
        if self.kind == self.Kind.AUDIO and not self.content:
            return self.audio_url.rsplit("/", 1)[-1]
        return self.content[:80]

    def latencies(self) -> dict[str, timedelta]:
        """Click to queued, queued to playing, and cancel to silence, from the stored times."""
        spans: dict[str, timedelta] = {}
        if self.queued_at:
            spans["click to queued"] = self.queued_at - self.created_at
        if self.queued_at and self.playing_at:
            spans["queued to playing"] = self.playing_at - self.queued_at
        elif self.playing_at:
            spans["click to playing"] = self.playing_at - self.created_at
        if self.cancel_requested_at and self.done_at and self.state == TakeoverState.CANCELLED:
            spans["cancel to silence"] = self.done_at - self.cancel_requested_at
        return spans

    def latency_words(self) -> list[str]:
        """The latencies as the console shows them: milliseconds under a second."""
        words = []
        for name, span in self.latencies().items():
            seconds = span.total_seconds()
            words.append(f"{name} {seconds * 1000:.0f} ms" if seconds < 1 else f"{name} {seconds:.1f} s")
        return words


class TakeoverEvent(models.Model):
    """Every change of a takeover, with its time: the log the console shows."""

    takeover = models.ForeignKey(Takeover, on_delete=models.CASCADE, related_name="events")
    state = models.CharField(max_length=20)
    vendor_code = models.CharField(max_length=20, blank=True)
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S.%f} {self.state} {self.note}".strip()
