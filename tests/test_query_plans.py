"""The vendor's reports find their rows through an index on both columns they name.

With one index per column, SQLite (no statistics gathered) searched by the first and then
walked every session the account ever ran, or every takeover of the live, for the vendor's
id: callbacks slowed as history grew (a third of daphne's CPU in bench/takeover.py)."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from rooms import services
from rooms.models import LiveSession
from takeovers.models import Takeover
from tests.factories import RoomFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the plans checked are SQLite's"),
]

SEARCH = re.compile(r"SEARCH (\w+) USING (?:COVERING )?INDEX \w+ \(([^)]*)\)")


def searches(sql: str) -> list[tuple[str, str]]:
    """(table, the columns its index search binds) for each search in the query's plan."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        return [m.groups() for m in map(SEARCH.search, (row[3] for row in cursor.fetchall())) if m]


def test_a_takeover_report_finds_session_and_takeover_by_both_columns() -> None:
    room = RoomFactory()
    session = LiveSession.objects.create(
        room=room, account=room.account, state="live", vendor_session_id="vendor-1"
    )
    Takeover.objects.create(session=session, kind="text", content="Hello there, everyone!", trace_id="t-1")
    body = json.dumps({"sessionId": "vendor-1", "status": 36, "commandTraceId": "t-1"}).encode()

    with CaptureQueriesContext(connection) as queries:
        assert services.callback_receive(account=room.account, body=body) is True

    lookups = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "WHERE" in q["sql"]]
    by_vendor_id = [sql for sql in lookups if '"vendor_session_id" = ' in sql]
    by_trace = [sql for sql in lookups if '"trace_id" = ' in sql]
    assert by_vendor_id and by_trace, lookups
    for sql in by_vendor_id:
        assert ("rooms_livesession", "account_id=? AND vendor_session_id=?") in searches(sql), sql
    for sql in by_trace:
        assert ("takeovers_takeover", "session_id=? AND trace_id=?") in searches(sql), sql
