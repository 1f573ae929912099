"""SQLite whose connections outlive a request: closed ones wait in the process for the next.

Daphne runs each request in a thread of its own with connections of its own, so Django opens a
SQLite connection for every request and closes it at the end. Opening one (register Django's
functions, run the pragmas, read the schema on the first query) took 1.3-2.2 ms on the
development VM, more than the rest of a takeover's queries together, and every vendor callback
paid it as well as every click. A SQLite connection is a file handle that cannot go stale, so
here a closed one is rolled back and kept, and the next connection of the process takes it.

Kept connections are never handed across a fork (SQLite forbids it), nor to a file that has
been replaced since (a test database made again under the same name).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from django.db.backends.sqlite3 import base

KEEP = 8  # per process and database file: more than daphne's requests at once on two cores

_lock = threading.Lock()
_kept: dict[str, list[tuple[Any, tuple[int, int]]]] = {}  # file -> (connection, its identity)


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _forget_kept() -> None:
    """In a forked child: what the parent kept is the parent's (closing it would also harm it)."""
    global _lock
    _lock = threading.Lock()
    _kept.clear()


os.register_at_fork(after_in_child=_forget_kept)


class DatabaseWrapper(base.DatabaseWrapper):
    opened_in: int | None = None  # the process that opened the current connection

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        path = str(conn_params["database"])
        identity = _file_identity(path)
        with _lock:
            kept = _kept.get(path, [])
            while kept:
                connection, was = kept.pop()
                if was == identity:
                    self.opened_in = os.getpid()
                    return connection
                connection.close()  # the file was replaced: this one reads the old one
        self.opened_in = os.getpid()
        return super().get_new_connection(conn_params)

    def _close(self) -> None:
        connection = self.connection
        path = str(self.settings_dict["NAME"])
        identity = None if self.is_in_memory_db() else _file_identity(path)
        if connection is None or identity is None or self.opened_in != os.getpid():
            super()._close()
            return
        try:
            if connection.in_transaction:
                connection.rollback()
            connection.execute("PRAGMA foreign_keys = ON")  # as opened, if a migration turned it off
        except base.Database.Error:
            super()._close()
            return
        with _lock:
            kept = _kept.setdefault(path, [])
            if len(kept) < KEEP:
                kept.append((connection, identity))
                return
        super()._close()
