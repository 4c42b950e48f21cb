"""Open sockets per organization, counted in this process or, with Redis, across all of them
(a hash of leases per organization, so a killed process's sockets free themselves)."""

from __future__ import annotations

from typing import Any

SLOTS_KEY = "hub:ws:conns:{org_id}"
LEASE_SECONDS = 30.0
LEASE_RENEW_SECONDS = 10.0

class MemorySlots:
    """Sockets per organization in this process."""

    def __init__(self) -> None:
        self.by_org: dict[str, set[str]] = {}

    async def acquire(self, org_id: str, connection_id: str, limit: int) -> tuple[bool, int]:
        held = self.by_org.setdefault(org_id, set())
        if len(held) >= limit:
            return False, len(held)
        held.add(connection_id)
        return True, len(held)

    async def release(self, org_id: str, connection_id: str) -> None:
        held = self.by_org.get(org_id)
        if held is not None:
            held.discard(connection_id)
            if not held:
                del self.by_org[org_id]

    async def renew(self, held: dict[str, list[str]]) -> None:
        return None

    async def count(self, org_id: str) -> int:
        return len(self.by_org.get(org_id, ()))


_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 1, #entries, 2 do
  if tonumber(entries[i + 1]) < now then
    redis.call('HDEL', KEYS[1], entries[i])
  elseif entries[i] ~= ARGV[1] then
    live = live + 1
  end
end
if live >= tonumber(ARGV[2]) then
  return {0, live}
end
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return {1, live + 1}
"""

_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 2, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], now + tonumber(ARGV[1]))
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return #ARGV - 1
"""

_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('HGETALL', KEYS[1])
local live = 0
for i = 2, #entries, 2 do
  if tonumber(entries[i]) >= now then live = live + 1 end
end
return live
"""


class RedisSlots:
    """Sockets per organization across processes: a hash per organization whose fields are
    socket ids and values lease expiries (Redis server time, ms); expired leases are dropped
    when counting, so the sockets of a killed process stop counting after LEASE_SECONDS."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.acquire_script = client.register_script(_ACQUIRE)
        self.renew_script = client.register_script(_RENEW)
        self.count_script = client.register_script(_COUNT)
        self.lease_ms = int(LEASE_SECONDS * 1000)

    async def acquire(self, org_id: str, connection_id: str, limit: int) -> tuple[bool, int]:
        ok, count = await self.acquire_script(
            keys=[SLOTS_KEY.format(org_id=org_id)], args=[connection_id, limit, self.lease_ms]
        )
        return bool(ok), int(count)

    async def release(self, org_id: str, connection_id: str) -> None:
        await self.client.hdel(SLOTS_KEY.format(org_id=org_id), connection_id)

    async def renew(self, held: dict[str, list[str]]) -> None:
        if not held:
            return
        async with self.client.pipeline(transaction=False) as pipe:
            for org_id, connection_ids in held.items():
                await self.renew_script(
                    keys=[SLOTS_KEY.format(org_id=org_id)], args=[self.lease_ms, *connection_ids], client=pipe
                )
            await pipe.execute()

    async def count(self, org_id: str) -> int:
        return int(await self.count_script(keys=[SLOTS_KEY.format(org_id=org_id)]))
