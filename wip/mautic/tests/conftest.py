"""Fixtures of the Mautic tests: callers in Mautic's auth schemes (HTTP Basic with a Hub user's
email and password, or an API key as the password), an SMTP sink connected through the
messaging plugin, and a bounded wait for what jobs do."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from aiosmtpd.controller import Controller

from core.testing import PASSWORD, WAIT_SECONDS, Api
from tests.plugins.messaging.conftest import (
    SmtpSink,
    _authenticate,
    free_port,
    smtp_connection,
)


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


@pytest.fixture(scope="session")
def mautic_sink():
    """An SMTP server with AUTH on the loopback (the messaging tests' sink) for these tests."""
    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port, authenticator=_authenticate,
                            auth_required=True, auth_require_tls=False)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture(autouse=True)
def mautic_settings(hub, monkeypatch):
    """SMTP on the loopback allowed; tracking links at a fixed address."""
    monkeypatch.setattr(hub.plugin_settings("messaging"), "smtp_allowlist", ["127.0.0.1"])
    monkeypatch.setattr(hub.plugin_settings("mautic"), "public_url", "http://hub.test")


@pytest.fixture
def mautic(hub_client, admin) -> Api:
    """The admin through HTTP Basic with their email and password."""
    return Api(hub_client, basic(admin.email, PASSWORD), admin)


@pytest.fixture
def other_mautic(hub_client, other_admin) -> Api:
    return Api(hub_client, basic(other_admin.email, PASSWORD), other_admin)


@pytest.fixture
async def mailing(mautic, api, mautic_sink) -> Api:
    """The admin, with the organization's SMTP integration connected to the sink."""
    await api.call("POST", "/api/integrations/smtp/connect", smtp_connection(mautic_sink))
    return mautic


async def wait_until(check, what: str = "the condition"):
    """Poll `check()` (sync or async) until it is truthy; fail after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
