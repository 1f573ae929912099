"""How long an avatar takes to say something, and what it is saying at a given moment.

Everything is computed from the clock (elapsed seconds) so thousands of sessions cost no timers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

# A sentence ends at Chinese or English sentence punctuation (a run of it, e.g. "?!" or "……").
# Fullwidth exclamation, question mark and semicolon are written as escapes (\uff01 \uff1f \uff1b).
_ENDS = "。\uff01\uff1f\uff1b…!?;.\n"
_SENTENCE = re.compile(f"[^{_ENDS}]+[{_ENDS}]*")


def split_sentences(text: str) -> list[str]:
    """Split on sentence punctuation, keeping it; text without punctuation is one sentence."""
    return [part.strip() for part in _SENTENCE.findall(text) if part.strip()]


def sentence_seconds(sentence: str, *, per_char: float, speed_ratio: float, minimum: float) -> float:
    """Speaking time grows with length; a higher speed_ratio is slower speech (vendor tts_config)."""
    return max(minimum, per_char * len(sentence) * speed_ratio)


def audio_fragment(url: str) -> dict[str, float]:
    """Read sandbox hints such as ``#duration=3&prepare=12`` from an audio URL's fragment."""
    hints: dict[str, float] = {}
    for key, value in parse_qsl(urlsplit(url).fragment):
        try:
            hints[key] = float(value)
        except ValueError:
            continue
    return hints


@dataclass(frozen=True)
class Speech:
    """A sequence of (subtitle, seconds) segments; audio segments have an empty subtitle."""

    segments: tuple[tuple[str, float], ...]

    @property
    def total(self) -> float:
        return sum(seconds for _, seconds in self.segments)

    def subtitle_at(self, elapsed: float) -> str:
        """The segment being spoken ``elapsed`` seconds into one pass."""
        for subtitle, seconds in self.segments:
            if elapsed < seconds:
                return subtitle
            elapsed -= seconds
        return ""


def text_speech(text: str, *, per_char: float, speed_ratio: float, minimum: float) -> Speech:
    segments = tuple(
        (sentence, sentence_seconds(sentence, per_char=per_char, speed_ratio=speed_ratio, minimum=minimum))
        for sentence in split_sentences(text)
    )
    return Speech(segments)


def audio_speech(urls: list[str], *, default_seconds: float) -> Speech:
    return Speech(tuple(("", audio_fragment(url).get("duration", default_seconds)) for url in urls))
