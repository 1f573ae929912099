"""Factories for Guiji rows: an account, anchors and their scenes, a script that speaks with
Guiji's TTS, a room that opens with a scene, and materials."""

from __future__ import annotations

import secrets

import factory

from materials.models import Anchor, AnchorScene, Material
from rooms.models import PlatformAccount
from tests.factories import AccountFactory, RoomFactory, ScriptFactory


class GuijiAccountFactory(AccountFactory):
    kind = PlatformAccount.Kind.GUIJI
    base_url = "https://meta.guiji.example"
    sandbox = False
    credentials = factory.LazyFunction(
        lambda: {
            "app_id": f"app-{secrets.token_hex(4)}",
            "app_secret": secrets.token_hex(16),
            "mqtt_url": "mqtt://127.0.0.1:1883",
        }
    )


class AnchorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Anchor

    account = factory.SubFactory(GuijiAccountFactory)
    vendor_id = factory.Sequence(lambda n: 12300 + n)
    code = factory.Sequence(lambda n: f"robot-{n}")
    name = factory.Sequence(lambda n: f"Anchor {n}")


class AnchorSceneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AnchorScene

    anchor = factory.SubFactory(AnchorFactory)
    code = factory.Sequence(lambda n: f"36959027885{n:04d}")
    name = factory.Sequence(lambda n: f"Scene {n}")
    video_cover_url = factory.Sequence(lambda n: f"https://cdn.example.com/scenes/{n}_1080x1920.mp4")


class GuijiScriptFactory(ScriptFactory):
    tts_source = 10
    tts_speaker = "144"
    tts_volume = 0.0
    tts_intonation = 2.0
    tts_speed_rate = 1.5
    tts_f0up_key = 0


class GuijiRoomFactory(RoomFactory):
    account = factory.SubFactory(GuijiAccountFactory)
    script = factory.SubFactory(GuijiScriptFactory)
    anchor_scene = factory.SubFactory(AnchorSceneFactory, anchor__account=factory.SelfAttribute("...account"))


class MaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Material

    kind = Material.Kind.TEXT
    name = factory.Sequence(lambda n: f"Material {n}")
    text = "Today's product is a thermos that keeps tea hot for a whole day."
    tts_source = 10
    tts_speaker = "144"
