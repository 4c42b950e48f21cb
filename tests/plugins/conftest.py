"""Fixtures of the plugin tests beyond the test kit's (core/testing.py): an Api with CRM shortcuts,
an organization shared by a module's tests, and the core's Principal for a caller."""

from __future__ import annotations

import pytest

from core.testing import register_and_login
from tests.plugins.crm.support import CrmApi


@pytest.fixture
def hub_api_class():
    return CrmApi


@pytest.fixture(scope="module")
async def module_api(app) -> CrmApi:
    """The admin of an organization shared by one test module's tests (for the many
    parametrized cases that add nothing, or only rows they address by id)."""
    client = app.test_client()
    return CrmApi.of(client, await register_and_login(client, organization_name="Shared"))


@pytest.fixture
def member_api(api_of):
    """`await member_api("viewer")`: an Api for a new member of the admin's organization."""

    async def make(role: str):
        return await api_of(role=role)

    return make


@pytest.fixture
def key_api(api_of):
    """`await key_api(account, ["read"])`: an Api using a new API key of `account`."""

    async def make(account, scopes, header: str = "X-API-Key"):
        return await api_of(account, key=scopes, header=header)

    return make


@pytest.fixture
def principal_of(app):
    """`await principal_of(account_or_key)`: the core's Principal for a JWT or an API key."""
    from core.tenancy.principals import principal_from_credential

    async def make(credential) -> object:
        token = credential if isinstance(credential, str) else credential.access_token
        async with app.app_context():
            return await principal_from_credential(token)

    return make
