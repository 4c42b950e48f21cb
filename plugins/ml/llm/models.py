"""Tables of the LLM plugin: AI agents (seed 004) and one row per agent run, from which
the agents' `performance` and `GET /api/analytics/ai-performance` are computed.
Every row belongs to one organization (TenantModel.org_id); tables are prefixed `llm_`."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel

AGENT_STATUSES = ("active", "inactive")
AGENT_MODES = ("execute", "propose")
# running: started, not finished (or the process died during it)
# succeeded: the model gave its answer within the bounds
# partial: stopped by maxSteps or timeoutSeconds after at least one step
# failed: stopped before any step completed, or by an error (model unavailable, quota, ...)
RUN_STATUSES = ("running", "succeeded", "partial", "failed")


class Agent(TenantModel):
    name = fields.CharField(max_length=200)
    type = fields.CharField(max_length=32, default="general")
    status = fields.CharField(max_length=16, default="active")
    # names of hub functions the agent may call (checked against the registry when saved)
    capabilities = fields.JSONField(default=list)
    system_prompt = fields.TextField(default="")
    model = fields.CharField(max_length=200, null=True)  # null: the runtime's default model
    temperature = fields.FloatField(default=0.0)
    max_tokens = fields.IntField(default=512)
    mode = fields.CharField(max_length=16, default="execute")
    tool_choice = fields.CharField(max_length=64, default="auto")
    max_steps = fields.IntField(default=4)
    timeout_seconds = fields.FloatField(default=60.0)
    created_by = fields.UUIDField(null=True)

    class Meta:
        table = "llm_agent"
        indexes = (("org_id", "created_at"),)


class AgentRun(TenantModel):
    # No foreign key: a run outlives its agent, so past cost and savings stay accounted for.
    agent_id = fields.UUIDField()
    agent_name = fields.CharField(max_length=200)
    user_id = fields.UUIDField(null=True)
    api_key_id = fields.UUIDField(null=True)
    mode = fields.CharField(max_length=16)
    status = fields.CharField(max_length=16, default="running")
    success = fields.BooleanField(default=False)
    error_code = fields.CharField(max_length=64, null=True)
    error_message = fields.TextField(null=True)
    input = fields.JSONField(default=dict)
    response = fields.TextField(null=True)
    actions = fields.JSONField(default=list)
    executed_actions = fields.IntField(default=0)
    # executed calls of functions that change leads (see agents.LEAD_WRITE_PERMISSION)
    lead_actions = fields.IntField(default=0)
    steps = fields.IntField(default=0)
    prompt_tokens = fields.IntField(default=0)
    completion_tokens = fields.IntField(default=0)
    cost = fields.FloatField(default=0.0)
    latency_ms = fields.FloatField(default=0.0)
    finished_at = fields.DatetimeField(null=True)

    class Meta:
        table = "llm_agent_run"
        indexes = (("org_id", "created_at"), ("org_id", "agent_id", "created_at"))
