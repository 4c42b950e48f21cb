"""Recommender tables: the item catalog, interactions, trained model versions and each
tenant's recommender settings. Every row belongs to one organization (TenantModel.org_id)
and is read through `for_org`. Tables are prefixed `recommender_`."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel

MODEL_STATUSES = ("queued", "training", "ready", "failed")


class Item(TenantModel):
    # The tenant's own id (seed 003 §9 item id): unique per organization, re-uploads update.
    item_id = fields.CharField(max_length=128)
    title = fields.CharField(max_length=500)
    description = fields.TextField(default="")
    category = fields.CharField(max_length=64, null=True)
    tags = fields.JSONField(default=list)
    metadata = fields.JSONField(default=dict)
    # When the item appeared in the tenant's catalog (from the upload, else first upload).
    item_created_at = fields.DatetimeField()
    # Deleted items are no longer listed nor recommended; their interactions still train models.
    # Uploading the id again brings the item back.
    deleted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recommender_item"
        unique_together = (("org_id", "item_id"),)
        indexes = (("org_id", "category"), ("org_id", "updated_at"))


class Interaction(TenantModel):
    user_id = fields.CharField(max_length=128)
    item_id = fields.CharField(max_length=128)
    interaction_type = fields.CharField(max_length=20)
    occurred_at = fields.DatetimeField()
    context = fields.JSONField(default=dict)
    metadata = fields.JSONField(default=dict)

    class Meta:
        table = "recommender_interaction"
        # a user's history (serving), a date range (training, export), an item's popularity
        indexes = (("org_id", "user_id", "occurred_at"), ("org_id", "occurred_at"), ("org_id", "item_id"))


class ModelVersion(TenantModel):
    version = fields.CharField(max_length=32)
    model_type = fields.CharField(max_length=32)
    status = fields.CharField(max_length=16, default="queued")
    is_active = fields.BooleanField(default=False)
    job_id = fields.UUIDField(null=True)
    hyperparameters = fields.JSONField(default=dict)
    data_range = fields.JSONField(default=dict)
    metrics = fields.JSONField(default=dict)
    path = fields.CharField(max_length=1024, null=True)
    dimension = fields.IntField(null=True)
    item_count = fields.IntField(default=0)
    interaction_count = fields.IntField(default=0)
    error = fields.TextField(null=True)
    trained_at = fields.DatetimeField(null=True)
    activated_at = fields.DatetimeField(null=True)

    class Meta:
        table = "recommender_model_version"
        unique_together = (("org_id", "version"),)
        indexes = (("org_id", "is_active"), ("org_id", "created_at"))


REPURCHASE_MODES = ("auto", "always", "never")


class TenantSettings(TenantModel):
    # May users be offered what they bought before? Consumables (groceries) yes, durable goods
    # no; "auto": the training job measures the tenant's repeat-purchase rate and decides.
    repurchase = fields.CharField(max_length=8, default="auto")
    # What the latest training measured and, under "auto", chose ("always" or "never").
    repeat_purchase_rate = fields.FloatField(null=True)
    repurchase_decision = fields.CharField(max_length=8, null=True)
    default_model_type = fields.CharField(max_length=32, default="matrix_factorization")
    embedding_dimension = fields.IntField(null=True)  # null: the engine's default

    class Meta:
        table = "recommender_settings"
        unique_together = (("org_id",),)
