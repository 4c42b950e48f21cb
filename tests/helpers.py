"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DATABASE_URL = os.environ.get("HUB_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL")
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256"
PASSWORD = "correct horse battery"


def make_settings(tmp_path: Path, **overrides: Any):
    from core.kernel.settings import load_settings

    values: dict[str, Any] = dict(
        env="test",
        data_dir=tmp_path,
        database_url=DATABASE_URL or f"sqlite://{tmp_path / 'hub.sqlite3'}",
        redis_url=REDIS_URL,
        secret_key=TEST_SECRET,
        plugins={"example": {"greeting": "hello from the tests"}},
        # The suite logs in (and runs agents) far more often than the seed limits allow.
        rate_limits={"rules": {pattern: {"requests_per_minute": 100_000, "burst_size": 100_000}
                               for pattern in ("/api/auth/*", "/api/v1/auth/*", "/api/agents/*/execute")}},
        # With Redis a server only enqueues jobs; the test session runs them itself, in a queue
        # namespace of its own so that no other process on the same Redis can take its jobs.
        jobs={"run_in_server": True, "namespace": f"hubtest-{uuid.uuid4().hex[:8]}"},
    )
    values.update(overrides)
    return load_settings(**values)


async def reset_postgres(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


@dataclass
class Account:
    """A registered user with a logged-in session."""

    email: str
    user_id: str
    org_id: str
    access_token: str
    refresh_token: str
    role: str = "admin"
    extra: dict = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


async def register_and_login(client, email: str | None = None, organization_name: str = "Acme") -> Account:
    email = email or unique_email("admin")
    response = await client.post(
        "/api/auth/register",
        json={"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Admin",
              "organization_name": organization_name},
    )
    assert response.status_code == 201, await response.get_json()
    return await login(client, email)


async def login(client, email: str, password: str = PASSWORD) -> Account:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    body = await response.get_json()
    assert response.status_code == 200, body
    return Account(email, body["user"]["id"], body["user"]["tenant_id"], body["access_token"],
                   body["refresh_token"], body["user"]["role"])


async def add_member(client, admin: Account, role: str) -> Account:
    """A member of `admin`'s organization with `role`, logged in."""
    email = unique_email(role)
    response = await client.post(
        "/api/v1/tenant/members", headers=admin.headers,
        json={"email": email, "first_name": "Mem", "last_name": "Ber", "role": role, "password": PASSWORD},
    )
    assert response.status_code == 201, await response.get_json()
    return await login(client, email)


async def create_key(client, account: Account, scopes: list[str] | None = None, **extra) -> dict:
    response = await client.post(
        "/api/v1/keys", headers=account.headers, json={"name": "test key", "scopes": scopes or ["read"], **extra}
    )
    body = await response.get_json()
    assert response.status_code == 201, body
    return body


def assert_error(response_status: int, body: dict, status: int, code: str) -> None:
    assert response_status == status, body
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == code, body
    assert {"code", "message", "details", "request_id", "timestamp"} <= set(error), body
