"""Forms of the catalog pages."""

from __future__ import annotations

from typing import Any

from django import forms

from materials.models import VoiceChangeVoice
from rooms.models import PlatformAccount

# A trial is one short sentence: enough to judge a voice, cheap to synthesize.
TRIAL_MAX_CHARS = 200


class VoiceChangeTrialForm(forms.Form):
    speaker = forms.CharField(widget=forms.HiddenInput)
    text = forms.CharField(
        max_length=TRIAL_MAX_CHARS,
        error_messages={
            "required": "Type a sentence to hear it in this voice.",
            "max_length": f"Keep the trial to one sentence of at most {TRIAL_MAX_CHARS} characters.",
        },
        widget=forms.TextInput(attrs={"placeholder": "A sentence to hear in this voice"}),
    )

    def __init__(self, *args: Any, account: PlatformAccount, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.voice: VoiceChangeVoice | None = None

    def clean_speaker(self) -> str:
        speaker: str = self.cleaned_data["speaker"]
        self.voice = VoiceChangeVoice.objects.filter(account=self.account, speaker=speaker).first()
        if self.voice is None:
            raise forms.ValidationError(
                "That voice is not in this account's catalog any more. "
                "Reload the page to see the current list."
            )
        return speaker
