"""Candidate generation and xgboost re-ranking, shared by training and serving.

A request's candidates come from three generators: the embedding model (nearest items to the
user vector), co-occurrence with the user's most recent items (leave-last-out data is very
sequential: what people take next is best predicted by what they took last), and the most
popular items. `candidate_features` turns every candidate into one row of numbers (scores and
ranks from the generators, popularity in several windows before the user's last activity,
item age, category and tag affinity, content similarity, user activity); an XGBRanker trained
at training time on each user's held-out latest interactions orders them.

Repeat purchases (groceries, pharmacy, pet food): when a tenant's model allows them, the user's
own earlier items are candidates too, and `repeat_features` describe each candidate's place in
the user's history: in how many of the user's orders it was (an order = the user's interactions
with the same timestamp), the share of the user's orders, days since the user last took it
against the user's own interval for it, orders since, and the item's reorder rate across all
users. A model trained without repeat purchases never sees those columns (BASE_FEATURES).

All of it is vectorised over the candidates: a request costs a few sparse-row lookups, a
(candidates x dim) product and one xgboost prediction, independent of the catalogue size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .signals import ItemSignals

DAY = 86_400.0
RECENT_ITEMS = 10  # how many of the user's latest interactions drive co-occurrence candidates
RECENCY_DECAY = 0.8  # weight of the k-th most recent item: decay ** k
FEATURE_NAMES = (
    "model_score", "model_rank", "model_cosine", "cooccurrence", "cooccurrence_rank",
    "cooccurrence_normalised", "transition_from_last", "similarity_recent_mean",
    "similarity_recent_max", "content_similarity", "popularity", "popularity_1d",
    "popularity_7d", "popularity_30d", "trend_7d_30d", "days_since_last_interaction",
    "days_since_first_interaction", "days_since_created", "category_share", "tag_affinity",
    "user_activity", "positive_share", "popular_rank",
)
BASE_FEATURES = len(FEATURE_NAMES)  # what a ranker trained without repeat purchases reads
REPEAT_FEATURE_NAMES = (
    "user_item_orders", "user_item_order_share", "days_since_user_item", "user_item_interval_ratio",
    "orders_since_user_item", "user_order_interval_days", "item_reorder_rate",
)
FEATURE_NAMES = FEATURE_NAMES + REPEAT_FEATURE_NAMES


@dataclass
class UserContext:
    """What serving knows about one user at request time, time-ordered."""
    items: np.ndarray  # int64 item rows
    weights: np.ndarray  # float32 interaction weights
    timestamps: np.ndarray  # float64
    vector: np.ndarray  # the user's embedding (model space)
    reference_time: float  # the user's latest activity, or the model's latest data
    # When the recommendation is for: the held-out order's time in training, the request's
    # time when serving. None: reference_time. Repeat features count days up to it.
    query_time: float | None = None

    def recent_positive(self, count: int = RECENT_ITEMS) -> np.ndarray:
        """The user's latest distinct positively-weighted items, newest first."""
        positives = self.items[self.weights > 0][::-1]
        _, first = np.unique(positives, return_index=True)
        return positives[np.sort(first)][:count]


def gather_rows(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position in `rows`, column, value) of every stored entry of the given CSR rows, in plain
    numpy: scipy's fancy row indexing costs more in overhead than the work for a few rows."""
    starts, stops = matrix.indptr[rows], matrix.indptr[rows + 1]
    lengths = stops - starts
    total = int(lengths.sum())
    if not total:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float32)
    owner = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = starts[owner] + offsets
    return owner, matrix.indices[positions].astype(np.int64), matrix.data[positions]


@dataclass
class SparseScores:
    """Scores of a few items: sorted keys and their values."""
    keys: np.ndarray
    values: np.ndarray

    @classmethod
    def weighted_rows(cls, matrix: sp.csr_matrix, rows: np.ndarray, row_weights: np.ndarray) -> "SparseScores":
        owner, columns, values = gather_rows(matrix, rows)
        keys, inverse = np.unique(columns, return_inverse=True)
        return cls(keys, np.bincount(inverse, weights=values * row_weights[owner],
                                     minlength=len(keys)).astype(np.float32))

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Values at `keys` (0 where absent)."""
        if not len(self.keys):
            return np.zeros(len(keys), np.float32)
        position = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[position] == keys, self.values[position], 0.0).astype(np.float32)

    def top(self, count: int, eligible: np.ndarray | None) -> np.ndarray:
        """The `count` highest-valued keys that pass the `eligible` mask, best first."""
        keys, values = self.keys, self.values
        if eligible is not None:
            keep = eligible[keys]
            keys, values = keys[keep], values[keep]
        if len(keys) > count:
            best = np.argpartition(-values, count - 1)[:count]
            keys, values = keys[best], values[best]
        return keys[np.argsort(-values, kind="stable")]


def cooccurrence_scores(signals: ItemSignals, recent: np.ndarray) -> SparseScores:
    """Recency-weighted sum of the co-occurrence rows of the user's recent items."""
    decay = (RECENCY_DECAY ** np.arange(len(recent))).astype(np.float32)
    return SparseScores.weighted_rows(signals.cooccurrence, recent, decay)


def repeat_candidates(user: UserContext, count: int) -> np.ndarray:
    """The user's own positively-taken items, most orders first, then most recent."""
    features = _order_history(user)
    if features is None or count <= 0:
        return np.zeros(0, np.int64)
    keys, orders_of_item, last_order = features[1], features[2], features[4]
    best = np.lexsort((-last_order, -orders_of_item))[:count]
    return keys[best]


def _order_history(user: UserContext):
    """(distinct order times, items, orders containing each, first order, last order) of the
    user's positive interactions, or None without any."""
    positive = user.weights > 0
    items, times = user.items[positive], user.timestamps[positive]
    if not len(items):
        return None
    orders = np.unique(times)
    order_of = np.searchsorted(orders, times)
    pairs = np.unique(items.astype(np.int64) * len(orders) + order_of)
    pair_items, pair_orders = pairs // len(orders), pairs % len(orders)
    keys, first, counts = np.unique(pair_items, return_index=True, return_counts=True)
    # pairs are sorted by item then order: an item's first and last orders bracket its run
    return orders, keys, counts, pair_orders[first], pair_orders[first + counts - 1]


def repeat_features(user: UserContext, candidates: np.ndarray, reorder_rate: np.ndarray) -> list[np.ndarray]:
    """The REPEAT_FEATURE_NAMES columns (NaN where the user never took the candidate: xgboost's
    missing value)."""
    n = len(candidates)
    history = _order_history(user)
    missing = np.full(n, np.nan, np.float32)
    rate = reorder_rate[candidates] if len(reorder_rate) else np.zeros(n, np.float32)
    if history is None:
        return [np.zeros(n, np.float32), np.zeros(n, np.float32), missing, missing, missing, missing, rate]
    orders, keys, counts, first_order, last_order = history
    now = user.reference_time if user.query_time is None else user.query_time
    position = np.minimum(np.searchsorted(keys, candidates), len(keys) - 1)
    found = keys[position] == candidates
    taken = np.where(found, counts[position], 0).astype(np.float32)
    last_time, first_time = orders[last_order[position]], orders[first_order[position]]
    since = np.where(found, (now - last_time) / DAY, np.nan)
    interval = np.where(found & (taken >= 2), (last_time - first_time) / np.maximum(taken - 1, 1) / DAY, np.nan)
    ratio = since / np.maximum(interval, 1.0 / 24)
    orders_since = np.where(found, len(orders) - 1 - last_order[position], np.nan)
    user_interval = (orders[-1] - orders[0]) / (len(orders) - 1) / DAY if len(orders) > 1 else np.nan
    return [taken, taken / len(orders), since, ratio, orders_since, np.full(n, user_interval), rate]


def _ranks(values: np.ndarray) -> np.ndarray:
    """0 for the largest value; ties share the best rank's neighbourhood (stable order)."""
    ranks = np.empty(len(values), np.float32)
    ranks[np.argsort(-values, kind="stable")] = np.arange(len(values))
    return ranks


def candidate_features(signals: ItemSignals, item_vectors: np.ndarray, popular_rank: np.ndarray,
                       user: UserContext, candidates: np.ndarray,
                       cooccurrence: SparseScores) -> np.ndarray:
    """One row of FEATURE_NAMES per candidate (float32)."""
    vectors = item_vectors[candidates]
    model_score = vectors @ user.vector
    norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(user.vector) or 1.0)
    model_cosine = np.divide(model_score, norms, out=np.zeros_like(model_score), where=norms > 0)

    co = cooccurrence.lookup(candidates)
    co_normalised = co / np.sqrt(signals.popularity[candidates] + 1.0)
    recent = user.recent_positive()
    if len(recent):
        transition = SparseScores.weighted_rows(signals.transitions, recent[:1], np.ones(1)).lookup(candidates)
        recent_vectors = item_vectors[recent[:5]]
        recent_vectors = recent_vectors / np.maximum(np.linalg.norm(recent_vectors, axis=1, keepdims=True), 1e-9)
        similarity = (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)) @ recent_vectors.T
        similarity_mean, similarity_max = similarity.mean(axis=1), similarity.max(axis=1)
        content_profile = signals.content[recent[:5]].mean(axis=0)
        content_similarity = signals.content[candidates] @ content_profile
    else:
        transition = similarity_mean = similarity_max = content_similarity = np.zeros(len(candidates), np.float32)

    now = user.reference_time
    popularity_1d = signals.window_counts(candidates, now, DAY)
    popularity_7d = signals.window_counts(candidates, now, 7 * DAY)
    popularity_30d = signals.window_counts(candidates, now, 30 * DAY)
    since_last = signals.seconds_since_last(candidates, now) / DAY
    since_first = (now - signals.first_seen[candidates]) / DAY
    since_created = (now - signals.created_at[candidates]) / DAY

    history = user.items[user.weights > 0]
    history_categories = signals.category[history]
    history_categories = history_categories[history_categories >= 0]
    candidate_categories = signals.category[candidates]
    if len(history_categories):
        shares = np.bincount(history_categories, minlength=int(signals.category.max()) + 1) / len(history)
        category_share = np.where(candidate_categories >= 0, shares[np.maximum(candidate_categories, 0)], 0.0)
    else:
        category_share = np.zeros(len(candidates))
    if len(history) and signals.tags.shape[1]:
        _, history_tags, _ = gather_rows(signals.tags, history)
        profile = np.bincount(history_tags, minlength=signals.tags.shape[1]) / len(history)
        owner, candidate_tags, _ = gather_rows(signals.tags, candidates)
        tag_counts = np.maximum(np.bincount(owner, minlength=len(candidates)), 1)
        tag_affinity = np.bincount(owner, weights=profile[candidate_tags], minlength=len(candidates)) / tag_counts
    else:
        tag_affinity = np.zeros(len(candidates))

    columns = (
        model_score, _ranks(model_score), model_cosine, co, _ranks(co), co_normalised, transition,
        similarity_mean, similarity_max, content_similarity, np.log1p(signals.popularity[candidates]),
        np.log1p(popularity_1d), np.log1p(popularity_7d), np.log1p(popularity_30d),
        (popularity_7d + 1) / (popularity_30d + 4), np.log1p(np.maximum(since_last, 0)),
        since_first, since_created, category_share, tag_affinity,
        np.full(len(candidates), np.log1p(len(user.items))), signals.positive_share[candidates],
        popular_rank[candidates],
        *repeat_features(user, candidates, signals.reorder_rate),
    )
    return np.column_stack(columns).astype(np.float32)
