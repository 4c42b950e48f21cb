"""Serving: before and after training, filters, cold start, unknown users, repurchase,
cache and its invalidation, pinned versions, tenant isolation, the internal shape, the
per-tenant rate limit."""

from __future__ import annotations

import asyncio
import uuid

from tests.plugins.ml.recommender.support import interactions, user_category


async def test_before_any_model_popular_items_are_served(api):
    await api.seed()
    body = await api.recommend("user-1", count=5)
    assert body["metadata"]["model_version"] == "popularity-v1"
    scores = [r["score"] for r in body["recommendations"]]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True) and scores[0] == 1.0


async def test_before_any_model_the_feature_embedding_is_served(api):
    await api.seed()
    body = await api.call("get", "/api/v1/items/books-1/embedding")
    assert body["model_version"] == "features-v1" and body["dimension"] == 128 == len(body["embedding"])


async def test_trained_model_follows_the_users_taste(api):
    await api.seed()
    await api.train()
    for user in ("user-0", "user-1", "user-2"):
        body = await api.recommend(user, count=3)
        assert body["metadata"]["model_version"] == "v1"
        assert body["recommendations"], body
        top = body["recommendations"][0]["item_id"]
        assert top.startswith(user_category(user)), (user, body)
        seen = {r["item_id"] for r in interactions() if r["user_id"] == user}
        assert not seen & {r["item_id"] for r in body["recommendations"]}  # nothing already seen


async def test_internal_shape(api, internal_api):
    await api.seed()
    await api.train()
    body = await internal_api.call("post", "/internal/ml/recommendations", {
        "tenant_id": api.org_id, "user_id": "user-1", "count": 4,
        "context": {"device_type": "mobile", "location": "Berlin", "session_id": "s-1"},
        "filters": {"categories": ["electronics", "books"], "min_score": 0.0, "exclude_ids": ["electronics-0"]},
    })
    assert set(body) == {"request_id", "recommendations", "model_version", "latency_ms", "cache_hit", "fallback"}
    assert body["fallback"] is None  # a known user, ranked by the model
    uuid.UUID(body["request_id"])
    assert body["model_version"] == "v1" and body["cache_hit"] is False and body["latency_ms"] >= 0
    for r in body["recommendations"]:
        assert set(r) == {"item_id", "score", "embedding_distance", "metadata"}
        assert r["metadata"]["category"] in ("electronics", "books")
        assert r["metadata"]["created_at"].startswith("2025-01-")
        assert r["item_id"] != "electronics-0"


async def test_filters(api):
    await api.seed()
    await api.train()
    body = await api.recommend("user-0", count=10, filters={"categories": ["toys", "groceries"]})
    assert body["recommendations"]
    assert {r["item_id"].split("-")[0] for r in body["recommendations"]} <= {"toys", "groceries"}
    everything = await api.recommend("user-0", count=20)
    excluded = [r["item_id"] for r in everything["recommendations"][:3]]
    body = await api.recommend("user-0", count=20, filters={"exclude_ids": excluded})
    assert not set(excluded) & {r["item_id"] for r in body["recommendations"]}
    threshold = everything["recommendations"][2]["score"]
    body = await api.recommend("user-0", count=20, filters={"min_score": threshold})
    assert body["recommendations"] and all(r["score"] >= threshold for r in body["recommendations"])
    assert len(body["recommendations"]) < len(everything["recommendations"])
    assert (await api.recommend("user-0", count=20, filters={"min_score": 1.01}))["recommendations"] == []


async def test_bad_requests(api):
    await api.error("post", "/api/v1/recommendations", {"user_id": "bad id"}, 400, "VALIDATION_ERROR")
    await api.error("post", "/api/v1/recommendations", {"user_id": "u", "count": 0}, 400, "VALIDATION_ERROR")
    await api.error("post", "/api/v1/recommendations", {"user_id": "u", "count": 101}, 400, "VALIDATION_ERROR")
    await api.error("post", "/api/v1/recommendations", {"user_id": "u", "filters": {"categories": ["Books"]}},
                    400, "VALIDATION_ERROR")


async def test_unknown_user_gets_popular_items(api):
    await api.seed()
    fans = [{"user_id": f"fan-{n}", "item_id": "toys-0", "interaction_type": "purchase"} for n in range(12)]
    await api.upload_interactions(fans)
    await api.train()
    body = await api.recommend("never-seen-before", count=3)
    assert body["metadata"]["model_version"] == "v1"
    assert body["recommendations"][0]["item_id"] == "toys-0"


async def test_cold_start_items_are_recommendable_without_retraining(api):
    await api.seed()
    await api.train()
    await api.upload_items([{"item_id": "gadget-1", "title": "Electronics gadget", "category": "gadgets",
                             "tags": ["electronics"]}])
    body = await api.recommend("user-1", count=5, filters={"categories": ["gadgets"]})
    assert [r["item_id"] for r in body["recommendations"]] == ["gadget-1"]
    embedding = await api.call("get", "/api/v1/items/gadget-1/embedding")
    assert embedding["model_version"] == "v1" and embedding["dimension"] == 16


async def test_repurchase_setting_both_ways(api):
    await api.seed()
    await api.train()
    purchased = {r["item_id"] for r in interactions()
                 if r["user_id"] == "user-0" and r["interaction_type"] == "purchase"}
    request = {"count": 10, "filters": {"categories": ["books"]}}
    settings = await api.call("get", "/api/v1/recommender/settings")
    assert settings["allow_repurchase"] is False  # durable goods by default
    durable = {r["item_id"] for r in (await api.recommend("user-0", **request))["recommendations"]}
    assert durable and not durable & purchased
    await api.call("patch", "/api/v1/recommender/settings", {"allow_repurchase": True})
    consumable = {r["item_id"] for r in (await api.recommend("user-0", **request))["recommendations"]}
    assert purchased <= consumable
    await api.call("patch", "/api/v1/recommender/settings", {"allow_repurchase": False})
    assert not purchased & {r["item_id"] for r in (await api.recommend("user-0", **request))["recommendations"]}


async def test_settings_need_admin_and_valid_values(api, member_api):
    developer = await member_api("developer")
    await developer.error("patch", "/api/v1/recommender/settings", {"allow_repurchase": True}, 403, "FORBIDDEN")
    await api.error("patch", "/api/v1/recommender/settings", {"default_model_type": "gnn"}, 400, "VALIDATION_ERROR")
    await api.error("patch", "/api/v1/recommender/settings", {"allow_repurchase": None}, 400, "VALIDATION_ERROR")
    body = await api.call("patch", "/api/v1/recommender/settings", {"default_model_type": "two_tower"})
    assert body["default_model_type"] == "two_tower"
    assert (await developer.call("get", "/api/v1/recommender/settings"))["default_model_type"] == "two_tower"


async def test_cache_hit_then_invalidated_by_an_interaction_and_by_a_new_model(api):
    await api.seed()
    await api.train()
    first = await api.recommend("user-2", count=5)
    again = await api.recommend("user-2", count=5)
    assert (first["metadata"]["cache_hit"], again["metadata"]["cache_hit"]) == (False, True)
    assert again["recommendations"] == first["recommendations"]
    assert (await api.recommend("user-3", count=5))["metadata"]["cache_hit"] is False  # per user
    top = first["recommendations"][0]["item_id"]
    await api.call("post", "/api/v1/interactions", {"user_id": "user-2", "item_id": top,
                                                    "interaction_type": "purchase"}, status=202)
    after = await api.recommend("user-2", count=5)
    assert after["metadata"]["cache_hit"] is False
    assert top not in {r["item_id"] for r in after["recommendations"]}  # bought: durable goods
    assert (await api.recommend("user-2", count=5))["metadata"]["cache_hit"] is True
    await api.train()
    fresh = await api.recommend("user-2", count=5)
    assert fresh["metadata"] == {**fresh["metadata"], "cache_hit": False, "model_version": "v2"}


async def test_pinned_model_version(api):
    await api.seed()
    await api.train()
    await api.train()
    assert (await api.recommend("user-1"))["metadata"]["model_version"] == "v2"
    assert (await api.recommend("user-1", model_version="v1"))["metadata"]["model_version"] == "v1"
    await api.error("post", "/api/v1/recommendations", {"user_id": "user-1", "model_version": "v9"},
                    404, "NOT_FOUND")


async def test_tenants_never_see_each_others_items(api, other_api):
    await api.seed()
    await other_api.upload_items([{"item_id": f"secret-{n}", "title": f"Secret {n}", "category": "books"}
                                  for n in range(10)])
    await other_api.upload_interactions([
        {"user_id": f"user-{n % 7}", "item_id": f"secret-{n % 10}", "interaction_type": "click"} for n in range(30)])
    for tenant in (api, other_api):
        body = await tenant.recommend("user-0", count=20)  # popularity before any model
        assert body["recommendations"]
    books = await api.recommend("user-0", count=50, filters={"categories": ["books"]})
    ours = {r["item_id"] for r in books["recommendations"]}
    assert not any(item.startswith("secret-") for item in ours)
    await api.train()
    await other_api.train()
    for user in ("user-0", "user-5", "nobody"):
        ours = {r["item_id"] for r in (await api.recommend(user, count=50))["recommendations"]}
        theirs = {r["item_id"] for r in (await other_api.recommend(user, count=50))["recommendations"]}
        assert ours and not any(item.startswith("secret-") for item in ours)
        assert theirs and all(item.startswith("secret-") for item in theirs)
    await api.error("get", "/api/v1/items/secret-1/embedding", None, 404, "NOT_FOUND")
    await other_api.error("get", "/api/v1/items/books-1/embedding", None, 404, "NOT_FOUND")
    await api.error("post", "/internal/ml/recommendations",
                    {"tenant_id": other_api.org_id, "user_id": "user-0"}, 404, "NOT_FOUND")


async def test_embeddings_endpoint(api, internal_api):
    await api.seed()
    request = {"tenant_id": api.org_id, "items": [
        {"item_id": "books-1", "features": {"title": "Books product 1", "category": "books"}},
        {"item_id": "brand-new", "features": {"title": "A new book", "description": "novel", "category": "books",
                                              "tags": ["fiction"], "image_url": "https://example.com/a.png"}},
    ]}
    before = await internal_api.call("post", "/internal/ml/embeddings", request)
    assert before["model_version"] == "features-v1"
    assert [e["dimension"] for e in before["embeddings"]] == [128, 128]
    await api.train()
    after = await internal_api.call("post", "/internal/ml/embeddings", request)
    assert after["model_version"] == "v1"
    learned, content = after["embeddings"]
    assert (learned["model_version"], learned["dimension"]) == ("v1", 16)
    assert (content["model_version"], content["dimension"]) == ("features-v1", 128)
    assert content["embedding"] == before["embeddings"][1]["embedding"]  # deterministic
    await internal_api.error("post", "/internal/ml/embeddings", {**request, "model_version": "v7"}, 404, "NOT_FOUND")
    await internal_api.error("post", "/internal/ml/embeddings", {"tenant_id": api.org_id, "items": []},
                             400, "VALIDATION_ERROR")


async def test_rate_limit_is_per_tenant(api, other_api):
    await api.upload_items([{"item_id": "only", "title": "Only item"}])

    async def ask():
        return await api.client.post("/api/v1/recommendations", json={"user_id": "u"}, headers=api.headers)

    statuses, limited = [], None
    for _ in range(20):  # waves of concurrent requests, faster than 1000/minute refills the burst of 100
        responses = await asyncio.gather(*(ask() for _ in range(60)))
        statuses += [r.status_code for r in responses]
        limited = next((r for r in responses if r.status_code == 429), None)
        if limited is not None:
            break
    assert limited is not None and statuses.count(200) >= 100, statuses
    body = await limited.get_json()
    assert body["error"]["code"] == "RATE_LIMIT_EXCEEDED" and limited.headers["Retry-After"]
    assert (await other_api.call("post", "/api/v1/recommendations", {"user_id": "u"}))["recommendations"] == []


async def test_viewer_gets_recommendations_and_read_keys_too(api, member_api, client, admin):
    from tests.helpers import create_key
    from tests.plugins.ml.recommender.support import RecommenderApi as Api

    await api.seed()
    viewer = await member_api("viewer")
    assert (await viewer.recommend("user-1"))["recommendations"]
    reader = Api.with_key(client, (await create_key(client, admin, ["read"]))["key"], admin)
    assert (await reader.recommend("user-1"))["recommendations"]
    await viewer.error("post", "/api/v1/recommender/training", {}, 403, "FORBIDDEN")
    await viewer.error("post", "/internal/ml/recommendations", {"tenant_id": admin.org_id, "user_id": "u"},
                       403, "FORBIDDEN")


async def test_before_any_model_bought_and_disliked_items_are_left_out(api):
    await api.upload_items([{"item_id": f"i-{n}", "title": f"Item {n}"} for n in range(4)])
    await api.upload_interactions([{"user_id": "fan", "item_id": f"i-{n}", "interaction_type": "click"}
                                   for n in range(4) for _ in range(n + 1)])
    await api.upload_interactions([{"user_id": "u", "item_id": "i-3", "interaction_type": "purchase"},
                                   {"user_id": "u", "item_id": "i-2", "interaction_type": "dislike"}])
    assert [r["item_id"] for r in (await api.recommend("u", count=4))["recommendations"]] == ["i-1", "i-0"]
    await api.call("patch", "/api/v1/recommender/settings", {"allow_repurchase": True})
    assert [r["item_id"] for r in (await api.recommend("u", count=4))["recommendations"]] == ["i-3", "i-1", "i-0"]
