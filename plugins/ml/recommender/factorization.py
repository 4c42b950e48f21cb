"""The embedding models behind candidate generation: implicit ALS and a small two-tower model.

Both give item vectors (stored in the ANN index) and a way to turn a user's interactions into a
user vector at request time, so interactions newer than the model change recommendations
without retraining:

* `ImplicitALS` (model_type "matrix_factorization"): weighted matrix factorisation of implicit
  feedback (Hu, Koren & Volinsky 2008). A positive net weight w gives preference 1 with
  confidence 1 + alpha*w; a negative one (dislike, remove_from_cart) gives preference 0 with
  extra confidence alpha*|w|, which pushes the item away from the user. Both sides are solved by
  a few conjugate-gradient steps vectorised over all users (items) at once (Takacs et al. 2011),
  so one sweep costs O(nnz * dim + rows * dim^2). A user is folded in by the exact closed-form
  solve of the same least-squares problem.
* `TwoTower` (model_type "two_tower"): item tower = free id vector + linear map of the content
  embedding; user tower = weighted mean of the item vectors of the user's last interactions.
  Trained next-item style with a sampled softmax and sparse Adagrad, in numpy.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp

ProgressFn = Callable[[int, float], None]  # (epoch, loss)


def _rowwise_dot(left: np.ndarray, right: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                 chunk: int = 262_144) -> np.ndarray:
    """left[rows[k]] . right[cols[k]] for every k, in chunks to bound the temporary memory."""
    out = np.empty(len(rows), dtype=np.float32)
    for start in range(0, len(rows), chunk):
        stop = start + chunk
        out[start:stop] = np.einsum("ij,ij->i", left[rows[start:stop]], right[cols[start:stop]])
    return out


class ImplicitALS:
    def __init__(self, dim: int, regularization: float, alpha: float, epochs: int,
                 cg_steps: int = 3, seed: int = 0) -> None:
        self.dim, self.regularization, self.alpha = dim, regularization, alpha
        self.epochs, self.cg_steps, self.seed = epochs, cg_steps, seed

    def fit(self, user_index: np.ndarray, item_index: np.ndarray, weights: np.ndarray,
            n_users: int, n_items: int, *, initial: tuple[np.ndarray, np.ndarray] | None = None,
            on_epoch: ProgressFn | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Factors (users x dim, items x dim) from aggregated (user, item, net weight) triples."""
        preference = (weights > 0).astype(np.float32)
        confidence = (1.0 + self.alpha * np.abs(weights)).astype(np.float32)
        by_user = sp.csr_matrix((confidence, (user_index, item_index)), shape=(n_users, n_items))
        preference_by_user = sp.csr_matrix((preference, (user_index, item_index)), shape=(n_users, n_items))
        by_user.sum_duplicates(), preference_by_user.sum_duplicates()
        by_item, preference_by_item = by_user.T.tocsr(), preference_by_user.T.tocsr()

        if initial is not None:
            users, items = (np.array(matrix, dtype=np.float32) for matrix in initial)
        else:
            rng = np.random.default_rng(self.seed)
            scale = 0.1 / np.sqrt(self.dim)
            users = (rng.standard_normal((n_users, self.dim)) * scale).astype(np.float32)
            items = (rng.standard_normal((n_items, self.dim)) * scale).astype(np.float32)
        for epoch in range(self.epochs):
            self._solve_side(users, items, by_user, preference_by_user)
            self._solve_side(items, users, by_item, preference_by_item)
            if on_epoch is not None:
                on_epoch(epoch, self.loss(users, items, by_user, preference_by_user))
        return users, items

    def _solve_side(self, solved: np.ndarray, fixed: np.ndarray, confidence: sp.csr_matrix,
                    preference: sp.csr_matrix) -> None:
        """A few CG steps on every row of `solved` at once (in place), warm-started."""
        gram = fixed.T @ fixed + self.regularization * np.eye(self.dim, dtype=np.float32)
        rows = np.repeat(np.arange(confidence.shape[0]), np.diff(confidence.indptr))
        cols = confidence.indices
        extra = confidence.data - 1.0  # confidence above the baseline 1 of unobserved cells
        target = sp.csr_matrix((confidence.data * preference.data, cols, confidence.indptr),
                               shape=confidence.shape) @ fixed

        def apply(vectors: np.ndarray) -> np.ndarray:
            dots = _rowwise_dot(vectors, fixed, rows, cols) * extra
            return vectors @ gram + sp.csr_matrix((dots, cols, confidence.indptr),
                                                  shape=confidence.shape) @ fixed

        residual = target - apply(solved)
        direction = residual.copy()
        residual_norm = np.einsum("ij,ij->i", residual, residual)
        for _ in range(self.cg_steps):
            applied = apply(direction)
            curvature = np.einsum("ij,ij->i", direction, applied)
            step = np.divide(residual_norm, curvature, out=np.zeros_like(residual_norm),
                             where=curvature > 1e-12)
            solved += step[:, None] * direction
            residual -= step[:, None] * applied
            new_norm = np.einsum("ij,ij->i", residual, residual)
            beta = np.divide(new_norm, residual_norm, out=np.zeros_like(new_norm),
                             where=residual_norm > 1e-20)
            direction = residual + beta[:, None] * direction
            residual_norm = new_norm

    def loss(self, users, items, confidence: sp.csr_matrix, preference: sp.csr_matrix) -> float:
        """The exact weighted squared loss per observed cell, regularisation included."""
        rows = np.repeat(np.arange(confidence.shape[0]), np.diff(confidence.indptr))
        predicted = _rowwise_dot(users, items, rows, confidence.indices)
        observed = np.sum(confidence.data * (preference.data - predicted) ** 2)
        # Unobserved cells (confidence 1, preference 0) sum to the full squared prediction norm
        # minus the observed cells' share, computed through the two Gram matrices.
        unobserved = float(np.sum((users.T @ users) * (items.T @ items))) - float(np.sum(predicted ** 2))
        penalty = self.regularization * (float(np.sum(users ** 2)) + float(np.sum(items ** 2)))
        return float((observed + unobserved + penalty) / max(1, confidence.nnz))

    @staticmethod
    def fold_in(items: np.ndarray, gram: np.ndarray, item_index: np.ndarray,
                net_weights: np.ndarray, alpha: float) -> np.ndarray:
        """The least-squares user vector for one user's (item, net weight) pairs.
        `gram` is items.T @ items + regularization * I, precomputed once per model."""
        if not len(item_index):
            return np.zeros(items.shape[1], dtype=np.float32)
        vectors = items[item_index]
        confidence = 1.0 + alpha * np.abs(net_weights)
        preference = (net_weights > 0).astype(np.float32)
        system = gram + (vectors.T * (confidence - 1.0)) @ vectors
        return np.linalg.solve(system, vectors.T @ (confidence * preference)).astype(np.float32)


class TwoTower:
    def __init__(self, dim: int, learning_rate: float, epochs: int, regularization: float,
                 history_length: int = 20, negatives: int = 256, batch_size: int = 256,
                 seed: int = 0) -> None:
        self.dim, self.learning_rate, self.epochs = dim, learning_rate, epochs
        self.regularization, self.history_length = regularization, history_length
        self.negatives, self.batch_size, self.seed = negatives, batch_size, seed

    def fit(self, sequences: list[tuple[np.ndarray, np.ndarray]], content: np.ndarray,
            n_items: int, *, on_epoch: ProgressFn | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(item id vectors, content projection) from per-user time-ordered (items, weights).

        Each positive interaction with at least one earlier interaction is an example: the user
        tower over the earlier ones (at most `history_length`) should score it above sampled
        items."""
        rng = np.random.default_rng(self.seed)
        ids = (rng.standard_normal((n_items, self.dim)) * 0.01).astype(np.float32)
        projection = (rng.standard_normal((content.shape[1], self.dim)) / np.sqrt(content.shape[1])).astype(np.float32)
        id_accumulator = np.full(n_items, 1e-6, dtype=np.float32)
        projection_accumulator = np.full_like(projection, 1e-6)

        examples = [(user, position) for user, (items, weights) in enumerate(sequences)
                    for position in range(1, len(items)) if weights[position] > 0]
        if not examples:
            return ids, projection
        examples_array = np.array(examples, dtype=np.int64)
        for epoch in range(self.epochs):
            order = rng.permutation(len(examples_array))
            total, batches = 0.0, 0
            for start in range(0, len(order), self.batch_size):
                batch = examples_array[order[start:start + self.batch_size]]
                total += self._step(batch, sequences, content, ids, projection, id_accumulator,
                                    projection_accumulator, rng, n_items)
                batches += 1
            if on_epoch is not None:
                on_epoch(epoch, total / max(1, batches))
        return ids, projection

    def _step(self, batch, sequences, content, ids, projection, id_accumulator,
              projection_accumulator, rng, n_items) -> float:
        history_rows, history_items, history_weights, targets = [], [], [], []
        for row, (user, position) in enumerate(batch):
            items, weights = sequences[user]
            start = max(0, position - self.history_length)
            history_rows.append(np.full(position - start, row))
            history_items.append(items[start:position])
            history_weights.append(weights[start:position])
            targets.append(items[position])
        rows = np.concatenate(history_rows)
        history = np.concatenate(history_items)
        weights = np.concatenate(history_weights).astype(np.float32)
        norms = np.bincount(rows, weights=np.abs(weights), minlength=len(batch))
        weights = weights / np.maximum(norms[rows], 1e-6)
        targets = np.array(targets)
        sampled = np.unique(np.concatenate([targets, rng.integers(0, n_items, self.negatives)]))
        touched = np.unique(np.concatenate([history, sampled]))
        local = {item: k for k, item in enumerate(touched)}
        to_local = np.vectorize(local.__getitem__, otypes=[np.int64])
        vectors = ids[touched] + content[touched] @ projection

        mixing = sp.csr_matrix((weights, (rows, to_local(history))), shape=(len(batch), len(touched)))
        user_vectors = mixing @ vectors
        sampled_local = to_local(sampled)
        logits = user_vectors @ vectors[sampled_local].T
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        target_columns = np.searchsorted(sampled, targets)
        loss = -float(np.mean(np.log(probabilities[np.arange(len(batch)), target_columns] + 1e-12)))

        gradient_logits = probabilities
        gradient_logits[np.arange(len(batch)), target_columns] -= 1.0
        gradient_logits /= len(batch)
        gradient_vectors = np.zeros_like(vectors)
        np.add.at(gradient_vectors, sampled_local, gradient_logits.T @ user_vectors)
        gradient_vectors += mixing.T @ (gradient_logits @ vectors[sampled_local])
        gradient_vectors += self.regularization * vectors

        id_accumulator[touched] += np.mean(gradient_vectors ** 2, axis=1)
        ids[touched] -= self.learning_rate * gradient_vectors / np.sqrt(id_accumulator[touched])[:, None]
        gradient_projection = content[touched].T @ gradient_vectors
        projection_accumulator += gradient_projection ** 2
        projection -= self.learning_rate * gradient_projection / np.sqrt(projection_accumulator)
        return loss

    @staticmethod
    def user_vector(items: np.ndarray, item_index: np.ndarray, weights: np.ndarray,
                    history_length: int) -> np.ndarray:
        """Weighted mean of the item vectors of the last `history_length` interactions
        (time-ordered input)."""
        if not len(item_index):
            return np.zeros(items.shape[1], dtype=np.float32)
        item_index, weights = item_index[-history_length:], weights[-history_length:]
        total = float(np.sum(np.abs(weights))) or 1.0
        return ((weights / total) @ items[item_index]).astype(np.float32)
