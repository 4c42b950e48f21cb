"""Request and response models of the recommender (seed 003 §1, §2, §5) and the per-record
validation rules of seed 003 §9.

Ingest bodies are validated in two steps: the envelope (`tenant_id`, a list of records) by
quart-schema, where a bad envelope is a 400; then each record by `ItemRecord` /
`InteractionRecord`, where a bad record is listed in `validation_errors` and the others are
stored.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SkipValidation,
    StringConstraints,
    ValidationError,
    create_model,
    model_validator,
)

from core import Blankable, OffsetQuery, Pagination, SnakeModel
from plugins.ml.recommender import hyperparameters

INTERACTION_TYPES = ("view", "click", "purchase", "like", "dislike", "add_to_cart", "remove_from_cart")
MODEL_TYPES = ("matrix_factorization", "two_tower", "gnn")
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
CATEGORY_PATTERN = r"^[a-z0-9-]+$"


def _strict_string(value: Any) -> Any:
    # "123" is an id, 123 is a client bug: no silent coercion of numbers into ids.
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def parse_utc_timestamp(value: Any) -> datetime:
    """Seed 003 §9: ISO 8601 in UTC. `Z`, `+00:00` or no offset (read as UTC); other
    offsets are refused rather than converted, so a client's clock bug is visible."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time, e.g. 2025-01-07T10:30:45Z") from None
    else:
        raise ValueError("must be an ISO 8601 date-time string")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    if parsed.utcoffset().total_seconds() != 0:
        raise ValueError("must be in UTC (Z or +00:00)")
    return parsed.astimezone(timezone.utc)


RecordId = Annotated[
    str, BeforeValidator(_strict_string), StringConstraints(min_length=1, max_length=128, pattern=ID_PATTERN)]
Category = Annotated[
    str, BeforeValidator(_strict_string), StringConstraints(min_length=1, max_length=64, pattern=CATEGORY_PATTERN)]
Tag = Annotated[str, BeforeValidator(_strict_string), StringConstraints(min_length=1, max_length=32)]
UtcTimestamp = Annotated[datetime, BeforeValidator(parse_utc_timestamp)]
TenantId = Annotated[str, StringConstraints(max_length=64)]  # the caller's organization id (a UUID)
# Bounded by the request body's size ([http] max_body_bytes) alone: stored as given, as JSON, and
# read by nothing that loops over it (the engine reads ids, types, titles, categories and tags).
FreeForm = Field(default_factory=dict, json_schema_extra={
    "x-bounded-by": "the request body's size ([http] max_body_bytes); kept as JSON, never iterated"})
# Records per ingest request: [plugins.recommender] max_batch (a setting) checks the count.
BATCH = {"x-bounded-by": "[plugins.recommender] max_batch records a request (default 10,000): more is a 413"}
InteractionType = Literal["view", "click", "purchase", "like", "dislike", "add_to_cart", "remove_from_cart"]


class _Record(BaseModel):
    # unknown fields are ignored: clients send extra attributes we do not model
    model_config = ConfigDict(extra="ignore")


class ItemRecord(_Record):
    item_id: RecordId
    title: Annotated[
        str, BeforeValidator(_strict_string), StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    description: Annotated[str, BeforeValidator(_strict_string), StringConstraints(max_length=10_000)] = ""
    category: Category | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    metadata: dict[str, Any] = FreeForm
    created_at: UtcTimestamp | None = None


class InteractionRecord(_Record):
    user_id: RecordId
    item_id: RecordId
    interaction_type: InteractionType
    timestamp: UtcTimestamp | None = None
    context: dict[str, Any] = FreeForm
    metadata: dict[str, Any] = FreeForm


def record_error(error: ValidationError) -> str:
    """One readable reason per rejected record: "Missing required field: title",
    "category: String should match pattern '^[a-z0-9-]+$'"."""
    problem = error.errors(include_url=False)[0]
    field = ".".join(str(part) for part in problem["loc"]) or "record"
    if problem["type"] == "missing":
        return f"Missing required field: {field}"
    message = problem["msg"].removeprefix("Value error, ")
    return f"{field}: {message}"


# -- ingest envelopes ---------------------------------------------------------------------------
# The records are documented as ItemRecord / InteractionRecord but not validated here: the
# service validates them one by one and lists the bad ones in `validation_errors`.


class ItemsUpload(BaseModel):
    items: list[SkipValidation[ItemRecord]] = Field(json_schema_extra=BATCH)


class InternalItemsUpload(ItemsUpload):
    tenant_id: TenantId


class InteractionsUpload(BaseModel):
    interactions: list[SkipValidation[InteractionRecord]] = Field(json_schema_extra=BATCH)


class InternalInteractionsUpload(InteractionsUpload):
    tenant_id: TenantId


class ValidationProblem(BaseModel):
    index: int
    item_id: Any = None
    user_id: Any = None
    error: str


class IngestResult(BaseModel):
    accepted: int
    rejected: int
    validation_errors: list[ValidationProblem]


class InteractionIngestResult(IngestResult):
    # Interactions with items not in the catalog (never uploaded, or deleted) are accepted and
    # train models; they are counted here, and their item ids named (the first 100, sorted).
    unknown_items: int
    unknown_item_ids: list[str]


class InteractionAccepted(BaseModel):
    status: Literal["accepted"]
    interaction_id: str
    item_known: bool  # false: the item is not in the catalog (accepted all the same)


# -- embeddings ---------------------------------------------------------------------------------


class EmbeddingFeatures(BaseModel):
    title: Annotated[str, StringConstraints(max_length=500)] = ""
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    category: Category | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    image_url: Annotated[str, StringConstraints(max_length=2048)] | None = None


class EmbeddingItem(BaseModel):
    item_id: RecordId
    features: EmbeddingFeatures = Field(default_factory=EmbeddingFeatures)


class EmbeddingsRequest(BaseModel):
    tenant_id: TenantId
    items: list[EmbeddingItem] = Field(min_length=1, max_length=1_000)
    model_version: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None


class EmbeddingOut(BaseModel):
    item_id: str
    embedding: list[float]
    dimension: int
    model_version: str


class EmbeddingsResponse(BaseModel):
    embeddings: list[EmbeddingOut]
    model_version: str


class ItemEmbedding(BaseModel):
    item_id: str
    embedding: list[float]
    dimension: int
    model_version: str


# -- training -----------------------------------------------------------------------------------


class DataRange(BaseModel):
    start_date: UtcTimestamp | None = None
    end_date: UtcTimestamp | None = None


class _Hyperparameters(BaseModel):
    """Training settings, each in its range (hyperparameters.py); one left out takes the tenant's
    or the engine's default."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _in_range(cls, given: Any) -> Any:
        # the engine's own check first: one message naming the hyperparameter and its range
        # ("hyperparameter epochs must be from 1 to 200, got 1e+30"), as the engine says it
        if isinstance(given, dict):
            hyperparameters.check(given)
        return given


def _bounded(name: str, low: float, high: float) -> tuple[Any, None]:
    kind = int if name in hyperparameters.INTEGER_HYPERPARAMETERS else float
    return Annotated[kind, Field(ge=low, le=high)] | None, None


Hyperparameters = create_model(
    "Hyperparameters", __base__=_Hyperparameters,
    **{name: _bounded(name, low, high) for name, (low, high) in hyperparameters.HYPERPARAMETER_RANGES.items()},
    **{name: (Literal[choices] | None, None) for name, choices in hyperparameters.CHOICE_HYPERPARAMETERS.items()},
)
# Validated as Hyperparameters, kept as the dict of those given (what the service and the engine take).
GivenHyperparameters = Annotated[Hyperparameters, AfterValidator(lambda given: given.model_dump(exclude_none=True))]


class TrainingConfig(BaseModel):
    model_type: Literal["matrix_factorization", "two_tower", "gnn"] | None = None  # None: the tenant's default
    hyperparameters: GivenHyperparameters = Field(default_factory=dict)
    data_range: DataRange = Field(default_factory=DataRange)
    # Serve the new model even if it scores below popularity on its holdout.
    force: bool = False


class TrainingRequest(BaseModel):
    training_config: TrainingConfig = Field(default_factory=TrainingConfig)


class InternalTrainingRequest(TrainingRequest):
    tenant_id: TenantId


class TrainingAccepted(BaseModel):
    job_id: str
    status: Literal["queued", "running", "completed", "failed"]
    estimated_duration_minutes: float
    model_version: str


class ModelVersionOut(BaseModel):
    version: str
    model_type: str
    status: str
    is_active: bool
    job_id: str | None
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    # NDCG@10 and Recall@10 of the model, popularity and buy-again on the run's holdout
    # (each user's last order); None when the run had none to hold out.
    holdout: dict[str, Any] | None
    dimension: int | None
    item_count: int
    interaction_count: int
    error: str | None
    created_at: datetime
    trained_at: datetime | None
    activated_at: datetime | None


class ActivateRequest(BaseModel):
    model_version: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    force: bool = False  # serve it even if it scored below popularity on its holdout


class ModelVersionList(BaseModel):
    models: list[ModelVersionOut]
    total: int
    pagination: Pagination
    active_version: str | None


# -- serving ------------------------------------------------------------------------------------


class RecommendationFilters(BaseModel):
    categories: list[Category] = Field(default_factory=list, max_length=100)
    min_score: float | None = Field(None, ge=-1e9, le=1e9)
    exclude_ids: list[RecordId] = Field(default_factory=list, max_length=1_000)


class RequestContext(BaseModel):
    # more fields are kept and ignored: bounded by the request body's size alone
    model_config = ConfigDict(extra="allow", json_schema_extra={
        "x-bounded-by": "the request body's size ([http] max_body_bytes); read by nothing"})
    device_type: Literal["mobile", "desktop", "tablet"] | None = None
    location: Annotated[str, StringConstraints(max_length=200)] | None = None
    session_id: Annotated[str, StringConstraints(max_length=200)] | None = None


class PublicRecommendationRequest(BaseModel):
    user_id: RecordId
    # at most [plugins.recommender] max_count (default 100; a 400 beyond), a setting of at most 1,000
    count: int = Field(10, ge=1, le=1_000)
    filters: RecommendationFilters = Field(default_factory=RecommendationFilters)
    context: RequestContext = Field(default_factory=RequestContext)
    model_version: Annotated[str, StringConstraints(min_length=1, max_length=32)] | None = None


class InternalRecommendationRequest(PublicRecommendationRequest):
    tenant_id: TenantId


class PublicRecommendation(BaseModel):
    item_id: str
    score: float


class PublicRecommendationMeta(BaseModel):
    model_version: str
    latency_ms: float
    cache_hit: bool
    # "popular": the most popular items, because the user is unknown (or has no usable history)
    # or no model serves yet; null: ranked for this user.
    fallback: Literal["popular"] | None


class PublicRecommendations(BaseModel):
    recommendations: list[PublicRecommendation]
    metadata: PublicRecommendationMeta


class RecommendationMetadata(BaseModel):
    category: str | None
    created_at: str | None


class InternalRecommendation(BaseModel):
    item_id: str
    score: float
    embedding_distance: float | None
    metadata: RecommendationMetadata


class InternalRecommendations(BaseModel):
    request_id: str
    recommendations: list[InternalRecommendation]
    model_version: str
    latency_ms: float
    cache_hit: bool
    fallback: Literal["popular"] | None


# -- settings and export ------------------------------------------------------------------------


Repurchase = Literal["auto", "always", "never"]


class TenantSettingsOut(BaseModel):
    repurchase: Repurchase
    allow_repurchase: bool  # the rule in force: "always", or "auto" decided "always"
    # measured by the latest training: share of purchases that repeat one of the same user,
    # and what "auto" chose from it (null before any training)
    repeat_purchase_rate: float | None
    repurchase_decision: Literal["always", "never"] | None
    default_model_type: Literal["matrix_factorization", "two_tower"]
    embedding_dimension: int | None  # None: the engine's default


class TenantSettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    repurchase: Repurchase | None = None
    allow_repurchase: bool | None = None  # the old switch: true is "always", false "never"
    default_model_type: Literal["matrix_factorization", "two_tower"] | None = None
    embedding_dimension: int | None = Field(None, ge=8, le=1_024)  # null: back to the engine's default


class ExportRequest(BaseModel):
    tenant_id: TenantId
    start_date: UtcTimestamp | None = None
    end_date: UtcTimestamp | None = None


class ExportAccepted(BaseModel):
    job_id: str
    status: Literal["queued"]


class ItemOut(BaseModel):
    item_id: str
    title: str
    description: str
    category: str | None
    tags: list[str]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ItemList(BaseModel):
    items: list[ItemOut]
    total: int
    pagination: Pagination


class ItemQuery(OffsetQuery):
    category: Blankable[Annotated[str, StringConstraints(max_length=64)]] = Field(
        None, description="Only items of this category")


# -- events (hub_event_types) -----------------------------------------------------------------------


class ItemsIngested(SnakeModel):
    accepted: int
    rejected: int


class ModelActivated(SnakeModel):
    model_version: str


class TrainingEvent(SnakeModel):
    job_id: str
    model_version: str
    model_type: str


class TrainingProgressed(TrainingEvent):
    epoch: int | str
    loss: float
    progress: float
    stage: str


class TrainingCompleted(TrainingEvent):
    duration_seconds: float
    metrics: dict[str, Any]


class TrainingFailed(TrainingEvent):
    error: str


EVENT_TYPES = (
    ("recommender.items.ingested", ItemsIngested, "A batch of catalog items was stored (accepted and rejected counts)"),
    ("recommender.model.activated", ModelActivated, "Another trained model version now serves recommendations"),
    ("recommender.training.started", TrainingEvent, "A training job started on a new model version"),
    ("recommender.training.progressed", TrainingProgressed, "A training epoch finished (its loss and overall progress)"),
    ("recommender.training.completed", TrainingCompleted, "A model version finished training and serves requests"),
    ("recommender.training.failed", TrainingFailed, "A training run failed (the previous version keeps serving)"),
)
