"""Messaging routes (seed 001 "Communication Providers"), at the root mount:

    POST   /api/v1/messages/email                     queue an email (202)            messaging.send
    POST   /api/v1/messages/sms                       queue an SMS (202)              messaging.send
    GET    /api/v1/messages                           ?status= ?channel=, paginated   messaging.read
    GET    /api/v1/messages/{id}                      one message and its history     messaging.read
    GET    /api/v1/messages/templates                 the templates, paginated        messaging.read
    POST   /api/v1/messages/templates                 create a template               messaging.templates
    GET    /api/v1/messages/templates/{id}            one template                    messaging.read
    PUT    /api/v1/messages/templates/{id}            change it                       messaging.templates
    DELETE /api/v1/messages/templates/{id}            delete it                       messaging.templates
    POST   /api/v1/messages/templates/{id}/preview    render it with template_data    messaging.read
    GET    /api/v1/messages/suppressions              ?address= ?reason=, paginated   messaging.read
    POST   /api/v1/messages/suppressions              suppress an address by hand     messaging.send
    DELETE /api/v1/messages/suppressions/{id}         send to it again                messaging.send
    POST   /api/v1/messages/callbacks/twilio          Twilio's delivery reports       public (signed)
    POST   /api/v1/messages/callbacks/sendgrid        SendGrid's Event Webhook        public (signed)
    POST   /api/v1/messages/callbacks/mailgun         Mailgun's webhooks              public (signed)
    POST   /api/v1/messages/callbacks/sns             SES notifications through SNS   public (signed)

Providers are connected per organization at /api/integrations/{provider}.
"""

from __future__ import annotations

from quart import Blueprint, request
from quart_schema import DataSource, document_request, document_response, validate_request, validate_response

from core import (
    OffsetQuery,
    current_hub,
    current_principal,
    document_errors,
    json_as_text,
    max_body,
    public,
    require,
    validate_query,
)
from plugins.integrations.messaging import service
from plugins.integrations.messaging.schemas import (
    CallbackReceived,
    EmailRequest,
    EventsReceived,
    MailgunWebhook,
    SendGridEvents,
    SnsMessage,
    SnsReceived,
    SuppressionCreate,
    SuppressionList,
    SuppressionOut,
    SuppressionQuery,
    MessageAccepted,
    MessageList,
    MessageOut,
    MessageQuery,
    SmsRequest,
    TemplateCreate,
    TemplateList,
    TemplateOut,
    TemplatePreview,
    TemplatePreviewRequest,
    TemplateUpdate,
    TwilioStatusCallback,
)

bp = Blueprint("messaging", __name__)


def _send_body_limit(hub) -> int:
    return hub.plugin_settings("messaging").max_body_bytes()


@bp.post("/api/v1/messages/email")
@require("messaging.send")
@max_body(_send_body_limit)
@validate_request(EmailRequest)
@validate_response(MessageAccepted, 202)
@document_errors(404, 413)
async def messaging_send_email(data: EmailRequest):
    """Queue an email.

    To `to`, `cc` and `bcc` (50 each at most), with `content.text` and/or `content.html` and a
    `subject`, or a template (`template_id` + `template_data`) giving what the body leaves out;
    a text part is made from the HTML when there is none. Attachments are base64 in the body,
    together at most `max_attachment_bytes` decoded (413 above). Sent through the organization's
    SMTP integration by a job, retried with back-off on passing failures: follow it at
    GET /api/v1/messages/{id}."""
    principal = current_principal()
    return await service.queue_email(current_hub(), principal.org_id, principal.user_id, data), 202


@bp.post("/api/v1/messages/sms")
@require("messaging.send")
@validate_request(SmsRequest)
@validate_response(MessageAccepted, 202)
@document_errors(404)
async def messaging_send_sms(data: SmsRequest):
    """Queue an SMS.

    To one number in E.164 form (+14155550100), with `message` (1600 characters at most) or a
    template; `media_urls` (https) make it an MMS. Sent through the organization's Twilio
    integration by a job, retried with back-off on passing failures."""
    principal = current_principal()
    return await service.queue_sms(current_hub(), principal.org_id, principal.user_id, data), 202


@bp.get("/api/v1/messages")
@require("messaging.read")
@validate_query(MessageQuery)
@document_response(MessageList)
async def messaging_list_messages(query_args: MessageQuery):
    """The organization's messages, newest first; `?status=` and `?channel=` filter them."""
    page = query_args.page()
    query = service.messages_query(current_principal().org_id, query_args.status, query_args.channel)
    rows, total = await page.fetch(query, "-created_at")
    return page.listing("messages", [service.message_body(row) for row in rows], total)


# -- templates (before /messages/{id}, which would take "templates" for an id) -----------------


@bp.get("/api/v1/messages/templates")
@require("messaging.read")
@validate_query(OffsetQuery)
@document_response(TemplateList)
async def messaging_list_templates(query_args: OffsetQuery):
    """The organization's templates, by name."""
    from plugins.integrations.messaging.models import MessageTemplate

    page = query_args.page()
    rows, total = await page.fetch(MessageTemplate.for_org(current_principal().org_id), "name")
    return page.listing("templates", [service.template_body(row) for row in rows], total)


@bp.post("/api/v1/messages/templates")
@require("messaging.templates")
@validate_request(TemplateCreate)
@validate_response(TemplateOut, 201)
@document_errors(409)
async def messaging_create_template(data: TemplateCreate):
    """Create a template: Jinja2 (`{{ name }}`, `{% if %}`, filters) rendered in a sandbox, its
    HTML autoescaped. A template that does not parse is a 400 TEMPLATE_ERROR; names are unique."""
    row = await service.create_template(current_principal().org_id, data.model_dump())
    return service.template_body(row), 201


@bp.get("/api/v1/messages/templates/<message_template_id>")
@require("messaging.read")
@validate_response(TemplateOut)
async def messaging_get_template(message_template_id: str):
    """One template."""
    return service.template_body(await service.get_template(current_principal().org_id, message_template_id))


@bp.put("/api/v1/messages/templates/<message_template_id>")
@require("messaging.templates")
@validate_request(TemplateUpdate)
@validate_response(TemplateOut)
@document_errors(409)
async def messaging_update_template(message_template_id: str, data: TemplateUpdate):
    """Change a template's fields (those given)."""
    row = await service.update_template(current_principal().org_id, message_template_id, data.model_dump(exclude_unset=True))
    return service.template_body(row)


@bp.delete("/api/v1/messages/templates/<message_template_id>")
@require("messaging.templates")
@document_response(None, 204)
async def messaging_delete_template(message_template_id: str):
    """Delete a template (messages sent with it keep its id)."""
    await service.delete_template(current_principal().org_id, message_template_id)
    return "", 204


@bp.post("/api/v1/messages/templates/<message_template_id>/preview")
@require("messaging.read")
@validate_request(TemplatePreviewRequest)
@validate_response(TemplatePreview)
async def messaging_preview_template(message_template_id: str, data: TemplatePreviewRequest):
    """Render a template with `template_data` as it would be sent (the text part made from the
    HTML when the template has none). A missing variable or an unsafe expression is a 400
    TEMPLATE_ERROR naming the part."""
    row = await service.get_template(current_principal().org_id, message_template_id)
    return service.render_template(row, data.template_data)


# -- suppressions -----------------------------------------------------------------------------


@bp.get("/api/v1/messages/suppressions")
@require("messaging.read")
@validate_query(SuppressionQuery)
@document_response(SuppressionList)
async def messaging_list_suppressions(query_args: SuppressionQuery):
    """The organization's suppressed addresses, newest first: bounced, complained or
    unsubscribed (reported by a provider's webhook) or added by hand. Sends skip them."""
    page = query_args.page()
    query = service.suppressions_query(current_principal().org_id, query_args.address, query_args.reason)
    rows, total = await page.fetch(query, "-created_at")
    return page.listing("suppressions", [service.suppression_body(row) for row in rows], total)


@bp.post("/api/v1/messages/suppressions")
@require("messaging.send")
@validate_request(SuppressionCreate)
@validate_response(SuppressionOut, 201)
@document_errors(409)
async def messaging_add_suppression(data: SuppressionCreate):
    """Suppress an email address or phone number by hand (reason `manual`); 409 when it is already."""
    row = await service.add_suppression(current_principal().org_id, data.address, data.detail)
    return service.suppression_body(row), 201


@bp.delete("/api/v1/messages/suppressions/<suppression_id>")
@require("messaging.send")
@document_response(None, 204)
async def messaging_remove_suppression(suppression_id: str):
    """Lift a suppression: later messages go to the address again."""
    await service.remove_suppression(current_principal().org_id, suppression_id)
    return "", 204


@bp.get("/api/v1/messages/<message_id>")
@require("messaging.read")
@validate_response(MessageOut)
async def messaging_get_message(message_id: str):
    """One message with its status history (queued, sending, sent or failed, with the
    provider's message id and error)."""
    return service.message_body(await service.get_message(current_principal().org_id, message_id))


@bp.post("/api/v1/messages/callbacks/twilio")
@public
@document_request(TwilioStatusCallback, source=DataSource.FORM)
@document_response(CallbackReceived)
async def messaging_twilio_status():
    """Receive Twilio's delivery report of an SMS.

    The StatusCallback the Hub gives Twilio when `public_url` is set: signed by Twilio with the
    organization's auth token (`X-Twilio-Signature` over the URL and every form field); a bad or
    missing signature, or a message the Hub did not send, is 400 and changes nothing.
    `delivered` marks the message delivered, `undelivered` and `failed` failed (with Twilio's
    error code); other statuses are acknowledged."""
    form = (await request.form).to_dict()
    message = await service.receive_twilio_status(current_hub(), form, request.headers.get("X-Twilio-Signature"))
    return {"received": True, "status": message.status}


@bp.post("/api/v1/messages/callbacks/sendgrid")
@public
@max_body(1024 * 1024)
@document_request(SendGridEvents)
@document_response(EventsReceived)
async def messaging_sendgrid_events():
    """Receive SendGrid's Event Webhook (a JSON array of events).

    Verified with the organization's `eventWebhookPublicKey` (the SendGrid integration's config):
    `X-Twilio-Email-Event-Webhook-Signature` is ECDSA over the
    `X-Twilio-Email-Event-Webhook-Timestamp` header and the body. `delivered` marks the message
    delivered, `bounce` bounced (the address suppressed), `dropped` and blocks failed,
    `spamreport`/`unsubscribe`/`group_unsubscribe` suppress the address. A bad signature, or a
    batch about no message of the Hub, is 400 INVALID_SIGNATURE and changes nothing."""
    applied = await service.receive_sendgrid_events(
        current_hub(), await request.get_data(as_text=False),
        request.headers.get("X-Twilio-Email-Event-Webhook-Signature"),
        request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp"))
    return {"received": True, "applied": applied}


@bp.post("/api/v1/messages/callbacks/mailgun")
@public
@max_body(1024 * 1024)
@document_request(MailgunWebhook)
@document_response(EventsReceived)
async def messaging_mailgun_event():
    """Receive a Mailgun webhook (`{signature: {timestamp, token, signature}, "event-data"}`).

    Verified with the organization's `webhookSigningKey` (HMAC-SHA256 of timestamp + token; the
    timestamp at most `mailgun_webhook_max_age_seconds` old). `delivered` marks the message
    delivered, a permanent `failed` bounced (reason bounce: the address suppressed) or failed,
    `complained`/`unsubscribed` suppress the address; others are acknowledged."""
    body = await request.get_json(force=True, silent=True)
    applied = await service.receive_mailgun_event(current_hub(), body)
    return {"received": True, "applied": applied}


@bp.post("/api/v1/messages/callbacks/sns")
@json_as_text  # SNS posts its JSON as text/plain
@public
@max_body(256 * 1024)
@document_request(SnsMessage)
@document_response(SnsReceived)
async def messaging_sns_notification():
    """Receive an SNS message: SES's bounce, complaint and delivery notifications.

    The message's signature is checked with the certificate at its `SigningCertURL`, which must
    be on `sns.<region>.amazonaws.com` (https) or a host of `sns_cert_hosts`; a bad one is 400
    INVALID_SIGNATURE. Only topics in `sns_topic_arns` are taken (others are 400): a
    SubscriptionConfirmation is confirmed (its SubscribeURL visited), a Notification's SES
    bounces, complaints and deliveries update the messages they name."""
    return await service.receive_sns(current_hub(), await request.get_data(as_text=False))
