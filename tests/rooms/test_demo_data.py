"""`manage.py demo_data`: a fresh clone gets users, sandbox accounts and rooms; a second run
changes nothing."""

from __future__ import annotations

import json
import stat
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from rooms.management.commands.demo_data import LOGINS_FILE, SANDBOX_ACCOUNTS_FILE
from rooms.models import PlatformAccount, Room, Script

pytestmark = pytest.mark.django_db


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.VAR_DIR = tmp_path / "var"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings.VAR_DIR


def run() -> str:
    out = StringIO()
    call_command("demo_data", stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, Any]:
    return {
        "users": sorted(User.objects.values_list("username", "password")),
        "accounts": sorted(
            (a.name, a.kind, a.sandbox, a.callback_key, a.credentials) for a in PlatformAccount.objects.all()
        ),
        "rooms": sorted(Room.objects.values_list("name", "account__kind", "script__name")),
        "scripts": Script.objects.count(),
    }


def test_demo_data_creates_the_three_users_in_their_groups(var_dir: Path) -> None:
    output = run()

    logins = json.loads((var_dir / LOGINS_FILE).read_text())
    assert set(logins) == {"host", "producer", "staff"}
    for name, password in logins.items():
        user = User.objects.get(username=name)
        assert list(user.groups.values_list("name", flat=True)) == [name]
        assert user.check_password(password)
        assert user.is_staff == (name == "staff")
        assert password in output
    assert User.objects.get(username="staff").has_perm("rooms.change_platformaccount")


def test_demo_data_makes_one_sandbox_room_per_platform_kind_for_the_host(
    var_dir: Path, settings: Any
) -> None:
    run()

    rooms = Room.objects.select_related("account")
    assert sorted(room.account.kind for room in rooms) == sorted(PlatformAccount.Kind.values)
    host = User.objects.get(username="host")
    for room in rooms:
        assert room.account.sandbox is True
        assert room.account.base_url == settings.SANDBOX_URL
        assert list(room.hosts.all()) == [host]
        assert room.script.opening_text


def test_demo_data_gives_every_sandbox_account_the_credentials_of_its_kind(var_dir: Path) -> None:
    run()

    for account in PlatformAccount.objects.all():
        fields = set(PlatformAccount.CREDENTIAL_FIELDS[account.kind])
        required = fields - PlatformAccount.OPTIONAL_CREDENTIALS
        assert required <= set(account.credentials) <= fields
        assert all(account.credentials.values())


def test_demo_data_writes_the_sandbox_accounts_file(var_dir: Path, settings: Any) -> None:
    run()

    path = var_dir / SANDBOX_ACCOUNTS_FILE
    entries = json.loads(path.read_text())
    accounts = {a.kind: a for a in PlatformAccount.objects.all()}
    assert sorted(entry["kind"] for entry in entries) == sorted(accounts)
    for entry in entries:
        account = accounts[entry["kind"]]
        assert entry == {
            **account.credentials,
            "kind": account.kind,
            "callbackUrl": f"{settings.SITE_URL}{account.callback_path()}",
        }
    # Both files hold secrets: readable by their owner only.
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((var_dir / LOGINS_FILE).stat().st_mode) == 0o600


def test_running_demo_data_twice_changes_nothing(var_dir: Path) -> None:
    run()
    first = snapshot()
    files = {name: (var_dir / name).read_text() for name in (LOGINS_FILE, SANDBOX_ACCOUNTS_FILE)}

    run()

    assert snapshot() == first
    assert {name: (var_dir / name).read_text() for name in files} == files
    assert Room.objects.count() == 3
    assert PlatformAccount.objects.count() == 3
    assert User.objects.count() == 3


def test_demo_data_gives_a_new_password_to_a_user_whose_login_was_lost(var_dir: Path) -> None:
    run()
    logins = json.loads((var_dir / LOGINS_FILE).read_text())
    (var_dir / LOGINS_FILE).write_text(json.dumps({"host": logins["host"], "staff": logins["staff"]}))

    run()

    again = json.loads((var_dir / LOGINS_FILE).read_text())
    assert again["host"] == logins["host"]
    assert again["producer"] != logins["producer"]
    assert User.objects.get(username="producer").check_password(again["producer"])
