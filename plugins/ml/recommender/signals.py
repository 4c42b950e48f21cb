"""Per-item statistics computed once at training time, read per request by the re-ranker.

Everything here is a flat numpy array or a CSR matrix indexed by item row, so a request looks up
its ~200 candidates with fancy indexing and `searchsorted` and never loops in Python:

* popularity: positive interactions per item, and a time index (sorted `item << 32 | timestamp`
  keys) that counts an item's interactions in any window before a reference time;
* co-occurrence: how often two items appear within a few steps of each other in users'
  time-ordered histories (both directions), and the directed next-item transitions; rows pruned
  to the strongest neighbours so memory stays O(items * neighbours);
* content: category id, tag matrix and the content embedding of every item.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

TIME_SHIFT = np.int64(1) << np.int64(32)  # timestamps fit in 32 bits until 2106


@dataclass
class Sequences:
    """Every user's interactions in time order, CSR-style: user u owns rows indptr[u]:indptr[u+1]."""
    indptr: np.ndarray
    items: np.ndarray  # int64 item rows
    weights: np.ndarray  # float32 interaction weights (negative for dislike, remove_from_cart)
    timestamps: np.ndarray  # float64 unix seconds
    kinds: np.ndarray  # int8 index into INTERACTION_TYPES

    @classmethod
    def build(cls, users: np.ndarray, items: np.ndarray, weights: np.ndarray,
              timestamps: np.ndarray, kinds: np.ndarray, n_users: int) -> "Sequences":
        # Stable sort on time, then on user, keeps the log's order among equal timestamps.
        order = np.lexsort((np.arange(len(users)), timestamps, users))
        counts = np.bincount(users, minlength=n_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return cls(indptr, items[order].astype(np.int64), weights[order].astype(np.float32),
                   timestamps[order].astype(np.float64), kinds[order].astype(np.int8))

    def user(self, user: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        start, stop = self.indptr[user], self.indptr[user + 1]
        return (self.items[start:stop], self.weights[start:stop], self.timestamps[start:stop],
                self.kinds[start:stop])

    def subset(self, keep: np.ndarray) -> "Sequences":
        """The same users with only the rows where `keep` is True."""
        users = np.repeat(np.arange(len(self.indptr) - 1), np.diff(self.indptr))
        counts = np.bincount(users[keep], minlength=len(self.indptr) - 1)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return Sequences(indptr, self.items[keep], self.weights[keep], self.timestamps[keep], self.kinds[keep])

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {f"{prefix}{name}": getattr(self, name) for name in SEQUENCE_FIELDS}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> "Sequences":
        return cls(*(arrays[f"{prefix}{name}"] for name in SEQUENCE_FIELDS))


SEQUENCE_FIELDS = ("indptr", "items", "weights", "timestamps", "kinds")


def _prune_rows(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Keep the `keep` largest entries of every row."""
    matrix = matrix.tocsr()
    matrix.sum_duplicates()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    order = np.lexsort((-matrix.data, rows))
    rank = np.arange(len(order)) - matrix.indptr[rows[order]]
    chosen = order[rank < keep]
    return sp.csr_matrix((matrix.data[chosen], (rows[chosen], matrix.indices[chosen])),
                         shape=matrix.shape, dtype=np.float32)


def _csr_arrays(prefix: str, matrix: sp.csr_matrix) -> dict[str, np.ndarray]:
    return {f"{prefix}data": matrix.data, f"{prefix}indices": matrix.indices,
            f"{prefix}indptr": matrix.indptr, f"{prefix}shape": np.array(matrix.shape)}


def _csr_from(arrays, prefix: str) -> sp.csr_matrix:
    return sp.csr_matrix((arrays[f"{prefix}data"], arrays[f"{prefix}indices"], arrays[f"{prefix}indptr"]),
                         shape=tuple(arrays[f"{prefix}shape"]))


def with_empty_rows(matrix: sp.csr_matrix, n: int) -> sp.csr_matrix:
    """`matrix` (square) grown to n x n with empty rows and columns, sharing its data."""
    indptr = np.concatenate([matrix.indptr, np.full(n - matrix.shape[0], matrix.indptr[-1], matrix.indptr.dtype)])
    return sp.csr_matrix((matrix.data, matrix.indices, indptr), shape=(n, n), copy=False)


def with_appended_rows(matrix: sp.csr_matrix, rows: sp.csr_matrix) -> sp.csr_matrix:
    """The rows of `matrix`, then those of `rows` (the wider of the two widths)."""
    rows = rows.tocsr()
    indptr = np.concatenate([matrix.indptr, rows.indptr[1:] + matrix.indptr[-1]])
    return sp.csr_matrix((np.concatenate([matrix.data, rows.data]), np.concatenate([matrix.indices, rows.indices]),
                          indptr), shape=(matrix.shape[0] + rows.shape[0], max(matrix.shape[1], rows.shape[1])))


class ItemSignals:
    def __init__(self, *, popularity, time_keys, first_seen, last_seen_global, positive_share,
                 cooccurrence, transitions, category, tags, content, created_at, reorder_rate=None) -> None:
        self.popularity = popularity  # float32 positive interactions per item
        self.time_keys = time_keys  # sorted int64 item << 32 | timestamp of positive interactions
        self.first_seen = first_seen  # float64 first interaction time, NaN if never
        self.last_seen_global = last_seen_global  # latest timestamp in the training log
        self.positive_share = positive_share  # share of an item's interactions that are positive
        self.cooccurrence = cooccurrence  # csr items x items, symmetric windowed co-occurrence
        self.transitions = transitions  # csr items x items, directed next-item counts
        self.category = category  # int32 category id per item, -1 = none
        self.tags = tags  # csr items x tags, binary
        self.content = content  # float32 items x content_dim, L2-normalised
        self.created_at = created_at  # float64 per item, NaN if unknown
        # share of an item's positive interactions by a user who had taken it before (models
        # saved before it existed: 0 for every item)
        self.reorder_rate = (np.zeros(len(popularity), np.float32) if reorder_rate is None
                             else reorder_rate)

    @classmethod
    def build(cls, sequences: Sequences, n_items: int, *, window: int, neighbours: int,
              category: np.ndarray, tags: sp.csr_matrix, content: np.ndarray,
              created_at: np.ndarray) -> "ItemSignals":
        users = np.repeat(np.arange(len(sequences.indptr) - 1), np.diff(sequences.indptr))
        positive = sequences.weights > 0
        items, times = sequences.items[positive], sequences.timestamps[positive]
        popularity = np.bincount(items, minlength=n_items).astype(np.float32)
        all_counts = np.bincount(sequences.items, minlength=n_items).astype(np.float32)
        positive_share = np.divide(popularity, all_counts, out=np.full(n_items, 1.0, np.float32),
                                   where=all_counts > 0)
        time_keys = np.sort(items.astype(np.int64) * TIME_SHIFT + times.astype(np.int64))
        takers = np.bincount(np.unique(users[positive] * np.int64(n_items) + items) % n_items,
                             minlength=n_items).astype(np.float32)
        reorder_rate = np.divide(popularity - takers, popularity, out=np.zeros(n_items, np.float32),
                                 where=popularity > 0)
        first_seen = np.full(n_items, np.nan)
        if len(items):
            order = np.argsort(times, kind="stable")[::-1]  # later writes win: earliest remains
            first_seen[items[order]] = times[order]

        positive_users = users[positive]
        pairs_from, pairs_to, pair_weights = [], [], []
        for distance in range(1, window + 1):
            same_user = positive_users[:-distance] == positive_users[distance:]
            pairs_from.append(items[:-distance][same_user])
            pairs_to.append(items[distance:][same_user])
            pair_weights.append(np.full(int(same_user.sum()), 1.0 / distance, np.float32))
        if pairs_from:
            sources, targets = np.concatenate(pairs_from), np.concatenate(pairs_to)
            values = np.concatenate(pair_weights)
        else:
            sources = targets = np.zeros(0, np.int64)
            values = np.zeros(0, np.float32)
        directed = sp.csr_matrix((values, (sources, targets)), shape=(n_items, n_items))
        cooccurrence = _prune_rows(directed + directed.T, neighbours)
        first_step = values == 1.0
        transitions = _prune_rows(sp.csr_matrix(
            (values[first_step], (sources[first_step], targets[first_step])), shape=(n_items, n_items)),
            neighbours)
        last_seen = float(sequences.timestamps.max()) if len(sequences.timestamps) else 0.0
        return cls(popularity=popularity, time_keys=time_keys, first_seen=first_seen,
                   last_seen_global=last_seen, positive_share=positive_share,
                   cooccurrence=cooccurrence, transitions=transitions, category=category,
                   tags=tags, content=content, created_at=created_at, reorder_rate=reorder_rate)

    def window_counts(self, candidates: np.ndarray, reference_time: float,
                      window_seconds: float) -> np.ndarray:
        """Positive interactions with each candidate in (reference - window, reference]."""
        base = candidates.astype(np.int64) * TIME_SHIFT
        upper = np.searchsorted(self.time_keys, base + np.int64(reference_time), side="right")
        lower = np.searchsorted(self.time_keys, base + np.int64(reference_time - window_seconds), side="right")
        return (upper - lower).astype(np.float32)

    def seconds_since_last(self, candidates: np.ndarray, reference_time: float) -> np.ndarray:
        """Seconds from each candidate's latest positive interaction up to the reference time
        (a large number if none)."""
        base = candidates.astype(np.int64) * TIME_SHIFT
        position = np.searchsorted(self.time_keys, base + np.int64(reference_time), side="right")
        previous = self.time_keys[np.maximum(position - 1, 0)] if len(self.time_keys) else np.zeros(len(candidates), np.int64)
        valid = (position > 0) & (previous >= base) if len(self.time_keys) else np.zeros(len(candidates), bool)
        return np.where(valid, reference_time - (previous - base), 1e9).astype(np.float32)

    def extend(self, n_items: int, category: np.ndarray, tags: sp.csr_matrix, content: np.ndarray,
               created_at: np.ndarray, rows: np.ndarray) -> None:
        """Grow to `n_items` rows (new cold-start items) and set the content features of `rows`."""
        grow = n_items - len(self.popularity)
        if grow > 0:
            self.popularity = np.concatenate([self.popularity, np.zeros(grow, np.float32)])
            self.first_seen = np.concatenate([self.first_seen, np.full(grow, np.nan)])
            self.positive_share = np.concatenate([self.positive_share, np.ones(grow, np.float32)])
            self.reorder_rate = np.concatenate([self.reorder_rate, np.zeros(grow, np.float32)])
            self.category = np.concatenate([self.category, np.full(grow, -1, np.int32)])
            self.created_at = np.concatenate([self.created_at, np.full(grow, np.nan)])
            self.content = np.concatenate([self.content, np.zeros((grow, self.content.shape[1]), np.float32)])
            self.cooccurrence = self.cooccurrence.copy()
            self.cooccurrence.resize((n_items, n_items))
            self.transitions = self.transitions.copy()
            self.transitions.resize((n_items, n_items))
        # Copies, not in-place writes: requests running now keep a consistent old snapshot.
        self.category, self.created_at, self.content = (
            np.array(self.category), np.array(self.created_at), np.array(self.content))
        self.category[rows] = category
        self.created_at[rows] = created_at
        self.content[rows] = content
        width = max(self.tags.shape[1], tags.shape[1])
        base = self.tags.copy()
        base.resize((n_items, width))
        tags = tags.tocsr(copy=True)
        tags.resize((len(rows), width))
        # Sparse products instead of row assignment: O(nnz) in C, no LIL round trip.
        keep = np.ones(n_items, np.float32)
        keep[rows] = 0.0
        placed = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, np.arange(len(rows)))),
                               shape=(n_items, len(rows)))
        self.tags = (sp.diags(keep) @ base + placed @ tags).tocsr()

    def arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity, "time_keys": self.time_keys,
                "first_seen": self.first_seen, "last_seen_global": np.array(self.last_seen_global),
                "positive_share": self.positive_share, "category": self.category,
                "reorder_rate": self.reorder_rate,
                "content": self.content, "created_at": self.created_at,
                **_csr_arrays("cooccurrence_", self.cooccurrence),
                **_csr_arrays("transitions_", self.transitions), **_csr_arrays("tags_", self.tags)}

    @classmethod
    def from_arrays(cls, arrays) -> "ItemSignals":
        return cls(popularity=arrays["popularity"], time_keys=arrays["time_keys"],
                   first_seen=arrays["first_seen"], last_seen_global=float(arrays["last_seen_global"]),
                   positive_share=arrays["positive_share"], category=arrays["category"],
                   reorder_rate=arrays["reorder_rate"] if "reorder_rate" in arrays else None,
                   content=arrays["content"], created_at=arrays["created_at"],
                   cooccurrence=_csr_from(arrays, "cooccurrence_"),
                   transitions=_csr_from(arrays, "transitions_"), tags=_csr_from(arrays, "tags_"))
