"""The workers tests' job types on the session app, and real `hub worker` processes."""

from __future__ import annotations

import pytest

from tests import cluster as _cluster
from tests.plugins.workers.support import hub_jobs

cluster = _cluster.cluster  # the fixture (tests/cluster.py)


@pytest.fixture(autouse=True)
def runtime(hub):
    """The session app's job runtime with this package's job types, running jobs here (with
    Redis the session app runs them too: the test kit sets run_in_server)."""
    runtime = hub.extensions["jobs"]
    if "workers_test.add" not in runtime.types:
        hub_jobs(runtime.registrar("workers_test"))
    runtime.start_worker()
    return runtime
