"""Recommender domain logic, callable without HTTP (routes, LLM functions and jobs use it).

Ingest     per-record validation (seed 003 §9): good records are stored in one transaction
           (items upserted on (org, item_id), interactions bulk-inserted in chunks), bad ones
           are reported. Item uploads bump the tenant counter, interactions the user's
           counter (see serving.py).
Serving    the active (or pinned) model version, loaded once per process, ranks candidates
           for the user's newest interactions; responses are cached by (version, counters,
           request). Before any model is trained, items are ranked by popularity (positive
           interactions) and then by recency: model_version "popularity-v1".
Embeddings the active model's item vector, or before any model (or for an item the model
           cannot place) the content embedding of its title, description, category and tags:
           model_version "features-v1".
Training   `trigger_training` records a model version and enqueues the job (jobs.py), which
           calls `activate` when the model is on disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from core import (
    Hub,
    HubError,
    Page,
    current_hub,
    emit,
    enqueue,
    iso,
    not_found,
    record_cache,
    record_usage,
    tenant_label,
    transaction,
    utcnow,
    validation_error,
)
from plugins.ml.recommender.metrics import recommender_metrics, size_bucket
from plugins.ml.recommender.models import Interaction, Item, ModelVersion, TenantSettings
from plugins.ml.recommender.schemas import (
    InteractionRecord,
    ItemRecord,
    PublicRecommendationRequest,
    TrainingConfig,
    parse_utc_timestamp,
    record_error,
)
from plugins.ml.recommender.serving import (
    LoadedModel,
    active_key,
    response_key,
    serving_state,
    tenant_key,
    user_key,
)

# The engine (numpy, scipy, xgboost, usearch: seconds of imports) is imported by the functions
# that use it, so the server starts without it; these names are for annotations only.
if TYPE_CHECKING:
    import numpy as np

    from plugins.ml.recommender import engine

log = logging.getLogger("hub.recommender")

FEATURES_VERSION = "features-v1"
POPULARITY_VERSION = "popularity-v1"
POSITIVE_TYPES = ("view", "click", "purchase", "like", "add_to_cart")
# Catalog items uploaded shortly before a model took its snapshot are offered to it again:
# an upload's timestamp is taken before its transaction commits.
CATALOG_SLACK = timedelta(seconds=120)
UNSYNCED = "-"
ECHO_CHARS = 200  # an invalid id is echoed back at most this long
UNKNOWN_IDS_LISTED = 100  # unknown item ids named in an ingest answer (all are counted)


def config(hub: Hub | None = None):
    return (hub or current_hub()).plugin_settings("recommender")


def data_root(hub: Hub | None = None) -> Path:
    hub = hub or current_hub()
    return Path(hub.settings.data_dir) / config(hub).data_subdir


def models_root(hub: Hub, org_id: Any) -> Path:
    return data_root(hub) / str(org_id)


def check_tenant(org_id: Any, tenant_id: str) -> None:
    """Internal endpoints name the tenant in the body; it must be the caller's own. Another
    tenant's id is answered like an unknown one (404), as everywhere in the Hub."""
    if str(tenant_id) != str(org_id):
        raise HubError("NOT_FOUND", "Tenant not found", {"field": "tenant_id"})


def _chunks(rows: list, size: int) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _echo(value: Any) -> Any:
    return value[:ECHO_CHARS] if isinstance(value, str) else None


def _check_batch(records: list, field: str) -> None:
    limit = config().max_batch
    if len(records) > limit:
        raise HubError(
            "PAYLOAD_TOO_LARGE", f"At most {limit} records per request",
            {"field": field, "reason": f"{len(records)} records sent, the limit is {limit}", "limit": limit},
        )


def item_info(row: dict) -> "engine.ItemInfo":
    from plugins.ml.recommender import engine

    created = row.get("item_created_at")
    return engine.ItemInfo(
        item_id=row["item_id"], title=row["title"], description=row.get("description") or "",
        category=row.get("category"), tags=list(row.get("tags") or []),
        created_at=created.timestamp() if created is not None else None,
    )


ITEM_INFO_FIELDS = ("item_id", "title", "description", "category", "tags", "item_created_at")


# -- tenant settings ----------------------------------------------------------------------------


async def tenant_settings(org_id: Any) -> TenantSettings:
    row = await TenantSettings.for_org(org_id).first()
    if row is None:
        try:
            row = await TenantSettings.create(org_id=org_id)
        except IntegrityError:  # created by a concurrent request
            row = await TenantSettings.for_org(org_id).first()
    return row


def repurchase_allowed(row: TenantSettings) -> bool:
    """The rule in force: "always", or "auto" where the latest training measured repeat buying."""
    return row.repurchase == "always" or (row.repurchase == "auto" and row.repurchase_decision == "always")


def settings_body(row: TenantSettings) -> dict:
    return {"repurchase": row.repurchase, "allow_repurchase": repurchase_allowed(row),
            "repeat_purchase_rate": row.repeat_purchase_rate, "repurchase_decision": row.repurchase_decision,
            "default_model_type": row.default_model_type, "embedding_dimension": row.embedding_dimension}


async def update_settings(org_id: Any, changes: dict) -> dict:
    row = await tenant_settings(org_id)
    if "allow_repurchase" in changes:  # the old switch, kept as an alias of repurchase
        alias = "always" if changes.pop("allow_repurchase") else "never"
        if changes.setdefault("repurchase", alias) != alias:
            raise validation_error("allow_repurchase", f"contradicts repurchase {changes['repurchase']!r}")
    if changes:
        await TenantSettings.for_org(org_id).update(**changes, updated_at=utcnow())
        row = await tenant_settings(org_id)
        await serving_state(current_hub()).shared.incr([tenant_key(org_id)])  # cached answers used the old rules
    return settings_body(row)


# -- ingest -------------------------------------------------------------------------------------


def _validate(records: list, model: type, id_fields: tuple[str, ...]) -> tuple[list, list[dict]]:
    valid, problems = [], []
    for index, raw in enumerate(records):
        if not isinstance(raw, dict):
            problems.append({"index": index, "error": "Record must be a JSON object"})
            continue
        try:
            valid.append(model.model_validate(raw))
        except ValidationError as error:
            problem = {"index": index, "error": record_error(error)}
            problem.update({name: _echo(raw.get(name)) for name in id_fields})
            problems.append(problem)
    return valid, problems


async def ingest_items(org_id: Any, records: list) -> dict:
    _check_batch(records, "items")
    valid, problems = _validate(records, ItemRecord, ("item_id",))
    latest = {record.item_id: record for record in valid}  # the same id twice: the last one counts
    if latest:
        async with transaction():  # the event exists exactly when the items do
            await _upsert_items(org_id, list(latest.values()))
            await emit(org_id, "recommender.items.ingested", {"accepted": len(valid), "rejected": len(problems)})
        hub = current_hub()
        await serving_state(hub).shared.incr([tenant_key(org_id)])
        await record_usage(org_id, "items_indexed", len(latest))
    return {"accepted": len(valid), "rejected": len(problems), "validation_errors": problems}


async def _upsert_items(org_id: Any, records: list[ItemRecord]) -> None:
    chunk = config().insert_chunk
    now = utcnow()
    # An item keeps the date it first appeared unless the upload gives one: two upserts that
    # differ in whether a conflict overwrites `item_created_at` (no read-before-write).
    updated = ["title", "description", "category", "tags", "metadata", "updated_at", "deleted_at"]
    dated = [r for r in records if r.created_at is not None]
    undated = [r for r in records if r.created_at is None]
    async with in_transaction() as connection:
        for group, fields in ((dated, updated + ["item_created_at"]), (undated, updated)):
            rows = [
                Item(org_id=org_id, item_id=r.item_id, title=r.title, description=r.description, category=r.category,
                     tags=list(dict.fromkeys(r.tags)), metadata=r.metadata, item_created_at=r.created_at or now,
                     created_at=now, updated_at=now, deleted_at=None)
                for r in group
            ]
            for part in _chunks(rows, chunk):
                await Item.bulk_create(part, on_conflict=["org_id", "item_id"], update_fields=fields,
                                       using_db=connection)


async def ingest_interactions(org_id: Any, records: list) -> dict:
    _check_batch(records, "interactions")
    valid, problems = _validate(records, InteractionRecord, ("user_id", "item_id"))
    unknown: list[str] = []
    if valid:
        await _insert_interactions(org_id, valid)
        unknown = await unknown_items(org_id, [r.item_id for r in valid])
    named = set(unknown)
    return {"accepted": len(valid), "rejected": len(problems), "validation_errors": problems,
            "unknown_items": sum(1 for r in valid if r.item_id in named),
            "unknown_item_ids": unknown[:UNKNOWN_IDS_LISTED]}


async def unknown_items(org_id: Any, item_ids: list[str]) -> list[str]:
    """Those of `item_ids` not in the tenant's catalog (never uploaded, or deleted), sorted.
    Their interactions are stored and train models, but the items are not recommended."""
    wanted = sorted(set(item_ids))
    known: set[str] = set()
    for part in _chunks(wanted, 1_000):
        known.update(await Item.for_org(org_id).filter(item_id__in=part, deleted_at__isnull=True)
                     .values_list("item_id", flat=True))
    return [item_id for item_id in wanted if item_id not in known]


async def _insert_interactions(org_id: Any, records: list[InteractionRecord]) -> list[Interaction]:
    now = utcnow()
    rows = [
        Interaction(id=uuid.uuid4(), org_id=org_id, user_id=r.user_id, item_id=r.item_id,
                    interaction_type=r.interaction_type, occurred_at=r.timestamp or now,
                    context=r.context, metadata=r.metadata, created_at=now, updated_at=now)
        for r in records
    ]
    async with in_transaction() as connection:
        for part in _chunks(rows, config().insert_chunk):
            await Interaction.bulk_create(part, using_db=connection)
    users = sorted({r.user_id for r in records})
    await serving_state(current_hub()).shared.incr([user_key(org_id, user) for user in users])
    return rows


async def track_interaction(org_id: Any, record: InteractionRecord) -> dict:
    """One interaction (seed 003 §5 POST /api/v1/interactions), already validated."""
    (row,) = await _insert_interactions(org_id, [record])
    return {"status": "accepted", "interaction_id": str(row.id),
            "item_known": not await unknown_items(org_id, [record.item_id])}


def item_body(row: Item) -> dict:
    return {"item_id": row.item_id, "title": row.title, "description": row.description, "category": row.category,
            "tags": row.tags, "metadata": row.metadata, "created_at": row.item_created_at, "updated_at": row.updated_at}


async def list_items(org_id: Any, page: Page, category: str | None) -> tuple[list[dict], int]:
    query = Item.for_org(org_id).filter(deleted_at__isnull=True)
    if category:
        query = query.filter(category=category)
    rows, total = await page.fetch(query, "item_id")
    return [item_body(row) for row in rows], total


async def delete_item(org_id: Any, item_id: str) -> None:
    """Take an item out of the catalog: no longer listed nor recommended (loaded models learn it
    through the tenant counter); its interactions stay and keep training models."""
    now = utcnow()
    deleted = await Item.for_org(org_id).filter(item_id=item_id, deleted_at__isnull=True).update(
        deleted_at=now, updated_at=now)
    if not deleted:
        raise not_found("Item")
    await serving_state(current_hub()).shared.incr([tenant_key(org_id)])


# -- loaded models ------------------------------------------------------------------------------


async def loaded_model(hub: Hub, org_id: Any, version: str, tenant_epoch: str | None) -> LoadedModel:
    """The model of `version`, loaded in this process and aware of the current catalog."""
    state = serving_state(hub)
    loaded = state.models.get((str(org_id), version))
    if loaded is None:
        row = await ModelVersion.for_org(org_id).filter(version=version, status="ready").first()
        if row is None or not row.path:
            raise not_found("Model version")
        loaded = await state.model(org_id, version, data_root(hub) / row.path,
                                   (row.trained_at or utcnow()) - CATALOG_SLACK)
    current = tenant_epoch or "0"
    if loaded.tenant_epoch != current:
        await _take_new_items(org_id, loaded, current)
    return loaded


async def _take_new_items(org_id: Any, loaded: LoadedModel, tenant_epoch: str) -> None:
    # Items uploaded after training become recommendable at once (content embeddings); deleted
    # ones stop being recommended.
    async with loaded.lock:
        if loaded.tenant_epoch == tenant_epoch:
            return
        checked = utcnow()
        if loaded.removed is None:
            loaded.removed = frozenset(await Item.for_org(org_id).filter(deleted_at__isnull=False)
                                       .values_list("item_id", flat=True))
        rows = await Item.for_org(org_id).filter(updated_at__gte=loaded.catalog_as_of).values(
            *ITEM_INFO_FIELDS, "deleted_at")
        deleted = {row["item_id"] for row in rows if row["deleted_at"] is not None}
        loaded.removed = (loaded.removed - {row["item_id"] for row in rows}) | deleted
        rows = [row for row in rows if row["deleted_at"] is None]
        if rows:
            await asyncio.to_thread(loaded.model.add_items, [item_info(row) for row in rows])
        loaded.catalog_as_of = checked - CATALOG_SLACK
        loaded.tenant_epoch = tenant_epoch


# -- recommendations ----------------------------------------------------------------------------


def _request_key(request: PublicRecommendationRequest, count: int) -> dict:
    return {
        "user_id": request.user_id, "count": count,
        "categories": sorted(set(request.filters.categories)), "min_score": request.filters.min_score,
        "exclude_ids": sorted(set(request.filters.exclude_ids)),
    }


async def recommend(org_id: Any, request: PublicRecommendationRequest, *, hub: Hub | None = None) -> dict:
    """The internal response shape of seed 003 §1 (the public one is a projection of it)."""
    started = time.perf_counter()
    hub = hub or current_hub()
    settings = config(hub)
    if request.count > settings.max_count:
        raise validation_error("count", f"must be at most {settings.max_count}")
    state = serving_state(hub)
    org = str(org_id)
    active_pointer, tenant_epoch, user_epoch = await state.shared.get_many(
        [active_key(org), tenant_key(org), user_key(org, request.user_id)]
    )
    if request.model_version:
        if not await ModelVersion.for_org(org).filter(version=request.model_version, status="ready").exists():
            raise HubError("NOT_FOUND", "Model version not found", {"field": "model_version"})
        version = request.model_version
    else:
        version = await state.active_version(org, from_shared=active_pointer)
    count = request.count
    metrics = recommender_metrics(hub)
    key = response_key(org, version or POPULARITY_VERSION, tenant_epoch, user_epoch, _request_key(request, count))
    cached = await state.shared.get(key) if settings.cache_ttl_seconds > 0 else None
    if cached is not None:
        recommendations, label, fallback = json.loads(cached)
        cache_hit = True
    else:
        recommendations, label, fallback = await _compute(hub, org, version, tenant_epoch, request, count)
        cache_hit = False
        # an answer from a stand-in (the asked version could not be loaded) is not kept
        if settings.cache_ttl_seconds > 0 and label == (version or POPULARITY_VERSION):
            await state.shared.set(key, json.dumps([recommendations, label, fallback]), settings.cache_ttl_seconds)
    result = "hit" if cache_hit else "miss"
    record_cache("recommender.recommendations", result)
    tenant = tenant_label(hub, org)
    metrics.cache.labels(tenant, result).inc()
    metrics.per_request.labels(tenant).observe(len(recommendations))
    await record_usage(org, "recommendations_served", len(recommendations))
    return {
        "request_id": str(uuid.uuid4()),
        "recommendations": recommendations,
        "model_version": label,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3),
        "cache_hit": cache_hit,
        "fallback": fallback,
    }


async def _compute(hub: Hub, org: str, version: str | None, tenant_epoch: str | None,
                   request: PublicRecommendationRequest, count: int) -> tuple[list[dict], str, str | None]:
    """(recommendations, model version, "popular" when they are the popular-items fallback)."""
    allow_repurchase = repurchase_allowed(await tenant_settings(org))
    if version is None:
        return await _popular(org, request, count, allow_repurchase), POPULARITY_VERSION, "popular"
    try:
        loaded = await loaded_model(hub, org, version, tenant_epoch)
    except Exception:
        # The active version cannot be loaded (files gone, a half-finished switch): serve the
        # tenant's last loaded model rather than fail the request.
        fallback = _any_loaded(hub, org, exclude=version)
        if fallback is None:
            if request.model_version:
                raise HubError("SERVICE_UNAVAILABLE", f"Model version {version} cannot be loaded") from None
            log.exception("recommender: model %s of %s cannot be loaded; serving popular items", version, org)
            return await _popular(org, request, count, allow_repurchase), POPULARITY_VERSION, "popular"
        log.exception("recommender: model %s of %s cannot be loaded; serving %s", version, org, fallback.version)
        loaded = fallback
    history = await user_history(org, request.user_id, config(hub).history_size)
    filters = request.filters
    started = time.perf_counter()
    results = await asyncio.to_thread(
        loaded.model.recommend, request.user_id, count,
        history=history, categories=set(filters.categories) or None,
        exclude_item_ids=set(filters.exclude_ids) | (loaded.removed or frozenset()),
        exclude_seen_purchases=not allow_repurchase,
        min_score=filters.min_score,
    )
    recommender_metrics(hub).search_duration.labels(tenant_label(hub, org), size_bucket(len(loaded.model.item_ids))).observe(
        time.perf_counter() - started
    )
    return [
        {"item_id": r.item_id, "score": float(r.score),
         "embedding_distance": None if r.embedding_distance is None else float(r.embedding_distance),
         "metadata": {"category": r.category, "created_at": iso(r.created_at)}}
        for r in results
    ], loaded.version, "popular" if results and results[0].fallback else None


def _any_loaded(hub: Hub, org: str, exclude: str) -> LoadedModel | None:
    for (owner, version), loaded in reversed(serving_state(hub).models.items()):
        if owner == org and version != exclude:
            return loaded
    return None


async def user_history(org_id: Any, user_id: str, size: int) -> "engine.InteractionLog | None":
    import numpy as np

    from plugins.ml.recommender import engine

    rows = await (
        Interaction.for_org(org_id).filter(user_id=user_id).order_by("-occurred_at").limit(size)
        .values_list("item_id", "interaction_type", "occurred_at")
    )
    if not rows:
        return None
    rows.reverse()  # oldest first, as in a training log
    return engine.InteractionLog(
        user_ids=[user_id] * len(rows), item_ids=[r[0] for r in rows], types=[r[1] for r in rows],
        timestamps=np.array([r[2].timestamp() for r in rows], dtype=np.float64),
    )


async def _popular(org: str, request: PublicRecommendationRequest, count: int, allow_repurchase: bool) -> list[dict]:
    """No model yet: the most interacted-with items, then the newest ones, as recommendations
    with scores in 0..1 (share of the first offered item's interactions; 0 for items nobody
    touched)."""
    filters = request.filters
    excluded = set(filters.exclude_ids)
    # as the trained models do: disliked items never come back, bought ones only for consumables
    never_again = ["dislike"] if allow_repurchase else ["dislike", "purchase"]
    excluded |= set(await Interaction.for_org(org).filter(
        user_id=request.user_id, interaction_type__in=never_again).values_list("item_id", flat=True))
    items = Item.for_org(org).filter(deleted_at__isnull=True)
    if filters.categories:
        items = items.filter(category__in=filters.categories)
    # only catalog items are offered: interactions may name items never uploaded
    popular = await (
        Interaction.for_org(org).filter(interaction_type__in=POSITIVE_TYPES,
                                        item_id__in=Subquery(items.values("item_id")))
        .annotate(n=Count("id")).group_by("item_id").order_by("-n", "item_id")
        .limit(count + len(excluded)).values_list("item_id", "n")
    )
    offered = [(item_id, n) for item_id, n in popular if item_id not in excluded]
    top = offered[0][1] if offered else 1  # the best offered item scores 1, as with a model
    scores = {item_id: n / top for item_id, n in offered}
    chosen = list(scores)[:count]
    if len(chosen) < count:
        taken = excluded | set(chosen)
        newest = items.exclude(item_id__in=list(taken)) if taken else items
        chosen.extend(await newest.order_by("-item_created_at", "item_id").limit(count - len(chosen))
                      .values_list("item_id", flat=True))
    rows = {row["item_id"]: row for row in await Item.for_org(org).filter(item_id__in=chosen).values(
        "item_id", "category", "item_created_at")}
    results = []
    for item_id in chosen:
        score = scores.get(item_id, 0.0)
        if filters.min_score is not None and score < filters.min_score:
            continue
        row = rows.get(item_id, {})
        results.append({"item_id": item_id, "score": round(score, 6), "embedding_distance": None,
                        "metadata": {"category": row.get("category"), "created_at": iso(row.get("item_created_at"))}})
    return results


# -- embeddings ---------------------------------------------------------------------------------


def _vector(values: np.ndarray) -> list[float]:
    import numpy as np

    return [float(x) for x in np.asarray(values, dtype=np.float32)]


async def item_embedding(org_id: Any, item_id: str) -> dict:
    from plugins.ml.recommender import engine

    hub = current_hub()
    row = await Item.for_org(org_id).filter(item_id=item_id, deleted_at__isnull=True).first().values(*ITEM_INFO_FIELDS)
    if not row:
        raise not_found("Item")
    state = serving_state(hub)
    version = await state.active_version(org_id)
    if version is not None:
        try:
            loaded = await loaded_model(hub, org_id, version, await state.shared.get(tenant_key(org_id)))
        except Exception:  # files gone or unreadable: the content embedding still answers
            log.exception("recommender: model %s of %s cannot be loaded", version, org_id)
            loaded = None
        vector = loaded.model.item_embedding(item_id) if loaded is not None else None
        if vector is not None:
            return _embedding_body(item_id, vector, version)
    return _embedding_body(item_id, engine.feature_embedding([item_info(row)], dim=config(hub).feature_dim)[0],
                           FEATURES_VERSION)


def _embedding_body(item_id: str, vector: np.ndarray, version: str) -> dict:
    return {"item_id": item_id, "embedding": _vector(vector), "dimension": len(vector), "model_version": version}


async def generate_embeddings(org_id: Any, items: list, model_version: str | None) -> dict:
    """Seed 003 §1 "Generate Embeddings": an item the model knows gets its learned vector,
    any other item the content embedding of the features sent (each says which)."""
    from plugins.ml.recommender import engine

    hub = current_hub()
    state = serving_state(hub)
    if model_version:
        if not await ModelVersion.for_org(org_id).filter(version=model_version, status="ready").exists():
            raise HubError("NOT_FOUND", "Model version not found", {"field": "model_version"})
        version = model_version
    else:
        version = await state.active_version(org_id)
    loaded = await loaded_model(hub, org_id, version, await state.shared.get(tenant_key(org_id))) if version else None
    learned = {}
    if loaded is not None:
        for item in items:
            vector = loaded.model.item_embedding(item.item_id)
            if vector is not None:
                learned[item.item_id] = vector
    missing = [item for item in items if item.item_id not in learned]
    content = engine.feature_embedding(
        [engine.ItemInfo(item_id=i.item_id, title=i.features.title, description=i.features.description,
                         category=i.features.category, tags=list(i.features.tags)) for i in missing],
        dim=config(hub).feature_dim,
    ) if missing else []
    from_content = {item.item_id: vector for item, vector in zip(missing, content)}
    embeddings = [
        _embedding_body(item.item_id, learned[item.item_id], version) if item.item_id in learned
        else _embedding_body(item.item_id, from_content[item.item_id], FEATURES_VERSION)
        for item in items
    ]
    overall = version if learned else FEATURES_VERSION
    return {"embeddings": embeddings, "model_version": overall}


# -- training and model versions ----------------------------------------------------------------


def version_body(row: ModelVersion) -> dict:
    return {
        "version": row.version, "model_type": row.model_type, "status": row.status, "is_active": row.is_active,
        "job_id": str(row.job_id) if row.job_id else None, "hyperparameters": row.hyperparameters,
        "metrics": row.metrics, "holdout": (row.metrics or {}).get("holdout"),
        "dimension": row.dimension, "item_count": row.item_count,
        "interaction_count": row.interaction_count, "error": row.error, "created_at": row.created_at,
        "trained_at": row.trained_at, "activated_at": row.activated_at,
    }


async def list_versions(org_id: Any, page: Page) -> tuple[list[dict], int, str | None]:
    query = ModelVersion.for_org(org_id)
    rows, total = await page.fetch(query, "-created_at", "-version")
    active = await ModelVersion.for_org(org_id).filter(is_active=True).first().values_list("version", flat=True)
    return [version_body(row) for row in rows], total, active


async def get_version(org_id: Any, version: str) -> dict:
    row = await ModelVersion.for_org(org_id).filter(version=version).first()
    if row is None:
        raise not_found("Model version")
    return version_body(row)


def _estimate_minutes(interactions: int, model_type: str) -> float:
    # A rough figure for the caller's progress bar, from this machine's runs (2 cores); two
    # models are trained (the holdout's, then the served one).
    per_million = 2.0 if model_type == "matrix_factorization" else 6.0
    return round(0.1 + per_million * interactions / 1_000_000, 1)


def interactions_between(org_id: Any, start: datetime | str | None, end: datetime | str | None):
    """The tenant's interactions that occurred in [start, end] (either end open when None); ISO
    strings as stored in a job's payload are accepted too."""
    query = Interaction.for_org(org_id)
    if start:
        query = query.filter(occurred_at__gte=parse_utc_timestamp(start) if isinstance(start, str) else start)
    if end:
        query = query.filter(occurred_at__lte=parse_utc_timestamp(end) if isinstance(end, str) else end)
    return query


async def trigger_training(org_id: Any, user_id: Any, training: TrainingConfig) -> dict:
    from plugins.ml.recommender import engine

    settings = await tenant_settings(org_id)
    model_type = training.model_type or settings.default_model_type
    if model_type == "gnn":
        raise HubError(
            "VALIDATION_ERROR", "Model type gnn is not supported yet",
            {"field": "training_config.model_type", "reason": "supported: matrix_factorization, two_tower"},
        )
    hyperparameters = dict(config().engine_options)
    if settings.embedding_dimension:
        hyperparameters["embedding_dim"] = settings.embedding_dimension
    hyperparameters.update(training.hyperparameters)
    try:
        engine.resolve_hyperparameters(hyperparameters)  # a typo is the caller's 400, not a failed job
    except ValueError as error:
        raise validation_error("training_config.hyperparameters", str(error)) from None
    data_range = training.data_range
    interaction_count = await interactions_between(org_id, data_range.start_date, data_range.end_date).count()
    row = None
    for _ in range(5):  # two triggers at once may pick the same number: the unique index decides
        number = await ModelVersion.for_org(org_id).count() + 1
        try:
            row = await ModelVersion.create(
                org_id=org_id, version=f"v{number}", model_type=model_type, hyperparameters=hyperparameters,
                data_range={"start_date": iso(data_range.start_date), "end_date": iso(data_range.end_date)},
                interaction_count=interaction_count,
            )
            break
        except IntegrityError:
            continue
    if row is None:
        raise HubError("CONFLICT", "Could not allocate a model version; try again")
    job = await enqueue(
        org_id, "recommender.train", {"version": row.version, "force": training.force}, user_id=user_id,
        timeout_seconds=config().training_timeout_seconds,
    )
    await ModelVersion.filter(id=row.id).update(job_id=job.id)
    return {
        "job_id": str(job.id), "status": "queued", "model_version": row.version,
        "estimated_duration_minutes": _estimate_minutes(interaction_count, model_type),
    }


def below_popularity(metrics: dict | None) -> str | None:
    """Why a model must not serve unless forced: it scored below the popularity baseline on its
    training's holdout (None: it did not, or it was not evaluated)."""
    holdout = (metrics or {}).get("holdout") or {}
    model, popular = (holdout.get("model") or {}).get("ndcg@10"), (holdout.get("popularity") or {}).get("ndcg@10")
    if model is None or popular is None or model >= popular:
        return None
    return f"NDCG@10 {model} on the holdout is below popularity's {popular}"


async def activate(hub: Hub, org_id: Any, version: str, force: bool = False) -> dict:
    """Make `version` (trained, on disk) the one served: one transaction flips the flags and
    records the event, then the pointer tells every process. A version that scored below
    popularity is refused (409) unless `force`."""
    async with transaction():
        if not force:
            row = await ModelVersion.for_org(org_id).filter(version=version).first()
            reason = below_popularity(row.metrics) if row is not None else None
            if reason:
                raise HubError("CONFLICT", f"Model version {version} scores below popularity; pass force to serve it",
                               {"field": "force", "reason": reason})
        await mark_active(hub, org_id, version)
    await serving_state(hub).publish_active(org_id, version)
    return await get_version(org_id, version)


async def mark_active(hub: Hub, org_id: Any, version: str) -> None:
    """Inside a transaction: `version` becomes the active one, and "recommender.model.activated"
    is emitted with it; the caller publishes the pointer once it committed."""
    row = await ModelVersion.filter(org_id=org_id, version=version).first()
    if row is None:
        raise not_found("Model version")
    if row.status != "ready":
        raise HubError("CONFLICT", f"Model version {version} is {row.status}, not ready")
    now = utcnow()
    await ModelVersion.filter(org_id=org_id, is_active=True).exclude(id=row.id).update(is_active=False, updated_at=now)
    await ModelVersion.filter(id=row.id).update(is_active=True, activated_at=now, updated_at=now)
    await emit(org_id, "recommender.model.activated", {"model_version": version}, hub=hub)


# -- health -------------------------------------------------------------------------------------


async def model_store_health() -> str:
    """The model store must be writable, or no new model can be saved (serving goes on)."""
    root = data_root()
    try:
        await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
    except OSError:
        return "degraded"
    return "healthy" if os.access(root, os.W_OK) else "degraded"
