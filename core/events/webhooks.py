"""Outbound signed webhooks (seed 002 "Webhooks", seed 004 "Webhooks").

An organization's admins register endpoints (`/api/v1/webhooks`, core/routes/webhooks.py).
Every emitted event of that organization whose type matches a webhook's `events` (exact,
"*", or a prefix pattern such as "lead.*") becomes a `WebhookDelivery` row, and a job
POSTs it:

    body       {"event": "lead.created", "data": {...}, "timestamp": "...Z", "id": "<event id>"}
    headers    Content-Type: application/json
               X-Signature: sha256=<hex HMAC-SHA256(secret, the exact body bytes)>
               X-Hub-Event: lead.created      X-Hub-Delivery: <delivery id>
               X-Hub-Attempt: <n>

which is what seed 004's `verifyWebhook(payload, signature, secret)` checks. Receivers
should compare in constant time and may drop repeats by the body's `id` (the event id,
kept on redeliveries). The body carries no signature field: a signature cannot sign itself.

A 2xx answer is success; anything else (a redirect included, or a network error, a
timeout, an address refused by the SSRF guard) is a failed attempt, retried after
`backoff_base_seconds * 2**(n-1)` (capped at `backoff_max_seconds`, plus up to 20%
jitter) until `max_attempts`; a 410 Gone stops at once. Every attempt is recorded on the
delivery (status code, truncated body, error, duration).

Each attempt runs as a job (`webhooks.deliver`, payload {"delivery_id", "attempt"}), the
next attempt enqueued with a delay, so the back-off is this module's and each attempt is
sent at most once even if a job runs twice (the attempt is claimed by a conditional
UPDATE). Without a job runtime on the Hub the same `deliver()` runs on asyncio tasks
(and deliveries left pending are resumed at start).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from core.events import ssrf
from core.events.models import Webhook, WebhookDelivery
from core.tenancy.invalidation import RESET
from core.kernel.jsonable import jsonable

log = logging.getLogger("hub.webhooks")

JOB_TYPE = "webhooks.deliver"
TEST_EVENT = "webhook.test"
SECRET_PREFIX = "whsec_"
USER_AGENT = "TheHub-Webhooks/1"
EVENT_PATTERN = re.compile(r"^(\*|[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?)$")
# An attempt that started this long ago without being recorded died with its process:
# a re-sent job may take it over.
LEASE_GRACE_SECONDS = 30
MAX_RESPONSE_BYTES = 65_536  # read at most this much of a receiver's answer



# -- matching, payloads, signatures -------------------------------------------------------


def event_matches(patterns: list[str], event_type: str) -> bool:
    for pattern in patterns or ():
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def valid_event_pattern(pattern: str) -> bool:
    return len(pattern) <= 100 and bool(EVENT_PATTERN.match(pattern))


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hint(secret: str) -> str:
    """Enough to tell secrets apart, useless to forge a signature."""
    return f"{secret[:len(SECRET_PREFIX) + 2]}...{secret[-2:]}" if len(secret) > 12 else "..."


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: seed 004's expected signature for this exact body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (seed 004), in constant time."""
    return hmac.compare_digest(sign(secret, body), signature or "")


def make_payload(event_type: str, data: Any, timestamp: str, event_id: str) -> dict[str, Any]:
    return {"event": event_type, "data": jsonable(data), "timestamp": timestamp, "id": event_id}


def body_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): the seed's key order, compact, UTF-8."""
    ordered = {key: payload[key] for key in ("event", "data", "timestamp", "id") if key in payload}
    ordered.update({k: v for k, v in payload.items() if k not in ordered})
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode()


def backoff_seconds(settings: Any, attempt: int) -> float:
    """The wait after failed attempt `attempt` (1-based): base * 2**(attempt-1), capped,
    plus up to 20% jitter (so deliveries failed by one outage do not all retry at once)."""
    delay = min(settings.backoff_base_seconds * 2 ** (attempt - 1), settings.backoff_max_seconds)
    return delay * (1 + 0.2 * random.random())


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- the event sink -----------------------------------------------------------------------


def install(app, hub) -> None:
    """Send the organization's events to its webhooks (after the plugins' handlers)."""
    hub.extensions["webhook_tasks"] = set()

    async def webhook_sink(event) -> None:
        await dispatch_event(hub, event)

    hub.event_sinks.append(webhook_sink)

    @app.while_serving
    async def _webhook_lifespan():
        # while_serving runs after every before_serving (the database is open) and ends
        # before the after_serving ones (it is still open).
        if not _jobs_available(hub):
            try:
                await resume_pending(hub)
            except Exception:
                log.exception("could not resume pending webhook deliveries")
        yield
        tasks = hub.extensions.get("webhook_tasks") or set()
        for task in list(tasks):
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def register_jobs(register) -> None:
    # Failed HTTP attempts are not job failures (the next attempt is a new, delayed job);
    # the job's own retries only cover errors such as a database outage.
    register(JOB_TYPE, delivery_job, max_attempts=5, timeout_seconds=400)


def _is_delivery_job_event(event) -> bool:
    """Events about webhook-delivery jobs themselves (job progress, completion) are never
    sent to webhooks: a "*" webhook would otherwise feed on its own deliveries forever."""
    data = event.data if isinstance(event.data, dict) else {}
    return str(event.type).startswith("job.") and data.get("job_type") == JOB_TYPE


@dataclass(frozen=True)
class Subscription:
    webhook_id: uuid.UUID
    events: tuple[str, ...]


class Subscriptions:
    """The active webhooks of each organization, cached per process (every event asks): a
    change through the API is announced on the invalidation path, which every process hears."""

    def __init__(self, hub: Any, ttl_seconds: float = 60.0) -> None:
        self.hub = hub
        self.ttl = ttl_seconds
        self._cache: dict[str, tuple[float, list[Subscription]]] = {}
        if hub.invalidations is not None:
            hub.invalidations.on("webhooks", lambda org_id: self._cache.pop(org_id, None))
            hub.invalidations.on(RESET, lambda _: self._cache.clear())

    async def of(self, org_id: uuid.UUID) -> list[Subscription]:
        key = str(org_id)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        generation = self.hub.invalidations.generation if self.hub.invalidations is not None else 0
        rows = await Webhook.filter(org_id=org_id, is_active=True).values_list("id", "events")
        found = [Subscription(webhook_id, tuple(events or ())) for webhook_id, events in rows]
        if self.hub.invalidations is None or self.hub.invalidations.generation == generation:
            if len(self._cache) >= 10_000:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + self.ttl, found)
        return found


def subscriptions(hub: Any) -> Subscriptions:
    found = hub.extensions.get("webhook_subscriptions")
    if found is None:
        found = hub.extensions["webhook_subscriptions"] = Subscriptions(hub)
    return found


async def subscriptions_changed(hub: Any, org_id: Any) -> None:
    """An organization's webhooks changed: every process reads them again."""
    if hub.invalidations is not None:
        await hub.invalidations.publish("webhooks", org_id)
    else:
        subscriptions(hub)._cache.pop(str(org_id), None)


async def dispatch_event(hub, event) -> list[WebhookDelivery]:
    """One delivery per active, matching webhook of the event's organization, once per event
    id (an event dispatched again after its process died gets no second delivery)."""
    if _is_delivery_job_event(event):
        return []
    try:
        org_id = uuid.UUID(str(event.org_id))
    except ValueError:
        return []
    hooks = [s for s in await subscriptions(hub).of(org_id) if event_matches(list(s.events), event.type)]
    if not hooks:
        return []
    event_id = str(event.id)[:64]
    existing = await WebhookDelivery.filter(
        webhook_id__in=[s.webhook_id for s in hooks], event_id=event_id).values("id", "webhook_id", "status", "job_id",
                                                                                "attempts")
    done = {row["webhook_id"] for row in existing}
    deliveries = []
    if _jobs_available(hub):
        # A process killed between recording a delivery and enqueueing its job left it pending with
        # no job: the event comes back from the outbox, and the delivery is scheduled now (at least
        # once: if the job did get enqueued, the receiver sees the same event id twice).
        for row in existing:
            if row["status"] == "pending" and row["job_id"] is None and row["attempts"] == 0:
                delivery = await WebhookDelivery.get(id=row["id"])
                await schedule(hub, delivery, attempt=1, delay=0)
                deliveries.append(delivery)
    payload = make_payload(event.type, event.data, event.timestamp, event.id)
    for hook in hooks:
        if hook.webhook_id in done:
            continue
        delivery = await WebhookDelivery.create(
            org_id=org_id, webhook_id=hook.webhook_id, event=event.type[:100], event_id=event_id,
            payload=payload, status="pending",
        )
        await schedule(hub, delivery, attempt=1, delay=0)
        deliveries.append(delivery)
    return deliveries


async def create_delivery(hub, hook: Webhook, event_type: str, data: Any, *, schedule_it: bool = True) -> WebhookDelivery:
    """A delivery outside the event flow (test pings, redeliveries)."""
    event_id = uuid.uuid4().hex
    timestamp = _now().isoformat().replace("+00:00", "Z")
    delivery = await WebhookDelivery.create(
        org_id=hook.org_id, webhook_id=hook.id, event=event_type[:100], event_id=event_id,
        payload=make_payload(event_type, data, timestamp, event_id), status="pending",
    )
    if schedule_it:
        await schedule(hub, delivery, attempt=1, delay=0)
    return delivery


# -- scheduling: jobs when available, else asyncio tasks ----------------------------------


def _jobs_available(hub: Any = None) -> bool:
    """Deliver through core.jobs when its runtime is installed on this Hub."""
    from core.jobs import api as jobs

    if not callable(getattr(jobs, "enqueue", None)):
        return False
    return hub is None or hub.extensions.get("jobs") is not None


async def schedule(hub, delivery: WebhookDelivery, attempt: int, delay: float) -> None:
    """Run attempt `attempt` of the delivery in `delay` seconds: as a `webhooks.deliver`
    job, or (no job system, or it refused the job) on an asyncio task of this process."""
    if _jobs_available(hub):
        from core.jobs import api as jobs

        try:
            job = await jobs.enqueue(
                delivery.org_id, JOB_TYPE, {"delivery_id": str(delivery.id), "attempt": attempt},
                delay_seconds=delay if delay > 0 else None, hub=hub,
            )
        except Exception:
            log.exception("could not enqueue webhook delivery %s; delivering in process", delivery.id)
        else:
            job_id = getattr(job, "id", None)
            if job_id is not None:
                await WebhookDelivery.filter(id=delivery.id).update(job_id=job_id)
            return
    _start_task(hub, delivery.id, attempt, delay)


def _start_task(hub, delivery_id: Any, attempt: int, delay: float) -> None:
    async def run() -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            await deliver(delivery_id, attempt, hub=hub)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook delivery %s attempt %s failed unexpectedly", delivery_id, attempt)

    tasks = hub.extensions.setdefault("webhook_tasks", set())
    task = asyncio.get_running_loop().create_task(run(), name=f"webhook-{delivery_id}-{attempt}")
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def resume_pending(hub) -> int:
    """Re-schedule deliveries left pending by a stopped process (asyncio mode only; with
    jobs, the job system re-sends unfinished jobs)."""
    count = 0
    for delivery in await WebhookDelivery.filter(status="pending").order_by("created_at").limit(10_000):
        wait = 0.0
        if delivery.next_attempt_at is not None:
            wait = max(0.0, (delivery.next_attempt_at - _now()).total_seconds())
        has_record = len(delivery.attempt_log or []) >= delivery.attempts
        attempt = delivery.attempts + 1 if has_record else max(delivery.attempts, 1)
        _start_task(hub, delivery.id, attempt, wait)
        count += 1
    return count


async def delivery_job(ctx, payload: dict[str, Any]) -> dict[str, Any]:
    """The `webhooks.deliver` job: one attempt; the next one is enqueued with its delay."""
    hub = getattr(ctx, "hub", None)
    delivered = await deliver(
        payload["delivery_id"], payload.get("attempt"), hub=hub, org_id=getattr(ctx, "org_id", None)
    )
    return {"delivered": delivered, "delivery_id": payload["delivery_id"], "attempt": payload.get("attempt")}


def _resolve_hub(hub):
    if hub is not None:
        return hub
    from core.kernel.hub import current_hub

    return current_hub()  # RuntimeError outside an app context: pass hub=


# -- one attempt --------------------------------------------------------------------------


async def _claim(delivery_id: uuid.UUID, attempt: int, lease_until: datetime) -> tuple[str, datetime | None]:
    """Take attempt `attempt` of the delivery, at most once across processes:
    ("taken", None), ("done", None) if it was made already (or the delivery is over), or
    ("busy", until) if another run holds it (it may take it over after `until`)."""
    if await WebhookDelivery.filter(id=delivery_id, status="pending", attempts=attempt - 1).update(
        attempts=attempt, next_attempt_at=lease_until
    ):
        return "taken", None
    row = await WebhookDelivery.get_or_none(id=delivery_id)
    if row is None or row.status != "pending" or row.attempts != attempt or len(row.attempt_log or []) >= attempt:
        return "done", None
    # Claimed but not recorded: in flight elsewhere, or its process died (lease expired).
    held = row.next_attempt_at
    if held is not None and held > _now():
        return "busy", held
    guard = WebhookDelivery.filter(id=delivery_id, status="pending", attempts=attempt)
    guard = guard.filter(next_attempt_at__isnull=True) if held is None else guard.filter(next_attempt_at=held)
    if await guard.update(next_attempt_at=lease_until):
        return "taken", None
    return "busy", lease_until


async def deliver(delivery_id: Any, attempt: int | None = None, *, hub=None, org_id: Any = None,
                  retry: bool = True) -> bool:
    """Make attempt `attempt` (default: the next one) of a delivery, record it, and when it
    failed schedule the next attempt with back-off (unless `retry` is False or attempts are
    used up). True when the delivery has succeeded."""
    hub = _resolve_hub(hub)
    settings = hub.settings.webhooks
    try:
        delivery_id = uuid.UUID(str(delivery_id))
    except ValueError:
        return False
    delivery = await WebhookDelivery.get_or_none(id=delivery_id)
    if delivery is None:
        return False  # deleted with its webhook
    if org_id is not None and str(delivery.org_id) != str(org_id):
        log.error("webhook delivery %s belongs to another organization than its job", delivery_id)
        return False
    if delivery.status != "pending":
        return delivery.status == "succeeded"
    attempt = attempt or delivery.attempts + 1
    lease = _now() + timedelta(seconds=settings.timeout_seconds + LEASE_GRACE_SECONDS)
    claim, held_until = await _claim(delivery_id, attempt, lease)
    if claim == "done":
        return False
    if claim == "busy":  # look again once the other run's lease is over
        wait = max(0.0, (held_until - _now()).total_seconds()) + 1.0 if held_until else 1.0
        await schedule(hub, delivery, attempt, wait)
        return False
    hook = await Webhook.get_or_none(id=delivery.webhook_id, org_id=delivery.org_id)
    if hook is None or not hook.is_active:
        reason = "webhook was deleted" if hook is None else "webhook is inactive"
        await _record(delivery_id, attempt, None, None, reason, 0.0, final="failed")
        return False

    body = body_bytes(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Signature": sign(hook.secret, body),
        "X-Hub-Event": delivery.event,
        "X-Hub-Delivery": str(delivery.id),
        "X-Hub-Attempt": str(attempt),
    }
    status_code, text, error, elapsed = await post(hook.url, body, headers, settings)
    succeeded = status_code is not None and 200 <= status_code < 300
    if succeeded:
        await _record(delivery_id, attempt, status_code, text, None, elapsed, final="succeeded")
        return True
    gone = status_code == 410
    last = not retry or gone or attempt >= settings.max_attempts
    if last:
        if gone:
            error = error or "receiver answered 410 Gone: no more attempts"
        await _record(delivery_id, attempt, status_code, text, error, elapsed, final="failed")
        return False
    delay = backoff_seconds(settings, attempt)
    await _record(delivery_id, attempt, status_code, text, error, elapsed, next_at=_now() + timedelta(seconds=delay))
    delivery.attempts = attempt
    await schedule(hub, delivery, attempt + 1, delay)
    return False


async def post(url: str, body: bytes, headers: dict[str, str], settings: Any) -> tuple[int | None, str | None, str | None, float]:
    """POST through the SSRF-guarded client: (status, truncated body, error, ms)."""
    started = time.perf_counter()
    status_code: int | None = None
    text: str | None = None
    error: str | None = None
    try:
        ssrf.parse_url(url)
        async with asyncio.timeout(settings.timeout_seconds):
            async with ssrf.safe_client(settings.allowlist, timeout=settings.timeout_seconds) as client:
                async with client.stream("POST", url, content=body, headers=headers) as response:
                    status_code = response.status_code
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        chunks.append(chunk)
                        size += len(chunk)
                        if size >= MAX_RESPONSE_BYTES:
                            break
                    text = b"".join(chunks).decode("utf-8", "replace")[: settings.max_response_chars]
    except ssrf.UnsafeURL as refused:
        error = f"refused by the SSRF guard: {refused.reason}"
    except (TimeoutError, asyncio.TimeoutError, httpx.TimeoutException):
        error = f"timed out after {settings.timeout_seconds:g} s"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
    if status_code is not None and not 200 <= status_code < 300 and error is None:
        error = f"receiver answered HTTP {status_code}"
    return status_code, text, error, (time.perf_counter() - started) * 1000


async def _record(delivery_id: uuid.UUID, attempt: int, status_code: int | None, text: str | None,
                  error: str | None, elapsed_ms: float, *, final: str | None = None,
                  next_at: datetime | None = None) -> None:
    delivery = await WebhookDelivery.get(id=delivery_id)
    at = _now()
    entry = {
        "attempt": attempt, "at": at.isoformat().replace("+00:00", "Z"), "status_code": status_code,
        "response_body": text, "error": error, "duration_ms": round(elapsed_ms, 1),
    }
    log_entries = [e for e in (delivery.attempt_log or []) if e.get("attempt") != attempt] + [entry]
    delivery.attempt_log = log_entries
    delivery.attempts = max(delivery.attempts, attempt)
    delivery.response_status = status_code
    delivery.response_body = text
    delivery.error = error
    delivery.next_attempt_at = next_at
    if final:
        delivery.status = final
    if final == "succeeded":
        delivery.delivered_at = at
    await delivery.save(update_fields=[
        "attempt_log", "attempts", "response_status", "response_body", "error", "next_attempt_at", "status",
        "delivered_at", "updated_at",
    ])
    if final == "failed":
        log.warning("webhook delivery %s failed after %s attempt(s): %s", delivery_id, attempt, error)
