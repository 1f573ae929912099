"""Producer forms. Ranges are the vendor's, so a bad value is a form error, not a vendor 400."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models

from materials.models import AnchorScene
from rooms.models import PlatformAccount, Room, Script


def https_urls(field: models.Field, **kwargs: Any) -> forms.Field | None:  # type: ignore[type-arg]
    """Model form fields as Django makes them, but a URL typed without a scheme is https."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class SectionedForm(forms.ModelForm):
    """A form whose fields are shown in named sections."""

    sections: list[tuple[str, list[str]]] = []

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        return [(title, [self[name] for name in names]) for title, names in self.sections]


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
            "Guiji stage",
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
            ],
        ),
    ]

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
        ]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "push_urls": forms.Textarea(attrs={"rows": 2, "placeholder": "rtmp://live.example.com/app/key"}),
            "switch_scenes": forms.CheckboxSelectMultiple,
            "bitrate": forms.NumberInput(attrs={"min": 0.1, "max": 7, "step": "0.1"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only scenes of the room's own platform account can be shown in its lives.
        scenes = AnchorScene.objects.select_related("anchor")
        if self.instance.account_id:
            scenes = scenes.filter(anchor__account_id=self.instance.account_id)
        for name in ("anchor_scene", "switch_scenes"):
            self.fields[name].queryset = scenes  # type: ignore[attr-defined]
            self.fields[name].help_text += " Sync the account's catalog to list its anchors."
        # The overlay's place only matters with an overlay: left empty, it keeps its default.
        for name in OVERLAY_PLACE:
            self.fields[name].required = False

    def clean(self) -> dict:
        data = super().clean() or {}
        for name in OVERLAY_PLACE:
            if data.get(name) is None:
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


class PlatformAccountAdminForm(forms.ModelForm):
    """Credentials are asked for by name and never shown back: a blank field keeps the stored value."""

    token = forms.CharField(required=False, widget=forms.PasswordInput, help_text="SoftSugar API token.")
    app_id = forms.CharField(required=False, help_text="Guiji appId.")
    app_secret = forms.CharField(required=False, widget=forms.PasswordInput, help_text="Guiji appSecret.")
    project_id = forms.CharField(required=False, help_text="MetaStudio project id.")
    access_key = forms.CharField(required=False, help_text="MetaStudio AK.")
    secret_key = forms.CharField(required=False, widget=forms.PasswordInput, help_text="MetaStudio SK.")

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
                if not data.get(name) and not stored.get(name):
                    self.add_error(name, "Required for this kind of account.")
        return data

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
