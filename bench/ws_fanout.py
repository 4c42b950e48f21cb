"""WebSocket fan-out: N connected clients (default 1,000) of one organization, events
emitted through HTTP (the example plugin's POST /api/example/notes, one event each), and
every event delivered to every socket.

Measured per scenario, in one run on this machine:
  - latency: events paced one every --pace-ms; per delivery, the time from the event's
    `timestamp` (set by the server at emit) to its arrival at the client, and from the HTTP
    request's start to arrival; p50/p99 over all deliveries (same host, same clock);
  - throughput: a burst of --burst events sent as fast as --concurrency requests allow;
    deliveries per second from the first request to the last delivery.

Scenarios: a bare Quart + hypercorn broadcast app (the reference: no auth, no database, a
POST that loops over its sockets), the Hub with 1 worker on memory, and the Hub with
2 workers and Redis pub/sub (clients spread over both). Clients run in --client-procs
separate processes; with 2 CPUs the clients and the server compete, so read the Hub/reference
ratio rather than the absolute numbers. Prints a table, writes bench/results/ws_fanout.json.

    .venv/bin/python bench/ws_fanout.py [--clients 1000] [--latency-events 40] [--pace-ms 500] [--burst 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import datetime
from pathlib import Path
from reporting import write_results

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "correct horse battery"

REFERENCE_APP = textwrap.dedent(
    '''
    import asyncio, json
    from datetime import datetime, timezone
    from quart import Quart, request, websocket

    app = Quart("reference")
    sockets = set()

    @app.websocket("/ws")
    async def ws():
        queue = asyncio.Queue()
        sockets.add(queue)
        try:
            await websocket.accept()
            await websocket.send(json.dumps({"type": "connected", "data": {"node": "ref"}}))
            while True:
                await websocket.send(await queue.get())
        finally:
            sockets.discard(queue)

    @app.post("/emit")
    async def emit():
        body = await request.get_json()
        text = json.dumps({"type": "bench", "data": body,
                           "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")})
        for queue in tuple(sockets):
            queue.put_nowait(text)
        return {"sent": len(sockets)}, 201

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok"}
    '''
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < wanted:
        print(f"warning: open-file limit {soft} < {wanted}; raise `ulimit -n`", file=sys.stderr)
    return soft


def parse_ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


# -- client processes ------------------------------------------------------------------------


def client_process(uri: str, headers: dict, count: int, expected: int, conn) -> None:
    raise_fd_limit(count + 256)
    asyncio.run(_client_main(uri, headers, count, expected, conn))


async def _client_main(uri: str, headers: dict, count: int, expected: int, conn) -> None:
    import websockets

    nodes: dict[str, int] = {}
    emit_lat: list[float] = []
    request_lat: list[float] = []
    by_phase: dict[str, int] = {}
    last_arrival = 0.0
    done = asyncio.Event()
    remaining = [count]
    sockets = []
    gate = asyncio.Semaphore(50)

    async def open_one():
        async with gate:
            for attempt in range(20):
                try:
                    ws = await websockets.connect(uri, additional_headers=headers, open_timeout=60,
                                                  max_queue=None, ping_interval=None)
                    hello = json.loads(await ws.recv())
                    if hello.get("type") != "connected":
                        raise RuntimeError(hello)
                    nodes[hello["data"]["node"]] = nodes.get(hello["data"]["node"], 0) + 1
                    return ws
                except Exception:
                    if attempt == 19:
                        raise
                    await asyncio.sleep(0.2 * (attempt + 1))

    async def consume(ws):
        nonlocal last_arrival
        got = 0
        try:
            async for raw in ws:
                arrived = time.time()
                message = json.loads(raw)
                if message.get("type") == "ping":
                    await ws.send('{"type":"pong"}')
                    continue
                data = message.get("data") or {}
                text = data.get("text")
                payload = json.loads(text) if isinstance(text, str) else data
                if "phase" not in payload:
                    continue
                by_phase[payload["phase"]] = by_phase.get(payload["phase"], 0) + 1
                if payload["phase"] == "latency":
                    emit_lat.append(arrived - parse_ts(message["timestamp"]))
                    request_lat.append(arrived - payload["sent"])
                last_arrival = max(last_arrival, arrived)
                got += 1
                if got >= expected:
                    break
        finally:
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()

    sockets = await asyncio.gather(*(open_one() for _ in range(count)))
    conn.send({"ready": True, "nodes": nodes})
    tasks = [asyncio.create_task(consume(ws)) for ws in sockets]
    # stop when every socket has everything, or after the parent says the run is over
    loop = asyncio.get_running_loop()
    stop = loop.run_in_executor(None, conn.recv)
    await asyncio.wait([asyncio.ensure_future(done.wait()), stop], return_when=asyncio.FIRST_COMPLETED)
    if not done.is_set():  # the parent's deadline: give stragglers a moment
        try:
            await asyncio.wait_for(done.wait(), 5)
        except asyncio.TimeoutError:
            pass
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    conn.send({"emit_lat": emit_lat, "request_lat": request_lat, "by_phase": by_phase,
               "last_arrival": last_arrival, "nodes": nodes})


# -- servers ---------------------------------------------------------------------------------


def start_server(kind: str, workers: int, redis_url: str | None, clients: int) -> tuple[subprocess.Popen, str, str]:
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="hub-wsbench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    if kind == "reference":
        app_file = Path(data_dir) / "reference_app.py"
        app_file.write_text(REFERENCE_APP)
        command = [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                   "reference_app:app"]
        cwd = data_dir
    else:
        env.update(
            HUB_DATA_DIR=data_dir,
            HUB_DATABASE_URL=os.environ.get("HUB_DATABASE_URL") or f"sqlite://{data_dir}/hub.sqlite3",
            HUB_SECRET_KEY="bench-secret-" + "x" * 32,
            HUB_LOG_LEVEL="WARNING",
            HUB_RATE_LIMITS__ENABLED="false",  # measure the gateway, not the limiter
            HUB_WEBSOCKET__CONNECTION_LIMITS__STARTER=str(clients + 100),
            HUB_WEBSOCKET__PING_INTERVAL_SECONDS="300",
            HUB_WEBSOCKET__SEND_QUEUE_SIZE="100000",
        )
        if redis_url:
            env["HUB_REDIS_URL"] = redis_url
        command = [sys.executable, str(ROOT / "hub.py"), "serve", "--port", str(port), "--workers", str(workers)]
        cwd = str(ROOT)
    log = open(Path(data_dir) / "server.log", "w")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    return process, f"127.0.0.1:{port}", data_dir


def stop_server(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_ready(http, process) -> None:
    import httpx

    for _ in range(240):
        if process.poll() is not None:
            raise RuntimeError("server exited during start-up")
        try:
            if (await http.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.25)
    raise RuntimeError("server did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


async def scenario(name: str, kind: str, workers: int, redis_url: str | None, args) -> dict:
    import httpx

    process, base, data_dir = start_server(kind, workers, redis_url, args.clients)
    try:
        async with httpx.AsyncClient(base_url=f"http://{base}", timeout=60,
                                     limits=httpx.Limits(max_connections=args.concurrency)) as http:
            await wait_ready(http, process)
            if kind == "reference":
                headers, path = {}, "/emit"
            else:
                email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
                registered = await http.post("/api/auth/register", json={
                    "email": email, "password": PASSWORD, "first_name": "Bench", "last_name": "Mark",
                    "organization_name": "Bench"})
                assert registered.status_code == 201, registered.text
                login = await http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
                headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
                path = "/api/example/notes"

            def body(payload: dict) -> dict:
                return payload if kind == "reference" else {"text": json.dumps(payload)}

            expected = args.latency_events + args.burst
            procs, pipes = [], []
            share = [args.clients // args.client_procs + (i < args.clients % args.client_procs)
                     for i in range(args.client_procs)]
            ctx = mp.get_context("spawn")
            connect_started = time.perf_counter()
            for count in share:
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=client_process, args=(f"ws://{base}/ws", headers, count, expected, child))
                proc.start()
                procs.append(proc)
                pipes.append(parent)
            nodes: dict[str, int] = {}
            loop = asyncio.get_running_loop()
            for pipe in pipes:
                ready = await loop.run_in_executor(None, pipe.recv)
                for node, n in ready["nodes"].items():
                    nodes[node] = nodes.get(node, 0) + n
            connect_seconds = time.perf_counter() - connect_started
            await asyncio.sleep(1.0)  # let the connection burst settle

            # latency: paced events
            for seq in range(args.latency_events):
                response = await http.post(path, headers=headers,
                                           json=body({"phase": "latency", "seq": seq, "sent": time.time()}))
                assert response.status_code == 201, response.text
                await asyncio.sleep(args.pace_ms / 1000)

            # throughput: a burst
            burst_started = time.time()
            sequence = iter(range(args.burst))

            async def sender():
                for seq in sequence:
                    response = await http.post(path, headers=headers,
                                               json=body({"phase": "burst", "seq": seq, "sent": time.time()}))
                    assert response.status_code == 201, response.text

            await asyncio.gather(*(sender() for _ in range(args.concurrency)))
            burst_sent = time.time()

            results = []
            deadline = time.monotonic() + args.deadline
            for pipe in pipes:
                while not await loop.run_in_executor(None, pipe.poll, 0.5):
                    if time.monotonic() > deadline:
                        pipe.send("stop")
                        break
                results.append(await loop.run_in_executor(None, pipe.recv))
            for pipe in pipes:
                try:
                    pipe.send("stop")
                except (BrokenPipeError, OSError):
                    pass
            for proc in procs:
                proc.join(timeout=30)
    finally:
        stop_server(process)

    emit_lat = [v for r in results for v in r["emit_lat"]]
    request_lat = [v for r in results for v in r["request_lat"]]
    burst_delivered = sum(r["by_phase"].get("burst", 0) for r in results)
    latency_delivered = sum(r["by_phase"].get("latency", 0) for r in results)
    last_arrival = max(r["last_arrival"] for r in results)
    burst_seconds = max(last_arrival - burst_started, 1e-9)
    return {
        "scenario": name,
        "server_workers": workers,
        "redis": bool(redis_url),
        "clients": args.clients,
        "sockets_per_worker": sorted(nodes.values(), reverse=True),
        "connect_seconds": round(connect_seconds, 2),
        "latency_events": args.latency_events,
        "latency_deliveries": latency_delivered,
        "latency_deliveries_expected": args.latency_events * args.clients,
        "emit_to_client_p50_ms": round(statistics.median(emit_lat) * 1000, 2) if emit_lat else None,
        "emit_to_client_p99_ms": round(percentile(emit_lat, 0.99) * 1000, 2) if emit_lat else None,
        "request_to_client_p50_ms": round(statistics.median(request_lat) * 1000, 2) if request_lat else None,
        "request_to_client_p99_ms": round(percentile(request_lat, 0.99) * 1000, 2) if request_lat else None,
        "burst_events": args.burst,
        "burst_deliveries": burst_delivered,
        "burst_deliveries_expected": args.burst * args.clients,
        "burst_send_seconds": round(burst_sent - burst_started, 3),
        "burst_seconds_to_last_delivery": round(burst_seconds, 3),
        "deliveries_per_second": round(burst_delivered / burst_seconds, 1),
        "events_per_second_fully_delivered": round(args.burst / burst_seconds, 1),
    }


async def main(args) -> dict:
    raise_fd_limit(args.clients * 2 + 512)
    scenarios = [
        ("reference: bare Quart broadcast, 1 worker", "reference", 1, None),
        ("hub: 1 worker, memory", "hub", 1, None),
        ("hub: 2 workers, Redis", "hub", 2, args.redis_url),
    ]
    if args.only:
        scenarios = [s for s in scenarios if s[1] == args.only or s[0].startswith(args.only)]
    rows = []
    for name, kind, workers, redis_url in scenarios:
        print(f"running {name} ...", flush=True)
        load_before = os.getloadavg()[0]
        row = await scenario(name, kind, workers, redis_url, args)
        row["load_average_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]  # a shared machine?
        rows.append(row)
    return {
        "benchmark": "ws_fanout",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "database": "postgres" if (os.environ.get("HUB_DATABASE_URL") or "").startswith("postgres") else "sqlite",
        "settings": {"clients": args.clients, "client_procs": args.client_procs, "latency_events": args.latency_events,
                     "pace_ms": args.pace_ms, "burst": args.burst, "concurrency": args.concurrency},
        "results": rows,
    }


def print_table(report: dict) -> None:
    header = (f"{'scenario':<44} {'per worker':>12} {'p50 ms':>8} {'p99 ms':>8} {'req p50':>8} {'req p99':>8} "
              f"{'deliv/s':>10} {'events/s':>9} {'burst got':>10}")
    print(header)
    print("-" * len(header))
    for row in report["results"]:
        print(f"{row['scenario']:<44} {str(row['sockets_per_worker']):>12} {row['emit_to_client_p50_ms']!s:>8} "
              f"{row['emit_to_client_p99_ms']!s:>8} {row['request_to_client_p50_ms']!s:>8} "
              f"{row['request_to_client_p99_ms']!s:>8} {row['deliveries_per_second']:>10} "
              f"{row['events_per_second_fully_delivered']:>9} "
              f"{row['burst_deliveries']}/{row['burst_deliveries_expected']:>4}")
    reference = report["results"][0] if report["results"][0]["scenario"].startswith("reference") else None
    if reference:
        for row in report["results"][1:]:
            ratio = row["deliveries_per_second"] / reference["deliveries_per_second"]
            print(f"{row['scenario']}: {ratio:.2f}x the reference's deliveries/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--latency-events", type=int, default=40)
    parser.add_argument("--pace-ms", type=float, default=500.0)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--deadline", type=float, default=180.0, help="seconds to wait for deliveries")
    parser.add_argument("--redis-url", default=os.environ.get("HUB_BENCH_REDIS_URL", "redis://127.0.0.1:6379/3"))
    parser.add_argument("--only", help="run one scenario: reference, hub, or a scenario name prefix")
    parsed = parser.parse_args()
    report = asyncio.run(main(parsed))
    print_table(report)
    write_results("ws_fanout.json", report)
