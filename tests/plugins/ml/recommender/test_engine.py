"""The recommender engine on a small synthetic shop with planted structure: three categories,
users who each stick to one category and walk through its items in a fixed order."""

from __future__ import annotations

import numpy as np
import pytest

from plugins.ml.recommender.engine import (
    INTERACTION_TYPES, INTERACTION_WEIGHTS, InteractionLog, ItemInfo, RecommenderModel,
    UnsupportedModel, feature_embedding, first_eligible, train)

CATEGORIES = ("books", "music", "games")
WORDS = {"books": "novel paperback author story", "music": "album vinyl band song",
         "games": "console player level quest"}
ITEMS_PER_CATEGORY = 12
DAY = 86_400.0
T0 = 1_700_000_000.0
QUICK = {"ranker_rounds": 60}  # tests that are not about ranking quality train a smaller ranker


def catalogue() -> list[ItemInfo]:
    return [ItemInfo(item_id=f"{category}-{n}", title=f"{WORDS[category]} {n}",
                     description=f"a {category} item", category=category,
                     tags=[category, f"shelf-{n % 3}"], created_at=T0 - n * DAY)
            for category in CATEGORIES for n in range(ITEMS_PER_CATEGORY)]


def shop_log(users_per_category: int = 12, length: int = 8, kind: str = "view") -> InteractionLog:
    """User u of a category takes items (offset + step) % 12 in time order: a sequential walk."""
    rng = np.random.default_rng(3)
    user_ids, item_ids, types, times = [], [], [], []
    for category in CATEGORIES:
        for u in range(users_per_category):
            offset = int(rng.integers(0, ITEMS_PER_CATEGORY))
            for step in range(length):
                user_ids.append(f"{category}-user-{u}")
                item_ids.append(f"{category}-{(offset + step) % ITEMS_PER_CATEGORY}")
                types.append(kind)
                times.append(T0 + u * 3600 + step * 60)
    return InteractionLog(user_ids, item_ids, types, np.array(times))


def history(user_id: str, entries: list[tuple[str, str]], start: float = T0 + 30 * DAY) -> InteractionLog:
    return InteractionLog([user_id] * len(entries), [item for item, _ in entries],
                          [kind for _, kind in entries], start + np.arange(len(entries)) * 60.0)


def category_of(item_id: str) -> str:
    return item_id.split("-")[0]


@pytest.fixture(scope="module")
def model() -> RecommenderModel:
    return train(shop_log(), catalogue())


def test_interaction_weights_cover_every_type_and_negatives_are_negative():
    assert set(INTERACTION_WEIGHTS) == set(INTERACTION_TYPES)
    assert INTERACTION_WEIGHTS["dislike"] < 0 and INTERACTION_WEIGHTS["remove_from_cart"] < 0
    assert INTERACTION_WEIGHTS["purchase"] > INTERACTION_WEIGHTS["click"] > INTERACTION_WEIGHTS["view"] > 0


def test_feature_embedding_is_deterministic_normalised_and_groups_similar_items():
    items = catalogue()
    first, second = feature_embedding(items), feature_embedding(items)
    assert first.shape == (len(items), 128)
    assert np.array_equal(first, second)
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    same = first[0] @ first[1]  # books-0 vs books-1
    other = first[0] @ first[ITEMS_PER_CATEGORY]  # books-0 vs music-0
    assert same > other + 0.2
    assert not np.any(feature_embedding([ItemInfo(item_id="x", title="")]))


def test_known_users_get_items_of_their_category_with_scores_in_order(model):
    for category in CATEGORIES:
        recommendations = model.recommend(f"{category}-user-0", 5)
        assert len(recommendations) == 5
        assert [category_of(r.item_id) for r in recommendations].count(category) >= 4
        scores = [r.score for r in recommendations]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= s <= 1.0 for s in scores)
        assert all(r.category == category_of(r.item_id) for r in recommendations)
        assert all(0.0 <= r.embedding_distance <= 2.0 for r in recommendations)


def test_seen_items_are_not_recommended_again(model):
    log = shop_log()
    seen = {item for user, item in zip(log.user_ids, log.item_ids) if user == "books-user-0"}
    recommendations = model.recommend("books-user-0", 36)
    assert not seen & {r.item_id for r in recommendations}
    assert len(recommendations) == 36 - len(seen)


def test_the_next_item_of_the_walk_is_on_top(model):
    log = shop_log()
    walk = [item for user, item in zip(log.user_ids, log.item_ids) if user == "music-user-3"]
    last = int(walk[-1].split("-")[1])
    top3 = [r.item_id for r in model.recommend("music-user-3", 3)]
    assert f"music-{(last + 1) % ITEMS_PER_CATEGORY}" in top3


def test_unknown_user_without_history_gets_the_most_popular_items(model):
    log = shop_log()
    items, counts = np.unique(log.item_ids, return_counts=True)
    most_popular = set(items[counts == counts.max()])
    recommendations = model.recommend("nobody", 3)
    assert recommendations[0].item_id in most_popular
    assert [r.score for r in recommendations] == sorted((r.score for r in recommendations), reverse=True)


def test_history_is_folded_in_without_retraining(model):
    as_books = model.recommend("newcomer", 5, history=history("newcomer", [("books-1", "view"), ("books-2", "purchase")]))
    as_games = model.recommend("newcomer", 5, history=history("newcomer", [("games-1", "view"), ("games-2", "purchase")]))
    assert [category_of(r.item_id) for r in as_books].count("books") >= 4
    assert [category_of(r.item_id) for r in as_games].count("games") >= 4
    # A known user's new interactions move them too.
    before = model.recommend("books-user-0", 5)
    moved = model.recommend("books-user-0", 5, history=history(
        "books-user-0", [(f"games-{n}", "purchase") for n in range(6)]))
    assert [category_of(r.item_id) for r in before].count("books") >= 4
    assert [category_of(r.item_id) for r in moved].count("games") > [category_of(r.item_id) for r in before].count("games")


def test_filters_categories_min_score_and_exclusions(model):
    only_music = model.recommend("books-user-0", 5, categories={"music"})
    assert len(only_music) == 5 and all(r.category == "music" for r in only_music)
    assert model.recommend("books-user-0", 5, categories={"no-such-category"}) == []
    unfiltered = model.recommend("books-user-0", 30)
    threshold = unfiltered[0].score
    assert threshold > unfiltered[-1].score
    filtered = model.recommend("books-user-0", 30, min_score=threshold)
    assert filtered and all(r.score >= threshold for r in filtered)
    assert len(filtered) < len(unfiltered)
    top = unfiltered[0].item_id
    excluded = model.recommend("books-user-0", 5, exclude_item_ids={top})
    assert top not in {r.item_id for r in excluded}


def test_purchases_are_excluded_for_durable_goods_and_allowed_for_consumables(model):
    bought = history("shopper", [("books-5", "purchase"), ("books-6", "view")])
    durable = {r.item_id for r in model.recommend("shopper", 36, history=bought)}
    consumable = {r.item_id for r in model.recommend("shopper", 36, history=bought, exclude_seen_purchases=False)}
    assert "books-5" not in durable and "books-5" in consumable
    assert "books-6" not in durable and "books-6" not in consumable


def test_consumables_setting_does_not_override_filters_or_exclusions(model):
    bought = history("regular", [("books-5", "purchase"), ("music-2", "purchase")])

    def recommended(**options):
        return {r.item_id for r in model.recommend("regular", 36, history=bought,
                                                  exclude_seen_purchases=False, **options)}

    assert "books-5" in recommended()
    assert "books-5" not in recommended(categories={"music"}) and "music-2" in recommended(categories={"music"})
    assert "books-5" not in recommended(exclude_item_ids={"books-5"})


def test_items_are_numbered_category_by_category():
    """A category's rows form one range, so a category filter scans slices of the vectors."""
    interleaved = sorted(catalogue(), key=lambda item: int(item.item_id.split("-")[1]))
    model = train(shop_log(users_per_category=4), interleaved, hyperparameters=QUICK)
    rows_of = {}
    for row, item_id in enumerate(model.item_ids):
        rows_of.setdefault(category_of(item_id), []).append(row)
    for rows in rows_of.values():
        assert rows == list(range(rows[0], rows[0] + len(rows)))


def test_first_eligible_reads_only_as_much_of_the_order_as_it_needs():
    order = np.arange(100_000)[::-1].copy()
    eligible = np.zeros(len(order), bool)
    eligible[::1000] = True
    assert first_eligible(order, eligible, 3).tolist() == [99_000, 98_000, 97_000]
    assert len(first_eligible(order, eligible, 500)) == 100  # fewer exist: all of them
    assert first_eligible(order, np.zeros(len(order), bool), 5).tolist() == []


def test_negative_interactions_push_items_away():
    log = shop_log()
    # Every books user also reacts to books-0 at the end: once positively, once negatively.
    extra_users = sorted({u for u in log.user_ids if u.startswith("books")})
    def with_reaction(kind: str) -> InteractionLog:
        return InteractionLog(log.user_ids + extra_users, log.item_ids + ["books-0"] * len(extra_users),
                              log.types + [kind] * len(extra_users),
                              np.concatenate([log.timestamps, T0 + 10 * DAY + np.arange(len(extra_users))]))
    liked = train(with_reaction("like"), catalogue(), hyperparameters=QUICK)
    disliked = train(with_reaction("dislike"), catalogue(), hyperparameters=QUICK)
    probe = history("probe", [("books-3", "view"), ("books-4", "view")])
    def rank_of_books_0(model) -> int:
        ranked = [r.item_id for r in model.recommend("probe", 36, history=probe)]
        return ranked.index("books-0")
    assert rank_of_books_0(liked) < rank_of_books_0(disliked)
    # A user's own dislike removes the item from their recommendations.
    assert "books-7" not in {r.item_id for r in liked.recommend(
        "probe", 36, history=history("probe", [("books-6", "view"), ("books-7", "dislike")]), exclude_seen=False)}


def test_cold_start_items_become_recommendable_after_add_items():
    model = train(shop_log(), catalogue(), hyperparameters=QUICK)
    new = ItemInfo(item_id="books-new", title=f"{WORDS['books']} new", description="a books item",
                   category="books", tags=["books", "shelf-1"])
    assert model.item_embedding("books-new") is None
    model.add_items([new])
    vector = model.item_embedding("books-new")
    assert vector is not None and vector.shape == (model.dim,) and np.any(vector)
    assert "books-new" in model.item_ids
    books_user = [r.item_id for r in model.recommend("books-user-0", 36, categories={"books"})]
    assert "books-new" in books_user
    # Its vector sits with the books: a books user ranks it above every music item.
    everything = [r.item_id for r in model.recommend("books-user-0", 36)]
    first_music = min(i for i, item in enumerate(everything) if item.startswith("music"))
    assert everything.index("books-new") < first_music
    # Re-adding an existing id replaces its features instead of adding a row.
    model.add_items([ItemInfo(item_id="books-new", title="renamed", category="games")])
    assert model.item_ids.count("books-new") == 1
    assert {r.item_id for r in model.recommend("books-user-0", 36, categories={"games"})} >= {"books-new"}


def test_appending_new_items_matches_the_general_path_and_keeps_old_snapshots():
    """New items are appended into spare room (O(new items)); the result equals what the
    general path (which copies every array) gives, and a request holding the state from before
    sees the old catalogue unchanged."""
    def new_items(start, count):
        return [ItemInfo(item_id=f"music-new-{n}", title=f"{WORDS['music']} new {n}", category="music",
                         tags=["music", f"label-{n}"], created_at=T0) for n in range(start, start + count)]

    def changed_book(version):  # an existing item whose features change: the general path
        return ItemInfo(item_id="books-0", title=f"novel second edition {version}", category="books",
                        tags=["books", "shelf-0", "reissue"], created_at=T0)

    appended = train(shop_log(), catalogue(), hyperparameters=QUICK)
    general = train(shop_log(), catalogue(), hyperparameters=QUICK)
    before = appended._state
    snapshot = {name: np.array(value) for name, value in vars(before.signals).items() if isinstance(value, np.ndarray)}
    batches = (new_items(0, 3), new_items(3, 1), new_items(4, 2))
    for batch in batches:
        appended.add_items(batch)
        assert np.shares_memory(appended._state.item_vectors, appended._buffers["item_vectors"])
    # Uploading items again exactly as they were changes nothing.
    unchanged = appended._state
    appended.add_items(new_items(0, 6) + catalogue()[:3])
    assert appended._state is unchanged
    appended.add_items([changed_book(2)])
    assert "item_vectors" not in appended._buffers  # the general path copied everything
    for version, batch in enumerate(batches):
        general.add_items(batch + [changed_book(version)])

    assert appended.item_ids == general.item_ids
    new, old = appended._state, general._state
    np.testing.assert_allclose(new.item_vectors, old.item_vectors, atol=1e-6)
    np.testing.assert_array_equal(new.popular_order, old.popular_order)
    for name in ("popularity", "category", "content", "positive_share", "created_at"):
        np.testing.assert_allclose(getattr(new.signals, name), getattr(old.signals, name), atol=1e-6)

    def tag_names(model):  # tag ids depend on the order tags were first seen: compare names
        tags = model._state.signals.tags
        return [sorted(model.tags.names[i] for i in tags.indices[tags.indptr[r]:tags.indptr[r + 1]])
                for r in range(tags.shape[0])]

    assert tag_names(appended) == tag_names(general)
    assert new.signals.cooccurrence.shape == old.signals.cooccurrence.shape == (42, 42)
    for user in ("music-user-0", "books-user-3", "stranger"):
        assert ([r.item_id for r in appended.recommend(user, 20)]
                == [r.item_id for r in general.recommend(user, 20)])
    # The state a request held before the uploads: same lengths, same values.
    assert len(before.item_ids) == 36 and len(before.item_vectors) == 36
    for name, value in snapshot.items():
        np.testing.assert_array_equal(getattr(before.signals, name), value)


def test_save_and_load_give_identical_recommendations(model, tmp_path):
    model.save(tmp_path / "model")
    loaded = RecommenderModel.load(tmp_path / "model")
    assert (loaded.version, loaded.model_type, loaded.dim) == (model.version, model.model_type, model.dim)
    assert loaded.item_ids == model.item_ids
    for user in ("books-user-1", "games-user-2", "nobody"):
        original = model.recommend(user, 10)
        again = loaded.recommend(user, 10)
        assert [(r.item_id, r.score) for r in original] == [(r.item_id, r.score) for r in again]
    assert np.array_equal(loaded.item_embedding("music-3"), model.item_embedding("music-3"))
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob("*.pickle"))


def test_two_tower_trains_and_recommends_by_category():
    model = train(shop_log(), catalogue(), model_type="two_tower", hyperparameters={**QUICK, "epochs": 15})
    assert model.model_type == "two_tower"
    for category in CATEGORIES:
        recommendations = model.recommend(f"{category}-user-1", 5)
        assert [category_of(r.item_id) for r in recommendations].count(category) >= 4


def test_unsupported_model_and_bad_hyperparameters_are_rejected():
    with pytest.raises(UnsupportedModel) as raised:
        train(shop_log(), catalogue(), model_type="gnn")
    assert isinstance(raised.value, ValueError) and "gnn" in str(raised.value)
    with pytest.raises(ValueError, match="unknown hyperparameters: dropout"):
        train(shop_log(), catalogue(), hyperparameters={"dropout": 0.1})
    with pytest.raises(ValueError, match="embedding_dim"):
        train(shop_log(), catalogue(), hyperparameters={"embedding_dim": 0})
    with pytest.raises(ValueError, match="epochs"):
        train(shop_log(), catalogue(), hyperparameters={"epochs": "ten"})
    with pytest.raises(ValueError, match="ann_method must be one of ivf, hnsw"):
        train(shop_log(), catalogue(), hyperparameters={"ann_method": "annoy"})


def test_the_hnsw_index_can_be_chosen_and_serves_like_the_default(model):
    graph = train(shop_log(), catalogue(), hyperparameters={"ann_method": "hnsw"})
    assert graph.index.params["method"] == "hnsw" and model.index.params["method"] == "ivf"
    assert ([r.item_id for r in graph.recommend("books-user-0", 5)]
            == [r.item_id for r in model.recommend("books-user-0", 5)])


@pytest.mark.parametrize("model_type", ["matrix_factorization", "two_tower"])
def test_tiny_tenants_train_and_serve(model_type):
    empty_log = InteractionLog([], [], [], np.zeros(0))
    lone_item = [ItemInfo(item_id="only", title="the only item")]
    model = train(empty_log, lone_item, model_type=model_type)
    assert [r.item_id for r in model.recommend("anyone", 5)] == ["only"]
    one = InteractionLog(["u"], ["only"], ["purchase"], np.array([T0]))
    model = train(one, lone_item, model_type=model_type)
    assert model.recommend("u", 5) == []  # bought it already (durable goods)
    assert [r.item_id for r in model.recommend("u", 5, exclude_seen_purchases=False)] == ["only"]
    assert [r.item_id for r in model.recommend("stranger", 5)] == ["only"]
    nothing = train(empty_log, [], model_type=model_type)
    assert nothing.recommend("anyone", 5) == []
    nothing.add_items(lone_item)
    assert [r.item_id for r in nothing.recommend("anyone", 5)] == ["only"]


def test_progress_reports_increasing_fractions_with_epoch_losses():
    calls = []
    train(shop_log(), catalogue(), hyperparameters={**QUICK, "epochs": 4},
          progress=lambda fraction, stage, details: calls.append((fraction, stage, details)))
    fractions = [fraction for fraction, _, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    epochs = [details for _, stage, details in calls if stage == "embeddings"and "loss" in details]
    assert [d["epoch"] for d in epochs] == [1, 2, 3, 4]
    assert all(np.isfinite(d["loss"]) for d in epochs)
    assert epochs[-1]["loss"] <= epochs[0]["loss"]
