"""Django admin for staff: changelists, the account page that never shows a secret, stopping sessions."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rooms.models import LiveSession, PlatformAccount
from rooms.platforms.base import LiveState
from tests.factories import AccountFactory, RoomFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "ss-live-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def session_in(room: Any, **fields: Any) -> LiveSession:
    return LiveSession.objects.create(room=room, account=room.account, **fields)


@pytest.mark.parametrize("model", ["platformaccount", "script", "room", "livesession"])
def test_staff_open_every_changelist(staff: Client, model: str) -> None:
    room = RoomFactory(account=AccountFactory(credentials={"token": TOKEN}))
    session_in(room, state=LiveState.LIVE, vendor_session_id="v-1")

    response = staff.get(reverse(f"admin:rooms_{model}_changelist"))

    assert response.status_code == 200
    assert TOKEN not in response.content.decode()


def test_the_account_changelist_shows_credentials_masked(staff: Client) -> None:
    AccountFactory(name="Main", credentials={"token": TOKEN})

    html = staff.get(reverse("admin:rooms_platformaccount_changelist")).content.decode()

    assert "token ss-…cdef" in html
    assert TOKEN not in html


def test_the_account_page_shows_credentials_masked_and_the_callback_url(staff: Client, settings: Any) -> None:
    account = AccountFactory(credentials={"token": TOKEN})

    response = staff.get(reverse("admin:rooms_platformaccount_change", args=[account.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert TOKEN not in html
    assert "ss-…cdef" in html
    assert f"{settings.SITE_URL}/callbacks/softsugar/{account.callback_key}/" in html


def test_the_add_account_page_opens(staff: Client) -> None:
    response = staff.get(reverse("admin:rooms_platformaccount_add"))

    assert response.status_code == 200
    assert "Shown once the account is saved." in response.content.decode()


def account_post(account: PlatformAccount, **overrides: Any) -> dict[str, Any]:
    data = {"name": account.name, "kind": account.kind, "base_url": account.base_url, "token": ""}
    if account.sandbox:
        data["sandbox"] = "on"
    return data | overrides


def test_saving_the_account_with_a_blank_secret_keeps_the_stored_one(staff: Client) -> None:
    account = AccountFactory(credentials={"token": TOKEN})

    response = staff.post(
        reverse("admin:rooms_platformaccount_change", args=[account.pk]),
        account_post(account, name="Renamed"),
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Renamed"
    assert account.credentials == {"token": TOKEN}


def test_saving_the_account_with_a_new_secret_replaces_it(staff: Client) -> None:
    account = AccountFactory(credentials={"token": TOKEN})

    staff.post(
        reverse("admin:rooms_platformaccount_change", args=[account.pk]),
        account_post(account, token="brand-new-token-42"),
    )

    account.refresh_from_db()
    assert account.credentials == {"token": "brand-new-token-42"}


def test_adding_an_account_without_its_secret_is_refused(staff: Client) -> None:
    response = staff.post(
        reverse("admin:rooms_platformaccount_add"),
        {"name": "New", "kind": "softsugar", "base_url": "https://aigc.softsugar.com", "token": ""},
    )

    assert response.status_code == 200
    assert "Required for this kind of account." in response.content.decode()
    assert not PlatformAccount.objects.filter(name="New").exists()


def test_an_account_url_typed_without_a_scheme_is_https(staff: Client) -> None:
    response = staff.post(
        reverse("admin:rooms_platformaccount_add"),
        {"name": "New", "kind": "softsugar", "base_url": "aigc.softsugar.com", "token": "tok-1234567890"},
    )

    assert response.status_code == 302
    account = PlatformAccount.objects.get(name="New")
    assert account.base_url == "https://aigc.softsugar.com"
    assert account.credentials == {"token": "tok-1234567890"}


def test_the_session_page_shows_its_tokens_masked(staff: Client) -> None:
    room = RoomFactory()
    session = session_in(
        room,
        state=LiveState.LIVE,
        vendor_session_id="v-1",
        session_token="mic-token-0123456789",
        rtc_token="rtc-token-abcdefghij",
    )

    response = staff.get(reverse("admin:rooms_livesession_change", args=[session.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "mic-token-0123456789" not in html
    assert "rtc-token-abcdefghij" not in html
    assert "mic…6789" in html
    assert "rtc…ghij" in html
    assert "v-1" in html


def test_a_session_cannot_be_added_by_hand(staff: Client) -> None:
    assert staff.get(reverse("admin:rooms_livesession_add")).status_code == 403


def test_the_stop_sessions_action_stops_only_open_sessions(staff: Client) -> None:
    room = RoomFactory()
    live = session_in(room, state=LiveState.LIVE, vendor_session_id="v-live")
    ended = session_in(room, state=LiveState.ENDED, vendor_session_id="v-ended")

    response = staff.post(
        reverse("admin:rooms_livesession_changelist"),
        {"action": "stop_sessions", "_selected_action": [live.pk, ended.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "Asked the platform to stop 1 session(s)." in response.content.decode()
    live.refresh_from_db()
    ended.refresh_from_db()
    assert live.stop_requested is True
    assert ended.stop_requested is False


def test_a_host_without_staff_rights_cannot_open_the_admin() -> None:
    client = Client()
    client.force_login(UserFactory(roles=["host"]))

    response = client.get(reverse("admin:rooms_platformaccount_changelist"))

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
