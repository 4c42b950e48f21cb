"""n8n (seed 000's n8n-orchestration): n8n's public API v1 and webhook URLs over the Hub's
workflows, so n8n clients and n8n workflow JSON work against the Hub unchanged. Workflows sent
here are translated (translate.py) and run on the Hub's engine with the n8n node types of
nodes.py; workflows made in the Hub are listed in n8n's shape."""

from __future__ import annotations

mount = "/n8n"
requires = ("workflows",)
WORKFLOW_EVENTS = ("workflow.created", "workflow.updated", "workflow.deleted")


def hub_config():
    from plugins.integrations.n8n.settings import N8nSettings

    return N8nSettings


def hub_models():
    return ["plugins.integrations.n8n.models"]


def hub_routes(app):
    from plugins.integrations.n8n.routes import bp

    return bp


def hub_workflow_nodes(register):
    from plugins.integrations.n8n.nodes import NODE_TYPES, N8nConfig

    for name, description, run, inputs, outputs in NODE_TYPES:
        register(name, description, N8nConfig, run, inputs=inputs, outputs=outputs)


async def hub_on_event(event):
    # A workflow made in the Hub with a webhook trigger answers on /webhook/{its id}.
    if event.type in WORKFLOW_EVENTS:
        from plugins.integrations.n8n import service

        if event.type == "workflow.deleted":
            await service.forget_workflow(event.org_id, event.data["id"])
        else:
            await service.index_hub_workflow(event.org_id, event.data)
