"""Content embeddings of items from their text features (title, description, category, tags).

They serve items nobody has interacted with yet (cold start) and answer /internal/ml/embeddings
before any model is trained. The method is feature hashing followed by a sparse random
projection: every token maps, through a stable hash, to a few signed coordinates of the output
space, an item is the weighted sum of its tokens, L2-normalised. It needs no training, is the
same in every process and on every machine (blake2b, not Python's salted `hash`), and items that
share words, categories or tags get close vectors.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable

import numpy as np

# How much a token counts, by the field it came from: a shared category or tag says more about
# two items being alike than a shared word somewhere in a long description.
FIELD_WEIGHTS = {"category": 3.0, "tag": 2.0, "title": 1.5, "description": 0.5}
NONZEROS_PER_TOKEN = 4  # signed coordinates per token (a sparse random projection)

_TOKEN = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from in is it of on or that the this to with".split()
)


def tokens(text: str | None) -> list[str]:
    return [word for word in _TOKEN.findall((text or "").lower()) if word not in _STOPWORDS]


def item_tokens(title: str, description: str, category: str | None,
                tags: Iterable[str]) -> list[tuple[str, float]]:
    """(field-prefixed token, weight) pairs describing one item."""
    weighted: list[tuple[str, float]] = []
    for field, words in (("title", tokens(title)), ("description", tokens(description))):
        weighted.extend((f"{field[0]}:{word}", FIELD_WEIGHTS[field]) for word in words)
    if category:
        weighted.append((f"c:{category.lower()}", FIELD_WEIGHTS["category"]))
    for tag in tags:
        weighted.append((f"g:{tag.lower()}", FIELD_WEIGHTS["tag"]))
        # Words inside a tag ("science fiction") also match the same words in titles.
        weighted.extend((f"t:{word}", FIELD_WEIGHTS["tag"] / 4) for word in tokens(tag))
    return weighted


class TokenHasher:
    """Maps tokens to (coordinates, signs); remembers tokens already seen in this process."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        found = self._cache.get(token)
        if found is None:
            digest = hashlib.blake2b(token.encode("utf-8"), digest_size=2 * NONZEROS_PER_TOKEN * 4).digest()
            words = np.frombuffer(digest, dtype="<u4")
            coordinates = (words[:NONZEROS_PER_TOKEN] % self.dim).astype(np.int64)
            signs = np.where(words[NONZEROS_PER_TOKEN:] & 1, 1.0, -1.0).astype(np.float32)
            found = self._cache[token] = (coordinates, signs)
        return found


_HASHERS: dict[int, TokenHasher] = {}


def embed_token_lists(token_lists: list[list[tuple[str, float]]], dim: int) -> np.ndarray:
    """Rows of L2-normalised embeddings; an item without any token gets the zero vector."""
    hasher = _HASHERS.setdefault(dim, TokenHasher(dim))
    rows, cols, values = [], [], []
    for row, weighted in enumerate(token_lists):
        # Repeated words count with diminishing returns (sqrt), so one long description
        # cannot drown the category.
        totals: dict[str, float] = {}
        for token, weight in weighted:
            totals[token] = totals.get(token, 0.0) + weight * weight
        for token, weight_squared in totals.items():
            coordinates, signs = hasher(token)
            rows.append(np.full(NONZEROS_PER_TOKEN, row))
            cols.append(coordinates)
            values.append(signs * np.float32(np.sqrt(weight_squared)))
    matrix = np.zeros((len(token_lists), dim), dtype=np.float32)
    if rows:
        np.add.at(matrix, (np.concatenate(rows), np.concatenate(cols)), np.concatenate(values))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix
