"""The integrations an organization connects to send messages (`/api/integrations/smtp` and
`/api/integrations/twilio`): their credentials (kept encrypted by the core, shown masked),
their visible config, and connection tests that really talk to the provider."""

from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field, SecretStr

from core import CamelModel, IntegrationConfig, IntegrationContext
from plugins.integrations.messaging.providers import sendgrid_check, smtp_check, twilio_check

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


async def check_twilio(ctx: IntegrationContext) -> None:
    settings = ctx.hub.plugin_settings("messaging")
    await twilio_check(ctx.credentials, settings.twilio_base_url, settings.twilio_timeout_seconds)


INTEGRATIONS = (
    ("smtp", "SMTP", "email", "messaging", SmtpCredentials, SmtpConfig, check_smtp,
     "Email through your own SMTP server (STARTTLS, TLS or plain; AUTH when a username is given)"),
    ("sendgrid", "SendGrid", "email", "messaging", SendGridCredentials, SendGridConfig, check_sendgrid,
     "Email through a SendGrid account (its v3 API)"),
    ("twilio", "Twilio", "sms", "messaging", TwilioCredentials, TwilioConfig, check_twilio,
     "SMS and MMS through a Twilio account"),
)
