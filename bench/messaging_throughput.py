"""Messaging: emails per second through the Hub to a local SMTP sink, 1 vs 2 `hub worker`
processes, against aiosmtplib sending the same emails directly.

For each process count, the same run measures
  * hub      N emails queued through the messaging service (`service.queue_email`: the message
             row, its send job in Redis) by this process while `python hub.py worker --processes P`
             sends them (claim the job, read the organization's SMTP integration, decrypt its
             credentials, build the MIME message, one SMTP connection per email, mark it sent,
             the events); the clock runs from the first queue call until the sink has all N and
             every message row is `sent`;
  * direct   the reference: the same N MIME messages sent by `aiosmtplib.send` from this process
             to the same sink, as many at once as the workers have threads in all (P x threads),
             one connection per email as the Hub does.
The ratio hub/direct is what the Hub's queueing and bookkeeping cost on this machine.

    python bench/messaging_throughput.py [--emails 1000] [--threads 8] [--processes 1,2]
        [--database postgres|sqlite] [--redis redis://127.0.0.1:6379/3]

The sink is an `aiosmtpd` server on 127.0.0.1 (in a thread of this process) that counts what
it receives. PostgreSQL: a database of its own (`bench_messaging`, recreated). Prints a table and
writes bench/results/messaging_throughput.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from jobs_throughput import _forget, migrated_env
from reporting import machine, write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results" / "messaging_throughput.json"
SENDER = "bench@example.com"


class Sink:
    """What the SMTP server received, counted per recipient domain (one domain per run)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: dict[str, int] = {}

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        domain = envelope.rcpt_tos[0].rsplit("@", 1)[-1]
        with self.lock:
            self.counts[domain] = self.counts.get(domain, 0) + 1
        return "250 Message accepted"

    def count(self, domain: str) -> int:
        with self.lock:
            return self.counts.get(domain, 0)


def start_sink() -> tuple[Sink, object, int]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    return sink, controller, port


def payload(domain: str, number: int) -> dict:
    return {"to": [f"user{number}@{domain}"], "cc": [], "bcc": [], "from": None, "reply_to": None,
            "subject": f"Bench {number}", "text": "Hello from the bench.\n" * 10,
            "html": "<p>Hello from the bench.</p>" * 10, "attachments": []}


async def wait_for(sink: Sink, domain: str, count: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while sink.count(domain) < count:
        assert time.monotonic() < deadline, f"the sink has {sink.count(domain)} of {count}"
        await asyncio.sleep(0.01)


# -- the reference: aiosmtplib directly -------------------------------------------------------------


async def bench_direct(sink: Sink, port: int, emails: int, concurrency: int) -> dict:
    import aiosmtplib

    from plugins.integrations.messaging.providers import email_message

    domain = f"direct-{uuid.uuid4().hex[:6]}.example.com"
    semaphore = asyncio.Semaphore(concurrency)

    async def one(number: int) -> None:
        async with semaphore:
            message = email_message(payload(domain, number), SENDER)
            await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=30, start_tls=False,
                                  use_tls=False)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(emails)))
    await wait_for(sink, domain, emails)
    elapsed = time.perf_counter() - started
    return {"emails_per_second": round(emails / elapsed, 1), "seconds": round(elapsed, 3),
            "concurrency": concurrency}


# -- the Hub ----------------------------------------------------------------------------------------


async def connect_smtp(hub, org_id: str, port: int) -> None:
    from core.builtin import integrations

    integration = await integrations.find(hub, org_id, "smtp")
    await integrations.connect(hub, org_id, integration, {},
                               {"host": "127.0.0.1", "port": port, "security": "none", "fromAddress": SENDER})


async def bench_hub(args, env: dict, hub, sink: Sink, port: int, processes: int) -> dict:
    import redis

    from plugins.integrations.messaging import service
    from plugins.integrations.messaging.models import Message
    from plugins.integrations.messaging.schemas import EmailRequest

    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "hub.py"), "worker", "--processes", str(processes), "--threads", str(args.threads)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True)
    client = redis.Redis.from_url(args.redis)
    namespace = env["HUB_JOBS__NAMESPACE"]
    org_id = str(uuid.uuid4())
    await connect_smtp(hub, org_id, port)

    async def queue(domain: str, count: int) -> None:
        semaphore = asyncio.Semaphore(args.concurrency)

        async def one(number: int) -> None:
            async with semaphore:
                body = payload(domain, number)
                await service.queue_email(hub, org_id, None, EmailRequest(
                    to=body["to"], subject=body["subject"], content={"text": body["text"], "html": body["html"]}))

        await asyncio.gather(*(one(n) for n in range(count)))

    try:
        client.delete(f"{namespace}:__heartbeats__")
        deadline = time.monotonic() + 120
        while client.zcard(f"{namespace}:__heartbeats__") < processes:
            assert worker.poll() is None, "hub worker exited"
            assert time.monotonic() < deadline, "hub worker did not start"
            await asyncio.sleep(0.1)
        warm = f"warm-{uuid.uuid4().hex[:6]}.example.com"  # connections, the workers' first queries
        await queue(warm, 4 * processes)
        await wait_for(sink, warm, 4 * processes)

        domain = f"hub-{uuid.uuid4().hex[:6]}.example.com"
        started = time.perf_counter()
        await queue(domain, args.emails)
        queued = time.perf_counter() - started
        await wait_for(sink, domain, args.emails)
        while await Message.filter(org_id=org_id, status="sent").count() < args.emails + 4 * processes:
            assert time.monotonic() - started < 900, "messages did not all turn sent"
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        failed = await Message.filter(org_id=org_id, status="failed").count()
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.to_thread(worker.wait, 120)
    assert failed == 0, f"{failed} messages failed"
    return {"emails_per_second": round(args.emails / elapsed, 1), "queue_per_second": round(args.emails / queued, 1),
            "seconds": round(elapsed, 3)}


async def run_all(args, env: dict, sink: Sink, port: int) -> list[dict]:
    import redis

    from core.app import create_app

    app = create_app()  # this process queues as a Hub server would (with Redis: it only enqueues)
    await app.startup()
    runs = []
    try:
        async with app.app_context():
            hub = app.extensions["hub"]
            for processes in [int(p) for p in args.processes.split(",")]:
                direct = await bench_direct(sink, port, args.emails, processes * args.threads)
                through = await bench_hub(args, env, hub, sink, port, processes)
                runs.append({"processes": processes, "hub": through, "aiosmtplib_direct": direct,
                             "hub_vs_direct": round(through["emails_per_second"] / direct["emails_per_second"], 3)})
                print(f"{processes} process(es) x {args.threads} threads: hub {through['emails_per_second']:>7.1f} "
                      f"emails/s (queued at {through['queue_per_second']:.0f}/s)   aiosmtplib direct "
                      f"({direct['concurrency']} at once) {direct['emails_per_second']:>7.1f} emails/s   "
                      f"ratio {runs[-1]['hub_vs_direct']}", flush=True)
    finally:
        await app.shutdown()
        _forget(redis.Redis.from_url(args.redis), env["HUB_JOBS__NAMESPACE"])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8, help="jobs at once per worker process")
    parser.add_argument("--prefetch", type=int, default=0, help="0: the Hub's default, 2 x threads")
    parser.add_argument("--concurrency", type=int, default=32, help="queue calls in flight")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3")
    args = parser.parse_args()

    args.prefetch = args.prefetch or 2 * args.threads
    sink, controller, port = start_sink()
    load = os.getloadavg()
    try:
        env = migrated_env(args, f"bench-mail-{uuid.uuid4().hex[:8]}", "messaging",
                           HUB_PLUGINS__MESSAGING__SMTP_ALLOWLIST="127.0.0.1")  # the sink is on the loopback
        runs = asyncio.run(run_all(args, env, sink, port))
    finally:
        controller.stop()
    if len(runs) > 1:
        scale = runs[-1]["hub"]["emails_per_second"] / runs[0]["hub"]["emails_per_second"]
        print(f"hub: {runs[-1]['processes']} vs {runs[0]['processes']} process(es): x{scale:.2f}")
    write_results(RESULTS, {
        "benchmark": "emails per second through the Hub (messaging.send jobs, SMTP) vs aiosmtplib directly",
        "database": args.database, "emails": args.emails, "threads": args.threads, "prefetch": args.prefetch,
        "queue_concurrency": args.concurrency, "machine": machine(load), "runs": runs,
    })


if __name__ == "__main__":
    main()
