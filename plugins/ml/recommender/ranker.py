"""Candidate generation and xgboost re-ranking, shared by training and serving.

A request's candidates come from three generators: the embedding model (nearest items to the
user vector), co-occurrence with the user's most recent items (leave-last-out data is very
sequential: what people take next is best predicted by what they took last), and the most
popular items. `candidate_features` turns every candidate into one row of numbers (scores and
ranks from the generators, popularity in several windows before the user's last activity,
item age, category and tag affinity, content similarity, user activity); an XGBRanker trained
at training time on each user's held-out latest interactions orders them.

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


@dataclass
class UserContext:
    """What serving knows about one user at request time, time-ordered."""
    items: np.ndarray  # int64 item rows
    weights: np.ndarray  # float32 interaction weights
    timestamps: np.ndarray  # float64
    vector: np.ndarray  # the user's embedding (model space)
    reference_time: float  # the user's latest activity, or the model's latest data

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
    )
    return np.column_stack(columns).astype(np.float32)
