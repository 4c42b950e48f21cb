"""The Python SDK (sdk/python, `hub_sdk`) against a real `hub serve`: logging in, leads created and
listed page by page, the error envelope as typed exceptions, retries after 429 honouring
Retry-After, token refresh on 401, and the async client. One server for the module."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from core.testing import PASSWORD
from hub_sdk import (
    AsyncHubClient,
    AuthenticationError,
    ConflictError,
    HubClient,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryPolicy,
    ValidationError,
    models,
)
from tests.live_server import live_account, live_hub

# GET /api/leads/{id} refills one request every 2 s (burst 1), so back-to-back reads meet a 429
# with Retry-After: 2; auth routes are not limited here (every test logs in from 127.0.0.1).
RULES = ('{"/api/leads/*": {"requests_per_minute": 30, "burst_size": 1, "scope": "user"},'
         ' "/api/auth/*": {"requests_per_minute": 0}, "/api/v1/auth/*": {"requests_per_minute": 0}}')


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory):
    with live_hub(tmp_path_factory.mktemp("sdk"), env={"HUB_RATE_LIMITS__RULES": RULES}) as hub:
        yield hub.url


@pytest.fixture
def account(hub_url):
    return live_account(hub_url, scopes=["read", "write", "develop"])


class RecordingRetry(RetryPolicy):
    """The retry policy, remembering each wait it chose with the answer's Retry-After."""

    def __init__(self, **options):
        super().__init__(**options)
        self.waits: list[tuple[float, str | None]] = []

    def delay(self, attempt, response):
        wait = super().delay(attempt, response)
        if wait is not None and response is not None:
            self.waits.append((wait, response.headers.get("Retry-After")))
        return wait


def test_login_create_and_list_leads_page_by_page(hub_url, account):
    with HubClient(hub_url, email=account["email"], password=PASSWORD) as client:  # logs in on first use
        created = [client.leads.create({"name": f"Lead {n}", "email": f"lead{n}@example.com", "source": "api",
                                        "status": "new" if n < 3 else "contacted"}) for n in range(5)]
        assert isinstance(created[0], models.LeadOut) and created[0].status == "new"
        assert client.credentials.access_token and client.credentials.refresh_token

        page = client.leads.get_all(status="new", limit=2)
        assert isinstance(page, models.LeadList)
        assert page.total == 3 and len(page.leads) == 2 and page.pagination.has_more is True

        new_ones = list(client.leads.iterate(status="new", limit=2))  # two pages
        assert sorted(lead.id for lead in new_ones) == sorted(lead.id for lead in created[:3])
        assert all(isinstance(lead, models.LeadOut) for lead in new_ones)
        every = [lead.id for lead in client.leads.iterate(limit=2)]  # three pages, newest first
        assert every == [lead.id for lead in reversed(created)]

        changed = client.leads.update(created[0].id, models.LeadUpdate(status="contacted"))
        assert changed.status == "contacted"
        assert client.leads.delete(created[4].id) is None
        assert client.leads.get_all(limit=10).total == 4


def test_api_keys_and_the_error_envelope_as_typed_exceptions(hub_url, account):
    with HubClient(hub_url, api_key=account["api_key"]) as client:
        lead = client.leads.create({"name": "Keyed", "source": "api"})
        assert lead.name == "Keyed"

        with pytest.raises(NotFoundError) as missing:
            client.contacts.get(str(uuid.uuid4()))
        assert missing.value.status == 404 and missing.value.code == "NOT_FOUND" and missing.value.request_id

        with pytest.raises(ValidationError) as invalid:
            client.leads.create({"name": ""})
        assert invalid.value.status == 400 and invalid.value.field == "name"
        with pytest.raises(ValidationError) as unknown:
            client.leads.create({"name": "x", "owner": "me"})
        assert unknown.value.field == "owner"

        agent = client.agents.create({"name": "Resting agent", "status": "inactive"})
        with pytest.raises(ConflictError) as inactive:  # the seed's body shape, accepted (not a 400)
            client.agents.execute(agent["id"], {"input": "Qualify this lead", "context": {"lead_id": lead.id}})
        assert inactive.value.status == 409

    reader = live_account(hub_url, scopes=["read"])
    with HubClient(hub_url, api_key=reader["api_key"]) as client:
        with pytest.raises(PermissionDeniedError) as refused:
            client.leads.create({"name": "Not allowed"})
        assert refused.value.code == "FORBIDDEN"
    with HubClient(hub_url, api_key="hub_" + "x" * 40) as client:
        with pytest.raises(AuthenticationError):
            client.leads.get_all()
        assert client.retries == 0


def test_a_401_refreshes_the_tokens_once(hub_url, account):
    login = httpx.post(f"{hub_url}/api/auth/login", json={"email": account["email"], "password": PASSWORD}).json()
    seen = []
    with HubClient(hub_url, access_token="not-a-valid-token", refresh_token=login["refresh_token"],
                   on_tokens=lambda access, refresh: seen.append((access, refresh))) as client:
        assert client.leads.get_all().total == 0
        [(access, refresh)] = seen
        assert client.credentials.access_token == access and refresh != login["refresh_token"]
    # the refresh token was used up: a client holding only it cannot renew
    with HubClient(hub_url, access_token="not-a-valid-token", refresh_token=login["refresh_token"]) as client:
        with pytest.raises(AuthenticationError):
            client.leads.get_all()


def test_a_429_is_retried_after_its_retry_after(hub_url, account):
    retry = RecordingRetry()
    with HubClient(hub_url, api_key=account["api_key"], retry=retry) as client:
        lead = client.leads.create({"name": "Often read"})
        for _ in range(10):  # back-to-back reads of one lead; the limiter answers 429 within a few
            assert client.leads.get(lead.id).id == lead.id
            if client.retries:
                break
        assert client.retries >= 1
        wait, retry_after = retry.waits[0]
        assert wait == float(retry_after) >= 1  # the answer's Retry-After, honoured

    with HubClient(hub_url, api_key=account["api_key"], max_retries=0) as client:
        with pytest.raises(RateLimitError) as limited:
            for _ in range(10):
                client.leads.get(lead.id)
        assert limited.value.code == "RATE_LIMIT_EXCEEDED" and limited.value.status == 429
        assert limited.value.retry_after == float(limited.value.response.headers["Retry-After"]) >= 1

    # a Retry-After longer than the client will wait: the error at once, no retry
    with HubClient(hub_url, api_key=account["api_key"], retry=RetryPolicy(max_retry_after=0.9)) as client:
        with pytest.raises(RateLimitError):
            for _ in range(10):
                client.leads.get(lead.id)
        assert client.retries == 0


def test_the_async_client(hub_url, account):
    async def scenario():
        async with AsyncHubClient(hub_url, email=account["email"], password=PASSWORD) as client:
            created = await asyncio.gather(*(client.leads.create({"name": f"Async {n}"}) for n in range(5)))
            assert len({lead.id for lead in created}) == 5
            listed = [lead.id async for lead in client.leads.iterate(limit=2)]
            assert sorted(listed) == sorted(lead.id for lead in created)
            page = await client.leads.get_all(limit=1)
            assert page.total == 5 and page.pagination.has_more is True
            with pytest.raises(NotFoundError):
                await client.contacts.get(str(uuid.uuid4()))
            with pytest.raises(ValidationError):
                await client.leads.create({"name": ""})

            # concurrent 401s refresh once: the refresh token is used once, every call succeeds
            client.credentials.access_token = "not-a-valid-token"
            pages = await asyncio.gather(*(client.leads.get_all(limit=1) for _ in range(4)))
            assert all(p.total == 5 for p in pages) and client.credentials.access_token != "not-a-valid-token"

    asyncio.run(scenario())
