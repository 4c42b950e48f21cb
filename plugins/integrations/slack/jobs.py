"""The `slack.post` job: one queued message to Slack (service.deliver). A passing failure fails
the attempt with `retry=True`, so the runtime tries again after its back-off; the last attempt,
or a refusal, leaves the post `failed`."""

from __future__ import annotations

from core import JobContext, JobFailed
from plugins.integrations.slack import service


async def post_message(ctx: JobContext, payload: dict) -> dict:
    try:
        return await service.deliver(ctx.hub, ctx.org_id, payload["post_id"], ctx.attempt, ctx.max_attempts)
    except service.RetryLater as failure:
        raise JobFailed(str(failure), retry=True) from None
