"""The notification tests' email and SMS providers: the messaging tests' loopback SMTP server
(aiosmtpd, with AUTH) and Twilio fake, reused, and the messaging settings pointed at them."""

from __future__ import annotations

import pytest

from tests.plugins.messaging.conftest import (  # noqa: F401 (fixtures, used by name)
    TWILIO_CONNECTION,
    fake_sendgrid,
    fake_twilio,
    messaging_settings,
    smtp_connection,
    smtp_sink,
)


@pytest.fixture
async def member(api, member_of):
    """A member of api's organization, with its own Api."""
    account = await member_of(api.account, "member")
    return type(api).of(api.client, account)


@pytest.fixture
async def connected(api, smtp_sink, fake_twilio):
    """api's organization with its SMTP server and Twilio account connected."""
    await api.call("POST", "/api/integrations/smtp/connect", smtp_connection(smtp_sink))
    await api.call("POST", "/api/integrations/twilio/connect", TWILIO_CONNECTION)
    return api
