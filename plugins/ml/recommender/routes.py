"""Recommender routes: seed 003 paths (§1 ML engine, §2 data pipeline, §5 public API) plus
the Hub's own management routes under /api/v1/recommender/.

`/internal/...` routes are for services (an API key whose scopes include
`recommender.internal`, an admin-level permission); the `tenant_id` in their body must be
the key's organization, anything else is a 404 like any other tenant's resource.
"""

from __future__ import annotations

from quart import Blueprint
from quart_schema import document_response, validate_request

from core import (
    HubError,
    OffsetQuery,
    current_hub,
    current_org_id,
    current_principal,
    document_errors,
    enqueue,
    require,
    validate_query,
)
from plugins.ml.recommender import service
from plugins.ml.recommender.schemas import (
    ActivateRequest,
    EmbeddingsRequest,
    EmbeddingsResponse,
    ExportAccepted,
    ExportRequest,
    IngestResult,
    InteractionAccepted,
    InteractionIngestResult,
    InteractionRecord,
    InteractionsUpload,
    InternalInteractionsUpload,
    InternalItemsUpload,
    InternalRecommendationRequest,
    InternalRecommendations,
    InternalTrainingRequest,
    ItemEmbedding,
    ItemList,
    ItemQuery,
    ItemsUpload,
    ModelVersionList,
    ModelVersionOut,
    PublicRecommendationRequest,
    PublicRecommendations,
    TenantSettingsOut,
    TenantSettingsUpdate,
    TrainingAccepted,
    TrainingRequest,
)

bp = Blueprint("recommender", __name__)


def _internal_org(tenant_id: str):
    org = current_org_id()
    service.check_tenant(org, tenant_id)
    return org


# -- ingest (seed 003 §2 and §5) ----------------------------------------------------------------


@bp.post("/api/v1/items")
@require("recommender.items.write")
@validate_request(ItemsUpload)
@document_response(IngestResult)
async def upload_items(data: ItemsUpload):
    """Add or update catalog items (at most 10,000 a batch); bad records are listed in
    `validation_errors` and the others stored."""
    return await service.ingest_items(current_org_id(), data.items)


@bp.post("/internal/data/items")
@require("recommender.internal")
@validate_request(InternalItemsUpload)
@document_response(IngestResult)
async def internal_upload_items(data: InternalItemsUpload):
    """Add or update catalog items of the key's organization (seed 003 §2, for services)."""
    return await service.ingest_items(_internal_org(data.tenant_id), data.items)


@bp.post("/api/v1/interactions")
@require("recommender.interactions.write")
@validate_request(InteractionRecord)
@document_response(InteractionAccepted, 202)
async def track_interaction(data: InteractionRecord):
    """Record one interaction of a user with an item (seed 003 §5)."""
    return await service.track_interaction(current_org_id(), data), 202


@bp.post("/internal/data/interactions")
@require("recommender.internal")
@validate_request(InternalInteractionsUpload)
@document_response(InteractionIngestResult)
async def internal_upload_interactions(data: InternalInteractionsUpload):
    """A batch of interactions of the key's organization (seed 003 §2, for services); bad records
    are listed in `validation_errors`."""
    return await service.ingest_interactions(_internal_org(data.tenant_id), data.interactions)


@bp.post("/api/v1/recommender/interactions")
@require("recommender.interactions.write")
@validate_request(InteractionsUpload)
@document_response(InteractionIngestResult)
async def upload_interactions(data: InteractionsUpload):
    """A batch of interactions with a user's credentials (the public twin of /internal/data/interactions)."""
    return await service.ingest_interactions(current_org_id(), data.interactions)


@bp.get("/api/v1/items")
@require("recommender.items.read")
@validate_query(ItemQuery)
@document_response(ItemList)
async def list_items(query_args: ItemQuery):
    """The item catalog, by item id."""
    page = query_args.page()
    rows, total = await service.list_items(current_org_id(), page, query_args.category)
    return page.listing("items", rows, total)


@bp.delete("/api/v1/items/<item_id>")
@require("recommender.items.write")
@document_response(None, 204)
async def delete_item(item_id: str):
    """Take an item out of the catalog: it is no longer listed nor recommended; its interactions
    are kept and keep training models. Uploading the id again brings it back."""
    await service.delete_item(current_org_id(), item_id)
    return "", 204


# -- embeddings ---------------------------------------------------------------------------------


@bp.get("/api/v1/items/<item_id>/embedding")
@require("recommender.items.read")
@document_response(ItemEmbedding)
async def get_item_embedding(item_id: str):
    """An item's embedding in the active model (seed 003 §5)."""
    return await service.item_embedding(current_org_id(), item_id)


@bp.post("/internal/ml/embeddings")
@require("recommender.internal")
@validate_request(EmbeddingsRequest)
@document_response(EmbeddingsResponse)
async def generate_embeddings(data: EmbeddingsRequest):
    """Content embeddings for items from their features (seed 003 §1, for services)."""
    return await service.generate_embeddings(_internal_org(data.tenant_id), data.items, data.model_version)


# -- recommendations ----------------------------------------------------------------------------


@bp.post("/api/v1/recommendations")
@require("recommender.recommend")
@validate_request(PublicRecommendationRequest)
@document_response(PublicRecommendations)
@document_errors(503)
async def recommendations(data: PublicRecommendationRequest):
    """Items to recommend to a user, best first (seed 003 §5)."""
    result = await service.recommend(current_org_id(), data)
    return {
        "recommendations": [{"item_id": r["item_id"], "score": r["score"]} for r in result["recommendations"]],
        "metadata": {"model_version": result["model_version"], "latency_ms": result["latency_ms"],
                     "cache_hit": result["cache_hit"], "fallback": result["fallback"]},
    }


@bp.post("/internal/ml/recommendations")
@require("recommender.internal")
@validate_request(InternalRecommendationRequest)
@document_response(InternalRecommendations)
@document_errors(503)
async def internal_recommendations(data: InternalRecommendationRequest):
    """Recommendations with scores, distances and metadata (seed 003 §1, for services)."""
    return await service.recommend(_internal_org(data.tenant_id), data)


# -- training and model versions ----------------------------------------------------------------


@bp.post("/internal/ml/training/trigger")
@require("recommender.internal")
@validate_request(InternalTrainingRequest)
@document_response(TrainingAccepted, 202)
@document_errors(409)
async def internal_trigger_training(data: InternalTrainingRequest):
    """Train a new model version as a background job (seed 003 §1, for services)."""
    org = _internal_org(data.tenant_id)
    return await service.trigger_training(org, current_principal().user_id, data.training_config), 202


@bp.post("/api/v1/recommender/training")
@require("recommender.train")
@validate_request(TrainingRequest)
@document_response(TrainingAccepted, 202)
@document_errors(409)
async def trigger_training(data: TrainingRequest):
    """Train a new model version as a background job; it serves once trained."""
    return await service.trigger_training(current_org_id(), current_principal().user_id, data.training_config), 202


@bp.get("/api/v1/recommender/models")
@require("recommender.models.read")
@validate_query(OffsetQuery)
@document_response(ModelVersionList)
async def list_model_versions(query_args: OffsetQuery):
    """The trained model versions, newest first, and the one serving."""
    page = query_args.page()
    rows, total, active = await service.list_versions(current_org_id(), page)
    return page.listing("models", rows, total, active_version=active)


@bp.get("/api/v1/recommender/models/<version>")
@require("recommender.models.read")
@document_response(ModelVersionOut)
async def get_model_version(version: str):
    """One model version: its status, settings and metrics."""
    return await service.get_version(current_org_id(), version)


@bp.put("/api/v1/recommender/active-model")
@require("recommender.settings")
@validate_request(ActivateRequest)
@document_response(ModelVersionOut)
@document_errors(409)
async def activate_model_version(data: ActivateRequest):
    """Serve another trained version (a rollback, or a pinned choice); one that scored below
    popularity on its holdout only with `force`."""
    return await service.activate(current_hub(), current_org_id(), data.model_version, force=data.force)


# -- settings -----------------------------------------------------------------------------------


@bp.get("/api/v1/recommender/settings")
@require("recommender.models.read")
@document_response(TenantSettingsOut)
async def get_recommender_settings():
    """The organization's recommender settings."""
    return service.settings_body(await service.tenant_settings(current_org_id()))


@bp.patch("/api/v1/recommender/settings")
@require("recommender.settings")
@validate_request(TenantSettingsUpdate)
@document_response(TenantSettingsOut)
async def update_recommender_settings(data: TenantSettingsUpdate):
    """Change the organization's recommender settings."""
    changes = data.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is None and name != "embedding_dimension":
            raise HubError("VALIDATION_ERROR", "Invalid input data", {"field": name, "reason": "may not be null"})
    return await service.update_settings(current_org_id(), changes)


# -- export (seed 003 §3) -----------------------------------------------------------------------


@bp.post("/internal/data/export")
@require("recommender.internal")
@validate_request(ExportRequest)
@document_response(ExportAccepted, 202)
async def export_training_data(data: ExportRequest):
    """Export interactions and the catalog as Parquet, as a background job (seed 003 §3)."""
    org = _internal_org(data.tenant_id)
    payload = {"start_date": service.iso(data.start_date), "end_date": service.iso(data.end_date)}
    job = await enqueue(org, "recommender.export", payload, user_id=current_principal().user_id)
    return {"job_id": str(job.id), "status": "queued"}, 202

