"""The playlist of one Guiji session (4.2.7), as LiveDeck reads it.

One list of material ids still to play; while something plays it is at index 0. The list the
session was made with is the show: when the list runs out, the show starts again. Every item
sends ``begin`` when it starts and ``end`` when it stops (finished, cut at a silence, or deleted).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .speech import Speech

PLAYLIST = "playList"  # the show and AddPlayList
INSERTED = "insertlist"  # insertPlayList and insertPlayListAtSilent

# An item never plays for less than this, so a show of empty lines cannot spin.
MIN_ITEM_SECONDS = 0.05


class PlaylistError(Exception):
    """An action the list refuses; the message is the reason sent back to the client."""


@dataclass(eq=False)
class Entry:
    pcm_id: int
    kind: str


@dataclass(eq=False)
class Playing:
    entry: Entry
    speech: Speech
    began_at: float
    seconds: float
    timer: asyncio.TimerHandle
    cut_at: float | None = None

    @property
    def ends_at(self) -> float:
        return self.cut_at if self.cut_at is not None else self.began_at + self.seconds

    def next_silence(self, now: float, longest: float) -> float:
        """Seconds to the next pause: a sentence end, the item's end, or ``longest`` at most."""
        elapsed = now - self.began_at
        boundary = 0.0
        for _, seconds in self.speech.segments:
            boundary += seconds
            if boundary > elapsed:
                break
        return max(0.0, min(longest, boundary - elapsed, self.ends_at - now))


Notify = Callable[[str, Entry, list[int]], None]


class Playlist:
    """Plays material ids one after another on the asyncio loop; the caller owns every change."""

    def __init__(
        self,
        show: list[int],
        *,
        speech_of: Callable[[int], Speech],
        notify: Notify,
        silence_seconds: Callable[[], float],
    ) -> None:
        self.show = list(show)
        self.entries = [Entry(pcm_id, PLAYLIST) for pcm_id in show]
        self.playing: Playing | None = None
        self.played: deque[dict[str, Any]] = deque(maxlen=500)
        self.running = False
        self.rounds = 1
        self._speech_of = speech_of
        self._notify = notify
        self._silence_seconds = silence_seconds

    def ids(self) -> list[int]:
        return [entry.pcm_id for entry in self.entries]

    # --- running ---------------------------------------------------------------------------------

    def start(self) -> None:
        self.running = True
        self._advance(time.time())

    def stop(self) -> None:
        """The session ended: the playing item stops without a message."""
        self.running = False
        if self.playing is not None:
            self._close(self.playing, "stopped", time.time())

    def _advance(self, now: float) -> None:
        if not self.running or self.playing is not None:
            return
        if not self.entries:
            self.entries = [Entry(pcm_id, PLAYLIST) for pcm_id in self.show]
            self.rounds += 1
        if not self.entries:
            return
        entry = self.entries[0]
        speech = self._speech_of(entry.pcm_id)
        seconds = max(speech.total, MIN_ITEM_SECONDS)
        timer = asyncio.get_running_loop().call_later(seconds, self._on_timer)
        self.playing = Playing(entry=entry, speech=speech, began_at=now, seconds=seconds, timer=timer)
        self._notify("begin", entry, self.ids())

    def _on_timer(self) -> None:
        if self.playing is not None:
            self._finish("cut" if self.playing.cut_at is not None else "finished", time.time())

    def _finish(self, outcome: str, now: float) -> None:
        """The playing item stops: out of the list, ``end`` sent, the next one begins."""
        playing = self.playing
        if playing is None:
            return
        self._close(playing, outcome, now)
        self.entries.remove(playing.entry)
        self._notify("end", playing.entry, self.ids())
        self._advance(now)

    def _close(self, playing: Playing, outcome: str, now: float) -> None:
        playing.timer.cancel()
        self.playing = None
        self.played.append(
            {
                "pcmId": playing.entry.pcm_id,
                "type": playing.entry.kind,
                "beganAt": playing.began_at,
                "endedAt": now,
                "seconds": playing.seconds,
                "playedSeconds": now - playing.began_at,
                "outcome": outcome,
            }
        )

    # --- pushPlayListManager actions -------------------------------------------------------------

    def add(self, pcm_ids: list[int]) -> None:
        """AddPlayList: to the end."""
        self.entries.extend(Entry(pcm_id, PLAYLIST) for pcm_id in pcm_ids)
        self._advance(time.time())

    def insert(self, index: int, pcm_ids: list[int]) -> None:
        """insertPlayList: at ``index`` (1 = right after the playing item; past the end appends)."""
        if index == 0 and self.playing is not None:
            raise PlaylistError("index 0 is the playing item; insert at 1 or later")
        position = min(index, len(self.entries))
        self.entries[position:position] = [Entry(pcm_id, INSERTED) for pcm_id in pcm_ids]
        self._advance(time.time())

    def insert_at_silent(self, index: int, pcm_ids: list[int]) -> None:
        """insertPlayListAtSilent: insert, then cut the playing item at its next silence."""
        self.insert(index, pcm_ids)
        playing = self.playing
        if playing is None or playing.cut_at is not None:
            return
        now = time.time()
        delay = playing.next_silence(now, self._silence_seconds())
        playing.cut_at = now + delay
        playing.timer.cancel()
        playing.timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def delete(self, index: int, old_pcm_id: int | None) -> None:
        """delPlayListIndex: remove; index 0 stops the playing item (its ``end`` is sent)."""
        if index >= len(self.entries):
            raise PlaylistError(f"index {index} out of range: the list holds {len(self.entries)} items")
        if old_pcm_id is not None and self.entries[index].pcm_id != old_pcm_id:
            raise PlaylistError(
                f"index moved: index {index} holds {self.entries[index].pcm_id}, not {old_pcm_id}"
            )
        if index == 0 and self.playing is not None:
            self._finish("deleted", time.time())
        else:
            del self.entries[index]

    # --- inspection ------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        playing = self.playing
        now_playing = None
        if playing is not None:
            now_playing = {
                "pcmId": playing.entry.pcm_id,
                "type": playing.entry.kind,
                "beganAt": playing.began_at,
                "seconds": playing.seconds,
                "endsAt": playing.ends_at,
                "cutAt": playing.cut_at,
            }
        return {
            "show": list(self.show),
            "playlist": [{"pcmId": entry.pcm_id, "type": entry.kind} for entry in self.entries],
            "nowPlaying": now_playing,
            "played": list(self.played),
            "rounds": self.rounds,
        }
