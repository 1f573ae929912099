"""Platform accounts, rooms, their scripts, and the live sessions they run."""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.urls import reverse
from django.utils import timezone

from materials.models import GuijiSpeech
from rooms.fields import EncryptedJSONField, mask
from rooms.platforms.base import LiveState


def _callback_key() -> str:
    return secrets.token_urlsafe(24)


class PlatformAccount(models.Model):
    """One account on a vendor platform (or on the sandbox that speaks its protocol)."""

    class Kind(models.TextChoices):
        SOFTSUGAR = "softsugar", "SenseTime SoftSugar"
        GUIJI = "guiji", "Guiji live-manager"
        METASTUDIO = "metastudio", "Huawei Cloud MetaStudio"

    # The credentials each kind needs, by name; the admin form asks for exactly these.
    CREDENTIAL_FIELDS: dict[str, tuple[str, ...]] = {
        Kind.SOFTSUGAR: ("token",),
        Kind.GUIJI: ("app_id", "app_secret", "mqtt_url"),
        Kind.METASTUDIO: (
            "project_id",
            "access_key",
            "secret_key",
            "iam_token",
            "app_user_id",
            "callback_secret",
        ),
    }
    # Of those, the ones an account may go without (a default applies, or they are extras).
    OPTIONAL_CREDENTIALS = frozenset({"mqtt_url", "iam_token", "app_user_id", "callback_secret"})

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    base_url = models.URLField(help_text="The vendor's service entry point, or the sandbox's URL.")
    sandbox = models.BooleanField(
        default=False, help_text="The account lives on LiveDeck's sandbox platform, not a vendor."
    )
    credentials = EncryptedJSONField(blank=True, default=dict, editable=False)
    callback_key = models.CharField(max_length=64, unique=True, default=_callback_key, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()}{', sandbox' if self.sandbox else ''})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # MetaStudio signs its callbacks with a key of at most 32 characters (LiveEventCallBackConfig.key).
        if self.kind == self.Kind.METASTUDIO and not self.credential("callback_secret"):
            self.credentials = {**self.credentials, "callback_secret": secrets.token_urlsafe(24)}
        super().save(*args, **kwargs)

    def credential(self, name: str) -> str:
        return str(self.credentials.get(name, ""))

    def masked_credentials(self) -> dict[str, str]:
        # An account being added has no kind yet: nothing to show.
        return {name: mask(self.credential(name)) for name in self.CREDENTIAL_FIELDS.get(self.kind, ())}

    def callback_path(self) -> str:
        return reverse("callback", kwargs={"kind": self.kind, "key": self.callback_key})


class Script(GuijiSpeech):
    """What the avatar looks like, sounds like and says when a live opens.

    One scene for now: the anchor, the voice, the opening text and one background.
    Ranges are the vendor's (softsugar-interactive-live-api.txt, live script JSON); the
    Guiji speech settings (`GuijiSpeech`) say how Guiji speaks its texts and takeovers.
    """

    class BackgroundType(models.IntegerChoices):
        IMAGE = 0, "Image"
        VIDEO = 1, "Video"

    name = models.CharField(max_length=100)
    # Anchor (digital_role)
    anchor_name = models.CharField(max_length=100, blank=True)
    face_feature_id = models.CharField("face feature id", max_length=200)
    anchor_package_url = models.URLField("anchor package URL", max_length=500)
    anchor_x = models.IntegerField(default=0)
    anchor_y = models.IntegerField(default=0)
    anchor_scale = models.FloatField(default=1.0, validators=[MinValueValidator(0.1), MaxValueValidator(5.0)])
    # Voice (tts_config)
    voice_id = models.CharField("TTS speaker id", max_length=200)
    voice_name = models.CharField("TTS speaker name", max_length=100)
    voice_vendor_id = models.PositiveIntegerField("TTS vendor id", default=3)
    voice_language = models.CharField(max_length=20, default="zh-CN")
    voice_pitch = models.FloatField(
        "pitch", default=0.0, validators=[MinValueValidator(-60), MaxValueValidator(60)]
    )
    voice_speed = models.FloatField(
        "speed ratio",
        default=1.0,
        validators=[MinValueValidator(0.5), MaxValueValidator(2)],
        help_text="Higher is slower (0.5 to 2).",
    )
    voice_volume = models.PositiveIntegerField(
        "volume", default=100, validators=[MinValueValidator(1), MaxValueValidator(400)]
    )
    # Opening text (tts_query)
    opening_text = models.TextField(
        validators=[MinLengthValidator(10)], help_text="What the avatar says; at least 10 characters."
    )
    opening_ssml = models.BooleanField("opening text is SSML", default=False)
    # Interactive rooms only: quick replies a host fires with one click, and opening words.
    quick_replies = models.TextField(
        blank=True, help_text="Interactive rooms: one quick reply per line; hosts fire them by number."
    )
    opening_words = models.CharField(
        max_length=500, blank=True, help_text="Interactive rooms: what the avatar says when the live opens."
    )
    # One background
    background_name = models.CharField(max_length=100, blank=True, default="Background")
    background_type = models.IntegerField(choices=BackgroundType.choices, default=BackgroundType.IMAGE)
    background_url = models.URLField("background URL", max_length=500, blank=True)
    background_loop = models.BooleanField("loop a video background", default=True)
    # MetaStudio: the digital human and voice assets, and how the paragraphs are played
    # (metastudio-create-smart-live-room.txt, LiveVideoScriptInfo, VoiceConfig, PlayPolicy).
    ms_model_asset_id = models.CharField(
        "MetaStudio anchor asset id", max_length=64, blank=True, help_text="MetaStudio: model_asset_id."
    )
    ms_voice_asset_id = models.CharField(
        "MetaStudio voice asset id", max_length=256, blank=True, help_text="MetaStudio: voice_asset_id."
    )
    ms_voice_speed = models.PositiveSmallIntegerField(
        "MetaStudio speed",
        default=100,
        validators=[MinValueValidator(50), MaxValueValidator(200)],
        help_text="50 is half speed, 100 normal, 200 double.",
    )
    ms_voice_pitch = models.PositiveSmallIntegerField(
        "MetaStudio pitch", default=100, validators=[MinValueValidator(50), MaxValueValidator(200)]
    )
    ms_voice_volume = models.PositiveSmallIntegerField(
        "MetaStudio volume", default=140, validators=[MinValueValidator(90), MaxValueValidator(240)]
    )
    ms_repeat_count = models.SmallIntegerField(
        "repeat the paragraphs",
        default=-1,
        validators=[MinValueValidator(-1), MaxValueValidator(100)],
        help_text="MetaStudio: -1 repeats until the live stops, 0 plays them once, n plays them n + 1 times.",
    )
    ms_random_play_mode = models.CharField(
        "random order",
        max_length=24,
        choices=[
            ("NONE", "In order"),
            ("SCENE", "Scenes at random"),
            ("SCRIPT_ITEM", "Paragraphs at random"),
            ("SCENE_AND_SCRIPT_ITEM", "Scenes and paragraphs at random"),
        ],
        default="NONE",
        help_text="MetaStudio: from the second round on.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def quick_reply_list(self) -> list[str]:
        return [line.strip() for line in self.quick_replies.splitlines() if line.strip()]


class ScriptParagraph(models.Model):
    """One paragraph of a script's scene, spoken in order (MetaStudio: a shoot script)."""

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="paragraphs")
    position = models.PositiveIntegerField(default=0)
    title = models.CharField(max_length=256, blank=True)
    text = models.TextField(
        validators=[MinLengthValidator(1), MaxLengthValidator(10000)],
        help_text="What the avatar says; SSML tags are allowed (at most 10,000 characters).",
    )

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.title or self.text[:40]


def _fits_base64(text: str, limit: int) -> bool:
    return 4 * -(-len(text.encode()) // 3) <= limit


class ScriptLayer(models.Model):
    """An image, video or text drawn over the scene (MetaStudio: LayerConfig). Positions and
    sizes are on the vendor's canvas (1080 x 1920 portrait, 1920 x 1080 landscape)."""

    class Kind(models.TextChoices):
        IMAGE = "IMAGE", "Image"
        VIDEO = "VIDEO", "Video"
        TEXT = "TEXT", "Text"

    FONTS = [
        ("HarmonyOS_Sans_SC_Black", "HarmonyOS Sans Black"),
        ("HarmonyOS_Sans_SC_Regular", "HarmonyOS Sans Regular"),
        ("HarmonyOS_Sans_SC_Thin", "HarmonyOS Sans Thin"),
        ("fzyouh", "FZ You Hei"),
    ]
    canvas = [MinValueValidator(-1920), MaxValueValidator(3840)]
    size = [MinValueValidator(1), MaxValueValidator(7680)]

    script = models.ForeignKey(Script, on_delete=models.CASCADE, related_name="layers")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.IMAGE)
    x = models.IntegerField(default=0, validators=canvas)
    y = models.IntegerField(default=0, validators=canvas)
    width = models.PositiveIntegerField(default=300, validators=size)
    height = models.PositiveIntegerField(default=300, validators=size)
    layer_index = models.PositiveSmallIntegerField(
        "layer order",
        default=100,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="1 is the bottom layer.",
    )
    url = models.URLField("image or video URL", max_length=2048, blank=True)
    video_cover_url = models.URLField("video cover URL", max_length=2048, blank=True)
    loop_count = models.SmallIntegerField(
        "video plays",
        default=-1,
        validators=[MinValueValidator(-1), MaxValueValidator(100)],
        help_text="-1 loops for ever, 0 does not play.",
    )
    text = models.CharField(max_length=1024, blank=True)
    font_name = models.CharField(max_length=64, choices=FONTS, default="HarmonyOS_Sans_SC_Black")
    font_size = models.PositiveSmallIntegerField(
        default=16, validators=[MinValueValidator(4), MaxValueValidator(120)]
    )
    font_color = models.CharField(
        max_length=7,
        default="#FFFFFF",
        validators=[RegexValidator(r"^#[0-9A-Fa-f]{6}$", "A colour is # and six hex digits, like #FFFFFF.")],
    )

    class Meta:
        ordering = ["layer_index", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} layer {self.pk or ''}".strip()

    def clean(self) -> None:
        if self.kind == self.Kind.TEXT:
            if not self.text:
                raise ValidationError({"text": "A text layer needs its text."})
            # The vendor takes the text base64-encoded, at most 1,024 characters of it.
            if not _fits_base64(self.text, 1024):
                raise ValidationError(
                    {"text": "Too long: at most 768 bytes of UTF-8 (about 256 Chinese characters)."}
                )
        elif not self.url:
            raise ValidationError({"url": f"A {self.get_kind_display().lower()} layer needs its URL."})


class Room(models.Model):
    """A live room: which account it runs on, what script it plays, and who may operate it."""

    class LiveType(models.TextChoices):
        LIVE = "live", "Standard live"
        INTERACTIVE = "interactive", "Interactive live"

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    account = models.ForeignKey(PlatformAccount, on_delete=models.PROTECT, related_name="rooms")
    live_type = models.CharField(max_length=20, choices=LiveType.choices, default=LiveType.LIVE)
    script = models.ForeignKey(Script, on_delete=models.PROTECT, related_name="rooms")
    # Video settings: the vendor allows 10x10 up to 1080p, and a bitrate above 0 up to 7 Mbps.
    resolution_width = models.PositiveIntegerField(
        default=1080, validators=[MinValueValidator(10), MaxValueValidator(1920)]
    )
    resolution_height = models.PositiveIntegerField(
        default=1920, validators=[MinValueValidator(10), MaxValueValidator(1920)]
    )
    bitrate = models.FloatField(
        "bitrate (Mbps)", default=3.5, validators=[MinValueValidator(0.1), MaxValueValidator(7)]
    )
    # The customer's own Agora app (urtcUseExternalApp and its fields).
    external_rtc = models.BooleanField("use our own Agora app", default=False)
    rtc_app_id = models.CharField("Agora app id", max_length=100, blank=True)
    rtc_token = models.CharField("Agora token", max_length=500, blank=True)
    rtc_uid = models.CharField("Agora uid", max_length=10, blank=True)
    rtc_channel_id = models.CharField("Agora channel id", max_length=64, blank=True)
    qa_library = models.CharField(
        "Q&A library id",
        max_length=100,
        blank=True,
        help_text="The vendor's Q&A library for this room (its string id, not the number shown in lists).",
    )
    # Guiji: the vendor's own room (3.2), the anchor scenes it may show, its layers and push targets.
    vendor_room_id = models.CharField(
        "vendor room id", max_length=100, blank=True, help_text="Set when LiveDeck creates the room there."
    )
    cutin_flag = models.BooleanField("hosts may cut in", default=True, help_text="Guiji: cutinFlag.")
    anchor_scene = models.ForeignKey(
        "materials.AnchorScene",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Guiji: the anchor scene a live opens with.",
    )
    switch_scenes = models.ManyToManyField(
        "materials.AnchorScene",
        blank=True,
        related_name="+",
        help_text="Guiji: other anchor scenes a host may switch to during a live.",
    )
    overlay_url = models.URLField(
        "foreground image", max_length=500, blank=True, help_text="Guiji: an image over the avatar."
    )
    overlay_x = models.IntegerField(default=0)
    overlay_y = models.IntegerField(default=0)
    overlay_width = models.PositiveIntegerField(default=300)
    overlay_height = models.PositiveIntegerField(default=300)
    push_urls = models.TextField(
        "RTMP push URLs",
        blank=True,
        help_text="Third-party platforms to push the stream to, one rtmp:// URL per line (MetaStudio: one).",
    )
    # MetaStudio (metastudio-create-smart-live-room.txt): how replies are played, the RTMP
    # output (the first push URL and this key), backup anchors, the co-streamer, how callbacks
    # are signed.
    ms_play_type = models.CharField(
        "takeovers play",
        max_length=10,
        choices=[
            ("APPEND", "After what is queued"),
            ("INSERT", "At the end of the sentence"),
            ("PLAY_NOW", "At once"),
        ],
        default="INSERT",
        help_text="MetaStudio: interaction_config.play_type.",
    )
    ms_ignore_current_sentence = models.BooleanField(
        "drop the cut sentence",
        default=False,
        help_text="MetaStudio: after a takeover that plays at once, do not finish the sentence it cut.",
    )
    stream_key = models.CharField(
        "RTMP stream key", max_length=500, blank=True, help_text="MetaStudio: the key of the push URL."
    )
    backup_anchor_ids = models.TextField(
        "backup anchor asset ids",
        blank=True,
        help_text="MetaStudio: up to 5 digital-human asset ids to rotate to, one per line.",
    )
    callback_auth = models.CharField(
        "callback signing",
        max_length=12,
        choices=[
            ("MSS_A_HEAD", "Signed, in headers"),
            ("MSS_A", "Signed, in the URL"),
            ("NONE", "Unsigned (secret URL only)"),
        ],
        default="MSS_A_HEAD",
        help_text="MetaStudio: how the platform signs the events it sends LiveDeck.",
    )
    co_streamer_voice_id = models.CharField(
        "co-streamer voice asset id",
        max_length=256,
        blank=True,
        help_text="MetaStudio: a second voice that rules may reply with.",
    )
    co_streamer_action = models.CharField(
        "while the co-streamer speaks",
        max_length=12,
        choices=[("SILENCE", "The anchor is silent"), ("VOLUME_DOWN", "The anchor speaks lower")],
        default="SILENCE",
    )
    hosts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="rooms", help_text="Hosts who may run this room."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("room-console", kwargs={"pk": self.pk})

    @property
    def group_name(self) -> str:
        return f"room.{self.pk}"

    def push_url_list(self) -> list[str]:
        return [line.strip() for line in self.push_urls.splitlines() if line.strip()]

    def scenes(self) -> list[Any]:
        """The opening scene first, then the ones a host may switch to."""
        first = [self.anchor_scene] if self.anchor_scene else []
        return first + [scene for scene in self.switch_scenes.all() if scene != self.anchor_scene]

    def backup_anchor_list(self) -> list[str]:
        return [line.strip() for line in self.backup_anchor_ids.splitlines() if line.strip()]

    def clean(self) -> None:
        errors: dict[str, str] = {}
        bad = [url for url in self.push_url_list() if not url.startswith(("rtmp://", "rtmps://"))]
        if bad:
            errors["push_urls"] = f"Push URLs start with rtmp:// or rtmps:// ({bad[0]} does not)."
        backups = self.backup_anchor_list()
        if len(backups) > 5 or any(len(asset) > 64 for asset in backups):
            errors["backup_anchor_ids"] = "At most 5 asset ids, each at most 64 characters."
        if self.account_id and self.account.kind == PlatformAccount.Kind.METASTUDIO:
            errors.update(self._metastudio_errors())
        if self.resolution_width * self.resolution_height > 1920 * 1080:
            errors["resolution_height"] = "The vendor streams at most 1080p (1080 x 1920 or 1920 x 1080)."
        if self.external_rtc:
            for name in ("rtc_app_id", "rtc_token", "rtc_uid", "rtc_channel_id"):
                if not getattr(self, name):
                    errors[name] = "Required when the room uses your own Agora app."
            # isdigit() alone lets "²" through, which int() cannot read; the vendor wants ASCII digits.
            uid = self.rtc_uid
            if uid and (not (uid.isascii() and uid.isdigit()) or int(uid) > 2**32 - 1):
                errors["rtc_uid"] = "The Agora uid is a number no larger than 4294967295."
        if errors:
            raise ValidationError(errors)

    def _metastudio_errors(self) -> dict[str, str]:
        """What MetaStudio refuses in a room (VideoConfig, output_urls, the script's scene)."""
        errors: dict[str, str] = {}
        if (self.resolution_width, self.resolution_height) not in ((1080, 1920), (1920, 1080)):
            errors["resolution_width"] = "MetaStudio lives are 1080 x 1920 or 1920 x 1080."
        if not 1 <= self.bitrate <= 8:
            errors["bitrate"] = "MetaStudio streams at 1 to 8 Mbps."
        if len(self.push_url_list()) > 1:
            errors["push_urls"] = "MetaStudio pushes to one RTMP URL."
        if self.stream_key and not self.push_url_list():
            errors["stream_key"] = "A stream key needs the push URL it belongs to."
        if self.script_id:
            script = self.script
            missing = [
                label
                for label, value in (
                    ("an anchor asset id", script.ms_model_asset_id),
                    ("a voice asset id", script.ms_voice_asset_id),
                )
                if not value
            ]
            if missing:
                errors["script"] = f"For MetaStudio the script needs {' and '.join(missing)}."
            elif script.background_url and script.background_type != Script.BackgroundType.IMAGE:
                errors["script"] = "MetaStudio backgrounds are images: pick a script whose background is one."
        return errors


class InteractionRule(models.Model):
    """When an audience event matches, the avatar replies (MetaStudio: LiveRoomInteractionRuleInfo,
    matched by the platform on the events LiveDeck reports)."""

    class Event(models.IntegerChoices):
        COMMENT = 1, "Comment"
        ENTER = 2, "Viewer enters"
        LIKE = 3, "Like"
        GIFT = 4, "Gift"

    class Match(models.TextChoices):
        EQUAL = "EQUAL", "is exactly"
        REGEX = "REGEX", "matches the pattern"
        MATH_GT = "MATH_GT", "is more than"
        MATH_GE = "MATH_GE", "is at least"
        MATH_LT = "MATH_LT", "is less than"
        MATH_LE = "MATH_LE", "is at most"
        MATH_EQ = "MATH_EQ", "equals the number"

    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(max_length=256)
    enabled = models.BooleanField(default=True)
    event_type = models.PositiveSmallIntegerField("event", choices=Event.choices, default=Event.COMMENT)
    tag = models.CharField(
        "field",
        max_length=256,
        default="content",
        help_text="The event's field to test: content (comment text), level, giftNum, ...",
    )
    match = models.CharField(max_length=10, choices=Match.choices, default=Match.REGEX)
    value = models.CharField(max_length=1024, blank=True)
    reply_texts = models.TextField(
        "replies", help_text="Up to 5 replies, one per line (at most 1,024 characters each)."
    )
    reply_order = models.CharField(
        max_length=6, choices=[("RANDOM", "At random"), ("ORDER", "In turn")], default="RANDOM"
    )
    time_window = models.SmallIntegerField(
        "quiet period (s)",
        default=0,
        validators=[MinValueValidator(-1), MaxValueValidator(7200)],
        help_text="0 replies every time, n at most once every n seconds, -1 once per live.",
    )
    priority = models.PositiveSmallIntegerField(
        default=500, validators=[MaxValueValidator(999)], help_text="Lower wins (0 to 999)."
    )

    class Meta:
        ordering = ["priority", "pk"]

    def __str__(self) -> str:
        return self.name

    def reply_list(self) -> list[str]:
        return [line.strip() for line in self.reply_texts.splitlines() if line.strip()]

    def clean(self) -> None:
        replies = self.reply_list()
        if not replies:
            raise ValidationError({"reply_texts": "Give at least one reply."})
        if len(replies) > 5 or any(len(reply) > 1024 for reply in replies):
            raise ValidationError({"reply_texts": "At most 5 replies, each at most 1,024 characters."})
        if self.match == self.Match.REGEX:
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValidationError({"value": f"Not a valid pattern: {exc}."}) from None
        elif self.match != self.Match.EQUAL:
            try:
                float(self.value)
            except ValueError:
                raise ValidationError({"value": "A number comparison needs a number."}) from None


class LiveSessionQuerySet(models.QuerySet["LiveSession"]):
    def open(self) -> LiveSessionQuerySet:
        return self.filter(state__in=OPEN_STATES)


OPEN_STATES = [s.value for s in LiveState if s.is_open]
# A state may only move forward along this order; terminal states never change.
STATE_RANK = {
    LiveState.CREATING: 0,
    LiveState.READY: 1,
    LiveState.LIVE: 2,
    LiveState.ENDED: 3,
    LiveState.DROPPED: 3,
    LiveState.FAILED: 3,
    LiveState.NO_CAPACITY: 3,
}


class LiveSession(models.Model):
    """One run of a room on its platform, from creation (when billing starts) to its end."""

    room = models.ForeignKey(Room, on_delete=models.SET_NULL, null=True, blank=True, related_name="sessions")
    # Kept apart from the room so a session whose room was deleted can still be closed.
    account = models.ForeignKey(PlatformAccount, on_delete=models.PROTECT, related_name="sessions")
    vendor_session_id = models.CharField(max_length=200, blank=True)
    session_token = models.CharField(max_length=500, blank=True)
    state = models.CharField(
        max_length=20, choices=[(s.value, s.name.replace("_", " ").title()) for s in LiveState]
    )
    vendor_code = models.CharField(max_length=40, blank=True)
    reason = models.CharField(
        max_length=500, blank=True, help_text="Why the session ended, failed or dropped."
    )
    last_error = models.CharField(
        max_length=500, blank=True, help_text="The last action that failed, in words."
    )
    stop_requested = models.BooleanField(default=False)
    stop_reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why LiveDeck asked to close it; shown when the vendor gives no reason.",
    )
    auto_start = models.BooleanField(default=True, help_text="Go live as soon as the stream is ready.")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rtc_app_id = models.CharField(max_length=100, blank=True)
    rtc_channel_id = models.CharField(max_length=64, blank=True)
    rtc_uid = models.CharField(max_length=20, blank=True)
    rtc_token = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)
    live_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_ok = models.BooleanField(default=True)
    last_heartbeat_error = models.CharField(max_length=500, blank=True)
    heartbeat_failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed heartbeats.")
    heartbeats_sent = models.PositiveIntegerField(default=0)
    next_heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # What the vendor needs kept between calls (Guiji: room id, MQTT topics, the show's playlist,
    # play addresses, push targets); written by services from what the driver returns.
    vendor_data = models.JSONField(default=dict, blank=True)

    objects = LiveSessionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "next_heartbeat_at"]),
            # Callbacks find their session by both: SQLite, with an index on each, walked every
            # session the account ever ran for the one with the vendor's id.
            models.Index(fields=["account", "vendor_session_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.room or 'deleted room'} · {self.vendor_session_id or 'opening'} · {self.state}"

    @property
    def live_state(self) -> LiveState:
        return LiveState(self.state)

    @property
    def is_open(self) -> bool:
        return self.live_state.is_open

    @property
    def at_risk(self) -> bool:
        return self.is_open and self.heartbeat_failures >= settings.HEARTBEAT_RISK_AFTER

    def user_data(self) -> str:
        """What LiveDeck sends as the vendor's userData, so callbacks can be matched to this row."""
        return f"livedeck-session-{self.pk}"

    def rtc(self) -> dict[str, Any]:
        return {
            "app_id": self.rtc_app_id,
            "channel_id": self.rtc_channel_id,
            "uid": self.rtc_uid,
            "token": mask(self.rtc_token),
        }
