"""The database: one tortoise app label per plugin, migrations shipped by each plugin.

Migrations use tortoise-orm's own migration engine (Django-style, one `migrations`
package per app label), rather than aerich: it keeps each plugin's migrations inside
the plugin's package, so third-party plugins ship theirs like any other module.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.sqlite.client import SqliteTransactionWrapper
from tortoise.exceptions import TransactionManagementError
from tortoise.migrations.api import migrate as run_migrations

from core.kernel.plugins import CORE_PLUGIN


log = logging.getLogger("hub.db")


def tortoise_config(hub: Any) -> dict[str, Any]:
    """One tortoise app per plugin that has models (the core's own included), each with the
    `migrations` package beside its first model module (the core's: core/migrations)."""
    database_url = hub.settings.effective_database_url
    apps: dict[str, Any] = {}
    for plugin_name, result in hub.call("hub_models"):
        if not result:
            continue
        modules = [result] if isinstance(result, str) else list(result)
        package = "core" if plugin_name == CORE_PLUGIN else modules[0].rsplit(".", 1)[0]
        apps[plugin_name] = {
            "models": modules,
            "migrations": f"{package}.migrations",
            "default_connection": "default",
        }
    if database_url.startswith("sqlite://"):
        path = database_url.removeprefix("sqlite://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if database_url.startswith("postgresql://"):
        database_url = "postgres://" + database_url.removeprefix("postgresql://")
    connection: str | dict[str, Any] = database_url
    if database_url.startswith("postgres://"):
        connection = expand_db_url(database_url)
        connection["credentials"]["reset"] = _rollback_only
    return {"connections": {"default": connection}, "apps": apps, "use_tz": True, "timezone": "UTC"}


async def _rollback_only(connection: Any) -> None:
    """What the asyncpg pool does to a connection handed back to it, beyond rolling back an
    open transaction (which it always does first). Its default, `SELECT pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL`, is one more round trip after every statement run outside
    a transaction, doubling the database calls of every query; the Hub leaves no session state
    behind (no session SET, LISTEN, advisory lock or held cursor: `SET LOCAL` ends with its
    transaction), so there is nothing to reset."""


async def _begin_immediate(self: SqliteTransactionWrapper) -> None:
    try:
        await self._connection.commit()
        await self._connection.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise TransactionManagementError(exc) from exc


def sqlite_transactions_take_the_write_lock() -> None:
    """SQLite transactions begin IMMEDIATE instead of tortoise's deferred BEGIN. A deferred
    transaction that has read and then writes after another process committed fails at once
    with "database is locked" (SQLITE_BUSY_SNAPSHOT: its snapshot is stale, no waiting helps);
    an immediate one waits for the write lock (the busy timeout, 5 s) and then reads the latest
    data. One process already runs its transactions one at a time on its one connection, so
    this only orders processes sharing the file: several workers, a CLI command, a server
    beside another (each process's event dispatcher writes after every request)."""
    SqliteTransactionWrapper.begin = _begin_immediate  # type: ignore[method-assign]


async def open_database(config: dict[str, Any], migrate: bool) -> None:
    sqlite_transactions_take_the_write_lock()
    if migrate:
        await apply_migrations(config)
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def apply_migrations(config: dict[str, Any], progress=None) -> None:
    await run_migrations(config=config, progress=progress)
    await connections.close_all()


async def close_database() -> None:
    await connections.close_all(discard=True)


async def ping() -> None:
    await connections.get("default").execute_query("SELECT 1")
