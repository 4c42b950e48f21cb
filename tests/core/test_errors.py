"""The error envelope (seed 003 §8, DESIGN §4) and X-Request-ID, for errors raised by the
framework (404, 405, 413, 415), by request parsing, by validation and by crashing code."""

from __future__ import annotations

import logging
import re
import types
from datetime import datetime, timedelta, timezone

import pytest
from quart import Blueprint, abort

from core.http.auth import public
from core.kernel.errors import HubError
from tests.helpers import assert_error, make_settings

ENVELOPE_KEYS = {"code", "message", "details", "request_id", "timestamp"}
SECRET_DETAIL = "db password is hunter2 at /srv/secret/path.py"
JSON = {"Content-Type": "application/json"}


async def assert_envelope(response, status: int, code: str) -> dict:
    """The response is exactly the seed's envelope, and its request_id is the header's."""
    body = await response.get_json()
    assert_error(response.status_code, body, status, code)
    error = body["error"]
    assert set(error) == ENVELOPE_KEYS, error
    assert isinstance(error["message"], str) and error["message"], error
    assert isinstance(error["details"], dict), error
    assert response.headers["Content-Type"].startswith("application/json")
    assert error["request_id"] and error["request_id"] == response.headers["X-Request-ID"], error
    stamp = datetime.fromisoformat(error["timestamp"].replace("Z", "+00:00"))
    assert stamp.tzinfo is not None, error["timestamp"]
    assert abs(datetime.now(timezone.utc) - stamp) < timedelta(minutes=1)
    return error


def _explicit_plugin() -> types.ModuleType:
    """A tiny plugin whose public views fail in different ways (no database needed)."""
    module = types.ModuleType("crashy")
    bp = Blueprint("crashy_test", __name__)

    @bp.get("/crash")
    @public
    async def crash():
        raise RuntimeError(SECRET_DETAIL)

    @bp.get("/conflict")
    @public
    async def conflict():
        raise HubError("CONFLICT", "Already exists", {"field": "name", "reason": "taken"})

    @bp.get("/forbidden")
    @public
    async def forbidden():
        abort(403)

    @bp.post("/echo")
    @public
    async def echo():
        from quart import request

        return {"received": len(await request.get_data())}

    def hub_routes():
        return bp

    module.hub_routes = hub_routes
    return module


@pytest.fixture(scope="module")
def small_app(tmp_path_factory):
    """An app with a 2 KiB body limit and the crashing plugin; never started (no DB use)."""
    from core.app import create_app

    settings = make_settings(tmp_path_factory.mktemp("small"), http={"max_body_bytes": 2048})
    return create_app(settings, plugins=[_explicit_plugin()])


@pytest.fixture
def small_client(small_app):
    return small_app.test_client()


# -- framework errors ---------------------------------------------------------------------------


async def test_unknown_route_is_404_envelope(client):
    error = await assert_envelope(await client.get("/no/such/route"), 404, "NOT_FOUND")
    assert error["details"] == {}


async def test_unknown_route_under_api_prefix_is_404_envelope(client):
    await assert_envelope(await client.post("/api/v1/nothing-here", json={}), 404, "NOT_FOUND")


async def test_wrong_method_is_405_with_allow_header(client):
    response = await client.delete("/health")
    await assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert "GET" in allowed and "DELETE" not in allowed


async def test_405_allow_header_lists_every_method_of_the_path(client):
    response = await client.patch("/api/v1/keys", json={})
    await assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "POST"} <= allowed


async def test_body_over_max_body_bytes_is_413(small_client):
    body = b'{"email": "' + b"x" * 5000 + b'"}'
    response = await small_client.post(
        "/api/auth/login", data=body, headers={**JSON, "Content-Length": str(len(body))}
    )
    await assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


async def test_body_over_limit_without_content_length_is_413(small_client):
    # A chunked upload declares no length; the limit must still hold while reading.
    response = await small_client.post(
        "/echo", data=b"x" * 5000, headers={"Content-Type": "application/octet-stream", "Transfer-Encoding": "chunked"}
    )
    await assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


async def test_body_under_limit_is_accepted(small_client):
    response = await small_client.post("/echo", data=b"x" * 2000, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    assert (await response.get_json()) == {"received": 2000}


async def test_default_limit_is_ten_mebibytes(client, settings):
    assert settings.http.max_body_bytes == 10 * 1024 * 1024
    body = b"x" * (settings.http.max_body_bytes + 1)
    response = await client.post("/api/auth/login", data=body, headers={**JSON, "Content-Length": str(len(body))})
    await assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


async def test_text_plain_body_to_json_route_is_415(client):
    body = b"email=a@example.com"
    response = await client.post(
        "/api/auth/login", data=body, headers={"Content-Type": "text/plain", "Content-Length": str(len(body))}
    )
    error = await assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert error["details"].get("field") == "Content-Type"


async def test_form_body_to_json_route_is_415(client):
    body = b"email=a%40example.com&password=x"
    response = await client.post(
        "/api/auth/register", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(len(body))},
    )
    await assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_chunked_text_plain_body_to_json_route_is_415(client):
    # Same request as above, streamed without Content-Length (curl -H 'Transfer-Encoding:
    # chunked', httpx with a generator body): it must not slip past the media-type check.
    response = await client.post(
        "/api/auth/login", data=b"email=a@example.com",
        headers={"Content-Type": "text/plain", "Transfer-Encoding": "chunked"},
    )
    await assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_json_with_charset_parameter_is_not_415(client):
    body = b'{"email": "nobody@example.com"}'
    response = await client.post(
        "/api/auth/login", data=body,
        headers={"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(body))},
    )
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "password"


# -- bodies that cannot be parsed ---------------------------------------------------------------


async def test_malformed_json_is_400_naming_body(client):
    response = await client.post("/api/auth/login", data='{"email": "a@example.com",', headers=JSON)
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "body"
    assert error["details"]["reason"]


async def test_empty_json_body_is_400_naming_body(client):
    response = await client.post("/api/auth/login", data=b"", headers=JSON)
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "body"


async def test_json_array_instead_of_object_is_400_naming_body(client):
    response = await client.post("/api/auth/login", json=[{"email": "a@example.com"}])
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "body"


async def test_invalid_utf8_body_is_400_not_500(client):
    response = await client.post("/api/auth/login", data=b'{"email": "\xff\xfe@example.com"}', headers=JSON)
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "body"


async def test_deeply_nested_json_is_400_not_500(client):
    response = await client.post("/api/auth/login", data="[" * 100_000, headers=JSON)
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "body"


async def test_huge_json_number_is_400_not_500(client):
    response = await client.post("/api/auth/login", data='{"email": ' + "9" * 5000 + "}", headers=JSON)
    await assert_envelope(response, 400, "VALIDATION_ERROR")


# -- validation ---------------------------------------------------------------------------------


async def test_validation_error_names_field_and_reason(client):
    response = await client.post("/api/auth/login", json={"email": "not-an-email", "password": "x"})
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "email"
    assert "email" in error["details"]["reason"].lower()


async def test_validation_error_lists_every_problem(client):
    response = await client.post("/api/auth/register", json={"email": "a@example.com"})
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    fields = {problem["field"] for problem in error["details"]["errors"]}
    assert "password" in fields
    assert all(problem["reason"] for problem in error["details"]["errors"])
    assert error["details"]["field"] == error["details"]["errors"][0]["field"]


async def test_wrong_type_names_field(client):
    response = await client.post("/api/auth/login", json={"email": 12, "password": "x"})
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "email"
    assert "string" in error["details"]["reason"].lower()


async def test_nested_validation_error_names_the_item(client, admin):
    response = await client.post(
        "/api/v1/keys", headers=admin.headers, json={"name": "k", "scopes": ["read", "no.such.scope"]}
    )
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "scopes.1"
    assert "no.such.scope" in error["details"]["reason"]


async def test_auth_errors_use_the_envelope(client):
    response = await client.get("/api/v1/tenant")
    await assert_envelope(response, 401, "AUTHENTICATION_FAILED")
    response = await client.get("/api/v1/tenant", headers={"Authorization": "Bearer not-a-jwt"})
    assert (await response.get_json())["error"]["code"] in ("AUTHENTICATION_FAILED", "TOKEN_EXPIRED")
    assert set(await response.get_json()) == {"error"}


# -- errors raised by plugin code ---------------------------------------------------------------


async def test_unhandled_exception_is_500_without_internals(small_client, caplog):
    caplog.set_level(logging.ERROR, logger="hub.errors")
    response = await small_client.get("/crash", headers={"X-Request-ID": "crash-req-42"})
    error = await assert_envelope(response, 500, "INTERNAL_ERROR")
    assert error["request_id"] == "crash-req-42"
    text = (await response.get_data(as_text=True))
    for leak in ("Traceback", "RuntimeError", "hunter2", SECRET_DETAIL, ".py"):
        assert leak not in text, text
    records = [r for r in caplog.records if "crash-req-42" in r.getMessage()]
    assert records, [r.getMessage() for r in caplog.records]
    assert records[0].levelno >= logging.ERROR
    assert records[0].exc_info and records[0].exc_info[0] is RuntimeError  # the traceback goes to the log


async def test_unhandled_exception_logs_generated_request_id(small_client, caplog):
    caplog.set_level(logging.ERROR, logger="hub.errors")
    response = await small_client.get("/crash")
    error = await assert_envelope(response, 500, "INTERNAL_ERROR")
    assert any(error["request_id"] in r.getMessage() for r in caplog.records)


async def test_hub_error_from_plugin_keeps_code_status_and_details(small_client):
    error = await assert_envelope(await small_client.get("/conflict"), 409, "CONFLICT")
    assert error["details"] == {"field": "name", "reason": "taken"}
    assert error["message"] == "Already exists"


async def test_werkzeug_abort_from_plugin_is_enveloped(small_client):
    await assert_envelope(await small_client.get("/forbidden"), 403, "FORBIDDEN")


def test_unregistered_error_code_is_refused():
    with pytest.raises(ValueError, match="NO_SUCH_CODE"):
        HubError("NO_SUCH_CODE", "nope")


# -- X-Request-ID -------------------------------------------------------------------------------


async def test_every_response_has_a_request_id(client):
    for response in (await client.get("/healthz"), await client.get("/nope"), await client.delete("/health")):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"]), response.headers


async def test_generated_request_ids_are_unique(client):
    ids = {(await client.get("/healthz")).headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("incoming", ["abc-123", "trace.ID_0", "7f1c2e0a-4c9b-4e2f-9a55-0b3c8d1e2f3a", "x" * 128])
async def test_sane_request_id_is_echoed(client, incoming):
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == incoming
    response = await client.get("/no/such/page", headers={"X-Request-ID": incoming})
    error = await assert_envelope(response, 404, "NOT_FOUND")
    assert error["request_id"] == incoming


@pytest.mark.parametrize("incoming", ["x" * 129, "y" * 500, "has spaces in it", "semi;colon", "<script>", "ünïcode"])
async def test_insane_request_id_is_replaced(client, incoming):
    response = await client.get("/healthz", headers={"X-Request-ID": incoming})
    assert response.status_code == 200
    replaced = response.headers["X-Request-ID"]
    assert replaced != incoming
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    response = await client.get("/no/such/page", headers={"X-Request-ID": incoming})
    error = await assert_envelope(response, 404, "NOT_FOUND")
    assert error["request_id"] != incoming


async def test_request_id_on_validation_error_matches_header(client):
    response = await client.post("/api/auth/login", json={}, headers={"X-Request-ID": "val-err-1"})
    error = await assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["request_id"] == "val-err-1"
