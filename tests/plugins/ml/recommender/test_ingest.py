"""Ingest: seed 003 §9 validation record by record, batch limits, idempotent re-upload,
internal routes and their tenant check, permissions."""

from __future__ import annotations

import pytest

from tests.helpers import create_key
from tests.plugins.ml.recommender.support import RecommenderApi as Api

GOOD_ITEM = {"item_id": "item_456", "title": "Product Name", "description": "Product description",
             "category": "electronics", "tags": ["smartphone", "5g"]}
GOOD_INTERACTION = {"user_id": "user-1", "item_id": "item_456", "interaction_type": "view",
                    "timestamp": "2025-01-07T10:30:45Z"}


async def items_of(api: Api) -> dict:
    body = await api.call("get", "/api/v1/items?limit=100")
    return {item["item_id"]: item for item in body["items"]}


async def test_seed_example_upload_is_accepted(api):
    assert await api.upload_items([GOOD_ITEM]) == {"accepted": 1, "rejected": 0, "validation_errors": []}
    stored = (await items_of(api))["item_456"]
    assert stored["title"] == "Product Name" and stored["category"] == "electronics"
    assert stored["tags"] == ["smartphone", "5g"]


BAD_ITEMS = [
    ({"title": "no id"}, "Missing required field: item_id"),
    ({"item_id": "", "title": "empty id"}, "item_id"),
    ({"item_id": "has space", "title": "x"}, "item_id"),
    ({"item_id": "dots.not.allowed", "title": "x"}, "item_id"),
    ({"item_id": "ünïcode", "title": "x"}, "item_id"),
    ({"item_id": "a" * 129, "title": "x"}, "item_id"),
    ({"item_id": 123, "title": "x"}, "item_id"),
    ({"item_id": "ok-1"}, "Missing required field: title"),
    ({"item_id": "ok-2", "title": "x", "category": "Electronics"}, "category"),
    ({"item_id": "ok-3", "title": "x", "category": "home_garden"}, "category"),
    ({"item_id": "ok-4", "title": "x", "category": "c" * 65}, "category"),
    ({"item_id": "ok-5", "title": "x", "tags": [f"t{n}" for n in range(21)]}, "tags"),
    ({"item_id": "ok-6", "title": "x", "tags": ["t" * 33]}, "tags.0"),
    ({"item_id": "ok-7", "title": "x", "tags": "not-a-list"}, "tags"),
    ({"item_id": "ok-8", "title": "x", "created_at": "yesterday"}, "created_at"),
    ({"item_id": "ok-9", "title": "x", "created_at": "2025-01-07T10:30:45+02:00"}, "created_at"),
]


@pytest.mark.parametrize("record,reason", BAD_ITEMS, ids=[r for _, r in BAD_ITEMS])
async def test_each_item_rule_rejects_only_the_bad_record(api, record, reason):
    result = await api.upload_items([GOOD_ITEM, record])
    assert result["accepted"] == 1 and result["rejected"] == 1, result
    (problem,) = result["validation_errors"]
    assert problem["index"] == 1
    assert reason in problem["error"], problem
    if isinstance(record.get("item_id"), str):
        assert problem["item_id"] == record["item_id"][:200]
    assert set(await items_of(api)) == {"item_456"}


GOOD_EDGES = [
    {"item_id": "A-z_0-9", "title": "x"},
    {"item_id": "a" * 128, "title": "x", "category": "c" * 64},
    {"item_id": "edge-tags", "title": "x", "tags": [f"t{n}" for n in range(20)]},
    {"item_id": "edge-tag-len", "title": "x", "tags": ["t" * 32]},
    {"item_id": "edge-cat", "title": "x", "category": "home-garden-2"},
    {"item_id": "edge-time", "title": "x", "created_at": "2025-01-07T10:30:45+00:00"},
]


async def test_limits_themselves_are_allowed(api):
    result = await api.upload_items(GOOD_EDGES)
    assert result == {"accepted": len(GOOD_EDGES), "rejected": 0, "validation_errors": []}


BAD_INTERACTIONS = [
    ({"item_id": "i", "interaction_type": "view"}, "Missing required field: user_id"),
    ({"user_id": "u", "interaction_type": "view"}, "Missing required field: item_id"),
    ({"user_id": "u", "item_id": "i"}, "Missing required field: interaction_type"),
    ({"user_id": "u u", "item_id": "i", "interaction_type": "view"}, "user_id"),
    ({"user_id": "u" * 129, "item_id": "i", "interaction_type": "view"}, "user_id"),
    ({"user_id": "u", "item_id": "i/2", "interaction_type": "view"}, "item_id"),
    ({"user_id": "u", "item_id": "i", "interaction_type": "share"}, "interaction_type"),
    ({"user_id": "u", "item_id": "i", "interaction_type": "VIEW"}, "interaction_type"),
    ({"user_id": "u", "item_id": "i", "interaction_type": "view", "timestamp": "07/01/2025"}, "timestamp"),
    ({"user_id": "u", "item_id": "i", "interaction_type": "view", "timestamp": "2025-01-07T10:30:45-05:00"},
     "UTC"),
    ({"user_id": "u", "item_id": "i", "interaction_type": "view", "timestamp": 1736245845}, "timestamp"),
]


@pytest.mark.parametrize("record,reason", BAD_INTERACTIONS, ids=[r for _, r in BAD_INTERACTIONS])
async def test_each_interaction_rule_rejects_only_the_bad_record(api, record, reason):
    result = await api.upload_interactions([GOOD_INTERACTION, record])
    assert result["accepted"] == 1 and result["rejected"] == 1, result
    (problem,) = result["validation_errors"]
    assert reason in problem["error"] and problem["index"] == 1, problem
    assert {"user_id", "item_id"} <= set(problem)


async def test_every_interaction_type_and_an_absent_timestamp_are_accepted(api, hub):
    from plugins.ml.recommender.models import Interaction

    types = ("view", "click", "purchase", "like", "dislike", "add_to_cart", "remove_from_cart")
    rows = [{"user_id": "u-1", "item_id": f"i-{n}", "interaction_type": kind} for n, kind in enumerate(types)]
    assert (await api.upload_interactions(rows))["accepted"] == len(types)
    stored = await Interaction.filter(org_id=api.org_id).values_list("interaction_type", "occurred_at")
    assert sorted(kind for kind, _ in stored) == sorted(types)
    assert all(when is not None for _, when in stored)  # defaulted to the time of upload


async def test_non_object_records_are_rejected_one_by_one(api):
    result = await api.upload_items([GOOD_ITEM, "just a string", None])
    assert result["accepted"] == 1 and result["rejected"] == 2
    assert [p["index"] for p in result["validation_errors"]] == [1, 2]


@pytest.mark.parametrize("body", [{"items": "not a list"}, {"items": {"item_id": "x"}}, {}, [GOOD_ITEM]])
async def test_malformed_envelope_is_a_400(api, body):
    await api.error("post", "/api/v1/items", body, 400, "VALIDATION_ERROR")


async def test_broken_json_is_a_400(api):
    response = await api.client.post("/api/v1/items", data=b'{"items": [', headers={
        **api.headers, "Content-Type": "application/json"})
    body = await response.get_json()
    assert response.status_code == 400 and body["error"]["code"] in ("VALIDATION_ERROR", "BAD_REQUEST")


async def test_batch_of_10000_is_stored_and_10001_refused(api, hub):
    from plugins.ml.recommender.models import Item

    items = [{"item_id": f"bulk-{n}", "title": f"Bulk {n}", "category": "bulk"} for n in range(10_000)]
    assert (await api.upload_items(items))["accepted"] == 10_000
    assert await Item.filter(org_id=api.org_id).count() == 10_000
    error = await api.error("post", "/api/v1/items", {"items": items + [{"item_id": "one-more", "title": "x"}]},
                            413, "PAYLOAD_TOO_LARGE")
    assert error["details"]["limit"] == 10_000
    assert not await Item.filter(org_id=api.org_id, item_id="one-more").exists()


async def test_interaction_batch_over_the_limit_stores_nothing(api, hub):
    from plugins.ml.recommender.models import Interaction

    rows = [{"user_id": "u", "item_id": f"i-{n}", "interaction_type": "view"} for n in range(10_001)]
    await api.error("post", "/api/v1/recommender/interactions", {"interactions": rows}, 413, "PAYLOAD_TOO_LARGE")
    assert not await Interaction.filter(org_id=api.org_id).exists()


async def test_reupload_updates_in_place(api, hub):
    from plugins.ml.recommender.models import Item

    await api.upload_items([{**GOOD_ITEM, "created_at": "2024-05-01T00:00:00Z"}])
    changed = {"item_id": "item_456", "title": "New name", "category": "phones", "tags": ["x"]}
    assert (await api.upload_items([changed]))["accepted"] == 1
    rows = await Item.filter(org_id=api.org_id, item_id="item_456")
    assert len(rows) == 1
    assert (rows[0].title, rows[0].category, rows[0].tags) == ("New name", "phones", ["x"])
    assert rows[0].item_created_at.isoformat().startswith("2024-05-01")  # kept: the upload gave no date


async def test_same_id_twice_in_one_batch_keeps_the_last(api):
    result = await api.upload_items([{**GOOD_ITEM, "title": "first"}, {**GOOD_ITEM, "title": "second"}])
    assert result["accepted"] == 2
    assert (await items_of(api))["item_456"]["title"] == "second"


async def test_same_item_id_in_two_tenants_are_two_items(api, other_api):
    await api.upload_items([GOOD_ITEM])
    await other_api.upload_items([{**GOOD_ITEM, "title": "Theirs"}])
    assert (await items_of(api))["item_456"]["title"] == "Product Name"
    assert (await items_of(other_api))["item_456"]["title"] == "Theirs"


async def test_item_list_paginates(api):
    await api.upload_items([{"item_id": f"p-{n:02d}", "title": "x"} for n in range(7)])
    response = await api.client.get("/api/v1/items?limit=3&offset=3", headers=api.headers)
    body = await response.get_json()
    assert response.headers["X-Total-Count"] == "7"
    assert [item["item_id"] for item in body["items"]] == ["p-03", "p-04", "p-05"]


# -- the public single interaction --------------------------------------------------------------


async def test_track_interaction_seed_shape(api, hub):
    from plugins.ml.recommender.models import Interaction

    body = await api.call("post", "/api/v1/interactions", GOOD_INTERACTION, status=202)
    assert body["status"] == "accepted"
    row = await Interaction.get(id=body["interaction_id"])
    assert (str(row.org_id), row.user_id, row.interaction_type) == (api.org_id, "user-1", "view")
    assert row.occurred_at.isoformat().startswith("2025-01-07T10:30:45")


async def test_track_interaction_bad_field_is_a_400_naming_it(api):
    error = await api.error("post", "/api/v1/interactions", {**GOOD_INTERACTION, "interaction_type": "share"},
                            400, "VALIDATION_ERROR")
    assert "interaction_type" in error["details"]["field"]


# -- internal routes ----------------------------------------------------------------------------


async def test_internal_upload_with_a_service_key(internal_api):
    body = {"tenant_id": internal_api.org_id, "items": [GOOD_ITEM, {"item_id": "item_123"}]}
    result = await internal_api.call("post", "/internal/data/items", body)
    assert result == {"accepted": 1, "rejected": 1, "validation_errors": [
        {"index": 1, "item_id": "item_123", "error": "Missing required field: title"}]}
    body = {"tenant_id": internal_api.org_id, "interactions": [GOOD_INTERACTION] * 3}
    assert (await internal_api.call("post", "/internal/data/interactions", body))["accepted"] == 3


async def test_internal_upload_for_another_tenant_is_a_404(internal_api, other_admin, hub):
    from plugins.ml.recommender.models import Item

    for tenant in (other_admin.org_id, "not-a-uuid"):
        body = {"tenant_id": tenant, "items": [GOOD_ITEM]}
        error = await internal_api.error("post", "/internal/data/items", body, 404, "NOT_FOUND")
        assert error["details"]["field"] == "tenant_id"
        body = {"tenant_id": tenant, "interactions": [GOOD_INTERACTION]}
        await internal_api.error("post", "/internal/data/interactions", body, 404, "NOT_FOUND")
    assert not await Item.filter(item_id="item_456", org_id=other_admin.org_id).exists()


async def test_internal_routes_need_the_internal_scope(client, admin):
    writer = Api.with_key(client, (await create_key(client, admin, ["write"]))["key"], admin)
    await writer.error("post", "/internal/data/items", {"tenant_id": admin.org_id, "items": [GOOD_ITEM]},
                       403, "FORBIDDEN")
    assert (await writer.upload_items([GOOD_ITEM]))["accepted"] == 1  # the public route is fine


async def test_viewer_and_read_keys_cannot_ingest(client, admin, member_api):
    viewer = await member_api("viewer")
    await viewer.error("post", "/api/v1/items", {"items": [GOOD_ITEM]}, 403, "FORBIDDEN")
    await viewer.error("post", "/api/v1/interactions", GOOD_INTERACTION, 403, "FORBIDDEN")
    reader = Api.with_key(client, (await create_key(client, admin, ["read"]))["key"], admin)
    await reader.error("post", "/api/v1/items", {"items": [GOOD_ITEM]}, 403, "FORBIDDEN")
    await viewer.call("get", "/api/v1/items")  # reading is allowed


async def test_developer_can_ingest_but_not_use_internal_routes(member_api):
    developer = await member_api("developer")
    assert (await developer.upload_items([GOOD_ITEM]))["accepted"] == 1
    await developer.error("post", "/internal/data/items", {"tenant_id": developer.org_id, "items": [GOOD_ITEM]},
                          403, "FORBIDDEN")


async def test_without_credentials_is_a_401(client):
    response = await client.post("/api/v1/items", json={"items": [GOOD_ITEM]})
    assert response.status_code == 401
