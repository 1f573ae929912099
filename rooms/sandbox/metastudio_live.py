"""What a MetaStudio live job plays, and when: paragraphs, inserted replies, layers, RTMP links,
exit timers, and the callbacks all of these send.

A job that is PROCESSING has one player task. It speaks one sentence at a time (speech.py's
durations) and looks at the insert queue between sentences:

* PLAY_NOW enters the queue first and cuts the sentence on air; the cut sentence's rest is spoken
  after the insert, unless the room's ``interaction_config.ignore_current_sentence`` drops it.
* INSERT enters after the queued PLAY_NOW and INSERT items and plays at the end of the sentence.
* APPEND enters last and plays at the end of the paragraph.
* Whatever is queued plays when no paragraph is under way (script done, NO_PRESET, not auto-played).

Paragraphs are the room's scene_scripts' shoot_scripts in order; a round plays them all, and
``play_policy.repeat_count`` more rounds follow (-1: forever); ``random_play_mode`` shuffles from
the second round. When the last round is over and nothing is queued, the job ends SUCCEED.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Callable
from typing import Any

from .callbacks import CallbackSender
from .config import SandboxConfig
from .metastudio_auth import signed_callback
from .metastudio_models import LiveVideoScriptInfo, SmartLayerConfig
from .metastudio_state import (
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    END,
    FAILED,
    PROCESSING,
    RECONNECTING,
    SUCCEED,
    Insert,
    Job,
    Output,
    Paragraph,
    ShownLayer,
    Speaking,
)
from .speech import Speech, audio_speech, text_speech

logger = logging.getLogger(__name__)

_SSML_TAG = re.compile(r"<[^>]+>")
MAX_SHOWN_LAYERS = 20
DEFAULT_EXCEPTION_MINUTES = 3  # LiveExitConfig: "不设置则为系统默认值,当前为3分钟"

Ender = Callable[[Job, str, str], None]


def flatten(scripts: list[LiveVideoScriptInfo]) -> list[Paragraph]:
    """Every shoot script of every scene, in order."""
    paragraphs = []
    for index, scene in enumerate(scripts):
        for item in scene.shoot_scripts:
            product = item.relation_product.model_dump(exclude_none=True) if item.relation_product else None
            paragraphs.append(
                Paragraph(
                    scene_index=index,
                    scene=scene,
                    sequence_no=item.sequence_no,
                    title=item.title or "",
                    text=item.text_config.text if item.text_config else "",
                    audio_url=item.audio_config.audio_url if item.audio_config else None,
                    product=product or None,
                )
            )
    return paragraphs


def _shuffled(paragraphs: list[Paragraph], mode: str) -> list[Paragraph]:
    """random_play_mode for rounds after the first."""
    scenes: dict[int, list[Paragraph]] = {}
    for paragraph in paragraphs:
        scenes.setdefault(paragraph.scene_index, []).append(paragraph)
    groups = list(scenes.values())
    if mode in ("SCENE", "SCENE_AND_SCRIPT_ITEM"):
        random.shuffle(groups)
    if mode in ("SCRIPT_ITEM", "SCENE_AND_SCRIPT_ITEM"):
        for group in groups:
            random.shuffle(group)
    return [paragraph for group in groups for paragraph in group]


class LivePlayer:
    """Plays jobs; ``end`` is how it asks the platform to end one (state, reason)."""

    def __init__(self, config: SandboxConfig, callbacks: CallbackSender, end: Ender) -> None:
        self.config = config
        self.callbacks = callbacks
        self.end = end

    # --- speech -----------------------------------------------------------------------------------

    def _speed_ratio(self, scene: LiveVideoScriptInfo | None) -> float:
        # VoiceConfig.speed: 100 is normal, 200 twice as fast; speech.py's ratio is the reverse.
        speed = scene.voice_config.speed if scene and scene.voice_config else 100
        return 100 / speed

    def _speech(self, text: str, audio_url: str | None, scene: LiveVideoScriptInfo | None) -> Speech:
        config = self.config
        if audio_url:
            speech = audio_speech([audio_url], default_seconds=config.default_audio_seconds)
        else:
            speech = text_speech(
                _SSML_TAG.sub("", text),
                per_char=config.speech_seconds_per_char,
                speed_ratio=self._speed_ratio(scene),
                minimum=config.min_sentence_seconds,
            )
        return speech if speech.segments else Speech((("", config.min_sentence_seconds),))

    def paragraph_speech(self, job: Job, paragraph: Paragraph) -> Speech:
        audio = paragraph.audio_url if job.policy.play_mode == "AUDIO" or not paragraph.text else None
        return self._speech(paragraph.text, audio, paragraph.scene)

    def current_scene(self, job: Job) -> LiveVideoScriptInfo | None:
        paragraph = job.paragraph
        if paragraph is not None:
            return paragraph.scene
        return job.scene_scripts[0] if job.scene_scripts else None

    def insert_speech(self, job: Job, text: str, audio_url: str | None) -> Speech:
        return self._speech(text, audio_url, self.current_scene(job))

    # --- rounds -----------------------------------------------------------------------------------

    def plays_script(self, job: Job) -> bool:
        return job.policy.auto_play_script and job.policy.play_mode != "NO_PRESET"

    def _rounds_left(self, job: Job) -> bool:
        repeat = job.policy.repeat_count
        return repeat == -1 or job.round < repeat + 1

    def _build_round(self, job: Job) -> None:
        if job.pending_scripts is not None:
            job.scene_scripts, job.pending_scripts = job.pending_scripts, None
        job.round += 1
        paragraphs = flatten(job.scene_scripts)
        if job.round > 1 and job.policy.random_play_mode != "NONE":
            paragraphs = _shuffled(paragraphs, job.policy.random_play_mode)
        job.paragraphs = paragraphs
        job.cursor = job.segment = 0
        job.offset = 0.0
        job.switched = False
        job.script_done = not paragraphs

    def rewrite_scripts(self, job: Job, scripts: list[LiveVideoScriptInfo]) -> None:
        """REWRITE_PLAY_SCRIPT: the paragraphs not yet played become the new script's (the one on air
        finishes first); with ``is_rewrite_delay`` the new script waits for the next round."""
        if job.policy.is_rewrite_delay:
            job.pending_scripts = scripts
            return
        job.scene_scripts = scripts
        if job.script_done or not job.paragraphs:
            return
        kept = job.cursor + 1 if job.switched else job.cursor
        job.paragraphs = job.paragraphs[:kept] + flatten(scripts)[kept:]

    # --- going live and playing -------------------------------------------------------------------

    def go_live(self, job: Job) -> None:
        """The job has just become PROCESSING: connect the outputs, arm the exit timer, play."""
        for output in job.outputs:
            self._connect(job, output)
        self.arm_exit(job)
        if self.plays_script(job):
            self._build_round(job)
        job.player = asyncio.get_running_loop().create_task(self._play(job))

    async def _play(self, job: Job) -> None:
        try:
            while job.state == PROCESSING:
                item = self._due_insert(job)
                if item is not None:
                    await self._play_insert(job, item)
                    continue
                if job.exit_pending and job.paragraph is None:
                    self.end(job, SUCCEED, f"max_live_duration reached ({job.exit_pending})")
                    return
                paragraph = job.paragraph if self.plays_script(job) else None
                if paragraph is not None:
                    await self._play_sentence(job, paragraph)
                    continue
                if job.script_done:
                    self.end(job, SUCCEED, "the script has been played to its end")
                    return
                job.wake.clear()
                await job.wake.wait()
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("MetaStudio player of job %s failed", job.job_id)
            self.end(job, FAILED, "sandbox player failed")

    def _mid_paragraph(self, job: Job) -> bool:
        return self.plays_script(job) and job.paragraph is not None and (job.segment > 0 or job.offset > 0)

    def _due_insert(self, job: Job) -> Insert | None:
        if not job.inserts:
            return None
        if job.inserts[0].play_type == "APPEND" and self._mid_paragraph(job):
            return None
        return job.inserts.pop(0)

    async def _speak(
        self, job: Job, subtitle: str, seconds: float, kind: str, command_id: str | None = None
    ) -> tuple[bool, float]:
        """Say one sentence (or what is left of it); (True, seconds) if it ended, (False, spoken) if cut."""
        started = time.time()
        seconds = max(seconds, 0.0)
        job.speaking = Speaking(subtitle, started, seconds, kind, command_id)
        job.aired.append(job.speaking)
        job.cut.clear()
        try:
            await asyncio.wait_for(job.cut.wait(), seconds)
        except TimeoutError:
            return True, seconds
        finally:
            job.speaking = None
        return False, time.time() - started

    async def _play_sentence(self, job: Job, paragraph: Paragraph) -> None:
        if not job.switched:
            job.switched = True
            self._shoot_script_switch(job, paragraph)
        segments = self.paragraph_speech(job, paragraph).segments
        if job.segment < len(segments):
            subtitle, seconds = segments[job.segment]
            done, spoken = await self._speak(job, subtitle, seconds - job.offset, "paragraph")
            if job.state != PROCESSING or job.paragraph is not paragraph:
                return
            if done or job.ignore_current_sentence:
                job.segment += 1
                job.offset = 0.0
            else:
                job.offset += spoken
        if job.segment >= len(segments):
            self._next_paragraph(job)

    def _next_paragraph(self, job: Job) -> None:
        previous = job.paragraphs[job.cursor]
        job.cursor += 1
        job.segment = 0
        job.offset = 0.0
        job.switched = False
        round_over = job.cursor >= len(job.paragraphs)
        scene_over = round_over or job.paragraphs[job.cursor].scene_index != previous.scene_index
        mode = job.exit_pending
        if (
            mode == "SEGMENT_END"
            or (mode == "SCENE_END" and scene_over)
            or (mode == "SCRIPT_END" and round_over)
        ):
            self.end(job, SUCCEED, f"max_live_duration reached ({mode})")
            return
        if round_over:
            if self._rounds_left(job):
                self._build_round(job)
            else:
                job.script_done = True

    async def _play_insert(self, job: Job, item: Insert) -> None:
        job.current_insert = item
        now = time.time()
        if item.started_at is None:
            item.started_at = now
            for layer in item.layers:
                seconds = layer.display_duration or item.speech.total
                self.show_layer(job, layer, f"rule:{item.rule_index}", seconds)
        segments = item.speech.segments
        while item.segment < len(segments):
            subtitle, seconds = segments[item.segment]
            done, spoken = await self._speak(job, subtitle, seconds - item.offset, "insert", item.command_id)
            if job.state != PROCESSING:
                return
            if done or job.ignore_current_sentence:
                item.segment += 1
                item.offset = 0.0
            else:
                item.offset += spoken
            if not done and item.segment < len(segments):
                # Cut by a PLAY_NOW, which is now first in the queue: this one resumes right after it.
                job.inserts.insert(1 if job.inserts else 0, item)
                job.current_insert = None
                return
        job.current_insert = None
        item.outcome = "played"
        item.ended_at = time.time()
        job.played.append(item)
        self.emit(job, "REPLY_COMMAND_FINISH", {"reply_id": item.command_id})

    def enqueue(self, job: Job, item: Insert) -> None:
        """Queue an insert by its play_type (see the module docstring)."""
        if item.play_type == "PLAY_NOW":
            job.inserts.insert(0, item)
            if job.speaking is not None:
                job.cut.set()
        elif item.play_type == "INSERT":
            position = next((i for i, queued in enumerate(job.inserts) if queued.play_type == "APPEND"), None)
            job.inserts.insert(len(job.inserts) if position is None else position, item)
        else:
            job.inserts.append(item)
        job.wake.set()

    def clean_up(self, job: Job) -> int:
        """CLEAN_UP_INSERT_COMMAND: drop what is queued; the insert on air finishes."""
        dropped = list(job.inserts)
        job.inserts.clear()
        now = time.time()
        for item in dropped:
            item.outcome = "cleaned up"
            item.ended_at = now
            job.played.append(item)
        return len(dropped)

    def stop(self, job: Job, *, was_live: bool) -> None:
        """The job has ended: silence, timers off, queued inserts dropped, links END."""
        job.cancel_timers()
        player = job.player
        if player is not None and player is not asyncio.current_task():
            player.cancel()
        job.speaking = None
        job.current_insert = None
        job.layers.clear()
        for item in job.inserts:
            item.outcome = "dropped: the live ended"
        job.inserts.clear()
        if was_live:
            for output in job.outputs:
                self.set_link(job, output, END)

    # --- callbacks --------------------------------------------------------------------------------

    def emit(self, job: Job, event_type: str, fields: dict[str, Any]) -> None:
        """Send ``event_type`` if the job's callback config subscribes to it; record it either way."""
        message = {"room_id": job.room.room_id, "job_id": job.job_id, **fields}
        payload = {"event_type": event_type, "message": json.dumps(message, ensure_ascii=False)}
        config = job.callback
        wanted = bool(
            config
            and config.live_event_type_callback_url
            and event_type in (config.callback_event_type or [])
        )
        job.callbacks.append({**payload, "sent": wanted, "at": time.time()})
        if wanted and config is not None:
            auth_type, key = config.auth_type, config.key or ""
            self.callbacks.send(
                job.job_id,
                config.live_event_type_callback_url or "",
                payload,
                sign=lambda url: signed_callback(url, auth_type, key, time.time()),
            )

    def _shoot_script_switch(self, job: Job, paragraph: Paragraph) -> None:
        fields: dict[str, Any] = {
            "scene_script_name": paragraph.scene.script_name,
            "shoot_script_sequence_no": "" if paragraph.sequence_no is None else str(paragraph.sequence_no),
            "shoot_script_title": paragraph.title,
        }
        # 表15 and 表35: "如果配置,则段落切换回调中会携带该信息".
        if paragraph.product:
            fields.update(paragraph.product)
        live = job.room.spec.relation_live_platform_info
        if live is not None:
            fields["live_id"] = live.live_id
        self.emit(job, "SHOOT_SCRIPT_SWITCH", fields)

    # --- RTMP outputs -----------------------------------------------------------------------------

    def set_link(self, job: Job, output: Output, state: str) -> None:
        output.state = state
        output.changed_at = time.time()
        output.history.append(state)
        fields = {"output_url": output.output_url, "stream_key": output.stream_key, "state": state}
        self.emit(job, "RTMP_STREAM_STATE_CHANGE", fields)
        if state in (DISCONNECTED, RECONNECTING):
            self._arm_exception(job)
        elif any(o.state in (DISCONNECTED, RECONNECTING) for o in job.outputs):
            return
        else:
            job.cancel_timer("exception")

    def _connect(self, job: Job, output: Output) -> None:
        self.set_link(job, output, CONNECTING)
        loop = asyncio.get_running_loop()
        timer_name = f"connect:{id(output)}"

        def connected() -> None:
            job.timers.pop(timer_name, None)
            if job.state == PROCESSING and output in job.outputs and output.state == CONNECTING:
                self.set_link(job, output, CONNECTED)

        job.timers[timer_name] = loop.call_later(self.config.metastudio_rtmp_connect_seconds, connected)

    def refresh_outputs(self, job: Job, urls: list[str], keys: list[str]) -> None:
        """REFRESH_OUTPUT_URL: the old links END, the new ones connect."""
        for output in job.outputs:
            self.set_link(job, output, END)
        job.retired_outputs.extend(job.outputs)
        job.outputs = [Output(url, keys[i] if i < len(keys) else "") for i, url in enumerate(urls)]
        for output in job.outputs:
            self._connect(job, output)

    # --- layers -----------------------------------------------------------------------------------

    def show_layer(self, job: Job, layer: SmartLayerConfig, source: str, seconds: float) -> None:
        now = time.time()
        self.active_layers(job, now)
        job.layers.append(ShownLayer(layer, source, now, now + seconds if seconds > 0 else None))
        del job.layers[:-MAX_SHOWN_LAYERS]

    def active_layers(self, job: Job, now: float) -> list[ShownLayer]:
        job.layers[:] = [shown for shown in job.layers if shown.until is None or shown.until > now]
        return job.layers

    # --- exit configuration -----------------------------------------------------------------------

    def _scaled(self, seconds: float) -> float:
        return seconds * self.config.metastudio_exit_time_scale

    def arm_exit(self, job: Job) -> None:
        """LiveExitConfig.max_live_duration (hours, 0 = no limit) counted from the start of the live."""
        job.cancel_timer("exit")
        job.exit_pending = None
        hours = job.exit_config.max_live_duration or 0
        if job.state != PROCESSING or hours <= 0 or job.started_at is None:
            return
        delay = job.started_at + self._scaled(hours * 3600) - time.time()
        job.timers["exit"] = asyncio.get_running_loop().call_later(max(delay, 0.0), self._exit_due, job)

    def _exit_due(self, job: Job) -> None:
        job.timers.pop("exit", None)
        if job.state != PROCESSING:
            return
        mode = job.exit_config.auto_stop_mode or "FORCE_EXIT"
        if mode == "FORCE_EXIT":
            self.end(job, SUCCEED, "max_live_duration reached (FORCE_EXIT)")
            return
        job.exit_pending = mode
        job.wake.set()

    def _arm_exception(self, job: Job) -> None:
        """A broken link for max_exception_waiting_duration minutes (0 = wait forever) fails the job."""
        if "exception" in job.timers or job.state != PROCESSING:
            return
        minutes = job.exit_config.max_exception_waiting_duration
        minutes = DEFAULT_EXCEPTION_MINUTES if minutes is None else minutes
        if minutes <= 0:
            return

        def failed() -> None:
            job.timers.pop("exception", None)
            if job.state == PROCESSING:
                job.error_info = {
                    "error_code": "MSS.00000004",
                    "error_msg": f"RTMP link broken for more than {minutes} minutes",
                }
                self.end(job, FAILED, "RTMP link broken")

        delay = self._scaled(minutes * 60)
        job.timers["exception"] = asyncio.get_running_loop().call_later(delay, failed)

    # --- what the audience sees -------------------------------------------------------------------

    def monitor(self, job: Job, now: float) -> dict[str, Any]:
        """The program as a viewer would see it."""
        scene = self.current_scene(job)
        paragraph = job.paragraph if self.plays_script(job) else None
        speaking = job.speaking
        backgrounds = scene.background_config if scene and scene.background_config else []
        return {
            "job_id": job.job_id,
            "room_id": job.room.room_id,
            "state": job.state,
            "error_info": job.error_info,
            "block_reason": job.block_reason,
            "end_reason": job.end_reason,
            "anchor": scene.model_asset_id if scene else None,
            "voice": scene.voice_config.voice_asset_id if scene and scene.voice_config else None,
            "background": backgrounds[0].model_dump(exclude_none=True) if backgrounds else None,
            "subtitle": speaking.subtitle if speaking else "",
            "speaking": (
                {"kind": speaking.kind, "command_id": speaking.command_id, "seconds": speaking.seconds}
                if speaking
                else None
            ),
            "round": job.round,
            "script_done": job.script_done,
            "paragraph": (
                {
                    "index": job.cursor,
                    "scene_script_name": paragraph.scene.script_name,
                    "sequence_no": paragraph.sequence_no,
                    "title": paragraph.title,
                    "sentence": job.segment,
                }
                if paragraph is not None
                else None
            ),
            "playing_insert": job.current_insert.describe() if job.current_insert else None,
            "insert_queue": [item.describe() for item in job.inserts],
            "played_inserts": [item.describe() for item in job.played],
            "aired": [said.describe() for said in job.aired],
            "outputs": [output.describe() for output in job.outputs],
            "retired_outputs": [output.describe() for output in job.retired_outputs],
            "layers": [shown.describe() for shown in self.active_layers(job, now)],
            "events": {
                "reports": job.reports,
                "total": job.events,
                "by_type": {str(kind): count for kind, count in sorted(job.events_by_type.items())},
            },
            "rule_hits": list(job.rule_hits),
            "exit_config": job.exit_config.model_dump(exclude_none=True),
            "exit_pending": job.exit_pending,
            "callbacks": list(job.callbacks),
        }
