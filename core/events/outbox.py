"""Events after commit: an outbox table, and the dispatcher that empties it.

`emit()` does not call anyone. It writes the event to `core_event_outbox` on the current
database connection - inside a transaction, in that transaction, so the event exists exactly
when the change it announces does - and hands it to this process's dispatcher once that
change is committed. The dispatcher runs the plugins' `hub_on_event`, the WebSocket fan-out
and the webhooks on its own tasks, off the response path, then deletes the row.

    async with transaction():                       # core.transaction, tortoise's in_transaction
        lead = await Lead.create(...)               # plus "after commit"
        await emit(org_id, "lead.created", {...})   # recorded now, dispatched after the commit
    # rolled back: the row is gone with the change, and nothing is dispatched

When is "after commit" known?
- inside `core.transaction()`: when the outermost one commits (a nested one that fails drops
  its own events with its savepoint);
- outside any transaction: at once (the write committed already);
- inside a bare tortoise `in_transaction()` (which announces no commit): when the request or
  job that emitted ends, or, failing that, when a dispatcher's poll finds the committed row.

Durability: a row belongs to the process that wrote it until `lease_until`; after that any
process's dispatcher (they poll every `[events] outbox_poll_seconds`) may claim it with a
conditional UPDATE and dispatch it. A process killed between commit and dispatch therefore
loses nothing: another process, or itself after a restart, dispatches the event. Delivery is
at least once; the event id is the deduplication key (webhook deliveries are made once per
event id and endpoint; handlers that must not repeat work should check `event.id`).

Order: events of one organization are dispatched in the order their process emitted them
(one lane per organization hash); a taken-over event can come after later ones.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from tortoise.expressions import F

from core.kernel import transactions
from core.kernel.times import iso_now

log = logging.getLogger("hub.events")

BATCH = 100  # rows claimed per poll, and dispatched rows deleted per statement
SAFETY_SECONDS = 2.0  # an owner does not start dispatching this close to the end of its lease
DELETE_DELAY_SECONDS = 0.2  # dispatched rows deleted together (well within any lease)


# -- the dispatcher -----------------------------------------------------------------------------


@dataclass
class _Item:
    event: Any
    owned_until: float  # unix seconds: this process's lease on the row
    attempts: int = 0  # the row's `attempts` as this process last wrote it
    confirm: bool = False  # the row may not exist (its transaction may have rolled back)


@dataclass(frozen=True)
class Staged:
    """The identity of an event whose outbox row a caller writes itself (`Outbox.stage`)."""

    id: str
    timestamp: str
    sequence: int
    owned_until: float  # unix seconds: this process's lease on the row

    @property
    def lease_until(self) -> datetime:
        return _utc(self.owned_until)


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


class Outbox:
    """One per Hub (`hub.bus.outbox`): records events and dispatches them after commit."""

    def __init__(self, bus: Any, settings: Any) -> None:
        self.bus = bus
        self.lease = settings.outbox_lease_seconds
        self.poll_seconds = settings.outbox_poll_seconds
        self.lane_count = settings.dispatch_lanes
        self._lanes: list[asyncio.Queue] = []
        self._workers: list[asyncio.Task] = []
        self.app: Any = None  # the Quart app (install): handlers run in its app context, as in a request
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task | None = None
        self._in_flight = 0
        self._idle: asyncio.Event | None = None
        self._dispatched: list[str] = []
        self._deleter: asyncio.Task | None = None
        self._sequence = 0
        self.stats = {"recorded": 0, "dispatched": 0, "taken_over": 0, "rolled_back": 0}

    # -- recording ---------------------------------------------------------------------------

    async def record(self, event: Any) -> None:
        """Write the event on the current connection and arrange its dispatch after commit."""
        from core.events.models import OutboxEvent

        owned_until = time.time() + self.lease
        bare = transactions.in_bare_transaction()
        if bare and not transactions.after_unit_of_work(lambda: self.push(event, confirm=True)):
            # No one will tell this process about the commit: the row is anyone's at once, and
            # a poll takes it once it is committed.
            owned_until = time.time()
        self._sequence += 1
        db = OutboxEvent._meta.db
        if db.capabilities.dialect == "postgres":  # the same row, without the ORM's query building (hot path)
            await db.execute_query(
                'INSERT INTO "core_event_outbox" ("id", "org_id", "type", "data", "timestamp", "sequence", '
                '"lease_until", "attempts", "created_at") VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, 0, $8)',
                [event.id, event.org_id, event.type, json.dumps(event.data, separators=(",", ":")), event.timestamp,
                 self._sequence, _utc(owned_until), datetime.now(timezone.utc)])
        else:
            await OutboxEvent.create(
                id=event.id, org_id=event.org_id, type=event.type, data=event.data, timestamp=event.timestamp,
                sequence=self._sequence, lease_until=_utc(owned_until),
            )
        self.stats["recorded"] += 1
        if not bare:
            transactions.on_commit(lambda: self.push(event, owned_until))  # at once outside a transaction

    def stage(self) -> "Staged":
        """For a writer that inserts an event's outbox row itself, in the same statement as the
        change it announces and outside any transaction (the job runtime's claim and finish:
        one round trip for the job's row and its event; core/jobs/sql.py): the row's event id,
        timestamp, sequence and lease. The writer builds the event with that id and timestamp
        (`bus.event(..., staged=...)`) and, once its statement has committed, hands it to
        `written()` for dispatch."""
        self._sequence += 1
        return Staged(uuid.uuid4().hex, iso_now(), self._sequence, time.time() + self.lease)

    def written(self, staged: "Staged", event: Any) -> None:
        self.stats["recorded"] += 1
        self.push(event, staged.owned_until)

    # -- dispatching -------------------------------------------------------------------------

    def push(self, event: Any, owned_until: float = 0.0, *, attempts: int = 0, confirm: bool = False) -> None:
        """Queue a committed (or, with `confirm`, possibly rolled-back) event for dispatch."""
        self._ensure_lanes()
        self._in_flight += 1
        self._idle.clear()
        lane = self._lanes[zlib.crc32(event.org_id.encode()) % len(self._lanes)]
        lane.put_nowait(_Item(event, owned_until, attempts, confirm))

    def _ensure_lanes(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._workers:
            return
        # First use, or a new event loop (tests, CLI commands): lanes live on the running loop.
        self._loop = loop
        self._idle = asyncio.Event()
        self._idle.set()
        self._in_flight = 0
        self._deleter = None
        self._lanes = [asyncio.Queue() for _ in range(self.lane_count)]
        # In an empty context: a lane started from a request must not keep seeing that request.
        self._workers = [loop.create_task(self._work(lane), name=f"hub-events-{n}", context=contextvars.Context())
                         for n, lane in enumerate(self._lanes)]

    async def _work(self, lane: asyncio.Queue) -> None:
        while True:
            item = await lane.get()
            try:
                if self.app is not None:
                    async with self.app.app_context():  # current_hub(), emit() work in handlers
                        await self._dispatch(item)
                else:
                    await self._dispatch(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The row stays: once its lease ends, a poll dispatches it again.
                log.exception("dispatching event %s (%s) failed", item.event.id, item.event.type)
            finally:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

    async def _dispatch(self, item: _Item) -> None:
        from core.events.models import OutboxEvent

        if item.confirm or time.time() > item.owned_until - SAFETY_SECONDS:
            # Claim it first: the row may be rolled back, or another process may have taken it.
            owned_until = time.time() + self.lease
            claimed = await OutboxEvent.filter(id=item.event.id, attempts=item.attempts).update(
                attempts=F("attempts") + 1, lease_until=_utc(owned_until))
            if not claimed:
                if item.confirm:
                    self.stats["rolled_back"] += 1
                return
        await self.bus.deliver(item.event)
        self.stats["dispatched"] += 1
        self._dispatched.append(item.event.id)
        # Dispatched rows are deleted in batches, off the dispatch path: BATCH at a time, or what
        # was dispatched in the last DELETE_DELAY_SECONDS (while a row waits, its lease keeps it
        # this process's), and on every poll and `settle()`.
        if len(self._dispatched) >= BATCH:
            await self._delete_dispatched()
        elif self._deleter is None:
            self._deleter = asyncio.get_running_loop().create_task(self._delete_soon(), context=contextvars.Context())

    async def _delete_soon(self) -> None:
        try:
            await asyncio.sleep(DELETE_DELAY_SECONDS)
        finally:
            self._deleter = None
        await self._delete_dispatched()

    async def _delete_dispatched(self) -> None:
        from core.events.models import OutboxEvent

        while self._dispatched:
            batch, self._dispatched = self._dispatched[:BATCH], self._dispatched[BATCH:]
            try:
                await OutboxEvent.filter(id__in=batch).delete()
            except Exception:  # dispatched again after the lease: at least once, never lost
                log.exception("could not delete %d dispatched events from the outbox", len(batch))

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until every event this process has queued is dispatched, and its outbox row
        deleted (tests, shutdown)."""
        if self._idle is None or self._loop is not asyncio.get_running_loop():
            return
        await asyncio.wait_for(self._idle.wait(), timeout)
        await self._delete_dispatched()

    # -- taking over what others left ----------------------------------------------------------

    async def take_over(self) -> int:
        """Claim and queue events whose lease ended (their process died, or never heard of
        the commit). Returns how many."""
        from core.events.bus import Event
        from core.events.models import OutboxEvent

        now = time.time()
        rows = await OutboxEvent.filter(lease_until__lte=_utc(now)).order_by("created_at", "sequence").limit(BATCH)
        taken = 0
        for row in rows:
            owned_until = time.time() + self.lease
            claimed = await OutboxEvent.filter(id=row.id, attempts=row.attempts).update(
                attempts=row.attempts + 1, lease_until=_utc(owned_until))
            if claimed:
                taken += 1
                event = Event(row.type, row.org_id, row.data, id=row.id, timestamp=row.timestamp)
                self.push(event, owned_until, attempts=row.attempts + 1)
        self.stats["taken_over"] += taken
        return taken

    async def _poll_forever(self) -> None:
        while True:
            try:
                await self._delete_dispatched()
                while await self.take_over() == BATCH:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("events: could not poll the outbox", exc_info=True)
            await asyncio.sleep(self.poll_seconds)

    async def start(self) -> None:
        self._ensure_lanes()
        self._poller = asyncio.get_running_loop().create_task(
            self._poll_forever(), name="hub-events-outbox", context=contextvars.Context())

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Finish what is queued (what is not finished stays in the outbox for later)."""
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        try:
            await self.settle(grace_seconds)
        except TimeoutError:
            log.warning("events: %d events not dispatched at shutdown; they stay in the outbox", self._in_flight)
        tasks = [*self._workers, *filter(None, [self._deleter])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._workers, self._deleter = [], None
        self._loop = None


def install(app: Any, hub: Any) -> None:
    """Dispatch while the server runs; events emitted during a request in a bare tortoise
    transaction are confirmed when the request ends."""
    hub.bus.outbox.app = app

    @app.while_serving
    async def _outbox_lifespan():
        await hub.bus.outbox.start()
        yield
        await hub.bus.outbox.stop()
