"""The SDK's parts that need no server: connection failures, seed 004's execute body, Retry-After
as an HTTP date, an answer that is not the Hub's envelope."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest

from hub_sdk import APIConnectionError, HubClient, RetryPolicy, ServerError
from hub_sdk.errors import error_from_response, retry_after_seconds
from hub_sdk.resources import execute_body
from tests.live_server import free_port


def test_an_unreachable_hub_is_retried_then_an_api_connection_error():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with HubClient(url, api_key="hub_x", retry=RetryPolicy(max_retries=2, backoff=0.01)) as client:
        with pytest.raises(APIConnectionError):
            client.leads.create({"name": "x"})  # never arrived: a POST is sent again too
        assert client.retries == 2


def test_the_seed_004_execute_body_becomes_the_hubs():
    assert execute_body({"input": "Qualify this lead", "context": {"lead_id": "lead_456"}}) == {
        "input": {"message": "Qualify this lead", "leadId": "lead_456", "context": {"lead_id": "lead_456"}}}
    assert execute_body("Hello") == {"input": {"message": "Hello"}}
    own = {"input": {"message": "Hi", "context": {}}}
    assert execute_body(own) is own


def test_retry_after_as_seconds_or_an_http_date():
    later = datetime.now(timezone.utc) + timedelta(seconds=30)
    dated = httpx.Response(429, headers={"Retry-After": format_datetime(later, usegmt=True)})
    assert 25 <= retry_after_seconds(dated) <= 30
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(httpx.Response(429)) is None
    policy = RetryPolicy(max_retry_after=10)
    assert policy.delay(1, httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    assert policy.delay(1, dated) is None  # longer than the client waits
    assert policy.delay(4, httpx.Response(503)) is None  # past max_retries
    assert policy.delay(1, httpx.Response(500)) is None  # not a status to retry


def test_an_answer_without_the_envelope_still_raises_its_family():
    error = error_from_response(httpx.Response(502, text="Bad gateway from the proxy"))
    assert isinstance(error, ServerError) and error.code == "HTTP_502" and "proxy" in error.message
