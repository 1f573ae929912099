"""The materials library: audio, images, video and texts that producers prepare for shows."""

from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models


class Material(models.Model):
    class Kind(models.TextChoices):
        AUDIO = "audio", "Audio"
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        TEXT = "text", "Text"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100)
    url = models.URLField(
        "URL", max_length=500, blank=True, help_text="Where the platform downloads it from."
    )
    text = models.TextField(blank=True, help_text="For text materials: what the avatar says.")
    duration_seconds = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Audio and video: how long it plays.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"
