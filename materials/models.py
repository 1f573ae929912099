"""The materials library: audio, images, video and texts that producers prepare for shows, and the
catalogs the platforms offer (voices, anchors and their scenes, voice-change voices, public
materials), kept in step by the catalog sync."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class GuijiSpeech(models.Model):
    """How Guiji's TTS speaks a text (guiji-live-manager-api.txt 3.6): shared by text materials
    and by the scripts whose takeovers become text materials."""

    tts_source = models.IntegerField("TTS source", default=0, help_text="Guiji: the voice's ttsSource.")
    tts_speaker = models.CharField(
        "TTS speaker", max_length=100, blank=True, help_text="Guiji: the voice's speaker id."
    )
    tts_volume = models.FloatField(
        "TTS volume", default=0.0, validators=[MinValueValidator(-20), MaxValueValidator(20)]
    )
    tts_intonation = models.FloatField(
        "TTS intonation", default=0.0, validators=[MinValueValidator(-20), MaxValueValidator(20)]
    )
    tts_speed_rate = models.FloatField(
        "TTS speed", default=0.0, validators=[MinValueValidator(-20), MaxValueValidator(20)]
    )
    tts_f0up_key = models.IntegerField(
        "TTS emotion (f0upKey)", default=0, validators=[MinValueValidator(-20), MaxValueValidator(20)]
    )
    change_voice_speaker = models.CharField(
        "voice change speaker", max_length=100, blank=True, help_text="Guiji: a voice-change voice, if any."
    )

    class Meta:
        abstract = True


class Material(GuijiSpeech):
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
    # Guiji keeps its own copy (3.6); its id is what a playlist names.
    vendor_material_id = models.CharField(
        "vendor material id", max_length=100, blank=True, help_text="Set when uploaded to Guiji."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class CatalogEntry(models.Model):
    """A row copied from a platform's catalog; `synced_at` says when it was last seen there."""

    account = models.ForeignKey("rooms.PlatformAccount", on_delete=models.CASCADE, related_name="+")
    custom = models.BooleanField(
        "customized", default=False, help_text="The account's own, not the platform's."
    )
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Voice(CatalogEntry):
    """A TTS voice (3.8 platform and customized voices)."""

    speaker = models.CharField(max_length=100, help_text="The speaker id TTS settings name.")
    name = models.CharField(max_length=100)
    tts_source = models.IntegerField("TTS source", default=0)
    language = models.CharField(max_length=40, blank=True)
    gender = models.CharField(max_length=20, blank=True)
    sample_url = models.URLField("sample", max_length=500, blank=True)
    cover_url = models.URLField("cover", max_length=500, blank=True)

    class Meta:
        ordering = ["custom", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "custom", "speaker"], name="voice_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name


class Anchor(CatalogEntry):
    """A digital human (3.9 platform and 3.10 customized anchors)."""

    vendor_id = models.BigIntegerField("vendor id", null=True, blank=True)
    code = models.CharField("robot code", max_length=100)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=500, blank=True)
    cover_url = models.URLField("cover", max_length=500, blank=True)

    class Meta:
        ordering = ["custom", "name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "custom", "code"], name="anchor_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name


class AnchorScene(models.Model):
    """One way an anchor appears: pose, framing and template video (SceneVO)."""

    anchor = models.ForeignKey(Anchor, on_delete=models.CASCADE, related_name="scenes")
    code = models.CharField("scene code", max_length=100)
    name = models.CharField(max_length=100)
    proportion = models.CharField(max_length=10, blank=True, help_text="16:9 or 9:16")
    posture = models.CharField(max_length=10, blank=True, help_text="0 other, 1 standing, 2 sitting")
    duration_seconds = models.IntegerField(null=True, blank=True)
    example_url = models.URLField("preview video", max_length=500, blank=True)
    video_cover_url = models.URLField("template video", max_length=500, blank=True)
    cover_url = models.URLField("cover", max_length=500, blank=True)

    class Meta:
        ordering = ["anchor__name", "name"]
        constraints = [models.UniqueConstraint(fields=["anchor", "code"], name="scene_unique_per_anchor")]

    def __str__(self) -> str:
        return f"{self.anchor.name} · {self.name}"


class VoiceChangeVoice(CatalogEntry):
    """A voice-change voice (3.11); a producer hears it with the trial (3.12)."""

    speaker = models.CharField(max_length=100)
    name = models.CharField(max_length=100)
    sample_url = models.URLField("sample", max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "speaker"], name="voice_change_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name


class MaterialCategory(CatalogEntry):
    """A category of the platform's public materials (3.13)."""

    vendor_id = models.BigIntegerField("vendor id")
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "material categories"
        constraints = [
            models.UniqueConstraint(fields=["account", "vendor_id"], name="category_unique_per_account")
        ]

    def __str__(self) -> str:
        return self.name


class PublicMaterial(models.Model):
    """A material the platform offers to every account (3.14)."""

    category = models.ForeignKey(MaterialCategory, on_delete=models.CASCADE, related_name="materials")
    vendor_id = models.BigIntegerField("vendor id")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, blank=True)
    url = models.URLField("URL", max_length=500, blank=True)
    cover_url = models.URLField("cover", max_length=500, blank=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["category", "vendor_id"], name="public_material_unique")
        ]

    def __str__(self) -> str:
        return self.name
