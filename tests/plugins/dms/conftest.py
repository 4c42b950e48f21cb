"""The DMS tests' fakes: a fake DMS per test (tests/plugins/dms/fake_dms.py) on 127.0.0.1, the
loopback allowed past the SSRF guard for the DMS plugin only, short back-offs."""

from __future__ import annotations

import pytest

from tests.plugins.dms.fake_dms import FakeDms, connection_body


@pytest.fixture(autouse=True)
def dms_settings(hub, monkeypatch):
    settings = hub.plugin_settings("dms")
    monkeypatch.setattr(settings, "allowlist", ["127.0.0.1"])
    monkeypatch.setattr(settings, "retry_backoff_seconds", 0.01)
    monkeypatch.setattr(settings, "retry_backoff_max_seconds", 0.05)
    monkeypatch.setattr(settings, "page_size", 10)
    return settings


@pytest.fixture
def fake_dms():
    """`fake_dms("CDK", auth="oauth2")`: a started fake DMS, stopped after the test."""
    started: list[FakeDms] = []

    def make(provider: str = "CDK", auth: str | None = None, customers: int = 0, **options) -> FakeDms:
        auth = auth or ("oauth2" if provider == "CDK" else "api_key")
        fake = FakeDms(provider=provider, auth=auth, **options)
        if customers:
            fake.seed(customers)
        started.append(fake.start())
        return fake

    yield make
    for fake in started:
        fake.stop()


@pytest.fixture
def connect(api):
    """`await connect(fake, **overrides)`: a connection of `api`'s organization to the fake."""

    async def make(fake: FakeDms, caller=None, **overrides) -> dict:
        return await (caller or api).post("/api/v1/dms/connections", connection_body(fake, **overrides))

    return make


@pytest.fixture
def sync(api):
    """`await sync(connection_id, mode)`: start a sync, wait for its job, return the run."""

    async def run(connection_id: str, mode: str = "incremental", caller=None, **body) -> dict:
        caller = caller or api
        started = await caller.call("POST", f"/api/v1/dms/connections/{connection_id}/sync",
                                    {"mode": mode, **body}, status=202)
        await caller.wait_for_job(started["job_id"])
        return await caller.get(f"/api/v1/dms/connections/{connection_id}/syncs/{started['id']}")

    return run
