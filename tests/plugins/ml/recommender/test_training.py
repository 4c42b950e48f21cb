"""Training through the API: the seed's trigger, the job and its events and metrics, model
versions, clear errors, and switching the served version while requests keep coming."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core import tenant_label



async def test_seed_trigger_runs_the_job_end_to_end(api, internal_api, hub, events):
    await api.seed()
    accepted = await internal_api.call("post", "/internal/ml/training/trigger", {
        "tenant_id": api.org_id,
        "training_config": {"model_type": "matrix_factorization",
                            "hyperparameters": {"embedding_dim": 8, "learning_rate": 0.001, "epochs": 2},
                            "data_range": {"start_date": "2025-01-01T00:00:00Z", "end_date": "2025-12-31T00:00:00Z"}},
    }, status=202)
    assert accepted["status"] == "queued" and accepted["estimated_duration_minutes"] > 0
    job = await api.wait_for_job(accepted["job_id"])
    assert job["status"] == "completed" and job["progress"] == 100, job
    assert job["output_data"]["model_version"] == accepted["model_version"] == "v1"

    model = await api.call("get", "/api/v1/recommender/models/v1")
    assert model["status"] == "ready" and model["is_active"] and model["dimension"] == 8
    assert model["interaction_count"] == 144 and model["item_count"] == 40
    directory = Path(hub.settings.data_dir) / "recommender" / api.org_id / "v1"
    assert (directory / "model.json").exists()
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".tmp")]

    mine = [e for e in events.of(api.org_id) if e.type.startswith("recommender.training.")]
    kinds = [e.type for e in mine]
    assert kinds[0] == "recommender.training.started" and kinds[-1] == "recommender.training.completed"
    progress = [e.data for e in mine if e.type == "recommender.training.progressed"]
    assert progress and all(p["model_version"] == "v1" and p["loss"] >= 0 for p in progress)
    assert events.of(api.org_id, "job.progressed")

    # the tenant is a keyed hash of the organization id; no label grows per run or epoch
    tenant = tenant_label(hub, api.org_id)
    response = await api.client.get("/metrics")
    text = (await response.get_data()).decode()
    assert api.org_id not in text
    assert f'ml_training_duration_seconds_count{{model_type="matrix_factorization",tenant_id="{tenant}"}} 1.0' in text
    assert f'ml_training_loss{{model_type="matrix_factorization",tenant_id="{tenant}"}}' in text
    assert "epoch=" not in text and "model_version=" not in text
    await api.recommend("user-1")
    text = (await (await api.client.get("/metrics")).get_data()).decode()
    assert f'ml_ann_search_duration_seconds_count{{index_size="1e1",tenant_id="{tenant}"}}' in text
    assert f'ml_recommendations_per_request_count{{tenant_id="{tenant}"}}' in text


async def test_data_range_limits_the_training_data(api):
    await api.seed()
    trained = await api.train(data_range={"start_date": "2025-02-03T00:00:00Z"})
    model = await api.call("get", f"/api/v1/recommender/models/{trained['model_version']}")
    assert 0 < model["interaction_count"] < 144


async def test_two_tower(api):
    await api.seed()
    trained = await api.train(model_type="two_tower")
    assert (await api.recommend("user-1"))["metadata"]["model_version"] == trained["model_version"]
    assert (await api.call("get", "/api/v1/recommender/models/v1"))["model_type"] == "two_tower"


async def test_gnn_and_bad_hyperparameters_are_clear_400s(api, internal_api):
    await api.seed()
    error = await internal_api.error("post", "/internal/ml/training/trigger", {
        "tenant_id": api.org_id, "training_config": {"model_type": "gnn"}}, 400, "VALIDATION_ERROR")
    assert "gnn" in error["message"] and error["details"]["field"] == "training_config.model_type"
    error = await api.error("post", "/api/v1/recommender/training", {
        "training_config": {"hyperparameters": {"epochz": 3}}}, 400, "VALIDATION_ERROR")
    assert "epochz" in error["details"]["reason"]
    error = await api.error("post", "/api/v1/recommender/training", {
        "training_config": {"hyperparameters": {"ann_method": "annoy"}}}, 400, "VALIDATION_ERROR")
    assert "ivf, hnsw" in error["details"]["reason"]
    await internal_api.error("post", "/internal/ml/training/trigger", {
        "tenant_id": api.org_id, "training_config": {"model_type": "random_forest"}}, 400, "VALIDATION_ERROR")
    assert (await api.call("get", "/api/v1/recommender/models"))["total"] == 0


async def test_nothing_to_train_on_fails_the_job_and_the_version(api, events):
    await api.upload_items([{"item_id": "lonely", "title": "Lonely item"}])
    trained = await api.train(status="failed")
    assert "No interactions" in trained["job"]["error"]
    model = await api.call("get", "/api/v1/recommender/models/v1")
    assert model["status"] == "failed" and not model["is_active"] and "No interactions" in model["error"]
    assert events.of(api.org_id, "recommender.training.failed")
    assert (await api.recommend("u"))["metadata"]["model_version"] == "popularity-v1"


async def test_versions_list_and_rollback(api, member_api):
    await api.seed()
    await api.train()
    await api.train()
    response = await api.client.get("/api/v1/recommender/models?limit=1", headers=api.headers)
    body = await response.get_json()
    assert response.headers["X-Total-Count"] == "2" and body["active_version"] == "v2"
    assert [m["version"] for m in body["models"]] == ["v2"]
    developer = await member_api("developer")
    await developer.error("put", "/api/v1/recommender/active-model", {"model_version": "v1"}, 403, "FORBIDDEN")
    activated = await api.call("put", "/api/v1/recommender/active-model", {"model_version": "v1"})
    assert activated["is_active"] and activated["version"] == "v1"
    assert (await api.recommend("user-1"))["metadata"]["model_version"] == "v1"
    await api.error("put", "/api/v1/recommender/active-model", {"model_version": "v3"}, 404, "NOT_FOUND")
    await api.error("get", "/api/v1/recommender/models/v3", None, 404, "NOT_FOUND")


async def test_another_tenants_versions_are_invisible(api, other_api):
    await api.seed()
    await api.train()
    assert (await other_api.call("get", "/api/v1/recommender/models"))["total"] == 0
    await other_api.error("get", "/api/v1/recommender/models/v1", None, 404, "NOT_FOUND")
    await other_api.error("put", "/api/v1/recommender/active-model", {"model_version": "v1"}, 404, "NOT_FOUND")


async def test_requests_keep_succeeding_while_the_model_switches(api):
    await api.seed()
    await api.train()
    accepted = await api.call("post", "/api/v1/recommender/training",
                              {"training_config": {"hyperparameters": {"epochs": 3, "ranker_rounds": 10}}}, status=202)
    versions, statuses = [], []

    async def keep_asking() -> None:
        n = 0
        while True:
            n += 1
            # a different user each time: no cached answer hides the switch
            response = await api.client.post("/api/v1/recommendations", json={"user_id": f"user-{n % 24}", "count": 3},
                                             headers=api.headers)
            statuses.append(response.status_code)
            versions.append((await response.get_json()).get("metadata", {}).get("model_version"))
            job = await api.call("get", f"/api/v1/jobs/{accepted['job_id']}")
            if job["status"] in ("completed", "failed") and versions[-1] == "v2":
                return
            if n > 2000:
                raise AssertionError("the new version was never served")
            await asyncio.sleep(0)

    await keep_asking()
    assert set(statuses) == {200}
    assert set(versions) == {"v1", "v2"} and versions[0] == "v1" and versions[-1] == "v2"
    assert versions.index("v2") > 0 and "v1" not in versions[versions.index("v2"):]


async def test_a_deleted_model_directory_does_not_fail_requests(api, hub):
    import shutil

    await api.seed()
    await api.train()
    await api.train()
    assert (await api.recommend("user-1"))["metadata"]["model_version"] == "v2"
    # another process (no copy of v1 in memory) pinned to a version whose files are gone
    from plugins.ml.recommender.serving import serving_state

    state = serving_state(hub)
    for key in [k for k in state.models if k[0] == api.org_id and k[1] == "v1"]:
        del state.models[key]
    shutil.rmtree(Path(hub.settings.data_dir) / "recommender" / api.org_id / "v1")
    body = await api.recommend("user-2", model_version="v1")  # served by v2, still loaded
    assert body["metadata"]["model_version"] == "v2" and body["recommendations"]


async def test_the_only_model_lost_from_disk_degrades_instead_of_failing(api, hub):
    import shutil

    from plugins.ml.recommender.serving import serving_state

    await api.seed()
    await api.train()
    state = serving_state(hub)
    for key in [k for k in state.models if k[0] == api.org_id]:
        del state.models[key]
    shutil.rmtree(Path(hub.settings.data_dir) / "recommender" / api.org_id / "v1")
    body = await api.recommend("user-1")
    assert body["metadata"]["model_version"] == "popularity-v1" and body["recommendations"]
    await api.error("post", "/api/v1/recommendations", {"user_id": "user-1", "model_version": "v1"},
                    503, "SERVICE_UNAVAILABLE")
    assert (await api.call("get", "/api/v1/items/books-1/embedding"))["model_version"] == "features-v1"
