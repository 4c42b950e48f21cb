"""Training-data export (seed 003 §3), usage metering, the LLM functions and the health check."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from tests.plugins.ml.recommender.support import catalog, interactions


async def _export(internal_api, **dates) -> dict:
    accepted = await internal_api.call("post", "/internal/data/export", {"tenant_id": internal_api.org_id, **dates},
                                       status=202)
    job = await internal_api.wait_for_job(accepted["job_id"])
    assert job["status"] == "completed", job
    return job["output_data"]


async def test_export_writes_parquet_per_day_and_the_catalog(api, internal_api, hub):
    await api.seed()
    await api.call("post", "/api/v1/interactions", {
        "user_id": "user-0", "item_id": "books-0", "interaction_type": "dislike", "timestamp": "2025-02-01T12:00:00Z",
        "context": {"device_type": "mobile", "session_id": "s-9"}}, status=202)
    result = await _export(internal_api)
    root = Path(hub.settings.data_dir) / "recommender" / "exports" / "tenants" / api.org_id
    catalog_file = json.loads((root / "catalog.json").read_text())
    assert set(catalog_file) == {"tenant_id", "data_version", "partitions", "schema_version", "updated_at"}
    assert catalog_file["tenant_id"] == api.org_id and catalog_file["data_version"] == result["data_version"] == "v1"
    assert catalog_file["schema_version"] == "1.0" and catalog_file["updated_at"].endswith("Z")
    days = sorted({row["timestamp"][:10] for row in interactions()})  # the seed data spans 6 days
    assert [p["date"] for p in catalog_file["partitions"]] == days
    total = 0
    for partition in catalog_file["partitions"]:
        assert set(partition) == {"date", "path", "row_count", "file_size_mb"} and partition["file_size_mb"] > 0
        directory = root / "training_data" / partition["date"]
        assert partition["path"] == directory.resolve().as_uri() + "/"
        table = pq.read_table(directory / "part-00000.parquet")
        assert table.num_rows == partition["row_count"]
        total += table.num_rows
        assert table.column_names == ["user_id", "item_id", "interaction_type", "timestamp", "label", "features"]
        assert set(table.schema.field("features").type.names) == {"user_features", "item_features", "context_features"}
    assert total == len(interactions()) + 1
    rows = pq.read_table(root / "training_data" / "2025-02-01" / "part-00000.parquet").to_pylist()
    disliked = next(r for r in rows if r["interaction_type"] == "dislike")
    assert disliked["label"] == 0.0 and disliked["timestamp"] == 1738411200
    assert disliked["features"]["context_features"] == {"device_type": "mobile", "session_id": "s-9"}
    assert disliked["features"]["item_features"]["category"] == "books"
    purchase = next(r for r in rows if r["interaction_type"] == "purchase")
    assert purchase["label"] == 1.0
    assert all(0.0 <= r["label"] <= 1.0 for r in rows)

    again = await _export(internal_api, start_date="2025-02-01T00:00:00Z", end_date="2025-02-01T23:59:59Z")
    catalog_file = json.loads((root / "catalog.json").read_text())
    assert again["partitions"] == 1 and catalog_file["data_version"] == "v2"
    assert [p["date"] for p in catalog_file["partitions"]] == days  # earlier days are kept


async def test_export_is_internal_and_tenant_checked(client, admin, internal_api, other_admin):
    from tests.helpers import create_key
    from tests.plugins.ml.recommender.support import RecommenderApi as Api

    writer = Api.with_key(client, (await create_key(client, admin, ["write"]))["key"], admin)
    await writer.error("post", "/internal/data/export", {"tenant_id": admin.org_id}, 403, "FORBIDDEN")
    await internal_api.error("post", "/internal/data/export", {"tenant_id": other_admin.org_id}, 404, "NOT_FOUND")


async def test_usage_counts_items_indexed_and_recommendations_served(api):
    await api.upload_items(catalog()[:7])
    await api.upload_items(catalog()[:3] + [{"item_id": "bad id", "title": "x"}])  # 3 good (re-indexed), 1 bad
    served = 0
    for count in (5, 2, 4):
        served += len((await api.recommend("u", count=count))["recommendations"])
    usage = await api.call("get", "/api/v1/usage")
    assert usage["metrics"]["items_indexed"] == 10
    assert usage["metrics"]["recommendations_served"] == served == 11


async def test_functions(api, hub, app):
    from core.tenancy.principals import principal_from_credential
    from core.tenancy.functions import available_functions, call_function

    await api.seed()
    await api.train()
    async with app.app_context():
        principal = await principal_from_credential(api.account.access_token)
        names = {f.name for f in await available_functions(hub, principal)}
        assert {"recommend_items", "track_interaction"} <= names
        result = await call_function(hub, principal, "recommend_items",
                                     {"user_id": "user-1", "count": 3, "categories": ["toys"]})
        assert result["model_version"] == "v1" and len(result["recommendations"]) == 3
        assert all(r["category"] == "toys" for r in result["recommendations"])
        tracked = await call_function(hub, principal, "track_interaction",
                                      {"user_id": "user-1", "item_id": "toys-3", "interaction_type": "like"})
        assert tracked["status"] == "accepted"
        bad = None
        try:
            await call_function(hub, principal, "track_interaction",
                                {"user_id": "user-1", "item_id": "toys-3", "interaction_type": "share"})
        except Exception as error:  # noqa: BLE001 - the HubError is what we check
            bad = error
        assert getattr(bad, "code", None) == "VALIDATION_ERROR"
    from plugins.ml.recommender.models import Interaction

    assert await Interaction.filter(org_id=api.org_id, user_id="user-1", item_id="toys-3", interaction_type="like").exists()


async def test_viewer_may_ask_but_not_track_through_functions(member_api, app, hub):
    from core.tenancy.principals import principal_from_credential
    from core.tenancy.functions import available_functions

    viewer = await member_api("viewer")
    async with app.app_context():
        principal = await principal_from_credential(viewer.account.access_token)
        names = {f.name for f in await available_functions(hub, principal)}
    assert "recommend_items" in names and "track_interaction" not in names


async def test_health_reports_the_model_store(client):
    body = await (await client.get("/health")).get_json()
    assert body["checks"]["recommender_models"] == "healthy"
