"""The console's takeover composer."""

from __future__ import annotations

from typing import Any

from django import forms

from materials.models import Material
from takeovers.models import Takeover
from takeovers.services import Draft


class TakeoverForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[(Takeover.Kind.TEXT, "Text"), (Takeover.Kind.SSML, "SSML"), (Takeover.Kind.AUDIO, "Audio")],
        initial=Takeover.Kind.TEXT,
    )
    content = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    audio = forms.ModelChoiceField(
        queryset=Material.objects.filter(kind=Material.Kind.AUDIO),
        required=False,
        empty_label="Pick an audio material…",
    )
    audio_url = forms.URLField(required=False, assume_scheme="https")
    foreground_url = forms.URLField(required=False, assume_scheme="https")
    background_url = forms.URLField(required=False, assume_scheme="https")
    mode = forms.ChoiceField(choices=[("queue", "Add to queue"), ("now", "Play now")], initial="queue")
    position = forms.IntegerField(required=False, min_value=1, max_value=100)
    source = forms.ChoiceField(
        choices=[(Takeover.Source.HOST, "Host"), (Takeover.Source.QA, "Q&A")], required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == Takeover.Kind.AUDIO:
            audio: Material | None = data.get("audio")
            data["audio_url"] = audio.url if audio else data.get("audio_url", "")
            if not data["audio_url"]:
                raise forms.ValidationError("Pick an audio material or give an audio URL.")
        return data

    def draft(self) -> Draft:
        data = self.cleaned_data
        return Draft(
            kind=data["kind"],
            content=data.get("content") or "",
            audio_url=data.get("audio_url") or "",
            foreground_url=data.get("foreground_url") or "",
            background_url=data.get("background_url") or "",
            interrupt=data["mode"] == "now",
            position=data.get("position") if data["mode"] == "queue" else None,
            source=data.get("source") or Takeover.Source.HOST,
        )

    def first_error(self) -> str:
        for field, errors in self.errors.items():
            label = "" if field == "__all__" else f"{self.fields[field].label or field.replace('_', ' ')}: "
            return f"{label.capitalize()}{errors[0]}"
        return "The takeover is not valid."
