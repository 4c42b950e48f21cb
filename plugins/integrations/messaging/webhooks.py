"""The providers' event webhooks, without HTTP: their signatures and what their events mean.

    SendGrid  Event Webhook: a JSON array of events; `X-Twilio-Email-Event-Webhook-Signature` is
              an ECDSA (P-256, SHA-256) signature, base64 DER, of the
              `X-Twilio-Email-Event-Webhook-Timestamp` header followed by the raw body, checked with
              the account's verification key (base64 DER public key, the integration's
              `eventWebhookPublicKey`)
    Mailgun   webhooks: `{signature: {timestamp, token, signature}, "event-data": {...}}`; the
              signature is hex HMAC-SHA256 of timestamp + token with the webhook signing key
    SES       notifications through SNS (aws.py verifies the SNS message): `notificationType`
              (or `eventType`) Bounce, Complaint, Delivery, Reject

Each provider's events become `ProviderEvent`s: the message they are about (the Hub's id we gave
the provider, or the provider's message id), an outcome and the recipient. Outcomes:
`delivered`, `bounced` (a permanent bounce: the address is suppressed), `failed`, `complained`
and `unsubscribed` (suppressed, the message's status unchanged); others are ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

OUTCOMES = ("delivered", "bounced", "failed", "complained", "unsubscribed")


@dataclass(frozen=True)
class ProviderEvent:
    reference: str | None  # the Hub's message id, when the provider echoes it (custom args, variables)
    provider_id: str | None  # the provider's message id
    outcome: str
    recipient: str | None
    detail: str


# -- SendGrid ---------------------------------------------------------------------------------------


def load_sendgrid_key(value: str):
    """The Event Webhook's verification key as SendGrid shows it (base64 DER; a PEM is taken too)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

    text = value.strip()
    key = load_pem_public_key(text.encode()) if text.startswith("-----") else load_der_public_key(
        base64.b64decode(text, validate=True))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve public key")
    return key


def sendgrid_signature_valid(public_key: str, signature: str | None, timestamp: str | None, body: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature or not timestamp:
        return False
    try:
        key = load_sendgrid_key(public_key)
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


_SENDGRID = {"delivered": "delivered", "bounce": "bounced", "dropped": "failed", "spamreport": "complained",
             "unsubscribe": "unsubscribed", "group_unsubscribe": "unsubscribed"}


def sendgrid_events(events: Any) -> list[ProviderEvent]:
    if not isinstance(events, list):
        raise ValueError("the Event Webhook posts a JSON array")
    found = []
    for event in events:
        if not isinstance(event, dict):
            continue
        outcome = _SENDGRID.get(str(event.get("event")))
        if outcome == "bounced" and event.get("type") == "blocked":
            outcome = "failed"  # a block (the receiving server refused for now): not a bad address
        if outcome is None:
            continue
        sg_id = str(event.get("sg_message_id") or "")
        reason = event.get("reason") or event.get("response") or ""
        found.append(ProviderEvent(
            reference=str(event["hub_message_id"]) if event.get("hub_message_id") else None,
            provider_id=sg_id.split(".", 1)[0] or None, outcome=outcome, recipient=event.get("email"),
            detail=f"sendgrid: {event['event']}" + (f" ({str(reason)[:200]})" if reason else "")))
    return found


# -- Mailgun ----------------------------------------------------------------------------------------


def mailgun_signature_valid(signing_key: str, signature: Any, max_age_seconds: float) -> bool:
    if not isinstance(signature, dict):
        return False
    timestamp, token, given = (str(signature.get(name, "")) for name in ("timestamp", "token", "signature"))
    if not (timestamp.isdigit() and token and given):
        return False
    if abs(time.time() - int(timestamp)) > max_age_seconds:
        return False
    expected = hmac.new(signing_key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def mailgun_event(data: Any) -> ProviderEvent | None:
    if not isinstance(data, dict):
        raise ValueError("event-data is missing")
    name, severity, reason = data.get("event"), data.get("severity"), data.get("reason") or ""
    outcome = {"delivered": "delivered", "complained": "complained", "unsubscribed": "unsubscribed"}.get(name)
    if name == "failed" and severity == "permanent":
        outcome = "bounced" if reason in ("bounce", "suppress-bounce") else "failed"
    if outcome is None:
        return None  # accepted, opened, clicked, a temporary failure (Mailgun retries it)...
    headers = (data.get("message") or {}).get("headers") or {}
    variables = data.get("user-variables") or {}
    status = data.get("delivery-status") or {}
    text = status.get("description") or status.get("message") or reason
    return ProviderEvent(reference=str(variables["hub_message_id"]) if variables.get("hub_message_id") else None,
                         provider_id=str(headers.get("message-id") or "").strip("<>") or None, outcome=outcome,
                         recipient=data.get("recipient"),
                         detail=f"mailgun: {name}" + (f" ({str(text)[:200]})" if text else ""))


# -- SES (inside an SNS notification) ---------------------------------------------------------------


def ses_events(notification: Any) -> list[ProviderEvent]:
    if not isinstance(notification, dict):
        raise ValueError("the SES notification is not a JSON object")
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = notification.get("mail") or {}
    message_id = mail.get("messageId")
    found = []
    if kind == "Bounce":
        bounce = notification.get("bounce") or {}
        permanent = bounce.get("bounceType") == "Permanent"
        for recipient in bounce.get("bouncedRecipients", []):
            detail = f"ses: {bounce.get('bounceType')} bounce ({bounce.get('bounceSubType')}"
            detail += f": {recipient.get('diagnosticCode')})" if recipient.get("diagnosticCode") else ")"
            if permanent:
                found.append(ProviderEvent(None, message_id, "bounced", recipient.get("emailAddress"), detail[:300]))
    elif kind == "Complaint":
        complaint = notification.get("complaint") or {}
        for recipient in complaint.get("complainedRecipients", []):
            found.append(ProviderEvent(None, message_id, "complained", recipient.get("emailAddress"),
                                       f"ses: complaint ({complaint.get('complaintFeedbackType') or 'abuse'})"))
    elif kind == "Delivery":
        for recipient in (notification.get("delivery") or {}).get("recipients", []):
            found.append(ProviderEvent(None, message_id, "delivered", recipient, "ses: delivered"))
    elif kind == "Reject":
        reason = (notification.get("reject") or {}).get("reason", "")
        found.append(ProviderEvent(None, message_id, "failed", None, f"ses: rejected ({reason})"[:300]))
    return found
