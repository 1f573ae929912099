"""Factories for the rows tests need."""

from __future__ import annotations

import secrets
from typing import Any

import factory
from django.contrib.auth.models import Group, User

from rooms.models import PlatformAccount, Room, Script


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
