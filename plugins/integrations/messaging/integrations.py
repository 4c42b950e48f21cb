"""The integrations an organization connects to send messages (`/api/integrations/{id}`: smtp,
sendgrid, aws_ses, mailgun, twilio, aws_sns, messagebird): their credentials (kept encrypted by the core, shown masked),
their visible config, and connection tests that really talk to the provider."""

from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field, SecretStr, field_validator

from core import CamelModel, IntegrationConfig, IntegrationContext
from plugins.integrations.messaging.aws import ses_check, sns_check
from plugins.integrations.messaging.providers import (
    mailgun_check,
    messagebird_check,
    sendgrid_check,
    smtp_check,
    twilio_check,
)

E164 = r"^\+[1-9][0-9]{6,14}$"


class SmtpCredentials(CamelModel):
    username: str | None = Field(None, max_length=320)  # none: the server takes mail without AUTH
    password: SecretStr | None = Field(None, max_length=1000)


class SmtpConfig(IntegrationConfig):
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_address: EmailStr = Field(description="the sender when a message names none")


class SendGridCredentials(CamelModel):
    api_key: SecretStr = Field(min_length=8, max_length=200)


class SendGridConfig(IntegrationConfig):
    from_address: EmailStr = Field(description="the sender (a verified sender of the account) when a message names none")
    event_webhook_public_key: str | None = Field(None, max_length=1000, description=(
        "the Event Webhook's verification key (Mail Settings > Event Webhook > Signature Verification): "
        "events posted to /api/v1/messages/callbacks/sendgrid are checked with it"))

    @field_validator("event_webhook_public_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value:
            from plugins.integrations.messaging.webhooks import load_sendgrid_key

            try:
                load_sendgrid_key(value)
            except (ValueError, TypeError):
                raise ValueError("must be SendGrid's verification key (a base64 ECDSA public key)") from None
        return value or None


class MailgunCredentials(CamelModel):
    api_key: SecretStr = Field(min_length=8, max_length=200)
    webhook_signing_key: SecretStr | None = Field(None, min_length=8, max_length=200, description=(
        "the HTTP webhook signing key: webhooks posted to /api/v1/messages/callbacks/mailgun are checked with it"))


class MailgunConfig(IntegrationConfig):
    domain: str = Field(min_length=3, max_length=253, pattern=r"^[A-Za-z0-9.-]+$", description="the sending domain")
    from_address: EmailStr = Field(description="the sender when a message names none")


class AwsCredentials(CamelModel):
    access_key_id: str = Field(min_length=16, max_length=128, pattern=r"^[A-Z0-9]+$")
    secret_access_key: SecretStr = Field(min_length=16, max_length=128)


AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-[0-9]$"


class SesConfig(IntegrationConfig):
    region: str = Field("us-east-1", pattern=AWS_REGION)
    from_address: EmailStr = Field(description="the sender (a verified SES identity) when a message names none")
    configuration_set: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description=(
        "the configuration set whose event destination (an SNS topic) reports bounces and deliveries"))


class SnsConfig(IntegrationConfig):
    region: str = Field("us-east-1", pattern=AWS_REGION)
    sms_type: Literal["Transactional", "Promotional"] = "Transactional"
    sender_id: str | None = Field(None, pattern=r"^[A-Za-z0-9-]*[A-Za-z][A-Za-z0-9-]*$", max_length=11,
                                  description="the alphanumeric sender ID, where the country allows one")
    origination_number: str | None = Field(None, pattern=E164, description="the sender number when a message names none")


class MessageBirdCredentials(CamelModel):
    access_key: SecretStr = Field(min_length=8, max_length=200)


class MessageBirdConfig(IntegrationConfig):
    originator: str = Field(pattern=r"^(\+[1-9][0-9]{6,14}|[A-Za-z0-9 ]*[A-Za-z][A-Za-z0-9 ]*)$", max_length=16,
                            description="the sender: a number (E.164) or up to 11 letters and digits")


class TwilioCredentials(CamelModel):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr = Field(min_length=8, max_length=200)


class TwilioConfig(IntegrationConfig):
    from_number: str = Field(pattern=E164, description="the sender (E.164) when a message names none")


def smtp_allowlist(hub) -> list[str]:
    return [*hub.settings.webhooks.allowlist, *hub.plugin_settings("messaging").smtp_allowlist]


async def check_smtp(ctx: IntegrationContext) -> None:
    settings = ctx.hub.plugin_settings("messaging")
    await smtp_check(ctx.config, ctx.credentials, settings.smtp_timeout_seconds, smtp_allowlist(ctx.hub))


async def check_sendgrid(ctx: IntegrationContext) -> None:
    settings = ctx.hub.plugin_settings("messaging")
    await sendgrid_check(ctx.credentials, settings.sendgrid_base_url, settings.sendgrid_timeout_seconds)


async def check_mailgun(ctx: IntegrationContext) -> None:
    settings = ctx.hub.plugin_settings("messaging")
    await mailgun_check(ctx.credentials, ctx.config, settings.mailgun_base_url, settings.mailgun_timeout_seconds)


async def check_ses(ctx: IntegrationContext) -> None:
    settings = ctx.hub.plugin_settings("messaging")
    await ses_check(ctx.credentials, ctx.config, settings.aws_endpoint_url, settings.aws_timeout_seconds)


async def check_sns(ctx: IntegrationContext) -> None:
    settings = ctx.hub.plugin_settings("messaging")
    await sns_check(ctx.credentials, ctx.config, settings.aws_endpoint_url, settings.aws_timeout_seconds)


async def check_messagebird(ctx: IntegrationContext) -> None:
    settings = ctx.hub.plugin_settings("messaging")
    await messagebird_check(ctx.credentials, settings.messagebird_base_url, settings.messagebird_timeout_seconds)


async def check_twilio(ctx: IntegrationContext) -> None:
    settings = ctx.hub.plugin_settings("messaging")
    await twilio_check(ctx.credentials, settings.twilio_base_url, settings.twilio_timeout_seconds)


INTEGRATIONS = (
    ("smtp", "SMTP", "email", "messaging", SmtpCredentials, SmtpConfig, check_smtp,
     "Email through your own SMTP server (STARTTLS, TLS or plain; AUTH when a username is given)"),
    ("sendgrid", "SendGrid", "email", "messaging", SendGridCredentials, SendGridConfig, check_sendgrid,
     "Email through a SendGrid account (its v3 API)"),
    ("aws_ses", "Amazon SES", "email", "messaging", AwsCredentials, SesConfig, check_ses,
     "Email through Amazon Simple Email Service (bounces and complaints through SNS)"),
    ("mailgun", "Mailgun", "email", "messaging", MailgunCredentials, MailgunConfig, check_mailgun,
     "Email through a Mailgun domain (its HTTP API and signed webhooks)"),
    ("twilio", "Twilio", "sms", "messaging", TwilioCredentials, TwilioConfig, check_twilio,
     "SMS and MMS through a Twilio account"),
    ("aws_sns", "Amazon SNS", "sms", "messaging", AwsCredentials, SnsConfig, check_sns,
     "SMS through Amazon Simple Notification Service"),
    ("messagebird", "MessageBird", "sms", "messaging", MessageBirdCredentials, MessageBirdConfig,
     check_messagebird, "SMS and MMS through a MessageBird account"),
)
