"""Approximate nearest-neighbour index over item vectors (cosine), used to serve recommendations.

Keys are the row numbers (0..n-1) of a model's item table. Every index keeps an exact float32
copy of each vector (plus its inverse norm), indexed by key, and finds candidates with one of
two methods (parameter ``method``):

* ``"ivf"`` (default): a partitioned exact scan (partitions.py). Vectors are clustered into
  ~2*sqrt(n) partitions stored contiguously; a query scans the ``probes`` partitions nearest to
  it with BLAS slice products, so candidates come with exact similarities. At 1M items it gives
  higher recall at a lower and steadier p99 than HNSW, and builds in seconds, not minutes
  (bench/recommender_ann.py; numbers in partitions.py).
* ``"hnsw"``: a usearch HNSW graph (vectors stored as f16 by default). A search asks for
  ``k * overfetch`` candidates and re-scores them exactly with the float32 copy, so the order of
  the results is exact among the candidates and the lossy graph storage costs no ranking quality.

Small indexes (fewer than ``exact_below`` items) skip both and scan all vectors.

Filters: usearch's Python search takes no predicate, and a partition scan would have to look far
for rare items, so an ``allowed`` mask (categories) and an ``exclude`` list (already bought,
exclude_ids) are applied to the candidates. A filter whose rows are cheap to scan (see
``_spans``: the engine numbers items category by category, so a category is one slice) is
answered by an exact scan of those rows. Otherwise the search looks deeper the more selective the
filter is (more probes, or a larger HNSW fetch that doubles while too few candidates survive) and
falls back to an exact scan of the eligible rows when that still comes back short. It therefore
always returns k results whenever k eligible items exist.

Thread safety: any number of searches may run at once (numpy and usearch release the GIL), while
``add``/``remove`` take the index exclusively. A small write-preferring reader/writer lock does
this, because adding may re-allocate storage, which a concurrent search must not observe.
``add`` takes the lock per batch of ADD_BATCH keys, so searches wait for one batch at most, never
for a whole large addition. ``build`` needs no lock: nobody else holds the index yet.

Changes after the build: the HNSW graph marks removed or replaced keys as tombstones (usearch does
not re-link), fine for cold-start items between trainings. The partition layout is fixed once
built: added or replaced keys go to a tail that every search scans exactly, and when the tail
grows past TAIL_MIN keys and TAIL_SHARE of the index they are laid out into their nearest
partitions (the centroids stay; each training builds a fresh index).

Files written by ``save(directory)``: ``vectors.npy`` (exact vectors), ``present.npy`` (which
keys exist), ``inverse_norms.npy``, ``ann.json`` (parameters), and either ``ann.usearch`` (the
graph) or the partition files. ``load(view=True)`` memory-maps them instead of reading them; the
first ``add``/``remove`` on such a view reads them into memory, leaving the files unchanged.
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

from .partitions import Partitions, partition_count

GRAPH_FILE = "ann.usearch"
VECTORS_FILE = "vectors.npy"
PRESENT_FILE = "present.npy"
NORMS_FILE = "inverse_norms.npy"
PARAMS_FILE = "ann.json"

# Chosen from the curves of bench/recommender_ann.py (MF-like items, dim 128, 2 shared cores).
# ivf: ~2*sqrt(n) partitions, 48 probes: recall@10 0.97 at p99 ~3 ms at 1M items (0.99 at 100k).
# hnsw: M=32 reaches at ef=128 the recall M=16 needs ef=256 for; f16 costs no recall against f32;
# over-fetching 2x is free while k * 2 <= expansion_search; at 1M even M=64/ef=256 stays at 0.93
# with a p99 of 9 ms, which is why ivf is the default. Override any of them through build(**params).
DEFAULT_PARAMS: dict = {
    "method": "ivf",  # "ivf" (partitioned exact scan) or "hnsw" (usearch graph)
    "partitions": 0,  # ivf: partition count, 0 = about 2 * sqrt(n); fixed once built
    "probes": 48,  # ivf: partitions scanned per query: recall vs latency
    "connectivity": 32,  # hnsw "M": links per node; fixed once the graph is built
    "expansion_add": 128,  # hnsw "efConstruction": graph quality vs build time
    "expansion_search": 256,  # hnsw "ef": recall vs latency, can change at any time
    "overfetch": 2,  # hnsw: candidates re-scored exactly = k * overfetch
    "dtype": "f16",  # hnsw: storage in the graph; exact re-scoring uses the float32 copy
    "exact_below": 2_000,  # fewer items than this: exact scan, no candidate search
    # A filter whose rows cost at most this much to scan (rows of a slice product; a gathered
    # row counts GATHER_COST) is answered by an exact scan of them.
    "filter_exact_max": 100_000,
    "max_fetch": 1_024,  # hnsw: deepest graph search before falling back to an exact scan
}
METHODS = ("ivf", "hnsw")
BUILD_TIME_PARAMS = {"method", "partitions", "connectivity", "expansion_add", "dtype"}


ADD_BATCH = 1_024  # keys added per write-lock hold in AnnIndex.add
TAIL_MIN = 4_096  # ivf: keys added since the layout that are scanned exactly, at least...
TAIL_SHARE = 0.02  # ...or this share of the index, before they are laid out into partitions
EXCLUDE_AS_FILTER = 1_000  # longer exclude lists are handled like an `allowed` mask
SPAN_MIN_ROWS = 2_048  # exact scans of fewer rows gather them (see AnnIndex._similarities)
SPAN_GAP = 256  # rows closer than this stay in one span
SPAN_MIN_ROWS_PER_SPAN = 256  # fewer rows per span on average: gather instead
GATHER_COST = 15  # a gathered row costs about as much as this many rows of a slice product


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


def _spans(rows: np.ndarray) -> list[tuple[int, int]] | None:
    """Split many ascending rows into spans [start, stop) of positions in `rows` whose rows lie
    within SPAN_GAP of each other, so that each span is scored as one slice of the vector table;
    None when gathering the rows is the better plan (few rows, unsorted, or scattered).

    Gathering scattered rows (`vectors[rows]`) costs a cache and TLB miss per row: at 1M items a
    product over 20k gathered rows took ~15x as long as one over a slice of 20k rows. The rows
    between those of a span are scored and dropped, cheaper than a gather. The engine numbers
    items category by category, so a category filter selects a few long spans."""
    if len(rows) < SPAN_MIN_ROWS:
        return None
    steps = np.diff(rows)
    if np.any(steps <= 0):
        return None
    breaks = (np.flatnonzero(steps > SPAN_GAP) + 1).tolist()
    if len(breaks) + 1 > len(rows) // SPAN_MIN_ROWS_PER_SPAN:
        return None
    return list(zip([0] + breaks, breaks + [len(rows)]))


def _best(keys: np.ndarray, similarity: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k most similar keys, nearest first, with their cosine distances."""
    if len(keys) > k:
        best = np.argpartition(-similarity, k - 1)[:k]
        keys, similarity = keys[best], similarity[best]
    order = np.argsort(-similarity, kind="stable")
    return keys[order].astype(np.int64), (1.0 - similarity[order]).astype(np.float32)


def _inverse_norms(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1)
    # A zero vector has no direction: it scores 0 against everything (cosine distance 1).
    with np.errstate(divide="ignore"):
        return np.where(norms > 0, 1.0 / norms, 0.0).astype(np.float32)


class AnnIndex:
    """Cosine nearest-neighbour search over float32 vectors keyed by int row numbers (0..n-1 of
    the model's item table): a partition scan or an HNSW graph proposes candidates, results are
    ordered by their exact cosine distance."""

    def __init__(self, ndim: int, params: dict) -> None:
        self.ndim = ndim
        self.params = {**DEFAULT_PARAMS, **params}
        unknown = set(params) - set(DEFAULT_PARAMS)
        if unknown:
            raise ValueError(f"unknown AnnIndex parameters: {sorted(unknown)}")
        if self.params["method"] not in METHODS:
            raise ValueError(f"AnnIndex method must be one of {METHODS}, got {self.params['method']!r}")
        self._graph = self._new_graph() if self.params["method"] == "hnsw" else None
        # ivf: the layout, which keys' current vectors it holds, and the keys it does not.
        self._partitions: Partitions | None = None
        self._laid_out = np.zeros(0, dtype=bool)
        self._tail = np.zeros(0, dtype=np.int64)
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
            if index._graph is None:
                index._lay_out()
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
        """Change search-time knobs (all but BUILD_TIME_PARAMS, which shape the structure)
        without rebuilding."""
        fixed = BUILD_TIME_PARAMS & set(params)
        unknown = set(params) - set(DEFAULT_PARAMS)
        if fixed or unknown:
            raise ValueError(f"not search-time parameters: {sorted(fixed | unknown)}")
        with self._lock.writing():
            self.params.update(params)
            if self._graph is not None:
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
        if self._graph is None and len(self._tail) > max(TAIL_MIN, TAIL_SHARE * self._count):
            # The new layout takes a second or two at 1M items: searches go on meanwhile, only
            # the swap is exclusive.
            with self._lock.reading():
                tail, partitions = self._tail, self._partitions
                layout = self._layout_with_tail()
            with self._lock.writing():
                if self._tail is not tail or self._partitions is not partitions:
                    layout = self._layout_with_tail()  # another change came in between
                self._partitions = layout
                self._laid_out = self._present.copy()
                self._tail = np.zeros(0, np.int64)

    def _insert(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        self._grow(int(keys.max()) + 1)
        replaced = keys[self._present[keys]]
        if self._graph is not None and len(replaced):
            # usearch refuses duplicate keys: a replacement is remove + add
            self._graph.remove(replaced.astype(np.uint64))
        self._vectors[keys] = vectors
        self._inv_norms[keys] = _inverse_norms(vectors)
        self._count += len(keys) - len(replaced)
        self._present[keys] = True
        if self._graph is not None:
            self._graph.add(keys.astype(np.uint64), vectors)
        else:  # the layout holds no or an outdated vector for these keys: scan them in the tail
            self._laid_out[keys] = False
            self._tail = np.union1d(self._tail, keys)

    def _unit_vectors(self, keys: np.ndarray) -> np.ndarray:
        return self._vectors[keys] * self._inv_norms[keys, None]

    def _lay_out(self) -> None:
        """Fit partitions to every present vector (at build time)."""
        self._partitions = self._fitted_layout()
        self._laid_out = self._present.copy()
        self._tail = np.zeros(0, np.int64)

    def _fitted_layout(self) -> Partitions:
        keys = np.flatnonzero(self._present)
        partitions = self.params["partitions"] or partition_count(len(keys))
        return Partitions.build(keys, self._unit_vectors(keys), partitions)

    def _layout_with_tail(self) -> Partitions:
        """The layout without its outdated rows, with the tail laid out into its nearest
        partitions (same centroids); fitted afresh if there was none (built empty)."""
        if self._partitions is None:
            return self._fitted_layout()
        current = self._laid_out[self._partitions.keys]
        return self._partitions.merged(current, self._tail, self._unit_vectors(self._tail))

    def remove(self, keys: np.ndarray) -> None:
        """Forget keys; unknown keys are ignored."""
        keys = _as_keys(keys)
        with self._lock.writing():
            keys = keys[keys < len(self._present)]
            keys = np.unique(keys[self._present[keys]])
            if not len(keys):
                return
            self._make_writable()
            if self._graph is not None:
                self._graph.remove(keys.astype(np.uint64))
            else:
                self._laid_out[keys] = False
                self._tail = np.setdiff1d(self._tail, keys)
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
        self._laid_out = np.concatenate(
            [self._laid_out, np.zeros(capacity - len(self._laid_out), bool)]
        )
        self._present = np.concatenate(
            [self._present, np.zeros(capacity - len(self._present), bool)]
        )

    def _make_writable(self) -> None:
        """A memory-mapped index is read-only: read it into memory before the first change."""
        if self._view_directory is None:
            return
        directory, self._view_directory = self._view_directory, None
        if self._graph is not None:
            self._graph = self._new_graph()
            self._graph.load(str(directory / GRAPH_FILE))
        else:
            self._partitions = Partitions(*(np.array(array) for array in (
                self._partitions.centroids, self._partitions.keys, self._partitions.bounds,
                self._partitions.vectors)))
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
            return self._search_candidates(
                query, k, self._count - len(excluded), self._excluding(excluded), len(excluded)
            )

    def _search_filtered(self, query, k, allowed, excluded) -> tuple[np.ndarray, np.ndarray]:
        rows = min(len(allowed), len(self._present))
        eligible = np.zeros(len(self._present), bool)
        np.logical_and(allowed[:rows], self._present[:rows], out=eligible[:rows])
        eligible[excluded] = False
        eligible_rows = np.flatnonzero(eligible)
        if not len(eligible_rows):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if len(eligible_rows) <= max(self.params["exact_below"], k):
            return self._exact(query, k, eligible_rows)
        scan_cost = self._scan_cost(eligible_rows)
        if scan_cost <= self.params["filter_exact_max"] or (
            # a selective filter makes the partitions scan many rows too: take the cheaper scan
            self._partitions is not None and scan_cost <= self._partition_rows(k, len(eligible_rows), 0)
        ):
            return self._exact(query, k, eligible_rows)
        return self._search_candidates(query, k, len(eligible_rows), lambda keys: eligible[keys])

    def _excluding(self, excluded: np.ndarray):
        if not len(excluded):
            return None
        # A mask, not np.isin: isin sorts the candidates (tens of thousands from a partition
        # scan), which took longer than the scan itself.
        blocked = np.zeros(len(self._present), bool)
        blocked[excluded] = True
        return lambda keys: ~blocked[keys]

    def _search_candidates(
        self, query, k, eligible_count, keep, skipped: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """`keep(keys) -> bool mask` says which keys are eligible (None: all are);
        `skipped` counts excluded keys, which a graph search may return and must skip."""
        if self._graph is None:
            return self._search_partitions(query, k, eligible_count, keep, skipped)
        return self._search_graph(query, k, eligible_count, keep, skipped)

    def _search_partitions(self, query, k, eligible_count, keep, skipped) -> tuple[np.ndarray, np.ndarray]:
        """Scan the partitions nearest to the query and the tail; similarities are exact. When
        fewer than k eligible keys turn up (a filter far from the query), scan all of them."""
        k = min(k, eligible_count)
        probes = self._probes(k, eligible_count, skipped)
        if self._partitions is not None:
            keys, similarity = self._partitions.scan(query, probes)
        else:  # built empty: every key is in the tail
            keys, similarity = np.zeros(0, np.int64), np.zeros(0, np.float32)
        current = self._laid_out[keys]
        if keep is not None:
            current &= keep(keys)
        keys, similarity = keys[current], similarity[current]
        if len(self._tail):
            tail = self._tail if keep is None else self._tail[keep(self._tail)]
            keys = np.concatenate([keys, tail])
            similarity = np.concatenate([similarity, self._similarities(query, tail)])
        if len(keys) < k:
            rows = np.flatnonzero(self._present)
            return self._exact(query, k, rows if keep is None else rows[keep(rows)])
        return _best(keys, similarity, k)

    def _probes(self, k: int, eligible_count: int, skipped: int) -> int:
        """Partitions to scan: more the more selective the filter (probes / selectivity), and
        more when keys are excluded. Excluded keys are mostly the user's own items, near the
        query, so the k wanted rank up to k + skipped in the unfiltered order; a partition scan
        scores everything in the partitions it opens, so a deeper rank needs only a few more of
        them: probes * sqrt((k + skipped) / k)."""
        k = max(1, min(k, eligible_count))
        depth = math.sqrt((k + skipped) / k)
        return math.ceil(self.params["probes"] * self._count / eligible_count * depth)

    def _partition_rows(self, k: int, eligible_count: int, skipped: int) -> int:
        """Rows a partition search would scan (about: partitions differ in size)."""
        share = min(1.0, self._probes(k, eligible_count, skipped) / len(self._partitions))
        return int(share * len(self._partitions.keys))

    def _search_graph(
        self, query, k, eligible_count, keep, skipped: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """Over-fetch from HNSW, keep the eligible candidates, re-score them exactly; fetch
        deeper while fewer than k survive, and scan exactly when the graph cannot deliver."""
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
        return _best(rows, self._similarities(query, rows), k)

    def _similarities(self, query, rows: np.ndarray) -> np.ndarray:
        """Cosine similarity of `query` (unit length) to the vectors of `rows`, span by span
        where `_spans` finds spans, else gathering the rows."""
        spans = _spans(rows)
        if spans is None:
            return (self._vectors[rows] @ query) * self._inv_norms[rows]
        similarity = np.empty(len(rows), np.float32)
        for start, stop in spans:
            first, last = int(rows[start]), int(rows[stop - 1]) + 1
            scores = (self._vectors[first:last] @ query) * self._inv_norms[first:last]
            # A span without holes needs no picking out (a whole category, or the whole table).
            similarity[start:stop] = scores if last - first == stop - start else scores[rows[start:stop] - first]
        return similarity

    @staticmethod
    def _scan_cost(rows: np.ndarray) -> int:
        """What an exact scan of `rows` costs, in rows of a slice product (filter_exact_max's
        unit): the rows the spans cover, or GATHER_COST per row gathered."""
        spans = _spans(rows)
        if spans is None:
            return len(rows) * GATHER_COST
        return sum(int(rows[stop - 1]) + 1 - int(rows[start]) for start, stop in spans)

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
        """Bytes held in memory: the graph or the partitions plus the exact vectors
        (memory-mapped files excluded)."""
        structure = int(self._graph.memory_usage) if self._graph is not None else 0
        if self._view_directory is not None:
            return structure
        if self._partitions is not None:
            structure += self._partitions.nbytes
        return int(structure + self._vectors.nbytes + self._inv_norms.nbytes + self._present.nbytes)

    # ----------------------------------------------------------------------------- persistence
    def save(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with self._lock.reading():
            if self._graph is not None:
                self._graph.save(str(directory / GRAPH_FILE))
            elif self._count:
                # Saved with the tail laid out, so that a loaded index has no tail.
                (self._layout_with_tail() if len(self._tail) else self._partitions).save(directory)
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
        # Indexes saved before partitions existed were graphs and name no method.
        index = cls(meta["ndim"], {"method": "hnsw", **meta["params"]})
        mmap_mode = "r" if view else None
        index._vectors = np.load(directory / VECTORS_FILE, mmap_mode=mmap_mode)
        index._present = np.load(directory / PRESENT_FILE, mmap_mode=mmap_mode)
        index._inv_norms = np.load(directory / NORMS_FILE, mmap_mode=mmap_mode)
        index._count = int(np.count_nonzero(index._present))
        if index._graph is None:
            if Partitions.exists(directory):
                index._partitions = Partitions.load(directory, mmap_mode)
                index._laid_out = np.array(index._present)
            elif index._count:
                raise ValueError(f"no partition files in {directory}")
            else:
                index._laid_out = np.zeros(len(index._present), bool)
            if view:
                index._view_directory = directory
            return index
        if view:
            index._graph.view(str(directory / GRAPH_FILE))
            index._view_directory = directory
        else:
            index._graph.load(str(directory / GRAPH_FILE))
        index._graph.expansion_search = int(index.params["expansion_search"])
        return index
