import pytest

from tests.plugins.workflows.support import WorkflowApi


@pytest.fixture
def hub_api_class():
    return WorkflowApi
