"""What a new Guiji account finds on the platform: voices, anchors and their scenes, public materials.

Platform entries are the same for every account; customized ones are made for the account (their
codes carry the account's number). URLs point at a host that is never fetched.
"""

from __future__ import annotations

from typing import Any

ASSETS = "https://assets.livedeck.local/guiji"


def _voice(
    number: int, name: str, introduction: str, speaker: str, category: str, languages: list[str]
) -> dict[str, Any]:
    return {
        "id": number,
        "ttsName": name,
        "ttsIntroduction": introduction,
        "ttsSpeaker": speaker,
        "ttsCategory": category,
        "ttsAudition": f"{ASSETS}/voices/{speaker}.wav#duration=4",
        "ttsCover": f"{ASSETS}/voices/{speaker}.jpg",
        "ttsSource": 10,
        "languages": languages,
        "ssmlFlag": True,
        "f0upKeyFlag": number % 2 == 0,
        "userCategory": category.split(",")[0],
    }


# 3.8 Platform Voice Query
PLATFORM_VOICES = [
    _voice(
        330, "Abby", "Female voice | English | American | Natural", "144", "Female voice, English", ["en"]
    ),
    _voice(331, "Xiaoyun", "Female voice | Mandarin | Warm | Sales", "201", "Female voice, Chinese", ["cn"]),
    _voice(332, "Haoran", "Male voice | Mandarin | Steady | News", "202", "Male voice, Chinese", ["cn"]),
    _voice(333, "Lily", "Female voice | Bilingual | Lively", "203", "Female voice, Bilingual", ["cn", "en"]),
]


def _scene(
    code: str, name: str, proportion: str, posture: str, duration: int, scene_type: int
) -> dict[str, Any]:
    return {
        "sceneCode": code,
        "sceneName": name,
        "proportion": proportion,
        "posture": posture,
        "duration": duration,
        "exampleUrl": f"{ASSETS}/scenes/{code}_example.mp4",
        "videoCoverUrl": f"{ASSETS}/scenes/{code}_1080x1920.mp4",
        "sceneType": scene_type,
        "coverUrl": f"{ASSETS}/scenes/{code}.png",
    }


# 3.9 Platform Anchor Query
PLATFORM_ANCHORS = [
    {
        "id": 12312,
        "robotCode": "R12312",
        "robotName": "Andy",
        "coverUrl": f"{ASSETS}/anchors/andy.jpg",
        "robotDesc": "Friendly host, standing or seated, for product shows",
        "sceneList": [
            _scene("369590278856773", "Andy standing", "9:16", "1", 71, 2),
            _scene("369590278856774", "Andy at the desk", "9:16", "2", 65, 2),
        ],
    },
    {
        "id": 12313,
        "robotCode": "R12313",
        "robotName": "Sunny",
        "coverUrl": f"{ASSETS}/anchors/sunny.jpg",
        "robotDesc": "Energetic host for fashion and beauty",
        "sceneList": [
            _scene("369590278856781", "Sunny in the studio", "9:16", "1", 80, 1),
            _scene("369590278856782", "Sunny green screen", "16:9", "0", 60, 0),
        ],
    },
]

# 3.11 Voice Change Query
CHANGE_VOICES = [
    {
        "id": 22001,
        "speakerCode": "vc-11",
        "speakerName": "Soft female",
        "ttsAudition": f"{ASSETS}/change/vc-11.wav#duration=3",
        "ttsCover": f"{ASSETS}/change/vc-11.jpg",
    },
    {
        "id": 22002,
        "speakerCode": "vc-12",
        "speakerName": "Deep male",
        "ttsAudition": f"{ASSETS}/change/vc-12.wav#duration=3",
        "ttsCover": f"{ASSETS}/change/vc-12.jpg",
    },
    {
        "id": 22003,
        "speakerCode": "vc-13",
        "speakerName": "Young host",
        "ttsAudition": f"{ASSETS}/change/vc-13.wav#duration=3",
        "ttsCover": f"{ASSETS}/change/vc-13.jpg",
    },
]

# 3.13 Public Material Category Query
CATEGORIES = [
    {"id": 1, "parentCode": None, "name": "Stickers", "code": "10000"},
    {"id": 5, "parentCode": None, "name": "Live widgets", "code": "50000"},
]


def _public(number: int, code: str, name: str, category: str, file_type: str) -> dict[str, Any]:
    url = f"{ASSETS}/public/{code}.{file_type}"
    return {
        "id": number,
        "code": code,
        "name": name,
        "categoryCode": category,
        "fileUrl": url,
        "fileType": file_type,
        "coverUrl": url if file_type in ("gif", "png") else f"{ASSETS}/public/{code}.png",
    }


# 3.14 Public Material Query
PUBLIC_MATERIALS = [
    _public(13, "10001", "Thumbs up", "10000", "gif"),
    _public(14, "10002", "Click the cart", "10000", "gif"),
    _public(15, "10003", "Join the fan club", "10000", "png"),
    _public(51, "50001", "Countdown timer", "50000", "mp4"),
    _public(52, "50002", "Flash sale banner", "50000", "png"),
]


def customized_voices(number: int) -> list[dict[str, Any]]:
    """3.8 Customized Voice Query: the account's own cloned voice (the table has no id)."""
    voice = _voice(
        0,
        f"House voice {number}",
        "Cloned voice | Mandarin | Brand",
        f"c{number}01",
        "Custom, Chinese",
        ["cn"],
    )
    del voice["id"]
    return [voice]


def customized_anchors(number: int) -> list[dict[str, Any]]:
    """3.10 Customized Anchor Query: one anchor cloned for the account."""
    code = f"88{number:06d}"
    return [
        {
            "id": 90000 + number,
            "robotCode": f"C{code}",
            "robotName": f"House anchor {number}",
            "coverUrl": f"{ASSETS}/anchors/{code}.jpg",
            "robotDesc": "Cloned from the brand's own presenter",
            "sceneList": [
                _scene(f"{code}01", "House anchor standing", "9:16", "1", 90, 2),
                _scene(f"{code}02", "House anchor seated", "9:16", "2", 90, 2),
            ],
        }
    ]
