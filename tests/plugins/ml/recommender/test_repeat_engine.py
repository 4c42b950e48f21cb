"""The engine's side of issue 17 without HTTP: the repeat-purchase rate, the time-based holdout,
the repeat features, and a repurchase model that survives save and load."""

from __future__ import annotations

import numpy as np

from plugins.ml.recommender.engine import InteractionLog, ItemInfo, RecommenderModel, train
from plugins.ml.recommender.evaluation import ranking_quality, repeat_purchase_rate, time_holdout
from plugins.ml.recommender.ranker import BASE_FEATURES, REPEAT_FEATURE_NAMES, UserContext, repeat_features

DAY = 86_400.0
T0 = 1_700_000_000.0
SMALL = {"epochs": 3, "ranker_rounds": 20, "embedding_dim": 8}


def weekly_shoppers(users: int = 24, orders: int = 6) -> InteractionLog:
    """User u buys staples u % 10 and (u + 3) % 10 every week, and one of the other items."""
    rng = np.random.default_rng(5)
    rows = []
    for u in range(users):
        for week in range(orders):
            when = T0 + week * 7 * DAY + u * 60
            for item in sorted({u % 10, (u + 3) % 10, int(rng.integers(10, 30))}):
                rows.append((f"u{u}", f"i{item}", when))
    return InteractionLog([r[0] for r in rows], [r[1] for r in rows], ["purchase"] * len(rows),
                          np.array([r[2] for r in rows]))


def catalogue() -> list[ItemInfo]:
    return [ItemInfo(item_id=f"i{n}", title=f"item {n}", category="food") for n in range(30)]


def test_repeat_purchase_rate_counts_purchases_of_items_bought_before():
    log = InteractionLog(["a", "a", "a", "b", "b"], ["x", "x", "y", "x", "z"],
                         ["purchase", "purchase", "purchase", "purchase", "view"],
                         np.array([1.0, 2.0, 2.0, 3.0, 4.0]))
    assert repeat_purchase_rate(log) == 0.25  # a's second x, of four purchases; views do not count
    views = InteractionLog(["a", "a"], ["x", "x"], ["view", "view"], np.array([1.0, 2.0]))
    assert repeat_purchase_rate(views) == 0.0


def test_the_holdout_is_each_users_last_order():
    log = weekly_shoppers(users=4, orders=3)
    holdout = time_holdout(log, max_users=10, seed=0)
    assert set(holdout.targets) == {"u0", "u1", "u2", "u3"}
    assert {"i0", "i3"} <= holdout.targets["u0"]
    assert len(holdout.train) == len(log) - sum(len(items) for items in holdout.targets.values())
    assert max(holdout.train.timestamps) < min(holdout.times.values())
    assert len(time_holdout(log, max_users=2, seed=0).targets) == 2
    one_order = InteractionLog(["a", "a"], ["x", "y"], ["purchase"] * 2, np.array([1.0, 1.0]))
    assert time_holdout(one_order, max_users=10, seed=0) is None


def test_ranking_quality_is_ndcg_and_recall_over_the_order():
    quality = ranking_quality({"a": ["x", "q", "y"], "b": ["q"]}, {"a": {"x", "y"}, "b": {"z"}})
    ideal = 1 + 1 / np.log2(3)
    assert quality["ndcg@10"] == round((1 + 1 / np.log2(4)) / ideal / 2, 4)
    assert quality["recall@10"] == 0.5


def test_repeat_features_describe_the_users_history_of_each_candidate():
    # item 1 in orders at days 0, 7 and 14; item 2 once at day 7; asked at day 21
    items = np.array([1, 1, 2, 1])
    times = T0 + np.array([0, 7, 7, 14]) * DAY
    user = UserContext(items, np.ones(4, np.float32), times, np.zeros(4, np.float32), float(times[-1]),
                       query_time=T0 + 21 * DAY)
    columns = dict(zip(REPEAT_FEATURE_NAMES, repeat_features(user, np.array([1, 2, 5]), np.array(
        [0, 0.5, 0.2, 0, 0, 0.9], np.float32))))
    assert list(columns["user_item_orders"]) == [3, 1, 0]
    assert np.allclose(columns["user_item_order_share"], [1, 1 / 3, 0])
    assert np.allclose(columns["days_since_user_item"][:2], [7, 14]) and np.isnan(columns["days_since_user_item"][2])
    assert np.isclose(columns["user_item_interval_ratio"][0], 1.0)  # due: a week since, every week
    assert np.isnan(columns["user_item_interval_ratio"][1])  # bought once: no interval of its own
    assert list(columns["orders_since_user_item"][:2]) == [0, 1]
    assert np.allclose(columns["user_order_interval_days"], 7)
    assert np.allclose(columns["item_reorder_rate"], [0.5, 0.2, 0.9])


def test_auto_repurchase_model_puts_staples_first_and_reports_its_holdout(tmp_path):
    model = train(weekly_shoppers(), catalogue(), hyperparameters=SMALL)
    assert model.metrics["repurchase"] is True and model.metrics["repeat_purchase_rate"] > 0.5
    holdout = model.metrics["holdout"]
    assert holdout["users"] == 24 and holdout["model"]["ndcg@10"] > holdout["popularity"]["ndcg@10"]
    top = [r.item_id for r in model.recommend("u4", 2, exclude_seen_purchases=False, now=T0 + 42 * DAY)]
    assert set(top) == {"i4", "i7"}
    assert not {"i4", "i7"} & {r.item_id for r in model.recommend("u4", 5, now=T0 + 42 * DAY)}

    model.save(tmp_path / "model")
    loaded = RecommenderModel.load(tmp_path / "model")
    ask = {"exclude_seen_purchases": False, "now": T0 + 42 * DAY}
    assert ([(r.item_id, r.score) for r in loaded.recommend("u4", 5, **ask)]
            == [(r.item_id, r.score) for r in model.recommend("u4", 5, **ask)])


def test_never_trains_one_model_without_repeat_features():
    model = train(weekly_shoppers(), catalogue(), hyperparameters={**SMALL, "evaluation_users": 0},
                  repurchase=False)
    assert model.metrics["repurchase"] is False and model.metrics["holdout"] is None
    assert model.ranker is None or model.ranker.num_features() == BASE_FEATURES
