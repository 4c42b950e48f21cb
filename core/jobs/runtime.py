"""Background jobs: a database row first, then a dramatiq message.

    job = await core.enqueue(org_id, "crm.import_contacts", {"file": "..."})

Plugins declare job types through the `hub_jobs` hook:

    def hub_jobs(register):
        register("crm.import_contacts", import_contacts, max_attempts=3, timeout_seconds=600)

    async def import_contacts(ctx: JobContext, payload: dict) -> dict | None:
        for i, row in enumerate(rows):
            if ctx.cancelled:          # DELETE /api/v1/jobs/<id> was called
                break
            ...
            await ctx.progress(100 * i // len(rows), f"{i} rows")
        return {"imported": i}        # stored as the job's result (output_data)

How it runs
-----------
* Every job is a `core.models.Job` row (status pending/running/completed/failed/cancelled/
  timeout, progress, payload, result, error, attempts, timestamps) written before anything
  is sent. The dramatiq message carries only the row's id; one generic actor
  (`hub_run_job`) loads the row and dispatches on its type.
* With `redis_url` set the broker is dramatiq's RedisBroker and `hub worker` processes run
  the jobs (the HTTP servers only enqueue, unless `[jobs] run_in_server = true`). Without
  Redis a StubBroker and an in-process dramatiq Worker run them inside `hub serve`.
* Job functions are `async def` and use the database, so they run on the asyncio loop that
  owns the tortoise connections: the server's loop in process, the worker process's main
  loop under `hub worker`. dramatiq's worker threads hand each message to that loop (what
  dramatiq's AsyncIO middleware does, but on the loop that owns the connections instead of
  a second one). Blocking or CPU-heavy work belongs in `asyncio.to_thread`.
* A worker takes a job with one conditional UPDATE (pending -> running, attempts + 1), so a
  message delivered twice runs the job once. While it runs, the worker refreshes the row's
  `heartbeat_at`; a running job whose heartbeat is older than `stale_after_seconds` (its
  worker was killed or lost) goes back to pending and is re-sent, and whatever the old
  worker still writes is ignored (every write is conditional on `worker` = itself). The
  caller sees one outcome and one result; the function itself may run more than once
  (at-least-once execution), so it should be idempotent.
* On PostgreSQL the job's statements are few and shared (core/jobs/sql.py): the inserts, claims
  and finishes that wait while the previous one runs go as one statement each, and a claim
  writes the job.started event's outbox row, a finish the job.completed (failed, ...) one, in
  the same statement as the job's row, so the event exists exactly when the change does. A
  lone job waits for no timer: batches form only while a statement is already running.
* A failing attempt is retried with exponential back-off and jitter until `max_attempts`;
  `raise JobFailed("...")` fails at once. A timed-out attempt is retried the same way and
  the job ends as `timeout`. `cancel()` (DELETE) cancels a pending job at once and asks a
  running one to stop (`ctx.cancelled`); a job that ignores it for `cancel_grace_seconds`
  is cancelled by force (CancelledError at its next await).
* Unfinished jobs are re-sent when a process starts (in process: all pending jobs, since the
  in-memory queue died with the last process; with Redis, the queue survives and rows the
  broker never got are re-sent once `resend_pending_after_seconds` overdue), and a sweep
  every `heartbeat_seconds` does the same for stale running jobs.
* Priorities (1-10, default 5; `enqueue(..., priority=9)`) are real in both modes: a job's
  messages go to the queue of its band (`<queue>.high` for 8-10, `<queue>` for 4-7,
  `<queue>.low` for 1-3), each with its own actor (`hub_run_job_high`, `hub_run_job`,
  `hub_run_job_low`). One dramatiq Worker consumes the three queues at once, each queue
  prefetching at most `prefetch` messages, and its threads take the next message from one
  work queue ordered by the actor's priority: a priority-9 job enqueued behind 1,000
  priority-1 jobs waits only for the few low ones already prefetched (RedisBroker ignores
  a message's own priority, hence the queues). Within a band, jobs run in FIFO order.
* Events (`hub.emit`, so plugins, WebSockets and webhooks see them): job.started,
  job.progressed, job.retry_scheduled, job.completed, job.failed, job.timed_out, job.cancelled,
  job.cancel_requested; data = {"id", "job_id", "job_type", "status", "progress",
  "attempt", ...}.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import math
import os
import re
import socket
import time
import uuid
from datetime import timedelta
from typing import Any, Awaitable, Callable

import dramatiq
from dramatiq.brokers.stub import StubBroker
from tortoise.expressions import F, Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from core.jobs.api import (
    _ACTIVE,
    FINISHED_STATUSES,
    JobCancelled,
    JobContext,
    JobFailed,
    JobType,
    backoff_delay,
)
from core.jobs.models import Job
from core.jobs.sql import JobSQL
from core.jobs.stats import JobStats, flush, totals
from core.kernel import transactions
from core.kernel.batching import Coalescer
from core.kernel.times import iso, utcnow
from core.tenancy.models import Organization

log = logging.getLogger("hub.jobs")

ACTOR_NAME = "hub_run_job"
JOB_TYPE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")
MAX_DELAY_SECONDS = 7 * 86400 - 60  # dramatiq's limit for a delayed message
MAX_ATTEMPTS = 100
# The longest an idle dramatiq consumer sleeps between polls of Redis (its back-off grows to it),
# so what a job enqueued to an idle worker waits: at 500 ms a lone job took ~200 ms (median) to
# start; at 100, ~50 ms, for some 40 cheap polls a second per process (three band queues).
WORKER_POLL_MS = 100
# A message whose row is not visible yet (enqueued inside a transaction that has not
# committed) is tried again for this long before it is dropped (the sweep re-sends the row).
MISSING_ROW_GRACE_SECONDS = 30.0
SWEEP_BATCH = 500
RETENTION_SWEEP_SECONDS = 3600.0
ERROR_CHARS = 4000
MIN_PRIORITY, MAX_PRIORITY, DEFAULT_PRIORITY = 1, 10, 5
# band -> (actor name, queue suffix, dramatiq actor priority: lower runs first)
BANDS = {"high": ("hub_run_job_high", ".high", 0), "default": (ACTOR_NAME, "", 10),
         "low": ("hub_run_job_low", ".low", 20)}
BAND_PRIORITY = {"high": 9, "default": DEFAULT_PRIORITY, "low": 2}  # a priority in each band
FINISHED_EVENTS = {"completed": "job.completed", "failed": "job.failed", "cancelled": "job.cancelled",
                   "timeout": "job.timed_out"}
FINISHED_EVENT_TYPES = frozenset(FINISHED_EVENTS.values())


def band_of(priority: int | None) -> str:
    """The queue band of a job priority: 8-10 high, 4-7 default, 1-3 low."""
    priority = DEFAULT_PRIORITY if priority is None else priority
    return "high" if priority >= 8 else "low" if priority <= 3 else "default"


def queue_names(base: str) -> dict[str, str]:
    return {band: base + suffix for band, (_, suffix, _) in BANDS.items()}


# -- the runtime ---------------------------------------------------------------------------------


class JobRuntime:
    """One per Hub app: the job-type registry, the broker, and (when this process runs jobs)
    the dramatiq Worker, the heartbeat and the recovery sweep."""

    def __init__(self, app: Any, hub: Any) -> None:
        self.app = app
        self.hub = hub
        self.types: dict[str, JobType] = {}
        self.broker: dramatiq.Broker | None = None
        self.actor: dramatiq.Actor | None = None  # the default band's
        self.actors: dict[str, dramatiq.Actor] = {}  # band -> actor
        self.worker: dramatiq.Worker | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        # None: settings decide ([jobs] run_in_server); `hub worker` sets True.
        self.consume: bool | None = None
        self.threads: int | None = None
        self.worker_id = f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.running: dict[str, JobContext] = {}
        self.stats = JobStats()
        self.sql = JobSQL()
        # PostgreSQL: the inserts, claims and finishes waiting while the previous one runs share
        # one statement (core/jobs/sql.py).
        self._inserts = Coalescer(self._insert_batch)
        self._claims = Coalescer(self._claim_batch)
        self._finishes = Coalescer(self._finish_batch)
        self.stopping = False
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None
        self._heartbeat: asyncio.Task | None = None

    @property
    def settings(self):
        return self.hub.settings.jobs

    @property
    def consuming(self) -> bool:
        return self.worker is not None

    # -- registry --

    def registrar(self, plugin: str) -> Callable[..., None]:
        """The `register` callback of the hub_jobs hook, stamped with the plugin's name."""

        def register(
            name: str,
            func: Callable[..., Awaitable[Any]],
            max_attempts: int = 3,
            timeout_seconds: float | None = None,
            concurrency_per_org: int | None = None,
            start_permission: str | None = None,
        ) -> None:
            if not isinstance(name, str) or not JOB_TYPE_NAME.match(name):
                raise ValueError(f"job type name {name!r} must match {JOB_TYPE_NAME.pattern}")
            if name in self.types:
                raise ValueError(f"job type {name!r} is already registered by plugin {self.types[name].plugin!r}")
            if not inspect.iscoroutinefunction(func):
                raise TypeError(f"job type {name!r}: func must be an `async def` function")
            if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or not 1 <= max_attempts <= MAX_ATTEMPTS:
                raise ValueError(f"job type {name!r}: max_attempts must be an integer from 1 to {MAX_ATTEMPTS}")
            if timeout_seconds is not None and not (isinstance(timeout_seconds, (int, float)) and timeout_seconds > 0):
                raise ValueError(f"job type {name!r}: timeout_seconds must be a positive number or None")
            if concurrency_per_org is not None and (isinstance(concurrency_per_org, bool) or not isinstance(
                    concurrency_per_org, int) or concurrency_per_org < 1):
                raise ValueError(f"job type {name!r}: concurrency_per_org must be a positive integer or None")
            if start_permission is not None and start_permission not in self.hub.permissions.permissions:
                raise ValueError(f"job type {name!r}: start_permission {start_permission!r} is not a registered permission")
            self.types[name] = JobType(name, func, plugin, max_attempts, timeout_seconds, concurrency_per_org,
                                       start_permission)

        return register

    def collect(self) -> None:
        self.registrar("core")("core.echo", _echo_job, max_attempts=1, start_permission="jobs.manage")
        self.hub.collect("hub_jobs", self.registrar)

    # -- lifecycle --

    async def start(self) -> None:
        settings = self.settings
        self.stopping = False
        self.loop = asyncio.get_running_loop()
        redis_url = self.hub.settings.redis_url
        if redis_url:
            from dramatiq.brokers.redis import RedisBroker

            self.broker = RedisBroker(url=redis_url, namespace=settings.namespace, middleware=[])
        else:
            self.broker = StubBroker(middleware=[])
        queues = queue_names(settings.queue)
        self.actors = {
            band: dramatiq.Actor(self._actor_for(band), broker=self.broker, actor_name=name, queue_name=queues[band],
                                 priority=dramatiq_priority, options={})
            for band, (name, _, dramatiq_priority) in BANDS.items()
        }
        self.actor = self.actors["default"]
        consume = self.consume
        if consume is None:
            consume = settings.run_in_server if settings.run_in_server is not None else not redis_url
        if consume:
            self.start_worker(self.threads)
        elif redis_url:
            log.info("jobs: this process only enqueues; `hub worker` processes run the jobs")
        self._sweeper = asyncio.ensure_future(self._sweep_forever())
        _ACTIVE.append(self)

    def start_worker(self, threads: int | None = None) -> None:
        """Run jobs in this process too (a dramatiq Worker whose threads hand each job to
        this loop). Started by `start()` when this process consumes; idempotent."""
        if self.worker is not None:
            return
        if self.broker is None or self.loop is None:
            raise RuntimeError("start the runtime (serve the app) before its worker")
        threads = threads or self.settings.worker_threads
        self.worker = dramatiq.Worker(
            self.broker, queues=set(queue_names(self.settings.queue).values()), worker_threads=threads,
            worker_timeout=WORKER_POLL_MS
        )
        self.worker.queue_prefetch = self.settings.prefetch or 2 * threads
        self.worker.start()
        self._heartbeat = asyncio.ensure_future(self._heartbeat_forever())
        log.info("jobs: worker %s runs up to %d jobs at once (%s)", self.worker_id, threads,
                 "redis" if self.hub.settings.redis_url else "in process")

    async def stop(self) -> None:
        """Stop taking jobs; let running ones finish for `shutdown_grace_seconds`, then put
        the rest back to pending (re-sent for other workers) without counting the attempt."""
        self.stopping = True
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        background = [task for task in (self._sweeper, self._heartbeat) if task is not None]
        if self.worker is not None and self.hub.redis is not None:
            try:
                await self.hub.redis.zrem(self.workers_key, self.worker_id)
            except Exception:
                log.debug("jobs: could not withdraw this worker from Redis", exc_info=True)
        if self._sweeper is not None:
            self._sweeper.cancel()  # the sweep first; heartbeats go on while jobs finish
        self._sweeper = self._heartbeat = None
        if self.worker is not None:
            worker, self.worker = self.worker, None
            stopper = asyncio.ensure_future(asyncio.to_thread(worker.stop, 60_000))
            tasks = set(self._tasks)
            if tasks:
                _, late = await asyncio.wait(tasks, timeout=self.settings.shutdown_grace_seconds)
                for task in late:
                    task.cancel()
                if late:
                    await asyncio.wait(late, timeout=10)
            try:
                await asyncio.wait_for(stopper, timeout=30)
            except Exception:
                log.exception("jobs: the dramatiq worker did not stop cleanly")
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if self.hub.redis is not None:
            try:
                await flush(self.stats, self.hub.redis, self.metrics_key)
            except Exception:
                log.debug("jobs: could not add job metrics to Redis", exc_info=True)
        if self.broker is not None:
            try:
                self.broker.close()
            except Exception:
                log.debug("jobs: closing the broker failed", exc_info=True)

    # -- sending --

    async def enqueue(
        self,
        org_id: Any,
        job_type: str,
        payload: dict | None = None,
        *,
        user_id: Any = None,
        max_attempts: int | None = None,
        delay_seconds: float | None = None,
        timeout_seconds: float | None = None,
        priority: int | None = None,
    ) -> Job:
        kind = self.types.get(job_type)
        if kind is None:
            raise ValueError(f"unknown job type {job_type!r}; known: {', '.join(sorted(self.types)) or 'none'}")
        payload = {} if payload is None else payload
        if not isinstance(payload, dict):
            raise TypeError("a job payload must be a dict (a JSON object)")
        payload = json.loads(json.dumps(payload, allow_nan=False))  # TypeError/ValueError now, not in the worker
        if max_attempts is not None and (isinstance(max_attempts, bool) or not 1 <= int(max_attempts) <= MAX_ATTEMPTS):
            raise ValueError(f"max_attempts must be from 1 to {MAX_ATTEMPTS}")
        if delay_seconds is not None and not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"delay_seconds must be from 0 to {MAX_DELAY_SECONDS}")
        if timeout_seconds is not None and not timeout_seconds > 0:
            raise ValueError("timeout_seconds must be positive")
        if priority is None:
            priority = DEFAULT_PRIORITY
        if isinstance(priority, bool) or not isinstance(priority, int) or not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise ValueError(f"priority must be an integer from {MIN_PRIORITY} to {MAX_PRIORITY}")
        now = utcnow()
        run_after = now + timedelta(seconds=delay_seconds) if delay_seconds else None
        row = dict(
            org_id=org_id, type=job_type, payload=payload, user_id=user_id,
            max_attempts=int(max_attempts or kind.max_attempts),
            timeout_seconds=math.ceil(timeout_seconds) if timeout_seconds else None,
            run_after=run_after, heartbeat_at=run_after or now,  # for a pending job: when it is due
            priority=priority,
        )
        if self.sql.fast and not transactions.in_any_transaction():
            # A malformed id fails its own caller here, not everyone's batch.
            row.update(org_id=uuid.UUID(str(org_id)), user_id=None if user_id is None else uuid.UUID(str(user_id)))
            return await self._inserts.submit((row, delay_seconds))
        job = await self.sql.create(**row)
        await self.send(job.id, delay_seconds, priority=priority, org_id=org_id, job_type=job_type)
        return job

    async def _insert_batch(self, items: list[tuple[dict, float | None]]) -> list[Job]:
        jobs = await self.sql.create_many([row for row, _ in items])
        await self.send_many([(job.id, delay, None, job.priority, job.org_id, job.type)
                              for job, (_, delay) in zip(jobs, items)])
        return jobs

    async def send(self, job_id: Any, delay_seconds: float | None = None, sent_at: int | None = None,
                   priority: int | None = None, org_id: Any = None, job_type: str | None = None) -> bool:
        """Send the message that makes a worker run this job row (idempotent: a duplicate
        message finds the job taken and does nothing), on the queue of its priority's band."""
        return (await self.send_many([(job_id, delay_seconds, sent_at, priority, org_id, job_type)]))[0]

    async def send_many(self, sends: list[tuple[Any, float | None, int | None, int | None, Any, str | None]]) -> list[bool]:
        """`send` for each `(job_id, delay_seconds, sent_at, priority, org_id, job_type)`, with
        one hand-over to a thread for all of them (RedisBroker's client blocks)."""
        broker = self.broker
        if broker is None or self.loop is None:
            return [False] * len(sends)  # not serving: the rows stay pending and are re-sent at start
        messages = []
        for job_id, delay_seconds, sent_at, priority, org_id, job_type in sends:
            # The row's id is what counts; the organization and type let a worker claim it in one
            # statement (a message without them, or with stale ones, is checked against the row).
            args = (str(job_id), sent_at or int(time.time() * 1000))
            if org_id is not None and job_type is not None:
                args += (str(org_id), job_type)
            delay = int(delay_seconds * 1000) if delay_seconds and delay_seconds > 0 else None
            messages.append((job_id, self.actors[band_of(priority)].message(*args), delay))
        if isinstance(broker, StubBroker):
            return self._enqueue_messages(broker, messages)
        return await asyncio.to_thread(self._enqueue_messages, broker, messages)

    @staticmethod
    def _enqueue_messages(broker: dramatiq.Broker, messages: list[tuple[Any, dramatiq.Message, int | None]]) -> list[bool]:
        sent = []
        for job_id, message, delay in messages:
            try:
                broker.enqueue(message, delay=delay)
                sent.append(True)
            except Exception as error:
                log.warning("jobs: could not send job %s to the broker (%s); it stays pending and will be re-sent",
                            job_id, error)
                sent.append(False)
        return sent

    # -- running --

    def _actor_for(self, band: str) -> Callable[..., None]:
        def run(job_id: str, sent_at: int | None = None, org_id: str | None = None, job_type: str | None = None) -> None:
            self._actor(job_id, sent_at, band, org_id, job_type)

        run.__name__ = run.__qualname__ = BANDS[band][0]
        return run

    def _actor(self, job_id: str, sent_at: int | None = None, band: str = "default", org_id: str | None = None,
               job_type: str | None = None) -> None:
        """The dramatiq actor (a worker thread): run the job on the runtime's loop and wait.
        It never raises: the row, not dramatiq, decides about retries."""
        loop = self.loop
        if loop is None or loop.is_closed():
            log.warning("jobs: message for job %s arrived without a running loop; left to the sweep", job_id)
            return
        try:
            asyncio.run_coroutine_threadsafe(self.execute(job_id, sent_at, band, org_id, job_type), loop).result()
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            pass
        except BaseException:
            log.exception("jobs: running job %s failed in the runtime", job_id)

    async def execute(self, job_id: Any, sent_at: int | None = None, band: str = "default", org_id: Any = None,
                      job_type: str | None = None) -> None:
        """What a delivered message does: take the job if it is still pending, run it, and
        record the outcome. Safe to call for any id, any number of times."""
        job_id = str(job_id)
        task = asyncio.current_task()
        self._tasks.add(task)
        try:
            async with self.app.app_context():
                await self._run(job_id, sent_at, band, org_id, job_type)
        finally:
            self._tasks.discard(task)

    async def _run(self, job_id: str, sent_at: int | None, band: str = "default", org_id: Any = None,
                   job_type: str | None = None) -> None:
        if self.stopping:  # for another worker, or the next start (same band)
            await self.send(job_id, sent_at=sent_at, priority=BAND_PRIORITY[band], org_id=org_id, job_type=job_type)
            return
        try:
            uuid.UUID(str(job_id))
        except ValueError:
            log.warning("jobs: dropping a message with a malformed job id %r", job_id)
            return
        kind = self.types.get(job_type) if job_type else None
        if kind is not None and org_id and self.sql.fast:
            # The message says whose job of which type it is: with no concurrency limit to
            # check, one UPDATE ... RETURNING claims and reads the row. Anything else
            # (a duplicate, a cancelled job, a row not committed yet) takes the path below.
            if await self.concurrency_limit(org_id, kind) is None:
                job = await self._claims.submit(job_id)
                if job is not None:
                    await self._execute_claimed(job, kind, started=True)
                    return
        job = await Job.filter(id=job_id).first()
        if job is None:
            age = time.time() - (sent_at or 0) / 1000
            if sent_at and age < MISSING_ROW_GRACE_SECONDS:
                await self.send(job_id, delay_seconds=1.0, sent_at=sent_at, priority=BAND_PRIORITY[band],
                                org_id=org_id, job_type=job_type)
            else:
                log.warning("jobs: no job row %s (another database's queue, or deleted); message dropped", job_id)
            return
        if job.status != "pending" or job.cancel_requested:
            return  # a duplicate message, or cancelled meanwhile
        now = utcnow()
        if job.run_after is not None and job.run_after > now + timedelta(seconds=1):
            return  # an early duplicate; the delayed message (or the sweep) brings it back
        kind = self.types.get(job.type)
        if kind is None:
            error = f"unknown job type {job.type!r} (is its plugin enabled in the worker processes?)"
            if await Job.filter(id=job.id, status="pending").update(
                status="failed", error=error, finished_at=now, updated_at=now
            ):
                log.error("jobs: job %s: %s", job.id, error)
                await self._emit(await Job.get(id=job.id), "job.failed", error=error)
            return
        claim = dict(status="running", worker=self.worker_id, attempts=F("attempts") + 1, progress=0,
                     started_at=now, heartbeat_at=now, updated_at=now)
        limit = await self.concurrency_limit(job.org_id, kind)
        if limit is None:
            claimed = await Job.filter(id=job.id, status="pending", cancel_requested=False).update(**claim)
        else:
            claimed = await self._claim_within(job, limit, claim)
            if claimed is None:  # the organization runs as many of these as it may: try again later
                await self.send(job.id, delay_seconds=self.settings.heartbeat_seconds, priority=job.priority,
                                org_id=job.org_id, job_type=job.type)
                return
        if not claimed:
            return  # another worker was faster
        job.status, job.worker, job.attempts, job.progress = "running", self.worker_id, job.attempts + 1, 0
        job.started_at = job.heartbeat_at = job.updated_at = now
        await self._execute_claimed(job, kind)

    async def _claim_batch(self, job_ids: list[str]) -> list[Job | None]:
        """Claim these jobs with their job.started events (one statement); a job's row, or None
        where it was not there to take (or is a duplicate in this batch)."""
        outbox = self.hub.bus.outbox
        keys = [str(uuid.UUID(job_id)) for job_id in job_ids]
        staged = {key: outbox.stage() for key in keys}  # distinct ids, in order
        claimed = {str(job.id): job for job in await self.sql.claim_many(list(staged), self.worker_id,
                                                                         list(staged.values()))}
        for key, job in claimed.items():
            self._written(job, "job.started", staged[key], self._data(job))
        return [claimed.pop(key, None) for key in keys]

    async def _finish_batch(self, finishes: list[tuple[Any, dict, Any, Any]]) -> list[bool]:
        done = await self.sql.finish_many(self.worker_id, finishes)
        return [str(job_id) in done for job_id, *_ in finishes]

    async def _execute_claimed(self, job: Job, kind: JobType, started: bool = False) -> None:
        """Run a job this worker took (`started`: its job.started event is written already)."""
        ctx = JobContext(self, job)
        self.running[ctx.job_id] = ctx
        try:
            if not started:
                await self._emit(job, "job.started")
            try:
                outcome = await self._call(job, kind, ctx)
            except asyncio.CancelledError:
                if not self.stopping:
                    raise
                await self._release(job)
                return
            await self._finish(job, ctx, *outcome)
        finally:
            self.running.pop(ctx.job_id, None)

    async def concurrency_limit(self, org_id: Any, kind: JobType) -> int | None:
        """How many jobs of this type the organization may run at once: its plan's
        `concurrent_jobs.<type>` limit, else what the type registered."""
        metering = self.hub.extensions.get("metering")  # the ops layer, found through the Hub
        if metering is not None:
            limits = await metering.limits_for(org_id)
            if kind.concurrency_limit_name in limits:
                return limits[kind.concurrency_limit_name]
        return kind.concurrency_per_org

    async def _claim_within(self, job: Job, limit: int, claim: dict[str, Any]) -> int | None:
        """Claim the job unless `limit` jobs of its type already run for its organization (None).
        The organization's row is locked meanwhile (PostgreSQL), so two workers cannot both take
        the last slot; SQLite writes one transaction at a time anyway."""
        async with in_transaction() as connection:
            await Organization.filter(id=job.org_id).using_db(connection).select_for_update().first()
            running = await Job.filter(org_id=job.org_id, type=job.type, status="running").using_db(connection).count()
            if running >= limit:
                return None
            return await Job.filter(id=job.id, status="pending", cancel_requested=False).using_db(
                connection).update(**claim)

    async def _call(self, job: Job, kind: JobType, ctx: JobContext) -> tuple[str, Any, BaseException | None]:
        """Run the function: ("ok", result, None) | ("cancelled", None, None) |
        ("timeout", None, None) | ("error", None, exception)."""
        timeout = job.timeout_seconds or kind.timeout_seconds or self.settings.default_timeout_seconds
        work = transactions.begin_unit_of_work()  # shared with the job's task, ended when it ends
        inner = asyncio.ensure_future(kind.func(ctx, dict(job.payload or {})))
        ctx._task = inner
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                result = await inner
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if ctx._forced and not (current and current.cancelling()):
                return "cancelled", None, None
            raise
        except TimeoutError as error:
            if scope.expired():
                return "timeout", timeout, None
            return "error", None, error
        except JobCancelled:
            return "cancelled", None, None
        except Exception as error:  # noqa: BLE001 - a job's failure is data
            return "error", None, error
        finally:
            transactions.end_unit_of_work(work)
        return "ok", result, None

    async def _finish(self, job: Job, ctx: JobContext, kind: str, value: Any, error: BaseException | None) -> None:
        now = utcnow()
        fields: dict[str, Any] = {"finished_at": now, "updated_at": now}
        extra: dict[str, Any] = {}
        if kind == "ok":
            try:
                result = None if value is None else json.loads(json.dumps(value, default=str, allow_nan=False))
            except (TypeError, ValueError) as problem:
                kind, error = "error", JobFailed(f"the job returned a value that is not JSON: {problem}")
            else:
                status = "cancelled" if ctx._cancel_reason == "requested" else "completed"
                fields.update(status=status, result=result, error=None)
                if status == "completed":
                    fields["progress"] = 100
        if kind == "cancelled":
            fields.update(status="cancelled", error="cancelled while running")
        if kind in ("error", "timeout"):
            if kind == "timeout":
                message = f"timed out after {value:g} s (attempt {job.attempts} of {job.max_attempts})"
            else:
                message = f"{type(error).__name__}: {error}"[:ERROR_CHARS]
                if not isinstance(error, JobFailed):
                    log.warning("jobs: job %s (%s) attempt %d failed: %s", job.id, job.type, job.attempts, message,
                                exc_info=error)
            retryable = kind == "timeout" or not isinstance(error, JobFailed) or error.retry
            if ctx._cancel_reason == "requested":
                fields.update(status="cancelled", error=message)
            elif retryable and job.attempts < job.max_attempts:
                delay = backoff_delay(job.attempts, self.settings.retry_backoff_seconds,
                                      self.settings.retry_backoff_max_seconds)
                due = now + timedelta(seconds=delay)
                retried = await self.sql.update_running(job.id, self.worker_id, dict(
                    status="pending", worker=None, error=message, run_after=due, heartbeat_at=due, updated_at=now
                ))
                if retried:
                    await self.send(job.id, delay, priority=job.priority, org_id=job.org_id, job_type=job.type)
                    job.status = "pending"
                    await self._emit(job, "job.retry_scheduled", error=message, next_attempt_at=iso(due))
                return
            else:
                fields.update(status="timeout" if kind == "timeout" else "failed", error=message)
                extra["error"] = message
        if not await self._end(job, fields, extra):
            log.info("jobs: job %s was taken over or cancelled meanwhile; this attempt's outcome is dropped", job.id)

    async def _end(self, job: Job, fields: dict[str, Any], extra: dict[str, Any]) -> bool:
        """Write the job's end (`fields`) and its finished event together, if it still runs for
        this worker (False: it does not; nothing written)."""
        event_type = FINISHED_EVENTS[fields["status"]]
        data = self._data(job, status=fields["status"], progress=fields.get("progress", job.progress), **extra)
        if self.sql.fast and not transactions.in_any_transaction():
            staged = self.hub.bus.outbox.stage()
            event = self.hub.bus.event(job.org_id, event_type, data, staged)
            if not await self._finishes.submit((job.id, fields, staged, event)):
                return False
            self.hub.bus.outbox.written(staged, event)
        else:
            async with transactions.transaction():
                if not await self.sql.update_running(job.id, self.worker_id, fields):
                    return False
                await self.hub.emit(job.org_id, event_type, data)
        for name, value in fields.items():
            setattr(job, name, value)
        self._count(job, event_type)
        return True

    async def _release(self, job: Job) -> None:
        """Shutting down: give the job back without counting the attempt, and re-send it."""
        now = utcnow()
        try:
            released = await Job.filter(id=job.id, worker=self.worker_id, status="running").update(
                status="pending", worker=None, attempts=F("attempts") - 1, progress=0, heartbeat_at=now, updated_at=now
            )
            if released:
                log.info("jobs: job %s handed back for another worker (shutting down)", job.id)
                await self.send(job.id, priority=job.priority, org_id=job.org_id, job_type=job.type)
        except Exception:
            log.exception("jobs: could not hand back job %s; the sweep will", job.id)

    # -- heartbeats, cancellation, recovery --

    def _cancel_local(self, job_id: str) -> None:
        ctx = self.running.get(job_id)
        if ctx is not None:
            ctx._request_cancel("requested")

    async def _refresh_cancel(self, ctx: JobContext) -> None:
        row = await Job.filter(id=ctx.job_id).first().values("worker", "status", "cancel_requested")
        if row is None or row["worker"] != self.worker_id or row["status"] != "running":
            ctx._request_cancel("lost")
        elif row["cancel_requested"]:
            ctx._request_cancel("requested")

    async def _heartbeat_forever(self) -> None:
        while True:
            try:
                await self.announce()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("jobs: could not announce this worker in Redis", exc_info=True)
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("jobs: heartbeat failed")

    @property
    def workers_key(self) -> str:
        return f"{self.settings.namespace}:hub-workers"

    async def announce(self) -> None:
        """Record in Redis that this process consumes jobs (a sorted set: worker id -> time of
        its last heartbeat), for `/health` in the servers; nothing without Redis."""
        redis = self.hub.redis
        if redis is None or self.worker is None:
            return
        now = time.time()
        async with redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.workers_key, {self.worker_id: now})
            pipe.zremrangebyscore(self.workers_key, "-inf", now - 10 * self.settings.stale_after_seconds)
            await pipe.execute()

    async def live_workers(self) -> int | None:
        """How many processes consume jobs: with Redis, those whose heartbeat is younger than
        `stale_after_seconds`; without, 1 if this process runs jobs, else 0."""
        redis = self.hub.redis
        if redis is None:
            return 1 if self.consuming else 0
        return await redis.zcount(self.workers_key, time.time() - self.settings.stale_after_seconds, "+inf")

    async def beat(self) -> None:
        """Refresh the heartbeat of this process's running jobs, notice cancel requests and
        lost jobs, and force-cancel jobs that ignored a cancel for `cancel_grace_seconds`."""
        if not self.running:
            return
        contexts = dict(self.running)
        rows = await Job.filter(id__in=list(contexts)).values("id", "worker", "status", "cancel_requested")
        by_id = {str(row["id"]): row for row in rows}
        mine = []
        for job_id, ctx in contexts.items():
            row = by_id.get(job_id)
            if row is None or row["worker"] != self.worker_id or row["status"] != "running":
                ctx._request_cancel("lost")
                continue
            mine.append(job_id)
            if row["cancel_requested"]:
                ctx._request_cancel("requested")
        if mine:
            now = utcnow()
            await Job.filter(id__in=mine, worker=self.worker_id, status="running").update(heartbeat_at=now)
        grace = self.settings.cancel_grace_seconds
        for ctx in contexts.values():
            if ctx._cancel_seen is not None and time.monotonic() - ctx._cancel_seen >= grace:
                ctx._force_cancel()

    @property
    def metrics_key(self) -> str:
        return f"{self.settings.namespace}:hub-job-metrics"

    async def metric_totals(self) -> dict[str, float]:
        """Job counters of every process (see core/jobs/stats.py)."""
        return await totals(self.stats, self.hub.redis, self.metrics_key)

    async def queue_depths(self) -> list[dict[str, Any]]:
        """Unfinished jobs per type and status ("pending"/"running"), all organizations."""
        return await Job.filter(status__in=("pending", "running")).annotate(count=Count("id")).group_by(
            "type", "status").values("type", "status", "count")

    async def _sweep_forever(self) -> None:
        first = True
        last_retention = 0.0
        while True:
            if self.hub.redis is not None:
                try:
                    await flush(self.stats, self.hub.redis, self.metrics_key)
                except Exception:
                    log.debug("jobs: could not add job metrics to Redis", exc_info=True)
            try:
                await self.recover(full=first and self.consuming and not self.hub.settings.redis_url)
                first = False
                if time.monotonic() - last_retention > RETENTION_SWEEP_SECONDS:
                    last_retention = time.monotonic()
                    await self.purge_finished()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("jobs: recovery sweep failed")
            await asyncio.sleep(self.settings.heartbeat_seconds)

    async def recover(self, full: bool = False) -> dict[str, int]:
        """Re-send unfinished jobs: running ones whose heartbeat is stale (their worker died),
        and pending ones overdue by `resend_pending_after_seconds` (all due ones if `full`).
        Each row is taken by one conditional UPDATE, so processes sweeping at once do not
        send it twice."""
        settings = self.settings
        counts = {"stale": 0, "resent": 0, "failed": 0, "cancelled": 0}
        now = utcnow()
        stale_before = now - timedelta(seconds=settings.stale_after_seconds)
        rows = await Job.filter(
            Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True), status="running"
        ).limit(SWEEP_BATCH).values("id", "worker", "attempts", "max_attempts", "cancel_requested", "priority", "type", "org_id")
        for row in rows:
            guard = Job.filter(
                Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True), id=row["id"], status="running",
                worker=row["worker"],
            )
            lost = f"worker {row['worker']} stopped responding during attempt {row['attempts']}"
            if row["cancel_requested"]:
                if await guard.update(status="cancelled", error=lost, finished_at=now, updated_at=now):
                    counts["cancelled"] += 1
                    await self._emit(await Job.get(id=row["id"]), "job.cancelled")
            elif row["attempts"] >= row["max_attempts"]:
                error = f"{lost}, the last of {row['max_attempts']}"
                if await guard.update(status="failed", error=error, finished_at=now, updated_at=now):
                    counts["failed"] += 1
                    await self._emit(await Job.get(id=row["id"]), "job.failed", error=error)
            elif await guard.update(status="pending", worker=None, error=lost, heartbeat_at=now, updated_at=now):
                log.warning("jobs: job %s: %s; re-sending it", row["id"], lost)
                counts["stale"] += 1
                self.stats.retried(row["type"])
                await self.send(row["id"], priority=row["priority"], org_id=row["org_id"], job_type=row["type"])
        due_before = now if full else now - timedelta(seconds=settings.resend_pending_after_seconds)
        while True:
            ids = await Job.filter(
                Q(heartbeat_at__lt=due_before) | Q(heartbeat_at__isnull=True), status="pending",
            ).order_by("-priority", "created_at").limit(SWEEP_BATCH).values_list("id", "priority", "org_id", "type")
            sent = 0
            for job_id, priority, org_id, job_type in ids:
                if await Job.filter(
                    Q(heartbeat_at__lt=due_before) | Q(heartbeat_at__isnull=True), id=job_id, status="pending",
                ).update(heartbeat_at=now):
                    await self.send(job_id, priority=priority, org_id=org_id, job_type=job_type)
                    sent += 1
            counts["resent"] += sent
            if len(ids) < SWEEP_BATCH:
                break
        if counts["resent"] and not full:
            log.warning("jobs: re-sent %d pending job(s) the broker seems to have lost", counts["resent"])
        return counts

    async def purge_finished(self) -> int:
        days = self.settings.retention_days
        if not days:
            return 0
        before = utcnow() - timedelta(days=days)
        return await Job.filter(status__in=FINISHED_STATUSES, finished_at__lt=before).delete()

    # -- events --

    async def _emit(self, job: Job, event_type: str, **extra: Any) -> None:
        self._count(job, event_type)
        await self._send_event(job.org_id, event_type, self._data(job, **extra))

    @staticmethod
    def _data(job: Job, **extra: Any) -> dict[str, Any]:
        """A job event's data (core/jobs/sql.py's claim writes job.started's in SQL: keep them alike)."""
        return {"id": str(job.id), "job_id": str(job.id), "job_type": job.type, "status": job.status,
                "progress": job.progress, "attempt": job.attempts, **extra}

    def _count(self, job: Job, event_type: str) -> None:
        if event_type in FINISHED_EVENT_TYPES:
            seconds = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else None
            self.stats.finished(job.type, job.status, seconds)
        elif event_type == "job.retry_scheduled":
            self.stats.retried(job.type)

    def _written(self, job: Job, event_type: str, staged: Any, data: dict[str, Any]) -> None:
        """Dispatch an event whose outbox row core/jobs/sql.py wrote with the job's change."""
        try:
            self.hub.bus.outbox.written(staged, self.hub.bus.event(job.org_id, event_type, data, staged))
        except Exception:
            log.exception("jobs: emitting %s failed", event_type)

    async def _emit_for(self, ctx: JobContext, event_type: str, status: str, **extra: Any) -> None:
        data = {"id": ctx.job_id, "job_id": ctx.job_id, "job_type": ctx.job_type, "status": status,
                "attempt": ctx.attempt, **extra}
        await self._send_event(ctx.org_id, event_type, data)

    async def _send_event(self, org_id: Any, event_type: str, data: dict) -> None:
        try:
            await self.hub.emit(org_id, event_type, data)
        except Exception:
            log.exception("jobs: emitting %s failed", event_type)


async def _echo_job(ctx: JobContext, payload: dict) -> dict:
    """`core.echo`: returns its payload (checks the job pipeline end to end; the benchmark's job)."""
    return {"echo": payload}


def install(app: Any, hub: Any) -> None:
    """Collect job types (hub_jobs); start and stop the broker and worker with the server."""
    runtime = JobRuntime(app, hub)
    hub.extensions["jobs"] = runtime
    runtime.collect()

    @app.while_serving
    async def _jobs_lifespan():
        # while_serving starts after every before_serving (the database is open) and ends
        # before every after_serving (it is still open).
        await runtime.start()
        yield
        await runtime.stop()
