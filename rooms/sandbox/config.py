"""Run-time knobs of the emulated vendors, changed by tests through ``PUT /_sandbox/config``.

Defaults follow the vendor documents where they give a number (preparation threshold of 10 s) and
the project's brief elsewhere; tests shrink the delays so a whole suite runs in seconds.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SandboxConfig(BaseModel):
    """Timings and capacities shared by the emulated platforms."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    create_delay: float = Field(
        2.0, ge=0, description="seconds a SoftSugar session stays in 32, a Guiji session takes to make"
    )
    heartbeat_threshold: float = Field(180.0, gt=0, description="seconds without heartbeat before 50")
    capacity: int = Field(1000, ge=0, description="open sessions the whole platform holds (else status 97)")
    prepare_delay: float = Field(0.0, ge=0, description="seconds every queued takeover takes to prepare")
    prepare_threshold: float = Field(10.0, ge=0, description="preparation longer than this answers 33")
    speech_seconds_per_char: float = Field(0.2, gt=0, description="speaking time per character")
    min_sentence_seconds: float = Field(1.0, ge=0, description="shortest time a sentence is spoken")
    default_audio_seconds: float = Field(5.0, gt=0, description="audio length when the URL has no #duration")
    guiji_token_seconds: float = Field(3600.0, gt=0, description="a Guiji token's life since its last use")
    guiji_session_seconds: float = Field(
        30.0, gt=0, description="a created Guiji session not made is forgotten"
    )
    guiji_show_delay: float = Field(
        0.5, ge=0, description="seconds from make complete to Show and StreamPlay"
    )
    guiji_heartbeat_interval: float = Field(5.0, gt=0, description="seconds between Guiji HeartBeats")
    guiji_heartbeat_threshold: float = Field(20.0, gt=0, description="unanswered seconds before Destroy")
    guiji_silence_seconds: float = Field(0.3, ge=0, description="longest wait for a silence to cut at")
    metastudio_rtmp_connect_seconds: float = Field(
        0.3, ge=0, description="seconds a MetaStudio RTMP link stays CONNECTING before CONNECTED"
    )
    metastudio_exit_time_scale: float = Field(
        1.0, gt=0, description="MetaStudio exit timers (max_live_duration, exception waiting) times this"
    )
    metastudio_report_url_seconds: float = Field(
        86_400.0, gt=0, description="how long a MetaStudio live_event_report_url is valid"
    )

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update atomically: validate the merged result before touching anything."""
        merged = type(self).model_validate({**self.model_dump(), **changes})
        for name in type(self).model_fields:
            setattr(self, name, getattr(merged, name))

    def restore_defaults(self) -> None:
        self.update(type(self)().model_dump())
