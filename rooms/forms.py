"""Producer forms. Ranges are the vendor's, so a bad value is a form error, not a vendor 400."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from materials.models import AnchorScene
from rooms.models import InteractionRule, PlatformAccount, Room, Script, ScriptLayer, ScriptParagraph


def https_urls(field: models.Field, **kwargs: Any) -> forms.Field | None:  # type: ignore[type-arg]
    """Model form fields as Django makes them, but a URL typed without a scheme is https."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class SectionedForm(forms.ModelForm):
    """A form whose fields are shown in named sections."""

    sections: list[tuple[str, list[str]]] = []

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        shown = [(title, [self[n] for n in names if n in self.fields]) for title, names in self.sections]
        return [(title, fields) for title, fields in shown if fields]


class ScriptForm(SectionedForm):
    sections = [
        ("Script", ["name"]),
        (
            "Anchor",
            ["anchor_name", "face_feature_id", "anchor_package_url", "anchor_x", "anchor_y", "anchor_scale"],
        ),
        (
            "Voice",
            [
                "voice_id",
                "voice_name",
                "voice_vendor_id",
                "voice_language",
                "voice_pitch",
                "voice_speed",
                "voice_volume",
            ],
        ),
        ("Opening words", ["opening_text", "opening_ssml"]),
        ("Interactive rooms", ["opening_words", "quick_replies"]),
        ("Background", ["background_name", "background_type", "background_url", "background_loop"]),
        (
            "MetaStudio anchor, voice and play order",
            [
                "ms_model_asset_id",
                "ms_voice_asset_id",
                "ms_voice_speed",
                "ms_voice_pitch",
                "ms_voice_volume",
                "ms_repeat_count",
                "ms_random_play_mode",
            ],
        ),
        (
            "Guiji voice (text the avatar speaks on Guiji)",
            [
                "tts_speaker",
                "tts_source",
                "tts_volume",
                "tts_intonation",
                "tts_speed_rate",
                "tts_f0up_key",
                "change_voice_speaker",
            ],
        ),
    ]

    class Meta:
        model = Script
        formfield_callback = https_urls
        fields = [
            "name",
            "anchor_name",
            "face_feature_id",
            "anchor_package_url",
            "anchor_x",
            "anchor_y",
            "anchor_scale",
            "voice_id",
            "voice_name",
            "voice_vendor_id",
            "voice_language",
            "voice_pitch",
            "voice_speed",
            "voice_volume",
            "opening_text",
            "opening_ssml",
            "opening_words",
            "quick_replies",
            "background_name",
            "background_type",
            "background_url",
            "background_loop",
            "tts_speaker",
            "tts_source",
            "tts_volume",
            "tts_intonation",
            "tts_speed_rate",
            "tts_f0up_key",
            "change_voice_speaker",
            "ms_model_asset_id",
            "ms_voice_asset_id",
            "ms_voice_speed",
            "ms_voice_pitch",
            "ms_voice_volume",
            "ms_repeat_count",
            "ms_random_play_mode",
        ]
        widgets = {
            "opening_text": forms.Textarea(attrs={"rows": 5, "minlength": 10}),
            "voice_pitch": forms.NumberInput(attrs={"min": -60, "max": 60, "step": "0.1"}),
            "voice_speed": forms.NumberInput(attrs={"min": 0.5, "max": 2, "step": "0.05"}),
            "voice_volume": forms.NumberInput(attrs={"min": 1, "max": 400}),
            "anchor_scale": forms.NumberInput(attrs={"min": 0.1, "max": 5, "step": "0.05"}),
            **{
                name: forms.NumberInput(attrs={"min": -20, "max": 20, "step": "0.5"})
                for name in ("tts_volume", "tts_intonation", "tts_speed_rate")
            },
            "tts_f0up_key": forms.NumberInput(attrs={"min": -20, "max": 20}),
            "ms_voice_speed": forms.NumberInput(attrs={"min": 50, "max": 200}),
            "ms_voice_pitch": forms.NumberInput(attrs={"min": 50, "max": 200}),
            "ms_voice_volume": forms.NumberInput(attrs={"min": 90, "max": 240}),
            "ms_repeat_count": forms.NumberInput(attrs={"min": -1, "max": 100}),
        }

    def clean_opening_text(self) -> str:
        text = self.cleaned_data["opening_text"].strip()
        if len(text) < 10:
            raise forms.ValidationError(f"The vendor needs at least 10 characters; this has {len(text)}.")
        return text

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("background_name") and not data.get("background_url"):
            self.add_error("background_url", "Give the background's URL, or clear its name.")
        return data


class ParagraphForm(forms.ModelForm):
    class Meta:
        model = ScriptParagraph
        fields = ["position", "title", "text"]
        labels = {"position": "Order"}
        widgets = {
            "position": forms.NumberInput(attrs={"min": 0, "class": "narrow"}),
            "text": forms.Textarea(attrs={"rows": 2}),
        }


class LayerForm(forms.ModelForm):
    class Meta:
        model = ScriptLayer
        formfield_callback = https_urls
        fields = [
            "kind",
            "url",
            "video_cover_url",
            "loop_count",
            "text",
            "font_name",
            "font_size",
            "font_color",
            "x",
            "y",
            "width",
            "height",
            "layer_index",
        ]
        widgets = {"font_color": forms.TextInput(attrs={"type": "color"})}


# The paragraphs the avatar speaks in order, and the layers drawn over the scene (MetaStudio).
ParagraphFormSet = forms.inlineformset_factory(
    Script, ScriptParagraph, form=ParagraphForm, extra=2, can_delete=True, max_num=500, validate_max=True
)
LayerFormSet = forms.inlineformset_factory(
    Script, ScriptLayer, form=LayerForm, extra=1, can_delete=True, max_num=20, validate_max=True
)


class RuleForm(forms.ModelForm):
    class Meta:
        model = InteractionRule
        fields = [
            "name",
            "enabled",
            "event_type",
            "tag",
            "match",
            "value",
            "reply_texts",
            "reply_order",
            "time_window",
            "priority",
        ]
        widgets = {"reply_texts": forms.Textarea(attrs={"rows": 2})}


RuleFormSet = forms.inlineformset_factory(
    Room, InteractionRule, form=RuleForm, extra=1, can_delete=True, max_num=100, validate_max=True
)


OVERLAY_PLACE = ("overlay_x", "overlay_y", "overlay_width", "overlay_height")


class RoomForm(SectionedForm):
    sections = [
        ("Room", ["name", "description", "script", "live_type", "qa_library"]),
        ("Video", ["resolution_width", "resolution_height", "bitrate"]),
        (
            "Your own Agora app (optional)",
            ["external_rtc", "rtc_app_id", "rtc_token", "rtc_uid", "rtc_channel_id"],
        ),
        (
            "Stage",
            [
                "cutin_flag",
                "anchor_scene",
                "switch_scenes",
                "overlay_url",
                "overlay_x",
                "overlay_y",
                "overlay_width",
                "overlay_height",
                "push_urls",
                "stream_key",
                "backup_anchor_ids",
            ],
        ),
        (
            "Takeovers, co-streamer and callbacks",
            [
                "ms_play_type",
                "ms_ignore_current_sentence",
                "co_streamer_voice_id",
                "co_streamer_action",
                "callback_auth",
            ],
        ),
    ]
    # The fields only one vendor reads; the form leaves out those of the room's other vendors.
    VENDOR_FIELDS = {
        PlatformAccount.Kind.SOFTSUGAR: {
            "live_type",
            "qa_library",
            "external_rtc",
            "rtc_app_id",
            "rtc_token",
            "rtc_uid",
            "rtc_channel_id",
        },
        PlatformAccount.Kind.GUIJI: {
            "cutin_flag",
            "anchor_scene",
            "switch_scenes",
            "overlay_url",
            *OVERLAY_PLACE,
        },
        PlatformAccount.Kind.METASTUDIO: {
            "ms_play_type",
            "ms_ignore_current_sentence",
            "stream_key",
            "backup_anchor_ids",
            "callback_auth",
            "co_streamer_voice_id",
            "co_streamer_action",
        },
    }

    class Meta:
        model = Room
        formfield_callback = https_urls
        fields = [
            "name",
            "description",
            "script",
            "live_type",
            "qa_library",
            "resolution_width",
            "resolution_height",
            "bitrate",
            "external_rtc",
            "rtc_app_id",
            "rtc_token",
            "rtc_uid",
            "rtc_channel_id",
            "cutin_flag",
            "anchor_scene",
            "switch_scenes",
            "overlay_url",
            "overlay_x",
            "overlay_y",
            "overlay_width",
            "overlay_height",
            "push_urls",
            "ms_play_type",
            "ms_ignore_current_sentence",
            "stream_key",
            "backup_anchor_ids",
            "callback_auth",
            "co_streamer_voice_id",
            "co_streamer_action",
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "backup_anchor_ids": forms.Textarea(attrs={"rows": 2}),
            "stream_key": forms.PasswordInput(render_value=True),
            "push_urls": forms.Textarea(attrs={"rows": 2, "placeholder": "rtmp://live.example.com/app/key"}),
            "switch_scenes": forms.CheckboxSelectMultiple,
            "bitrate": forms.NumberInput(attrs={"min": 0.1, "max": 7, "step": "0.1"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind = self.instance.account.kind if self.instance.account_id else None
        for vendor, names in self.VENDOR_FIELDS.items():
            if kind and vendor != kind:
                for name in names:
                    self.fields.pop(name, None)
        if kind == PlatformAccount.Kind.SOFTSUGAR:
            self.fields.pop("push_urls", None)
        # Only scenes of the room's own platform account can be shown in its lives.
        scenes = AnchorScene.objects.select_related("anchor")
        if self.instance.account_id:
            scenes = scenes.filter(anchor__account_id=self.instance.account_id)
        for name in ("anchor_scene", "switch_scenes"):
            if name in self.fields:
                self.fields[name].queryset = scenes  # type: ignore[attr-defined]
                self.fields[name].help_text += " Sync the account's catalog to list its anchors."
        # The overlay's place only matters with an overlay: left empty, it keeps its default.
        for name in OVERLAY_PLACE:
            if name in self.fields:
                self.fields[name].required = False

    def clean(self) -> dict:
        data = super().clean() or {}
        for name in OVERLAY_PLACE:
            if name in self.fields and data.get(name) is None:
                data[name] = Room._meta.get_field(name).get_default()
        guiji = self.instance.account_id and self.instance.account.kind == PlatformAccount.Kind.GUIJI
        if guiji and not data.get("anchor_scene"):
            self.add_error("anchor_scene", "A Guiji live needs the anchor scene it opens with.")
        return data


# The stage during a live (Guiji) ----------------------------------------------------------


class BackgroundForm(forms.Form):
    url = forms.URLField(label="Background image URL", max_length=500, assume_scheme="https")


class AnchorForm(forms.Form):
    scene = forms.ModelChoiceField(queryset=AnchorScene.objects.none(), empty_label=None)

    def __init__(self, *args: Any, room: Room, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scene"].queryset = AnchorScene.objects.filter(  # type: ignore[attr-defined]
            pk__in=[scene.pk for scene in room.scenes()]
        ).select_related("anchor")


class PushForm(forms.Form):
    urls = forms.CharField(label="RTMP push URLs", widget=forms.Textarea(attrs={"rows": 2}))

    def clean_urls(self) -> list[str]:
        urls = [line.strip() for line in self.cleaned_data["urls"].splitlines() if line.strip()]
        if not urls:
            raise forms.ValidationError("Give at least one rtmp:// URL.")
        for url in urls:
            if not url.startswith(("rtmp://", "rtmps://")) or len(url) <= len("rtmp://"):
                raise forms.ValidationError(f"{url} is not an rtmp:// or rtmps:// URL.")
        return urls


class LayoutForm(forms.Form):
    x = forms.IntegerField(min_value=-1920, max_value=1920)
    y = forms.IntegerField(min_value=-1920, max_value=1920)
    width = forms.IntegerField(min_value=1, max_value=1920)
    height = forms.IntegerField(min_value=1, max_value=1920)
    alpha = forms.FloatField(min_value=0, max_value=1, initial=1.0, label="Opacity (0 to 1)")


# The show during a live (MetaStudio) ------------------------------------------------------


class OutputForm(forms.Form):
    url = forms.CharField(label="RTMP URL", max_length=2048)
    stream_key = forms.CharField(label="Stream key", max_length=500, required=False)

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"].strip()
        if not url.startswith(("rtmp://", "rtmps://")):
            raise forms.ValidationError("The output is an rtmp:// or rtmps:// URL.")
        return url


class ShowLayerForm(forms.Form):
    """A guide layer shown for a while (SmartLayerConfig): an image or a line of text."""

    kind = forms.ChoiceField(choices=[("IMAGE", "Image"), ("TEXT", "Text")])
    url = forms.URLField(label="Image URL", max_length=2048, required=False, assume_scheme="https")
    text = forms.CharField(max_length=256, required=False)
    x = forms.IntegerField(min_value=-1920, max_value=3840, initial=60)
    y = forms.IntegerField(min_value=-1920, max_value=3840, initial=1500)
    width = forms.IntegerField(min_value=1, max_value=7680, initial=960)
    height = forms.IntegerField(min_value=1, max_value=7680, initial=200)
    seconds = forms.IntegerField(label="Shown for (s)", min_value=1, max_value=3600, initial=10)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("kind") == "IMAGE" and not data.get("url"):
            self.add_error("url", "An image layer needs the image's URL.")
        if data.get("kind") == "TEXT" and not data.get("text"):
            self.add_error("text", "A text layer needs its text.")
        return data


class ExitForm(forms.Form):
    """When the platform stops the live by itself (LiveExitConfig)."""

    max_live_duration = forms.IntegerField(
        label="Stop after (hours, 0 never)", min_value=0, max_value=168, initial=0
    )
    auto_stop_mode = forms.ChoiceField(
        label="How it stops",
        choices=[
            ("FORCE_EXIT", "At once"),
            ("SEGMENT_END", "At the end of the paragraph"),
            ("SCENE_END", "At the end of the scene"),
            ("SCRIPT_END", "At the end of the script"),
        ],
    )
    max_exception_waiting_duration = forms.IntegerField(
        label="Stop after a fault lasting (minutes, 0 never)", min_value=0, max_value=60, initial=3
    )


class ParagraphRewriteForm(forms.Form):
    paragraph = forms.IntegerField()
    title = forms.CharField(max_length=256, required=False)
    text = forms.CharField(max_length=10000)


class AudienceForm(forms.Form):
    """An audience event typed on the console: what a platform's comment feed would report."""

    kind = forms.ChoiceField(
        choices=[("comment", "Comment"), ("enter", "Arrives"), ("like", "Like"), ("gift", "Gift")]
    )
    name = forms.CharField(label="Viewer", max_length=64, initial="viewer")
    text = forms.CharField(label="Comment", max_length=500, required=False)
    gift_name = forms.CharField(max_length=64, required=False)
    gift_num = forms.IntegerField(min_value=1, max_value=9999, required=False)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("kind") == "comment" and not data.get("text"):
            self.add_error("text", "Type the comment.")
        if data.get("kind") == "gift" and not data.get("gift_name"):
            self.add_error("gift_name", "Name the gift.")
        return data


class PlatformAccountAdminForm(forms.ModelForm):
    """Credentials are asked for by name and never shown back: a blank field keeps the stored value."""

    token = forms.CharField(required=False, widget=forms.PasswordInput, help_text="SoftSugar API token.")
    app_id = forms.CharField(required=False, help_text="Guiji appId.")
    app_secret = forms.CharField(required=False, widget=forms.PasswordInput, help_text="Guiji appSecret.")
    project_id = forms.CharField(required=False, help_text="MetaStudio project id.")
    access_key = forms.CharField(required=False, help_text="MetaStudio AK.")
    secret_key = forms.CharField(required=False, widget=forms.PasswordInput, help_text="MetaStudio SK.")
    mqtt_url = forms.CharField(
        required=False, help_text="Guiji: the MQTT broker (mqtt://host:port); blank uses LiveDeck's own."
    )
    iam_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        help_text="MetaStudio: an IAM token to send instead of signing with AK/SK (optional).",
    )
    app_user_id = forms.CharField(required=False, help_text="MetaStudio: X-App-UserId, if you use one.")
    callback_secret = forms.CharField(
        required=False,
        max_length=32,
        widget=forms.PasswordInput,
        help_text="MetaStudio: the key its callbacks are signed with (up to 32 characters); blank makes one.",
    )

    class Meta:
        model = PlatformAccount
        formfield_callback = https_urls
        fields = ["name", "kind", "base_url", "sandbox"]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for name, masked in (self.instance.masked_credentials() if self.instance.pk else {}).items():
            if masked:
                self.fields[name].help_text = f"Stored: {masked}. Leave blank to keep it."

    def clean(self) -> dict:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind:
            stored = self.instance.credentials if self.instance.pk else {}
            for name in PlatformAccount.CREDENTIAL_FIELDS[kind]:
                if name in PlatformAccount.OPTIONAL_CREDENTIALS:
                    continue
                if not data.get(name) and not stored.get(name):
                    self.add_error(name, "Required for this kind of account.")
        return data

    def clean_app_user_id(self) -> str:
        value: str = self.cleaned_data.get("app_user_id", "")
        if not value.isascii():
            raise forms.ValidationError("MetaStudio takes a user id without Chinese characters (ASCII only).")
        return value

    def save(self, commit: bool = True) -> PlatformAccount:
        account = super().save(commit=False)
        credentials = dict(account.credentials or {})
        for name in PlatformAccount.CREDENTIAL_FIELDS[account.kind]:
            if self.cleaned_data.get(name):
                credentials[name] = self.cleaned_data[name]
        account.credentials = credentials
        if commit:
            account.save()
        return account
