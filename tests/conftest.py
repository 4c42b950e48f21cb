"""The suite's configuration on top of the Hub's test kit (core/testing.py, loaded as a pytest
plugin through its `pytest11` entry point): the settings this suite needs, and the short names
its tests use for the kit's fixtures."""

from __future__ import annotations

import pytest

from tests.helpers import SUITE_SETTINGS
from tests.cluster import cluster  # noqa: F401 (a fixture: real `hub worker` processes)


@pytest.fixture(scope="session")
def hub_settings_overrides():
    return SUITE_SETTINGS


@pytest.fixture(scope="session")
def settings(hub_settings):
    return hub_settings


@pytest.fixture(scope="session")
def app(hub_app):
    return hub_app


@pytest.fixture
def client(hub_client):
    return hub_client
