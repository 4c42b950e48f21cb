"""A plan change takes effect on the next request in every process: a real `hub serve` with two
workers and Redis, each worker caching organizations for an hour (`[tenancy] cache_seconds`),
so only the invalidation the plan change announces can make the other worker see it."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.core.test_websocket import TIMEOUT, Peer, _redis_available, connect, user
from tests.live_server import live_hub

REDIS = "redis://127.0.0.1:6379/10"


async def open_socket(host: str, token: str) -> tuple[Peer, dict | None]:
    """A socket and its first message (None when the server closed it at once)."""
    peer = await connect(host, token)
    first = await asyncio.wait_for(peer.messages.get(), TIMEOUT)
    return peer, (None if first is Peer.CLOSED else first)


async def test_a_plan_change_reaches_both_workers_at_once(tmp_path):
    if not _redis_available():
        pytest.fail("the billing tests need Redis on 127.0.0.1:6379")
    env = {"HUB_REDIS_URL": REDIS, "HUB_TENANCY__CACHE_SECONDS": "3600",
           "HUB_WEBSOCKET__PING_INTERVAL_SECONDS": "5", "HUB_WEBSOCKET__PONG_TIMEOUT_SECONDS": "20"}
    with live_hub(tmp_path, workers=2, env=env) as hub:
        peers: list[Peer] = []
        try:
            async with httpx.AsyncClient(base_url=hub.url, timeout=TIMEOUT) as http:
                account = await user(http)
                assigned = await http.put("/api/v1/billing/plan", headers=account["headers"], json={"plan": "free"})
                assert assigned.status_code == 200, assigned.text
                # free: 5 sockets. Hold them on both workers (each worker now caches "free").
                nodes: set[str] = set()
                for _ in range(200):
                    if len(peers) == 5 and len(nodes) == 2:
                        break
                    if len(peers) == 5:
                        await peers.pop(0).close()
                        await asyncio.sleep(0.05)  # the slot is freed asynchronously
                    peer, first = await open_socket(hub.host, account["token"])
                    if first is None or first["type"] != "connected":
                        await peer.close()
                        continue
                    peers.append(peer)
                    nodes.add(first["data"]["node"])
                assert len(peers) == 5 and len(nodes) == 2, "sockets should be held on both workers"
                extra, first = await open_socket(hub.host, account["token"])
                assert first is not None and first["error"]["code"] == "CONNECTION_LIMIT_EXCEEDED", first
                assert first["error"]["details"] == {"limit": 5, "plan": "free", "open": 5}
                await extra.close()

                changed = await http.put("/api/v1/billing/plan", headers=account["headers"], json={"plan": "pro"})
                assert changed.status_code == 200, changed.text

                # pro: 25. Every further socket is let in, by both workers, with 5+ already open:
                # a worker still on "free" would refuse it. The kernel picks the worker; until
                # both have answered, the oldest socket beyond 6 is closed to stay under 25.
                after: set[str] = set()
                for _ in range(60):
                    peer, first = await open_socket(hub.host, account["token"])
                    assert first is not None and first["type"] == "connected", first
                    peers.append(peer)
                    after.add(first["data"]["node"])
                    if len(after) == 2:
                        break
                    if len(peers) > 6:
                        await peers.pop(0).close()
                        await asyncio.sleep(0.05)  # the slot is freed asynchronously
                assert after == nodes, "both workers should have accepted sockets after the change"
            for _ in range(6):  # fresh connections, spread over the workers by the kernel
                async with httpx.AsyncClient(base_url=hub.url, timeout=TIMEOUT) as fresh:
                    response = await fresh.get("/api/v1/plans", headers=account["headers"])
                    assert response.json()["current_plan"] == "pro"
                    assert response.headers["X-RateLimit-Limit"] == "10000"
        finally:
            for peer in peers:
                await peer.close()
