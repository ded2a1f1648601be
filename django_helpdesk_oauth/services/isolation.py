"""Keeping the refresh's own writes out of any transaction the caller holds.

A refresh spends the old refresh token at the provider (Kustomer, Zendesk rotate
it). If its writes (the lease, the new tokens, the bookkeeping) joined a
transaction of the caller — a view under ``ATOMIC_REQUESTS``, any
``transaction.atomic()`` block — a later rollback would restore the spent
refresh token and lose the customer. So when the caller is inside a
transaction, the work runs on a database connection of its own: a short-lived
thread, which Django gives its own connection, committing as it goes.

Django's test cases wrap each test in atomic blocks marked ``_from_testcase``
(the same mark Django's ``durable=True`` check relies on); those are not the
caller's transaction, so tests that build rows inside ``TestCase`` keep seeing
them.

On SQLite (one writer) no refresh runs inside a caller's transaction at all:
see :func:`single_writer_database`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from ..models import Token

T = TypeVar("T")

#: Seconds the own connection waits for a row lock (PostgreSQL ``lock_timeout``) before
#: failing: a caller holding ``select_for_update`` on our rows would otherwise wait on us
#: while we wait on it, forever.
LOCK_TIMEOUT = 5


def _connection() -> BaseDatabaseWrapper:
    return connections[router.db_for_write(Token)]


def in_caller_transaction() -> bool:
    """True when the current thread's connection is inside a transaction of the caller's
    (an atomic block not opened by Django's test framework, or autocommit turned off)."""
    connection = _connection()
    if connection.in_atomic_block:
        return any(
            not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks
        )
    return not connection.get_autocommit()


def single_writer_database() -> bool:
    """True on SQLite, where no connection can commit beside an open transaction.

    SQLite has one writer. A caller's transaction begun ``IMMEDIATE`` holds the write
    lock from its start; one begun ``DEFERRED`` holds it once it has written, and in
    rollback-journal mode even its reads block a commit; in WAL mode a commit beside
    a transaction that has read makes that transaction's next write fail
    (``SQLITE_BUSY_SNAPSHOT``). So on SQLite nothing is refreshed inside a caller's
    transaction: nothing is sent to the provider, so nothing can be spent.
    """
    return _connection().vendor == "sqlite"


def on_own_connection(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` on a database connection of its own, committing
    independently of the caller's transaction; return its result or re-raise its error.

    The thread's connections are closed when it ends.
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            connection = _connection()
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT * 1000}ms'")
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # re-raised in the caller's thread below
            outcome["error"] = exc
        finally:
            connections.close_all()

    worker = threading.Thread(target=run, name="helpdesk-oauth-own-connection", daemon=True)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
