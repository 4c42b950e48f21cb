"""Request and response shapes of the messaging plugin (seed 001 "Communication Providers":
EmailRequest/EmailResponse, SMSRequest/SMSResponse)."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    RootModel,
    field_validator,
    model_validator,
)

from core import Blankable, EventPayload, OffsetQuery, Pagination

CHANNELS = Literal["email", "sms"]
STATUSES = Literal["queued", "sending", "sent", "delivered", "failed", "bounced", "suppressed"]
EMAIL_PROVIDERS = Literal["smtp", "sendgrid", "aws_ses", "mailgun"]
SMS_PROVIDERS = Literal["twilio", "aws_sns", "messagebird"]
MAX_RECIPIENTS = 50
MAX_TEMPLATE_DATA_BYTES = 64 * 1024
MAX_PART_CHARS = 1_000_000


def _phone(value: str) -> str:
    """E.164: "+" and 7 to 15 digits; spaces, dashes and brackets people write are dropped."""
    digits = re.sub(r"[\s()-]", "", value)
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", digits):
        raise ValueError("must be a phone number in E.164 form, e.g. +14155550100")
    return digits


Address = Annotated[EmailStr, Field(max_length=320)]
Phone = Annotated[str, Field(min_length=8, max_length=24, pattern=r"^\+[1-9][0-9 ()-]{6,22}$"),
                  AfterValidator(_phone)]
TemplateData = Annotated[dict[str, Any], Field(json_schema_extra={
    "x-bounded-by": f"at most {MAX_TEMPLATE_DATA_BYTES} bytes of JSON (checked), inside the send body's size limit"})]


def _bounded_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    if data is not None and len(orjson.dumps(data)) > MAX_TEMPLATE_DATA_BYTES:
        raise ValueError(f"must be at most {MAX_TEMPLATE_DATA_BYTES} bytes of JSON")
    return data


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class EmailContent(Strict):
    text: str | None = Field(None, max_length=MAX_PART_CHARS)
    html: str | None = Field(None, max_length=MAX_PART_CHARS)


class EmailAttachment(Strict):
    filename: str = Field(min_length=1, max_length=255, pattern=r"^[^/\\\r\n\x00]+$")
    content: str = Field(min_length=1, max_length=200 * 1024 * 1024, description="the file, in base64",
                         json_schema_extra={"x-bounded-by": "the plugin's max_attachment_bytes (a 413 above it)"})
    content_type: str = Field("application/octet-stream", max_length=255, description="a MIME type: type/subtype")

    def size(self) -> int:
        try:
            return len(base64.b64decode(self.content, validate=True))
        except (binascii.Error, ValueError):
            raise ValueError("content must be base64") from None

    @field_validator("content_type")
    @classmethod
    def _mime_type(cls, content_type: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*", content_type):
            raise ValueError("must be a MIME type such as application/pdf")
        return content_type.lower()

    @field_validator("content")
    @classmethod
    def _base64(cls, content: str) -> str:
        if len(content) % 4 or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", content):
            raise ValueError("must be base64 (standard alphabet, padded)")
        return content


class EmailRequest(Strict):
    """Seed 001's EmailRequest: `content` (text and/or html) and `subject`, or a template
    (`template_id` + `template_data`), which gives whatever the body leaves out."""

    provider: EMAIL_PROVIDERS = Field("smtp", description="the organization's connected integration")
    to: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    cc: list[Address] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[Address] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    from_: Address | None = Field(None, alias="from", description="default: the SMTP integration's from address")
    reply_to: Address | None = None
    subject: str | None = Field(None, min_length=1, max_length=998, pattern=r"^[^\r\n]*$")  # a header: one line
    content: EmailContent | None = None
    template_id: uuid.UUID | None = None
    template_data: TemplateData | None = None
    attachments: list[EmailAttachment] = Field(default_factory=list, max_length=100)

    # what the validator below says, for clients and generators: content, or a template
    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["to", "subject", "content"]},
                                                           {"required": ["to", "template_id"]}]})

    _data = field_validator("template_data")(classmethod(lambda cls, value: _bounded_data(value)))

    @model_validator(mode="after")
    def _something_to_send(self) -> "EmailRequest":
        if self.template_id is None and (not self.subject or self.content is None):
            raise ValueError("subject and content are required without a template_id")
        return self


class SmsRequest(Strict):
    """Seed 001's SMSRequest; `message` or a template."""

    provider: SMS_PROVIDERS = Field("twilio", description="the organization's connected integration")
    to: Phone
    from_: Phone | None = Field(None, alias="from", description="default: the Twilio integration's number")
    message: str | None = Field(None, min_length=1, max_length=1600)
    media_urls: list[Annotated[str, Field(max_length=2000, pattern=r"^https://[^\s]+$")]] = Field(
        default_factory=list, max_length=10)
    template_id: uuid.UUID | None = None
    template_data: TemplateData | None = None

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": ["to", "message"]},
                                                           {"required": ["to", "template_id"]}]})

    _data = field_validator("template_data")(classmethod(lambda cls, value: _bounded_data(value)))

    @model_validator(mode="after")
    def _something_to_send(self) -> "SmsRequest":
        if self.template_id is None and not self.message:
            raise ValueError("message is required without a template_id")
        if self.media_urls and self.provider == "aws_sns":
            raise ValueError("aws_sns sends no MMS: media_urls need twilio or messagebird")
        return self


class MessageAccepted(BaseModel):
    """Seed 001's EmailResponse / SMSResponse, as the send is queued."""

    id: str
    message_id: str
    status: STATUSES
    channel: CHANNELS
    provider: str
    job_id: str | None
    provider_response: dict[str, Any] | None = None
    timestamp: datetime


class HistoryEntry(BaseModel):
    status: str
    at: datetime
    detail: str | None = None


class MessageOut(BaseModel):
    id: str
    message_id: str
    channel: CHANNELS
    provider: str
    status: STATUSES
    to: list[str]
    cc: list[str]
    bcc: list[str]
    from_: str | None = Field(None, alias="from")
    subject: str | None
    template_id: str | None
    provider_message_id: str | None
    provider_response: dict[str, Any] | None = None
    error: str | None
    attempts: int
    job_id: str | None
    history: list[HistoryEntry]
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(populate_by_name=True)


class MessageList(BaseModel):
    messages: list[MessageOut]
    total: int | None
    pagination: Pagination


class MessageQuery(OffsetQuery):
    status: Blankable[STATUSES] = None
    channel: Blankable[CHANNELS] = None


# -- templates ----------------------------------------------------------------------------------


class TemplateCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    channel: CHANNELS = "email"
    description: str = Field("", max_length=1000)
    subject: str | None = Field(None, max_length=2000)
    html: str | None = Field(None, max_length=MAX_PART_CHARS)
    text: str | None = Field(None, max_length=MAX_PART_CHARS)

    @model_validator(mode="after")
    def _has_a_body(self) -> "TemplateCreate":
        if not (self.html or self.text):
            raise ValueError("a template needs html or text")
        if self.channel == "sms" and self.html:
            raise ValueError("an sms template has text only")
        return self


class TemplateUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=1000)
    subject: str | None = Field(None, max_length=2000)
    html: str | None = Field(None, max_length=MAX_PART_CHARS)
    text: str | None = Field(None, max_length=MAX_PART_CHARS)


class TemplateOut(BaseModel):
    id: str
    name: str
    channel: CHANNELS
    description: str
    subject: str | None
    html: str | None
    text: str | None
    created_at: datetime
    updated_at: datetime


class TemplateList(BaseModel):
    templates: list[TemplateOut]
    total: int | None
    pagination: Pagination


class TemplatePreviewRequest(Strict):
    template_data: TemplateData = Field(default_factory=dict)

    _data = field_validator("template_data")(classmethod(lambda cls, value: _bounded_data(value)))


class TemplatePreview(BaseModel):
    subject: str | None
    html: str | None
    text: str | None


# -- events -------------------------------------------------------------------------------------


class MessageEvent(EventPayload):
    id: str
    channel: CHANNELS
    provider: str
    status: STATUSES
    provider_message_id: str | None = None
    error: str | None = None


EVENT_TYPES = (
    ("messaging.sent", MessageEvent, "An email or SMS was handed to its provider"),
    ("messaging.delivered", MessageEvent, "The provider reported a message delivered"),
    ("messaging.bounced", MessageEvent, "The provider reported an email bounced (its address is now suppressed)"),
    ("messaging.failed", MessageEvent, "An email or SMS could not be sent (after its retries), or its provider "
                                       "reported it undelivered"),
)


class TwilioStatusCallback(BaseModel):
    """The form Twilio posts to a message's StatusCallback (the fields the Hub reads; Twilio
    sends more, all covered by its X-Twilio-Signature)."""

    MessageSid: str = Field(max_length=64)
    AccountSid: str = Field(max_length=64)
    MessageStatus: str = Field(max_length=32)
    ErrorCode: str | None = Field(None, max_length=16)


class CallbackReceived(BaseModel):
    received: bool
    status: STATUSES


class EventsReceived(BaseModel):
    """What a provider's event webhook changed: the events about messages of the Hub it applied."""

    received: bool
    applied: int


class SnsReceived(BaseModel):
    received: bool
    type: str
    applied: int = 0


# -- suppressions -------------------------------------------------------------------------------

SUPPRESSION_REASONS = Literal["bounce", "complaint", "unsubscribe", "manual"]


class SuppressionCreate(Strict):
    address: str = Field(min_length=3, max_length=320, description="an email address or a phone number (E.164)")
    detail: str = Field("", max_length=500)

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        from pydantic import TypeAdapter

        value = value.strip()
        if value.startswith("+"):
            return _phone(value)
        return TypeAdapter(EmailStr).validate_python(value).lower()


class SuppressionOut(BaseModel):
    id: str
    address: str
    reason: SUPPRESSION_REASONS
    provider: str | None
    message_id: str | None
    detail: str
    created_at: datetime


class SuppressionList(BaseModel):
    suppressions: list[SuppressionOut]
    total: int | None
    pagination: Pagination


class SuppressionQuery(OffsetQuery):
    address: Blankable[str] = Field(None, max_length=320)
    reason: Blankable[SUPPRESSION_REASONS] = None


# -- the providers' webhook bodies (documented; the routes read them raw, to verify signatures) -


# The provider callbacks below document what the Hub reads; the routes verify the signature over
# the raw body (bounded by the body size limit) and read these fields by name, so the bounds here
# are the providers' own sizes, generous, and fields the Hub does not read are ignored.
class SendGridEvent(BaseModel):
    """One event of SendGrid's Event Webhook (the fields the Hub reads; the array is signed whole)."""

    email: str = Field(max_length=320)
    event: str = Field(max_length=50, description="delivered, bounce, dropped, spamreport, unsubscribe, group_unsubscribe, ...")
    timestamp: int = Field(ge=0, le=2**40)
    sg_message_id: str | None = Field(None, max_length=255)
    type: str | None = Field(None, max_length=20, description="a bounce's kind: bounce or blocked")
    reason: str | None = Field(None, max_length=2000, description="the provider's reason (the message's history keeps 200 characters)")
    hub_message_id: str | None = Field(None, max_length=64, description="the custom arg the Hub sends with each email")


class SendGridEvents(RootModel[Annotated[list[SendGridEvent], Field(max_length=10_000)]]):
    pass


class MailgunSignature(BaseModel):
    timestamp: str = Field(max_length=20)
    token: str = Field(max_length=100)
    signature: str = Field(max_length=128)


class MailgunWebhook(BaseModel):
    """A Mailgun webhook: its signature and the event (`event`, `severity`, `reason`,
    `recipient`, `message.headers.message-id`, `user-variables`, `delivery-status`)."""

    signature: MailgunSignature
    event_data: dict[str, Any] = Field(alias="event-data", json_schema_extra={
        "x-bounded-by": "the body size limit; the Hub reads Mailgun's named fields only, after the signature checks"})


class SnsMessage(BaseModel):
    """An SNS message as SNS posts it (Content-Type text/plain, a JSON body)."""

    Type: Literal["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"]
    MessageId: str = Field(max_length=100)
    TopicArn: str = Field(max_length=256)
    Message: str = Field(max_length=262_144, description="SNS's own limit: 256 KiB")
    Timestamp: str = Field(max_length=40)
    SignatureVersion: Literal["1", "2"]
    Signature: str = Field(max_length=2048)
    SigningCertURL: str = Field(max_length=2048)
    Subject: str | None = Field(None, max_length=100, description="SNS's own limit")
    SubscribeURL: str | None = Field(None, max_length=2048)
    Token: str | None = Field(None, max_length=2048)
