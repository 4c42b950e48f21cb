"""Transactions that say when they committed, and units of work (a request, a job).

    async with transaction():            # tortoise's in_transaction(), plus "after commit"
        await Lead.create(...)
        on_commit(lambda: ...)           # runs once the outermost transaction commits, never on rollback

The event outbox uses this to dispatch an event only once the change it announces is
committed (core/events/outbox.py), and caches to announce a change only once it is visible.

A bare tortoise `in_transaction()` announces no commit; what must wait for one registers
with the enclosing unit of work instead (`after_unit_of_work`), which the request pipeline
and the job runtime end when the request or job ends.
"""

from __future__ import annotations

import contextvars
import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable

from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.transactions import in_transaction

log = logging.getLogger("hub")


@dataclass
class _Scope:
    callbacks: list[Callable[[], None]] = field(default_factory=list)


_transaction: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("hub_transaction", default=None)
_unit_of_work: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("hub_unit_of_work", default=None)


@asynccontextmanager
async def transaction(connection_name: str | None = None) -> AsyncIterator[Any]:
    """tortoise's `in_transaction()`; `on_commit` callbacks registered inside run when the
    outermost transaction commits (a nested one that fails drops its own with its savepoint)."""
    scope = _Scope()
    parent = _transaction.get()
    token = _transaction.set(scope)
    try:
        async with in_transaction(connection_name) as connection:
            yield connection
    finally:
        _transaction.reset(token)
    # Reached only when the block committed (an exception skips this).
    if parent is not None:
        parent.callbacks.extend(scope.callbacks)  # committed to a savepoint, not yet for real
    else:
        _run(scope.callbacks)


def in_transaction_scope() -> bool:
    """Inside `transaction()`: `on_commit` will wait for the commit."""
    return _transaction.get() is not None


def on_commit(callback: Callable[[], None]) -> None:
    """Call `callback()` once the current `transaction()` commits (never if it rolls back);
    outside one, at once."""
    scope = _transaction.get()
    if scope is None:
        callback()
    else:
        scope.callbacks.append(callback)


def in_bare_transaction(connection_name: str = "default") -> bool:
    """Inside a tortoise transaction that is not a `transaction()` (its commit is not announced)."""
    return _transaction.get() is None and in_any_transaction(connection_name)


def in_any_transaction(connection_name: str = "default") -> bool:
    """Inside a `transaction()` or a bare tortoise one: a query runs on the transaction's
    connection, not on its own autocommitted one."""
    try:
        return isinstance(connections.get(connection_name), TransactionalDBClient)
    except Exception:
        return False


# -- units of work ------------------------------------------------------------------------------


def begin_unit_of_work() -> contextvars.Token:
    return _unit_of_work.set(_Scope())


def end_unit_of_work(token: contextvars.Token) -> None:
    scope = _unit_of_work.get()
    _unit_of_work.reset(token)
    if scope is not None:
        _run(scope.callbacks)


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[None]:
    token = begin_unit_of_work()
    try:
        yield
    finally:
        end_unit_of_work(token)


def after_unit_of_work(callback: Callable[[], None]) -> bool:
    """Call `callback()` when the current request or job ends; False when there is none."""
    scope = _unit_of_work.get()
    if scope is None:
        return False
    scope.callbacks.append(callback)
    return True


def _run(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("an after-commit callback failed")
