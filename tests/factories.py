"""Factories for the rows tests need."""

from __future__ import annotations

import secrets
from typing import Any

import factory
from django.contrib.auth.models import Group, User

from rooms.models import InteractionRule, PlatformAccount, Room, Script, ScriptLayer, ScriptParagraph


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def roles(self, create: bool, roles: list[str] | None, **kwargs: Any) -> None:
        for role in roles or []:
            self.groups.add(Group.objects.get_or_create(name=role)[0])
        if "staff" in (roles or []):
            self.is_staff = True
        self.save()


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlatformAccount

    name = factory.Sequence(lambda n: f"Account {n}")
    kind = PlatformAccount.Kind.SOFTSUGAR
    base_url = "http://127.0.0.1:9"
    sandbox = True
    credentials = factory.LazyFunction(lambda: {"token": secrets.token_urlsafe(16)})


class ScriptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Script

    name = factory.Sequence(lambda n: f"Script {n}")
    anchor_name = "Nina"
    face_feature_id = "0325_nina_s3_beauty"
    anchor_package_url = "https://assets.example.com/anchors/nina.zip"
    voice_id = "nina"
    voice_name = "Nina"
    voice_vendor_id = 3
    voice_language = "zh-CN"
    opening_text = "Hello everyone, welcome to the live stream tonight."
    background_name = "Studio"
    background_url = "https://assets.example.com/backgrounds/studio.png"


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Room {n}")
    account = factory.SubFactory(AccountFactory)
    script = factory.SubFactory(ScriptFactory)

    @factory.post_generation
    def hosts(self, create: bool, hosts: list[User] | None, **kwargs: Any) -> None:
        for host in hosts or []:
            self.hosts.add(host)


# MetaStudio: an account, a script with its paragraphs and layers, a room with its rules.


class MetaStudioAccountFactory(AccountFactory):
    kind = PlatformAccount.Kind.METASTUDIO
    base_url = "https://metastudio.example.com"
    credentials = factory.LazyFunction(
        lambda: {
            "project_id": "70b76xxxxxx34253880af501cdxxxxxx",
            "access_key": "HPUAL7TTMZ0EXAMPLEAK",
            "secret_key": secrets.token_urlsafe(24),
            "callback_secret": secrets.token_urlsafe(24),
        }
    )


class MetaStudioScriptFactory(ScriptFactory):
    ms_model_asset_id = "a5d295cdb345c11bd9f36bc22ced3a7a"
    ms_voice_asset_id = "b6e306dec456d22ce0a47cd33dfe4b8b"


class ScriptParagraphFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScriptParagraph

    script = factory.SubFactory(MetaStudioScriptFactory)
    position = factory.Sequence(lambda n: n)
    title = factory.Sequence(lambda n: f"Paragraph {n}")
    text = "Welcome to the live, today we have something special for you."


class ScriptLayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScriptLayer

    script = factory.SubFactory(MetaStudioScriptFactory)
    kind = ScriptLayer.Kind.IMAGE
    url = "https://assets.example.com/layers/logo.png"


class MetaStudioRoomFactory(RoomFactory):
    account = factory.SubFactory(MetaStudioAccountFactory)
    script = factory.SubFactory(MetaStudioScriptFactory)
    resolution_width = 1080
    resolution_height = 1920
    bitrate = 4


class InteractionRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InteractionRule

    room = factory.SubFactory(MetaStudioRoomFactory)
    name = factory.Sequence(lambda n: f"Rule {n}")
    value = "price|how much"
    reply_texts = "It is on sale today.\nLook at the link below."
