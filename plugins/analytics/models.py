"""The analytics plugin's one table: Lightdash queries submitted through
`POST /api/v2/projects/{uuid}/query/metric-query`, kept for `query_ttl_seconds` so that any
process can answer the polls for their pages."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel


class AnalyticsQuery(TenantModel):
    project_uuid = fields.UUIDField()
    explore = fields.CharField(max_length=100)
    status = fields.CharField(max_length=16, default="ready")  # ready | error
    metric_query = fields.JSONField(default=dict)
    fields_map = fields.JSONField(default=dict)  # Lightdash's ItemsMap of the query's fields
    columns = fields.JSONField(default=list)  # field ids in the rows' order
    rows = fields.JSONField(default=list)  # [[value, ...], ...]
    error = fields.TextField(null=True)
    execution_ms = fields.FloatField(default=0)

    class Meta:
        table = "analytics_query"
        indexes = (("org_id", "created_at"),)
