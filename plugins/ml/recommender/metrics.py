"""The recommender's Prometheus metrics (seed 003 §7 "ML-specific"), registered in the Hub's
own registry so that `GET /metrics` shows them (under `hub serve` every process writes them
to the shared multiprocess directory like the core's metrics).

`tenant_id` is a label, as seed 003 §7 names it, but its value is `core.tenant_label` (a keyed
hash of the organization id), so /metrics lists no organization. Every label has few values:
`index_size` is bucketed to a power of ten, and `ml_training_loss` is the last epoch's loss per
tenant and model type (the seed's `model_version` and `epoch` labels would make a series per
training run and epoch: a member asking for a billion epochs made ten thousand in a minute).
"""

from __future__ import annotations

import math
from typing import Any

from core import Hub

TRAINING_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, float("inf"))
SEARCH_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, float("inf"))
COUNT_BUCKETS = (0, 1, 5, 10, 20, 50, 100, 200, 500, 1000, float("inf"))


class RecommenderMetrics:
    def __init__(self, registry: Any) -> None:
        import prometheus_client as prom

        self.training_duration = prom.Histogram(
            "ml_training_duration_seconds", "Model training time", ["tenant_id", "model_type"],
            registry=registry, buckets=TRAINING_BUCKETS,
        )
        self.training_loss = prom.Gauge(
            "ml_training_loss", "Loss of the latest training epoch", ["tenant_id", "model_type"],
            registry=registry, multiprocess_mode="mostrecent",
        )
        self.search_duration = prom.Histogram(
            "ml_ann_search_duration_seconds", "Candidate search and ranking time per recommendation request",
            ["tenant_id", "index_size"], registry=registry, buckets=SEARCH_BUCKETS,
        )
        self.per_request = prom.Histogram(
            "ml_recommendations_per_request", "Recommendations returned per request", ["tenant_id"],
            registry=registry, buckets=COUNT_BUCKETS,
        )
        self.cache = prom.Counter(
            "ml_recommendation_cache_total", "Recommendation cache lookups", ["tenant_id", "result"],
            registry=registry,
        )


def size_bucket(size: int) -> str:
    return "0" if size <= 0 else f"1e{int(math.log10(size))}"


def recommender_metrics(hub: Hub) -> RecommenderMetrics:
    metrics = hub.extensions.get("recommender.metrics")
    if metrics is None:
        core_metrics = hub.extensions.get("metrics")
        if core_metrics is not None:
            registry = core_metrics.registry
        else:  # /metrics is off: count into a registry nobody reads
            import prometheus_client as prom

            registry = prom.CollectorRegistry()
        metrics = RecommenderMetrics(registry)
        hub.extensions["recommender.metrics"] = metrics
    return metrics
