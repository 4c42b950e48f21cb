"""The recommender engine: training, cold start, candidate generation, re-ranking and persistence.

Pure Python/numpy/scipy/xgboost: no HTTP, no database. The plugin calls `train()` from its
training job and `RecommenderModel.recommend()` from request handlers; this module is the entry
point, the work is split over:

* `content.py`        content embeddings of items (hashed tokens, sparse random projection)
* `factorization.py`  implicit ALS ("matrix_factorization") and a two-tower model
* `signals.py`        per-item statistics: popularity over time, co-occurrence, tags
* `ranker.py`         candidate generation and the features of the xgboost re-ranker
* `ann.py`            the approximate nearest-neighbour index (usearch) over item vectors

How a model is made (`train`): each user's latest positive interactions are held out, the
embedding model and item statistics are fitted on the rest, and an XGBRanker learns to pick the
held-out item among the candidates the generators propose for the user's earlier history. Then
the embedding model and statistics are refitted on everything, items nobody interacted with get
vectors mapped from their content (a ridge regression fitted on the warm items), and the item
vectors go into the ANN index.

How a request is served (`recommend`): the user's stored interactions plus the newer ones the
caller passes are folded into a user vector (closed-form iALS solve), candidates come from the ANN
index, from co-occurrence with the user's latest items, from the popular items and, when bought
items may be offered again, from the user's own purchases; the ranker orders them and its margin,
scaled to [0, 1] over the request's candidates (1 = the best), is the score.

Repeat purchases: `train(repurchase=None)` measures the log's repeat-purchase rate and decides
(evaluation.py); a repurchase model's ranker learns from each user's last order(s) with the repeat
features of ranker.py. Every training run is scored on a time-based holdout first (evaluation.py).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.sparse as sp
import xgboost

from .ann import DEFAULT_PARAMS as ANN_DEFAULTS, AnnIndex
from . import evaluation
from .content import embed_token_lists, item_tokens
from .factorization import ImplicitALS, TwoTower
from .hyperparameters import (  # noqa: F401 - the engine's names for them
    CHOICE_HYPERPARAMETERS,
    HYPERPARAMETER_RANGES,
    INTEGER_HYPERPARAMETERS,
    check as check_hyperparameters,
)
from .ranker import (
    BASE_FEATURES,
    FEATURE_NAMES,
    SparseScores,
    UserContext,
    candidate_features,
    cooccurrence_scores,
    repeat_candidates,
)
from .signals import ItemSignals, Sequences, with_appended_rows, with_empty_rows

INTERACTION_TYPES = ("view", "click", "purchase", "like", "dislike", "add_to_cart", "remove_from_cart")
# Strength of the signal each interaction type carries; negatives push an item away from the user.
INTERACTION_WEIGHTS: dict[str, float] = {
    "view": 1.0, "click": 2.0, "add_to_cart": 3.0, "like": 4.0, "purchase": 5.0,
    "dislike": -4.0, "remove_from_cart": -2.0,
}
MODEL_TYPES = ("matrix_factorization", "two_tower")
CONTENT_DIM = 128  # the dimension of feature_embedding, also served before any model exists
FORMAT_VERSION = 1
PURCHASE = INTERACTION_TYPES.index("purchase")
RANKER_SCORING_BUDGET = 2e10
MIN_RANKER_QUERIES = 20  # fewer held-out interactions teach a ranker noise: use the fixed blend
DISLIKE = INTERACTION_TYPES.index("dislike")

# Chosen on the ML-100k validation split (train -> each user's second-to-last interaction), see
# bench/recommender_quality.py; the test split was not looked at to choose them.
DEFAULT_HYPERPARAMETERS: dict[str, float | int] = {
    "embedding_dim": 64,  # item/user vector size (the ANN index stores embedding_dim + 1)
    "epochs": 10,  # ALS sweeps, or two-tower passes over the data
    "regularization": 20.0,  # L2 on the factors (ALS: absolute; two-tower: x 1e-4 weight decay)
    "alpha": 2.0,  # ALS confidence per unit of interaction weight
    "learning_rate": 0.05,  # two-tower Adagrad step
    "history_length": 20,  # two-tower: interactions in the user tower
    "cooccurrence_window": 8,  # steps apart in a user's history that still count as co-occurring
    "neighbours": 200,  # co-occurrence neighbours kept per item
    "candidates_model": 100,  # ANN candidates per request
    "candidates_cooccurrence": 100,  # co-occurrence candidates per request
    "candidates_popular": 30,  # popular candidates per request
    "ranker_rounds": 300,  # boosting rounds of the XGBRanker (0 = no ranker)
    "ranker_depth": 4,
    "ranker_learning_rate": 0.05,
    "ranker_negatives": 50,  # candidates that were not taken, sampled per training query
    "ranker_holdout": 1,  # latest positive interactions per user the ranker learns to predict
    "ranker_max_users": 20_000,  # users sampled to train the ranker (bounds training time)
    "cold_start_ridge": 1.0,  # ridge penalty of the content -> item vector map
    "candidates_repurchase": 100,  # the user's own earlier purchases offered again (repurchase on)
    # users whose last order is held out to score the run (evaluation.py); 0: no evaluation,
    # one model trained instead of two
    "evaluation_users": 2_000,
    # The ANN index (ann.py): "ivf" (partitions; their count, 0 = auto, and how many a query
    # scans) or "hnsw" (links per node, build-time and search-time beam widths).
    "ann_method": ANN_DEFAULTS["method"],
    "ann_partitions": ANN_DEFAULTS["partitions"],
    "ann_probes": ANN_DEFAULTS["probes"],
    "ann_connectivity": ANN_DEFAULTS["connectivity"],
    "ann_expansion_add": ANN_DEFAULTS["expansion_add"],
    "ann_expansion_search": ANN_DEFAULTS["expansion_search"],
    "seed": 0,
}
# The ranges of the numbers, the integers and the choices: hyperparameters.py (the request schema's too).


class UnsupportedModel(ValueError):
    """A model_type this engine cannot train (e.g. "gnn")."""


@dataclass
class ItemInfo:
    item_id: str
    title: str
    description: str = ""
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    created_at: float | None = None  # unix seconds


@dataclass
class InteractionLog:
    """Columnar interactions, so a million rows stay cheap."""
    user_ids: list[str]
    item_ids: list[str]
    types: list[str]
    timestamps: np.ndarray  # float64 unix seconds

    def __len__(self) -> int:
        return len(self.user_ids)


@dataclass
class Recommendation:
    item_id: str
    score: float
    embedding_distance: float
    category: str | None
    created_at: float | None
    # "popular" when the user gave the model nothing to go on (unknown user, no usable history)
    fallback: str | None = None


ProgressCallback = Callable[[float, str, dict], None]


def feature_embedding(items: list[ItemInfo], dim: int = CONTENT_DIM) -> np.ndarray:
    """Deterministic L2-normalised content embeddings (items x dim) from title, description,
    category and tags; the same item gives the same vector in every process."""
    return embed_token_lists(
        [item_tokens(item.title, item.description, item.category, item.tags) for item in items], dim)


def resolve_hyperparameters(hyperparameters: dict | None) -> dict:
    """Defaults overridden by `hyperparameters`; unknown keys or bad values raise ValueError."""
    return {**DEFAULT_HYPERPARAMETERS, **check_hyperparameters(dict(hyperparameters or {}))}


def fold_in_user(model_type: str, hp: dict, item_vectors: np.ndarray, gram: np.ndarray,
                 items: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """A user vector from time-ordered (item row, weight) interactions, without retraining."""
    if model_type == "two_tower":
        return TwoTower.user_vector(item_vectors, items, weights, int(hp["history_length"]))
    unique, inverse = np.unique(items, return_inverse=True)
    net = np.bincount(inverse, weights=weights).astype(np.float32)
    keep = net != 0  # e.g. added to and removed from the cart: no signal left
    return ImplicitALS.fold_in(item_vectors, gram, unique[keep], net[keep], float(hp["alpha"]))


def first_eligible(order: np.ndarray, eligible: np.ndarray, count: int) -> np.ndarray:
    """The first `count` entries of `order` that `eligible` admits, looking at a growing prefix
    instead of the whole order (a full pass costs milliseconds at 1M items)."""
    window = max(256, 4 * count)
    while True:
        head = order[:window]
        found = head[eligible[head]]
        if len(found) >= count or window >= len(order):
            return found[:count]
        window *= 4


class _Vocabulary:
    """Strings <-> dense ids, for categories and tags."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.names: list[str] = list(names or [])
        self.ids = {name: index for index, name in enumerate(self.names)}

    def id(self, name: str) -> int:
        found = self.ids.get(name)
        if found is None:
            found = self.ids[name] = len(self.names)
            self.names.append(name)
        return found


def _unchanged(signals: ItemSignals, rows: np.ndarray, content: np.ndarray, category: np.ndarray,
               tags: sp.csr_matrix, created: np.ndarray) -> np.ndarray:
    """Which of `rows` already carry exactly these features."""
    stored_created = signals.created_at[rows]
    same = ((signals.category[rows] == category) & np.all(signals.content[rows] == content, axis=1)
            & ((stored_created == created) | (np.isnan(stored_created) & np.isnan(created))))
    width = max(signals.tags.shape[1], tags.shape[1])
    stored_tags, tags = signals.tags[rows], tags.tocsr(copy=True)
    stored_tags.resize((len(rows), width))
    tags.resize((len(rows), width))
    return same & ((stored_tags != tags).getnnz(axis=1) == 0)


def _content_arrays(items: list[ItemInfo], categories: _Vocabulary, tags: _Vocabulary):
    """(content embeddings, category ids, tag matrix, created_at) of `items`."""
    content = feature_embedding(items)
    category = np.array([categories.id(item.category) if item.category else -1 for item in items], np.int32)
    rows, cols = [], []
    for row, item in enumerate(items):
        for tag in dict.fromkeys(item.tags):
            rows.append(row)
            cols.append(tags.id(tag))
    tag_matrix = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                               shape=(len(items), max(1, len(tags.names))))
    created = np.array([np.nan if item.created_at is None else float(item.created_at) for item in items])
    return content, category, tag_matrix, created


@dataclass
class _Serving:
    """Everything a request reads, swapped as a whole when items are added (copy-on-write), so a
    request never sees half of an update."""
    item_ids: list[str]
    item_rows: dict[str, int]
    item_vectors: np.ndarray  # float32 items x dim
    signals: ItemSignals
    popular_order: np.ndarray  # item rows, most popular first
    popular_rank: np.ndarray  # float32 rank of every item in popular_order
    mips_norm: float  # the largest item-vector norm when the index was built


class RecommenderModel:
    def __init__(self, *, version: str, model_type: str, hyperparameters: dict, trained_at: float,
                 metrics: dict, item_ids: list[str], user_ids: list[str], item_vectors: np.ndarray,
                 user_vectors: np.ndarray, signals: ItemSignals, sequences: Sequences,
                 categories: _Vocabulary, tags: _Vocabulary, cold_start_map: np.ndarray,
                 ranker: xgboost.Booster | None, index: AnnIndex | None = None,
                 mips_norm: float | None = None) -> None:
        self.version, self.model_type, self.trained_at = version, model_type, trained_at
        self.hyperparameters, self.metrics = hyperparameters, metrics
        self.dim = int(item_vectors.shape[1])
        self.user_ids = user_ids
        self.user_rows = {user_id: row for row, user_id in enumerate(user_ids)}
        self.user_vectors, self.sequences = user_vectors, sequences
        self.categories, self.tags = categories, tags
        self.cold_start_map, self.ranker = cold_start_map, ranker
        self._write_lock = threading.Lock()
        self._buffers: dict[str, np.ndarray] = {}  # arrays with room to grow, see _grown
        if ranker is not None:
            # One request scores ~200 rows: threads cost more to wake than they save.
            ranker.set_param({"nthread": 1})
        self._gram = (item_vectors.T @ item_vectors
                      + hyperparameters["regularization"] * np.eye(self.dim, dtype=np.float32))
        popular_order = np.lexsort((-np.nan_to_num(signals.first_seen, nan=-np.inf), -signals.popularity))
        popular_rank = np.empty(len(popular_order), np.float32)
        popular_rank[popular_order] = np.arange(len(popular_order))
        norms = np.linalg.norm(item_vectors, axis=1)
        mips_norm = mips_norm if mips_norm is not None else float(norms.max()) if len(norms) else 1.0
        self._state = _Serving(list(item_ids), {item_id: row for row, item_id in enumerate(item_ids)},
                               item_vectors, signals, popular_order, popular_rank, max(mips_norm, 1e-6))
        self.index = index if index is not None else self._build_index()

    # ------------------------------------------------------------------ public read-only view
    @property
    def item_ids(self) -> list[str]:
        return self._state.item_ids

    def item_embedding(self, item_id: str) -> np.ndarray | None:
        state = self._state
        row = state.item_rows.get(item_id)
        return None if row is None else np.array(state.item_vectors[row])

    # ------------------------------------------------------------------ ANN index
    def _augment(self, vectors: np.ndarray, mips_norm: float) -> np.ndarray:
        """Append sqrt(M^2 - |v|^2) so that cosine search with the query [u, 0] ranks items by
        the inner product u.v (maximum inner product search through a cosine index)."""
        squared = np.sum(vectors.astype(np.float64) ** 2, axis=1)
        extra = np.sqrt(np.maximum(mips_norm ** 2 - squared, 0.0))
        return np.hstack([vectors, extra[:, None]]).astype(np.float32)

    def _build_index(self) -> AnnIndex:
        state = self._state
        keys = np.arange(len(state.item_ids), dtype=np.int64)
        hp = {**DEFAULT_HYPERPARAMETERS, **self.hyperparameters}  # models saved before a knob existed
        return AnnIndex.build(keys, self._augment(state.item_vectors, state.mips_norm),
                              method=hp["ann_method"], partitions=hp["ann_partitions"],
                              probes=hp["ann_probes"], connectivity=hp["ann_connectivity"],
                              expansion_add=hp["ann_expansion_add"],
                              expansion_search=hp["ann_expansion_search"])

    # ------------------------------------------------------------------ cold start
    def add_items(self, items: list[ItemInfo]) -> None:
        """Add or update catalogue items after training. New items (and items that never had an
        interaction) get a vector mapped from their content, so they can be recommended; items
        with interactions keep their learned vector and only change their features."""
        if not items:
            return
        items = list({item.item_id: item for item in items}.values())  # last one wins
        with self._write_lock:  # two uploads at once must not both extend the same old state
            self._add_items(items)

    def _add_items(self, items: list[ItemInfo]) -> None:
        old = self._state
        content, category, tag_matrix, created = _content_arrays(items, self.categories, self.tags)
        # Items uploaded again exactly as they were change nothing (the service re-reads recent
        # uploads with some slack); dropping them keeps an upload of new items on the append path.
        known = np.array([old.item_rows.get(item.item_id, -1) for item in items], np.int64)
        changed = known < 0
        existing = np.flatnonzero(~changed)
        if len(existing):
            changed[existing] = ~_unchanged(old.signals, known[existing], content[existing],
                                            category[existing], tag_matrix[existing], created[existing])
        if not changed.any():
            return
        keep = np.flatnonzero(changed)
        items = [items[position] for position in keep]
        content, category, tag_matrix, created = content[keep], category[keep], tag_matrix[keep], created[keep]
        item_ids, item_rows = list(old.item_ids), dict(old.item_rows)
        rows = []
        for item in items:
            row = item_rows.get(item.item_id)
            if row is None:
                row = item_rows[item.item_id] = len(item_ids)
                item_ids.append(item.item_id)
            rows.append(row)
        rows = np.array(rows, dtype=np.int64)
        if rows.min() >= len(old.item_ids):  # only new items: append, O(new items)
            state = self._with_new_items(old, item_ids, item_rows, content, category, tag_matrix, created)
            self.index.add(rows, self._augment(state.item_vectors[rows], old.mips_norm))
            self._state = state
            return
        # Items that exist change: copy every array, so that running requests keep their snapshot.
        self._buffers.clear()
        signals = ItemSignals(**vars(old.signals))
        signals.extend(len(item_ids), category, tag_matrix, content, created, rows)
        vectors = np.zeros((len(item_ids), self.dim), np.float32)
        vectors[: len(old.item_vectors)] = old.item_vectors
        cold = signals.popularity[rows] == 0
        vectors[rows[cold]] = content[cold] @ self.cold_start_map
        popular_order = np.lexsort((-np.nan_to_num(signals.first_seen, nan=-np.inf), -signals.popularity))
        popular_rank = np.empty(len(popular_order), np.float32)
        popular_rank[popular_order] = np.arange(len(popular_order))
        # Index first: a request with the old snapshot ignores keys it does not know yet.
        if cold.any():
            self.index.add(rows[cold], self._augment(vectors[rows[cold]], old.mips_norm))
        self._state = _Serving(item_ids, item_rows, vectors, signals, popular_order, popular_rank,
                               old.mips_norm)

    def _with_new_items(self, old: _Serving, item_ids: list[str], item_rows: dict[str, int],
                        content: np.ndarray, category: np.ndarray, tags: sp.csr_matrix,
                        created: np.ndarray) -> _Serving:
        """The serving state with items appended that nobody has interacted with yet. The
        general path copies every per-item array (at 1M items the first request after a 1-item
        upload took 0.6 s); here arrays grow into spare room (`_grown`) and the sparse matrices
        share their data, so an upload of new items costs O(new items), amortized."""
        n, total = len(old.item_ids), len(item_ids)
        signals = ItemSignals(**vars(old.signals))
        grown = self._grown
        signals.popularity = grown("popularity", signals.popularity, np.zeros(total - n, np.float32))
        signals.first_seen = grown("first_seen", signals.first_seen, np.full(total - n, np.nan))
        signals.positive_share = grown("positive_share", signals.positive_share, np.ones(total - n, np.float32))
        signals.reorder_rate = grown("reorder_rate", signals.reorder_rate, np.zeros(total - n, np.float32))
        signals.category = grown("category", signals.category, category)
        signals.created_at = grown("created_at", signals.created_at, created)
        signals.content = grown("content", signals.content, content)
        signals.cooccurrence = with_empty_rows(signals.cooccurrence, total)
        signals.transitions = with_empty_rows(signals.transitions, total)
        signals.tags = with_appended_rows(signals.tags, tags)
        vectors = grown("item_vectors", old.item_vectors, content @ self.cold_start_map)
        # Items without interactions come last in the popular order, by row: where the lexsort
        # of the general path puts them.
        new_rows = np.arange(n, total)
        popular_order = np.concatenate([old.popular_order, new_rows])
        popular_rank = np.concatenate([old.popular_rank, new_rows.astype(np.float32)])
        return _Serving(item_ids, item_rows, vectors, signals, popular_order, popular_rank, old.mips_norm)

    def _grown(self, name: str, current: np.ndarray, values: np.ndarray) -> np.ndarray:
        """`current` with `values` appended. Written into the spare room behind `current` when
        it is a view of this model's buffer `name` (requests holding the old, shorter view never
        read those rows), else copied into a new buffer with half as much room again."""
        n, total = len(current), len(current) + len(values)
        buffer = self._buffers.get(name)
        if buffer is None or current.base is not buffer or len(buffer) < total:
            buffer = np.empty((max(total, n + n // 2),) + current.shape[1:], current.dtype)
            buffer[:n] = current
            self._buffers[name] = buffer
        buffer[n:total] = values
        return buffer[:total]

    # ------------------------------------------------------------------ serving
    def _user_context(self, state: _Serving, user_id: str, history: InteractionLog | None):
        """(UserContext or None, item rows of the user's interactions, their type codes)."""
        user_row = self.user_rows.get(user_id)
        if user_row is not None:
            items, weights, times, kinds = self.sequences.user(user_row)
        else:
            items = np.zeros(0, np.int64)
            weights = np.zeros(0, np.float32)
            times = np.zeros(0, np.float64)
            kinds = np.zeros(0, np.int8)
        known_count = len(items)
        if history is not None and len(history):
            rows = np.array([state.item_rows.get(item_id, -1) for item_id, uid in
                             zip(history.item_ids, history.user_ids) if uid == user_id], np.int64)
            mine = np.array([uid == user_id for uid in history.user_ids], bool)
            new_kinds = np.array([INTERACTION_TYPES.index(kind) for kind, keep in
                                  zip(history.types, mine) if keep], np.int8)
            new_times = np.asarray(history.timestamps, np.float64)[mine]
            known = rows >= 0
            rows, new_kinds, new_times = rows[known], new_kinds[known], new_times[known]
            new_weights = np.array([INTERACTION_WEIGHTS[INTERACTION_TYPES[k]] for k in new_kinds], np.float32)
            # The caller's history overlaps what the model was trained on: keep each distinct
            # (item, type, time) once.
            items = np.concatenate([items, rows])
            weights = np.concatenate([weights, new_weights])
            times = np.concatenate([times, new_times])
            kinds = np.concatenate([kinds, new_kinds])
            keys = np.stack([items.astype(np.float64), kinds.astype(np.float64), times], axis=1)
            _, first = np.unique(keys, axis=0, return_index=True)
            first = np.sort(first)
            items, weights, times, kinds = items[first], weights[first], times[first], kinds[first]
            order = np.argsort(times, kind="stable")
            items, weights, times, kinds = items[order], weights[order], times[order], kinds[order]
        if not len(items):
            return None, items, kinds
        if user_row is not None and len(items) == known_count:
            vector = self.user_vectors[user_row]
        else:
            vector = self._fold_in(state, items, weights)
        reference = float(times.max()) if len(times) else state.signals.last_seen_global
        return UserContext(items, weights, times, vector, reference), items, kinds

    def _fold_in(self, state: _Serving, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return fold_in_user(self.model_type, self.hyperparameters, state.item_vectors, self._gram,
                            items, weights)

    def recommend(self, user_id: str, count: int, *, history: InteractionLog | None = None,
                  categories: set[str] | None = None, exclude_item_ids: set[str] = frozenset(),
                  exclude_seen_purchases: bool = True, min_score: float | None = None,
                  exclude_seen: bool = True, now: float | None = None) -> list[Recommendation]:
        """The top `count` items for the user, scores in [0, 1] descending.

        A score is calibrated per request: 1 is the best candidate of this request, 0 the weakest
        one considered, linear in the ranker's margin in between (so `min_score` 0.5 keeps the
        upper half of the range and never empties a list on its own). Scores compare items
        within one answer, not across users or model versions.

        Items the user disliked are never recommended; items they purchased are left out when
        `exclude_seen_purchases` (durable goods) and allowed otherwise (consumables), and then
        they are candidates themselves; any other item they already interacted with is left out
        when `exclude_seen`. `now` (unix seconds, default the clock) is when the next order
        happens, for the days-since features of repeat purchases."""
        state = self._state
        n_items = len(state.item_ids)
        if count <= 0 or not n_items:
            return []
        context, seen_items, seen_kinds = self._user_context(state, user_id, history)

        # Every step here is O(rows touched), not O(catalogue), but the masks: at 1M items a
        # pass over all of them costs milliseconds (np.isin over the category column took 5 ms).
        blocked = [np.array([state.item_rows[item_id] for item_id in exclude_item_ids
                             if item_id in state.item_rows], np.int64)]
        if len(seen_items):
            purchased = seen_items[seen_kinds == PURCHASE]
            if exclude_seen:
                blocked.append(seen_items if exclude_seen_purchases else np.setdiff1d(seen_items, purchased))
            elif exclude_seen_purchases:
                blocked.append(purchased)
            blocked.append(seen_items[seen_kinds == DISLIKE])
        blocked = np.unique(np.concatenate(blocked))
        if categories is None:
            eligible = np.ones(n_items, bool)
        else:
            # A lookup table by category id; its last slot stands for "no category" (id -1).
            wanted = np.zeros(len(self.categories.names) + 1, bool)
            wanted[[self.categories.ids[name] for name in categories if name in self.categories.ids]] = True
            eligible = wanted[state.signals.category]
        eligible[blocked] = False
        if not eligible.any():
            return []

        if context is None or not np.any(context.vector):
            return self._popular(state, count, eligible, min_score)
        context.query_time = max(context.reference_time, time.time() if now is None else float(now))
        repeats = (np.zeros(0, np.int64) if exclude_seen_purchases
                   else repeat_candidates(context, int(self.hyperparameters.get("candidates_repurchase", 100))))
        candidates, cooccurrence = self._candidates(state, context, count, eligible,
                                                    None if categories is not None else blocked, repeats)
        if not len(candidates):
            return self._popular(state, count, eligible, min_score)
        features = candidate_features(state.signals, state.item_vectors, state.popular_rank,
                                      context, candidates, cooccurrence)
        scores, tie_breaker = self._score(features)
        order = np.lexsort((-tie_breaker, -scores))
        candidates, scores, features = candidates[order], scores[order], features[order]
        spread = scores[0] - scores[-1]
        scores = (scores - scores[-1]) / spread if spread > 0 else np.ones(len(scores))
        if min_score is not None:
            keep = scores >= min_score
            candidates, scores, features = candidates[keep], scores[keep], features[keep]
        candidates, scores = candidates[:count], scores[:count]
        distances = np.clip(1.0 - features[:count, FEATURE_NAMES.index("model_cosine")], 0.0, 2.0)
        return [self._recommendation(state, row, score, distance)
                for row, score, distance in zip(candidates, scores, distances)]

    def _candidates(self, state: _Serving, context: UserContext, count: int, eligible: np.ndarray,
                    blocked: np.ndarray | None, repeats: np.ndarray) -> tuple[np.ndarray, SparseScores]:
        """`blocked`: the only rows `eligible` leaves out, or None when a category filter does."""
        hp = self.hyperparameters
        query = np.append(context.vector, 0.0).astype(np.float32)
        wanted = max(int(hp["candidates_model"]), count)
        if blocked is None:  # a category filter: the index scans or over-fetches by its selectivity
            model_rows, _ = self.index.search(query, wanted, allowed=eligible)
        else:  # only a few exclusions: a plain graph search that skips them
            model_rows, _ = self.index.search(query, wanted, exclude=blocked)
        model_rows = model_rows[model_rows < len(eligible)]
        cooccurrence = cooccurrence_scores(state.signals, context.recent_positive())
        co_rows = cooccurrence.top(int(hp["candidates_cooccurrence"]), eligible)
        popular = first_eligible(state.popular_order, eligible, int(hp["candidates_popular"]))
        candidates = np.unique(np.concatenate([model_rows, co_rows, popular, repeats]).astype(np.int64))
        return candidates[eligible[candidates]], cooccurrence

    def _score(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(score, tie-breaker) per candidate. The ranker's trees give many candidates exactly the
        same margin; among those a fixed blend of the generators' signals decides. Without a
        ranker (too little data to learn one) the blend is the score."""
        def scaled(column: str) -> np.ndarray:
            values = features[:, FEATURE_NAMES.index(column)].astype(np.float64)
            top = np.max(np.abs(values)) if len(values) else 0.0
            return values / top if top > 0 else values
        blend = 0.5 * scaled("model_cosine") + 0.3 * scaled("cooccurrence") + 0.2 * scaled("popularity")
        blend = np.clip(0.5 + 0.5 * blend, 0.0, 1.0)
        if self.ranker is None:
            return blend, blend
        # a ranker reads the columns it was trained on (those of older models come first)
        margins = self.ranker.inplace_predict(features[:, :self.ranker.num_features()])
        return np.asarray(margins, np.float64), blend

    def _popular(self, state: _Serving, count: int, eligible: np.ndarray,
                 min_score: float | None) -> list[Recommendation]:
        rows = first_eligible(state.popular_order, eligible, count)
        top = float(state.signals.popularity[rows[0]]) if len(rows) else 0.0
        # Popular items score by their share of the best offered item's popularity (1 for the
        # first); with no interactions at all every item scores 1.
        scores = state.signals.popularity[rows] / top if top > 0 else np.ones(len(rows))
        result = [self._recommendation(state, row, float(score), 1.0, fallback="popular")
                  for row, score in zip(rows, scores)]
        return [item for item in result if min_score is None or item.score >= min_score]

    def _recommendation(self, state: _Serving, row: int, score: float, distance: float,
                        fallback: str | None = None) -> Recommendation:
        category_id = int(state.signals.category[row])
        created = state.signals.created_at[row]
        return Recommendation(
            item_id=state.item_ids[row], score=float(min(max(score, 0.0), 1.0)),
            embedding_distance=float(distance),
            category=self.categories.names[category_id] if category_id >= 0 else None,
            created_at=None if np.isnan(created) else float(created), fallback=fallback)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Arrays as .npz (loaded with allow_pickle=False), metadata as JSON, the ranker in
        xgboost's own format, the ANN index as its files: nothing executable is stored."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = self._state
        np.savez(directory / "arrays.npz", item_vectors=state.item_vectors,
                 user_vectors=self.user_vectors, cold_start_map=self.cold_start_map,
                 **state.signals.arrays(), **self.sequences.arrays("sequence_"))
        if self.ranker is not None:
            self.ranker.save_model(str(directory / "ranker.ubj"))
        self.index.save(directory / "ann")
        metadata = {
            "format": FORMAT_VERSION, "version": self.version, "model_type": self.model_type,
            "hyperparameters": self.hyperparameters, "trained_at": self.trained_at,
            "metrics": self.metrics, "item_ids": state.item_ids, "user_ids": self.user_ids,
            "categories": self.categories.names, "tags": self.tags.names,
            "mips_norm": state.mips_norm, "has_ranker": self.ranker is not None,
        }
        (directory / "model.json").write_text(json.dumps(metadata))

    @classmethod
    def load(cls, directory: Path) -> "RecommenderModel":
        directory = Path(directory)
        metadata = json.loads((directory / "model.json").read_text())
        if metadata.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported model format {metadata.get('format')!r} in {directory}")
        with np.load(directory / "arrays.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        ranker = None
        if metadata["has_ranker"]:
            ranker = xgboost.Booster()
            ranker.load_model(str(directory / "ranker.ubj"))
        return cls(version=metadata["version"], model_type=metadata["model_type"],
                   hyperparameters=metadata["hyperparameters"], trained_at=metadata["trained_at"],
                   metrics=metadata["metrics"], item_ids=metadata["item_ids"],
                   user_ids=metadata["user_ids"], item_vectors=arrays["item_vectors"],
                   user_vectors=arrays["user_vectors"], signals=ItemSignals.from_arrays(arrays),
                   sequences=Sequences.from_arrays(arrays, "sequence_"),
                   categories=_Vocabulary(metadata["categories"]), tags=_Vocabulary(metadata["tags"]),
                   cold_start_map=arrays["cold_start_map"], ranker=ranker,
                   index=AnnIndex.load(directory / "ann"), mips_norm=metadata["mips_norm"])


# ====================================================================== training
class _Progress:
    """Maps each stage's own 0..1 onto its slice of the whole job; never goes backwards."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.callback, self.last = callback, 0.0

    def __call__(self, fraction: float, stage: str, details: dict | None = None) -> None:
        self.last = max(self.last, min(1.0, fraction))
        if self.callback is not None:
            self.callback(self.last, stage, details or {})


def _encode(log: InteractionLog, items: list[ItemInfo]):
    """Dense ids for items and users. Items are numbered category by category (catalogue order
    within a category, then ids only the log knows), so that the rows of a category are one
    contiguous range: a category filter then scans slices of the vector table, not scattered
    rows (see AnnIndex._similarities)."""
    by_category = sorted(items, key=lambda item: (item.category is None, item.category or ""))
    item_ids = list(dict.fromkeys([item.item_id for item in by_category] + list(log.item_ids)))
    item_rows = {item_id: row for row, item_id in enumerate(item_ids)}
    user_ids = list(dict.fromkeys(log.user_ids))
    user_rows = {user_id: row for row, user_id in enumerate(user_ids)}
    unknown = set(log.types) - set(INTERACTION_TYPES)
    if unknown:
        raise ValueError(f"unknown interaction types: {sorted(unknown)}")
    kind_codes = {kind: code for code, kind in enumerate(INTERACTION_TYPES)}
    users = np.fromiter((user_rows[u] for u in log.user_ids), np.int64, len(log))
    rows = np.fromiter((item_rows[i] for i in log.item_ids), np.int64, len(log))
    kinds = np.fromiter((kind_codes[k] for k in log.types), np.int8, len(log))
    weight_of_kind = np.array([INTERACTION_WEIGHTS[kind] for kind in INTERACTION_TYPES], np.float32)
    timestamps = np.asarray(log.timestamps, np.float64)
    if len(timestamps) != len(log) or len(log.item_ids) != len(log) or len(log.types) != len(log):
        raise ValueError("InteractionLog columns have different lengths")
    return item_ids, user_ids, users, rows, kinds, weight_of_kind[kinds], timestamps


def _aggregate(sequences: Sequences) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, net weight) triples with a non-zero net weight."""
    users = np.repeat(np.arange(len(sequences.indptr) - 1), np.diff(sequences.indptr))
    n_items = int(sequences.items.max()) + 1 if len(sequences.items) else 1
    keys = users * n_items + sequences.items
    unique, inverse = np.unique(keys, return_inverse=True)
    net = np.bincount(inverse, weights=sequences.weights).astype(np.float32)
    keep = net != 0
    return unique[keep] // n_items, unique[keep] % n_items, net[keep]


class _Embedder:
    """Fits the chosen embedding model and folds users in, the same way at every stage."""

    def __init__(self, model_type: str, hp: dict, content: np.ndarray, n_users: int, n_items: int):
        self.model_type, self.hp, self.content = model_type, hp, content
        self.n_users, self.n_items = n_users, n_items

    def fit(self, sequences: Sequences, on_epoch, initial=None) -> tuple[np.ndarray, np.ndarray]:
        hp = self.hp
        if self.model_type == "matrix_factorization":
            als = ImplicitALS(hp["embedding_dim"], hp["regularization"], hp["alpha"], hp["epochs"],
                              seed=hp["seed"])
            users, items, weights = _aggregate(sequences)
            return als.fit(users, items, weights, self.n_users, self.n_items, initial=initial,
                           on_epoch=on_epoch)
        tower = TwoTower(hp["embedding_dim"], hp["learning_rate"], hp["epochs"],
                         hp["regularization"] * 1e-4, history_length=hp["history_length"], seed=hp["seed"])
        per_user = [sequences.user(user)[:2] for user in range(self.n_users)]
        ids, projection = tower.fit(per_user, self.content, self.n_items, on_epoch=on_epoch)
        item_vectors = ids + self.content @ projection
        user_vectors = np.stack([
            TwoTower.user_vector(item_vectors, items, weights, hp["history_length"])
            for items, weights in per_user]) if self.n_users else np.zeros((0, hp["embedding_dim"]), np.float32)
        return user_vectors.astype(np.float32), item_vectors.astype(np.float32)

    def fold_in(self, item_vectors: np.ndarray, gram: np.ndarray, items: np.ndarray,
                weights: np.ndarray) -> np.ndarray:
        return fold_in_user(self.model_type, self.hp, item_vectors, gram, items, weights)


def _holdout_mask(sequences: Sequences, per_user: int, by_order: bool = False) -> np.ndarray:
    """True on each user's last `per_user` positive interactions (users keep at least one), or
    with `by_order` on those of the user's last `per_user` orders (timestamps; users keep one)."""
    held = np.zeros(len(sequences.items), bool)
    for user in range(len(sequences.indptr) - 1):
        start, stop = sequences.indptr[user], sequences.indptr[user + 1]
        positive = start + np.flatnonzero(sequences.weights[start:stop] > 0)
        if by_order:
            orders = np.unique(sequences.timestamps[positive])
            if len(orders) >= 2:
                cutoff = orders[-min(per_user, len(orders) - 1)]
                held[positive[sequences.timestamps[positive] >= cutoff]] = True
        elif len(positive) >= 2:
            held[positive[-min(per_user, len(positive) - 1):]] = True
    return held


def _exact_top(item_vectors: np.ndarray, vector: np.ndarray, count: int, eligible: np.ndarray) -> np.ndarray:
    scores = item_vectors @ vector
    scores[~eligible] = -np.inf
    count = min(count, int(eligible.sum()))
    if count <= 0:
        return np.zeros(0, np.int64)
    best = np.argpartition(-scores, count - 1)[:count]
    return best[np.argsort(-scores[best], kind="stable")]


def _ranker_queries(full: Sequences, held: np.ndarray, embedder: _Embedder, item_vectors: np.ndarray,
                    signals: ItemSignals, hp: dict, progress,
                    repurchase: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and query ids: one query per held-out interaction, its history being
    everything the user did before it, its candidates those the generators propose.

    With `repurchase` a query is a held-out order (every item of it is a right answer), its
    history the user's earlier orders, and the user's purchased items are candidates too: as
    served to a tenant whose customers buy again."""
    n_items = item_vectors.shape[0]
    gram = item_vectors.T @ item_vectors + hp["regularization"] * np.eye(item_vectors.shape[1], dtype=np.float32)
    popular_order = np.lexsort((-np.nan_to_num(signals.first_seen, nan=-np.inf), -signals.popularity))
    popular_rank = np.empty(n_items, np.float32)
    popular_rank[popular_order] = np.arange(n_items)
    owners = np.repeat(np.arange(len(full.indptr) - 1), np.diff(full.indptr))
    users = np.unique(owners[held])
    rng = np.random.default_rng(hp["seed"])
    # Each query scores the whole catalogue exactly: bound the total work (~2e10 multiply-adds,
    # under a minute) so that million-item catalogues train in reasonable time.
    affordable = max(500, int(RANKER_SCORING_BUDGET / max(1, item_vectors.size)))
    limit = min(hp["ranker_max_users"], affordable)
    if len(users) > limit:
        users = np.sort(rng.choice(users, limit, replace=False))
    features, labels, groups = [], [], []
    width = len(FEATURE_NAMES) if repurchase else BASE_FEATURES
    for done, user in enumerate(users):
        start = full.indptr[user]
        items, weights, times, kinds = full.user(user)
        positions = np.flatnonzero(held[start:full.indptr[user + 1]])
        if repurchase:  # one query per held-out order: its first position and all its items
            order_times = times[positions]
            positions = positions[np.r_[True, order_times[1:] != order_times[:-1]]] if len(positions) else positions
        for position in positions:
            if repurchase:
                position = int(np.searchsorted(times, times[position]))  # earlier orders only
                targets = np.unique(items[position:][(times[position:] == times[position])
                                                     & (weights[position:] > 0)])
            else:
                targets = items[position:position + 1]
            if position == 0:
                continue
            prefix_items, prefix_weights = items[:position], weights[:position]
            vector = embedder.fold_in(item_vectors, gram, prefix_items, prefix_weights)
            context = UserContext(prefix_items, prefix_weights, times[:position], vector,
                                  float(times[position - 1]), query_time=float(times[position]))
            eligible = np.ones(n_items, bool)
            eligible[prefix_items] = False
            repeats = np.zeros(0, np.int64)
            if repurchase:
                prefix_kinds = kinds[:position]
                eligible[prefix_items[prefix_kinds == PURCHASE]] = True
                eligible[prefix_items[prefix_kinds == DISLIKE]] = False
                repeats = repeat_candidates(context, hp["candidates_repurchase"])
                repeats = repeats[eligible[repeats]]
            model_rows = _exact_top(item_vectors, vector, hp["candidates_model"], eligible)
            cooccurrence = cooccurrence_scores(signals, context.recent_positive())
            co_rows = cooccurrence.top(hp["candidates_cooccurrence"], eligible)
            popular = first_eligible(popular_order, eligible, hp["candidates_popular"])
            candidates = np.unique(np.concatenate([model_rows, co_rows, popular, repeats]).astype(np.int64))
            label = np.isin(candidates, targets).astype(np.float32)
            if not label.any():
                continue  # the generators missed it: nothing for the ranker to learn here
            rows = candidate_features(signals, item_vectors, popular_rank, context, candidates,
                                      cooccurrence)[:, :width]
            negatives = np.flatnonzero(label == 0)
            if len(negatives) > hp["ranker_negatives"]:
                # Features first, sampling after: ranks among candidates keep their serving meaning.
                keep = np.concatenate([np.flatnonzero(label), rng.choice(negatives, hp["ranker_negatives"], replace=False)])
                rows, label = rows[keep], label[keep]
            features.append(rows)
            labels.append(label)
            groups.append(np.full(len(label), len(groups)))
        if done % 200 == 0:
            progress(done / len(users), {"users": int(done)})
    if not features:
        return np.zeros((0, width), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(features), np.concatenate(labels), np.concatenate(groups)


def train(log: InteractionLog, items: list[ItemInfo], *, model_type: str = "matrix_factorization",
          hyperparameters: dict | None = None, progress: ProgressCallback | None = None,
          repurchase: bool | None = None) -> RecommenderModel:
    """Train a model on the tenant's interactions and catalogue (see the module docstring).

    `repurchase`: may users be offered what they bought before (True), never (False), or None:
    decided here from the log's repeat-purchase rate (evaluation.repeat_purchase_rate >=
    AUTO_REPURCHASE_RATE). Unless the hyperparameter evaluation_users is 0, a first model is
    trained without each (sampled) user's last order and scored on it against popularity and
    buy-again (metrics["holdout"]); then the served model is trained on everything."""
    if model_type not in MODEL_TYPES:
        raise UnsupportedModel(f"model_type {model_type!r} is not supported; "
                               f"supported: {', '.join(MODEL_TYPES)}")
    hp = resolve_hyperparameters(hyperparameters)
    report = _Progress(progress)
    started = time.perf_counter()
    report(0.0, "prepare", {})
    rate = evaluation.repeat_purchase_rate(log)
    chosen = rate >= evaluation.AUTO_REPURCHASE_RATE if repurchase is None else bool(repurchase)
    holdout, results, low = None, None, 0.0
    if hp["evaluation_users"] > 0:
        holdout = evaluation.time_holdout(log, hp["evaluation_users"], hp["seed"])
    if holdout is not None:
        low = 0.45
        trial = _fit(holdout.train, items, model_type, hp, chosen,
                     lambda fraction, stage, details=None: report(0.4 * fraction, f"evaluation_{stage}", details))
        report(0.4, "evaluation", {"users": len(holdout.targets)})
        results = evaluation.evaluate(trial, holdout, chosen)
    model = _fit(log, items, model_type, hp, chosen,
                 lambda fraction, stage, details=None: report(low + (1 - low) * fraction, stage, details))
    model.metrics.update(repeat_purchase_rate=round(rate, 4), repurchase=chosen, holdout=results,
                         training_seconds=round(time.perf_counter() - started, 3))
    report(1.0, "done", {"seconds": model.metrics["training_seconds"]})
    return model


def _fit(log: InteractionLog, items: list[ItemInfo], model_type: str, hp: dict, repurchase: bool,
         report: Callable) -> RecommenderModel:
    """One model on `log` (train's steps but the evaluation)."""
    started = time.perf_counter()

    item_ids, user_ids, users, rows, kinds, weights, timestamps = _encode(log, items)
    n_items, n_users = len(item_ids), len(user_ids)
    categories, tags = _Vocabulary(), _Vocabulary()
    catalogue = {item.item_id: item for item in items}
    infos = [catalogue.get(item_id) or ItemInfo(item_id=item_id, title="") for item_id in item_ids]
    content, category, tag_matrix, created = _content_arrays(infos, categories, tags)
    full = Sequences.build(users, rows, weights, timestamps, kinds, n_users)
    embedder = _Embedder(model_type, hp, content, n_users, n_items)

    def signals_of(sequences: Sequences) -> ItemSignals:
        return ItemSignals.build(sequences, n_items, window=hp["cooccurrence_window"],
                                 neighbours=hp["neighbours"], category=category, tags=tag_matrix,
                                 content=content, created_at=created)

    def epoch_reporter(low: float, high: float, stage: str):
        def on_epoch(epoch: int, loss: float) -> None:
            report(low + (high - low) * (epoch + 1) / max(1, hp["epochs"]), stage,
                   {"epoch": epoch + 1, "loss": float(loss)})
        return on_epoch

    ranker, metrics, initial = None, {}, None
    held = (_holdout_mask(full, hp["ranker_holdout"], by_order=repurchase) if hp["ranker_rounds"] > 0
            else np.zeros(0, bool))
    if held.any():
        base = full.subset(~held)
        base_users, base_items = embedder.fit(base, epoch_reporter(0.02, 0.35, "ranker_embeddings"))
        initial = (base_users, base_items)
        base_signals = signals_of(base)
        features, labels, groups = _ranker_queries(
            full, held, embedder, base_items, base_signals, hp,
            lambda fraction, details: report(0.35 + 0.2 * fraction, "ranker_candidates", details),
            repurchase=repurchase)
        queries = int(groups.max()) + 1 if len(groups) else 0
        metrics.update(ranker_queries=queries, ranker_rows=int(len(labels)))
        if queries >= MIN_RANKER_QUERIES:
            report(0.55, "ranker", {"queries": queries})
            # One thread: training runs in a worker thread next to request handling, and on a busy
            # machine OpenMP threads spin-waiting for each other made small fits 10x slower.
            model = xgboost.XGBRanker(
                objective="rank:ndcg", n_estimators=hp["ranker_rounds"], max_depth=hp["ranker_depth"],
                learning_rate=hp["ranker_learning_rate"], subsample=0.8, colsample_bytree=0.8,
                min_child_weight=1.0, tree_method="hist", n_jobs=1, random_state=hp["seed"],
                lambdarank_pair_method="topk", lambdarank_num_pair_per_sample=10)
            model.fit(features, labels, qid=groups)
            ranker = model.get_booster()
            importance = ranker.get_score(importance_type="gain")
            metrics["ranker_feature_gain"] = {FEATURE_NAMES[int(name[1:])]: round(value, 3)
                                              for name, value in importance.items()}
    report(0.7, "embeddings", {})
    user_vectors, item_vectors = embedder.fit(full, epoch_reporter(0.7, 0.9, "embeddings"),
                                              initial=initial if model_type == "matrix_factorization" else None)
    signals = signals_of(full)

    # Items nobody interacted with: learn content -> vector on the warm items (ridge regression)
    # and map the cold ones into the model's space, so they can be recommended at all.
    warm = signals.popularity > 0
    penalty = hp["cold_start_ridge"] * np.eye(content.shape[1], dtype=np.float32)
    if warm.any():
        cold_start_map = np.linalg.solve(content[warm].T @ content[warm] + penalty,
                                         content[warm].T @ item_vectors[warm]).astype(np.float32)
    else:
        cold_start_map = np.zeros((content.shape[1], hp["embedding_dim"]), np.float32)
    cold = ~warm
    item_vectors[cold] = content[cold] @ cold_start_map

    report(0.92, "index", {})
    metrics.update(users=n_users, items=n_items, interactions=len(log),
                   training_seconds=round(time.perf_counter() - started, 3))
    model = RecommenderModel(
        version=f"v{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:8]}",
        model_type=model_type, hyperparameters=hp, trained_at=time.time(), metrics=metrics,
        item_ids=item_ids, user_ids=user_ids, item_vectors=item_vectors.astype(np.float32),
        user_vectors=user_vectors.astype(np.float32), signals=signals, sequences=full,
        categories=categories, tags=tags, cold_start_map=cold_start_map, ranker=ranker)
    return model
