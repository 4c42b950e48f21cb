"""Background work of the notifications plugin: the digest, sent by a loop every
`digest_seconds` in each serving process (`hub.run_every`, started in `hub_startup`); the rows
are claimed by a conditional update, so processes ticking together send each digest once."""

from __future__ import annotations

from plugins.notifications import service


async def digest_tick(hub) -> int:
    """Send every waiting digest now; how many emails were queued."""
    return await service.send_digests(hub)
