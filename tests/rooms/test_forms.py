"""Producer and admin forms: the vendor's ranges are form errors, secrets are never shown back."""

from __future__ import annotations

from typing import Any

import pytest
from django.forms.models import model_to_dict

from rooms.forms import PlatformAccountAdminForm, RoomForm, ScriptForm
from rooms.models import PlatformAccount
from tests.factories import AccountFactory, RoomFactory, ScriptFactory

pytestmark = pytest.mark.django_db


def script_form(**overrides: Any) -> ScriptForm:
    data = {k: v for k, v in model_to_dict(ScriptFactory.build()).items() if k != "id"}
    return ScriptForm(data | overrides)


def room_form(**overrides: Any) -> RoomForm:
    room = RoomFactory()
    data = model_to_dict(room, fields=RoomForm.Meta.fields)
    return RoomForm(data | overrides, instance=room)


def test_a_complete_script_is_valid() -> None:
    assert script_form().is_valid()


def test_the_opening_text_is_stripped_before_it_is_counted() -> None:
    form = script_form(opening_text="  " + "x" * 9 + "  ")

    assert not form.is_valid()
    assert form.errors["opening_text"] == ["The vendor needs at least 10 characters; this has 9."]


def test_the_opening_text_is_saved_stripped() -> None:
    form = script_form(opening_text="  Hello everyone, welcome!  ")

    assert form.is_valid()
    assert form.cleaned_data["opening_text"] == "Hello everyone, welcome!"


def test_a_url_typed_without_a_scheme_is_https() -> None:
    form = script_form(anchor_package_url="cdn.example.com/anchors/nina.zip")

    assert form.is_valid(), form.errors
    assert form.cleaned_data["anchor_package_url"] == "https://cdn.example.com/anchors/nina.zip"


def test_a_named_background_needs_its_url() -> None:
    form = script_form(background_name="Studio", background_url="")

    assert not form.is_valid()
    assert form.errors["background_url"] == ["Give the background's URL, or clear its name."]


def test_no_background_at_all_is_fine() -> None:
    assert script_form(background_name="", background_url="").is_valid()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("voice_pitch", 61),
        ("voice_pitch", -60.5),
        ("voice_speed", 3),
        ("voice_speed", 0.49),
        ("voice_volume", 0),
        ("voice_volume", 401),
        ("anchor_scale", 0),
        ("anchor_scale", 5.5),
    ],
)
def test_a_voice_or_anchor_value_out_of_the_vendors_range_is_an_error(field: str, value: float) -> None:
    form = script_form(**{field: value})

    assert not form.is_valid()
    assert list(form.errors) == [field]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("voice_pitch", 60),
        ("voice_pitch", -60),
        ("voice_speed", 0.5),
        ("voice_speed", 2),
        ("voice_volume", 400),
    ],
)
def test_the_vendors_range_is_inclusive(field: str, value: float) -> None:
    assert script_form(**{field: value}).is_valid()


def test_the_form_lays_every_field_out_in_a_section() -> None:
    for form in (script_form(), room_form()):
        laid_out = [field.name for _, fields in form.fieldsets() for field in fields]
        assert sorted(laid_out) == sorted(form.fields)


def test_a_room_at_1080p_either_way_is_valid() -> None:
    assert room_form(resolution_width=1080, resolution_height=1920).is_valid()
    assert room_form(resolution_width=1920, resolution_height=1080).is_valid()


def test_a_room_over_1080p_is_refused() -> None:
    form = room_form(resolution_width=1920, resolution_height=1200)

    assert not form.is_valid()
    assert form.errors["resolution_height"] == [
        "The vendor streams at most 1080p (1080 x 1920 or 1920 x 1080)."
    ]


def test_our_own_agora_app_needs_every_field() -> None:
    form = room_form(external_rtc=True, rtc_app_id="app", rtc_token="", rtc_uid="", rtc_channel_id="")

    assert not form.is_valid()
    assert set(form.errors) == {"rtc_token", "rtc_uid", "rtc_channel_id"}


def test_the_agora_fields_are_not_needed_without_our_own_app() -> None:
    assert room_form(external_rtc=False, rtc_app_id="", rtc_uid="abc").is_valid()


@pytest.mark.parametrize("uid", ["abc", "-1", "1.5", "4294967296", "²³", "١٢"])
def test_the_agora_uid_must_be_a_32_bit_number(uid: str) -> None:
    form = room_form(external_rtc=True, rtc_app_id="a", rtc_token="t", rtc_uid=uid, rtc_channel_id="c")

    assert not form.is_valid()
    assert form.errors["rtc_uid"] == ["The Agora uid is a number no larger than 4294967295."]


@pytest.mark.parametrize("uid", ["0", "4294967295"])
def test_the_agora_uid_may_use_the_whole_32_bit_range(uid: str) -> None:
    form = room_form(external_rtc=True, rtc_app_id="a", rtc_token="t", rtc_uid=uid, rtc_channel_id="c")

    assert form.is_valid(), form.errors


# The admin's account form ---------------------------------------------------------------


def account_form(instance: PlatformAccount | None = None, **data: Any) -> PlatformAccountAdminForm:
    base = {"name": "Main", "kind": "softsugar", "base_url": "https://aigc.softsugar.com", "sandbox": False}
    return PlatformAccountAdminForm(base | data, instance=instance)


def test_a_new_account_needs_the_credentials_of_its_kind() -> None:
    form = account_form(kind="metastudio", project_id="p")

    assert not form.is_valid()
    assert set(form.errors) == {"access_key", "secret_key"}


def test_a_new_account_stores_only_the_credentials_of_its_kind() -> None:
    form = account_form(token="tok-1234567890", app_id="stray")

    assert form.is_valid(), form.errors
    account = form.save()
    account.refresh_from_db()
    assert account.credentials == {"token": "tok-1234567890"}


def test_a_blank_secret_keeps_the_stored_one() -> None:
    account = AccountFactory(credentials={"token": "stored-token-123456"})

    form = account_form(instance=account, name=account.name, token="")

    assert form.is_valid(), form.errors
    form.save()
    account.refresh_from_db()
    assert account.credentials == {"token": "stored-token-123456"}


def test_a_new_secret_replaces_the_stored_one() -> None:
    account = AccountFactory(credentials={"token": "stored-token-123456"})

    form = account_form(instance=account, name=account.name, token="fresh-token-654321")
    assert form.is_valid()
    form.save()

    account.refresh_from_db()
    assert account.credentials == {"token": "fresh-token-654321"}


def test_the_stored_secret_is_hinted_masked_and_never_put_back_in_the_field() -> None:
    account = AccountFactory(credentials={"token": "stored-token-123456"})

    form = PlatformAccountAdminForm(instance=account)

    assert form.fields["token"].help_text == "Stored: sto…3456. Leave blank to keep it."
    assert "stored-token-123456" not in str(form)
