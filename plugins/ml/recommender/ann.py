"""Approximate nearest-neighbour index over item vectors (cosine), used to serve recommendations.

Keys are the row numbers (0..n-1) of a model's item table. Two structures hold the items:

* a usearch HNSW graph (vectors stored as f16 by default) that proposes candidates quickly, and
* an exact float32 copy of every vector (plus its inverse norm) that re-scores the candidates.

A search asks HNSW for ``k * overfetch`` candidates, re-scores them exactly and keeps the best k,
so the order of the results is exact among the candidates and the lossy HNSW storage costs no
ranking quality. Small indexes (fewer than ``exact_below`` items) skip HNSW and scan all vectors.

Filters: usearch's Python search takes no predicate, so an ``allowed`` mask (categories) and an
``exclude`` list (already bought, exclude_ids) are applied after the search. The search fetches
more candidates the more selective the filter is, doubles the fetch while too few survive, and
falls back to an exact scan of the eligible rows when the filter keeps few items (then a scan of
those rows is cheaper than a deep graph search) or when the graph keeps coming back short. It
therefore always returns k results whenever k eligible items exist.

Thread safety: any number of searches may run at once (usearch releases the GIL while it
searches), while ``add``/``remove`` take the index exclusively. A small write-preferring
reader/writer lock does this, because adding to usearch may re-allocate its storage (and ours
may grow), which a concurrent search must not observe. ``add`` takes the lock per batch of
ADD_BATCH keys, so searches wait for one batch at most, never for a whole large addition (a
search in between sees the batches added so far). ``build`` needs no lock: nobody else holds
the index yet.

Removing or replacing a key leaves a tombstone in the HNSW graph (usearch marks, it does not
re-link); that is fine for cold-start items between trainings, and each training builds a
fresh index.

Files written by ``save(directory)``: ``ann.usearch`` (the graph), ``vectors.npy`` (exact
vectors), ``present.npy`` (which keys exist), ``inverse_norms.npy`` and ``ann.json``
(parameters). ``load(view=True)`` memory-maps them instead of reading them; the first
``add``/``remove`` on such a view reads them into memory (a memory-mapped usearch index is
immutable), leaving the files unchanged.
"""

from __future__ import annotations

import json
import math
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
# xgboost before usearch, always: usearch's SIMD kernels (numkong) bundle their own libgomp, and
# xgboost's OpenMP segfaults in its first DMatrix when that copy was loaded first.
import xgboost  # noqa: F401  (isort: keep this order)
from usearch.index import Index

GRAPH_FILE = "ann.usearch"
VECTORS_FILE = "vectors.npy"
PRESENT_FILE = "present.npy"
NORMS_FILE = "inverse_norms.npy"
PARAMS_FILE = "ann.json"

# Chosen from the curve of bench/recommender_ann.py (MF-like items, dim 128, 2 shared cores):
# M=32 reaches at ef=128 the recall M=16 needs ef=256 for (100k: 0.964 vs 0.967); f16 costs no
# recall against f32 and halves the graph's vectors; over-fetching 2x is free while
# k * 2 <= expansion_search. ef=256 is the deepest search whose p99 stays near 5 ms at 1M items
# (recall 0.89 there, 0.986 at 100k); the 0.95 target at 1M needs a better graph than M=32 /
# efc=128 (ef=512 gives 0.936 at ~11 ms p99). Override any of them through build(**params).
DEFAULT_PARAMS: dict = {
    "connectivity": 32,  # HNSW "M": links per node; fixed once the graph is built
    "expansion_add": 128,  # HNSW "efConstruction": graph quality vs build time
    "expansion_search": 256,  # HNSW "ef": recall vs latency, can change at any time
    "overfetch": 2,  # candidates re-scored exactly = k * overfetch
    "dtype": "f16",  # storage in the graph; exact re-scoring uses the float32 copy
    "exact_below": 2_000,  # fewer items than this: exact scan, no graph search
    "filter_exact_max": 20_000,  # filter keeps at most this many items: exact scan of them
    "max_fetch": 1_024,  # deepest graph search before falling back to an exact scan
}


ADD_BATCH = 1_024  # keys added per write-lock hold in AnnIndex.add
EXCLUDE_AS_FILTER = 1_000  # longer exclude lists are handled like an `allowed` mask


class _ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers so it cannot starve."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            while self._writing or self._readers:
                self._condition.wait()
            self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


def _as_keys(keys) -> np.ndarray:
    keys = np.asarray(keys, dtype=np.int64).reshape(-1)
    if keys.size and keys.min() < 0:
        raise ValueError("ANN keys are row numbers and must be >= 0")
    return keys


def _as_matrix(vectors, ndim: int | None = None) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors.reshape(1, -1)
    if vectors.ndim != 2 or (ndim is not None and vectors.shape[1] != ndim):
        raise ValueError(f"expected vectors of dimension {ndim}, got shape {vectors.shape}")
    return np.ascontiguousarray(vectors)


def _checked(keys, vectors, ndim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    keys, vectors = _as_keys(keys), _as_matrix(vectors, ndim)
    if len(keys) != len(vectors):
        raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
    if len(np.unique(keys)) != len(keys):
        raise ValueError("duplicate keys in one call")
    return keys, vectors


def _inverse_norms(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1)
    # A zero vector has no direction: it scores 0 against everything (cosine distance 1).
    with np.errstate(divide="ignore"):
        return np.where(norms > 0, 1.0 / norms, 0.0).astype(np.float32)


class AnnIndex:
    """Cosine nearest-neighbour search over float32 vectors keyed by int row numbers (0..n-1 of
    the model's item table). usearch HNSW finds candidates; exact re-scoring of an over-fetched
    candidate set makes the result order exact among candidates."""

    def __init__(self, ndim: int, params: dict) -> None:
        self.ndim = ndim
        self.params = {**DEFAULT_PARAMS, **params}
        unknown = set(params) - set(DEFAULT_PARAMS)
        if unknown:
            raise ValueError(f"unknown AnnIndex parameters: {sorted(unknown)}")
        self._graph = self._new_graph()
        # Rows are indexed by key; rows of absent keys are zero and `_present` is False there.
        self._vectors = np.zeros((0, ndim), dtype=np.float32)
        self._inv_norms = np.zeros(0, dtype=np.float32)
        self._present = np.zeros(0, dtype=bool)
        self._count = 0
        self._lock = _ReadWriteLock()
        self._view_directory: Path | None = None  # set while memory-mapped from disk

    # ----------------------------------------------------------------------------- building
    @classmethod
    def build(cls, keys: np.ndarray, vectors: np.ndarray, **params) -> "AnnIndex":
        keys, vectors = _checked(keys, vectors)
        index = cls(vectors.shape[1], params)
        if len(keys):
            # Nobody searches an index under construction: one batch, all cores, no locking.
            index._insert(keys, vectors)
        return index

    def _new_graph(self) -> Index:
        return Index(
            ndim=self.ndim,
            metric="cos",
            dtype=self.params["dtype"],
            connectivity=int(self.params["connectivity"]),
            expansion_add=int(self.params["expansion_add"]),
            expansion_search=int(self.params["expansion_search"]),
        )

    def set_search_params(self, **params) -> None:
        """Change search-time knobs (everything but connectivity, expansion_add and dtype, which
        shape the graph) without rebuilding."""
        fixed = {"connectivity", "expansion_add", "dtype"} & set(params)
        unknown = set(params) - set(DEFAULT_PARAMS)
        if fixed or unknown:
            raise ValueError(f"not search-time parameters: {sorted(fixed | unknown)}")
        with self._lock.writing():
            self.params.update(params)
            self._graph.expansion_search = int(self.params["expansion_search"])

    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Insert new keys or replace the vectors of existing ones.

        Large additions go in batches of ADD_BATCH, each under the write lock on its own, so that
        concurrent searches wait for one batch, not for the whole addition (a search running in
        between sees the batches added so far)."""
        keys, vectors = _checked(keys, vectors, self.ndim)
        for start in range(0, len(keys), ADD_BATCH):
            with self._lock.writing():
                self._make_writable()
                self._insert(keys[start : start + ADD_BATCH], vectors[start : start + ADD_BATCH])

    def _insert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self._grow(int(keys.max()) + 1)
        replaced = keys[self._present[keys]]
        if len(replaced):  # usearch refuses duplicate keys: a replacement is remove + add
            self._graph.remove(replaced.astype(np.uint64))
        self._vectors[keys] = vectors
        self._inv_norms[keys] = _inverse_norms(vectors)
        self._count += len(keys) - len(replaced)
        self._present[keys] = True
        self._graph.add(keys.astype(np.uint64), vectors)

    def remove(self, keys: np.ndarray) -> None:
        """Forget keys; unknown keys are ignored."""
        keys = _as_keys(keys)
        with self._lock.writing():
            keys = keys[keys < len(self._present)]
            keys = np.unique(keys[self._present[keys]])
            if not len(keys):
                return
            self._make_writable()
            self._graph.remove(keys.astype(np.uint64))
            self._present[keys] = False
            self._vectors[keys] = 0.0
            self._inv_norms[keys] = 0.0
            self._count -= len(keys)

    def _grow(self, rows: int) -> None:
        if rows <= len(self._present):
            return
        capacity = max(rows, len(self._present) + len(self._present) // 2)
        vectors = np.zeros((capacity, self.ndim), dtype=np.float32)
        vectors[: len(self._vectors)] = self._vectors
        self._vectors = vectors
        self._inv_norms = np.concatenate(
            [self._inv_norms, np.zeros(capacity - len(self._inv_norms), np.float32)]
        )
        self._present = np.concatenate(
            [self._present, np.zeros(capacity - len(self._present), bool)]
        )

    def _make_writable(self) -> None:
        """A memory-mapped index is read-only: read it into memory before the first change."""
        if self._view_directory is None:
            return
        directory, self._view_directory = self._view_directory, None
        self._graph = self._new_graph()
        self._graph.load(str(directory / GRAPH_FILE))
        self._vectors = np.array(self._vectors)
        self._inv_norms = np.array(self._inv_norms)
        self._present = np.array(self._present)

    # ----------------------------------------------------------------------------- searching
    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k keys nearest to `query` (cosine distance ascending).

        `allowed`: bool mask indexed by key (keys beyond its length are not allowed).
        `exclude`: keys never to return."""
        query = _as_matrix(query, self.ndim)[0]
        query_norm = float(np.linalg.norm(query))
        query = query / query_norm if query_norm > 0 else query
        empty = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        if k <= 0:
            return empty
        with self._lock.reading():
            if not self._count:
                return empty
            excluded = _as_keys(exclude) if exclude is not None else np.zeros(0, np.int64)
            excluded = np.unique(excluded[excluded < len(self._present)])
            excluded = excluded[self._present[excluded]]
            if allowed is not None:
                allowed = np.asarray(allowed)
                if allowed.dtype != bool:  # a list of keys here would silently mean other keys
                    raise ValueError("`allowed` must be a bool mask indexed by key")
                return self._search_filtered(query, k, allowed, excluded)
            if len(excluded) > EXCLUDE_AS_FILTER:
                # Skipping that many keys in graph results would need a very deep fetch; a mask
                # lets the filter path pick between a deeper fetch and an exact scan.
                return self._search_filtered(query, k, self._present, excluded)
            if self._count < self.params["exact_below"]:
                eligible = self._present.copy()
                eligible[excluded] = False
                return self._exact(query, k, np.flatnonzero(eligible))
            return self._search_graph(
                query, k, self._count - len(excluded), self._excluding(excluded), len(excluded)
            )

    def _search_filtered(self, query, k, allowed, excluded) -> tuple[np.ndarray, np.ndarray]:
        rows = min(len(allowed), len(self._present))
        eligible = np.zeros(len(self._present), bool)
        np.logical_and(allowed[:rows], self._present[:rows], out=eligible[:rows])
        eligible[excluded] = False
        eligible_count = int(np.count_nonzero(eligible))
        if not eligible_count:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if eligible_count <= max(self.params["filter_exact_max"], self.params["exact_below"], k):
            return self._exact(query, k, np.flatnonzero(eligible))
        return self._search_graph(query, k, eligible_count, lambda keys: eligible[keys])

    def _excluding(self, excluded: np.ndarray):
        if not len(excluded):
            return None
        return lambda keys: ~np.isin(keys, excluded)

    def _search_graph(
        self, query, k, eligible_count, keep, skipped: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Over-fetch from HNSW, keep the eligible candidates, re-score them exactly; fetch
        deeper while fewer than k survive, and scan exactly when the graph cannot deliver.

        `keep(keys) -> bool mask` says which candidates are eligible (None: all are);
        `skipped` counts excluded keys, which the graph may return and we must skip."""
        k = min(k, eligible_count)
        selectivity = eligible_count / self._count
        fetch = math.ceil(k * self.params["overfetch"] / selectivity) + skipped
        while True:
            fetch = min(fetch, self._count)
            candidates = self._graph.search(query, fetch, threads=1).keys.astype(np.int64)
            if keep is not None:
                candidates = candidates[keep(candidates)]
            # Accept once k * overfetch candidates survive (or all the eligible ones), so that
            # the k kept are well inside the fetched list, where HNSW's recall is good.
            if len(candidates) >= min(k * self.params["overfetch"], eligible_count):
                return self._exact(query, k, candidates)
            if fetch >= self.params["max_fetch"] or fetch >= self._count:
                rows = np.flatnonzero(self._present)
                return self._exact(query, k, rows if keep is None else rows[keep(rows)])
            fetch *= 2

    def _exact(self, query, k, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact cosine ranking of `rows` (distinct keys present in the index)."""
        if not len(rows):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if len(rows) * 4 > len(self._vectors):
            # Most rows: one product over the whole table beats copying the rows out first.
            similarity = (self._vectors @ query)[rows] * self._inv_norms[rows]
        else:
            similarity = (self._vectors[rows] @ query) * self._inv_norms[rows]
        if len(rows) > k:
            best = np.argpartition(-similarity, k - 1)[:k]
            rows, similarity = rows[best], similarity[best]
        order = np.argsort(-similarity, kind="stable")
        distances = (1.0 - similarity[order]).astype(np.float32)
        return rows[order].astype(np.int64), distances

    # ----------------------------------------------------------------------------- access
    def vector(self, key: int) -> np.ndarray | None:
        with self._lock.reading():
            if not 0 <= key < len(self._present) or not self._present[key]:
                return None
            return np.array(self._vectors[key])

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: int) -> bool:
        return 0 <= key < len(self._present) and bool(self._present[key])

    @property
    def memory_bytes(self) -> int:
        """Bytes held in memory: the graph plus the exact vectors (memory-mapped files excluded)."""
        if self._view_directory is not None:
            return int(self._graph.memory_usage)
        return int(
            self._graph.memory_usage
            + self._vectors.nbytes
            + self._inv_norms.nbytes
            + self._present.nbytes
        )

    # ----------------------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock.reading():
            self._graph.save(str(directory / GRAPH_FILE))
            rows = int(np.flatnonzero(self._present).max() + 1) if self._count else 0
            np.save(directory / VECTORS_FILE, self._vectors[:rows])
            np.save(directory / PRESENT_FILE, self._present[:rows])
            np.save(directory / NORMS_FILE, self._inv_norms[:rows])
            (directory / PARAMS_FILE).write_text(
                json.dumps({"ndim": self.ndim, "count": self._count, "params": self.params})
            )

    @classmethod
    def load(cls, directory: Path, *, view: bool = False) -> "AnnIndex":
        directory = Path(directory)
        meta = json.loads((directory / PARAMS_FILE).read_text())
        index = cls(meta["ndim"], meta["params"])
        mmap_mode = "r" if view else None
        index._vectors = np.load(directory / VECTORS_FILE, mmap_mode=mmap_mode)
        index._present = np.load(directory / PRESENT_FILE, mmap_mode=mmap_mode)
        index._inv_norms = np.load(directory / NORMS_FILE, mmap_mode=mmap_mode)
        index._count = int(np.count_nonzero(index._present))
        if view:
            index._graph.view(str(directory / GRAPH_FILE))
            index._view_directory = directory
        else:
            index._graph.load(str(directory / GRAPH_FILE))
        index._graph.expansion_search = int(index.params["expansion_search"])
        return index
