"""Fixtures of the recommender tests (app, client, admin, other_admin: tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.helpers import add_member, create_key
from tests.plugins.ml.recommender.support import Api


@pytest.fixture
def api(client, admin) -> Api:
    return Api.of(client, admin)


@pytest.fixture
def other_api(client, other_admin) -> Api:
    return Api.of(client, other_admin)


@pytest.fixture
async def internal_api(client, admin) -> Api:
    """A service's API key of the admin's organization, scoped to the internal routes (and to
    reading the jobs they start)."""
    key = await create_key(client, admin, ["recommender.internal", "jobs.read"])
    return Api.with_key(client, key["key"], admin)


@pytest.fixture
def member_api(client, admin):
    async def make(role: str) -> Api:
        return Api.of(client, await add_member(client, admin, role))

    return make
