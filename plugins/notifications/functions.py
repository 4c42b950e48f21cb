"""The hub function `notify_user`: other plugins (`core.call_function`), workflows and models
notify a member of the organization, as `POST /api/v1/notifications` does."""

from __future__ import annotations

import uuid

from pydantic import Field

from core import current_hub
from plugins.notifications import service
from plugins.notifications.schemas import NotificationRequest


class NotifyUserArgs(NotificationRequest):
    user_id: uuid.UUID = Field(description="a member of the organization")


async def notify_user(ctx, args: NotifyUserArgs) -> dict:
    row = await service.send(current_hub(), ctx.org_id, args.user_id, title=args.title, message=args.message,
                             type=args.type, channel=args.channel, priority=args.priority, metadata=args.metadata,
                             sender_id=ctx.user_id)
    body = service.body(row)
    return {**body, "read_at": None, "created_at": body["created_at"].isoformat()}


FUNCTIONS = (
    ("notify_user", "Notify a member of the organization (user_id, title, message, type, channel in_app, email, "
     "sms or slack, priority normal or urgent); their preferences decide whether and how it is delivered",
     NotifyUserArgs, "notifications.send", notify_user),
)
