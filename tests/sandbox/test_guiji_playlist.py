"""The Guiji playlist (4.2.7) over MQTT: begin/end order and timing, every pushPlayListManager action."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from . import test_guiji_sessions as sessions
from .test_guiji_http import GuijiAccount
from .test_guiji_sessions import Live, Message

# The session tests' fixtures serve these tests too.
account, client, quick, live = sessions.account, sessions.client, sessions.quick, sessions.live

# With the suite's timings (0.01 s a character, 0.2 s at least) these last 0.2 s each.
SHORT = "Hello there."


def plays(live: Live) -> list[tuple[str, str, int, list[int]]]:
    """Every begin/end so far: (status, type, nowPcmId, playList)."""
    return [
        (p["status"], p["type"], p["nowPcmId"], json.loads(p["playList"]))
        for p in live.states()
        if p.get("status") in ("begin", "end")
    ]


def wait_plays(live: Live, count: int, timeout: float = 5.0) -> list[tuple[str, str, int, list[int]]]:
    deadline = time.monotonic() + timeout
    while len(found := plays(live)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {len(found)} begin/end messages: {found}")
        time.sleep(0.02)
    return found[:count]


def action(live: Live, name: str, **params: Any) -> Message:
    return live.result("pushPlayListManager", {"action": name, **params})


def refused(live: Live, name: str, **params: Any) -> Message:
    return live.error("pushPlayListManager", {"action": name, **params})


@pytest.fixture
def lines(account: GuijiAccount, live: Live) -> list[int]:
    """Three short lines and one long recording (5 s), all in the live room."""
    texts = [account.text(live.live_id, f"{word} {SHORT}") for word in ("One.", "Two.", "Six.")]
    return [*texts, account.audio(live.live_id, "https://assets.livedeck.local/long.wav#duration=5")]


def test_the_show_plays_in_order_and_starts_again(live: Live, lines: list[int]) -> None:
    a, b = lines[:2]
    live.make([a, b])
    assert wait_plays(live, 6) == [
        ("begin", "playList", a, [a, b]),
        ("end", "playList", a, [b]),
        ("begin", "playList", b, [b]),
        ("end", "playList", b, []),
        ("begin", "playList", a, [a, b]),
        ("end", "playList", a, [b]),
    ]
    state = live.inspect()
    assert state["show"] == [a, b] and state["rounds"] >= 2
    played = state["played"]
    assert [p["pcmId"] for p in played[:3]] == [a, b, a] and {p["outcome"] for p in played} == {"finished"}
    for item in played:
        # "One. Hello there." is 17 characters: 0.17 s, so the 0.2 s minimum of each sentence holds.
        assert item["seconds"] == pytest.approx(0.4)
        assert item["playedSeconds"] == pytest.approx(0.4, abs=0.1)


def test_begin_and_end_follow_the_item_length(quick: httpx.Client, account: GuijiAccount, live: Live) -> None:
    quick.put("/_sandbox/config", json={"speech_seconds_per_char": 0.02})
    text = account.text(live.live_id, "A sentence of exactly forty characters..")  # 40 characters: 0.8 s
    audio = account.audio(live.live_id, "https://assets.livedeck.local/a.wav#duration=0.5")
    live.make([text, audio])
    wait_plays(live, 4)
    timed = [
        (at, m["params"]["status"])
        for at, m in live.client.timed(live.topic)
        if m.get("params", {}).get("status") in ("begin", "end")
    ][:4]
    assert [status for _, status in timed] == ["begin", "end", "begin", "end"]
    assert timed[1][0] - timed[0][0] == pytest.approx(0.8, abs=0.15)
    assert timed[3][0] - timed[2][0] == pytest.approx(0.5, abs=0.15)
    assert [p["seconds"] for p in live.inspect()["played"][:2]] == pytest.approx([0.8, 0.5])


def test_add_play_list_appends_for_one_pass(live: Live, lines: list[int]) -> None:
    a, b, c, _ = lines
    live.make([a])
    live.wait_state("begin", nowPcmId=a)
    result = action(live, "AddPlayList", pcmIds=[b, c])
    assert result == {"sessionId": live.session_id, "ok": True, "message": "", "data": [a, b, c]}
    assert [(s, t, n) for s, t, n, _ in wait_plays(live, 8)] == [
        ("begin", "playList", a),
        ("end", "playList", a),
        ("begin", "playList", b),
        ("end", "playList", b),
        ("begin", "playList", c),
        ("end", "playList", c),
        ("begin", "playList", a),  # the show again, without the added lines
        ("end", "playList", a),
    ]


def test_insert_play_list_goes_after_the_playing_item(live: Live, lines: list[int]) -> None:
    a, b, c, long = lines
    live.make([long, a])
    live.wait_state("begin", nowPcmId=long)
    assert action(live, "insertPlayList", index=1, pcmIds=[b])["data"] == [long, b, a]
    assert action(live, "insertPlayList", index=99, pcmIds=[c])["data"] == [long, b, a, c]
    error = refused(live, "insertPlayList", index=0, pcmIds=[c])
    assert error["code"] == -32602 and "index 0" in error["message"]
    assert action(live, "getPlayList")["data"] == [long, b, a, c]
    state = live.inspect()
    assert [(item["pcmId"], item["type"]) for item in state["playlistItems"]] == [
        (long, "playList"),
        (b, "insertlist"),
        (a, "playList"),
        (c, "insertlist"),
    ]
    assert state["nowPlaying"]["pcmId"] == long and state["nowPlaying"]["type"] == "playList"


def test_insert_at_silent_cuts_the_playing_item(quick: httpx.Client, live: Live, lines: list[int]) -> None:
    quick.put("/_sandbox/config", json={"guiji_silence_seconds": 0.1})
    a, b, _, long = lines
    live.make([long, a])
    live.wait_state("begin", nowPcmId=long)
    asked = time.monotonic()
    result = action(live, "insertPlayListAtSilent", pcmIds=[b])
    assert result["data"] == [long, b, a]
    end = live.wait_state("end", nowPcmId=long)
    assert time.monotonic() - asked < 0.5  # cut at the silence, not after 5 s
    assert json.loads(end["playList"]) == [b, a]
    begin = live.wait_state("begin", nowPcmId=b)
    assert begin["type"] == "insertlist" and json.loads(begin["playList"]) == [b, a]
    live.wait_state("end", nowPcmId=b)
    assert live.wait_state("begin", nowPcmId=a)["type"] == "playList"
    cut = live.inspect()["played"][0]
    assert (
        cut["pcmId"] == long
        and cut["outcome"] == "cut"
        and cut["playedSeconds"] < 0.5
        and cut["seconds"] == 5
    )


def test_insert_at_silent_waits_for_the_end_of_the_sentence(
    quick: httpx.Client, account: GuijiAccount, live: Live, lines: list[int]
) -> None:
    # The first sentence lasts 0.75 s and the longest wait for a silence is 2 s: the cut comes at its end.
    quick.put("/_sandbox/config", json={"guiji_silence_seconds": 2.0, "speech_seconds_per_char": 0.05})
    speech = account.text(live.live_id, "First sentence. Then another.")
    live.make([speech])
    live.wait_state("begin", nowPcmId=speech)
    began = time.monotonic()
    action(live, "insertPlayListAtSilent", index=1, pcmIds=[lines[0]])
    live.wait_state("end", nowPcmId=speech)
    assert time.monotonic() - began == pytest.approx(0.75, abs=0.2)
    assert live.inspect()["played"][0]["outcome"] == "cut"


def test_insert_at_silent_before_the_stream_starts_only_inserts(
    quick: httpx.Client, live: Live, lines: list[int]
) -> None:
    quick.put("/_sandbox/config", json={"guiji_show_delay": 0.5})
    a, b = lines[:2]
    live.make([a], streaming=False)
    assert live.inspect()["state"] == "made"
    assert action(live, "insertPlayListAtSilent", index=0, pcmIds=[b])["data"] == [b, a]
    begin = live.wait_state("begin")
    assert (begin["nowPcmId"], begin["type"]) == (b, "insertlist")
    assert live.inspect()["state"] == "streaming"


def test_delete_by_index_with_and_without_old_pcm_id(live: Live, lines: list[int]) -> None:
    a, b, c, long = lines
    live.make([long, a, b, c])
    live.wait_state("begin", nowPcmId=long)
    error = refused(live, "delPlayListIndex", index=2, oldPcmId=c)
    assert error == {"sessionId": live.session_id, "message": error["message"], "code": -32602}
    assert error["message"].startswith("index moved")
    assert action(live, "getPlayList")["data"] == [long, a, b, c]
    assert action(live, "delPlayListIndex", index=2, oldPcmId=b)["data"] == [long, a, c]
    assert action(live, "delPlayListIndex", index=2)["data"] == [long, a]
    assert "out of range" in refused(live, "delPlayListIndex", index=5)["message"]
    assert refused(live, "delPlayListIndex")["code"] == -32602  # index is mandatory


def test_deleting_index_zero_stops_the_playing_item(live: Live, lines: list[int]) -> None:
    a, _, _, long = lines
    live.make([long, a])
    live.wait_state("begin", nowPcmId=long)
    result = action(live, "delPlayListIndex", index=0, oldPcmId=long)
    assert result["data"] == [a]
    assert wait_plays(live, 3) == [
        ("begin", "playList", long, [long, a]),
        ("end", "playList", long, [a]),
        ("begin", "playList", a, [a]),
    ]
    stopped = live.inspect()["played"][0]
    assert stopped["outcome"] == "deleted" and stopped["playedSeconds"] < 1
    # The reply comes before the end and begin it caused.
    messages = [m for m in live.client.on(live.topic) if m.get("method") != "HeartBeat"]
    at = next(n for n, m in enumerate(messages) if m.get("id") == live.next_id and "result" in m)
    after = [(m["params"]["status"], m["params"]["nowPcmId"]) for m in messages[at + 1 : at + 3]]
    assert after == [("end", long), ("begin", a)]


def test_pcm_ids_must_be_materials_of_the_account(
    sandbox_url: str, quick: httpx.Client, live: Live, lines: list[int]
) -> None:
    other = GuijiAccount(sandbox_url, quick)
    other.login()
    foreign = other.text(other.room(), SHORT)
    live.make([lines[0]])
    error = refused(live, "AddPlayList", pcmIds=[lines[1], foreign])
    assert error["message"] == f"unknown pcm id {foreign}"
    assert action(live, "getPlayList")["data"] == [lines[0]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"action": "AddPlayList"}, "AddPlayList needs pcmIds"),
        ({"action": "AddPlayList", "pcmIds": []}, "AddPlayList needs pcmIds"),
        ({"action": "insertPlayList", "pcmIds": [1]}, "insertPlayList needs index"),
        ({"action": "insertPlayListAtSilent"}, "insertPlayListAtSilent needs pcmIds"),
        ({"action": "shuffle"}, "params.action"),
        ({"action": "delPlayListIndex", "index": -1}, "params.index"),
        ({"action": "AddPlayList", "pcmIds": "1"}, "params.pcmIds"),
    ],
)
def test_playlist_actions_are_validated(live: Live, lines: list[int], params: Message, message: str) -> None:
    live.make([lines[0]])
    error = live.error("pushPlayListManager", params)
    assert error["code"] == -32602 and message in error["message"], error
