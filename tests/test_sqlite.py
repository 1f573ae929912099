"""The SQLite backend keeps closed connections for the next one the process opens
(`config.sqlite`): daphne opens one per request, and opening cost more than the queries."""

from __future__ import annotations

import copy
import multiprocessing
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from config.sqlite import base

pytestmark = pytest.mark.skipif(connection.vendor != "sqlite", reason="the backend is SQLite's")


@pytest.fixture
def database(tmp_path: Path, django_db_blocker: Any) -> Iterator[Any]:
    """A connection of its own to a file of its own, away from the test database."""
    settings = copy.deepcopy(connection.settings_dict)
    settings["NAME"] = str(tmp_path / "kept.sqlite3")
    with django_db_blocker.unblock():
        wrapper = base.DatabaseWrapper(settings, alias="kept")
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            cursor.execute("CREATE TABLE said (text TEXT)")
        yield wrapper
        wrapper.close()
    for kept, _ in base._kept.pop(settings["NAME"], []):
        kept.close()


def reopened(wrapper: Any) -> Any:
    wrapper.close()
    wrapper.ensure_connection()
    return wrapper.connection


def test_a_closed_connection_is_taken_by_the_next_one_opened(database: Any) -> None:
    first = database.connection

    assert reopened(database) is first


def test_a_connection_closed_in_one_thread_is_taken_in_another(database: Any) -> None:
    first = database.connection
    database.close()
    taken = []

    def request() -> None:  # as daphne runs one: a thread, and connections, of its own
        other = base.DatabaseWrapper(database.settings_dict, alias="kept")
        other.ensure_connection()
        taken.append(other.connection)
        other.close()

    thread = threading.Thread(target=request)
    thread.start()
    thread.join()

    assert taken == [first]


def test_what_a_closed_connection_left_uncommitted_is_rolled_back(database: Any) -> None:
    database.set_autocommit(False)
    with database.cursor() as cursor:
        cursor.execute("INSERT INTO said VALUES ('never committed')")

    kept = reopened(database)

    assert not kept.in_transaction
    assert kept.execute("SELECT count(*) FROM said").fetchone() == (0,)
    assert kept.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_a_connection_is_not_taken_once_its_file_was_replaced(database: Any) -> None:
    first = database.connection
    database.close()
    path = Path(database.settings_dict["NAME"])
    path.unlink()
    path.with_name(path.name + "-wal").unlink(missing_ok=True)
    path.with_name(path.name + "-shm").unlink(missing_ok=True)

    database.ensure_connection()

    assert database.connection is not first
    assert database.connection.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_no_more_than_a_few_are_kept(database: Any) -> None:
    wrappers = [base.DatabaseWrapper(database.settings_dict, alias="kept") for _ in range(base.KEEP + 3)]
    for wrapper in wrappers:
        wrapper.ensure_connection()
    database.close()
    for wrapper in wrappers:
        wrapper.close()

    assert len(base._kept[database.settings_dict["NAME"]]) == base.KEEP


def _child_opens(wrapper: Any, answer: Any) -> None:
    answer.send((len(base._kept), wrapper.opened_in))
    wrapper.ensure_connection()  # inherited as open: closing it must not keep the parent's
    wrapper.close()
    answer.send(len(base._kept))


def test_a_forked_process_does_not_take_what_its_parent_kept(database: Any) -> None:
    other = base.DatabaseWrapper(database.settings_dict, alias="kept")
    other.ensure_connection()
    other.close()  # kept by the parent
    assert base._kept[database.settings_dict["NAME"]]
    mine, theirs = multiprocessing.get_context("fork").Pipe()

    child = multiprocessing.get_context("fork").Process(target=_child_opens, args=(database, theirs))
    child.start()
    kept_at_start, opened_in = mine.recv()
    kept_after_close = mine.recv()
    child.join(10)

    assert kept_at_start == 0
    assert opened_in != child.pid
    assert kept_after_close == 0
    assert child.exitcode == 0
