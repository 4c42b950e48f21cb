"""The send job: one message through its provider (enqueued by service._queue). A transient
provider failure fails the attempt with `retry=True`, so the runtime tries again after its
back-off; the last attempt, or a permanent failure, leaves the message `failed`."""

from __future__ import annotations

from core import JobContext, JobFailed
from plugins.integrations.messaging import service
from plugins.integrations.messaging.providers import ProviderError


async def send_message(ctx: JobContext, payload: dict) -> dict:
    try:
        return await service.deliver(ctx.hub, ctx.org_id, payload["message_id"], ctx.attempt, ctx.max_attempts)
    except ProviderError as error:
        raise JobFailed(str(error), retry=True) from None
