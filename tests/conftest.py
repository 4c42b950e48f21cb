"""Shared fixtures. The suite runs on the embedded defaults (SQLite in a temp dir), or
against PostgreSQL and Redis when HUB_TEST_DATABASE_URL / HUB_TEST_REDIS_URL are set.

One Hub app is started per test session (tortoise keeps process-wide state); each test
isolates itself by registering its own organizations with unique emails.
"""

from __future__ import annotations

import os

import pytest

for name in list(os.environ):  # the machine's HUB_* settings must not leak into tests
    if name.startswith("HUB_") and not name.startswith("HUB_TEST_"):
        del os.environ[name]

from tests.helpers import DATABASE_URL, Account, make_settings, register_and_login, reset_postgres  # noqa: E402


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    return make_settings(tmp_path_factory.mktemp("hub"))


@pytest.fixture(scope="session")
async def app(settings):
    from core.app import create_app

    if DATABASE_URL:
        await reset_postgres(DATABASE_URL)
    application = create_app(settings)
    async with application.test_app():
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def hub(app):
    return app.extensions["hub"]


@pytest.fixture
async def admin(client) -> Account:
    return await register_and_login(client)


@pytest.fixture
async def other_admin(client) -> Account:
    """The admin of a second, unrelated organization."""
    return await register_and_login(client, organization_name="Globex")


@pytest.fixture
def event_types(hub):
    """Register event types for one test (open payloads): `event_types("thing.updated", ...)`."""
    from pydantic import BaseModel, ConfigDict

    from core.events.catalogue import EventType

    class Anything(BaseModel):
        model_config = ConfigDict(extra="allow")

    added = []

    def register(*names: str, permission: str | None = None) -> None:
        for name in names:
            hub.bus.catalogue.add(EventType(name, Anything, f"test event {name}", "tests", permission))
            added.append(name)

    yield register
    for name in added:
        hub.bus.catalogue.types.pop(name, None)
