"""Unbounded work by any member (hardening issue, item 1): every training hyperparameter has a
range, an organization runs one training at a time (plans may allow more), and the training
metrics carry no label that grows per run or epoch."""

from __future__ import annotations

import pytest

from tests.plugins.ml.recommender.support import FAST_TRAINING, RecommenderApi


@pytest.fixture
def hub_api_class():
    return RecommenderApi


@pytest.mark.parametrize("name, value", [
    ("epochs", 10**30), ("epochs", 0), ("embedding_dim", 4096), ("ranker_rounds", 10**9),
    ("neighbours", 10**12), ("ann_partitions", 10**9), ("learning_rate", 1e9),
])
async def test_a_member_cannot_ask_for_unbounded_training(api_of, name, value):
    member = await api_of(role="member")
    error = await member.error("POST", "/api/v1/recommender/training",
                               {"training_config": {"hyperparameters": {name: value}}},
                               status=400, code="VALIDATION_ERROR")
    assert error["details"]["field"] == "training_config.hyperparameters"
    assert name in error["details"]["reason"] and "must be from" in error["details"]["reason"]


async def test_an_organization_runs_one_training_at_a_time(api, hub):
    from core.jobs.models import Job

    await api.seed()
    config = {"model_type": "matrix_factorization", "hyperparameters": dict(FAST_TRAINING)}
    accepted = [await api.call("POST", "/api/v1/recommender/training", {"training_config": config}, status=202)
                for _ in range(3)]
    jobs = [await api.wait_for_job(a["job_id"], timeout=300) for a in accepted]
    assert [j["status"] for j in jobs] == ["completed"] * 3
    rows = sorted([await Job.get(id=a["job_id"]) for a in accepted], key=lambda row: row.started_at)
    for earlier, later in zip(rows, rows[1:]):  # each started after the one before had finished
        assert later.started_at >= earlier.finished_at, (earlier.started_at, earlier.finished_at, later.started_at)


async def test_a_plan_may_allow_more_trainings_at_once(hub, admin, plan_limits):
    runtime = hub.extensions["jobs"]
    kind = runtime.types["recommender.train"]
    assert await runtime.concurrency_limit(admin.org_id, kind) == 1
    await plan_limits(admin.org_id, {"concurrent_jobs.recommender.train": 3})
    assert await runtime.concurrency_limit(admin.org_id, kind) == 3
