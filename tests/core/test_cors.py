"""CORS (`[http] cors_origins`, core/http/cors.py): off by default; when on, preflights are
answered and every response, errors included, tells an allowed origin it may read it."""

from __future__ import annotations

import pytest

from core.app import create_app
from core.kernel.settings import SettingsError
from tests.helpers import make_settings

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, authorization"}


@pytest.fixture
def cors_client(tmp_path):
    return create_app(make_settings(tmp_path, http={"cors_origins": [APP_ORIGIN, "http://localhost:3000"]})).test_client()


async def test_cors_is_off_by_default(client):
    preflight = await client.options("/api/auth/login", headers=PREFLIGHT)
    answered = await client.get("/healthz", headers={"Origin": APP_ORIGIN})
    assert answered.status_code == 200
    for response in (preflight, answered):
        assert not [name for name in response.headers.keys() if name.lower().startswith("access-control-")]


async def test_preflight_allows_the_method_and_headers_asked_for(cors_client):
    response = await cors_client.options("/api/auth/login", headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert allowed == {"content-type", "authorization"}
    assert int(response.headers["Access-Control-Max-Age"]) > 0


async def test_preflight_of_a_protected_route_needs_no_credentials(cors_client):
    response = await cors_client.options("/api/v1/tenant", headers={**PREFLIGHT, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


@pytest.mark.parametrize(("path", "status"), [("/healthz", 200), ("/api/v1/tenant", 401), ("/no/such/route", 404)])
async def test_responses_and_errors_carry_the_cors_headers(cors_client, path, status):
    response = await cors_client.get(path, headers={"Origin": "http://localhost:3000"})
    assert response.status_code == status
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    exposed = {name.strip().lower() for name in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"x-request-id", "retry-after", "x-ratelimit-remaining"} <= exposed
    assert "Origin" in response.headers["Vary"]


async def test_an_origin_not_listed_gets_no_cors_headers(cors_client):
    response = await cors_client.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_any_origin(tmp_path):
    client = create_app(make_settings(tmp_path, http={"cors_origins": ["*"]})).test_client()
    response = await client.get("/healthz", headers={"Origin": "https://anywhere.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_origins_from_the_environment_as_a_comma_list(tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_HTTP__CORS_ORIGINS", f"{APP_ORIGIN}, http://localhost:3000")
    assert make_settings(tmp_path).http.cors_origins == [APP_ORIGIN, "http://localhost:3000"]


@pytest.mark.parametrize("origin", ["https://app.example.com/", "app.example.com", "https://app.example.com/path"])
def test_an_origin_with_a_path_or_without_a_scheme_is_refused(tmp_path, origin):
    with pytest.raises(SettingsError, match="http.cors_origins"):
        make_settings(tmp_path, http={"cors_origins": [origin]})
