"""Messaging without HTTP: queue an email or SMS (render its template, check its attachments,
record it, enqueue its send job), deliver it from the job through the organization's provider,
and the organizations' templates. Routes, hub functions and workflow nodes all call here."""

from __future__ import annotations

import uuid
from typing import Any

from tortoise.exceptions import IntegrityError
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
from plugins.integrations.messaging import aws, webhooks
from plugins.integrations.messaging.models import Message, MessageTemplate, Suppression
from plugins.integrations.messaging.providers import (
    ProviderError,
    mailgun_send,
    messagebird_send,
    sendgrid_send,
    smtp_send,
    twilio_send,
)
from plugins.integrations.messaging.schemas import EmailRequest, SmsRequest

SEND_JOB = "messaging.send"
# statuses a send job leaves alone (a repeated delivery of the job)
FINAL = ("sent", "delivered", "failed", "bounced", "suppressed")
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
    suppressed = await _suppressed(org_id, [*request.to, *request.cc, *request.bcc])

    def keep(addresses: list[str]) -> list[str]:
        return [address for address in addresses if address.lower() not in suppressed]

    payload = {"to": keep(request.to), "cc": keep(request.cc), "bcc": keep(request.bcc),
               "from": request.from_, "reply_to": request.reply_to, "subject": subject, "html": html,
               "text": text, "attachments": _check_attachments(hub, request)}
    if suppressed:  # kept in the record, never sent to
        payload["suppressed"] = sorted(suppressed)
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
    if await _suppressed(org_id, [request.to]):
        payload["suppressed"] = [request.to]
    return await _queue(hub, org_id, user_id, "sms", request.provider, payload, request.from_, None,
                        request.template_id and str(request.template_id))


async def _queue(hub, org_id: str, user_id: str | None, channel: str, provider: str, payload: dict,
                 sender: str | None, subject: str | None, template_id: str | None) -> dict:
    now = utcnow()
    recipients = payload["to"] if channel == "email" else [payload["to"]]
    suppressed = payload.get("suppressed", [])
    # nobody left to send to: recorded as `suppressed`, no job
    status = "suppressed" if not recipients or (channel == "sms" and suppressed) else "queued"
    detail = f"suppressed addresses not sent to: {', '.join(suppressed)}" if suppressed else None
    if channel == "sms":
        recipients = [payload["to"]]
    elif status == "suppressed":
        recipients = suppressed
    async with transaction():
        message = await Message.create(
            org_id=org_id, channel=channel, provider=provider, status=status,
            recipients={"to": recipients, "cc": payload.get("cc", []), "bcc": payload.get("bcc", [])},
            sender=sender, subject=subject, template_id=template_id, payload=payload, created_by=user_id,
            history=[{"status": status, "at": iso(now), "detail": detail}])
        if status == "suppressed":
            return accepted_body(message)
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
    payload, reference = message.payload, str(message.id)
    if message.provider == "smtp":
        return await smtp_send(config, credentials, payload, limits.smtp_timeout_seconds, smtp_allowlist(hub))
    if message.provider == "sendgrid":
        return await sendgrid_send(credentials, config, payload, limits.sendgrid_base_url,
                                   limits.sendgrid_timeout_seconds, reference)
    if message.provider == "mailgun":
        return await mailgun_send(credentials, config, payload, limits.mailgun_base_url,
                                  limits.mailgun_timeout_seconds, reference)
    if message.provider == "aws_ses":
        return await aws.ses_send(credentials, config, payload, limits.aws_endpoint_url, limits.aws_timeout_seconds)
    if message.provider == "aws_sns":
        return await aws.sns_send(credentials, config, payload, limits.aws_endpoint_url, limits.aws_timeout_seconds)
    if message.provider == "messagebird":
        return await messagebird_send(credentials, config, payload, limits.messagebird_base_url,
                                      limits.messagebird_timeout_seconds, reference)
    return await twilio_send(credentials, config, payload, limits.twilio_base_url,
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
    if message is None or message.status in FINAL:
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


# -- suppressions -----------------------------------------------------------------------------------


async def _suppressed(org_id: str, addresses: list[str]) -> set[str]:
    wanted = {address.lower() for address in addresses}
    if not wanted:
        return set()
    return set(await Suppression.filter(org_id=org_id, address__in=list(wanted)).values_list("address", flat=True))


def suppression_body(row: Suppression) -> dict:
    return {"id": str(row.id), "address": row.address, "reason": row.reason, "provider": row.provider,
            "message_id": str(row.message_id) if row.message_id else None, "detail": row.detail,
            "created_at": row.created_at}


def suppressions_query(org_id: str, address: str | None, reason: str | None):
    query = Suppression.for_org(org_id)
    if address:
        query = query.filter(address=address.strip().lower())
    if reason:
        query = query.filter(reason=reason)
    return query


async def suppress(org_id: str, address: str, reason: str, provider: str | None = None,
                   message_id: str | None = None, detail: str = "") -> tuple[Suppression, bool]:
    """Suppress an address (once: a later reason does not replace the first); (row, created)."""
    address = address.strip().lower()
    existing = await Suppression.filter(org_id=org_id, address=address).first()
    if existing is not None:
        return existing, False
    try:
        async with transaction():
            return await Suppression.create(org_id=org_id, address=address, reason=reason, provider=provider,
                                            message_id=message_id, detail=detail[:500]), True
    except IntegrityError:  # suppressed at the same moment by another event
        return await Suppression.get(org_id=org_id, address=address), False


async def add_suppression(org_id: str, address: str, detail: str) -> Suppression:
    row, created = await suppress(org_id, address, "manual", detail=detail)
    if not created:
        raise conflict(f"{address} is already suppressed ({row.reason})")
    return row


async def remove_suppression(org_id: str, suppression_id: str) -> None:
    row = await Suppression.get_for_org(org_id, suppression_id, "Suppression")
    await row.delete()


# -- provider events (webhooks) ---------------------------------------------------------------------

SUPPRESSING = {"bounced": "bounce", "complained": "complaint", "unsubscribed": "unsubscribe"}


async def _event_message(provider: str, event: webhooks.ProviderEvent) -> Message | None:
    if event.reference:
        try:
            reference = uuid.UUID(event.reference)
        except ValueError:
            reference = None
        message = await Message.filter(id=reference, provider=provider).first() if reference else None
        if message is not None:
            return message
    if event.provider_id:
        return await Message.filter(provider=provider, provider_message_id=event.provider_id).first()
    return None


async def apply_event(hub, message: Message, event: webhooks.ProviderEvent) -> None:
    """What a provider reported about a message: `delivered` (from sent), `bounced` (from sent
    or delivered), `failed` (from sent) move it once; bounces, complaints and unsubscriptions
    suppress the recipient for later sends."""
    org_id = str(message.org_id)
    async with transaction():
        if event.outcome in SUPPRESSING and event.recipient:
            await suppress(org_id, event.recipient, SUPPRESSING[event.outcome], message.provider, str(message.id),
                           event.detail)
        target = {"delivered": ("sent",), "bounced": ("sent", "delivered"), "failed": ("sent",)}
        if message.status in target.get(event.outcome, ()):
            error = event.detail if event.outcome in ("bounced", "failed") else message.error
            await _move(message, event.outcome, event.detail, error=error)
            await _event(hub, message, f"messaging.{event.outcome}")
        elif event.outcome in ("complained", "unsubscribed"):
            await _move(message, message.status, event.detail)


async def _messages_of(provider: str, events: list[webhooks.ProviderEvent]) -> list[tuple[Message, webhooks.ProviderEvent]]:
    found = []
    for event in events:
        message = await _event_message(provider, event)
        if message is not None:
            found.append((message, event))
    return found


def _refused(provider: str) -> HubError:
    return HubError("INVALID_SIGNATURE", f"The {provider} webhook's signature does not match this request")


async def receive_sendgrid_events(hub, body: bytes, signature: str | None, timestamp: str | None) -> int:
    """SendGrid's Event Webhook: every event's organization must have configured the
    verification key the batch is signed with. Events about messages the Hub did not send are
    left out; a batch with none of its messages, or a bad signature, is a 400."""
    import orjson

    try:
        events = webhooks.sendgrid_events(orjson.loads(body))
    except ValueError:
        raise _refused("SendGrid") from None
    found = await _messages_of("sendgrid", events)
    if not found:
        raise _refused("SendGrid")
    for org_id in {str(message.org_id) for message, _ in found}:
        config = await integration_config(org_id, "sendgrid")
        key = getattr(config, "event_webhook_public_key", None) if config is not None else None
        if not key or not webhooks.sendgrid_signature_valid(key, signature, timestamp, body):
            raise _refused("SendGrid")
    for message, event in found:
        await apply_event(hub, await Message.get(id=message.id), event)
    return len(found)


async def receive_mailgun_event(hub, body: Any) -> int:
    """One Mailgun webhook, signed with the organization's webhook signing key."""
    if not isinstance(body, dict):
        raise _refused("Mailgun")
    try:
        event = webhooks.mailgun_event(body.get("event-data"))
    except ValueError:
        raise _refused("Mailgun") from None
    if event is None:  # an event the Hub does not follow: still only for a signed request
        data = body.get("event-data") or {}
        event = webhooks.ProviderEvent(
            reference=str((data.get("user-variables") or {}).get("hub_message_id") or "") or None,
            provider_id=str(((data.get("message") or {}).get("headers") or {}).get("message-id") or "").strip("<>")
            or None, outcome="ignored", recipient=None, detail="")
    message = await _event_message("mailgun", event)
    if message is None:
        raise _refused("Mailgun")
    credentials = await integration_credentials(str(message.org_id), "mailgun")
    key = getattr(credentials, "webhook_signing_key", None) if credentials is not None else None
    max_age = settings(hub).mailgun_webhook_max_age_seconds
    if key is None or not webhooks.mailgun_signature_valid(key.get_secret_value(), body.get("signature"), max_age):
        raise _refused("Mailgun")
    if event.outcome == "ignored":
        return 0
    await apply_event(hub, message, event)
    return 1


async def receive_sns(hub, body: bytes) -> dict:
    """An SNS message for SES's notifications: verified with its signing certificate (on an
    allowed host) and from a topic listed in `sns_topic_arns` (any AWS account can sign its own
    topic's messages); a SubscriptionConfirmation is confirmed; a Notification's SES events
    update the messages they name."""
    import httpx
    import orjson

    limits = settings(hub)
    try:
        message = orjson.loads(body)
        if not isinstance(message, dict):
            raise TypeError("not an object")
        await aws.verify_sns(message, limits.sns_cert_hosts, _http_allowlist(hub), limits.aws_timeout_seconds)
    except (ValueError, TypeError) as error:
        raise HubError("INVALID_SIGNATURE", f"The SNS message is not verified: {error}") from None
    except httpx.HTTPError:
        raise HubError("INVALID_SIGNATURE", "The SNS signing certificate could not be fetched") from None
    kind, topic = message["Type"], message.get("TopicArn")
    # any AWS account can sign a message of its own topic: only the configured topics count
    if topic not in limits.sns_topic_arns:
        raise HubError("INVALID_SIGNATURE", f"The topic {topic} is not one of sns_topic_arns")
    if kind == "SubscriptionConfirmation":
        try:
            await aws.confirm_subscription(message, limits.sns_cert_hosts, _http_allowlist(hub),
                                           limits.aws_timeout_seconds)
        except (ValueError, httpx.HTTPError) as error:
            raise HubError("VALIDATION_ERROR", f"The subscription could not be confirmed: {error}"[:300]) from None
        return {"received": True, "type": kind, "applied": 0}
    if kind != "Notification":
        return {"received": True, "type": kind, "applied": 0}
    try:
        events = webhooks.ses_events(orjson.loads(message["Message"]))
    except ValueError:
        return {"received": True, "type": kind, "applied": 0}  # not an SES notification
    found = await _messages_of("aws_ses", events)
    for row, event in found:
        await apply_event(hub, await Message.get(id=row.id), event)
    return {"received": True, "type": kind, "applied": len(found)}


def _http_allowlist(hub) -> list[str]:
    """Where the SNS certificate may be fetched from despite the SSRF guard: the loopback and
    private origins named in sns_cert_hosts, and the webhooks allowlist."""
    from urllib.parse import urlsplit

    hosts = [urlsplit(entry).hostname or entry for entry in settings(hub).sns_cert_hosts]
    return [*hub.settings.webhooks.allowlist, *hosts]
