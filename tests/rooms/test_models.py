"""Models and fields: secrets at rest, masking, and what a session says about itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from rooms.fields import mask
from rooms.models import STATE_RANK, LiveSession, PlatformAccount
from rooms.platforms.base import LiveState
from tests.factories import AccountFactory, RoomFactory

pytestmark = pytest.mark.django_db

TOKEN = "ss-secret-token-7f3a9c"


def raw_credentials(account: PlatformAccount) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM rooms_platformaccount WHERE id = %s", [account.pk])
        return str(cursor.fetchone()[0])


def test_credentials_are_encrypted_at_rest() -> None:
    account = AccountFactory(credentials={"token": TOKEN})

    stored = raw_credentials(account)

    assert TOKEN not in stored
    assert "token" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token


def test_credentials_read_back_as_the_dict_that_was_saved() -> None:
    account = AccountFactory(credentials={"app_id": "id-1", "app_secret": "s3cret!"}, kind="guiji")

    assert PlatformAccount.objects.get(pk=account.pk).credentials == {
        "app_id": "id-1",
        "app_secret": "s3cret!",
    }


def test_the_same_credentials_encrypt_differently_each_time() -> None:
    one = AccountFactory(credentials={"token": TOKEN})
    two = AccountFactory(credentials={"token": TOKEN})

    assert raw_credentials(one) != raw_credentials(two)


def test_credentials_under_another_key_refuse_to_read(settings: Any) -> None:
    account = AccountFactory(credentials={"token": TOKEN})
    settings.FIELD_ENCRYPTION_KEY = "a different key"

    with pytest.raises(ValueError, match="FIELD_ENCRYPTION_KEY changed"):
        PlatformAccount.objects.get(pk=account.pk)


def test_an_account_without_credentials_reads_back_empty() -> None:
    account = AccountFactory(credentials={})

    assert PlatformAccount.objects.get(pk=account.pk).credentials == {}
    assert account.credential("token") == ""


@pytest.mark.parametrize(
    ("secret", "shown"),
    [("", ""), ("abc", "•••"), ("12345678", "••••••••"), ("123456789", "123…6789"), (TOKEN, "ss-…3a9c")],
)
def test_mask_never_shows_a_whole_secret(secret: str, shown: str) -> None:
    assert mask(secret) == shown


def test_masked_credentials_name_every_field_of_the_kind() -> None:
    account = AccountFactory(
        kind="metastudio", credentials={"project_id": "project-0123456789", "access_key": "AK12"}
    )

    masked = account.masked_credentials()

    assert {name: masked[name] for name in ("project_id", "access_key", "secret_key", "iam_token")} == {
        "project_id": "pro…6789",
        "access_key": "••••",
        "secret_key": "",
        "iam_token": "",
    }
    # MetaStudio signs its callbacks with a key LiveDeck makes when the account is saved.
    assert masked["callback_secret"]


def test_each_account_gets_its_own_unguessable_callback_path() -> None:
    one, two = AccountFactory(), AccountFactory()

    assert one.callback_key != two.callback_key
    assert len(one.callback_key) >= 32
    assert one.callback_path() == f"/callbacks/softsugar/{one.callback_key}/"


def session_with(**fields: Any) -> LiveSession:
    room = RoomFactory()
    return LiveSession.objects.create(room=room, account=room.account, **fields)


def test_an_open_session_is_at_risk_after_enough_failed_heartbeats(settings: Any) -> None:
    settings.HEARTBEAT_RISK_AFTER = 3

    assert session_with(state=LiveState.LIVE, heartbeat_failures=2).at_risk is False
    assert session_with(state=LiveState.LIVE, heartbeat_failures=3).at_risk is True
    assert session_with(state=LiveState.READY, heartbeat_failures=9).at_risk is True


def test_a_closed_session_is_never_at_risk() -> None:
    for state in (LiveState.ENDED, LiveState.DROPPED, LiveState.FAILED, LiveState.NO_CAPACITY):
        assert session_with(state=state, heartbeat_failures=99).at_risk is False


def test_only_creating_ready_and_live_are_open() -> None:
    assert [s for s in LiveState if s.is_open] == [LiveState.CREATING, LiveState.READY, LiveState.LIVE]
    session_with(state=LiveState.LIVE)
    session_with(state=LiveState.ENDED)

    assert list(LiveSession.objects.open().values_list("state", flat=True)) == ["live"]


def test_every_state_has_a_rank_and_every_end_outranks_every_open_state() -> None:
    assert set(STATE_RANK) == set(LiveState)
    ends = [STATE_RANK[s] for s in LiveState if not s.is_open]
    assert min(ends) > max(STATE_RANK[s] for s in LiveState if s.is_open)
    assert STATE_RANK[LiveState.CREATING] < STATE_RANK[LiveState.READY] < STATE_RANK[LiveState.LIVE]


def test_a_sessions_rtc_details_show_its_token_masked() -> None:
    session = session_with(
        state=LiveState.LIVE, rtc_app_id="app", rtc_channel_id="ch", rtc_uid="1", rtc_token="rtc-token-abcdef"
    )

    assert session.rtc() == {"app_id": "app", "channel_id": "ch", "uid": "1", "token": "rtc…cdef"}


def test_user_data_names_the_sessions_row() -> None:
    session = session_with(state=LiveState.CREATING)

    assert session.user_data() == f"livedeck-session-{session.pk}"


def test_a_session_outlives_its_room() -> None:
    session = session_with(state=LiveState.LIVE, vendor_session_id="v-1")
    session.room.delete()

    session.refresh_from_db()
    assert session.room is None
    assert str(session) == "deleted room · v-1 · live"
