"""Settings of the recommender plugin (`[plugins.recommender]` in config/hub.toml,
`HUB_PLUGINS__RECOMMENDER__<KEY>` in the environment)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator


class RecommenderConfig(BaseModel):
    # Models and exports live under <data_dir>/<data_subdir>/.
    data_subdir: str = Field("recommender", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    # Records per ingest request (items or interactions); more is a 413.
    max_batch: int = Field(10_000, ge=1, le=100_000)
    # Rows per INSERT statement inside one ingest transaction.
    insert_chunk: int = Field(1_000, ge=1, le=10_000)
    # Recommendation responses are cached this long (0: no cache). Redis when the Hub has
    # one, else in process memory.
    cache_ttl_seconds: float = Field(300, ge=0)
    cache_max_entries: int = Field(50_000, ge=1)  # in-process cache only
    # The newest interactions of the user handed to the model as history.
    history_size: int = Field(200, ge=1, le=10_000)
    max_count: int = Field(100, ge=1, le=1_000)
    # Without Redis, how often a process re-reads which model version is active (with
    # Redis the pointer is one GET per request).
    active_check_seconds: float = Field(1.0, ge=0)
    # Trained models kept in memory per process (least recently used ones are dropped).
    loaded_models: int = Field(32, ge=1)
    # Seed 003 §5: 1000 requests/minute per tenant on POST /api/v1/recommendations (0: off).
    rate_limit_per_minute: int = Field(1_000, ge=0)
    rate_limit_burst: int = Field(100, ge=1)
    # Training defaults (a request's hyperparameters win; a tenant's settings choose the type).
    training_timeout_seconds: int = Field(3_600, ge=10)
    feature_dim: int = Field(128, ge=8, le=4_096)  # content embeddings (cold start, before any model)
    # Passed to engine.train as default hyperparameters (e.g. ann_method, ann_probes).
    engine_options: dict[str, Any] = Field(default_factory=dict)
    # Training-data export to an S3-compatible store (AWS S3, MinIO, moto, ...); needs the
    # `s3` extra (boto3). Unset bucket: exports stay in the local data directory.
    export_s3_bucket: str | None = Field(None, min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
    # Key prefix before `tenants/<tenant_id>/...`; a "/" is appended when missing ("" = bucket root).
    export_s3_prefix: str = Field("", max_length=512)
    # Admin configuration (never user input), so it is not SSRF-checked. Unset: AWS S3.
    export_s3_endpoint_url: str | None = Field(None, pattern=r"^https?://")
    export_s3_region: str | None = None
    # Unset: boto3's standard credential chain (AWS_ACCESS_KEY_ID/..., profiles, instance roles).
    export_s3_access_key_id: SecretStr | None = None
    export_s3_secret_access_key: SecretStr | None = None
    # Connect/read timeout and attempts of each S3 call (a dead store fails the job, no hang).
    export_s3_timeout_seconds: float = Field(30, gt=0, le=600)
    export_s3_max_attempts: int = Field(3, ge=1, le=10)

    @field_validator("export_s3_prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        value = value.strip("/")
        return f"{value}/" if value else ""
