"""The SSRF corpus (tests/security/ssrf_corpus.py) as a Slack incoming-webhook URL: every spelling
of an address that is not on the internet is refused by the guard before any connection, and
every malformed URL is a 400; nothing is stored either way."""

from __future__ import annotations

import pytest

from core.testing import Api, register_and_login
from tests.plugins.slack.conftest import webhook_connection
from tests.security.ssrf_corpus import BAD_URLS, FORBIDDEN_ADDRESSES

CONNECT = "/api/integrations/slack/connect"


@pytest.fixture(scope="module")
async def owner(hub_app):
    client = hub_app.test_client()
    return Api.of(client, await register_and_login(client, organization_name="Slack SSRF"))


@pytest.fixture
def no_allowlist(hub, monkeypatch):
    monkeypatch.setattr(hub.plugin_settings("slack"), "webhook_allowlist", [])


@pytest.mark.parametrize("url", [url for url, _ in FORBIDDEN_ADDRESSES])
async def test_a_webhook_cannot_point_where_the_hub_must_not_reach(owner, no_allowlist, url):
    error = await owner.error("POST", CONNECT, webhook_connection(url), code="INTEGRATION_CONNECTION_FAILED")
    assert "not allowed" in error["message"], error  # the guard's answer: refused before connecting
    assert (await owner.get("/api/integrations/slack"))["status"] == "disconnected"


@pytest.mark.parametrize("url", [url for url, _ in BAD_URLS])
async def test_a_malformed_webhook_url_is_refused(owner, no_allowlist, url):
    response, body = await owner.request("POST", CONNECT, webhook_connection(url))
    assert response.status_code == 400, body
    assert body["error"]["code"] in ("VALIDATION_ERROR", "INTEGRATION_CONNECTION_FAILED"), body
    assert (await owner.get("/api/integrations/slack"))["status"] == "disconnected"
