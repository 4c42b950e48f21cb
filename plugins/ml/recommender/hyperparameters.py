"""The training hyperparameters a caller may set, and their bounds (no numpy here: the request
schemas are built from these tables when the server starts, the engine is imported by jobs).

`check(given)` is the one validation: a training request's (schemas.Hyperparameters), the
engine's (engine.resolve_hyperparameters) and the command line's go through it.
"""

from __future__ import annotations

import math
from typing import Any

INTEGER_HYPERPARAMETERS = {
    "embedding_dim", "epochs", "history_length", "cooccurrence_window", "neighbours",
    "candidates_model", "candidates_cooccurrence", "candidates_popular", "ranker_rounds",
    "ranker_depth", "ranker_negatives", "ranker_holdout", "ann_connectivity", "ann_expansion_add",
    "ann_expansion_search", "ranker_max_users", "seed", "ann_partitions", "ann_probes",
    "candidates_repurchase", "evaluation_users",
}
CHOICE_HYPERPARAMETERS = {"ann_method": ("ivf", "hnsw")}
# Every number's range: the bounds keep one training run's work (and memory) finite whatever a
# member asks for (10**30 epochs was a job that ran until its timeout).
HYPERPARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "embedding_dim": (1, 1024), "epochs": (1, 200), "regularization": (0, 1e6), "alpha": (0, 1e4),
    "learning_rate": (1e-6, 10), "history_length": (1, 1000), "cooccurrence_window": (1, 1000),
    "neighbours": (1, 10_000), "candidates_model": (1, 10_000), "candidates_cooccurrence": (0, 10_000),
    "candidates_popular": (0, 10_000), "ranker_rounds": (0, 5_000), "ranker_depth": (1, 16),
    "ranker_learning_rate": (1e-6, 1), "ranker_negatives": (0, 1_000), "ranker_holdout": (0, 100),
    "ranker_max_users": (0, 1_000_000), "cold_start_ridge": (0, 1e6), "ann_partitions": (0, 1_000_000),
    "ann_probes": (1, 100_000), "ann_connectivity": (2, 256), "ann_expansion_add": (1, 4096),
    "ann_expansion_search": (1, 4096), "seed": (0, 2**31 - 1),
    "candidates_repurchase": (0, 10_000), "evaluation_users": (0, 100_000),
}
NAMES = frozenset(HYPERPARAMETER_RANGES) | frozenset(CHOICE_HYPERPARAMETERS)


def check(given: dict[str, Any]) -> dict[str, Any]:
    """`given` with integers as int; unknown names or bad values raise ValueError naming the
    hyperparameter ("hyperparameter epochs must be from 1 to 200, got 1e+30")."""
    unknown = sorted(set(given) - NAMES)
    if unknown:
        raise ValueError(f"unknown hyperparameters: {', '.join(unknown)}; known: {', '.join(sorted(NAMES))}")
    checked = {}
    for name, value in given.items():
        if name in CHOICE_HYPERPARAMETERS:
            if value not in CHOICE_HYPERPARAMETERS[name]:
                raise ValueError(f"hyperparameter {name} must be one of "
                                 f"{', '.join(CHOICE_HYPERPARAMETERS[name])}, got {value!r}")
            checked[name] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"hyperparameter {name} must be a number, got {value!r}")
        if name in INTEGER_HYPERPARAMETERS:
            if value != int(value):
                raise ValueError(f"hyperparameter {name} must be an integer, got {value!r}")
            value = int(value)
        low, high = HYPERPARAMETER_RANGES[name]
        if not low <= value <= high:
            raise ValueError(f"hyperparameter {name} must be from {low:g} to {high:g}, got {value!r}")
        checked[name] = value
    return checked
