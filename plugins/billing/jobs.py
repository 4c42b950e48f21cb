"""The billing job: one organization's metered usage reported to Stripe as meter events
(enqueued once per report window by `service.enqueue_usage_reports`; on the workers)."""

from __future__ import annotations

from core import JobContext


async def report_usage(ctx: JobContext, payload: dict) -> dict:
    from plugins.billing import service

    # a failure leaves the report pending: the next attempt (or window) sends it unchanged
    return {"reported": await service.report_usage(ctx.hub, ctx.org_id, int(payload["window"]))}
