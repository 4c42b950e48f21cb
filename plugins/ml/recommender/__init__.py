"""Recommender (seed 003): item catalog and interaction ingest, embeddings, model training as
a background job, ANN-backed serving with a cache, training-data export.

settings.py  [plugins.recommender] settings        models.py   tables
schemas.py   request/response models, §9 rules     service.py  domain logic
routes.py    HTTP (seed paths)                      serving.py  loaded models, active pointer, cache
jobs.py      training and export jobs               export.py   Parquet + catalog.json
functions.py LLM functions                          metrics.py  Prometheus ml_* metrics
commands.py  `hub recommender train`
engine.py, ann.py, ...  the ML engine (training, cold start, ANN search, re-ranking)
"""

from __future__ import annotations

mount = "/"


def hub_config():
    from plugins.ml.recommender.settings import RecommenderConfig

    return RecommenderConfig


def hub_models():
    return ["plugins.ml.recommender.models"]


def hub_routes(app):
    from plugins.ml.recommender.routes import bp

    return bp


def hub_permissions(register):
    register("recommender.items.read", "Read the item catalog and item embeddings", "read")
    register("recommender.items.write", "Upload catalog items", "write")
    register("recommender.interactions.write", "Record user interactions", "write")
    register("recommender.recommend", "Get recommendations", "read")
    register("recommender.models.read", "See model versions, training status and recommender settings", "read")
    register("recommender.train", "Train a new model version", "write")
    register("recommender.settings", "Change recommender settings and the served model version", "admin")
    # Service-to-service routes (/internal/...): give an admin's API key this scope.
    register("recommender.internal", "Use the internal ML engine and data pipeline API", "admin")


def hub_event_types(register):
    from plugins.ml.recommender.schemas import EVENT_TYPES

    for name, payload, description in EVENT_TYPES:
        register(name, payload, description, permission="recommender.models.read")


def hub_jobs(register):
    from plugins.ml.recommender.jobs import register_jobs

    register_jobs(register)


def hub_functions(register):
    from plugins.ml.recommender.functions import FUNCTIONS

    for name, description, args_model, permission, func in FUNCTIONS:
        register(name, description, args_model, permission, func)


def hub_rate_limits(hub):
    # Seed 003 §5: 1000 requests/minute per tenant, whatever the plan.
    settings = hub.plugin_settings("recommender")
    per_minute, burst = settings.rate_limit_per_minute, settings.rate_limit_burst
    return {"/api/v1/recommendations": {"requests_per_minute": per_minute, "burst_size": burst,
                                        "scope": "organization"}}


def hub_commands(register):
    from plugins.ml.recommender.commands import register_commands

    register_commands(register)


def hub_health_checks(register):
    from plugins.ml.recommender.service import model_store_health

    register("recommender_models", model_store_health)


def hub_metrics(register):
    from plugins.ml.recommender.analytics_metrics import register_metrics

    register_metrics(register)
