"""Issue 17: repeat-purchase aware ranking (`repurchase` auto/always/never and its alias
`allow_repurchase`), the holdout quality of every training run and the refusal to serve a model
below popularity, readable scores (`min_score` 0.5, `metadata.fallback`), interactions with
unknown items, and deleting items."""

from __future__ import annotations

import random

from tests.plugins.ml.recommender.support import FAST_TRAINING

GROCERIES = 24
SHOPPERS = 20
ORDERS = 6


def grocery_catalog() -> list[dict]:
    return [{"item_id": f"g-{n}", "title": f"Grocery {n}", "category": "food"} for n in range(GROCERIES)]


def grocery_orders(seed: int = 3) -> list[dict]:
    """Each shopper buys their own three staples in almost every weekly order, plus one other
    item: about 20 x 6 x 3.5 = 420 purchases, most of them repeats."""
    rng = random.Random(seed)
    rows = []
    for shopper in range(SHOPPERS):
        staples = rng.sample(range(GROCERIES), 3)
        for order in range(ORDERS):
            basket = {n for n in staples if rng.random() < 0.85} | {rng.randrange(GROCERIES)}
            for n in sorted(basket):
                rows.append({"user_id": f"shopper-{shopper}", "item_id": f"g-{n}", "interaction_type": "purchase",
                             "timestamp": f"2025-03-{order * 4 + 1:02d}T{shopper % 24:02d}:00:00Z"})
    return rows


def staples_of(shopper: str, rows: list[dict]) -> set[str]:
    counts: dict[str, int] = {}
    for row in rows:
        if row["user_id"] == shopper:
            counts[row["item_id"]] = counts.get(row["item_id"], 0) + 1
    return {item for item, n in counts.items() if n >= 4}


async def seed_groceries(api) -> list[dict]:
    rows = grocery_orders()
    assert (await api.upload_items(grocery_catalog()))["rejected"] == 0
    assert (await api.upload_interactions(rows))["rejected"] == 0
    return rows


async def test_auto_measures_repeat_buying_and_offers_staples_again(api):
    rows = await seed_groceries(api)
    settings = await api.call("get", "/api/v1/recommender/settings")
    assert settings["repurchase"] == "auto" and settings["repeat_purchase_rate"] is None
    assert settings["allow_repurchase"] is False  # auto, before any measurement: not yet

    trained = await api.train()
    output = trained["job"]["output_data"]
    assert output["repurchase"]["mode"] == "auto" and output["repurchase"]["decision"] == "always"
    assert output["repurchase"]["rate"] > 0.5
    settings = await api.call("get", "/api/v1/recommender/settings")
    assert settings["repurchase_decision"] == "always" and settings["allow_repurchase"] is True
    assert settings["repeat_purchase_rate"] == output["repurchase"]["rate"]

    shopper = "shopper-0"
    staples = staples_of(shopper, rows)
    top = [r["item_id"] for r in (await api.recommend(shopper, count=5))["recommendations"]]
    assert staples <= set(top), (staples, top)

    await api.call("patch", "/api/v1/recommender/settings", {"repurchase": "never"})
    bought = {r["item_id"] for r in rows if r["user_id"] == shopper}
    offered = {r["item_id"] for r in (await api.recommend(shopper, count=10))["recommendations"]}
    assert offered and not offered & bought


async def test_a_durable_goods_log_makes_auto_choose_never(api):
    await api.seed()  # every purchase is of a different item
    output = (await api.train())["job"]["output_data"]
    assert output["repurchase"] == {"mode": "auto", "rate": 0.0, "decision": "never"}
    settings = await api.call("get", "/api/v1/recommender/settings")
    assert (settings["repurchase"], settings["repurchase_decision"], settings["allow_repurchase"]) == (
        "auto", "never", False)


async def test_allow_repurchase_is_an_alias_of_repurchase(api):
    patch = "/api/v1/recommender/settings"
    body = await api.call("patch", patch, {"allow_repurchase": True})
    assert (body["repurchase"], body["allow_repurchase"]) == ("always", True)
    body = await api.call("patch", patch, {"allow_repurchase": False})
    assert (body["repurchase"], body["allow_repurchase"]) == ("never", False)
    body = await api.call("patch", patch, {"repurchase": "auto"})
    assert body["repurchase"] == "auto"
    error = await api.error("patch", patch, {"repurchase": "never", "allow_repurchase": True}, 400, "VALIDATION_ERROR")
    assert error["details"]["field"] == "allow_repurchase"
    await api.error("patch", patch, {"repurchase": "sometimes"}, 400, "VALIDATION_ERROR")
    assert (await api.call("get", patch))["repurchase"] == "auto"


async def test_every_training_reports_holdout_quality_with_its_baselines(api):
    await seed_groceries(api)
    trained = await api.train()
    holdout = trained["job"]["output_data"]["holdout"]
    assert holdout["users"] == SHOPPERS and holdout["k"] == 10
    for name in ("model", "popularity", "buy_again"):
        assert 0 <= holdout[name]["ndcg@10"] <= 1 and 0 <= holdout[name]["recall@10"] <= 1
    # staples dominate each last order: the user's own history beats the crowd's
    assert holdout["buy_again"]["ndcg@10"] > holdout["popularity"]["ndcg@10"]
    assert holdout["model"]["ndcg@10"] > holdout["popularity"]["ndcg@10"]
    listed = (await api.call("get", "/api/v1/recommender/models"))["models"][0]
    assert listed["holdout"] == holdout == listed["metrics"]["holdout"]
    assert trained["job"]["output_data"]["activated"] is True


# a model whose item vectors are regularized to nothing and whose candidates come from them
# alone, among many items nobody bought: worse than popularity
CRIPPLED = {**FAST_TRAINING, "embedding_dim": 1, "epochs": 1, "regularization": 1e6, "ranker_rounds": 0,
            "candidates_model": 1, "candidates_cooccurrence": 0, "candidates_popular": 0,
            "candidates_repurchase": 0}


async def test_a_model_below_popularity_is_not_served_unless_forced(api):
    await seed_groceries(api)
    await api.upload_items([{"item_id": f"shelf-{n}", "title": f"Shelf item {n}"} for n in range(100)])
    await api.call("patch", "/api/v1/recommender/settings", {"repurchase": "always"})
    good = await api.train()
    bad = await api.train(hyperparameters=CRIPPLED)
    output = bad["job"]["output_data"]
    assert output["holdout"]["model"]["ndcg@10"] < output["holdout"]["popularity"]["ndcg@10"], output["holdout"]
    assert output["activated"] is False and "below popularity" in output["refused"]
    models = await api.call("get", "/api/v1/recommender/models")
    assert models["active_version"] == good["model_version"]
    assert (await api.recommend("shopper-1"))["metadata"]["model_version"] == good["model_version"]

    error = await api.error("put", "/api/v1/recommender/active-model", {"model_version": bad["model_version"]},
                            409, "CONFLICT")
    assert error["details"]["field"] == "force"
    body = await api.call("put", "/api/v1/recommender/active-model",
                          {"model_version": bad["model_version"], "force": True})
    assert body["is_active"] is True

    forced = await api.train(hyperparameters=CRIPPLED, force=True)
    assert forced["job"]["output_data"]["activated"] is True
    assert (await api.call("get", "/api/v1/recommender/models"))["active_version"] == forced["model_version"]


async def test_min_score_half_from_the_seed_keeps_the_best_items(api):
    await api.seed()
    before = await api.recommend("user-1", count=5, filters={"min_score": 0.5})
    assert before["recommendations"] and before["recommendations"][0]["score"] == 1.0
    await api.train()
    everything = (await api.recommend("user-1", count=10))["recommendations"]
    scores = [r["score"] for r in everything]
    assert scores[0] == 1.0 and scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    upper = (await api.recommend("user-1", count=10, filters={"min_score": 0.5}))["recommendations"]
    assert upper and [r for r in everything if r["score"] >= 0.5] == upper


async def test_unknown_users_are_told_they_get_popular_items(api, internal_api):
    await api.seed()
    assert (await api.recommend("user-1"))["metadata"]["fallback"] == "popular"  # no model yet
    await api.train()
    assert (await api.recommend("user-1"))["metadata"]["fallback"] is None
    stranger = await api.recommend("nobody-knows-me")
    assert stranger["metadata"]["fallback"] == "popular" and stranger["recommendations"]
    again = await api.recommend("nobody-knows-me")
    assert again["metadata"]["cache_hit"] is True and again["metadata"]["fallback"] == "popular"
    body = await internal_api.call("post", "/internal/ml/recommendations",
                                   {"tenant_id": api.org_id, "user_id": "nobody-knows-me"})
    assert body["fallback"] == "popular"


async def test_interactions_with_unknown_items_are_accepted_and_reported(api):
    await api.seed()
    result = await api.upload_interactions([
        {"user_id": "user-1", "item_id": "books-1", "interaction_type": "view"},
        {"user_id": "user-1", "item_id": "ghost-1", "interaction_type": "view"},
        {"user_id": "user-2", "item_id": "ghost-1", "interaction_type": "click"},
        {"user_id": "user-2", "item_id": "ghost-2", "interaction_type": "click"},
        {"user_id": "user-2", "item_id": "not an id", "interaction_type": "click"},
    ])
    assert (result["accepted"], result["rejected"]) == (4, 1)
    assert result["unknown_items"] == 3 and result["unknown_item_ids"] == ["ghost-1", "ghost-2"]
    known = await api.call("post", "/api/v1/interactions",
                           {"user_id": "u", "item_id": "books-2", "interaction_type": "click"}, status=202)
    unknown = await api.call("post", "/api/v1/interactions",
                             {"user_id": "u", "item_id": "ghost-3", "interaction_type": "click"}, status=202)
    assert (known["item_known"], unknown["item_known"]) == (True, False)


async def test_deleted_items_are_not_recommended_but_their_interactions_still_train(api, other_api):
    await api.seed()
    before = await api.recommend("user-9", count=3)
    gone = before["recommendations"][0]["item_id"]
    await other_api.error("delete", f"/api/v1/items/{gone}", None, 404, "NOT_FOUND")  # another tenant's item
    await api.call("delete", f"/api/v1/items/{gone}", status=204)
    await api.error("delete", f"/api/v1/items/{gone}", None, 404, "NOT_FOUND")
    await api.error("get", f"/api/v1/items/{gone}/embedding", None, 404, "NOT_FOUND")
    listed = await api.call("get", "/api/v1/items?limit=100")
    assert listed["total"] == 39 and gone not in {item["item_id"] for item in listed["items"]}
    assert gone not in {r["item_id"] for r in (await api.recommend("user-9", count=39))["recommendations"]}

    trained = await api.train()
    model = await api.call("get", f"/api/v1/recommender/models/{trained['model_version']}")
    assert model["interaction_count"] == 144  # the deleted item's interactions are kept
    for user in ("user-0", "user-1", "user-2", "user-3", "stranger"):
        offered = {r["item_id"] for r in (await api.recommend(user, count=39))["recommendations"]}
        assert gone not in offered

    await api.upload_items([{"item_id": gone, "title": "Back again", "category": gone.split("-")[0]}])
    back = {r["item_id"] for r in (await api.recommend("stranger", count=40))["recommendations"]}
    assert gone in back
