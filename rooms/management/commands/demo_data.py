"""Demo data for a fresh clone: roles, three users, sandbox accounts, a script and one room per
sandbox platform. Safe to run again: it changes nothing that already exists."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.core.management.base import BaseCommand
from django.db import transaction
from django.templatetags.static import static

from materials.models import Anchor, AnchorScene, Material
from rooms.models import InteractionRule, PlatformAccount, Room, Script, ScriptParagraph
from rooms.selectors import HOST, PRODUCER, STAFF

LOGINS_FILE = "demo-logins.json"
SANDBOX_ACCOUNTS_FILE = "sandbox-accounts.json"

OPENING = (
    "大家好，欢迎来到今天的直播间！Welcome to tonight's show: we have new arrivals, "
    "a few surprises, and I will answer your questions live. Stay with us."
)


QUICK_REPLIES = [
    "Thanks for the question! Let me check and come back to you in a moment.",
    "Welcome to everyone who just joined us!",
    "Great question, the link is pinned at the top of the chat.",
]
# What the avatar says after the opening, in order (MetaStudio plays these paragraphs).
PARAGRAPHS = [
    ("Welcome", "Welcome, everyone! Tonight we look at three new arrivals, one by one."),
    (
        "First product",
        "First up, the travel mug: it keeps tea hot for twelve hours and fits every cup holder.",
    ),
    ("Second product", "Next, the linen shirt: light, breathable, and it comes in five colours."),
    ("Closing", "That is all for this round. Ask me anything in the comments, I read every one."),
]
PRICE_REPLIES = [
    "Good question! Every price is in the pinned link, and tonight there is ten percent off.",
    "The prices are pinned at the top of the chat; the discount lasts until midnight.",
]
# The anchors the sandbox's Guiji platform offers every account (its catalog; "Sync now" on the
# catalog page fetches the same and more), so the demo Guiji room can open a live at once.
SANDBOX_ANCHORS = [
    (
        12312,
        "R12312",
        "Andy",
        [("369590278856773", "Andy standing"), ("369590278856774", "Andy at the desk")],
    ),
    (12313, "R12313", "Sunny", [("369590278856781", "Sunny in the studio")]),
]
SANDBOX_ASSETS = "https://assets.livedeck.local/guiji"
# The sandbox plays an audio takeover for the #duration its URL gives.
DEMO_AUDIO = [
    ("Jingle (sandbox)", "https://assets.livedeck.local/audio/jingle.mp3#duration=4", 4.0),
    ("Product intro (sandbox)", "https://assets.livedeck.local/audio/product-intro.mp3#duration=12", 12.0),
]


class Command(BaseCommand):
    help = "Create demo users, sandbox accounts and rooms (idempotent), and print the logins."

    def handle(self, *args: Any, **options: Any) -> None:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        with transaction.atomic():
            groups = self._groups()
            logins = self._users(groups)
            rooms = self._rooms(logins)
        self._write_sandbox_accounts()
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {len(rooms)} rooms."))
        self.stdout.write("Logins:")
        for name, password in logins.items():
            self.stdout.write(f"  {name:9} {password}")

    def _groups(self) -> dict[str, Group]:
        groups = {name: Group.objects.get_or_create(name=name)[0] for name in (HOST, PRODUCER, STAFF)}
        apps = ["rooms", "takeovers", "materials", "auth"]
        groups[STAFF].permissions.set(Permission.objects.filter(content_type__app_label__in=apps))
        return groups

    def _users(self, groups: dict[str, Group]) -> dict[str, str]:
        path = settings.VAR_DIR / LOGINS_FILE
        logins: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
        for name in (HOST, PRODUCER, STAFF):
            user = User.objects.filter(username=name).first()
            if user is None or name not in logins:
                logins[name] = f"{name}-{secrets.token_urlsafe(6)}"
                user = user or User(username=name, email=f"{name}@livedeck.local")
                user.set_password(logins[name])
            user.is_staff = name == STAFF
            user.save()
            user.groups.add(groups[name])
        path.write_text(json.dumps(logins, indent=2))
        path.chmod(0o600)
        return logins

    def _rooms(self, logins: dict[str, str]) -> list[Room]:
        script, _ = Script.objects.get_or_create(
            name="Evening show",
            defaults={
                "anchor_name": "Nina",
                "face_feature_id": "0325_nina_s3_beauty",
                "anchor_package_url": "https://assets.livedeck.local/anchors/0325_nina_s3_beauty.zip",
                "anchor_x": 10,
                "anchor_y": 60,
                "voice_id": "nina",
                "voice_name": "Nina",
                "voice_vendor_id": 3,
                "voice_language": "zh-CN",
                "voice_volume": 100,
                "opening_text": OPENING,
                "opening_words": "Hello everyone, welcome to the live stream!",
                "quick_replies": "\n".join(QUICK_REPLIES),
                # Guiji speaks with Xiaoyun, a platform voice of the sandbox's catalog.
                "tts_speaker": "201",
                "tts_source": 10,
                "background_name": "Studio",
                # Served by LiveDeck itself, so the sandbox's program monitor shows it offline.
                "background_url": f"{settings.SITE_URL}{static('livedeck/demo/studio.png')}",
                # MetaStudio's digital human and voice assets (the sandbox takes any id).
                "ms_model_asset_id": "sandbox-anchor-nina",
                "ms_voice_asset_id": "sandbox-voice-nina",
            },
        )
        if not script.ms_model_asset_id:  # a script made before MetaStudio rooms existed
            script.ms_model_asset_id, script.ms_voice_asset_id = "sandbox-anchor-nina", "sandbox-voice-nina"
            script.save(update_fields=["ms_model_asset_id", "ms_voice_asset_id"])
        if not script.paragraphs.exists():
            for position, (title, text) in enumerate(PARAGRAPHS):
                ScriptParagraph.objects.create(script=script, position=position, title=title, text=text)
        host = User.objects.get(username=HOST)
        rooms = []
        for kind, label in PlatformAccount.Kind.choices:
            softsugar = kind == PlatformAccount.Kind.SOFTSUGAR
            account, _ = PlatformAccount.objects.get_or_create(
                name=f"Sandbox {label.split()[-1]}",
                defaults={
                    "kind": kind,
                    "base_url": settings.SANDBOX_URL,
                    "sandbox": True,
                    "credentials": _sandbox_credentials(kind),
                },
            )
            scenes = self._anchors(account) if kind == PlatformAccount.Kind.GUIJI else []
            room, _ = Room.objects.get_or_create(
                name=f"Demo · {label}",
                defaults={
                    "account": account,
                    "script": script,
                    "description": f"Rehearsal room on the sandbox's {label} platform.",
                    # Interactive, for quick replies; the sandbox keeps a demo Q&A library as demo-qa.
                    "live_type": Room.LiveType.INTERACTIVE if softsugar else Room.LiveType.LIVE,
                    "qa_library": "demo-qa" if softsugar else "",
                    "anchor_scene": scenes[0] if scenes else None,
                },
            )
            if kind == PlatformAccount.Kind.METASTUDIO and not room.push_urls:
                room.push_urls = "rtmp://live.livedeck.local/app"
                room.stream_key = "demo-stream-key"
                room.save(update_fields=["push_urls", "stream_key"])
                room.rules.get_or_create(
                    name="Price question",
                    defaults={
                        "match": InteractionRule.Match.REGEX,
                        "value": "price|how much|多少钱",
                        "reply_texts": "\n".join(PRICE_REPLIES),
                    },
                )
            room.hosts.add(host)
            if scenes:
                room.switch_scenes.add(*scenes[1:])
            rooms.append(room)
        for name, url, seconds in DEMO_AUDIO:
            Material.objects.get_or_create(
                kind=Material.Kind.AUDIO, name=name, defaults={"url": url, "duration_seconds": seconds}
            )
        return rooms

    def _anchors(self, account: PlatformAccount) -> list[AnchorScene]:
        scenes = []
        for vendor_id, code, name, scene_rows in SANDBOX_ANCHORS:
            anchor, _ = Anchor.objects.get_or_create(
                account=account,
                custom=False,
                code=code,
                defaults={
                    "vendor_id": vendor_id,
                    "name": name,
                    "cover_url": f"{SANDBOX_ASSETS}/anchors/{name.lower()}.jpg",
                },
            )
            for scene_code, scene_name in scene_rows:
                scene, _ = AnchorScene.objects.get_or_create(
                    anchor=anchor,
                    code=scene_code,
                    defaults={
                        "name": scene_name,
                        "proportion": "9:16",
                        "video_cover_url": f"{SANDBOX_ASSETS}/scenes/{scene_code}_1080x1920.mp4",
                        "cover_url": f"{SANDBOX_ASSETS}/scenes/{scene_code}.png",
                    },
                )
                scenes.append(scene)
        return scenes

    def _write_sandbox_accounts(self) -> None:
        """Tell the sandbox which accounts exist and where their callbacks go, as a vendor's
        administrator would be told when the account is opened."""
        accounts = [
            {
                **account.credentials,
                "kind": account.kind,
                "callbackUrl": f"{settings.SITE_URL}{account.callback_path()}",
            }
            for account in PlatformAccount.objects.filter(sandbox=True)
        ]
        path: Path = settings.VAR_DIR / SANDBOX_ACCOUNTS_FILE
        path.write_text(json.dumps(accounts, indent=2))
        path.chmod(0o600)


def _sandbox_credentials(kind: str) -> dict[str, str]:
    if kind == PlatformAccount.Kind.SOFTSUGAR:
        return {"token": secrets.token_urlsafe(24)}
    if kind == PlatformAccount.Kind.GUIJI:
        return {
            "app_id": secrets.token_hex(8),
            "app_secret": secrets.token_urlsafe(24),
            "mqtt_url": settings.MQTT_URL,
        }
    return {
        "project_id": secrets.token_hex(16),
        "access_key": secrets.token_hex(10),
        "secret_key": secrets.token_urlsafe(30),
    }
