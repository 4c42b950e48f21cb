"""SQLite shared by several processes (core/kernel/db.py): a transaction takes the write lock
when it begins, so one that read and then writes is not refused because another process
committed in between (tortoise's deferred BEGIN fails at once with "database is locked")."""

from __future__ import annotations

import sqlite3

import pytest
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper

from core.kernel.db import sqlite_transactions_take_the_write_lock


@pytest.fixture
async def database(tmp_path):
    path = tmp_path / "shared.sqlite3"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE counter (n INTEGER)")
        setup.execute("INSERT INTO counter VALUES (0)")
    client = SqliteClient(str(path), connection_name="shared")
    await client.create_connection(with_db=True)
    yield client, path
    await client.close()


async def test_a_transaction_that_reads_then_writes_is_not_refused_by_another_process(database):
    sqlite_transactions_take_the_write_lock()
    client, path = database
    other_process = sqlite3.connect(path, timeout=0.2, isolation_level=None)
    transaction = SqliteTransactionWrapper(client)  # what tortoise's in_transaction() enters
    await transaction.begin()
    _, rows = await transaction.execute_query("SELECT n FROM counter")
    # Another process writes meanwhile: it waits for our transaction (which holds the write
    # lock from its start) and, past its own busy timeout, gives up - not us.
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other_process.execute("UPDATE counter SET n = n + 100")
    await transaction.execute_query("UPDATE counter SET n = ?", [rows[0]["n"] + 1])
    await transaction.commit()
    other_process.execute("UPDATE counter SET n = n + 100")  # now free
    assert other_process.execute("SELECT n FROM counter").fetchone() == (101,)
    other_process.close()
