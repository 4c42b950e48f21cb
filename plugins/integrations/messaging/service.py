"""Messaging without HTTP: queue an email or SMS (render its template, check its attachments,
record it, enqueue its send job), deliver it from the job through the organization's provider,
and the organizations' templates. Routes, hub functions and workflow nodes all call here."""

from __future__ import annotations

from typing import Any

from tortoise.expressions import Q

from core import (
    HubError,
    conflict,
    emit,
    enqueue,
    integration_config,
    integration_credentials,
    integration_failed,
    integration_synced,
    iso,
    transaction,
    utcnow,
)
from plugins.integrations.messaging import templates
from plugins.integrations.messaging.integrations import smtp_allowlist
from plugins.integrations.messaging.models import Message, MessageTemplate
from plugins.integrations.messaging.providers import ProviderError, sendgrid_send, smtp_send, twilio_send
from plugins.integrations.messaging.schemas import EmailRequest, SmsRequest

SEND_JOB = "messaging.send"
PLUGIN = "messaging"
ERROR_LENGTH = 1000


def settings(hub):
    return hub.plugin_settings(PLUGIN)


# -- queueing ---------------------------------------------------------------------------------------


async def _template(org_id: str, template_id: str, channel: str) -> MessageTemplate:
    row = await get_template(org_id, template_id)
    if row.channel != channel:
        raise HubError("VALIDATION_ERROR", f"Template {template_id} is an {row.channel} template, not {channel}",
                       {"field": "template_id", "reason": f"not an {channel} template"})
    return row


def render_template(row: MessageTemplate, data: dict[str, Any]) -> dict[str, str | None]:
    """The template's parts rendered with `data`; a text part made from the HTML when it has none."""
    rendered = {
        "subject": templates.render("subject", row.subject, data),
        "html": templates.render("html", row.html, data, html=True),
        "text": templates.render("text", row.text, data),
    }
    if rendered["subject"] is not None:  # a header: one line
        rendered["subject"] = " ".join(rendered["subject"].split())
    if rendered["text"] is None and rendered["html"] is not None:
        rendered["text"] = templates.text_from_html(rendered["html"])
    return rendered


def _check_attachments(hub, request: EmailRequest) -> list[dict]:
    limits = settings(hub)
    if len(request.attachments) > limits.max_attachments:
        raise HubError("VALIDATION_ERROR", f"At most {limits.max_attachments} attachments",
                       {"field": "attachments", "reason": f"at most {limits.max_attachments}"})
    total = 0
    for index, attachment in enumerate(request.attachments):
        try:
            total += attachment.size()
        except ValueError as error:
            raise HubError("VALIDATION_ERROR", str(error), {"field": f"attachments[{index}].content",
                                                            "reason": str(error)}) from None
    if total > limits.max_attachment_bytes:
        raise HubError("PAYLOAD_TOO_LARGE", f"The attachments take {total} bytes; at most "
                       f"{limits.max_attachment_bytes} are allowed",
                       {"field": "attachments", "size": total, "limit": limits.max_attachment_bytes})
    return [attachment.model_dump() for attachment in request.attachments]


async def queue_email(hub, org_id: str, user_id: str | None, request: EmailRequest) -> dict:
    subject = request.subject
    html = request.content.html if request.content else None
    text = request.content.text if request.content else None
    if request.template_id is not None:
        row = await _template(org_id, str(request.template_id), "email")
        rendered = render_template(row, request.template_data or {})
        subject = subject or rendered["subject"]
        html = html or rendered["html"]
        text = text or rendered["text"]
        if not subject:
            raise HubError("VALIDATION_ERROR", "The template has no subject: give one",
                           {"field": "subject", "reason": "required (the template has none)"})
    if text is None and html is not None:
        text = templates.text_from_html(html)
    payload = {"to": list(request.to), "cc": list(request.cc), "bcc": list(request.bcc),
               "from": request.from_, "reply_to": request.reply_to, "subject": subject, "html": html,
               "text": text, "attachments": _check_attachments(hub, request)}
    return await _queue(hub, org_id, user_id, "email", request.provider, payload, request.from_, subject,
                        request.template_id and str(request.template_id))


async def queue_sms(hub, org_id: str, user_id: str | None, request: SmsRequest) -> dict:
    message = request.message
    if request.template_id is not None and message is None:
        row = await _template(org_id, str(request.template_id), "sms")
        message = render_template(row, request.template_data or {})["text"]
    if not message or len(message) > 1600:
        raise HubError("VALIDATION_ERROR", "The message must have 1 to 1600 characters",
                       {"field": "message", "reason": "1 to 1600 characters"})
    payload = {"to": request.to, "from": request.from_, "message": message, "media_urls": list(request.media_urls)}
    return await _queue(hub, org_id, user_id, "sms", request.provider, payload, request.from_, None,
                        request.template_id and str(request.template_id))


async def _queue(hub, org_id: str, user_id: str | None, channel: str, provider: str, payload: dict,
                 sender: str | None, subject: str | None, template_id: str | None) -> dict:
    now = utcnow()
    recipients = payload["to"] if channel == "email" else [payload["to"]]
    async with transaction():
        message = await Message.create(
            org_id=org_id, channel=channel, provider=provider, status="queued",
            recipients={"to": recipients, "cc": payload.get("cc", []), "bcc": payload.get("bcc", [])},
            sender=sender, subject=subject, template_id=template_id, payload=payload, created_by=user_id,
            history=[{"status": "queued", "at": iso(now), "detail": None}])
        job = await enqueue(org_id, SEND_JOB, {"message_id": str(message.id)}, user_id=user_id,
                            max_attempts=settings(hub).send_attempts, hub=hub)
        message.job_id = job.id
        await message.save(update_fields=["job_id"])
    return accepted_body(message)


def accepted_body(message: Message) -> dict:
    return {"id": str(message.id), "message_id": str(message.id), "status": message.status,
            "channel": message.channel, "provider": message.provider,
            "job_id": str(message.job_id) if message.job_id else None, "provider_response": None,
            "timestamp": message.created_at}


def message_body(message: Message) -> dict:
    last = message.history[-1] if message.history else {}
    return {
        "id": str(message.id), "message_id": str(message.id), "channel": message.channel,
        "provider": message.provider, "status": message.status, "to": message.recipients.get("to", []),
        "cc": message.recipients.get("cc", []), "bcc": message.recipients.get("bcc", []),
        "from": message.sender, "subject": message.subject,
        "template_id": str(message.template_id) if message.template_id else None,
        "provider_message_id": message.provider_message_id, "provider_response": last.get("response"),
        "error": message.error, "attempts": message.attempts,
        "job_id": str(message.job_id) if message.job_id else None,
        "history": [{"status": entry["status"], "at": entry["at"], "detail": entry.get("detail")}
                    for entry in message.history],
        "created_at": message.created_at, "updated_at": message.updated_at,
    }


async def get_message(org_id: str, message_id: str) -> Message:
    return await Message.get_for_org(org_id, message_id, "Message")


def messages_query(org_id: str, status: str | None, channel: str | None):
    query = Message.for_org(org_id)
    if status:
        query = query.filter(status=status)
    if channel:
        query = query.filter(channel=channel)
    return query


# -- delivering (the send job) ----------------------------------------------------------------------


async def _move(message: Message, status: str, detail: str | None = None, response: dict | None = None,
                **changes: Any) -> None:
    entry: dict[str, Any] = {"status": status, "at": iso(utcnow()), "detail": detail}
    if response:
        entry["response"] = response
    message.status = status
    message.history = [*message.history, entry]
    for name, value in changes.items():
        setattr(message, name, value)
    await message.save(update_fields=["status", "history", "updated_at", *changes])


async def _event(hub, message: Message, event_type: str) -> None:
    await emit(message.org_id, event_type, {
        "id": str(message.id), "channel": message.channel, "provider": message.provider, "status": message.status,
        "provider_message_id": message.provider_message_id, "error": message.error}, hub=hub)


async def _provider_send(hub, message: Message) -> dict:
    org_id = str(message.org_id)
    limits = settings(hub)
    credentials = await integration_credentials(org_id, message.provider)
    config = await integration_config(org_id, message.provider)
    if config is None:
        raise ProviderError(f"{message.provider} is not connected (POST /api/integrations/{message.provider}/connect)",
                            transient=False, provider_fault=True)
    if message.provider == "smtp":
        return await smtp_send(config, credentials, message.payload, limits.smtp_timeout_seconds, smtp_allowlist(hub))
    if message.provider == "sendgrid":
        return await sendgrid_send(credentials, config, message.payload, limits.sendgrid_base_url,
                                   limits.sendgrid_timeout_seconds)
    return await twilio_send(credentials, config, message.payload, limits.twilio_base_url,
                             limits.twilio_timeout_seconds, twilio_callback_url(hub))


TWILIO_CALLBACK_PATH = "/api/v1/messages/callbacks/twilio"
# Twilio's final statuses of a message -> ours; the others (queued, sending, sent) change nothing
TWILIO_FINAL = {"delivered": "delivered", "undelivered": "failed", "failed": "failed"}


def twilio_callback_url(hub) -> str | None:
    public_url = settings(hub).public_url
    return public_url.rstrip("/") + TWILIO_CALLBACK_PATH if public_url else None


async def receive_twilio_status(hub, form: dict[str, str], signature: str | None) -> Message:
    """A delivery report from Twilio: verified with the organization's auth token against the
    URL Twilio called (X-Twilio-Signature); a final status moves the message on once. Unknown
    messages and bad signatures are the same 400, so the route tells nothing to a prober."""
    from twilio.request_validator import RequestValidator

    refused = HubError("INVALID_SIGNATURE", "The X-Twilio-Signature does not match this request")
    url, sid = twilio_callback_url(hub), form.get("MessageSid")
    message = await Message.filter(provider="twilio", provider_message_id=sid).first() if sid and url else None
    if message is None or not signature:
        raise refused
    credentials = await integration_credentials(str(message.org_id), "twilio")
    if credentials is None or form.get("AccountSid") != credentials.account_sid:
        raise refused
    if not RequestValidator(credentials.auth_token.get_secret_value()).validate(url, form, signature):
        raise refused
    target = TWILIO_FINAL.get(form.get("MessageStatus", ""))
    if target is None or message.status in ("delivered", "failed"):
        return message
    detail = f"twilio: {form['MessageStatus']}" + (f" (error {form['ErrorCode']})" if form.get("ErrorCode") else "")
    async with transaction():
        await _move(message, target, detail, error=detail if target == "failed" else message.error)
        await _event(hub, message, "messaging.delivered" if target == "delivered" else "messaging.failed")
    return message


async def deliver(hub, org_id: str, message_id: str, attempt: int, max_attempts: int) -> dict:
    """One try at sending a queued message. A transient failure with tries left raises
    ProviderError (the job retries it after a back-off); a permanent one, or the last try,
    marks the message failed."""
    message = await Message.get_or_none(org_id=org_id, id=message_id)
    if message is None or message.status in ("sent", "delivered", "failed"):
        return {"status": message.status if message else "gone"}  # a repeated delivery of the job
    await _move(message, "sending", f"attempt {attempt} of {max_attempts}", attempts=attempt)
    try:
        answer = await _provider_send(hub, message)
    except (ProviderError, ValueError, TypeError, LookupError) as failure:
        # anything but a provider's answer (a payload the MIME library refuses...) is permanent
        error = failure if isinstance(failure, ProviderError) else ProviderError(
            f"the message could not be prepared: {type(failure).__name__}: {failure}", transient=False)
        reason = str(error)[:ERROR_LENGTH]
        if error.credentials_refused:
            await integration_failed(org_id, message.provider, reason)
        if error.transient and attempt < max_attempts:
            await _move(message, "queued", f"will retry: {reason}", response=error.response, error=reason)
            raise
        if error.provider_fault and await _fall_back(hub, message, reason):
            return {"status": "queued", "provider": message.provider}
        async with transaction():
            await _move(message, "failed", reason, response=error.response, error=reason,
                        payload=_without_attachments(message.payload))
            await _event(hub, message, "messaging.failed")
        return {"status": "failed", "error": reason}
    async with transaction():
        await _move(message, "sent", None, response=answer, error=None,
                    provider_message_id=answer.get("message_id") and str(answer["message_id"])[:255],
                    payload=_without_attachments(message.payload))
        await _event(hub, message, "messaging.sent")
    await integration_synced(org_id, message.provider)
    return {"status": "sent", "provider_message_id": message.provider_message_id}


async def _fall_back(hub, message: Message, reason: str) -> bool:
    """Hand a message its primary provider failed over to the configured fallback provider, once,
    as a new send job; False when there is none or the organization has not connected it."""
    fallback = settings(hub).fallback_providers.get(message.provider)
    if fallback is None or message.payload.get("fallback_from"):
        return False
    if await integration_config(str(message.org_id), fallback) is None:
        return False
    primary = message.provider
    async with transaction():
        job = await enqueue(message.org_id, SEND_JOB, {"message_id": str(message.id)}, user_id=message.created_by,
                            max_attempts=settings(hub).send_attempts, hub=hub)
        await _move(message, "queued", f"{primary} failed ({reason}); falling back to {fallback}", error=reason,
                    provider=fallback, job_id=job.id, payload={**message.payload, "fallback_from": primary})
    return True


def _without_attachments(payload: dict) -> dict:
    """What is kept of a payload once it is sent or given up: attachments only by name and type."""
    if not payload.get("attachments"):
        return payload
    return {**payload, "attachments": [{"filename": a["filename"], "content_type": a["content_type"]}
                                       for a in payload["attachments"]]}


# -- templates --------------------------------------------------------------------------------------


def template_body(row: MessageTemplate) -> dict:
    return {"id": str(row.id), "name": row.name, "channel": row.channel, "description": row.description,
            "subject": row.subject, "html": row.html, "text": row.text, "created_at": row.created_at,
            "updated_at": row.updated_at}


def _check_template(fields: dict) -> None:
    templates.check("subject", fields.get("subject"))
    templates.check("html", fields.get("html"), html=True)
    templates.check("text", fields.get("text"))


async def create_template(org_id: str, fields: dict) -> MessageTemplate:
    _check_template(fields)
    if await MessageTemplate.filter(org_id=org_id, name=fields["name"]).exists():
        raise conflict(f"A template named {fields['name']!r} exists")
    return await MessageTemplate.create(org_id=org_id, **fields)


async def get_template(org_id: str, template_id: str) -> MessageTemplate:
    return await MessageTemplate.get_for_org(org_id, template_id, "Template")


async def update_template(org_id: str, template_id: str, changes: dict) -> MessageTemplate:
    row = await get_template(org_id, template_id)
    _check_template(changes)
    if changes.get("name") and changes["name"] != row.name and await MessageTemplate.filter(
            Q(org_id=org_id, name=changes["name"]) & ~Q(id=row.id)).exists():
        raise conflict(f"A template named {changes['name']!r} exists")
    merged = {"html": row.html, "text": row.text, **changes}
    if not (merged["html"] or merged["text"]):
        raise HubError("VALIDATION_ERROR", "A template needs html or text", {"field": "text", "reason": "required"})
    for name, value in changes.items():
        setattr(row, name, value)
    await row.save()
    return row


async def delete_template(org_id: str, template_id: str) -> None:
    row = await get_template(org_id, template_id)
    await row.delete()
