"""Fixtures shared by the plugin tests: callers of the HTTP API as an admin, a member, a key, another
organization, and an event recorder (the app, client, admin and other_admin come from tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.helpers import add_member, create_key, register_and_login
from tests.plugins.crm.support import Api, Recorder, recorder_plugin


@pytest.fixture
def api(client, admin) -> Api:
    """The admin of a fresh organization."""
    return Api.of(client, admin)


@pytest.fixture(scope="module")
async def module_api(app) -> Api:
    """The admin of an organization shared by one test module's tests (for the many
    parametrized cases that add nothing, or only rows they address by id)."""
    client = app.test_client()
    return Api.of(client, await register_and_login(client, organization_name="Shared"))


@pytest.fixture
def other_api(client, other_admin) -> Api:
    """The admin of a second, unrelated organization."""
    return Api.of(client, other_admin)


@pytest.fixture
def member_api(client, admin):
    """`await member_api("viewer")`: an Api for a new member of the admin's organization."""

    async def make(role: str) -> Api:
        return Api.of(client, await add_member(client, admin, role))

    return make


@pytest.fixture
def key_api(client):
    """`await key_api(account, ["read"])`: an Api using a new API key of `account`."""

    async def make(account, scopes, header: str = "X-API-Key") -> Api:
        key = await create_key(client, account, scopes)
        return Api.with_key(client, key["key"], header)

    return make


@pytest.fixture
def events(hub):
    """Every event emitted while the test runs, seen by a real plugin's hub_on_event."""
    recorder = Recorder()
    module = recorder_plugin(recorder)
    hub.manager.register(module, name="crm_test_recorder")
    try:
        yield recorder
    finally:
        hub.manager.unregister(module)


@pytest.fixture
def principal_of(app):
    """`await principal_of(account_or_key)`: the core's Principal for a JWT or an API key."""
    from core.tenancy.principals import principal_from_credential

    async def make(credential) -> object:
        token = credential if isinstance(credential, str) else credential.access_token
        async with app.app_context():
            return await principal_from_credential(token)

    return make
