"""Fixtures of the recommender tests (the rest come from the test kit, core/testing.py, and
tests/plugins/conftest.py)."""

from __future__ import annotations

import pytest

from tests.plugins.ml.recommender.support import RecommenderApi


@pytest.fixture
def hub_api_class():
    return RecommenderApi


@pytest.fixture
async def internal_api(api_of) -> RecommenderApi:
    """A service's API key of the admin's organization, scoped to the internal routes (and to
    reading the jobs they start)."""
    return await api_of(key=["recommender.internal", "jobs.read"])
