"""Metering's table: units used per organization and day."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class UsageCounter(Model):
    # Metered units per organization and day (api_calls, ai_tokens, ...), added to atomically.
    id = fields.IntField(primary_key=True)
    org_id = fields.UUIDField(db_index=True)
    day = fields.DateField()
    metric = fields.CharField(max_length=64)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "core_usage_counter"
        unique_together = (("org_id", "day", "metric"),)
