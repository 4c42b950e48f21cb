"""Settings of the messaging plugin: `[plugins.messaging]` in config/hub.toml,
`HUB_PLUGINS__MESSAGING__<KEY>` in the environment. Provider credentials are not settings:
each organization connects its own at `/api/integrations/{provider}`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core import CommaList


# every provider and its channel
PROVIDERS = {"smtp": "email", "sendgrid": "email", "aws_ses": "email", "mailgun": "email",
             "twilio": "sms", "aws_sns": "sms", "messagebird": "sms"}


class MessagingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_attachment_bytes: int = Field(10 * 1024 * 1024, ge=1, le=100 * 1024 * 1024,
                                      description="the decoded size of one email's attachments, all together")
    max_attachments: int = Field(10, ge=0, le=100, description="attachments one email may carry")
    send_attempts: int = Field(5, ge=1, le=20,
                               description="tries of a send that fails for a passing reason (back-off between)")
    # SMTP hosts are given by organizations: like webhooks, they may not be loopback, private or
    # link-local addresses unless listed here or in [webhooks] allowlist (a host, an IP or a CIDR)
    smtp_allowlist: CommaList = Field(default_factory=list, description="SMTP hosts allowed despite the SSRF guard")
    smtp_timeout_seconds: float = Field(20, gt=0, le=300, description="an SMTP connection's and command's timeout")
    twilio_base_url: str = Field("https://api.twilio.com", pattern=r"^https?://[^\s]+$",
                                 description="Twilio's REST API (tests point it at a loopback fake)")
    twilio_timeout_seconds: float = Field(20, gt=0, le=300, description="a Twilio request's timeout")
    sendgrid_base_url: str = Field("https://api.sendgrid.com", pattern=r"^https?://[^\s]+$", max_length=500,
                                   description="SendGrid's v3 API (tests point it at a loopback fake)")
    sendgrid_timeout_seconds: float = Field(20, gt=0, le=300, description="a SendGrid request's timeout")
    mailgun_base_url: str = Field("https://api.mailgun.net", pattern=r"^https?://[^\s]+$", max_length=500,
                                  description="Mailgun's API (https://api.eu.mailgun.net for EU domains)")
    mailgun_timeout_seconds: float = Field(20, gt=0, le=300, description="a Mailgun request's timeout")
    mailgun_webhook_max_age_seconds: float = Field(900, gt=0, le=86400,
                                                   description="how old a Mailgun webhook's signed timestamp may be")
    messagebird_base_url: str = Field("https://rest.messagebird.com", pattern=r"^https?://[^\s]+$", max_length=500,
                                      description="MessageBird's REST API (tests point it at a loopback fake)")
    messagebird_timeout_seconds: float = Field(20, gt=0, le=300, description="a MessageBird request's timeout")
    aws_endpoint_url: str | None = Field(None, pattern=r"^https?://[^\s]+$", max_length=500, description=(
        "one endpoint for SES and SNS instead of AWS's regional ones (moto in tests); none: AWS"))
    aws_timeout_seconds: float = Field(20, gt=0, le=300, description="an SES or SNS call's connect and read timeout")
    # SES reports bounces, complaints and deliveries through SNS notifications posted to
    # /api/v1/messages/callbacks/sns; their signing certificate is fetched from SigningCertURL
    # only on these hosts (https) or origins ("http://127.0.0.1:8123", for tests); empty:
    # sns.<region>.amazonaws.com of the topic's region
    sns_cert_hosts: CommaList = Field(default_factory=list, description="hosts SNS signing certificates come from")
    # the topics SES notifications come from: their SubscriptionConfirmation is confirmed and only
    # their notifications are taken (any AWS account can sign its own topic's messages)
    sns_topic_arns: CommaList = Field(default_factory=list, description="the SNS topics of SES notifications")
    # a provider -> the one that takes a message over once the first has failed for its own
    # reasons (unreachable after every retry, credentials refused, not connected), e.g.
    # {smtp = "sendgrid"}; the organization must have connected both. Not for a refused address.
    fallback_providers: dict[str, str] = Field(default_factory=dict)
    public_url: str | None = Field(None, pattern=r"^https?://[^\s]+$", max_length=500, description=(
        "the Hub's address as providers reach it; SMS then ask Twilio for delivery reports at "
        "{public_url}/api/v1/messages/callbacks/twilio (none: no delivery reports, messages stay 'sent')"))

    @field_validator("fallback_providers")
    @classmethod
    def _fallbacks(cls, fallbacks: dict[str, str]) -> dict[str, str]:
        channels = PROVIDERS
        for primary, fallback in fallbacks.items():
            if primary not in channels or fallback not in channels:
                raise ValueError(f"fallback_providers: {primary} -> {fallback}: providers are {sorted(channels)}")
            if channels[primary] != channels[fallback] or primary == fallback:
                raise ValueError(f"fallback_providers: {primary} -> {fallback} is not another {channels[primary]} provider")
        return fallbacks

    def max_body_bytes(self) -> int:
        """The largest send body: the attachments in base64 (4/3 of their size) and the rest."""
        return self.max_attachment_bytes * 4 // 3 + 1024 * 1024
