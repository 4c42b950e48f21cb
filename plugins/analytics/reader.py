"""Read-only connections for metric queries, apart from the ones the Hub writes with.

`[plugins.analytics] database_url` names a read replica; unset, the main database is read
through connections of the plugin's own, which cannot write either:

- PostgreSQL: an asyncpg pool whose sessions have `default_transaction_read_only = on` and
  `statement_timeout` set by the server, so a runaway aggregate is stopped by PostgreSQL itself.
- SQLite: one connection per process with `PRAGMA query_only` (a write is refused by SQLite) and
  a progress handler that interrupts a statement past the timeout. In WAL mode it reads beside
  the Hub's writer without blocking it.

Statements are built by engine.py from registered identifiers only; values travel as parameters.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from core import HubError

# tortoise's own keys in a database URL, which asyncpg does not know
_TORTOISE_KEYS = {"minsize", "maxsize", "max_queries", "max_inactive_connection_lifetime", "schema",
                  "connection_class", "loop", "statement_cache_size"}


class QueryTimeout(Exception):
    pass


class Reader:
    dialect = "sqlite"

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple]:
        raise NotImplementedError

    async def has_index(self, table: str, columns: list[str]) -> bool:
        """Whether an index of `table` begins with `columns`, in order (cached)."""
        cache = self.__dict__.setdefault("_indexes", {})
        key = (table, tuple(columns))
        if key not in cache:
            cache[key] = await self._has_index(table, columns)
        return cache[key]

    async def _has_index(self, table: str, columns: list[str]) -> bool:
        return False

    async def close(self) -> None:
        pass


class SqliteReader(Reader):
    dialect = "sqlite"

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._connection: Any = None
        self._lock = asyncio.Lock()
        self._deadline = float("inf")

    def _interrupt(self) -> int:
        return 1 if time.monotonic() > self._deadline else 0

    async def _connect(self) -> Any:
        import aiosqlite

        connection = await aiosqlite.connect(self.path)
        await connection.execute("PRAGMA query_only = ON")
        await connection.execute("PRAGMA busy_timeout = 5000")
        # a GROUP BY sorts its rows: in memory, with a cache large enough for a million-row scan
        await connection.execute("PRAGMA temp_store = MEMORY")
        await connection.execute("PRAGMA cache_size = -65536")
        await connection.set_progress_handler(self._interrupt, 10_000)
        return connection

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple]:
        async with self._lock:  # one statement at a time on the connection: its deadline is its own
            if self._connection is None:
                self._connection = await self._connect()
            self._deadline = time.monotonic() + self.timeout
            try:
                cursor = await self._connection.execute(sql, params)
                rows = await cursor.fetchall()
                await cursor.close()
                return list(rows)
            except sqlite3.OperationalError as error:
                if "interrupted" in str(error):
                    raise QueryTimeout() from None
                raise
            finally:
                self._deadline = float("inf")

    async def _has_index(self, table: str, columns: list[str]) -> bool:
        names = await self.fetch("SELECT name FROM pragma_index_list(?)", [table])
        for (name,) in names:
            info = await self.fetch("SELECT name FROM pragma_index_info(?) ORDER BY seqno", [name])
            if [column for (column,) in info[: len(columns)]] == columns:
                return True
        return False

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()


class PostgresReader(Reader):
    dialect = "postgres"

    def __init__(self, dsn: str, timeout: float, pool_size: int) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self.pool_size = pool_size
        self._pool: Any = None
        self._lock = asyncio.Lock()

    async def _get_pool(self) -> Any:
        async with self._lock:
            if self._pool is None:
                import asyncpg

                self._pool = await asyncpg.create_pool(
                    self.dsn, min_size=0, max_size=self.pool_size,
                    server_settings={
                        "default_transaction_read_only": "on",
                        "statement_timeout": str(int(self.timeout * 1000)),
                        "application_name": "hub-analytics",
                    })
            return self._pool

    async def fetch(self, sql: str, params: list[Any]) -> list[tuple]:
        import asyncpg

        pool = await self._get_pool()
        try:
            records = await pool.fetch(sql, *params)
        except asyncpg.exceptions.QueryCanceledError:
            raise QueryTimeout() from None
        return [tuple(record) for record in records]

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()


def _postgres_dsn(url: str) -> str:
    parts = urlsplit("postgres://" + url.split("://", 1)[1])
    query = [(key, value) for key, value in parse_qsl(parts.query) if key not in _TORTOISE_KEYS]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def make_reader(hub: Any) -> Reader:
    settings = hub.plugin_settings("analytics")
    url = settings.database_url.get_secret_value() if settings.database_url else hub.settings.effective_database_url
    timeout = settings.statement_timeout_seconds
    if url.startswith(("postgres://", "postgresql://")):
        return PostgresReader(_postgres_dsn(url), timeout, settings.pool_size)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://").split("?", 1)[0]
        if path and path != ":memory:":
            return SqliteReader(os.path.abspath(path), timeout)
    raise HubError("SERVICE_UNAVAILABLE", "analytics needs a database file or PostgreSQL to read from")


async def reader_of(hub: Any) -> Reader:
    reader = hub.extensions.get("analytics.reader")
    if reader is None:
        reader = hub.extensions["analytics.reader"] = make_reader(hub)
    return reader


async def close_reader(hub: Any) -> None:
    reader = hub.extensions.pop("analytics.reader", None)
    if reader is not None:
        await reader.close()
