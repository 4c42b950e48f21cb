"""Offline quality of a training run, and the repeat-purchase rate that picks `repurchase = auto`.

`time_holdout` takes each (sampled) user's last order out of the log: the user's positive
interactions at their latest timestamp, for users with an earlier one (an order = a user's
interactions with the same timestamp; one-by-one tracking makes every interaction an order).
`evaluate` asks a model trained without them for 10 items per user, at the time of that order,
and scores them against the order's items, next to two baselines computed on the same data:

* popularity  the items with the most positive interactions, the same for everyone, minus what
              the tenant's rule keeps from the user (seen items; bought ones unless repurchase)
* buy_again   the user's own items, in most orders first, then most recent (may be fewer than 10)

NDCG@10 uses binary relevance (1 / log2(rank + 2) per hit, over the ideal for min(|order|, 10)
hits); Recall@10 is hits / |order|. Both are means over the evaluated users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .engine import InteractionLog, RecommenderModel

K = 10
# Share of purchases that repeat an earlier purchase of the same user at which `auto` lets users
# be offered what they bought before (groceries: ~0.6; durable goods: a few percent).
AUTO_REPURCHASE_RATE = 0.2
POSITIVE_TYPES = frozenset({"view", "click", "purchase", "like", "add_to_cart"})


def repeat_purchase_rate(log: "InteractionLog") -> float:
    """Share of the log's purchases (one per user, item and timestamp) of an item the same user
    had bought before; 0 without purchases."""
    bought = [index for index, kind in enumerate(log.types) if kind == "purchase"]
    if not bought:
        return 0.0
    orders = {(log.user_ids[i], log.item_ids[i], float(log.timestamps[i])) for i in bought}
    pairs = {(user, item) for user, item, _ in orders}
    return (len(orders) - len(pairs)) / len(orders)


@dataclass
class Holdout:
    train: "InteractionLog"
    targets: dict[str, set[str]]  # user -> the items of their held-out order
    times: dict[str, float]  # user -> when that order happened


def time_holdout(log: "InteractionLog", max_users: int, seed: int) -> Holdout | None:
    """The log without each sampled user's last order (None when no user has two orders)."""
    from .engine import InteractionLog

    if not len(log):
        return None
    codes, users = np.unique(np.asarray(log.user_ids, dtype=object), return_inverse=True)
    times = np.asarray(log.timestamps, np.float64)
    positive = np.fromiter((kind in POSITIVE_TYPES for kind in log.types), bool, len(log))
    last = np.full(len(codes), -np.inf)
    first = np.full(len(codes), np.inf)
    np.maximum.at(last, users[positive], times[positive])
    np.minimum.at(first, users[positive], times[positive])
    candidates = np.flatnonzero(last > first)
    if not len(candidates):
        return None
    if len(candidates) > max_users:
        candidates = np.sort(np.random.default_rng(seed).choice(candidates, max_users, replace=False))
    chosen = np.zeros(len(codes), bool)
    chosen[candidates] = True
    held = chosen[users] & (times >= last[users])
    targets: dict[str, set[str]] = {}
    for index in np.flatnonzero(held & positive):
        targets.setdefault(log.user_ids[index], set()).add(log.item_ids[index])
    keep = np.flatnonzero(~held)
    train = InteractionLog(user_ids=[log.user_ids[i] for i in keep], item_ids=[log.item_ids[i] for i in keep],
                           types=[log.types[i] for i in keep], timestamps=times[keep])
    return Holdout(train, targets, {str(codes[user]): float(last[user]) for user in candidates})


def ranking_quality(ranked: dict[str, list[str]], targets: dict[str, set[str]], k: int = K) -> dict:
    ndcg, recall = [], []
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    for user, wanted in targets.items():
        top = ranked.get(user, [])[:k]
        hits = np.array([item in wanted for item in top], bool)
        ideal = discounts[:min(len(wanted), k)].sum()
        ndcg.append(float(discounts[:len(top)][hits].sum() / ideal) if ideal else 0.0)
        recall.append(hits.sum() / len(wanted) if wanted else 0.0)
    return {f"ndcg@{k}": round(float(np.mean(ndcg)), 4) if ndcg else 0.0,
            f"recall@{k}": round(float(np.mean(recall)), 4) if recall else 0.0}


def baselines(train: "InteractionLog", users: list[str], repurchase: bool,
              k: int = K) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(popularity, buy-again) rankings of `users` from the training log."""
    wanted = set(users)
    counts: dict[str, int] = {}
    seen: dict[str, set[str]] = {user: set() for user in users}
    bought: dict[str, set[str]] = {user: set() for user in users}
    disliked: dict[str, set[str]] = {user: set() for user in users}
    taken: dict[str, dict[str, list[float]]] = {user: {} for user in users}  # item -> order times
    for user, item, kind, when in zip(train.user_ids, train.item_ids, train.types, train.timestamps):
        positive = kind in POSITIVE_TYPES
        if positive:
            counts[item] = counts.get(item, 0) + 1
        if user not in wanted:
            continue
        seen[user].add(item)
        if kind == "purchase":
            bought[user].add(item)
        elif kind == "dislike":
            disliked[user].add(item)
        if positive:
            taken[user].setdefault(item, []).append(float(when))
    popular = sorted(counts, key=lambda item: (-counts[item], item))
    popularity, buy_again = {}, {}
    for user in users:
        # the model's rule: seen items never again, bought ones only with repurchase
        never = (seen[user] - bought[user]) | disliked[user] if repurchase else seen[user]
        popularity[user] = [item for item in popular[:k + len(never)] if item not in never][:k]
        mine = taken[user]
        buy_again[user] = sorted(mine, key=lambda item: (-len(set(mine[item])), -max(mine[item]), item))[:k]
    return popularity, buy_again


def evaluate(model: "RecommenderModel", holdout: Holdout, repurchase: bool) -> dict:
    users = sorted(holdout.targets)
    ranked = {user: [r.item_id for r in model.recommend(user, K, exclude_seen_purchases=not repurchase,
                                                        now=holdout.times[user])]
              for user in users}
    popularity, buy_again = baselines(holdout.train, users, repurchase)
    return {"users": len(users), "k": K,
            "model": ranking_quality(ranked, holdout.targets),
            "popularity": ranking_quality(popularity, holdout.targets),
            "buy_again": ranking_quality(buy_again, holdout.targets)}
