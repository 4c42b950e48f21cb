"""The SSRF corpus through the API: a webhook URL pointing anywhere the Hub must not reach is
refused when it is registered (400 naming `url`), whatever its spelling, and so is every URL the
guarded client would be asked to fetch."""

from __future__ import annotations

import pytest

from core.events.ssrf import UnsafeURL, safe_client
from core.testing import Api, register_and_login
from tests.security.ssrf_corpus import BAD_URLS, FORBIDDEN_ADDRESSES


@pytest.fixture(scope="module")
async def owner(hub_app):
    """One organization's admin for the whole corpus (registering costs a password hash)."""
    client = hub_app.test_client()
    return Api.of(client, await register_and_login(client, organization_name="SSRF"))


@pytest.mark.parametrize("url", [url for url, _ in FORBIDDEN_ADDRESSES + BAD_URLS])
async def test_a_webhook_cannot_point_where_the_hub_must_not_reach(owner, url):
    error = await owner.error("POST", "/api/v1/webhooks", {"url": url, "events": ["*"]},
                            status=400, code="VALIDATION_ERROR")
    assert error["details"]["field"] == "url", error


@pytest.mark.parametrize("url, reason", FORBIDDEN_ADDRESSES)
async def test_the_guarded_client_refuses_to_connect(url, reason):
    async with safe_client([], timeout=2) as client:
        with pytest.raises(UnsafeURL) as refused:
            await client.get(url)
    assert "not allowed" in str(refused.value)
