"""The support plugin's background work: the periodic SLA check (`hub.run_every` from
`hub_startup`, every `sla_check_seconds` in each process; breaches are claimed, so each is
announced once however many processes look)."""

from __future__ import annotations

from typing import Any

from core import utcnow
from plugins.support.service import check_sla


async def check_sla_now(hub: Any) -> int:
    return await check_sla(hub, utcnow())
