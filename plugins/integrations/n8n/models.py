"""What the n8n plugin keeps besides the Hub's own workflows: the n8n JSON a client sent (so it
reads back as sent), the index of webhook paths (webhooks arrive without credentials, so the
path alone must find the workflow and its organization), and webhook credentials (hashed)."""

from __future__ import annotations

from tortoise import fields

from core import TenantModel


class N8nWorkflow(TenantModel):
    """The n8n JSON of a workflow saved through the n8n API, as of the Hub version it became."""

    workflow_id = fields.UUIDField(unique=True)
    hub_version = fields.IntField()
    source = fields.JSONField()  # nodes, connections, settings, staticData, pinData, meta as sent

    class Meta:
        table = "n8n_workflow"


class N8nWebhook(TenantModel):
    """One path a workflow listens on. `path` is n8n's (`orders/new`, or `<webhookId>/:id/...` for
    a path with parameters) or, for the seed's `/webhook/{workflow-id}`, the workflow's id.
    Active rows are unique by method and path across the Hub (n8n's rule: one workflow per URL)."""

    workflow_id = fields.UUIDField(db_index=True)
    method = fields.CharField(max_length=10)
    path = fields.CharField(max_length=500, db_index=True)
    node_name = fields.CharField(max_length=200)
    active = fields.BooleanField(default=False, db_index=True)
    owner_id = fields.UUIDField(null=True)  # the run acts as this user
    scopes = fields.JSONField(null=True)  # and, when an API key saved it, with that key's rights only
    parameters = fields.JSONField(default=dict)  # the Webhook node's: responseMode, options, authentication

    class Meta:
        table = "n8n_webhook"


class N8nCredential(TenantModel):
    """A credential a Webhook node checks callers against (httpBasicAuth, httpHeaderAuth): only a
    salted hash of the secret is kept, since the Hub never sends it anywhere."""

    name = fields.CharField(max_length=200)
    type = fields.CharField(max_length=200)
    identity = fields.CharField(max_length=200)  # the basic-auth user, or the header's name
    secret_hash = fields.CharField(max_length=200)

    class Meta:
        table = "n8n_credential"
