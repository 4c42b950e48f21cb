"""Messaging for other plugins and for models: the hub functions `send_email` / `send_sms`
(hub_functions) and the workflow nodes `messaging.email-sender` / `messaging.sms-sender`
(seed 001's `email-sender` and `sms-sender`). All queue through service.py, as the API does."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core import HubError, current_hub, pydantic_details
from plugins.integrations.messaging import service
from plugins.integrations.messaging.schemas import EmailRequest, SmsRequest


async def send_email(ctx, args: EmailRequest) -> dict:
    body = await service.queue_email(current_hub(), str(ctx.org_id), ctx.user_id and str(ctx.user_id), args)
    return {**body, "timestamp": body["timestamp"].isoformat()}


async def send_sms(ctx, args: SmsRequest) -> dict:
    body = await service.queue_sms(current_hub(), str(ctx.org_id), ctx.user_id and str(ctx.user_id), args)
    return {**body, "timestamp": body["timestamp"].isoformat()}


FUNCTIONS = (
    ("send_email", "Send an email (to, cc, bcc, subject, content.text/html, or a template_id with "
     "template_data); it is queued and sent by a job", EmailRequest, "messaging.send", send_email),
    ("send_sms", "Send an SMS (to in E.164 form, message or a template_id with template_data); it is "
     "queued and sent by a job", SmsRequest, "messaging.send", send_sms),
)


# -- workflow nodes ---------------------------------------------------------------------------------


class EmailSenderNode(BaseModel):
    """What the node sends when its input leaves it out; the input (`main`) may carry any
    field of POST /api/v1/messages/email (to, subject, content, template_data...)."""

    model_config = ConfigDict(extra="forbid")

    to: list[str] = Field(default_factory=list, max_length=50)
    cc: list[str] = Field(default_factory=list, max_length=50)
    subject: str | None = Field(None, max_length=998)
    text: str | None = Field(None, max_length=100_000)
    html: str | None = Field(None, max_length=100_000)
    template_id: str | None = Field(None, max_length=36)


class SmsSenderNode(BaseModel):
    """The node's defaults; the input (`main`) may carry to, message, template_data."""

    model_config = ConfigDict(extra="forbid")

    to: str | None = Field(None, max_length=24)
    message: str | None = Field(None, max_length=1600)
    template_id: str | None = Field(None, max_length=36)


def _request(model: type[BaseModel], fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate({name: value for name, value in fields.items() if value not in (None, [])})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, problem['loc'])) or 'message'}: {problem['msg']}"
                             for problem in error.errors())
        raise HubError("VALIDATION_ERROR", f"The node's message is not valid ({problems})",
                       pydantic_details(error)) from None


async def email_sender(ctx, config: EmailSenderNode, inputs: dict) -> dict:
    """Input `main`: fields of the email (over the node's config); output `main`: the queued message."""
    given = inputs.get("main") or {}
    content = {"text": config.text, "html": config.html}
    if isinstance(given.get("content"), dict):
        content.update(given["content"])
    fields = {"to": config.to, "cc": config.cc, "subject": config.subject, "template_id": config.template_id,
              "content": content if any(content.values()) else None}
    fields.update({name: value for name, value in given.items() if name in EmailRequest.model_fields or name == "from"})
    request = _request(EmailRequest, fields)
    body = await service.queue_email(ctx.hub, str(ctx.org_id), ctx.user_id and str(ctx.user_id), request)
    return {"main": {**body, "timestamp": body["timestamp"].isoformat()}}


async def sms_sender(ctx, config: SmsSenderNode, inputs: dict) -> dict:
    """Input `main`: fields of the SMS (over the node's config); output `main`: the queued message."""
    given = inputs.get("main") or {}
    fields = {"to": config.to, "message": config.message, "template_id": config.template_id}
    fields.update({name: value for name, value in given.items() if name in SmsRequest.model_fields or name == "from"})
    request = _request(SmsRequest, fields)
    body = await service.queue_sms(ctx.hub, str(ctx.org_id), ctx.user_id and str(ctx.user_id), request)
    return {"main": {**body, "timestamp": body["timestamp"].isoformat()}}


WORKFLOW_NODES = (
    ("messaging.email-sender", "Send an email (seed 001's email-sender)", EmailSenderNode, email_sender),
    ("messaging.sms-sender", "Send an SMS (seed 001's sms-sender)", SmsSenderNode, sms_sender),
)
