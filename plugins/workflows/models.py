"""Tables of the workflows plugin: definitions (every save a version), executions and their steps."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel, TimestampedModel


class Workflow(TenantModel):
    name = fields.CharField(max_length=200)
    description = fields.TextField(null=True)
    category = fields.CharField(max_length=100, null=True, db_index=True)
    is_active = fields.BooleanField(default=True)
    version = fields.IntField(default=1)
    # The current version's graph: {nodes, edges, variables, triggers, settings}
    definition = fields.JSONField(default=dict)
    created_by = fields.UUIDField(null=True)
    # The next time a schedule trigger of the current version fires (None: no schedule, or inactive)
    next_run_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "workflows_workflow"


class WorkflowVersion(TenantModel):
    """Every saved version, kept: an execution runs the version it started with."""

    workflow_id = fields.UUIDField(db_index=True)
    version = fields.IntField()
    name = fields.CharField(max_length=200)
    definition = fields.JSONField(default=dict)
    created_by = fields.UUIDField(null=True)

    class Meta:
        table = "workflows_version"
        unique_together = (("workflow_id", "version"),)


class Execution(TenantModel):
    workflow_id = fields.UUIDField(db_index=True)
    workflow_version = fields.IntField()
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    input_data = fields.JSONField(default=dict)
    context = fields.JSONField(default=dict)
    output_data = fields.JSONField(null=True)
    error_message = fields.TextField(null=True)
    progress = fields.IntField(default=0)
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    created_by = fields.UUIDField(null=True)
    job_id = fields.UUIDField(null=True)
    rerun_of = fields.UUIDField(null=True)
    cancel_requested = fields.BooleanField(default=False)  # the runner stops at its next look
    # Summed over the steps: ai_processing_time_ms, api_calls_count, tokens_used, cost_estimate
    metrics = fields.JSONField(default=dict)
    # The event that started it (an event trigger): unique per workflow, so an event delivered
    # twice (delivery is at least once) starts one execution
    trigger_event_id = fields.CharField(max_length=64, null=True)

    class Meta:
        table = "workflows_execution"
        unique_together = (("workflow_id", "trigger_event_id"),)


class EventTrigger(TenantModel):
    """One event trigger of the current version of an active workflow, kept on every save
    (and on switching on or off, deleting): what an event looks up by (org_id, event_type),
    instead of reading every workflow of the organization."""

    workflow_id = fields.UUIDField(db_index=True)
    event_type = fields.CharField(max_length=100)
    data_filter = fields.JSONField(default=dict)  # {field: value} the event's data must have

    class Meta:
        table = "workflows_event_trigger"
        indexes = (("org_id", "event_type"),)


class ExecutionStep(TenantModel):
    """One node of one execution: written when it starts and when it ends, before anything
    after it is scheduled (what a restarted worker resumes from)."""

    execution_id = fields.UUIDField(db_index=True)
    node_id = fields.CharField(max_length=64)
    node_name = fields.CharField(max_length=200)
    node_type = fields.CharField(max_length=100)
    status = fields.CharField(max_length=16, default="pending")
    attempt = fields.IntField(default=0)
    reused = fields.BooleanField(default=False)  # copied from the execution a re-run started from
    input_data = fields.JSONField(null=True)
    output_data = fields.JSONField(null=True)  # the node's outputs by port
    error_message = fields.TextField(null=True)
    usage = fields.JSONField(default=dict)
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    duration_ms = fields.FloatField(null=True)

    class Meta:
        table = "workflows_execution_step"
        unique_together = (("execution_id", "node_id"),)


class WorkflowTemplate(TimestampedModel):
    """A workflow to start from. Owned by an organization (`org_id`), or built in (None). A
    public one is seen by every organization; only its owner changes it."""

    org_id = fields.UUIDField(null=True, db_index=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    category = fields.CharField(max_length=100, db_index=True)
    tags = fields.JSONField(default=list)
    version = fields.IntField(default=1)
    is_public = fields.BooleanField(default=False, db_index=True)
    definition = fields.JSONField(default=dict)
    parameters = fields.JSONField(default=list)
    preview_image = fields.CharField(max_length=2000, null=True)
    usage_count = fields.IntField(default=0)
    created_by = fields.UUIDField(null=True)

    class Meta:
        table = "workflows_template"


class TemplateReview(TimestampedModel):
    """One per user and template (a second review replaces the first)."""

    template_id = fields.UUIDField(db_index=True)
    org_id = fields.UUIDField()
    user_id = fields.UUIDField()
    rating = fields.IntField()
    comment = fields.TextField(null=True)

    class Meta:
        table = "workflows_template_review"
        unique_together = (("template_id", "user_id"),)
