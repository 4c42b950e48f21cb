"""`hub billing set-plan --org ID --plan NAME`: an operator puts an organization on a plan from
the command line (hook hub_commands), as its admin does with `PUT /api/v1/billing/plan`: the
local provider only (with Stripe the plan follows the subscription). Every serving process
applies it from its next request (at once with Redis, else within `[tenancy] cache_seconds`)."""

from __future__ import annotations

import uuid

from core import validation_error
from plugins.billing import service


def register_commands(register) -> None:
    register("set-plan", set_plan, "put an organization on a plan of the catalogue (local provider)", [
        (("--org",), {"required": True, "metavar": "ORG_ID", "help": "the organization's id"}),
        (("--plan",), {"required": True, "help": "a plan of the catalogue (GET /api/v1/plans), e.g. pro"}),
    ])


async def set_plan(args, hub) -> int:
    try:
        org_id = uuid.UUID(args.org)
    except ValueError:
        raise validation_error("org", f"{args.org!r} is not an organization id") from None
    previous, subscription = await service.assign_plan(hub, org_id, args.plan)
    print(f"Organization {org_id}: plan {previous} -> {args.plan} (subscription {subscription.id})")
    return 0
