"""The SSRF corpus (tests/security/ssrf_corpus.py) as a DMS's base_url and OAuth2 token URL: every
spelling of an address that is not on the internet, and every malformed URL, is a 400 naming the
field, unless an operator allowlisted the host (an on-premise DMS)."""

from __future__ import annotations

import pytest

from core.testing import Api, register_and_login
from tests.plugins.dms.fake_dms import FakeDms, connection_body
from tests.security.ssrf_corpus import BAD_URLS, FORBIDDEN_ADDRESSES


@pytest.fixture(scope="module")
async def owner(hub_app):
    client = hub_app.test_client()
    return Api.of(client, await register_and_login(client, organization_name="DMS SSRF"))


@pytest.fixture
def no_allowlist(dms_settings, monkeypatch):
    monkeypatch.setattr(dms_settings, "allowlist", [])


def body_with(url: str, token_url: str | None = None) -> dict:
    body = connection_body(FakeDms(provider="CDK", auth="oauth2", port=1))
    body["configuration"]["base_url"] = url
    if token_url is not None:
        body["configuration"]["base_url"] = "http://127.0.0.1:1"  # allowlisted (no DNS here)
        body["authentication"]["refresh_configuration"]["token_url"] = token_url
    return body


@pytest.mark.parametrize("url", [url for url, _ in FORBIDDEN_ADDRESSES + BAD_URLS])
async def test_a_dms_cannot_point_where_the_hub_must_not_reach(owner, no_allowlist, url):
    error = await owner.error("POST", "/api/v1/dms/connections", body_with(url), status=400)
    assert error["details"]["field"].startswith("configuration"), error


@pytest.mark.parametrize("url", [url for url, reason in FORBIDDEN_ADDRESSES if reason != "loopback"])
async def test_nor_can_its_token_url(owner, url):
    error = await owner.error("POST", "/api/v1/dms/connections", body_with("", token_url=url), status=400)
    assert error["details"]["field"] == "authentication.refresh_configuration.token_url", error
